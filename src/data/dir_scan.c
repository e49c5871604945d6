/* dir_scan.c - the discovery half of flow_from_directory: classes and files.
 *
 * As keras-preprocessing: classes are the immediate subdirectories of dir sorted in byte
 * order (or the caller's explicit list, in its order); each class folder is walked
 * recursively (os.walk), the walk's directories taken in byte order of their full path
 * and the file names of each directory in byte order; a file is kept when its lower-cased
 * name ends with ".png", ".jpg", ".jpeg" (or ".bmp", ".ppm", ".tif", ".tiff", which we
 * cannot decode: those are excluded with one warning per scan). Symbolic links to files
 * are kept; links to directories are walked only with follow_links (each directory once,
 * so link cycles terminate). Class folders themselves may be links.
 *
 * Beyond Keras, every candidate's first bytes are read: empty files and files that are
 * neither JPEG nor PNG by content are excluded with one log line each and counted.
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

typedef struct strvec {
    char **v;
    int64_t n, cap;
} strvec;

static void strvec_free(strvec *s)
{
    for (int64_t i = 0; i < s->n; i++)
        ic__free(s->v[i]);
    ic__free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Takes ownership of str (freed on failure). */
static ic_status strvec_push(strvec *s, char *str)
{
    if (!str)
        return IC_ERR_NOMEM;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 16;
        char **v = ic__realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            ic__free(str);
            return IC_ERR_NOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return IC_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *ic__path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = ic__malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

/* ---- extension and content checks ---- */

enum { EXT_NONE = 0, EXT_OK, EXT_UNDECODABLE };

static int ext_kind(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return EXT_NONE;
    char e[8];
    size_t n = strlen(dot + 1);
    if (n == 0 || n >= sizeof e)
        return EXT_NONE;
    for (size_t i = 0; i <= n; i++) {
        char c = dot[1 + i];
        e[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (!strcmp(e, "png") || !strcmp(e, "jpg") || !strcmp(e, "jpeg"))
        return EXT_OK;
    if (!strcmp(e, "bmp") || !strcmp(e, "ppm") || !strcmp(e, "tif") || !strcmp(e, "tiff"))
        return EXT_UNDECODABLE;
    return EXT_NONE;
}

/* NULL if the file starts like a JPEG or PNG, else the reason to skip it. */
static const char *content_problem(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(buf, size, "cannot open: %s", strerror(errno));
        return buf;
    }
    unsigned char m[8];
    ssize_t got = 0;
    while (got < (ssize_t)sizeof m) {
        ssize_t r = read(fd, m + got, sizeof m - (size_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(buf, size, "cannot read: %s", strerror(errno));
            close(fd);
            return buf;
        }
        if (r == 0)
            break;
        got += r;
    }
    close(fd);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got == 0)
        return "empty file";
    if (got >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff)
        return NULL;
    if (got >= 4 && !memcmp(m, png, 4)) /* as ic_image_decode sniffs it */
        return NULL;
    return "not a JPEG or PNG file (unrecognised content)";
}

/* ---- the walk ---- */

typedef struct dirent_rec {
    char *path;   /* directory path */
    strvec files; /* file names in it */
} dirent_rec;

typedef struct walk {
    int follow_links;
    dirent_rec *dirs;
    int64_t n_dirs, cap_dirs;
    struct {
        dev_t dev;
        ino_t ino;
    } * seen;
    int64_t n_seen, cap_seen;
} walk;

static void walk_free(walk *w)
{
    for (int64_t i = 0; i < w->n_dirs; i++) {
        ic__free(w->dirs[i].path);
        strvec_free(&w->dirs[i].files);
    }
    ic__free(w->dirs);
    ic__free(w->seen);
    memset(w, 0, sizeof *w);
}

/* Records (dev, ino); returns 1 if it was new, 0 if seen, -1 on no memory. */
static int mark_seen(walk *w, const struct stat *st)
{
    for (int64_t i = 0; i < w->n_seen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
            return 0;
    if (w->n_seen == w->cap_seen) {
        int64_t cap = w->cap_seen ? 2 * w->cap_seen : 16;
        void *p = ic__realloc(w->seen, (size_t)cap * sizeof *w->seen);
        if (!p)
            return -1;
        w->seen = p;
        w->cap_seen = cap;
    }
    w->seen[w->n_seen].dev = st->st_dev;
    w->seen[w->n_seen].ino = st->st_ino;
    w->n_seen++;
    return 1;
}

/* Walks path (a directory, already marked seen). Unreadable subdirectories are logged
 * and skipped, as os.walk ignores them. Owns nothing of path. */
static ic_status walk_dir(walk *w, const char *path, int depth)
{
    if (depth > 256)
        return IC_OK;
    DIR *d = opendir(path);
    if (!d) {
        ic__log(2, "cannot read directory %s: %s (skipped)", path, strerror(errno));
        return IC_OK;
    }
    if (w->n_dirs == w->cap_dirs) {
        int64_t cap = w->cap_dirs ? 2 * w->cap_dirs : 8;
        dirent_rec *p = ic__realloc(w->dirs, (size_t)cap * sizeof *p);
        if (!p) {
            closedir(d);
            return IC_ERR_NOMEM;
        }
        w->dirs = p;
        w->cap_dirs = cap;
    }
    int64_t me = w->n_dirs++;
    memset(&w->dirs[me], 0, sizeof w->dirs[me]);
    w->dirs[me].path = ic__strdup(path);
    if (!w->dirs[me].path) {
        closedir(d);
        return IC_ERR_NOMEM;
    }
    strvec subdirs = {0};
    ic_status s = IC_OK;
    struct dirent *e;
    while (!s && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *full = ic__path_join(path, e->d_name);
        if (!full) {
            s = IC_ERR_NOMEM;
            break;
        }
        struct stat lst, st;
        int is_dir = 0, is_link = 0;
        if (lstat(full, &lst) == 0) {
            is_link = S_ISLNK(lst.st_mode);
            if (is_link)
                is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
            else
                is_dir = S_ISDIR(lst.st_mode), st = lst;
        }
        if (is_dir) {
            /* os.walk lists a link to a directory as a directory and walks it only with
             * followlinks; either way it is not a file. */
            if (!is_link || w->follow_links) {
                int r = mark_seen(w, &st);
                if (r < 0)
                    s = IC_ERR_NOMEM;
                else if (r > 0) {
                    s = strvec_push(&subdirs, full);
                    full = NULL;
                }
            }
            ic__free(full);
            continue;
        }
        ic__free(full);
        /* Anything else (files, links to files, dangling links) is a file name. */
        s = strvec_push(&w->dirs[me].files, ic__strdup(e->d_name));
    }
    closedir(d);
    if (!s && w->dirs[me].files.n > 1)
        qsort(w->dirs[me].files.v, (size_t)w->dirs[me].files.n, sizeof(char *), cmp_str);
    for (int64_t i = 0; !s && i < subdirs.n; i++)
        s = walk_dir(w, subdirs.v[i], depth + 1);
    strvec_free(&subdirs);
    return s;
}

static int cmp_dirrec(const void *a, const void *b)
{
    return strcmp(((const dirent_rec *)a)->path, ((const dirent_rec *)b)->path);
}

/* Appends the usable files of class folder cdir to paths. */
static ic_status scan_class(ic__scan *sc, strvec *paths, const char *cdir, int follow_links,
                            strvec *undecodable, int64_t *n_undecodable)
{
    walk w;
    memset(&w, 0, sizeof w);
    w.follow_links = follow_links;
    struct stat st;
    if (stat(cdir, &st) == 0 && mark_seen(&w, &st) < 0) {
        walk_free(&w);
        return IC_ERR_NOMEM;
    }
    ic_status s = walk_dir(&w, cdir, 0);
    if (!s && w.n_dirs > 1)
        qsort(w.dirs, (size_t)w.n_dirs, sizeof *w.dirs, cmp_dirrec);
    char why[256];
    for (int64_t i = 0; !s && i < w.n_dirs; i++) {
        for (int64_t j = 0; !s && j < w.dirs[i].files.n; j++) {
            const char *name = w.dirs[i].files.v[j];
            int k = ext_kind(name);
            if (k == EXT_NONE)
                continue;
            char *full = ic__path_join(w.dirs[i].path, name);
            if (!full) {
                s = IC_ERR_NOMEM;
                break;
            }
            if (k == EXT_UNDECODABLE) {
                sc->skipped++;
                (*n_undecodable)++;
                if (undecodable->n < 3)
                    s = strvec_push(undecodable, full);
                else
                    ic__free(full);
                continue;
            }
            const char *bad = content_problem(full, why, sizeof why);
            if (bad) {
                ic__log(2, "skipping %s: %s", full, bad);
                sc->skipped++;
                ic__free(full);
                continue;
            }
            s = strvec_push(paths, full);
        }
    }
    walk_free(&w);
    return s;
}

void ic__scan_free(ic__scan *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->n_classes; i++)
        ic__free(sc->class_names[i]);
    ic__free(sc->class_names);
    for (int64_t i = 0; i < sc->n; i++)
        ic__free(sc->paths[i]);
    ic__free(sc->paths);
    ic__free(sc->labels);
    ic__free(sc->class_start);
    memset(sc, 0, sizeof *sc);
}

/* The sorted subdirectory names of dir (links to directories count, as os.path.isdir). */
static ic_status list_classes(const char *dir, strvec *names)
{
    DIR *d = opendir(dir);
    if (!d)
        return ic_seterr(IC_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    ic_status s = IC_OK;
    struct dirent *e;
    while (!s && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *full = ic__path_join(dir, e->d_name);
        if (!full) {
            s = IC_ERR_NOMEM;
            break;
        }
        struct stat st;
        int is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        ic__free(full);
        if (is_dir)
            s = strvec_push(names, ic__strdup(e->d_name));
    }
    closedir(d);
    if (!s && names->n > 1)
        qsort(names->v, (size_t)names->n, sizeof(char *), cmp_str);
    return s;
}

ic_status ic__dir_scan(const char *dir, const char *const *classes, int n_classes, int follow_links,
                       ic__scan *out)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: no directory given");
    if (n_classes < 0 || (n_classes > 0 && !classes))
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: bad explicit class list");
    struct stat st;
    if (stat(dir, &st) != 0)
        return ic_seterr(IC_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ic_seterr(IC_ERR_IO, "%s is not a directory", dir);

    strvec names = {0}, paths = {0}, undec = {0};
    ic_status s = IC_OK;
    if (n_classes > 0) {
        for (int i = 0; !s && i < n_classes; i++) {
            const char *c = classes[i];
            if (!c || !*c || strchr(c, '/') || !strcmp(c, ".") || !strcmp(c, "..")) {
                s = ic_seterr(IC_ERR_INVALID, "class list entry %d ('%s') is not a folder name", i,
                              c ? c : "(null)");
                break;
            }
            for (int j = 0; j < i; j++)
                if (!strcmp(classes[j], c))
                    s = ic_seterr(IC_ERR_INVALID, "class '%s' is listed twice", c);
            if (!s)
                s = strvec_push(&names, ic__strdup(c));
        }
    } else {
        s = list_classes(dir, &names);
        if (!s && names.n == 0)
            s = ic_seterr(IC_ERR_NOT_FOUND, "no class subfolders in %s", dir);
    }
    if (!s && names.n > 1000000)
        s = ic_seterr(IC_ERR_INVALID, "%lld classes in %s", (long long)names.n, dir);
    int K = (int)names.n;
    if (!s) {
        out->class_start = ic__calloc((size_t)K + 1, sizeof *out->class_start);
        if (!out->class_start)
            s = IC_ERR_NOMEM;
    }
    int64_t n_undec = 0;
    for (int c = 0; !s && c < K; c++) {
        char *cdir = ic__path_join(dir, names.v[c]);
        if (!cdir) {
            s = IC_ERR_NOMEM;
            break;
        }
        if (stat(cdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            s = ic_seterr(IC_ERR_NOT_FOUND, "class folder %s does not exist", cdir);
            ic__free(cdir);
            break;
        }
        int64_t before = paths.n, skipped_before = out->skipped;
        out->class_start[c] = before;
        s = scan_class(out, &paths, cdir, follow_links, &undec, &n_undec);
        if (!s && paths.n == before) {
            int64_t sk = out->skipped - skipped_before;
            if (sk)
                s = ic_seterr(IC_ERR_NOT_FOUND,
                              "class folder %s has no usable images (%lld files skipped)", cdir,
                              (long long)sk);
            else
                s = ic_seterr(IC_ERR_NOT_FOUND,
                              "class folder %s has no images (.jpg, .jpeg or .png)", cdir);
        }
        ic__free(cdir);
    }
    if (n_undec > 0) {
        char list[600] = "";
        for (int64_t i = 0; i < undec.n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", undec.v[i]);
        }
        ic__log(2,
                "excluded %lld file%s with extensions imgclass cannot decode (.bmp, .ppm, .tif, "
                ".tiff; only JPEG and PNG are supported): %s%s",
                (long long)n_undec, n_undec == 1 ? "" : "s", list,
                n_undec > undec.n ? ", ..." : "");
    }
    strvec_free(&undec);
    if (!s) {
        out->class_start[K] = paths.n;
        out->labels = ic__malloc((size_t)(paths.n ? paths.n : 1) * sizeof *out->labels);
        if (!out->labels)
            s = IC_ERR_NOMEM;
    }
    if (s) {
        strvec_free(&names);
        strvec_free(&paths);
        int64_t sk = out->skipped;
        ic__scan_free(out);
        out->skipped = sk;
        return s;
    }
    for (int c = 0; c < K; c++)
        for (int64_t i = out->class_start[c]; i < out->class_start[c + 1]; i++)
            out->labels[i] = c;
    out->class_names = names.v;
    out->n_classes = K;
    out->paths = paths.v;
    out->n = paths.n;
    return IC_OK;
}
