/* dense.c - Dense (Keras semantics: kernel (in, out) glorot_uniform, zero bias,
 * y = act(x . W + b) with the activation fused; softmax over the units). The input must
 * be 1-D per sample (Keras 2 would apply a Dense to the last axis of a 3-D tensor; this
 * library asks for a Flatten or a global pooling first). */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

typedef struct dense_layer {
    ic_layer base;
    int units;
    ic_activation act;
    int use_bias;
    ic__param *kernel, *bias;
} dense_layer;

typedef struct dense_state {
    ic__op *dense;
    ic__act_ops act; /* activation backward / softmax over the units */
} dense_state;

static ic_status dense_build(ic_layer *l, int n_in, const ic__shape *in)
{
    dense_layer *dl = (dense_layer *)l;
    char b[64];
    if (n_in != 1)
        return ic_seterr(IC_ERR_INVALID, "layer '%s' (Dense) takes 1 input, got %d", l->name, n_in);
    if (in[0].ndim != 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (Dense) expects a 1-D input per sample (None, features), "
                         "got %s; add a Flatten or GlobalAveragePooling2D layer before it",
                         l->name, ic__shape_fmt(&in[0], b, sizeof b));
    int64_t fin = in[0].d[0];
    l->out = (ic__shape){1, {dl->units}};
    if (l->n_params == 0) {
        int64_t kshape[2] = {fin, dl->units};
        ic_status s = ic__layer_add_param(l, "kernel", 2, kshape, 0, &dl->kernel);
        if (s)
            return s;
        ic__init_glorot_uniform(dl->kernel, fin, dl->units);
        int64_t u = dl->units;
        if (dl->use_bias && (s = ic__layer_add_param(l, "bias", 1, &u, 0, &dl->bias)))
            return s;
    } else if (dl->kernel->value.shape[0] != fin) {
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (Dense) was built for %lld input features, "
                         "got %s",
                         l->name, (long long)dl->kernel->value.shape[0],
                         ic__shape_fmt(&in[0], b, sizeof b));
    }
    return IC_OK;
}

static void dense_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    dense_state *st = state;
    if (!st)
        return;
    be->op_free(st->dense);
    ic__act_ops_free(&st->act, be);
    ic__free(st);
}

static ic_status dense_state_create(ic_layer *l, const ic__backend *be, int64_t batch, void **state)
{
    dense_layer *dl = (dense_layer *)l;
    dense_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    ic__act act = ic__act_from_public(dl->act);
    ic__dense_desc d = {.n = batch, .ic = l->in0.d[0], .oc = dl->units, .has_bias = dl->bias != NULL, .act = act};
    ic_status s = be->dense_create(&st->dense, &d);
    if (!s)
        s = ic__act_ops_create(&st->act, be, dl->act, batch, dl->units);
    if (s) {
        dense_state_free(l, be, st);
        return s;
    }
    *state = st;
    return IC_OK;
}

/* src (n, in), dst (n, units). */
static ic_status dense_forward(ic_layer *l, const ic__fwd_args *a)
{
    dense_layer *dl = (dense_layer *)l;
    dense_state *st = a->state;
    ic_status s = a->be->dense_fwd(st->dense, a->out->data, a->in[0]->data, dl->kernel->value.data,
                                   dl->kernel->version, dl->bias ? dl->bias->value.data : NULL);
    return s ? s : ic__act_ops_fwd(&st->act, a->be, a->out->data);
}

static ic_status dense_backward(ic_layer *l, const ic__bwd_args *a)
{
    dense_layer *dl = (dense_layer *)l;
    dense_state *st = a->state;
    const ic__backend *be = a->be;
    const float *dpre;
    ic_status s = ic__act_ops_bwd(&st->act, be, a->diff_out->data, a->out->data, a->scratch, &dpre);
    if (!s && a->weight_grads)
        s = be->dense_bwd_weights(st->dense, dl->kernel->grad, dl->bias ? dl->bias->grad : NULL,
                                  a->in[0]->data, dpre);
    if (!s && a->diff_in[0])
        s = be->dense_bwd_data(st->dense, a->diff_in[0]->data, dpre, dl->kernel->value.data,
                               dl->kernel->version);
    return s;
}

/* Keras 2.2.4 Dense.get_config(). */
static ic_status dense_get_config(const ic_layer *l, cJSON *c)
{
    const dense_layer *dl = (const dense_layer *)l;
    ic_status s = ic__cfg_base(l, c);
    s = ic__cfg_int(s, c, "units", dl->units);
    s = ic__cfg_str(s, c, "activation", ic_activation_name(dl->act));
    s = ic__cfg_bool(s, c, "use_bias", dl->use_bias);
    s = ic__cfg_json(s, c, "kernel_initializer", IC__CFG_GLOROT_UNIFORM);
    s = ic__cfg_json(s, c, "bias_initializer", IC__CFG_ZEROS);
    s = ic__cfg_null(s, c, "kernel_regularizer");
    s = ic__cfg_null(s, c, "bias_regularizer");
    s = ic__cfg_null(s, c, "activity_regularizer");
    s = ic__cfg_null(s, c, "kernel_constraint");
    return ic__cfg_null(s, c, "bias_constraint");
}

static const ic__layer_vtbl dense_vt = {
    "Dense",        dense_build, dense_state_create, dense_state_free, dense_forward,
    dense_backward, NULL,        dense_get_config};

ic_status ic_layer_dense(ic_layer **out, int units, ic_activation act, int use_bias,
                         const char *name)
{
    *out = NULL;
    if (units < 1)
        return ic_seterr(IC_ERR_INVALID, "Dense '%s': units must be >= 1, got %d", name ? name : "",
                         units);
    if ((int)act < (int)IC_ACT_LINEAR || (int)act > (int)IC_ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "Dense '%s': unknown activation %d", name ? name : "",
                         (int)act);
    dense_layer *dl = ic__calloc(1, sizeof *dl);
    if (!dl)
        return IC_ERR_NOMEM;
    ic__layer_init(&dl->base, &dense_vt, name, "dense");
    dl->units = units;
    dl->act = act;
    dl->use_bias = use_bias != 0;
    *out = &dl->base;
    return IC_OK;
}

/* Keras Dense config -> layer (initializers are ignored: the weights come from the file). */
ic_status ic__dense_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    int units = 0, use_bias = 1;
    ic_activation act;
    ic_status s;
    if ((s = ic__rd_int(r, "units", 0, 0, &units)) || (s = ic__rd_activation(r, 0, &act)) ||
        (s = ic__rd_bool(r, "use_bias", 1, &use_bias)))
        return s;
    ic__rd_warn_ignored(r);
    return ic_layer_dense(out, units, act, use_bias, r->name);
}
