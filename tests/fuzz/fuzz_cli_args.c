/* fuzz_cli_args.c - libFuzzer harness for the imgclass command's option parsing, without
 * running any job. The first byte picks the command; the rest is split on NUL bytes into
 * argv (argv[0] = the command name):
 *   0 train, 1 finetune   tr_parse + tr_check + tr_generator + tr_compile_opts
 *                         (cli/train_run.c: the parse-only half of those commands)
 *   2 augment-preview     the command's option loop: ic_cli_common_opt, ic_cli_aug_opt
 *                         (cli/aug_flags.c), ic_cli_parse_int, ic_cli_parse_shape
 *   3 summary             ic_cli_common_opt, ic_cli_parse_int, ic_cli_parse_shape
 *   4 split               ic_cli_common_opt, ic_cli_parse_int
 * (summary, split and augment-preview parse inside their command functions, which then
 * touch files, so their option loops are mirrored here with the same shared helpers.)
 * Global settings an option may change (--threads, --backend) are restored afterwards. */
#include "fuzz_common.h"

#include "train_run.h"

#define FZ_MAX_ARGS 64

static void fz_cli_loop(const char *cmd, int argc, char **argv, int aug)
{
    ic_cli_aug a;
    ic_cli_aug_init(&a);
    for (int i = 1; i < argc; i++) {
        int r = ic_cli_common_opt(cmd, argc, argv, &i);
        if (r == 0 && aug)
            r = ic_cli_aug_opt(cmd, argc, argv, &i, &a);
        if (r < 0)
            return;
        if (r > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int64_t h, w, c;
        if (v && (!strcmp(argv[i], "--count") || !strcmp(argv[i], "--head") ||
                  !strcmp(argv[i], "--train") || !strcmp(argv[i], "--seed"))) {
            (void)ic_cli_parse_int(v, &n);
            i++;
        } else if (v && (!strcmp(argv[i], "--input") || !strcmp(argv[i], "--target-size"))) {
            (void)ic_cli_parse_shape(v, &h, &w, &c);
            i++;
        }
    }
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
