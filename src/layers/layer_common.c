/* layer_common.c - the parts every layer shares: names, params, initialisers, shapes. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "layer_impl.h"

/* ---- Keras automatic names: one counter per prefix, per process (K.get_uid). ---- */
#define MAX_PREFIXES 128
static struct {
    char prefix[48];
    int count;
} g_uids[MAX_PREFIXES];
static int g_nuids;
static pthread_mutex_t g_uid_lock = PTHREAD_MUTEX_INITIALIZER;

int ic__next_uid(const char *prefix)
{
    pthread_mutex_lock(&g_uid_lock);
    int i;
    for (i = 0; i < g_nuids; i++)
        if (!strcmp(g_uids[i].prefix, prefix))
            break;
    if (i == g_nuids && g_nuids < MAX_PREFIXES) {
        snprintf(g_uids[i].prefix, sizeof g_uids[i].prefix, "%s", prefix);
        g_uids[i].count = 0;
        g_nuids++;
    }
    int n = i < MAX_PREFIXES ? ++g_uids[i].count : 1;
    pthread_mutex_unlock(&g_uid_lock);
    return n;
}

void ic_reset_uids(void)
{
    pthread_mutex_lock(&g_uid_lock);
    g_nuids = 0;
    pthread_mutex_unlock(&g_uid_lock);
}

void ic__layer_init(ic_layer *l, const ic__layer_vtbl *vt, const char *name,
                    const char *auto_prefix)
{
    memset(l, 0, sizeof *l);
    l->vt = vt;
    l->trainable = 1;
    if (name && *name)
        snprintf(l->name, sizeof l->name, "%s", name);
    else
        snprintf(l->name, sizeof l->name, "%s_%d", auto_prefix, ic__next_uid(auto_prefix));
}

/* ---- Limit on parameters (hostile model configs: Dense(units=2^40), Conv2D(filters=1e9)) ---- */

/* Largest number of float parameters in one layer (2^31 = 8 GiB). */
#define IC_MAX_PARAMS ((int64_t)1 << 31)

/* IC_MAX_PARAMS floats per layer unless IMGCLASS_MAX_PARAMS holds a positive integer (read
 * once; the store is idempotent, so racing threads agree). docs/security.md. */
static int64_t max_params(void)
{
    static _Atomic int64_t cache;
    int64_t v = atomic_load_explicit(&cache, memory_order_relaxed);
    if (v > 0)
        return v;
    v = IC_MAX_PARAMS;
    const char *e = getenv("IMGCLASS_MAX_PARAMS");
    if (e && *e) {
        char *end;
        errno = 0;
        long long x = strtoll(e, &end, 10);
        if (!*end && !errno && x > 0)
            v = (int64_t)x;
    }
    atomic_store_explicit(&cache, v, memory_order_relaxed);
    return v;
}

ic_status ic__layer_add_param(ic_layer *l, const char *name, int ndim, const int64_t *shape,
                              int always_frozen, ic__param **out)
{
    if (l->n_params >= IC__MAX_LAYER_PARAMS)
        return ic_seterr(IC_ERR_INTERNAL, "layer '%s': too many weights", l->name);
    if (ndim < 0 || ndim > IC_MAX_DIMS)
        return ic_seterr(IC_ERR_INTERNAL, "layer '%s': weight '%s' of rank %d", l->name, name,
                         ndim);
    /* Counted without overflow, before anything is allocated: this weight plus the layer's
     * others must stay within the limit. */
    int64_t limit = max_params(), have = 0, n = 1;
    for (int i = 0; i < l->n_params; i++)
        have += ic_tensor_numel(&l->params[i]->value);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ic_seterr(IC_ERR_SHAPE, "layer '%s': weight '%s' has a negative dimension",
                             l->name, name);
        if (shape[i] > 0 && n > (limit - have) / shape[i]) {
            char dims[160];
            int k = 0;
            for (int j = 0; j < ndim && k < (int)sizeof dims - 24; j++)
                k += snprintf(dims + k, sizeof dims - (size_t)k, "%s%lld", j ? ", " : "",
                              (long long)shape[j]);
            return ic_seterr(IC_ERR_UNSUPPORTED,
                             "layer '%s': weight '%s' of shape (%s) is too large: the layer "
                             "would have more than %lld parameters (set IMGCLASS_MAX_PARAMS to "
                             "raise the limit)",
                             l->name, name, dims, (long long)limit);
        }
        n *= shape[i];
    }
    ic__param *p = ic__calloc(1, sizeof *p);
    if (!p)
        return IC_ERR_NOMEM;
    float *d = ic__malloc_aligned((size_t)n * sizeof(float));
    if (!d) {
        ic__free(p);
        return IC_ERR_NOMEM;
    }
    memset(d, 0, (size_t)n * sizeof(float));
    snprintf(p->name, sizeof p->name, "%s", name);
    ic__tensor_init(&p->value, d, ndim, shape);
    p->always_frozen = always_frozen;
    p->version = ic__next_version();
    l->params[l->n_params++] = p;
    if (out)
        *out = p;
    return IC_OK;
}

void ic__init_glorot_uniform(ic__param *p, int64_t fan_in, int64_t fan_out)
{
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    ic__rng *r = ic__init_rng();
    int64_t n = ic_tensor_numel(&p->value);
    for (int64_t i = 0; i < n; i++)
        p->value.data[i] = (float)((2.0 * ic__rng_uniform(r) - 1.0) * limit);
    p->version = ic__next_version();
}

void ic__init_const(ic__param *p, float v)
{
    ic_tensor_fill(&p->value, v);
    p->version = ic__next_version();
}

int64_t ic__conv_out_len(int64_t in, int k, int stride, ic_padding pad, int *before, int *after)
{
    int64_t out;
    if (pad == IC_PAD_SAME) {
        out = (in + stride - 1) / stride;
        int64_t total = (out - 1) * stride + k - in;
        if (total < 0)
            total = 0;
        *before = (int)(total / 2);
        *after = (int)(total - total / 2);
    } else {
        out = in >= k ? (in - k) / stride + 1 : 0;
        *before = *after = 0;
    }
    return out;
}

ic__act ic__act_from_public(ic_activation a)
{
    switch (a) {
    case IC_ACT_RELU: return IC__ACT_RELU;
    case IC_ACT_RELU6: return IC__ACT_RELU6;
    case IC_ACT_SIGMOID: return IC__ACT_SIGMOID;
    case IC_ACT_TANH: return IC__ACT_TANH;
    default: return IC__ACT_NONE;
    }
}

static const struct {
    ic_activation a;
    const char *name;
} g_acts[] = {{IC_ACT_LINEAR, "linear"}, {IC_ACT_RELU, "relu"},     {IC_ACT_RELU6, "relu6"},
              {IC_ACT_SIGMOID, "sigmoid"}, {IC_ACT_SOFTMAX, "softmax"}, {IC_ACT_TANH, "tanh"}};

ic_status ic_activation_parse(const char *name, ic_activation *out)
{
    for (size_t i = 0; i < sizeof g_acts / sizeof g_acts[0]; i++)
        if (!strcmp(name, g_acts[i].name)) {
            *out = g_acts[i].a;
            return IC_OK;
        }
    return ic_seterr(IC_ERR_INVALID,
                     "unknown activation '%s' (expected linear, relu, relu6, sigmoid, softmax, tanh)",
                     name);
}

const char *ic_activation_name(ic_activation a)
{
    for (size_t i = 0; i < sizeof g_acts / sizeof g_acts[0]; i++)
        if (g_acts[i].a == a)
            return g_acts[i].name;
    return "?";
}

ic_status ic__act_ops_create(ic__act_ops *o, const ic__backend *be, ic_activation act,
                             int64_t rows, int64_t cols)
{
    o->eltwise = o->softmax = NULL;
    ic__act a = ic__act_from_public(act);
    if (a != IC__ACT_NONE) {
        ic__eltwise_desc e = {rows * cols, a};
        return be->eltwise_create(&o->eltwise, &e);
    }
    if (act == IC_ACT_SOFTMAX) {
        ic__softmax_desc sd = {rows, cols};
        return be->softmax_create(&o->softmax, &sd);
    }
    return IC_OK;
}

void ic__act_ops_free(ic__act_ops *o, const ic__backend *be)
{
    be->op_free(o->eltwise);
    be->op_free(o->softmax);
    o->eltwise = o->softmax = NULL;
}

ic_status ic__act_ops_fwd(const ic__act_ops *o, const ic__backend *be, float *dst)
{
    return o->softmax ? be->softmax_fwd(o->softmax, dst, dst) : IC_OK;
}

ic_status ic__act_ops_bwd(const ic__act_ops *o, const ic__backend *be, const float *diff_out,
                          const float *out, float *scratch, const float **dpre)
{
    *dpre = diff_out;
    if (o->eltwise) {
        *dpre = scratch;
        return be->eltwise_bwd(o->eltwise, scratch, diff_out, out);
    }
    if (o->softmax) {
        *dpre = scratch;
        return be->softmax_bwd(o->softmax, scratch, diff_out, out);
    }
    return IC_OK;
}

int ic__shape_eq(const ic__shape *a, const ic__shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *ic__shape_fmt(const ic__shape *s, char *buf, size_t size)
{
    return ic__shape_str(buf, size, s->ndim, s->d, 1);
}

int64_t ic__shape_numel(const ic__shape *s) { return ic__numel(s->ndim, s->d); }

ic_status ic__expect_hwc(const ic_layer *l, int n_in, const ic__shape *in)
{
    char b[64];
    if (n_in != 1)
        return ic_seterr(IC_ERR_INVALID, "layer '%s' (%s) takes 1 input, got %d", l->name,
                         l->vt->class_name, n_in);
    if (in[0].ndim != 3)
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (%s) expects an input of shape (None, H, W, C), got %s",
                         l->name, l->vt->class_name, ic__shape_fmt(&in[0], b, sizeof b));
    return IC_OK;
}

int ic__layer_effective_trainable(const ic_layer *l)
{
    if (!l->trainable)
        return 0;
    return l->owner ? ic__model_effective_trainable(l->owner) : 1;
}

void ic__layer_destroy(ic_layer *l)
{
    if (!l)
        return;
    if (l->vt->destroy)
        l->vt->destroy(l);
    for (int i = 0; i < l->n_params; i++) {
        ic__free_aligned(l->params[i]->value.data);
        ic__free_aligned(l->params[i]->grad);
        ic__free(l->params[i]);
    }
    ic__free(l);
}

void ic_layer_free(ic_layer *l)
{
    if (l && !l->owner)
        ic__layer_destroy(l);
}

const char *ic_layer_name(const ic_layer *l) { return l->name; }
const char *ic_layer_class_name(const ic_layer *l) { return l->vt->class_name; }
int ic_layer_trainable(const ic_layer *l) { return l->trainable; }
void ic_layer_set_trainable(ic_layer *l, int trainable)
{
    l->trainable = trainable != 0;
    if (l->inner)
        ic_model_set_trainable(l->inner, trainable);
}

int ic_layer_num_weights(const ic_layer *l)
{
    return l->inner ? ic_model_num_weights(l->inner) : l->n_params;
}

int64_t ic_layer_count_params(const ic_layer *l)
{
    if (l->inner)
        return ic_model_count_params(l->inner);
    int64_t n = 0;
    for (int i = 0; i < l->n_params; i++)
        n += ic_tensor_numel(&l->params[i]->value);
    return n;
}
