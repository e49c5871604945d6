/* core.c - Flatten, Dropout, Activation, ReLU and ZeroPadding2D (Keras semantics).
 *
 * Flatten: K.batch_flatten of NHWC data, index (h*W + w)*C + c, i.e. a plain copy.
 * Dropout: inverted dropout in training only: keep with probability 1 - rate, kept units
 *   scaled by 1/(1 - rate). The mask is a hash of (key, step*numel + i), key mixing the
 *   global seed with the layer name, so it is the same for any thread count and depends
 *   only on the seed, the layer's name and the training step.
 * Activation / ReLU: element-wise through be->eltwise_*, softmax over the last axis through
 *   be->softmax_*; backward from the stored output.
 * ZeroPadding2D: zero rows/columns around (H, W). */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

static ic_status expect_one(const ic_layer *l, int n_in)
{
    if (n_in != 1)
        return ic_seterr(IC_ERR_INVALID, "layer '%s' (%s) takes 1 input, got %d", l->name,
                         l->vt->class_name, n_in);
    return IC_OK;
}

static void copy_floats(float *dst, const float *src, int64_t n)
{
    if (dst != src)
        memcpy(dst, src, (size_t)n * sizeof *dst);
}

/* ---------------------------------------------------------------------------------- */
/* Flatten                                                                             */
/* ---------------------------------------------------------------------------------- */

static ic_status flatten_build(ic_layer *l, int n_in, const ic__shape *in)
{
    ic_status s = expect_one(l, n_in);
    if (s)
        return s;
    l->out = (ic__shape){1, {ic__shape_numel(&in[0])}};
    return IC_OK;
}

static ic_status flatten_forward(ic_layer *l, const ic__fwd_args *a)
{
    copy_floats(a->out->data, a->in[0]->data, ic_tensor_numel(a->out));
    return IC_OK;
}

static ic_status flatten_backward(ic_layer *l, const ic__bwd_args *a)
{
    if (a->diff_in[0])
        copy_floats(a->diff_in[0]->data, a->diff_out->data, ic_tensor_numel(a->diff_out));
    return IC_OK;
}

/* Keras 2.2.4 Flatten.get_config(). */
static ic_status flatten_get_config(const ic_layer *l, cJSON *c)
{
    return ic__cfg_str(ic__cfg_base(l, c), c, "data_format", "channels_last");
}

static const ic__layer_vtbl flatten_vt = {"Flatten",       flatten_build,    NULL, NULL,
                                          flatten_forward, flatten_backward, NULL,
                                          flatten_get_config};

ic_status ic_layer_flatten(ic_layer **out, const char *name)
{
    *out = NULL;
    ic_layer *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    ic__layer_init(l, &flatten_vt, name, "flatten");
    *out = l;
    return IC_OK;
}

/* Keras Flatten config -> layer. */
ic_status ic__flatten_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    ic_status s = ic__rd_channels_last(r);
    return s ? s : ic_layer_flatten(out, r->name);
}

/* ---------------------------------------------------------------------------------- */
/* Dropout                                                                             */
/* ---------------------------------------------------------------------------------- */

typedef struct dropout_layer {
    ic_layer base;
    float rate;
} dropout_layer;

typedef struct dropout_state {
    int64_t n;   /* values per batch */
    float *mask; /* n values: 0 or 1/(1-rate), from the last training forward */
    int active;  /* the last forward applied the mask */
} dropout_state;

static ic_status dropout_build(ic_layer *l, int n_in, const ic__shape *in)
{
    ic_status s = expect_one(l, n_in);
    if (s)
        return s;
    l->out = in[0];
    return IC_OK;
}

static void dropout_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    dropout_state *st = state;
    if (!st)
        return;
    ic__free_aligned(st->mask);
    ic__free(st);
}

static ic_status dropout_state_create(ic_layer *l, const ic__backend *be, int64_t batch,
                                      void **state)
{
    dropout_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    st->n = batch * ic__shape_numel(&l->out);
    st->mask = ic__malloc_aligned((size_t)st->n * sizeof *st->mask);
    if (!st->mask) {
        dropout_state_free(l, be, st);
        return IC_ERR_NOMEM;
    }
    *state = st;
    return IC_OK;
}

/* FNV-1a of the layer name: the per-layer part of the dropout key. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static ic_status dropout_forward(ic_layer *l, const ic__fwd_args *a)
{
    dropout_layer *d = (dropout_layer *)l;
    dropout_state *st = a->state;
    const int64_t n = st->n;
    const float *x = a->in[0]->data;
    float *y = a->out->data;
    st->active = a->training && d->rate > 0.f;
    if (!st->active) {
        copy_floats(y, x, n);
        return IC_OK;
    }
    const uint64_t key = ic__mix64(ic__global_seed() ^ ic__mix64(name_hash(l->name)));
    const uint64_t base = a->step * (uint64_t)n;
    const float keep = 1.f - d->rate;
    const float scale = 1.f / keep;
    float *mask = st->mask;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float m = ic__hash_uniform(key, base + (uint64_t)i) < keep ? scale : 0.f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
    return IC_OK;
}

static ic_status dropout_backward(ic_layer *l, const ic__bwd_args *a)
{
    dropout_state *st = a->state;
    if (!a->diff_in[0])
        return IC_OK;
    const int64_t n = st->n;
    const float *dy = a->diff_out->data;
    float *dx = a->diff_in[0]->data;
    if (!st->active) {
        copy_floats(dx, dy, n);
        return IC_OK;
    }
    const float *mask = st->mask;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++)
        dx[i] = dy[i] * mask[i];
    return IC_OK;
}

/* Keras 2.2.4 Dropout.get_config(). */
static ic_status dropout_get_config(const ic_layer *l, cJSON *c)
{
    ic_status s = ic__cfg_base(l, c);
    s = ic__cfg_float(s, c, "rate", ((const dropout_layer *)l)->rate);
    s = ic__cfg_null(s, c, "noise_shape");
    return ic__cfg_null(s, c, "seed");
}

static const ic__layer_vtbl dropout_vt = {
    "Dropout",        dropout_build, dropout_state_create, dropout_state_free, dropout_forward,
    dropout_backward, NULL,          dropout_get_config};

ic_status ic_layer_dropout(ic_layer **out, float rate, const char *name)
{
    *out = NULL;
    if (!(rate >= 0.f && rate < 1.f))
        return ic_seterr(IC_ERR_INVALID, "Dropout '%s': rate must be in [0, 1), got %g",
                         name ? name : "", (double)rate);
    dropout_layer *d = ic__calloc(1, sizeof *d);
    if (!d)
        return IC_ERR_NOMEM;
    ic__layer_init(&d->base, &dropout_vt, name, "dropout");
    d->rate = rate;
    *out = &d->base;
    return IC_OK;
}

/* Keras Dropout config -> layer: rate is required; a noise_shape is not supported. */
ic_status ic__dropout_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    float rate;
    ic_status s;
    if (!ic__rd_field(r, "rate"))
        return ic__rd_bad(r, "rate", "a number");
    if ((s = ic__rd_float(r, "rate", 0.f, &rate)) || (s = ic__rd_null(r, "noise_shape")))
        return s;
    return ic_layer_dropout(out, rate, r->name);
}

/* ---------------------------------------------------------------------------------- */
/* Activation and ReLU                                                                 */
/* ---------------------------------------------------------------------------------- */

typedef struct act_layer {
    ic_layer base;
    ic_activation act;
} act_layer;

typedef struct act_state {
    ic__op *elt;     /* relu, relu6, sigmoid, tanh */
    ic__op *softmax; /* softmax over the last axis */
} act_state;

static ic_status act_build(ic_layer *l, int n_in, const ic__shape *in)
{
    ic_status s = expect_one(l, n_in);
    if (s)
        return s;
    l->out = in[0];
    return IC_OK;
}

static void act_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    act_state *st = state;
    if (!st)
        return;
    be->op_free(st->elt);
    be->op_free(st->softmax);
    ic__free(st);
}

static ic_status act_state_create(ic_layer *l, const ic__backend *be, int64_t batch, void **state)
{
    act_layer *al = (act_layer *)l;
    *state = NULL;
    int64_t n = batch * ic__shape_numel(&l->out);
    ic__act act = ic__act_from_public(al->act);
    if (al->act != IC_ACT_SOFTMAX && act == IC__ACT_NONE)
        return IC_OK; /* linear: a copy */
    act_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    ic_status s;
    if (al->act == IC_ACT_SOFTMAX) {
        int64_t cols = l->out.d[l->out.ndim - 1];
        ic__softmax_desc sd = {n / cols, cols};
        s = be->softmax_create(&st->softmax, &sd);
    } else {
        ic__eltwise_desc e = {n, act};
        s = be->eltwise_create(&st->elt, &e);
    }
    if (s) {
        act_state_free(l, be, st);
        return s;
    }
    *state = st;
    return IC_OK;
}

static ic_status act_forward(ic_layer *l, const ic__fwd_args *a)
{
    act_state *st = a->state;
    if (!st) {
        copy_floats(a->out->data, a->in[0]->data, ic_tensor_numel(a->out));
        return IC_OK;
    }
    if (st->softmax)
        return a->be->softmax_fwd(st->softmax, a->out->data, a->in[0]->data);
    return a->be->eltwise_fwd(st->elt, a->out->data, a->in[0]->data);
}

static ic_status act_backward(ic_layer *l, const ic__bwd_args *a)
{
    act_state *st = a->state;
    if (!a->diff_in[0])
        return IC_OK;
    float *dx = a->diff_in[0]->data;
    if (!st) {
        copy_floats(dx, a->diff_out->data, ic_tensor_numel(a->diff_out));
        return IC_OK;
    }
    if (st->softmax)
        return a->be->softmax_bwd(st->softmax, dx, a->diff_out->data, a->out->data);
    return a->be->eltwise_bwd(st->elt, dx, a->diff_out->data, a->out->data);
}

/* Keras 2.2.4 Activation.get_config(). */
static ic_status activation_get_config(const ic_layer *l, cJSON *c)
{
    return ic__cfg_str(ic__cfg_base(l, c), c, "activation",
                       ic_activation_name(((const act_layer *)l)->act));
}

/* Keras 2.2.4 ReLU.get_config(): max_value 6.0 (ReLU(6.)) or null. */
static ic_status relu_get_config(const ic_layer *l, cJSON *c)
{
    ic_status s = ic__cfg_base(l, c);
    if (((const act_layer *)l)->act == IC_ACT_RELU6)
        s = ic__cfg_float(s, c, "max_value", 6.f);
    else
        s = ic__cfg_null(s, c, "max_value");
    s = ic__cfg_float(s, c, "negative_slope", 0.f);
    return ic__cfg_float(s, c, "threshold", 0.f);
}

static const ic__layer_vtbl activation_vt = {"Activation",   act_build,   act_state_create,
                                             act_state_free, act_forward, act_backward,
                                             NULL,           activation_get_config};
static const ic__layer_vtbl relu_vt = {"ReLU",         act_build,      act_state_create,
                                       act_state_free, act_forward,    act_backward,
                                       NULL,           relu_get_config};

static ic_status make_act(ic_layer **out, const ic__layer_vtbl *vt, ic_activation act,
                          const char *name, const char *prefix)
{
    act_layer *al = ic__calloc(1, sizeof *al);
    if (!al)
        return IC_ERR_NOMEM;
    ic__layer_init(&al->base, vt, name, prefix);
    al->act = act;
    *out = &al->base;
    return IC_OK;
}

ic_status ic_layer_activation(ic_layer **out, ic_activation act, const char *name)
{
    *out = NULL;
    if ((int)act < (int)IC_ACT_LINEAR || (int)act > (int)IC_ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "Activation '%s': unknown activation %d", name ? name : "",
                         (int)act);
    return make_act(out, &activation_vt, act, name, "activation");
}

ic_status ic_layer_relu(ic_layer **out, float max_value, const char *name)
{
    *out = NULL;
    ic_activation act;
    if (max_value == 6.f) {
        act = IC_ACT_RELU6;
    } else if (max_value <= 0.f) {
        act = IC_ACT_RELU;
    } else {
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "ReLU '%s': max_value %g is not supported (only 6, as MobileNetV2's "
                         "ReLU(6.), or <= 0 for no cap)",
                         name ? name : "", (double)max_value);
    }
    return make_act(out, &relu_vt, act, name, "re_lu");
}

/* Keras Activation config -> layer (the activation is required). */
ic_status ic__activation_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    ic_activation act;
    ic_status s = ic__rd_activation(r, 1, &act);
    return s ? s : ic_layer_activation(out, act, r->name);
}

/* Keras ReLU config -> layer: max_value null or 6 (MobileNetV2's ReLU(6.)); a leaky or
 * thresholded ReLU is refused. */
ic_status ic__relu_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    float mv = 0.f, slope, thr;
    const cJSON *v = ic__rd_field(r, "max_value");
    ic_status s;
    if (v && !cJSON_IsNull(v) && (s = ic__rd_float(r, "max_value", 0.f, &mv)))
        return s;
    if ((s = ic__rd_float(r, "negative_slope", 0.f, &slope)) ||
        (s = ic__rd_float(r, "threshold", 0.f, &thr)))
        return s;
    if (slope != 0.f || thr != 0.f)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (ReLU): negative_slope %g / threshold %g are not supported "
                         "(0 only)",
                         r->name, (double)slope, (double)thr);
    if (v && !cJSON_IsNull(v) && mv <= 0.f)
        return ic__rd_bad(r, "max_value", "null or a positive number");
    if ((s = ic_layer_relu(out, mv, r->name)))
        return ic__errctx(s, "layer '%s'", r->name);
    return IC_OK;
}

/* ---------------------------------------------------------------------------------- */
/* ZeroPadding2D                                                                       */
/* ---------------------------------------------------------------------------------- */

typedef struct zpad_layer {
    ic_layer base;
    int top, bottom, left, right;
} zpad_layer;

static ic_status zpad_build(ic_layer *l, int n_in, const ic__shape *in)
{
    zpad_layer *z = (zpad_layer *)l;
    ic_status s = ic__expect_hwc(l, n_in, in);
    if (s)
        return s;
    l->out = (ic__shape){
        3, {in[0].d[0] + z->top + z->bottom, in[0].d[1] + z->left + z->right, in[0].d[2]}};
    return IC_OK;
}

/* src (n, h, w, c), dst (n, h+t+b, w+l+r, c). */
static ic_status zpad_forward(ic_layer *l, const ic__fwd_args *a)
{
    zpad_layer *z = (zpad_layer *)l;
    const int64_t N = a->in[0]->shape[0], H = l->in0.d[0], W = l->in0.d[1], C = l->in0.d[2];
    const int64_t OH = l->out.d[0], OW = l->out.d[1];
    const float *x = a->in[0]->data;
    float *y = a->out->data;
#pragma omp parallel for schedule(static) if (N * OH * OW * C > 32768)
    for (int64_t r = 0; r < N * OH; r++) {
        int64_t n = r / OH, oy = r % OH, iy = oy - z->top;
        float *yr = y + r * OW * C;
        if (iy < 0 || iy >= H) {
            memset(yr, 0, (size_t)(OW * C) * sizeof *yr);
            continue;
        }
        memset(yr, 0, (size_t)(z->left * C) * sizeof *yr);
        memcpy(yr + z->left * C, x + (n * H + iy) * W * C, (size_t)(W * C) * sizeof *yr);
        memset(yr + (z->left + W) * C, 0, (size_t)(z->right * C) * sizeof *yr);
    }
    return IC_OK;
}

static ic_status zpad_backward(ic_layer *l, const ic__bwd_args *a)
{
    zpad_layer *z = (zpad_layer *)l;
    if (!a->diff_in[0])
        return IC_OK;
    const int64_t N = a->in[0]->shape[0], H = l->in0.d[0], W = l->in0.d[1], C = l->in0.d[2];
    const int64_t OH = l->out.d[0], OW = l->out.d[1];
    const float *dy = a->diff_out->data;
    float *dx = a->diff_in[0]->data;
#pragma omp parallel for schedule(static) if (N * H * W * C > 32768)
    for (int64_t r = 0; r < N * H; r++) {
        int64_t n = r / H, iy = r % H;
        memcpy(dx + r * W * C, dy + ((n * OH + iy + z->top) * OW + z->left) * C,
               (size_t)(W * C) * sizeof *dx);
    }
    return IC_OK;
}

/* Keras 2.2.4 ZeroPadding2D.get_config(): padding ((top, bottom), (left, right)). */
static ic_status zpad_get_config(const ic_layer *l, cJSON *c)
{
    const zpad_layer *z = (const zpad_layer *)l;
    ic_status s = ic__cfg_base(l, c);
    if (!s) {
        cJSON *pad = cJSON_CreateArray();
        double tb[2] = {z->top, z->bottom}, lr[2] = {z->left, z->right};
        cJSON *a = cJSON_CreateDoubleArray(tb, 2), *b = cJSON_CreateDoubleArray(lr, 2);
        if (!pad || !a || !b || !cJSON_AddItemToArray(pad, a)) {
            cJSON_Delete(a);
            cJSON_Delete(b);
            cJSON_Delete(pad);
            return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
        }
        if (!cJSON_AddItemToArray(pad, b)) {
            cJSON_Delete(b);
            cJSON_Delete(pad);
            return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
        }
        if (!cJSON_AddItemToObject(c, "padding", pad)) {
            cJSON_Delete(pad);
            return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
        }
    }
    return ic__cfg_str(s, c, "data_format", "channels_last");
}

static const ic__layer_vtbl zpad_vt = {"ZeroPadding2D", zpad_build,    NULL, NULL,
                                       zpad_forward,    zpad_backward, NULL, zpad_get_config};

ic_status ic_layer_zero_padding2d(ic_layer **out, int top, int bottom, int left, int right,
                                  const char *name)
{
    *out = NULL;
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return ic_seterr(IC_ERR_INVALID,
                         "ZeroPadding2D '%s': padding must be >= 0, got ((%d, %d), (%d, %d))",
                         name ? name : "", top, bottom, left, right);
    zpad_layer *z = ic__calloc(1, sizeof *z);
    if (!z)
        return IC_ERR_NOMEM;
    ic__layer_init(&z->base, &zpad_vt, name, "zero_padding2d");
    z->top = top;
    z->bottom = bottom;
    z->left = left;
    z->right = right;
    *out = &z->base;
    return IC_OK;
}

/* Keras ZeroPadding2D config -> layer: padding an int, (h, w) or ((top, bottom), (left,
 * right)); absent means 1 on every side. */
ic_status ic__zero_padding2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    const cJSON *v = ic__rd_field(r, "padding");
    int p[4] = {1, 1, 1, 1};
    if (ic__json_is_int(v)) {
        p[0] = p[1] = p[2] = p[3] = (int)v->valuedouble;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
        for (int i = 0; i < 2; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (ic__json_is_int(e)) {
                p[2 * i] = p[2 * i + 1] = (int)e->valuedouble;
            } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                       ic__json_is_int(cJSON_GetArrayItem(e, 0)) &&
                       ic__json_is_int(cJSON_GetArrayItem(e, 1))) {
                p[2 * i] = (int)cJSON_GetArrayItem(e, 0)->valuedouble;
                p[2 * i + 1] = (int)cJSON_GetArrayItem(e, 1)->valuedouble;
            } else {
                return ic__rd_bad(r, "padding", "an int, (h, w) or ((top, bottom), (left, right))");
            }
        }
    } else if (v) {
        return ic__rd_bad(r, "padding", "an int, (h, w) or ((top, bottom), (left, right))");
    }
    ic_status s = ic__rd_channels_last(r);
    return s ? s : ic_layer_zero_padding2d(out, p[0], p[1], p[2], p[3], r->name);
}
