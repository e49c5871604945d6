/* fuzz_cli_args.c - libFuzzer harness for the imgclass command's option parsing, without
 * running any job. The first byte picks the command; the rest is split on NUL bytes into
 * argv (argv[0] = the command name):
 *   0 train, 1 finetune   tr_parse + tr_check + tr_generator + tr_compile_opts
 *                         (cli/train_run.c: the parse-only half of those commands)
 *   2 augment-preview     the shared option parser (ic_cli_next, cli/options.c) on a table
 *                         of the command's kinds of options with the augmentation table
 *                         (cli/aug_flags.c), then ic_cli_aug_generator
 *   3 summary, 4 split    the same without the augmentation options
 * (summary, split and augment-preview parse inside their command functions, which then
 * touch files, so their option tables are mirrored here with the same shared parser.)
 * Global settings an option may change (--threads, --backend) are restored afterwards. */
#include "fuzz_common.h"

#include "train_run.h"

#define FZ_MAX_ARGS 64

static int fz_shape(const char *v, void *dst)
{
    int64_t *s = dst;
    return ic_cli_parse_shape(v, &s[0], &s[1], &s[2]);
}

static void fz_cli_loop(const char *cmd, int argc, char **argv, int aug)
{
    ic_cli_aug a;
    ic_cli_aug_init(&a);
    ic_cli_opt augopts[IC_CLI_AUG_OPTS], none[] = {{.kind = IC_CLI_END}};
    ic_cli_aug_table(&a, augopts);
    long n;
    unsigned long long seed;
    int64_t shape[3];
    int flag;
    const char *str;
    const ic_cli_opt opts[] = {
        {"--count", IC_CLI_LONG, .dst = &n, .lo = 1, .hi = 1000, .err = "--count: '%s'"},
        {"--head", IC_CLI_LONG, .dst = &n, .err = "--head: '%s'"},
        {"--seed", IC_CLI_U64, .dst = &seed, .hi = 0xffffffff, .err = "--seed: '%s'"},
        {"--input", IC_CLI_PARSE, .dst = shape, .parse = fz_shape, .err = "--input: '%s'"},
        {"--pooling", IC_CLI_ENUM, .dst = &flag, .choices = ic_cli_pooling_names,
         .err = "--pooling: '%s'"},
        {"--by", IC_CLI_STR, .dst = &str, .choices = (const char *const[]){"prefix", NULL},
         .err = "--by: '%s'"},
        {"--link", IC_CLI_SET, .dst = &flag, .lo = 1},
        {"--output", IC_CLI_STR, .dst = &str, .alias = "-o"},
        {.kind = IC_CLI_INCLUDE, .dst = aug ? augopts : none},
        {.kind = IC_CLI_END},
    };
    int i = 0;
    while (ic_cli_next(cmd, opts, 0, argc, argv, &i, NULL) == 1)
        continue;
    if (aug) {
        ic_image_data_generator g = ic_cli_aug_generator(&a);
        (void)g;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size < 1)
        return 0;
    static const char *const cmds[] = {"train", "finetune", "augment-preview", "summary",
                                       "split"};
    int which = data[0] % 5;
    /* One copy of the bytes with a terminating NUL; argv points into it. */
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[FZ_MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = (char *)cmds[which];
    for (size_t p = 0; p < size - 1 && argc < FZ_MAX_ARGS;) {
        argv[argc++] = buf + p;
        p += strlen(buf + p) + 1;
    }
    argv[argc] = NULL;

    int threads = ic_num_threads();
    char backend[32];
    snprintf(backend, sizeof backend, "%s", ic_backend_name());
    if (which <= 1) {
        tr_opts o;
        tr_opts_init(&o, which == 0 ? TR_TRAIN : TR_FINETUNE);
        if (tr_parse(&o, argc, argv, 1) == 0 && tr_check(&o) == 0) {
            ic_image_data_generator g = tr_generator(&o, 1);
            (void)g;
            ic_compile_opts co = tr_compile_opts(&o, 2);
            (void)co;
            co = tr_compile_opts(&o, 3);
            (void)co;
        }
    } else {
        fz_cli_loop(cmds[which], argc, argv, which == 2);
    }
    ic_set_num_threads(threads);
    (void)ic_set_backend(backend);
    free(buf);
    return 0;
}
