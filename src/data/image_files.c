/* image_files.c - ic_image_files (data.h): the images under a folder, for classifying a
 * folder of files that are not sorted into class folders. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"
#include "data_impl.h"

typedef struct list {
    char **v;
    int64_t n, cap;
} list;

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".png"));
}

/* Takes p (from ic__malloc) into l. */
static ic_status take(list *l, char *p)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **v = ic__realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            ic__free(p);
            return IC_ERR_NOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
    return IC_OK;
}

static ic_status walk(const char *dir, list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return ic_seterr(errno == ENOENT ? IC_ERR_NOT_FOUND : IC_ERR_IO, "%s: %s", dir,
                         strerror(errno));
    struct dirent *e;
    ic_status s = IC_OK;
    while (!s && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = ic__path_join(dir, e->d_name);
        if (!p) {
            s = IC_ERR_NOMEM;
            break;
        }
        struct stat st, lst;
        if (lstat(p, &lst) == 0 && S_ISDIR(lst.st_mode))
            s = walk(p, out);
        else if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && is_image_name(e->d_name)) {
            s = take(out, p);
            p = NULL;
        }
        ic__free(p);
    }
    closedir(d);
    return s;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ic_status ic_image_files(const char *dir, char ***paths, int64_t *n)
{
    if (!paths || !n)
        return ic_seterr(IC_ERR_INVALID, "ic_image_files: NULL output");
    *paths = NULL;
    *n = 0;
    if (!dir)
        return ic_seterr(IC_ERR_INVALID, "ic_image_files: no folder given");
    list l = {NULL, 0, 0};
    ic_status s = walk(dir, &l);
    if (s) {
        ic_image_files_free(l.v, l.n);
        return s;
    }
    if (l.n)
        qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_cstr);
    *paths = l.v;
    *n = l.n;
    return IC_OK;
}

void ic_image_files_free(char **paths, int64_t n)
{
    if (!paths)
        return;
    for (int64_t i = 0; i < n; i++)
        ic__free(paths[i]);
    ic__free(paths);
}
