/* model_input.c - opening a saved model for the commands that run one: imgclass model
 * files, and Keras's own files with the options that stand in for the meta they lack. The
 * library's predictor (imgclass/infer.h) checks model and meta and reads the images. See
 * model_input.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_input.h"

void ic_cli_model_close(ic_cli_model *cm)
{
    if (!cm)
        return;
    if (cm->keras && cm->meta.class_names) { /* ours, from malloc */
        for (int k = 0; k < cm->meta.n_classes; k++)
            free(cm->meta.class_names[k]);
        free(cm->meta.class_names);
        cm->meta.class_names = NULL;
        cm->meta.n_classes = 0;
    }
    ic_predictor_free(cm->pred);
    ic_model_free(cm->model);
    ic_model_meta_free(&cm->meta);
    memset(cm, 0, sizeof *cm);
}

/* The library's message without a leading "PATH: ". */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* ---- models saved by Keras itself ---- */

void ic_cli_keras_opts_init(ic_cli_keras_opts *ko)
{
    memset(ko, 0, sizeof *ko);
}

int ic_cli_parse_rescale(const char *s, double *out)
{
    if (!strcmp(s, "none")) {
        *out = 0;
        return 0;
    }
    char *end;
    double a = strtod(s, &end), b = 1;
    if (end == s)
        return -1;
    if (*end == '/') {
        const char *d = end + 1;
        b = strtod(d, &end);
        if (end == d || b == 0)
            return -1;
    }
    if (*end || !(a / b >= 0) || a / b > 1e30)
        return -1;
    *out = a / b;
    return 0;
}

int ic_cli_keras_opt(const char *cmd, int argc, char **argv, int *i, ic_cli_keras_opts *ko)
{
    const char *a = argv[*i];
    static const char *const names[] = {"--config", "--weights", "--classes", "--rescale",
                                        "--preprocess"};
    int k = 0;
    while (k < 5 && strcmp(a, names[k]))
        k++;
    if (k == 5)
        return 0;
    if (*i + 1 >= argc) {
        ic_cli_usage_error(cmd, "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    switch (k) {
    case 0: ko->config = v; break;
    case 1: ko->weights = v; break;
    case 2: ko->classes = v; break;
    case 3:
        if (ic_cli_rescale_arg(cmd, v, &ko->rescale))
            return -1;
        ko->rescale_given = 1;
        break;
    default:
        if (ic_cli_preprocess_arg(cmd, v, &ko->preprocess))
            return -1;
        ko->preprocess_given = 1;
    }
    return 1;
}

int ic_cli_rescale_arg(const char *cmd, const char *v, double *out)
{
    if (!ic_cli_parse_rescale(v, out))
        return 0;
    ic_cli_usage_error(cmd, "--rescale needs a factor like 1/255 or 0.5, or none, got '%s'", v);
    return -1;
}

int ic_cli_preprocess_arg(const char *cmd, const char *v, ic_preprocess *out)
{
    if (ic_preprocess_parse(v, out) == IC_OK)
        return 0;
    ic_cli_usage_error(cmd, "--preprocess must be none, caffe, tf or torch, got '%s'", v);
    return -1;
}

void ic_cli_keras_help(FILE *fp)
{
    fprintf(fp,
            "Models saved by Keras itself (model.save / save_model_hdf5, Keras 2.0 to 3) record\n"
            "no class names or preprocessing; give them here:\n"
            "  --config MODEL.json   the architecture (model.to_json()) for a weights-only file\n"
            "                        (given with --weights FILE or as the model argument)\n"
            "  --weights FILE        the weights file (save_weights) with --config\n"
            "  --classes a,b,...     class names (default class_0, class_1, ...)\n"
            "  --rescale F           multiply pixels by F (e.g. 1/255; default none)\n"
            "  --preprocess MODE     none (default), caffe, tf or torch\n");
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Class names of a Keras model with K classes: --classes, DIR's sorted class folders, or
 * class_0 ... The names are malloc'd (freed by ic_cli_model_close). */
static int keras_classes(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                         const char *dir, int K, ic_cli_model *out)
{
    char **v = calloc((size_t)K, sizeof *v);
    int n = 0, rc = 0;
    if (!v) {
        fprintf(stderr, "imgclass %s: out of memory\n", cmd);
        return 1;
    }
    out->meta.class_names = v;
    out->meta.n_classes = K;
    if (ko && ko->classes) {
        const char *p = ko->classes;
        while (!rc) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == 0 || n == K) {
                rc = 1;
                break;
            }
            if (!(v[n] = strndup(p, l)))
                break;
            n++;
            if (!e)
                break;
            p = e + 1;
        }
        if (rc || n != K) {
            fprintf(stderr,
                    "imgclass %s: --classes '%s' must name the %d classes of %s, separated by "
                    "commas\n",
                    cmd, ko->classes, K, path);
            return 1;
        }
        return 0;
    }
    if (dir) {
        DIR *d = opendir(dir);
        struct dirent *e;
        int found = 0;
        char *names[4096];
        while (d && (e = readdir(d)) && found < 4096) {
            if (e->d_name[0] == '.')
                continue;
            size_t need = strlen(dir) + strlen(e->d_name) + 2;
            char *p = malloc(need);
            struct stat st;
            if (!p)
                break;
            snprintf(p, need, "%s/%s", dir, e->d_name);
            int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
            free(p);
            if (is_dir && (names[found] = strdup(e->d_name)))
                found++;
        }
        if (d)
            closedir(d);
        qsort(names, (size_t)found, sizeof *names, cmp_cstr);
        for (int k = 0; k < found; k++) {
            if (k < K)
                v[k] = names[k];
            else
                free(names[k]);
        }
        if (found != K) {
            fprintf(stderr,
                    "imgclass %s: %s has %d class folder%s but the model %s has %d classes "
                    "(give --classes to name them)\n",
                    cmd, dir, found, found == 1 ? "" : "s", path, K);
            return 1;
        }
        return 0;
    }
    for (int k = 0; k < K; k++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class_%d", k);
        if (!(v[k] = strdup(buf))) {
            fprintf(stderr, "imgclass %s: out of memory\n", cmd);
            return 1;
        }
    }
    return 0;
}

/* Reads the model through the library's predictor, which checks it against its meta, and
 * takes the size it reads images at. */
static int attach_predictor(const char *cmd, const char *path, ic_cli_model *out)
{
    ic_predictor_free(out->pred);
    out->pred = NULL;
    ic_status s = ic_predictor_create(&out->pred, out->model, &out->meta, path);
    if (s)
        return ic_cli_fail(cmd, s);
    const ic_model_meta *pm = ic_predictor_meta(out->pred);
    out->h = out->meta.target_h = pm->target_h;
    out->w = out->meta.target_w = pm->target_w;
    out->c = pm->grayscale ? 1 : 3;
    out->n_out = ic_predictor_outputs(out->pred);
    out->binary = out->n_out == 1;
    return 0;
}

static int open_keras(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                      const char *class_dir, ic_cli_model *out)
{
    out->keras = 1;
    ic_status s = ic_keras_model_load(&out->model, path, ko ? ko->config : NULL);
    if (s)
        return ic_cli_fail(cmd, s);
    int64_t in[IC_MAX_DIMS] = {0};
    ic_model_meta *mt = &out->meta;
    mt->grayscale = ic_model_input_shape(out->model, in) == 3 && in[2] == 1;
    mt->rescale = ko && ko->rescale_given ? (float)ko->rescale : 0.f;
    mt->preprocess = ko && ko->preprocess_given ? ko->preprocess : IC_PREPROCESS_NONE;
    /* Checked first without class names (the library numbers them), then named. */
    if (attach_predictor(cmd, path, out))
        return 1;
    int K = ic_predictor_meta(out->pred)->n_classes;
    if (keras_classes(cmd, path, ko, class_dir, K, out))
        return 1;
    return attach_predictor(cmd, path, out);
}

int ic_cli_model_open_ex(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                         const char *class_dir, ic_cli_model *out)
{
    memset(out, 0, sizeof *out);
    if (ko && ko->config) {
        if (ko->weights)
            path = ko->weights;
        if (!path)
            return ic_cli_usage_error(cmd, "--config needs the weights file (--weights FILE)");
        out->path = path;
        return open_keras(cmd, path, ko, class_dir, out);
    }
    out->path = path;
    int is_keras = 0;
    if (ic_model_file_is_keras(path, &is_keras) == IC_OK && is_keras)
        return open_keras(cmd, path, ko, class_dir, out);
    if (ko && (ko->classes || ko->rescale_given || ko->preprocess_given || ko->weights))
        fprintf(stderr,
                "imgclass %s: note: --classes, --rescale, --preprocess and --weights are for "
                "Keras model files; %s records its own\n",
                cmd, path);
    ic_status s = ic_model_load(&out->model, path, &out->meta);
    if (s == IC_ERR_FORMAT) {
        const char *why = strip_path(ic_errmsg(), path);
        if (strstr(why, "not an HDF5 file"))
            why = "not an HDF5 file";
        else if (strstr(why, "holds only weights"))
            why = "a weights-only HDF5 file: give the architecture with --config MODEL.json";
        fprintf(stderr, "imgclass %s: %s: not an imgclass model file (%s)\n", cmd, path, why);
        return 1;
    }
    if (s)
        return ic_cli_fail(cmd, s);
    if (out->meta.n_classes < 1) {
        fprintf(stderr,
                "imgclass %s: %s: not an imgclass model file (a Keras model without imgclass's "
                "class names, input size and preprocessing)\n",
                cmd, path);
        return 1;
    }
    return attach_predictor(cmd, path, out);
}

int ic_cli_model_open_prec(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                           const char *class_dir, ic_precision p, ic_cli_model *out)
{
    if (ic_cli_model_open_ex(cmd, path, ko, class_dir, out))
        return 1;
    ic_status s = ic_cli_set_precision(out->model, p);
    return s ? ic_cli_fail(cmd, s) : 0;
}

int ic_cli_model_opt(const char *cmd, int argc, char **argv, int *i, ic_cli_keras_opts *ko,
                     ic_precision *p)
{
    int r = ic_cli_common_opt(cmd, argc, argv, i);
    if (!r)
        r = ic_cli_keras_opt(cmd, argc, argv, i, ko);
    if (!r)
        r = ic_cli_precision_opt(cmd, argc, argv, i, p);
    return r;
}

void ic_cli_json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(fp, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", fp);
        else if (*c == '\t')
            fputs("\\t", fp);
        else if (*c < 0x20)
            fprintf(fp, "\\u%04x", *c);
        else
            fputc(*c, fp);
    }
    fputc('"', fp);
}
