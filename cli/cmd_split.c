/* cmd_split.c - `imgclass split`: builds DST/train|validation|test/<class>/ from a pile of
 * images (ic_dataset_split, split.h, does the work; this file parses the options and prints
 * the per-split counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "split"
#define NSPLIT IC_SPLIT_COUNT

static void help(void)
{
    printf("usage: imgclass split SRC DST [--by prefix|folder]\n"
           "                      (--train N --validation N --test N | --fractions F,F[,F] [--seed "
           "S])\n"
           "                      [--skip N] [--link] [--force]\n"
           "\n"
           "Builds DST/train, DST/validation and DST/test, each with one folder per class, the\n"
           "layout flow_from_directory reads.\n"
           "\n"
           "  --by prefix       classes from file names in SRC: the text before the first '.'\n"
           "                    (cat.123.jpg -> class cat)\n"
           "  --by folder       classes are SRC's subfolders (their files, not recursive)\n"
           "                    default: folder if SRC has subfolders, else prefix\n"
           "  --train N         the first N files of each class go to train, the next\n"
           "  --validation N    N to validation, the next N to test; files are taken in\n"
           "  --test N          natural order (cat.1, cat.2, ..., cat.10, ...: digit runs\n"
           "                    compare as numbers). A split with N = 0 is not created.\n"
           "  --fractions T,V,E fractions of each class for train, validation, test (sum <= 1)\n"
           "                    after shuffling each class with numpy's permutation\n"
           "  --seed S          seed of that shuffle (default 0; same seed, same split)\n"
           "  --skip N          leave out the first N files of each class (natural order)\n"
           "  --link            hard links instead of copies (same file system)\n"
           "  --force           replace existing DST/train, DST/validation, DST/test folders\n"
           "                    (only those being written)\n"
           "\n"
           "Nothing is written if a class has too few files or a split folder exists.\n"
           "\n"
           "example: the book's split of Kaggle's train.zip (cat.0.jpg ... dog.12499.jpg): the R\n"
           "script takes cat.1..cat.1000 (train), cat.1001..1500 (validation), cat.1501..2000\n"
           "(test), so skip cat.0 / dog.0:\n"
           "  imgclass split kaggle/train cats_and_dogs_small --skip 1 --train 1000 \\\n"
           "      --validation 500 --test 500\n");
}

static const char *const g_by[] = {"prefix", "folder", NULL};

static int parse_fractions(const char *s, double f[NSPLIT])
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == NSPLIT)
            return -1;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0 && v <= 1))
            return -1;
        f[n++] = v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    if (n < 1 || f[0] + f[1] + f[2] > 1 + 1e-9)
        return -1;
    return 0;
}

int ic_cli_split(int argc, char **argv)
{
    const char *src = NULL, *dst = NULL, *by = NULL, *fr = NULL;
    long counts[NSPLIT] = {0, 0, 0}, skip = 0;
    int have_count = 0, do_link = 0, force = 0, r;
    unsigned long long seed = 0;
    const ic_cli_opt opts[] = {
        {"--link", IC_CLI_SET, .dst = &do_link, .lo = 1},
        {"--force", IC_CLI_SET, .dst = &force, .lo = 1},
        {"--by", IC_CLI_STR, .dst = &by, .choices = g_by,
         .err = "--by must be prefix or folder, got '%s'"},
        {"--train", IC_CLI_LONG, .dst = &counts[0], .seen = &have_count},
        {"--validation", IC_CLI_LONG, .dst = &counts[1], .seen = &have_count},
        {"--test", IC_CLI_LONG, .dst = &counts[2], .seen = &have_count},
        {"--skip", IC_CLI_LONG, .dst = &skip},
        {"--fractions", IC_CLI_STR, .dst = &fr},
        {"--seed", IC_CLI_U64, .dst = &seed, .hi = 0xffffffff,
         .err = "--seed needs a number in 0..4294967295, got '%s'"},
        {.kind = IC_CLI_END},
    };
    for (int i = 0; (r = ic_cli_next(CMD, opts, 0, argc, argv, &i, help)) == 1;) {
        if (!src)
            src = argv[i];
        else if (!dst)
            dst = argv[i];
        else
            return ic_cli_usage_error(CMD, "unexpected argument '%s'", argv[i]);
    }
    if (r)
        return r < 0 ? 0 : r;
    if (!src || !dst)
        return ic_cli_usage_error(CMD, "needs SRC and DST folders");
    if (have_count == !!fr)
        return ic_cli_usage_error(CMD, "give either --train/--validation/--test counts or "
                                       "--fractions");
    double frac[NSPLIT] = {0, 0, 0};
    if (fr && parse_fractions(fr, frac))
        return ic_cli_usage_error(CMD,
                                  "--fractions needs 1 to 3 numbers in [0, 1] with sum <= 1 "
                                  "like 0.5,0.25,0.25, got '%s'",
                                  fr);
    int n_active = 0;
    for (int k = 0; k < NSPLIT; k++)
        n_active += fr ? frac[k] > 0 : counts[k] > 0;
    if (!n_active)
        return ic_cli_usage_error(CMD, "every split is empty");

    ic_split_opts o = {.use_fractions = fr != NULL, .seed = (uint32_t)seed, .skip = skip,
                       .link = do_link, .force = force};
    o.by = !by ? IC_SPLIT_BY_AUTO : !strcmp(by, "folder") ? IC_SPLIT_BY_FOLDER : IC_SPLIT_BY_PREFIX;
    for (int k = 0; k < NSPLIT; k++) {
        o.counts[k] = counts[k];
        o.fractions[k] = frac[k];
    }
    ic_split_report rep;
    ic_status s = ic_dataset_split(src, dst, &o, &rep);
    if (s)
        return ic_cli_fail(CMD, s);
    for (int k = 0; k < NSPLIT; k++) {
        if (!rep.active[k])
            continue;
        int64_t tot = 0;
        printf("%-11s", ic_split_name(k));
        for (int c = 0; c < rep.n_classes; c++) {
            tot += rep.classes[c].count[k];
            printf("%s %s %lld", c ? "," : "", rep.classes[c].name,
                   (long long)rep.classes[c].count[k]);
        }
        printf("  (%lld files)\n", (long long)tot);
    }
    printf("%s %lld files from %s into %s (%d classes, by %s)\n", rep.linked ? "linked" : "copied",
           (long long)rep.written, src, dst, rep.n_classes,
           rep.by == IC_SPLIT_BY_FOLDER ? "folder" : "prefix");
    ic_split_report_free(&rep);
    return 0;
}
