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

/* ---- main ---- */

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
    int have_count = 0, do_link = 0, force = 0;
    unsigned long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ic_cli_common_opt(CMD, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return 0;
        } else if (!strcmp(a, "--link")) {
            do_link = 1;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (a[0] != '-' || !a[1]) {
            if (!src)
                src = a;
            else if (!dst)
                dst = a;
            else
                return ic_cli_usage_error(CMD, "unexpected argument '%s'", a);
        } else if (!v) {
            return ic_cli_usage_error(CMD, "unknown option or missing value: %s", a);
        } else if (!strcmp(a, "--by")) {
            if (strcmp(v, "prefix") && strcmp(v, "folder"))
                return ic_cli_usage_error(CMD, "--by must be prefix or folder, got '%s'", v);
            by = v, i++;
        } else if (!strcmp(a, "--train") || !strcmp(a, "--validation") || !strcmp(a, "--test")) {
            int k = a[3] == 'r' ? 0 : a[3] == 'a' ? 1 : 2;
            if (ic_cli_parse_int(v, &counts[k]))
                return ic_cli_usage_error(CMD, "%s needs a number >= 0, got '%s'", a, v);
            have_count = 1, i++;
        } else if (!strcmp(a, "--skip")) {
            if (ic_cli_parse_int(v, &skip))
                return ic_cli_usage_error(CMD, "--skip needs a number >= 0, got '%s'", v);
            i++;
        } else if (!strcmp(a, "--fractions")) {
            fr = v, i++;
        } else if (!strcmp(a, "--seed")) {
            long sv;
            if (ic_cli_parse_int(v, &sv) || (unsigned long)sv > 0xffffffffUL)
                return ic_cli_usage_error(CMD, "--seed needs a number in 0..4294967295, got '%s'",
                                          v);
            seed = (unsigned long)sv, i++;
        } else {
            return ic_cli_usage_error(CMD, "unknown option: %s", a);
        }
    }
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

    ic_split_opts o = {0};
    o.by = !by ? IC_SPLIT_BY_AUTO : !strcmp(by, "folder") ? IC_SPLIT_BY_FOLDER : IC_SPLIT_BY_PREFIX;
    o.use_fractions = fr != NULL;
    for (int k = 0; k < NSPLIT; k++) {
        o.counts[k] = counts[k];
        o.fractions[k] = frac[k];
    }
    o.seed = (uint32_t)seed;
    o.skip = skip;
    o.link = do_link;
    o.force = force;
    ic_split_report r;
    ic_status s = ic_dataset_split(src, dst, &o, &r);
    if (s)
        return ic_cli_fail(CMD, s);
    for (int k = 0; k < NSPLIT; k++) {
        if (!r.active[k])
            continue;
        int64_t tot = 0;
        printf("%-11s", ic_split_name(k));
        for (int c = 0; c < r.n_classes; c++) {
            tot += r.classes[c].count[k];
            printf("%s %s %lld", c ? "," : "", r.classes[c].name, (long long)r.classes[c].count[k]);
        }
        printf("  (%lld files)\n", (long long)tot);
    }
    printf("%s %lld files from %s into %s (%d classes, by %s)\n", r.linked ? "linked" : "copied",
           (long long)r.written, src, dst, r.n_classes,
           r.by == IC_SPLIT_BY_FOLDER ? "folder" : "prefix");
    ic_split_report_free(&r);
    return 0;
}
