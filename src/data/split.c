/* split.c - ic_dataset_split (split.h): a pile of images into train / validation / test
 * class folders, as the book's R script builds cats_and_dogs_small from Kaggle's pile.
 *
 * Three phases, so that bad input writes nothing: read the pile (classes and their files),
 * plan (order each class, compute the split boundaries, check every class has enough files
 * and no split folder is in the way), then write. Messages name options as the imgclass
 * command spells them (split.h), since that is where most callers meet them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_impl.h"
#include "imgclass/split.h"

#define NSPLIT IC_SPLIT_COUNT

static const char *const g_split_names[NSPLIT] = {"train", "validation", "test"};

const char *ic_split_name(int split)
{
    return split >= 0 && split < NSPLIT ? g_split_names[split] : NULL;
}

/* ---- small helpers ---- */

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

/* Ties of the natural order (cat.01 / cat.1) fall back to bytes, so the order is total. */
static int cmp_natural(const void *x, const void *y)
{
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    int c = natural_cmp(a, b);
    return c ? c : strcmp(a, b);
}

static int is_kind(const char *path, int dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* ---- the pile ---- */

typedef struct klass {
    char *name;
    char *dir;   /* the folder holding the class's files */
    char **base; /* file names */
    int64_t n, cap;
    int64_t bounds[NSPLIT + 1]; /* split s takes base[bounds[s] .. bounds[s + 1]) */
} klass;

typedef struct pile {
    klass *c;
    int n, cap;
} pile;

static void pile_free(pile *p)
{
    for (int i = 0; i < p->n; i++) {
        for (int64_t j = 0; j < p->c[i].n; j++)
            ic__free(p->c[i].base[j]);
        ic__free(p->c[i].base);
        ic__free(p->c[i].name);
        ic__free(p->c[i].dir);
    }
    ic__free(p->c);
    memset(p, 0, sizeof *p);
}

/* The class named name (created, files in dir, when new); NULL when out of memory. */
static klass *find_or_add(pile *p, const char *name, const char *dir)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->c[i].name, name))
            return &p->c[i];
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 4;
        klass *c = ic__realloc(p->c, (size_t)cap * sizeof *c);
        if (!c)
            return NULL;
        p->c = c;
        p->cap = cap;
    }
    klass *k = &p->c[p->n];
    memset(k, 0, sizeof *k);
    k->name = ic__strdup(name);
    k->dir = ic__strdup(dir);
    if (!k->name || !k->dir) {
        ic__free(k->name);
        ic__free(k->dir);
        return NULL;
    }
    p->n++;
    return k;
}

static ic_status add_file(klass *k, const char *name)
{
    if (k->n == k->cap) {
        int64_t cap = k->cap ? 2 * k->cap : 64;
        char **b = ic__realloc(k->base, (size_t)cap * sizeof *b);
        if (!b)
            return IC_ERR_NOMEM;
        k->base = b;
        k->cap = cap;
    }
    if (!(k->base[k->n] = ic__strdup(name)))
        return IC_ERR_NOMEM;
    k->n++;
    return IC_OK;
}

/* Adds the regular, non-hidden files of dir: all to k_fixed (by folder), or each to the
 * class named by its prefix (k_fixed NULL). */
static ic_status read_dir(pile *p, const char *dir, klass *k_fixed)
{
    DIR *d = opendir(dir);
    if (!d)
        return ic_seterr(IC_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    ic_status s = IC_OK;
    while (!s && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = ic__path_join(dir, e->d_name);
        if (!full) {
            s = IC_ERR_NOMEM;
            break;
        }
        int reg = is_kind(full, 0);
        ic__free(full);
        if (!reg)
            continue;
        klass *k = k_fixed;
        if (!k) {
            const char *dot = strchr(e->d_name, '.');
            if (!dot || dot == e->d_name)
                continue; /* no prefix: not part of the pile (README, ...) */
            char *name = ic__strdup(e->d_name);
            if (!name) {
                s = IC_ERR_NOMEM;
                break;
            }
            name[dot - e->d_name] = 0;
            k = find_or_add(p, name, dir);
            ic__free(name);
            if (!k) {
                s = IC_ERR_NOMEM;
                break;
            }
        }
        s = add_file(k, e->d_name);
    }
    closedir(d);
    return s;
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
        char *full = ic__path_join(dir, e->d_name);
        found = full && is_kind(full, 1);
        ic__free(full);
    }
    closedir(d);
    return found;
}

static ic_status read_pile(pile *p, const char *src, int by_folder)
{
    if (!by_folder)
        return read_dir(p, src, NULL);
    DIR *d = opendir(src);
    if (!d)
        return ic_seterr(IC_ERR_IO, "cannot read %s: %s", src, strerror(errno));
    /* Classes first (a subfolder with no files is still a class: its emptiness is an
     * error the plan reports by name), their files after closing src. */
    struct dirent *e;
    ic_status s = IC_OK;
    while (!s && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = ic__path_join(src, e->d_name);
        if (!full)
            s = IC_ERR_NOMEM;
        else if (is_kind(full, 1) && !find_or_add(p, e->d_name, full))
            s = IC_ERR_NOMEM;
        ic__free(full);
    }
    closedir(d);
    for (int i = 0; i < p->n && !s; i++)
        s = read_dir(p, p->c[i].dir, &p->c[i]);
    return s;
}

/* ---- the plan ---- */

static int cmp_class(const void *x, const void *y)
{
    return strcmp(((const klass *)x)->name, ((const klass *)y)->name);
}

/* Orders each class's files and sets its boundaries; checks every class fills every split
 * it is asked for. */
static ic_status plan(pile *p, const ic_split_opts *o, const int active[NSPLIT])
{
    if (p->n > 1)
        qsort(p->c, (size_t)p->n, sizeof *p->c, cmp_class);
    ic_np_random rng;
    ic_np_random_seed(&rng, o->seed);
    const int64_t skip = o->skip;
    for (int c = 0; c < p->n; c++) {
        klass *k = &p->c[c];
        /* Natural order of the names (all files of a class share one folder), then drop the
         * first `skip`, then (fractions) numpy's permutation of the rest. */
        if (k->n > 1)
            qsort(k->base, (size_t)k->n, sizeof *k->base, cmp_natural);
        int64_t first = skip < k->n ? skip : k->n, m = k->n - first;
        if (o->use_fractions && m > 0) {
            int64_t *ord = ic__malloc((size_t)m * sizeof *ord);
            char **b2 = ic__malloc((size_t)m * sizeof *b2);
            if (!ord || !b2) {
                ic__free(ord);
                ic__free(b2);
                return IC_ERR_NOMEM;
            }
            ic_np_random_permutation(&rng, m, ord);
            for (int64_t i = 0; i < m; i++)
                b2[i] = k->base[first + ord[i]];
            memcpy(k->base + first, b2, (size_t)m * sizeof *b2);
            ic__free(ord);
            ic__free(b2);
        }

        int64_t *bd = k->bounds;
        bd[0] = first;
        double cum = 0;
        for (int s = 0; s < NSPLIT; s++) {
            if (o->use_fractions) {
                cum += o->fractions[s];
                int64_t e = first + (int64_t)((double)m * cum + 0.5);
                bd[s + 1] = e > k->n ? k->n : e;
            } else {
                bd[s + 1] = bd[s] + o->counts[s];
            }
            if (bd[s + 1] < bd[s])
                bd[s + 1] = bd[s];
        }
        if (bd[NSPLIT] > k->n) {
            char sk[48] = "";
            if (skip)
                snprintf(sk, sizeof sk, " --skip %lld", (long long)skip);
            return ic_seterr(IC_ERR_INVALID,
                             "class '%s' has %lld files, but%s --train %lld --validation %lld "
                             "--test %lld need %lld (nothing written)",
                             k->name, (long long)k->n, sk, (long long)o->counts[0],
                             (long long)o->counts[1], (long long)o->counts[2],
                             (long long)(bd[NSPLIT] - first + skip));
        }
        for (int s = 0; s < NSPLIT; s++)
            if (active[s] && bd[s + 1] == bd[s])
                return ic_seterr(IC_ERR_INVALID,
                                 "class '%s' has %lld files%s: too few to give %s a share of %g "
                                 "(nothing written)",
                                 k->name, (long long)m, skip ? " after --skip" : "",
                                 g_split_names[s], o->fractions[s]);
    }
    return IC_OK;
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
            char *full = ic__path_join(path, e->d_name);
            if (!full) {
                errno = ENOMEM;
                rc = -1;
                break;
            }
            rc = rm_rf(full);
            ic__free(full);
        }
        int saved = errno;
        closedir(d);
        errno = saved;
        return rc ? rc : rmdir(path);
    }
    return unlink(path);
}

static int mkdir_p(const char *path)
{
    char *p = ic__strdup(path);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            ic__free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    if (!rc && !is_kind(p, 1)) {
        errno = ENOTDIR;
        rc = -1;
    }
    ic__free(p);
    return rc;
}

/* Copies src to dir/name through a temporary file in dir, fsync and rename, so a crash
 * never leaves a truncated image under its final name. buf is the caller's copy buffer. */
static ic_status copy_file(const char *src, const char *dir, const char *name, char *buf,
                           size_t bufsize)
{
    char *dst = ic__path_join(dir, name);
    size_t tl = strlen(dir) + strlen(name) + 64;
    char *tmp = ic__malloc(tl);
    if (!dst || !tmp) {
        ic__free(dst);
        ic__free(tmp);
        return IC_ERR_NOMEM;
    }
    snprintf(tmp, tl, "%s/.%s.tmp%ld", dir, name, (long)getpid());
    int in = open(src, O_RDONLY), out = -1, rc = 0;
    const char *what = "open";
    if (in < 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        rc = -1;
        what = in < 0 ? "read" : "create";
    }
    while (!rc) {
        ssize_t r = read(in, buf, bufsize);
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
    ic_status s = IC_OK;
    if (rc) {
        unlink(tmp);
        s = ic_seterr(IC_ERR_IO, "cannot copy %s to %s (%s): %s", src, dst, what, strerror(saved));
    }
    ic__free(tmp);
    ic__free(dst);
    return s;
}

static ic_status link_file(const char *src, const char *dir, const char *name)
{
    char *dst = ic__path_join(dir, name);
    if (!dst)
        return IC_ERR_NOMEM;
    ic_status s = IC_OK;
    if (link(src, dst) != 0) {
        if (errno == EXDEV)
            s = ic_seterr(IC_ERR_IO,
                          "cannot hard-link %s to %s: different file systems (drop --link to "
                          "copy)",
                          src, dst);
        else
            s = ic_seterr(IC_ERR_IO, "cannot hard-link %s to %s: %s", src, dst, strerror(errno));
    }
    ic__free(dst);
    return s;
}

/* Makes the new directory entries durable (best effort: some file systems refuse). */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes split s: removes the old dst/<split>, then one folder per class. */
static ic_status write_split(const pile *p, const char *dst, int s, const ic_split_opts *o,
                             char *buf, size_t bufsize, int64_t *written)
{
    char *sd = ic__path_join(dst, g_split_names[s]);
    if (!sd)
        return IC_ERR_NOMEM;
    ic_status st = IC_OK;
    if (rm_rf(sd) != 0)
        st = ic_seterr(IC_ERR_IO, "cannot remove the old %s: %s", sd, strerror(errno));
    else if (mkdir(sd, 0777) != 0)
        st = ic_seterr(IC_ERR_IO, "cannot create %s: %s", sd, strerror(errno));
    for (int c = 0; c < p->n && !st; c++) {
        const klass *k = &p->c[c];
        char *cd = ic__path_join(sd, k->name);
        if (!cd) {
            st = IC_ERR_NOMEM;
            break;
        }
        if (mkdir(cd, 0777) != 0)
            st = ic_seterr(IC_ERR_IO, "cannot create %s: %s", cd, strerror(errno));
        for (int64_t i = k->bounds[s]; i < k->bounds[s + 1] && !st; i++) {
            char *from = ic__path_join(k->dir, k->base[i]);
            if (!from) {
                st = IC_ERR_NOMEM;
                break;
            }
            st = o->link ? link_file(from, cd, k->base[i])
                         : copy_file(from, cd, k->base[i], buf, bufsize);
            ic__free(from);
            *written += !st;
        }
        if (!st && !o->link)
            sync_dir(cd);
        ic__free(cd);
    }
    if (!st)
        sync_dir(sd);
    ic__free(sd);
    return st;
}

/* ---- the entry point ---- */

static ic_status check_opts(const ic_split_opts *o, int active[NSPLIT])
{
    if (o->by != IC_SPLIT_BY_AUTO && o->by != IC_SPLIT_BY_PREFIX && o->by != IC_SPLIT_BY_FOLDER)
        return ic_seterr(IC_ERR_INVALID, "split: unknown class source %d", (int)o->by);
    if (o->skip < 0)
        return ic_seterr(IC_ERR_INVALID, "split: skip must be >= 0, got %lld", (long long)o->skip);
    double sum = 0;
    int n_active = 0;
    for (int s = 0; s < NSPLIT; s++) {
        if (o->use_fractions) {
            double f = o->fractions[s];
            if (!(f >= 0 && f <= 1))
                return ic_seterr(IC_ERR_INVALID, "split: the %s fraction must be in [0, 1], got %g",
                                 g_split_names[s], f);
            sum += f;
            active[s] = f > 0;
        } else {
            if (o->counts[s] < 0)
                return ic_seterr(IC_ERR_INVALID, "split: the %s count must be >= 0, got %lld",
                                 g_split_names[s], (long long)o->counts[s]);
            active[s] = o->counts[s] > 0;
        }
        n_active += active[s];
    }
    if (o->use_fractions && sum > 1 + 1e-9)
        return ic_seterr(IC_ERR_INVALID, "split: fractions sum to %g, more than 1", sum);
    if (!n_active)
        return ic_seterr(IC_ERR_INVALID, "split: every split is empty");
    return IC_OK;
}

void ic_split_report_free(ic_split_report *r)
{
    if (!r)
        return;
    for (int c = 0; c < r->n_classes; c++)
        ic__free(r->classes[c].name);
    ic__free(r->classes);
    memset(r, 0, sizeof *r);
}

/* Moves the class names into the report (the pile keeps NULLs). */
static ic_status fill_report(pile *p, const int active[NSPLIT], int by_folder,
                             const ic_split_opts *o, int64_t written, ic_split_report *out)
{
    ic_split_class *cl = ic__calloc((size_t)(p->n ? p->n : 1), sizeof *cl);
    if (!cl)
        return IC_ERR_NOMEM;
    for (int c = 0; c < p->n; c++) {
        klass *k = &p->c[c];
        cl[c].name = k->name;
        k->name = NULL;
        cl[c].files = k->n;
        for (int s = 0; s < NSPLIT; s++)
            cl[c].count[s] = k->bounds[s + 1] - k->bounds[s];
    }
    out->classes = cl;
    out->n_classes = p->n;
    for (int s = 0; s < NSPLIT; s++)
        out->active[s] = active[s];
    out->by = by_folder ? IC_SPLIT_BY_FOLDER : IC_SPLIT_BY_PREFIX;
    out->linked = !!o->link;
    out->written = written;
    return IC_OK;
}

ic_status ic_dataset_split(const char *src, const char *dst, const ic_split_opts *opts,
                           ic_split_report *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!src || !dst || !opts)
        return ic_seterr(IC_ERR_INVALID, "split: needs a source folder, a destination and options");
    int active[NSPLIT];
    ic_status s = check_opts(opts, active);
    if (s)
        return s;
    if (!is_kind(src, 1))
        return ic_seterr(IC_ERR_NOT_FOUND, "%s is not a readable folder", src);
    int by_folder =
        opts->by == IC_SPLIT_BY_AUTO ? has_subdirs(src) : opts->by == IC_SPLIT_BY_FOLDER;

    pile p = {0};
    s = read_pile(&p, src, by_folder);
    if (!s && p.n == 0)
        s = ic_seterr(IC_ERR_NOT_FOUND,
                      by_folder ? "no class subfolders in %s"
                                : "no files named CLASS.something in %s (use --by folder for "
                                  "one subfolder per class)",
                      src);
    if (!s)
        s = plan(&p, opts, active);
    for (int k = 0; k < NSPLIT && !s; k++) {
        if (!active[k])
            continue;
        char *sd = ic__path_join(dst, g_split_names[k]);
        if (!sd) {
            s = IC_ERR_NOMEM;
            break;
        }
        struct stat st;
        if (lstat(sd, &st) == 0 && !opts->force)
            s = ic_seterr(IC_ERR_INVALID,
                          "%s already exists (use --force to replace it; nothing written)", sd);
        ic__free(sd);
    }

    /* Write. */
    int64_t written = 0;
    const size_t bufsize = (size_t)1 << 16;
    char *buf = NULL;
    if (!s && !opts->link && !(buf = ic__malloc(bufsize)))
        s = IC_ERR_NOMEM;
    if (!s && mkdir_p(dst) != 0)
        s = ic_seterr(IC_ERR_IO, "cannot create %s: %s", dst, strerror(errno));
    for (int k = 0; k < NSPLIT && !s; k++)
        if (active[k])
            s = write_split(&p, dst, k, opts, buf, bufsize, &written);
    ic__free(buf);
    if (!s && out)
        s = fill_report(&p, active, by_folder, opts, written, out);
    pile_free(&p);
    return s;
}
