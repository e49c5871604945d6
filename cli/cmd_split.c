/* cmd_split.c - `imgclass split`: builds DST/train|validation|test/<class>/ from a pile of
 * images, as the seed's R script does for Kaggle's Dogs vs Cats (cat.1..cat.1000 to train,
 * cat.1001..cat.1500 to validation, cat.1501..cat.2000 to test, same for dogs).
 *
 * Classes come from the file name prefix (text before the first '.') of the files directly
 * in SRC, or from SRC's subfolders. Within a class, files are taken in natural order (digit
 * runs compare as numbers: cat.2 before cat.10), N per split, or by fractions after a seeded
 * shuffle (numpy's permutation of the naturally sorted list: np.random.seed(S) then one
 * permutation per class, classes in byte order). Everything is checked before anything is
 * written; files are copied through a temporary file + fsync + rename, or hard-linked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CMD "split"
#define NSPLIT 3

static const char *const g_split_names[NSPLIT] = {"train", "validation", "test"};

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
           "example: the seed's split of Kaggle's train.zip (cat.0.jpg ... dog.12499.jpg): the R\n"
           "script takes cat.1..cat.1000 (train), cat.1001..1500 (validation), cat.1501..2000\n"
           "(test), so skip cat.0 / dog.0:\n"
           "  imgclass split kaggle/train cats_and_dogs_small --skip 1 --train 1000 \\\n"
           "      --validation 500 --test 500\n");
}

/* ---- small helpers ---- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "imgclass " CMD ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "imgclass " CMD ": out of memory\n");
        exit(1);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = xrealloc(NULL, la + lb + 2);
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

/* Natural order: runs of digits compare by value, everything else byte by byte. */
static int natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            size_t la = 0, lb = 0;
            while (a[la] >= '0' && a[la] <= '9')
                la++;
            while (b[lb] >= '0' && b[lb] <= '9')
                lb++;
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = memcmp(a, b, la);
            if (c)
                return c;
            a += la, b += lb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++, b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int cmp_natural(const void *x, const void *y)
{
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    int c = natural_cmp(a, b);
    return c ? c : strcmp(a, b);
}

static int cmp_bytes(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* ---- the pile ---- */

typedef struct klass {
    char *name;
    char **files; /* full source paths */
    char **base;  /* file names */
    int64_t n;
} klass;

typedef struct pile {
    klass *c;
    int n;
} pile;

static klass *find_or_add(pile *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->c[i].name, name))
            return &p->c[i];
    p->c = xrealloc(p->c, (size_t)(p->n + 1) * sizeof *p->c);
    klass *k = &p->c[p->n++];
    memset(k, 0, sizeof *k);
    k->name = xstrdup(name);
    return k;
}

static void add_file(klass *k, const char *dir, const char *name)
{
    k->files = xrealloc(k->files, (size_t)(k->n + 1) * sizeof *k->files);
    k->base = xrealloc(k->base, (size_t)(k->n + 1) * sizeof *k->base);
    k->files[k->n] = path_join(dir, name);
    k->base[k->n] = xstrdup(name);
    k->n++;
}

static int is_kind(const char *path, int dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* Reads the regular, non-hidden files of dir into a class (prefix mode: class from the name). */
static int read_dir(pile *p, const char *dir, klass *k_fixed)
{
    DIR *d = opendir(dir);
    if (!d)
        return fail("cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = path_join(dir, e->d_name);
        int reg = is_kind(full, 0);
        free(full);
        if (!reg)
            continue;
        klass *k = k_fixed;
        if (!k) {
            const char *dot = strchr(e->d_name, '.');
            if (!dot || dot == e->d_name)
                continue; /* no prefix: not part of the pile */
            char *name = xstrdup(e->d_name);
            name[dot - e->d_name] = 0;
            k = find_or_add(p, name);
            free(name);
        }
        add_file(k, dir, e->d_name);
    }
    closedir(d);
    return 0;
}

static int has_subdirs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = path_join(dir, e->d_name);
        found = is_kind(full, 1);
        free(full);
    }
    closedir(d);
    return found;
}

static int read_pile(pile *p, const char *src, int by_folder)
{
    if (!by_folder)
        return read_dir(p, src, NULL);
    DIR *d = opendir(src);
    if (!d)
        return fail("cannot read %s: %s", src, strerror(errno));
    char **subs = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = path_join(src, e->d_name);
        if (is_kind(full, 1)) {
            subs = xrealloc(subs, (size_t)(n + 1) * sizeof *subs);
            subs[n++] = xstrdup(e->d_name);
        }
        free(full);
    }
    closedir(d);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *full = path_join(src, subs[i]);
        if (!rc)
            rc = read_dir(p, full, find_or_add(p, subs[i]));
        free(full);
        free(subs[i]);
    }
    free(subs);
    return rc;
}

static void pile_free(pile *p)
{
    for (int i = 0; i < p->n; i++) {
        for (int64_t j = 0; j < p->c[i].n; j++) {
            free(p->c[i].files[j]);
            free(p->c[i].base[j]);
        }
        free(p->c[i].files);
        free(p->c[i].base);
        free(p->c[i].name);
    }
    free(p->c);
}

/* ---- writing ---- */

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        struct dirent *e;
        int rc = 0;
        while (!rc && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *full = path_join(path, e->d_name);
            rc = rm_rf(full);
            free(full);
        }
        closedir(d);
        return rc ? rc : rmdir(path);
    }
    return unlink(path);
}

static int mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    if (!rc && !is_kind(p, 1)) {
        errno = ENOTDIR;
        rc = -1;
    }
    free(p);
    return rc;
}

/* Copies src to dst through dst's folder's temporary file, fsync and rename. */
static int copy_file(const char *src, const char *dir, const char *name)
{
    char *dst = path_join(dir, name);
    size_t tl = strlen(dir) + strlen(name) + 64;
    char *tmp = xrealloc(NULL, tl);
    snprintf(tmp, tl, "%s/.%s.tmp%ld", dir, name, (long)getpid());
    int in = open(src, O_RDONLY), out = -1, rc = 0;
    const char *what = "open";
    if (in < 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        rc = -1;
        what = in < 0 ? "read" : "create";
    }
    static char buf[1 << 16];
    while (!rc) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -1, what = "read";
            break;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r && !rc;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = -1, what = "write";
            else
                off += w;
        }
    }
    if (!rc && fsync(out) != 0)
        rc = -1, what = "sync";
    int saved = errno;
    if (out >= 0 && close(out) != 0 && !rc)
        rc = -1, what = "write", saved = errno;
    if (in >= 0)
        close(in);
    if (!rc && rename(tmp, dst) != 0)
        rc = -1, what = "rename", saved = errno;
    if (rc) {
        unlink(tmp);
        fail("cannot copy %s to %s (%s): %s", src, dst, what, strerror(saved));
    }
    free(tmp);
    free(dst);
    return rc;
}

static int link_file(const char *src, const char *dir, const char *name)
{
    char *dst = path_join(dir, name);
    int rc = 0;
    if (link(src, dst) != 0) {
        rc = -1;
        if (errno == EXDEV)
            fail("cannot hard-link %s to %s: different file systems (drop --link to copy)", src,
                 dst);
        else
            fail("cannot hard-link %s to %s: %s", src, dst, strerror(errno));
    }
    free(dst);
    return rc;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
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
    int active[NSPLIT], n_active = 0;
    for (int k = 0; k < NSPLIT; k++)
        n_active += active[k] = fr ? frac[k] > 0 : counts[k] > 0;
    if (!n_active)
        return ic_cli_usage_error(CMD, "every split is empty");
    if (!is_kind(src, 1))
        return fail("%s is not a readable folder", src);
    int by_folder = by ? !strcmp(by, "folder") : has_subdirs(src);

    pile p = {0};
    if (read_pile(&p, src, by_folder)) {
        pile_free(&p);
        return 1;
    }
    if (p.n == 0) {
        pile_free(&p);
        return fail(by_folder ? "no class subfolders in %s"
                              : "no files named CLASS.something in %s (use --by folder for "
                                "one subfolder per class)",
                    src);
    }
    if (p.n > 1)
        qsort(p.c, (size_t)p.n, sizeof *p.c, cmp_bytes); /* name is the first member */

    /* Per class: order the files, then the split boundaries. */
    ic_np_random rng;
    ic_np_random_seed(&rng, (uint32_t)seed);
    int64_t(*bounds)[NSPLIT + 1] = xrealloc(NULL, (size_t)p.n * sizeof *bounds);
    int rc = 0;
    for (int c = 0; c < p.n && !rc; c++) {
        klass *k = &p.c[c];
        /* Natural order of the names (all files of a class share one folder), then drop the
         * first `skip`, then (fractions) numpy's permutation of the rest. */
        if (k->n > 1)
            qsort(k->base, (size_t)k->n, sizeof *k->base, cmp_natural);
        char *cdir = by_folder ? path_join(src, k->name) : xstrdup(src);
        for (int64_t i = 0; i < k->n; i++) {
            free(k->files[i]);
            k->files[i] = path_join(cdir, k->base[i]);
        }
        free(cdir);
        int64_t first = skip < k->n ? skip : k->n, m = k->n - first;
        if (fr && m > 0) {
            int64_t *ord = xrealloc(NULL, (size_t)m * sizeof *ord);
            char **f2 = xrealloc(NULL, (size_t)m * sizeof *f2);
            char **b2 = xrealloc(NULL, (size_t)m * sizeof *b2);
            ic_np_random_permutation(&rng, m, ord);
            for (int64_t i = 0; i < m; i++) {
                f2[i] = k->files[first + ord[i]];
                b2[i] = k->base[first + ord[i]];
            }
            memcpy(k->files + first, f2, (size_t)m * sizeof *f2);
            memcpy(k->base + first, b2, (size_t)m * sizeof *b2);
            free(ord);
            free(f2);
            free(b2);
        }

        bounds[c][0] = first;
        double cum = 0;
        for (int s = 0; s < NSPLIT; s++) {
            if (fr) {
                cum += frac[s];
                int64_t e = first + (int64_t)((double)m * cum + 0.5);
                bounds[c][s + 1] = e > k->n ? k->n : e;
            } else {
                bounds[c][s + 1] = bounds[c][s] + counts[s];
            }
            if (bounds[c][s + 1] < bounds[c][s])
                bounds[c][s + 1] = bounds[c][s];
        }
        if (bounds[c][NSPLIT] > k->n) {
            char sk[48] = "";
            if (skip)
                snprintf(sk, sizeof sk, " --skip %ld", skip);
            rc = fail("class '%s' has %lld files, but%s --train %ld --validation %ld --test %ld "
                      "need %lld (nothing written)",
                      k->name, (long long)k->n, sk, counts[0], counts[1], counts[2],
                      (long long)(bounds[c][NSPLIT] - first + skip));
        }
        for (int s = 0; s < NSPLIT && !rc; s++)
            if (active[s] && bounds[c][s + 1] == bounds[c][s])
                rc = fail("class '%s' has %lld files%s: too few to give %s a share of %g "
                          "(nothing written)",
                          k->name, (long long)m, skip ? " after --skip" : "", g_split_names[s],
                          frac[s]);
    }
    for (int s = 0; s < NSPLIT && !rc; s++) {
        if (!active[s])
            continue;
        char *sd = path_join(dst, g_split_names[s]);
        struct stat st;
        if (lstat(sd, &st) == 0 && !force)
            rc = fail("%s already exists (use --force to replace it; nothing written)", sd);
        free(sd);
    }

    /* Write. */
    int64_t written = 0;
    if (!rc && mkdir_p(dst) != 0)
        rc = fail("cannot create %s: %s", dst, strerror(errno));
    for (int s = 0; s < NSPLIT && !rc; s++) {
        if (!active[s])
            continue;
        char *sd = path_join(dst, g_split_names[s]);
        if (rm_rf(sd) != 0)
            rc = fail("cannot remove the old %s: %s", sd, strerror(errno));
        else if (mkdir(sd, 0777) != 0)
            rc = fail("cannot create %s: %s", sd, strerror(errno));
        for (int c = 0; c < p.n && !rc; c++) {
            klass *k = &p.c[c];
            char *cd = path_join(sd, k->name);
            if (mkdir(cd, 0777) != 0)
                rc = fail("cannot create %s: %s", cd, strerror(errno));
            for (int64_t i = bounds[c][s]; i < bounds[c][s + 1] && !rc; i++) {
                rc = do_link ? link_file(k->files[i], cd, k->base[i])
                             : copy_file(k->files[i], cd, k->base[i]);
                written += !rc;
            }
            if (!rc && !do_link)
                sync_dir(cd);
            free(cd);
        }
        if (!rc)
            sync_dir(sd);
        free(sd);
    }
    if (!rc) {
        for (int s = 0; s < NSPLIT; s++) {
            if (!active[s])
                continue;
            int64_t tot = 0;
            printf("%-11s", g_split_names[s]);
            for (int c = 0; c < p.n; c++) {
                int64_t m = bounds[c][s + 1] - bounds[c][s];
                tot += m;
                printf("%s %s %lld", c ? "," : "", p.c[c].name, (long long)m);
            }
            printf("  (%lld files)\n", (long long)tot);
        }
        printf("%s %lld files from %s into %s (%d classes, by %s)\n", do_link ? "linked" : "copied",
               (long long)written, src, dst, p.n, by_folder ? "folder" : "prefix");
    }
    free(bounds);
    pile_free(&p);
    return rc ? 1 : 0;
}
