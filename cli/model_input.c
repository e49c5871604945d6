/* model_input.c - opening a saved model and reading images the way it was trained: the
 * directory iterator for evaluate, the single-file pipeline for predict (the iterator's
 * per-image steps without augmentation). See model_input.h. */
#include <dirent.h>
#include <errno.h>
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

static int open_keras(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                      const char *class_dir, ic_cli_model *out)
{
    out->keras = 1;
    ic_status s = ic_keras_model_load(&out->model, path, ko ? ko->config : NULL);
    if (s)
        return ic_cli_fail(cmd, s);
    int64_t in[IC_MAX_DIMS] = {0}, o[IC_MAX_DIMS] = {0};
    int ni = ic_model_input_shape(out->model, in), no = ic_model_output_shape(out->model, o);
    if (ni != 3 || (in[2] != 1 && in[2] != 3)) {
        fprintf(stderr,
                "imgclass %s: %s: the model's input is not an image (height, width, 1 or 3 "
                "channels)\n",
                cmd, path);
        return 1;
    }
    if (no != 1) {
        fprintf(stderr, "imgclass %s: %s: the model's output is not a vector of class scores\n",
                cmd, path);
        return 1;
    }
    out->h = in[0];
    out->w = in[1];
    out->c = (int)in[2];
    out->n_out = o[0];
    out->binary = o[0] == 1;
    ic_model_meta *mt = &out->meta;
    mt->target_h = in[0];
    mt->target_w = in[1];
    mt->grayscale = in[2] == 1;
    mt->rescale = ko && ko->rescale_given ? (float)ko->rescale : 0.f;
    mt->preprocess = ko && ko->preprocess_given ? ko->preprocess : IC_PREPROCESS_NONE;
    return keras_classes(cmd, path, ko, class_dir, out->binary ? 2 : (int)o[0], out);
}

int ic_cli_model_open(const char *cmd, const char *path, ic_cli_model *out)
{
    return ic_cli_model_open_ex(cmd, path, NULL, NULL, out);
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
    const ic_model_meta *mt = &out->meta;
    if (mt->n_classes < 1) {
        fprintf(stderr,
                "imgclass %s: %s: not an imgclass model file (a Keras model without imgclass's "
                "class names, input size and preprocessing)\n",
                cmd, path);
        return 1;
    }
    int64_t in[IC_MAX_DIMS] = {0}, o[IC_MAX_DIMS] = {0};
    int ni = ic_model_input_shape(out->model, in), no = ic_model_output_shape(out->model, o);
    if (ni != 3 || (in[2] != 1 && in[2] != 3)) {
        fprintf(stderr, "imgclass %s: %s: the model's input is not an image (H, W, 1 or 3)\n",
                cmd, path);
        return 1;
    }
    out->h = mt->target_h > 0 ? mt->target_h : in[0];
    out->w = mt->target_w > 0 ? mt->target_w : in[1];
    out->c = mt->grayscale ? 1 : 3;
    if (out->h != in[0] || out->w != in[1] || out->c != in[2]) {
        fprintf(stderr,
                "imgclass %s: %s: the model's input (%lld, %lld, %lld) does not match its "
                "meta (target size %lldx%lld, %s)\n",
                cmd, path, (long long)in[0], (long long)in[1], (long long)in[2],
                (long long)out->h, (long long)out->w, mt->grayscale ? "grayscale" : "RGB");
        return 1;
    }
    if (no != 1) {
        fprintf(stderr, "imgclass %s: %s: the model's output is not a vector of class scores\n",
                cmd, path);
        return 1;
    }
    out->n_out = o[0];
    out->binary = o[0] == 1;
    if ((out->binary && mt->n_classes != 2) || (!out->binary && o[0] != mt->n_classes)) {
        fprintf(stderr,
                "imgclass %s: %s: the model has %lld output unit%s but %d class name%s\n", cmd,
                path, (long long)o[0], o[0] == 1 ? "" : "s", mt->n_classes,
                mt->n_classes == 1 ? "" : "s");
        return 1;
    }
    return 0;
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

ic_image_data_generator ic_cli_model_generator(const ic_cli_model *cm)
{
    ic_image_data_generator g = ic_image_data_generator_default();
    g.preprocess = cm->meta.preprocess;
    g.rescale = cm->meta.rescale;
    return g;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends ", name" to buf. */
static void add_name(char *buf, size_t size, const char *name)
{
    size_t l = strlen(buf);
    if (l + 8 >= size)
        return;
    snprintf(buf + l, size - l, "%s%s", l ? ", " : "", name);
}

/* DIR's class folders (subdirectories, links to them followed, hidden ones ignored)
 * against the model's classes. */
static int check_classes(const char *cmd, const ic_cli_model *cm, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "imgclass %s: %s: %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "imgclass %s: %s is not a directory\n", cmd, dir);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "imgclass %s: cannot read directory %s: %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    int K = cm->meta.n_classes;
    char *seen = calloc((size_t)K, 1);
    char **unknown = NULL;
    size_t n_unknown = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (seen && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(need);
        if (!p)
            break;
        snprintf(p, need, "%s/%s", dir, e->d_name);
        int is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        if (!is_dir)
            continue;
        int k = 0;
        while (k < K && strcmp(cm->meta.class_names[k], e->d_name))
            k++;
        if (k < K) {
            seen[k] = 1;
            continue;
        }
        if (n_unknown == cap) {
            cap = cap ? 2 * cap : 8;
            char **v = realloc(unknown, cap * sizeof *v);
            if (!v)
                break;
            unknown = v;
        }
        if (!(unknown[n_unknown] = strdup(e->d_name)))
            break;
        n_unknown++;
    }
    closedir(d);
    if (!seen) {
        fprintf(stderr, "imgclass %s: out of memory\n", cmd);
        free(unknown);
        return 1;
    }
    char classes[1024] = "", unk[1024] = "", miss[1024] = "";
    for (int k = 0; k < K; k++) {
        add_name(classes, sizeof classes, cm->meta.class_names[k]);
        if (!seen[k])
            add_name(miss, sizeof miss, cm->meta.class_names[k]);
    }
    if (n_unknown)
        qsort(unknown, n_unknown, sizeof *unknown, cmp_str);
    for (size_t i = 0; i < n_unknown; i++) {
        add_name(unk, sizeof unk, unknown[i]);
        free(unknown[i]);
    }
    free(unknown);
    free(seen);
    if (*unk || *miss) {
        fprintf(stderr,
                "imgclass %s: the class folders of %s are not the model's classes (%s):%s%s%s%s%s\n",
                cmd, dir, classes, *unk ? " unknown folders: " : "", unk, *unk && *miss ? ";" : "",
                *miss ? " missing: " : "", miss);
        rc = 1;
    }
    return rc;
}

int ic_cli_model_flow(const char *cmd, const ic_cli_model *cm, const char *dir,
                      int64_t batch_size, ic_dir_iterator **out)
{
    *out = NULL;
    if (check_classes(cmd, cm, dir))
        return 1;
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = cm->h;
    o.target_w = cm->w;
    o.color_mode = cm->c == 1 ? IC_COLOR_GRAYSCALE : IC_COLOR_RGB;
    o.class_mode = cm->binary ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    o.batch_size = batch_size;
    o.shuffle = 0;
    o.has_seed = 1; /* no random draws matter, but keep runs reproducible */
    o.seed = 0;
    o.interpolation = (ic_interpolation)cm->meta.interpolation; /* as in training */
    o.classes = (const char *const *)cm->meta.class_names;
    o.n_classes = cm->meta.n_classes;
    ic_image_data_generator g = ic_cli_model_generator(cm);
    ic_status s = ic_flow_from_directory(out, dir, &g, &o);
    return s ? ic_cli_fail(cmd, s) : 0;
}

ic_status ic_cli_model_image(const ic_cli_model *cm, const char *path, float *dst)
{
    ic_image img, rs;
    memset(&img, 0, sizeof img);
    memset(&rs, 0, sizeof rs);
    ic_color_mode mode = cm->c == 1 ? IC_COLOR_GRAYSCALE : IC_COLOR_RGB;
    ic_status s = ic_image_load(path, mode, cm->h, cm->w, &img);
    if (s)
        return s;
    ic_image *use = &img;
    if (img.h != cm->h || img.w != cm->w) {
        s = ic_image_resize(&img, cm->h, cm->w, (ic_interpolation)cm->meta.interpolation, &rs);
        ic_image_release(&img);
        if (s)
            return s;
        use = &rs;
    }
    int64_t n = cm->h * cm->w * cm->c;
    float *tmp = use->c == cm->c ? malloc((size_t)n * sizeof *tmp) : NULL;
    if (!tmp) {
        s = use->c == cm->c ? IC_ERR_NOMEM : IC_ERR_INTERNAL;
    } else {
        for (int64_t k = 0; k < n; k++)
            tmp[k] = (float)use->data[k];
        /* The iterator's step with a generator: an identity transform, then
         * preprocess and rescale (Keras standardize()). */
        ic_image_data_generator g = ic_cli_model_generator(cm);
        ic_transform t;
        memset(&t, 0, sizeof t);
        t.zx = t.zy = 1.0;
        s = ic_augment_apply(&g, &t, tmp, cm->h, cm->w, cm->c, dst);
    }
    free(tmp);
    ic_image_release(use);
    return s;
}

int ic_cli_model_class(const ic_cli_model *cm, const float *p, double *prob)
{
    if (cm->binary) {
        int k = p[0] > 0.5f;
        *prob = k ? p[0] : 1.0 - (double)p[0];
        return k;
    }
    int best = 0;
    for (int64_t k = 1; k < cm->n_out; k++)
        if (p[k] > p[best])
            best = (int)k;
    *prob = p[best];
    return best;
}

double ic_cli_model_prob(const ic_cli_model *cm, const float *p, int k)
{
    if (cm->binary)
        return k ? p[0] : 1.0 - (double)p[0];
    return p[k];
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
