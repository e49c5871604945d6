/* test_split.c - ic_dataset_split on piles written to a temporary folder: which files go to
 * which split (natural order, --skip, numpy's permutation for fractions against numpy's own
 * values), the report's counts, copies against hard links, classes by prefix or by folder,
 * --force replacing only the split folders, and every error checked by message with nothing
 * written. */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

static char g_tmp[256];

static void put(const char *dir, const char *name, const char *content)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(content, f);
    fclose(f);
}

/* Makes g_tmp/rel; the path returned stays valid for the whole test (one buffer per call). */
static char *mk(const char *rel)
{
    static char p[32][1024];
    static int k;
    if (k == 32) {
        fprintf(stderr, "mk: too many folders\n");
        exit(1);
    }
    char *q = p[k++];
    snprintf(q, 1024, "%s/%s", g_tmp, rel);
    mkdir(q, 0777);
    return q;
}

static const char *at(const char *rel)
{
    static char p[8][1024];
    static int k;
    char *q = p[k++ % 8];
    snprintf(q, 1024, "%s/%s", g_tmp, rel);
    return q;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The file names in dir, sorted by bytes and joined with ' ' ("" if dir is missing). */
static const char *listing(const char *dir)
{
    static char out[4096];
    out[0] = 0;
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return out;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            if (out[0])
                strcat(out, " ");
            strcat(out, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

/* The same listing for a set of names given in any order. */
static const char *sorted(const char *const *names, int n)
{
    static char out[4096];
    const char *v[64];
    memcpy(v, names, (size_t)n * sizeof *v);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, v[i]);
    }
    return out;
}

/* Hidden entries (temporary files of the copies) anywhere under dir. */
static int g_hidden;
static int hidden_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    g_hidden += p[ftw->base] == '.';
    return 0;
}

static const char *slurp(const char *path)
{
    static char buf[256];
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static ic_split_opts counts(int64_t tr, int64_t va, int64_t te)
{
    ic_split_opts o = {0};
    o.counts[0] = tr, o.counts[1] = va, o.counts[2] = te;
    return o;
}

static ic_split_opts fractions(double tr, double va, double te, uint32_t seed)
{
    ic_split_opts o = {0};
    o.use_fractions = 1;
    o.fractions[0] = tr, o.fractions[1] = va, o.fractions[2] = te;
    o.seed = seed;
    return o;
}

static int report_is_empty(const ic_split_report *r)
{
    return !r->classes && !r->n_classes && !r->written && !r->active[0] && !r->active[1] &&
           !r->active[2];
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "%s/ic_split_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK(!strcmp(ic_split_name(IC_SPLIT_TRAIN), "train"));
    CHECK(!strcmp(ic_split_name(IC_SPLIT_VALIDATION), "validation"));
    CHECK(!strcmp(ic_split_name(IC_SPLIT_TEST), "test"));
    CHECK(ic_split_name(3) == NULL && ic_split_name(-1) == NULL);

    /* A pile: cat.1..cat.12 and dog.1..dog.12, plus files that are not part of it. */
    char *pile = mk("pile");
    for (int i = 1; i <= 12; i++) {
        char name[32], content[32];
        snprintf(name, sizeof name, "cat.%d.jpg", i);
        snprintf(content, sizeof content, "cat %d", i);
        put(pile, name, content);
        snprintf(name, sizeof name, "dog.%d.jpg", i);
        snprintf(content, sizeof content, "dog %d", i);
        put(pile, name, content);
    }
    put(pile, ".hidden.jpg", "x");
    put(pile, "README", "x");
    mk("pile/.git");

    /* Counts: natural order (cat.1, cat.2, ..., cat.10), first train, then validation, then
     * test. */
    {
        ic_split_opts o = counts(3, 2, 1);
        ic_split_report r;
        OK(ic_dataset_split(pile, at("a"), &o, &r));
        CHECK(r.n_classes == 2);
        CHECK(r.n_classes == 2 && !strcmp(r.classes[0].name, "cat") &&
              !strcmp(r.classes[1].name, "dog"));
        for (int c = 0; c < r.n_classes; c++)
            CHECK(r.classes[c].files == 12 && r.classes[c].count[0] == 3 &&
                  r.classes[c].count[1] == 2 && r.classes[c].count[2] == 1);
        CHECK(r.active[0] && r.active[1] && r.active[2]);
        CHECK(r.by == IC_SPLIT_BY_PREFIX && !r.linked && r.written == 12);
        CHECK(!strcmp(listing(at("a")), "test train validation"));
        CHECK(!strcmp(listing(at("a/train")), "cat dog"));
        CHECKF(!strcmp(listing(at("a/train/cat")), "cat.1.jpg cat.2.jpg cat.3.jpg"), "%s",
               listing(at("a/train/cat")));
        CHECK(!strcmp(listing(at("a/validation/dog")), "dog.4.jpg dog.5.jpg"));
        CHECK(!strcmp(listing(at("a/test/cat")), "cat.6.jpg"));
        CHECK(!strcmp(slurp(at("a/validation/dog/dog.5.jpg")), "dog 5"));
        struct stat st;
        CHECK(stat(at("a/train/cat/cat.2.jpg"), &st) == 0 && st.st_nlink == 1);
        ic_split_report_free(&r);
        CHECK(report_is_empty(&r));
        ic_split_report_free(NULL);
    }

    /* Natural order, not byte order: skip 8 then 2 files are cat.9 and cat.10 (by bytes they
     * would be cat.5 and cat.6). No report wanted. */
    {
        ic_split_opts o = counts(2, 0, 0);
        o.skip = 8;
        OK(ic_dataset_split(pile, at("skip"), &o, NULL));
        CHECK(!strcmp(listing(at("skip/train/cat")), "cat.10.jpg cat.9.jpg"));
        CHECK(!exists(at("skip/validation")) && !exists(at("skip/test")));
    }

    /* Fractions: numpy's permutation of the naturally sorted class, classes in byte order
     * drawing from one stream. np.random.seed(0); np.random.permutation(10) is
     * [2 8 4 9 1 6 7 3 0 5] (tests/data/test_np_random.c), so with cat.1..cat.10 and
     * 0.5 / 0.3 / 0.2: train gets cat.3 9 5 10 2, validation cat.7 8 4, test cat.1 6. */
    {
        char *ten = mk("ten");
        for (int i = 1; i <= 10; i++) {
            char name[32];
            snprintf(name, sizeof name, "cat.%d.jpg", i);
            put(ten, name, "c");
            snprintf(name, sizeof name, "dog.%d.jpg", i);
            put(ten, name, "d");
        }
        ic_split_opts o = fractions(0.5, 0.3, 0.2, 0);
        ic_split_report r;
        OK(ic_dataset_split(ten, at("f"), &o, &r));
        static const char *const tr[] = {"cat.3.jpg", "cat.9.jpg", "cat.5.jpg", "cat.10.jpg",
                                         "cat.2.jpg"};
        static const char *const va[] = {"cat.7.jpg", "cat.8.jpg", "cat.4.jpg"};
        static const char *const te[] = {"cat.1.jpg", "cat.6.jpg"};
        CHECKF(!strcmp(listing(at("f/train/cat")), sorted(tr, 5)), "%s",
               listing(at("f/train/cat")));
        CHECK(!strcmp(listing(at("f/validation/cat")), sorted(va, 3)));
        CHECK(!strcmp(listing(at("f/test/cat")), sorted(te, 2)));
        /* dog: the stream's second permutation (a naive replay of numpy's calls). */
        ic_np_random rng;
        ic_np_random_seed(&rng, 0);
        int64_t perm[10];
        ic_np_random_permutation(&rng, 10, perm);
        ic_np_random_permutation(&rng, 10, perm);
        char names[10][32];
        const char *v[10];
        for (int i = 0; i < 10; i++) {
            snprintf(names[i], sizeof names[i], "dog.%d.jpg", (int)perm[i] + 1);
            v[i] = names[i];
        }
        CHECK(!strcmp(listing(at("f/train/dog")), sorted(v, 5)));
        CHECK(!strcmp(listing(at("f/validation/dog")), sorted(v + 5, 3)));
        CHECK(!strcmp(listing(at("f/test/dog")), sorted(v + 8, 2)));
        CHECK(r.written == 20 && r.classes[1].count[0] == 5 && r.classes[1].count[2] == 2);
        ic_split_report_free(&r);

        /* Same seed, same split; another seed, another one. */
        OK(ic_dataset_split(ten, at("f_again"), &o, NULL));
        CHECK(!strcmp(listing(at("f_again/train/dog")), sorted(v, 5)));
        o.seed = 1;
        OK(ic_dataset_split(ten, at("f_other"), &o, NULL));
        CHECK(strcmp(listing(at("f_other/train/cat")), sorted(tr, 5)) != 0);

        /* Boundaries round to the nearest file: 7 files, 0.5 / 0.25 / 0.25 -> 4 / 1 / 2
         * (round(3.5) = 4, round(5.25) = 5); a fraction sum below 1 leaves files out. */
        ic_split_opts o2 = fractions(0.5, 0.25, 0.25, 3);
        o2.skip = 3;
        OK(ic_dataset_split(ten, at("round"), &o2, &r));
        CHECK(r.classes[0].count[0] == 4 && r.classes[0].count[1] == 1 &&
              r.classes[0].count[2] == 2);
        ic_split_report_free(&r);
        ic_split_opts o3 = fractions(0.3, 0, 0, 3);
        OK(ic_dataset_split(ten, at("part"), &o3, &r));
        CHECK(r.classes[0].count[0] == 3 && r.written == 6 && !r.active[1] && !r.active[2]);
        CHECK(!exists(at("part/validation")));
        ic_split_report_free(&r);
    }

    /* Hard links. */
    {
        ic_split_opts o = counts(2, 0, 0);
        o.link = 1;
        ic_split_report r;
        OK(ic_dataset_split(pile, at("l"), &o, &r));
        CHECK(r.linked && r.written == 4);
        struct stat a, b;
        CHECK(stat(at("pile/dog.2.jpg"), &a) == 0 && stat(at("l/train/dog/dog.2.jpg"), &b) == 0 &&
              a.st_ino == b.st_ino && a.st_nlink == 2);
        ic_split_report_free(&r);
    }

    /* Classes by folder: automatic when the source has subfolders; files of each folder in
     * natural order; hidden files and sub-subfolders ignored. */
    {
        mk("byf");
        char *a = mk("byf/apple"), *b = mk("byf/pear");
        put(a, "x10.png", "a10");
        put(a, "x2.png", "a2");
        put(a, "x1.png", "a1");
        put(a, ".x0.png", "hidden");
        mk("byf/apple/deeper");
        put(b, "p.1", "p1");
        put(b, "p.2", "p2");
        put(b, "p.3", "p3");
        ic_split_opts o = counts(1, 0, 2);
        ic_split_report r;
        OK(ic_dataset_split(at("byf"), at("byf_out"), &o, &r));
        CHECK(r.by == IC_SPLIT_BY_FOLDER && r.n_classes == 2);
        CHECK(r.n_classes == 2 && !strcmp(r.classes[0].name, "apple") && r.classes[0].files == 3);
        CHECK(!strcmp(listing(at("byf_out/train/apple")), "x1.png"));
        CHECK(!strcmp(listing(at("byf_out/test/apple")), "x10.png x2.png"));
        CHECK(!strcmp(listing(at("byf_out/test/pear")), "p.2 p.3"));
        CHECK(!exists(at("byf_out/validation")));
        ic_split_report_free(&r);

        /* Forced by prefix, the same folder has no CLASS.something files at its top. */
        o.by = IC_SPLIT_BY_PREFIX;
        EXPECT_ERR(ic_dataset_split(at("byf"), at("byf_x"), &o, NULL), IC_ERR_NOT_FOUND,
                   "no files named CLASS.something in");
        /* Forced by folder, a flat pile has no class subfolders. */
        o.by = IC_SPLIT_BY_FOLDER;
        EXPECT_ERR(ic_dataset_split(at("ten"), at("byf_x"), &o, NULL), IC_ERR_NOT_FOUND,
                   "no class subfolders in");
        CHECK(!exists(at("byf_x")));
        /* An empty class folder is a class with 0 files. */
        mk("byf/quince");
        o.by = IC_SPLIT_BY_AUTO;
        EXPECT_ERR(ic_dataset_split(at("byf"), at("byf_x"), &o, NULL), IC_ERR_INVALID,
                   "class 'quince' has 0 files, but --train 1 --validation 0 --test 2 need 3");
        CHECK(!exists(at("byf_x")));
    }

    /* An existing split folder: refused (nothing written, not even the other splits);
     * --force replaces the split folders being written and leaves everything else. */
    {
        mk("exist");
        mk("exist/test");
        put(at("exist"), "notes.txt", "keep");
        ic_split_opts o = counts(1, 1, 1);
        ic_split_report r;
        EXPECT_ERR(ic_dataset_split(pile, at("exist"), &o, &r), IC_ERR_INVALID,
                   "/exist/test already exists (use --force to replace it; nothing written)");
        CHECK(report_is_empty(&r));
        CHECK(!strcmp(listing(at("exist")), "notes.txt test"));
        o.force = 1;
        mk("exist/test/cat");
        put(at("exist/test/cat"), "stale.jpg", "old");
        OK(ic_dataset_split(pile, at("exist"), &o, &r));
        CHECK(!strcmp(listing(at("exist/test/cat")), "cat.3.jpg"));
        CHECK(!strcmp(slurp(at("exist/notes.txt")), "keep"));
        ic_split_report_free(&r);
        /* Forced but too few files: the old split stays. */
        ic_split_opts big = counts(12, 1, 0);
        big.force = 1;
        EXPECT_ERR(ic_dataset_split(pile, at("exist"), &big, &r), IC_ERR_INVALID,
                   "class 'cat' has 12 files, but --train 12 --validation 1 --test 0 need 13 "
                   "(nothing written)");
        CHECK(!strcmp(listing(at("exist/test/cat")), "cat.3.jpg"));
        CHECK(report_is_empty(&r));
    }

    /* Too few files. */
    {
        ic_split_opts o = counts(10, 3, 0);
        o.skip = 1;
        EXPECT_ERR(ic_dataset_split(pile, at("few"), &o, NULL), IC_ERR_INVALID,
                   "class 'cat' has 12 files, but --skip 1 --train 10 --validation 3 --test 0 "
                   "need 14 (nothing written)");
        char *two = mk("two");
        put(two, "a.1", "1");
        put(two, "a.2", "2");
        ic_split_opts f = fractions(0.9, 0.1, 0, 0);
        EXPECT_ERR(ic_dataset_split(two, at("few"), &f, NULL), IC_ERR_INVALID,
                   "class 'a' has 2 files: too few to give validation a share of 0.1 "
                   "(nothing written)");
        f.skip = 1;
        f.fractions[0] = 0.5, f.fractions[1] = 0.5;
        EXPECT_ERR(ic_dataset_split(two, at("few"), &f, NULL), IC_ERR_INVALID,
                   "class 'a' has 1 files after --skip: too few to give");
        CHECK(!exists(at("few")));
    }

    /* The source: missing, a file, empty. */
    {
        ic_split_opts o = counts(1, 0, 0);
        EXPECT_ERR(ic_dataset_split(at("nope"), at("x"), &o, NULL), IC_ERR_NOT_FOUND,
                   "/nope is not a readable folder");
        EXPECT_ERR(ic_dataset_split(at("pile/README"), at("x"), &o, NULL), IC_ERR_NOT_FOUND,
                   "/pile/README is not a readable folder");
        mk("empty");
        EXPECT_ERR(ic_dataset_split(at("empty"), at("x"), &o, NULL), IC_ERR_NOT_FOUND,
                   "no files named CLASS.something in");
        CHECK(!exists(at("x")));
    }

    /* The destination cannot be created (a file in the way). */
    {
        ic_split_opts o = counts(1, 0, 0);
        EXPECT_ERR(ic_dataset_split(pile, at("pile/README/out"), &o, NULL), IC_ERR_IO,
                   "cannot create");
    }

    /* Options. */
    {
        ic_split_opts o = counts(0, 0, 0);
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID,
                   "every split is empty");
        o = counts(1, -1, 0);
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID,
                   "the validation count must be >= 0");
        o = counts(1, 0, 0);
        o.skip = -2;
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID, "skip must be >= 0");
        o = fractions(0.6, 0.6, 0, 0);
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID,
                   "fractions sum to 1.2, more than 1");
        o = fractions(0.5, 0, 1.5, 0);
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID,
                   "the test fraction must be in [0, 1], got 1.5");
        o = counts(1, 0, 0);
        o.by = (ic_split_by)7;
        EXPECT_ERR(ic_dataset_split(pile, at("x"), &o, NULL), IC_ERR_INVALID,
                   "unknown class source 7");
        EXPECT_ERR(ic_dataset_split(NULL, at("x"), &o, NULL), IC_ERR_INVALID, "needs a source");
        CHECK(!exists(at("x")));
    }

    /* No temporary files left behind by the copies. */
    g_hidden = 0;
    nftw(at("a"), hidden_cb, 16, FTW_PHYS);
    nftw(at("f"), hidden_cb, 16, FTW_PHYS);
    CHECK(g_hidden == 0);

    nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return t_finish();
}
