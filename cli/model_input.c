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

int ic_cli_model_open(const char *cmd, const char *path, ic_cli_model *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    ic_status s = ic_model_load(&out->model, path, &out->meta);
    if (s == IC_ERR_FORMAT) {
        const char *why = strip_path(ic_errmsg(), path);
        if (strstr(why, "not an HDF5 file"))
            why = "not an HDF5 file";
        else if (strstr(why, "holds only weights"))
            why = "a weights-only HDF5 file: no model configuration";
        fprintf(stderr, "imgclass %s: %s: not an imgclass model file (%s)\n", cmd, path, why);
        return 1;
    }
    if (s)
        return ic_cli_fail(cmd, s);
    const ic_model_meta *mt = &out->meta;
    if (mt->n_classes < 1) {
        fprintf(stderr,
                "imgclass %s: %s: not an imgclass model file (a Keras model without imgclass's "
                "class names, input size and preprocessing; plain Keras models are not "
                "supported yet)\n",
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
    o.interpolation = IC_INTERP_NEAREST;
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
        s = ic_image_resize(&img, cm->h, cm->w, IC_INTERP_NEAREST, &rs);
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
