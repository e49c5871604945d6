/* batchnorm.c - BatchNormalization over the last axis (Keras defaults: momentum 0.99,
 * epsilon 1e-3, center and scale on). Weights in Keras order: gamma (scale), beta
 * (center), moving_mean, moving_variance (the last two never trainable; init 0 and 1).
 *
 * Modes of the forward pass:
 *   - inference (predict/evaluate): y = gamma (x - moving_mean) / sqrt(moving_var + eps) + beta.
 *   - training and effectively trainable: normalise with the batch statistics (biased
 *     variance) and update moving = moving*momentum + batch*(1 - momentum). The variance
 *     fed to the moving average is the unbiased one, batch_var * m/(m-1), m = elements per
 *     channel (N*H*W), as tf.keras (TF's fused kernel) does. Keras 2.1.4-2.2.x used
 *     m/(m - (1 + eps)) instead, and 2.1.3-2.2.5 also zero-debiased the average
 *     (assign_moving_average(zero_debias=True)); neither is reproduced here.
 *   - training but frozen (trainable off here or in an enclosing model): inference mode,
 *     as tf.keras >= 2.1 (TF2 behaviour); with the bn_frozen_batch_stats option the old
 *     multi-backend Keras behaviour instead: batch statistics, no moving-average update.
 * The backward pass matches what the forward did (batch statistics or constants). */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "layer_impl.h"

typedef struct bn_layer {
    ic_layer base;
    ic_batchnorm_opts o;
    ic__param *gamma, *beta, *moving_mean, *moving_var;
} bn_layer;

typedef struct bn_state {
    ic__op *op;
    int64_t rows, c;
    float *mean, *var; /* batch statistics of the last batch-stats forward (c each) */
    int global;        /* the last forward used the moving statistics */
} bn_state;

static ic_status bn_build(ic_layer *l, int n_in, const ic__shape *in)
{
    bn_layer *b = (bn_layer *)l;
    char buf[64];
    if (n_in != 1)
        return ic_seterr(IC_ERR_INVALID, "layer '%s' (BatchNormalization) takes 1 input, got %d",
                         l->name, n_in);
    if (in[0].ndim < 1)
        return ic_seterr(IC_ERR_SHAPE, "layer '%s' (BatchNormalization): bad input %s", l->name,
                         ic__shape_fmt(&in[0], buf, sizeof buf));
    int64_t c = in[0].d[in[0].ndim - 1];
    l->out = in[0];
    if (l->n_params == 0) {
        ic_status s;
        if (b->o.scale) {
            if ((s = ic__layer_add_param(l, "gamma", 1, &c, 0, &b->gamma)))
                return s;
            ic__init_const(b->gamma, 1.f);
        }
        if (b->o.center && (s = ic__layer_add_param(l, "beta", 1, &c, 0, &b->beta)))
            return s;
        if ((s = ic__layer_add_param(l, "moving_mean", 1, &c, 1, &b->moving_mean)))
            return s;
        if ((s = ic__layer_add_param(l, "moving_variance", 1, &c, 1, &b->moving_var)))
            return s;
        ic__init_const(b->moving_var, 1.f);
    } else if (b->moving_mean->value.shape[0] != c) {
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (BatchNormalization) was built for %lld channels, got "
                         "input %s",
                         l->name, (long long)b->moving_mean->value.shape[0],
                         ic__shape_fmt(&in[0], buf, sizeof buf));
    }
    return IC_OK;
}

static void bn_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    bn_state *st = state;
    if (!st)
        return;
    be->op_free(st->op);
    ic__free_aligned(st->mean);
    ic__free_aligned(st->var);
    ic__free(st);
}

static ic_status bn_state_create(ic_layer *l, const ic__backend *be, int64_t batch, void **state)
{
    bn_layer *b = (bn_layer *)l;
    bn_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    st->c = l->out.d[l->out.ndim - 1];
    st->rows = batch * ic__shape_numel(&l->out) / st->c;
    st->global = 1;
    st->mean = ic__malloc_aligned((size_t)st->c * sizeof(float));
    st->var = ic__malloc_aligned((size_t)st->c * sizeof(float));
    ic_status s = (!st->mean || !st->var) ? IC_ERR_NOMEM : IC_OK;
    if (!s) {
        ic__bn_desc d = {st->rows, st->c, b->o.epsilon};
        s = be->bn_create(&st->op, &d);
    }
    if (s) {
        bn_state_free(l, be, st);
        return s;
    }
    *state = st;
    return IC_OK;
}

static ic_status bn_forward(ic_layer *l, const ic__fwd_args *a)
{
    bn_layer *b = (bn_layer *)l;
    bn_state *st = a->state;
    const float *gamma = b->gamma ? b->gamma->value.data : NULL;
    const float *beta = b->beta ? b->beta->value.data : NULL;
    const int batch_stats = a->training && (a->trainable || a->bn_frozen_batch_stats);
    const int update = a->training && a->trainable;
    st->global = !batch_stats;
    if (!batch_stats)
        return a->be->bn_fwd_inference(st->op, a->out->data, a->in[0]->data, gamma, beta,
                                       b->moving_mean->value.data, b->moving_var->value.data);
    ic_status s = a->be->bn_fwd_training(st->op, a->out->data, st->mean, st->var, a->in[0]->data,
                                         gamma, beta);
    if (s || !update)
        return s;
    const double mom = b->o.momentum;
    const double m = (double)st->rows;
    const double unbias = m > 1 ? m / (m - 1) : 1.0;
    float *mm = b->moving_mean->value.data, *mv = b->moving_var->value.data;
    for (int64_t c = 0; c < st->c; c++) {
        mm[c] = (float)((double)mm[c] * mom + (double)st->mean[c] * (1 - mom));
        mv[c] = (float)((double)mv[c] * mom + (double)st->var[c] * unbias * (1 - mom));
    }
    b->moving_mean->version = ic__next_version();
    b->moving_var->version = ic__next_version();
    return IC_OK;
}

static ic_status bn_backward(ic_layer *l, const ic__bwd_args *a)
{
    bn_layer *b = (bn_layer *)l;
    bn_state *st = a->state;
    int want_w = a->weight_grads && (b->gamma || b->beta);
    if (!a->diff_in[0] && !want_w)
        return IC_OK;
    /* The backend always writes diff_src: use the scratch when nobody wants it. */
    float *dx = a->diff_in[0] ? a->diff_in[0]->data : a->scratch;
    const float *mean = st->global ? b->moving_mean->value.data : st->mean;
    const float *var = st->global ? b->moving_var->value.data : st->var;
    return a->be->bn_bwd(st->op, dx, a->weight_grads && b->gamma ? b->gamma->grad : NULL,
                         a->weight_grads && b->beta ? b->beta->grad : NULL, a->diff_out->data,
                         a->in[0]->data, mean, var, b->gamma ? b->gamma->value.data : NULL,
                         st->global);
}

/* Keras 2.2.4 BatchNormalization.get_config() (axis -1 always). */
static ic_status bn_get_config(const ic_layer *l, cJSON *c)
{
    const bn_layer *b = (const bn_layer *)l;
    ic_status s = ic__cfg_base(l, c);
    s = ic__cfg_int(s, c, "axis", -1);
    s = ic__cfg_float(s, c, "momentum", b->o.momentum);
    s = ic__cfg_float(s, c, "epsilon", b->o.epsilon);
    s = ic__cfg_bool(s, c, "center", b->o.center);
    s = ic__cfg_bool(s, c, "scale", b->o.scale);
    s = ic__cfg_json(s, c, "beta_initializer", IC__CFG_ZEROS);
    s = ic__cfg_json(s, c, "gamma_initializer", IC__CFG_ONES);
    s = ic__cfg_json(s, c, "moving_mean_initializer", IC__CFG_ZEROS);
    s = ic__cfg_json(s, c, "moving_variance_initializer", IC__CFG_ONES);
    s = ic__cfg_null(s, c, "beta_regularizer");
    s = ic__cfg_null(s, c, "gamma_regularizer");
    s = ic__cfg_null(s, c, "beta_constraint");
    return ic__cfg_null(s, c, "gamma_constraint");
}

static const ic__layer_vtbl bn_vt = {"BatchNormalization", bn_build,    bn_state_create,
                                     bn_state_free,        bn_forward,  bn_backward,
                                     NULL,                 bn_get_config};

ic_batchnorm_opts ic_batchnorm_opts_default(void)
{
    ic_batchnorm_opts o = {0};
    o.momentum = 0.99f;
    o.epsilon = 1e-3f;
    o.center = 1;
    o.scale = 1;
    return o;
}

/* o NULL: Keras defaults. */
ic_status ic_layer_batch_normalization(ic_layer **out, const ic_batchnorm_opts *o)
{
    *out = NULL;
    ic_batchnorm_opts oo = o ? *o : ic_batchnorm_opts_default();
    const char *name = oo.name;
    if (!(oo.momentum >= 0.f && oo.momentum <= 1.f))
        return ic_seterr(IC_ERR_INVALID,
                         "BatchNormalization '%s': momentum must be in [0, 1], got %g",
                         name ? name : "", (double)oo.momentum);
    if (!(oo.epsilon > 0.f) || isinf(oo.epsilon))
        return ic_seterr(IC_ERR_INVALID, "BatchNormalization '%s': epsilon must be > 0, got %g",
                         name ? name : "", (double)oo.epsilon);
    bn_layer *b = ic__calloc(1, sizeof *b);
    if (!b)
        return IC_ERR_NOMEM;
    ic__layer_init(&b->base, &bn_vt, name, "batch_normalization");
    b->o = oo;
    b->o.name = NULL;
    b->o.center = oo.center != 0;
    b->o.scale = oo.scale != 0;
    *out = &b->base;
    return IC_OK;
}

/* Keras BatchNormalization config -> layer (the last axis only). */
ic_status ic__batch_normalization_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    ic_status s;
    if ((s = ic__rd_axis(r)) || (s = ic__rd_float(r, "momentum", o.momentum, &o.momentum)) ||
        (s = ic__rd_float(r, "epsilon", o.epsilon, &o.epsilon)) ||
        (s = ic__rd_bool(r, "center", 1, &o.center)) || (s = ic__rd_bool(r, "scale", 1, &o.scale)))
        return s;
    ic__rd_warn_ignored(r);
    o.name = r->name;
    return ic_layer_batch_normalization(out, &o);
}
