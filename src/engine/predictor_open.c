/* predictor_open.c - ic_predictor_open (infer.h): a saved model file opened for inference.
 * An imgclass file carries its meta; a model saved by Keras itself records no class
 * names, preprocessing or rescaling, so the caller's source stands in for them, and its
 * input gives the size and color mode. The predictor then checks model and meta as it
 * does for a model it is handed (ic_predictor_create). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "data/data_impl.h"
#include "engine_impl.h"

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of dir's subfolders (hidden ones skipped), from ic__malloc. An unreadable
 * folder has none: the caller's count check then says how many it found. */
static ic_status class_folders(const char *dir, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    int cap = 0;
    ic_status s = IC_OK;
    while (d && !s && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = ic__path_join(dir, e->d_name);
        struct stat st;
        if (!p) {
            s = IC_ERR_NOMEM;
            break;
        }
        int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        ic__free(p);
        if (!is_dir)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = ic__realloc(*out, (size_t)cap * sizeof *v);
            if (!v) {
                s = IC_ERR_NOMEM;
                break;
            }
            *out = v;
        }
        if (!((*out)[*n] = ic__strdup(e->d_name)))
            s = IC_ERR_NOMEM;
        else
            (*n)++;
    }
    if (d)
        closedir(d);
    if (*n)
        qsort(*out, (size_t)*n, sizeof **out, cmp_cstr);
    return s;
}

/* A Keras model's K class names into meta: src->classes split at commas, src->class_dir's
 * class folders, or none (the predictor numbers them). */
static ic_status name_classes(const ic_model_source *src, int K, ic_model_meta *meta)
{
    char **v = NULL;
    int n = 0;
    ic_status s = IC_OK;
    if (src->classes) {
        v = ic__calloc((size_t)K, sizeof *v);
        if (!v)
            return IC_ERR_NOMEM;
        const char *p = src->classes;
        int bad = 0;
        for (;;) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == 0 || n == K) {
                bad = 1;
                break;
            }
            if (!(v[n] = ic__malloc(l + 1))) {
                s = IC_ERR_NOMEM;
                break;
            }
            memcpy(v[n], p, l);
            v[n++][l] = '\0';
            if (!e)
                break;
            p = e + 1;
        }
        if (!s && (bad || n != K))
            s = ic_seterr(IC_ERR_INVALID,
                          "classes '%s' must name the %d classes of %s, separated by commas",
                          src->classes, K, src->path);
    } else if (src->class_dir) {
        s = class_folders(src->class_dir, &v, &n);
        if (!s && n != K)
            s = ic_seterr(IC_ERR_INVALID,
                          "%s has %d class folder%s but the model %s has %d classes",
                          src->class_dir, n, n == 1 ? "" : "s", src->path, K);
    } else {
        return IC_OK;
    }
    meta->class_names = v;
    meta->n_classes = n;
    return s;
}

static ic_status open_keras(ic_predictor **out, const ic_model_source *src)
{
    ic_model *m = NULL;
    ic_status s = ic_keras_model_load(&m, src->path, src->config);
    if (s)
        return s;
    int64_t in[IC_MAX_DIMS] = {0};
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.grayscale = ic_model_input_shape(m, in) == 3 && in[2] == 1;
    meta.rescale = src->rescale;
    meta.preprocess = src->preprocess;
    /* First without class names, which checks the model and tells how many it has. */
    ic_predictor *p = NULL;
    if (!(s = ic_predictor_create(&p, m, &meta, src->path)) &&
        (src->classes || src->class_dir)) {
        s = name_classes(src, ic_predictor_meta(p)->n_classes, &meta);
        ic_predictor_free(p);
        p = NULL;
        if (!s)
            s = ic_predictor_create(&p, m, &meta, src->path);
        ic_model_meta_free(&meta);
    }
    if (s) {
        ic_model_free(m);
        return s;
    }
    ic__predictor_adopt(p, 1);
    *out = p;
    return IC_OK;
}

/* An imgclass model file. A load that fails on the file's format says what the file is
 * instead (not HDF5, weights only), since the usual mistake is handing over another file. */
static ic_status open_imgclass(ic_predictor **out, const char *path)
{
    ic_model *m = NULL;
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    ic_status s = ic_model_load(&m, path, &meta);
    if (s == IC_ERR_FORMAT) {
        char why[512];
        const char *msg = ic_errmsg();
        size_t n = strlen(path);
        if (!strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ')
            msg += n + 2; /* the message without its leading "PATH: " */
        if (strstr(msg, "not an HDF5 file"))
            msg = "not an HDF5 file";
        else if (strstr(msg, "holds only weights"))
            msg = "a weights-only HDF5 file: its architecture (model.to_json()) is needed too";
        snprintf(why, sizeof why, "%s", msg);
        return ic_seterr(IC_ERR_FORMAT, "%s: not an imgclass model file (%s)", path, why);
    }
    if (s)
        return s;
    if (meta.n_classes < 1)
        s = ic_seterr(IC_ERR_FORMAT,
                      "%s: not an imgclass model file (a Keras model without imgclass's class "
                      "names, input size and preprocessing)",
                      path);
    else
        s = ic_predictor_create(out, m, &meta, path);
    ic_model_meta_free(&meta);
    if (s) {
        ic_model_free(m);
        return s;
    }
    ic__predictor_adopt(*out, 0);
    return IC_OK;
}

ic_status ic_predictor_open(ic_predictor **out, const ic_model_source *src)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_open: out is NULL");
    *out = NULL;
    if (!src || !src->path)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_open: no model file given");
    int is_keras = 0;
    if (src->config || (ic_model_file_is_keras(src->path, &is_keras) == IC_OK && is_keras))
        return open_keras(out, src);
    return open_imgclass(out, src->path);
}
