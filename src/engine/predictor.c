/* predictor.c - a trained model run on image files (infer.h): the meta checked against the
 * model, one file read as the directory iterator reads it, files classified in batches, a
 * folder of class folders evaluated.
 *
 * One file goes through the same public steps as an iterator built by ic_predictor_flow:
 * ic_image_load with the target size as the DCT hint, ic_image_resize with the meta's
 * interpolation only when the size differs, float, and ic_augment_apply with the identity
 * transform and a generator carrying only preprocess and rescale (an augmenting-free
 * generator draws the identity, so the iterator applies exactly this). Using the same
 * functions rather than a copy of the pixel loop is what keeps the two bit-identical
 * (tests/io/test_predictor.c). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "engine_impl.h"
#include "imgclass/infer.h"
#include "imgclass/train.h"

struct ic_predictor {
    ic_model *model; /* borrowed, or owned (ic_predictor_open) */
    int owns_model, keras;
    ic_model_meta meta; /* own copy: class names from ic__malloc */
    int64_t n_out;
    int c;
    ic_image_data_generator gen;
};

void ic_predictor_free(ic_predictor *p)
{
    if (!p)
        return;
    ic_model_meta_free(&p->meta);
    if (p->owns_model)
        ic_model_free(p->model);
    ic__free(p);
}

/* Class names: meta's, or class_0 ... class_{K-1}. */
static ic_status copy_names(ic_predictor *p, const ic_model_meta *meta, int K)
{
    int given = meta->n_classes > 0;
    int n = given ? meta->n_classes : K;
    p->meta.class_names = ic__calloc((size_t)n, sizeof *p->meta.class_names);
    if (!p->meta.class_names)
        return IC_ERR_NOMEM;
    p->meta.n_classes = n;
    for (int k = 0; k < n; k++) {
        char buf[32];
        const char *s = given ? meta->class_names[k] : buf;
        if (!given)
            snprintf(buf, sizeof buf, "class_%d", k);
        if (!s)
            return ic_seterr(IC_ERR_INVALID, "class name %d is NULL", k);
        if (!(p->meta.class_names[k] = ic__strdup(s)))
            return IC_ERR_NOMEM;
    }
    return IC_OK;
}

static ic_status check(ic_predictor *p, const ic_model_meta *meta, const char *name)
{
    int64_t in[IC_MAX_DIMS] = {0}, o[IC_MAX_DIMS] = {0};
    int ni = ic_model_input_shape(p->model, in), no = ic_model_output_shape(p->model, o);
    if (ni != 3 || (in[2] != 1 && in[2] != 3))
        return ic_seterr(IC_ERR_SHAPE, "%s: the model's input is not an image (H, W, 1 or 3)",
                         name);
    int64_t h = meta->target_h > 0 ? meta->target_h : in[0];
    int64_t w = meta->target_w > 0 ? meta->target_w : in[1];
    int c = meta->grayscale ? 1 : 3;
    if (h != in[0] || w != in[1] || c != in[2])
        return ic_seterr(IC_ERR_SHAPE,
                         "%s: the model's input (%lld, %lld, %lld) does not match its meta "
                         "(target size %lldx%lld, %s)",
                         name, (long long)in[0], (long long)in[1], (long long)in[2],
                         (long long)h, (long long)w, meta->grayscale ? "grayscale" : "RGB");
    if (no != 1 || o[0] < 1)
        return ic_seterr(IC_ERR_SHAPE, "%s: the model's output is not a vector of class scores",
                         name);
    int binary = o[0] == 1;
    if (meta->n_classes < 0 || (meta->n_classes > 0 && !meta->class_names))
        return ic_seterr(IC_ERR_INVALID, "%s: the meta's class names are missing", name);
    if (meta->n_classes > 0 &&
        ((binary && meta->n_classes != 2) || (!binary && o[0] != meta->n_classes)))
        return ic_seterr(IC_ERR_SHAPE, "%s: the model has %lld output unit%s but %d class name%s",
                         name, (long long)o[0], o[0] == 1 ? "" : "s", meta->n_classes,
                         meta->n_classes == 1 ? "" : "s");
    if ((unsigned)meta->interpolation > IC_INTERP_AREA)
        return ic_seterr(IC_ERR_INVALID, "%s: unknown interpolation %d in the meta", name,
                         meta->interpolation);
    if ((unsigned)meta->preprocess > IC_PREPROCESS_TORCH)
        return ic_seterr(IC_ERR_INVALID, "%s: unknown preprocessing %d in the meta", name,
                         (int)meta->preprocess);
    if (!(meta->rescale >= 0) || isinf(meta->rescale))
        return ic_seterr(IC_ERR_INVALID, "%s: rescale %g in the meta is not a finite number >= 0",
                         name, (double)meta->rescale);
    p->meta.target_h = h;
    p->meta.target_w = w;
    p->c = c;
    p->n_out = o[0];
    return copy_names(p, meta, binary ? 2 : (int)o[0]);
}

ic_status ic_predictor_create(ic_predictor **out, ic_model *m, const ic_model_meta *meta,
                              const char *name)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_create: out is NULL");
    *out = NULL;
    if (!m || !meta)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_create: model or meta is NULL");
    ic_predictor *p = ic__calloc(1, sizeof *p);
    if (!p)
        return IC_ERR_NOMEM;
    p->model = m;
    p->meta = *meta;
    p->meta.class_names = NULL;
    p->meta.n_classes = 0;
    ic_status s = check(p, meta, name ? name : "model");
    if (s) {
        ic_predictor_free(p);
        return s;
    }
    p->gen = ic_image_data_generator_default();
    p->gen.preprocess = meta->preprocess;
    p->gen.rescale = meta->rescale;
    *out = p;
    return IC_OK;
}

void ic__predictor_adopt(ic_predictor *p, int keras)
{
    p->owns_model = 1;
    p->keras = keras;
}

ic_model *ic_predictor_model(const ic_predictor *p)
{
    return p->model;
}

int ic_predictor_is_keras(const ic_predictor *p)
{
    return p->keras;
}

const ic_model_meta *ic_predictor_meta(const ic_predictor *p)
{
    return &p->meta;
}

int64_t ic_predictor_outputs(const ic_predictor *p)
{
    return p->n_out;
}

int64_t ic_predictor_image_size(const ic_predictor *p)
{
    return p->meta.target_h * p->meta.target_w * p->c;
}

/* Makes sure the current message names the file (decoders do; a resize error may not). */
static ic_status name_file(ic_status s, const char *path)
{
    if (!strstr(ic_errmsg(), path))
        return ic__errctx(s, "%s", path);
    return s;
}

ic_status ic_predictor_load_image(const ic_predictor *p, const char *path, float *out)
{
    if (!p || !path || !out)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_load_image: NULL argument");
    int64_t h = p->meta.target_h, w = p->meta.target_w;
    ic_image img, rs;
    memset(&img, 0, sizeof img);
    memset(&rs, 0, sizeof rs);
    ic_color_mode mode = p->c == 1 ? IC_COLOR_GRAYSCALE : IC_COLOR_RGB;
    ic_status s = ic_image_load(path, mode, h, w, &img);
    if (s)
        return name_file(s, path);
    ic_image *use = &img;
    if (img.h != h || img.w != w) {
        s = ic_image_resize(&img, h, w, (ic_interpolation)p->meta.interpolation, &rs);
        ic_image_release(&img);
        if (s)
            return ic__errctx(s, "resizing %s", path);
        use = &rs;
    }
    int64_t n = h * w * p->c;
    float *tmp = NULL;
    if (use->c != p->c)
        s = ic_seterr(IC_ERR_INTERNAL, "%s decoded with %d channels, expected %d", path, use->c,
                      p->c);
    else if (!(tmp = ic__malloc((size_t)n * sizeof *tmp)))
        s = IC_ERR_NOMEM;
    if (!s) {
        for (int64_t k = 0; k < n; k++)
            tmp[k] = (float)use->data[k];
        /* The iterator's step with a generator: the identity transform, then
         * preprocess_input and rescale. */
        ic_transform t;
        memset(&t, 0, sizeof t);
        t.zx = t.zy = 1.0;
        s = ic_augment_apply(&p->gen, &t, tmp, h, w, p->c, out);
    }
    ic__free(tmp);
    ic_image_release(use);
    return s;
}

int ic_predictor_class(const ic_predictor *p, const float *output, double *prob)
{
    int best = 0;
    double pb;
    if (p->n_out == 1) {
        best = output[0] > 0.5f;
        pb = best ? output[0] : 1.0 - (double)output[0];
    } else {
        for (int64_t k = 1; k < p->n_out; k++)
            if (output[k] > output[best])
                best = (int)k;
        pb = output[best];
    }
    if (prob)
        *prob = pb;
    return best;
}

double ic_predictor_prob(const ic_predictor *p, const float *output, int k)
{
    if (p->n_out == 1)
        return k ? output[0] : 1.0 - (double)output[0];
    return output[k];
}

ic_status ic_predictor_predict_files(ic_predictor *p, const char *const *paths, int64_t n,
                                     int64_t batch_size, ic_prediction_fn fn, void *user)
{
    if (!p || (n > 0 && !paths) || !fn || n < 0)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_predict_files: NULL argument");
    if (batch_size < 1)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_predict_files: batch size %lld < 1",
                         (long long)batch_size);
    if (n == 0)
        return IC_OK;
    int64_t bs = batch_size < n ? batch_size : n;
    int64_t row = ic_predictor_image_size(p);
    int64_t shape[4] = {bs, p->meta.target_h, p->meta.target_w, p->c};
    ic_tensor *x = NULL;
    int64_t *idx = ic__malloc((size_t)bs * sizeof *idx);
    ic_status s = idx ? ic_tensor_create(&x, 4, shape) : IC_ERR_NOMEM;
    int64_t next = 0;
    while (!s && next < n) {
        int64_t cnt = 0;
        float *X = ic_tensor_data(x);
        while (cnt < bs && next < n) {
            int64_t i = next++;
            ic_status e = ic_predictor_load_image(p, paths[i], X + cnt * row);
            if (e == IC_ERR_NOMEM) {
                s = e;
                break;
            }
            if (e) {
                ic_prediction r = {i, paths[i], NULL, -1, 0.0, e, ic_errmsg()};
                fn(&r, user);
                continue;
            }
            idx[cnt++] = i;
        }
        if (s || !cnt)
            continue;
        ic_tensor *v = NULL, *out = NULL;
        s = ic_tensor_view(&v, x, 0, cnt);
        if (!s)
            s = ic_model_forward(p->model, v, &out);
        ic_tensor_free(v);
        if (s)
            break;
        const float *P = ic_tensor_cdata(out);
        for (int64_t b = 0; b < cnt; b++) {
            ic_prediction r = {idx[b], paths[idx[b]], P + b * p->n_out, 0, 0.0, IC_OK, NULL};
            r.class_index = ic_predictor_class(p, r.output, &r.prob);
            fn(&r, user);
        }
        ic_tensor_free(out);
    }
    ic_tensor_free(x);
    ic__free(idx);
    return s;
}

/* ---- a folder of class folders ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends ", name" to buf (silently stops when full: the message is a summary). */
static void add_name(char *buf, size_t size, const char *name)
{
    size_t l = strlen(buf);
    if (l + 8 >= size)
        return;
    snprintf(buf + l, size - l, "%s%s", l ? ", " : "", name);
}

/* dir's class folders (subdirectories, links to them followed, hidden ones ignored)
 * against the model's classes. */
static ic_status check_classes(const ic_predictor *p, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return ic_seterr(errno == ENOENT ? IC_ERR_NOT_FOUND : IC_ERR_IO, "%s: %s", dir,
                         strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ic_seterr(IC_ERR_INVALID, "%s is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return ic_seterr(IC_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    int K = p->meta.n_classes;
    char *seen = ic__calloc((size_t)K, 1);
    char **unknown = NULL;
    size_t n_unknown = 0, cap = 0;
    ic_status s = seen ? IC_OK : IC_ERR_NOMEM;
    struct dirent *e;
    while (!s && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        char *path = ic__malloc(need);
        if (!path) {
            s = IC_ERR_NOMEM;
            break;
        }
        snprintf(path, need, "%s/%s", dir, e->d_name);
        int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        ic__free(path);
        if (!is_dir)
            continue;
        int k = 0;
        while (k < K && strcmp(p->meta.class_names[k], e->d_name))
            k++;
        if (k < K) {
            seen[k] = 1;
            continue;
        }
        if (n_unknown == cap) {
            size_t nc = cap ? 2 * cap : 8;
            char **v = ic__realloc(unknown, nc * sizeof *v);
            if (!v) {
                s = IC_ERR_NOMEM;
                break;
            }
            unknown = v;
            cap = nc;
        }
        if (!(unknown[n_unknown] = ic__strdup(e->d_name))) {
            s = IC_ERR_NOMEM;
            break;
        }
        n_unknown++;
    }
    closedir(d);
    char classes[1024] = "", unk[1024] = "", miss[1024] = "";
    if (!s) {
        for (int k = 0; k < K; k++) {
            add_name(classes, sizeof classes, p->meta.class_names[k]);
            if (!seen[k])
                add_name(miss, sizeof miss, p->meta.class_names[k]);
        }
        if (n_unknown)
            qsort(unknown, n_unknown, sizeof *unknown, cmp_str);
        for (size_t i = 0; i < n_unknown; i++)
            add_name(unk, sizeof unk, unknown[i]);
    }
    for (size_t i = 0; i < n_unknown; i++)
        ic__free(unknown[i]);
    ic__free(unknown);
    ic__free(seen);
    if (!s && (*unk || *miss))
        s = ic_seterr(IC_ERR_INVALID,
                      "the class folders of %s are not the model's classes (%s):%s%s%s%s%s", dir,
                      classes, *unk ? " unknown folders: " : "", unk, *unk && *miss ? ";" : "",
                      *miss ? " missing: " : "", miss);
    return s;
}

ic_status ic_predictor_flow(const ic_predictor *p, const char *dir, int64_t batch_size,
                            ic_dir_iterator **out)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_flow: out is NULL");
    *out = NULL;
    if (!p || !dir)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_flow: NULL argument");
    ic_status s = check_classes(p, dir);
    if (s)
        return s;
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = p->meta.target_h;
    o.target_w = p->meta.target_w;
    o.color_mode = p->c == 1 ? IC_COLOR_GRAYSCALE : IC_COLOR_RGB;
    o.class_mode = p->n_out == 1 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    o.batch_size = batch_size;
    o.shuffle = 0;
    o.has_seed = 1; /* no random draws matter, but keep runs reproducible */
    o.seed = 0;
    o.interpolation = (ic_interpolation)p->meta.interpolation; /* as in training */
    o.classes = (const char *const *)p->meta.class_names;
    o.n_classes = p->meta.n_classes;
    return ic_flow_from_directory(out, dir, &p->gen, &o);
}

/* Keras 2 losses (float32 clip bounds) for one sample: binary cross-entropy of the sigmoid
 * unit, or categorical cross-entropy of the outputs normalised to sum 1. */
static double sample_loss(const ic_predictor *p, const float *out, const float *y)
{
    const double lo = 1e-7f, hi = 1.0f - 1e-7f;
    if (p->n_out == 1) {
        double pc = out[0] < lo ? lo : out[0] > hi ? hi : out[0], yv = y[0];
        return -(yv * log(pc) + (1.0 - yv) * log(1.0 - pc));
    }
    double sum = 0, l = 0;
    for (int64_t k = 0; k < p->n_out; k++)
        sum += out[k];
    for (int64_t k = 0; k < p->n_out; k++) {
        if (y[k] == 0)
            continue;
        double q = sum > 0 ? out[k] / sum : 0;
        q = q < lo ? lo : q > hi ? hi : q;
        l -= y[k] * log(q);
    }
    return l;
}

static int true_class(const ic_predictor *p, const float *y)
{
    if (p->n_out == 1)
        return y[0] > 0.5f;
    int best = 0;
    for (int64_t k = 1; k < p->n_out; k++)
        if (y[k] > y[best])
            best = (int)k;
    return best;
}

void ic_evaluation_free(ic_evaluation *e)
{
    if (!e)
        return;
    ic__free(e->confusion);
    e->confusion = NULL;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

ic_status ic_predictor_evaluate(ic_predictor *p, ic_dir_iterator *it, int64_t steps,
                                ic_progress_fn progress, void *user, ic_evaluation *out)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_evaluate: out is NULL");
    memset(out, 0, sizeof *out);
    out->roc_auc = NAN;
    if (!p || !it || steps < 0)
        return ic_seterr(IC_ERR_INVALID, "ic_predictor_evaluate: bad argument");
    int K = p->meta.n_classes;
    out->n_classes = K;
    out->steps = steps;
    out->has_auc = p->n_out == 1;
    if (!(out->confusion = ic__calloc((size_t)K * (size_t)K, sizeof *out->confusion)))
        return IC_ERR_NOMEM;
    /* One pass sees each image once; more steps wrap around, so size by steps. */
    int64_t cap = 0;
    float *score = NULL, *label = NULL;
    double loss_sum = 0;
    ic_batch_source src = ic_dir_iterator_source(it);
    ic_status s = IC_OK;
    for (int64_t st = 0; !s && st < steps; st++) {
        const ic_tensor *x, *y;
        if ((s = src.ops->next(src.self, &x, &y)))
            break;
        ic_tensor *pt = NULL;
        if ((s = ic_model_forward(p->model, x, &pt)))
            break;
        int64_t B = ic_tensor_dim(x, 0), ylen = ic_tensor_dim(y, 1);
        if (out->has_auc && out->samples + B > cap) {
            int64_t nc = cap ? 2 * cap : (steps * B > 64 ? steps * B : 64);
            while (nc < out->samples + B)
                nc *= 2;
            float *a = ic__realloc(score, (size_t)nc * sizeof *a);
            if (a)
                score = a;
            float *b = a ? ic__realloc(label, (size_t)nc * sizeof *b) : NULL;
            if (b)
                label = b;
            if (!a || !b) {
                ic_tensor_free(pt);
                s = IC_ERR_NOMEM;
                break;
            }
            cap = nc;
        }
        const float *P = ic_tensor_cdata(pt), *Y = ic_tensor_cdata(y);
        for (int64_t b = 0; b < B; b++) {
            const float *pr = P + b * p->n_out, *yr = Y + b * ylen;
            int t = true_class(p, yr), k = ic_predictor_class(p, pr, NULL);
            out->confusion[t * K + k]++;
            out->correct += t == k;
            loss_sum += sample_loss(p, pr, yr);
            if (out->has_auc) {
                score[out->samples] = pr[0];
                label[out->samples] = (float)t;
            }
            out->samples++;
        }
        ic_tensor_free(pt);
        if (progress)
            progress(st + 1, steps, user);
    }
    if (!s) {
        out->loss = out->samples ? loss_sum / (double)out->samples : 0.0;
        out->accuracy = ratio(out->correct, out->samples);
        /* undefined (NaN, with the reason) for one class only or NaN outputs */
        if (out->has_auc && ic_roc_auc(score, label, out->samples, &out->roc_auc)) {
            out->roc_auc = NAN;
            snprintf(out->auc_why, sizeof out->auc_why, "%s", ic_errmsg());
            ic_clear_error();
        }
    }
    ic__free(score);
    ic__free(label);
    return s;
}

void ic_evaluation_class(const ic_evaluation *e, int k, double *precision, double *recall,
                         int64_t *support)
{
    int K = e->n_classes;
    int64_t tp = e->confusion[k * K + k], pred = 0, sup = 0;
    for (int j = 0; j < K; j++) {
        pred += e->confusion[j * K + k];
        sup += e->confusion[k * K + j];
    }
    *precision = ratio(tp, pred);
    *recall = ratio(tp, sup);
    *support = sup;
}
