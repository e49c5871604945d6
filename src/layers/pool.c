/* pool.c - MaxPooling2D, AveragePooling2D (Keras defaults: 2x2 pool, strides = pool size,
 * 'valid'; TF 'same' padding with the extra row/column at the bottom/right, padded cells
 * never win a max and are not counted in an average) and GlobalAveragePooling2D /
 * GlobalMaxPooling2D (output (C) per sample). All through be->pool_*.
 *
 * Max pooling's backward needs the last *training* forward of the same plan (the
 * backend may keep the argmax positions only then). */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

typedef struct pool_layer {
    ic_layer base;
    ic_pool2d_opts o;
    ic__pool_alg alg;
    int global;
} pool_layer;

typedef struct pool_state {
    ic__op *op;
} pool_state;

/* Fills the backend descriptor from the layer's input shape (pads for non-global). */
static void pool_desc(const pool_layer *p, int64_t batch, ic__pool_desc *d)
{
    const ic__shape *in = &p->base.in0;
    memset(d, 0, sizeof *d);
    d->n = batch;
    d->ih = in->d[0];
    d->iw = in->d[1];
    d->c = in->d[2];
    d->alg = p->alg;
    if (p->global) {
        d->oh = d->ow = 1;
        d->kh = (int)d->ih;
        d->kw = (int)d->iw;
        d->sh = d->sw = 1;
        return;
    }
    d->kh = p->o.pool_h;
    d->kw = p->o.pool_w;
    d->sh = p->o.stride_h;
    d->sw = p->o.stride_w;
    d->oh = ic__conv_out_len(d->ih, d->kh, d->sh, p->o.padding, &d->pt, &d->pb);
    d->ow = ic__conv_out_len(d->iw, d->kw, d->sw, p->o.padding, &d->pl, &d->pr);
}

static ic_status pool_build(ic_layer *l, int n_in, const ic__shape *in)
{
    pool_layer *p = (pool_layer *)l;
    ic_status s = ic__expect_hwc(l, n_in, in);
    if (s)
        return s;
    if (p->global) {
        l->out = (ic__shape){1, {in[0].d[2]}};
        return IC_OK;
    }
    int pt, pb, pl, pr;
    int64_t oh = ic__conv_out_len(in[0].d[0], p->o.pool_h, p->o.stride_h, p->o.padding, &pt, &pb);
    int64_t ow = ic__conv_out_len(in[0].d[1], p->o.pool_w, p->o.stride_w, p->o.padding, &pl, &pr);
    if (oh < 1 || ow < 1) {
        char b[64];
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (%s): a %dx%d pool does not fit input %s with padding "
                         "'valid' (the output would be empty)",
                         l->name, l->vt->class_name, p->o.pool_h, p->o.pool_w,
                         ic__shape_fmt(&in[0], b, sizeof b));
    }
    l->out = (ic__shape){3, {oh, ow, in[0].d[2]}};
    return IC_OK;
}

static void pool_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    pool_state *st = state;
    if (!st)
        return;
    be->op_free(st->op);
    ic__free(st);
}

static ic_status pool_state_create(ic_layer *l, const ic__backend *be, int64_t batch, void **state)
{
    pool_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    ic__pool_desc d;
    pool_desc((pool_layer *)l, batch, &d);
    ic_status s = be->pool_create(&st->op, &d);
    if (s) {
        pool_state_free(l, be, st);
        return s;
    }
    *state = st;
    return IC_OK;
}

/* dst (n, oh, ow, c); global pooling writes (n, c), the same memory as (n, 1, 1, c). */
static ic_status pool_forward(ic_layer *l, const ic__fwd_args *a)
{
    pool_state *st = a->state;
    return a->be->pool_fwd(st->op, a->out->data, a->in[0]->data, a->training);
}

static ic_status pool_backward(ic_layer *l, const ic__bwd_args *a)
{
    pool_state *st = a->state;
    if (!a->diff_in[0])
        return IC_OK;
    return a->be->pool_bwd(st->op, a->diff_in[0]->data, a->diff_out->data, a->in[0]->data);
}

/* Keras 2.2.4 _Pooling2D.get_config() / _GlobalPooling2D.get_config(). */
static ic_status pool_get_config(const ic_layer *l, cJSON *c)
{
    const pool_layer *p = (const pool_layer *)l;
    ic_status s = ic__cfg_base(l, c);
    if (!p->global) {
        s = ic__cfg_pair(s, c, "pool_size", p->o.pool_h, p->o.pool_w);
        s = ic__cfg_str(s, c, "padding", p->o.padding == IC_PAD_SAME ? "same" : "valid");
        s = ic__cfg_pair(s, c, "strides", p->o.stride_h, p->o.stride_w);
    }
    return ic__cfg_str(s, c, "data_format", "channels_last");
}

#define POOL_VT(var, cls)                                                                  \
    static const ic__layer_vtbl var = {                                                    \
        cls,           pool_build, pool_state_create, pool_state_free, pool_forward,       \
        pool_backward, NULL,       pool_get_config}
POOL_VT(maxpool_vt, "MaxPooling2D");
POOL_VT(avgpool_vt, "AveragePooling2D");
POOL_VT(gap_vt, "GlobalAveragePooling2D");
POOL_VT(gmp_vt, "GlobalMaxPooling2D");

ic_pool2d_opts ic_pool2d_opts_default(void)
{
    ic_pool2d_opts o = {0};
    o.pool_h = o.pool_w = 2;
    o.stride_h = o.stride_w = 0; /* 0 = the pool size (Keras strides=None) */
    o.padding = IC_PAD_VALID;
    return o;
}

static ic_status make_pool(ic_layer **out, const ic_pool2d_opts *o, const ic__layer_vtbl *vt,
                           const char *prefix, ic__pool_alg alg, int global, const char *name)
{
    *out = NULL;
    ic_pool2d_opts oo = ic_pool2d_opts_default();
    if (o) {
        oo = *o;
        if (oo.stride_h == 0)
            oo.stride_h = oo.pool_h;
        if (oo.stride_w == 0)
            oo.stride_w = oo.pool_w;
        name = o->name;
        if (oo.pool_h < 1 || oo.pool_w < 1 || oo.stride_h < 1 || oo.stride_w < 1)
            return ic_seterr(IC_ERR_INVALID,
                             "%s '%s': pool size and strides must be >= 1 (got pool %dx%d, "
                             "strides %dx%d)",
                             vt->class_name, name ? name : "", o->pool_h, o->pool_w, o->stride_h,
                             o->stride_w);
        if (oo.padding != IC_PAD_VALID && oo.padding != IC_PAD_SAME)
            return ic_seterr(IC_ERR_INVALID, "%s '%s': unknown padding %d", vt->class_name,
                             name ? name : "", (int)o->padding);
    } else {
        oo.stride_h = oo.pool_h;
        oo.stride_w = oo.pool_w;
    }
    pool_layer *p = ic__calloc(1, sizeof *p);
    if (!p)
        return IC_ERR_NOMEM;
    ic__layer_init(&p->base, vt, name, prefix);
    p->o = oo;
    p->o.name = NULL;
    p->alg = alg;
    p->global = global;
    *out = &p->base;
    return IC_OK;
}

/* o NULL: Keras defaults. Strides 0 mean "= pool size" (Keras strides=None). */
ic_status ic_layer_max_pooling2d(ic_layer **out, const ic_pool2d_opts *o)
{
    return make_pool(out, o, &maxpool_vt, "max_pooling2d", IC__POOL_MAX, 0, NULL);
}

ic_status ic_layer_average_pooling2d(ic_layer **out, const ic_pool2d_opts *o)
{
    return make_pool(out, o, &avgpool_vt, "average_pooling2d", IC__POOL_AVG, 0, NULL);
}

ic_status ic_layer_global_average_pooling2d(ic_layer **out, const char *name)
{
    return make_pool(out, NULL, &gap_vt, "global_average_pooling2d", IC__POOL_AVG, 1, name);
}

ic_status ic_layer_global_max_pooling2d(ic_layer **out, const char *name)
{
    return make_pool(out, NULL, &gmp_vt, "global_max_pooling2d", IC__POOL_MAX, 1, name);
}

/* Keras _Pooling2D config -> layer: strides null or absent mean the pool size. */
static ic_status pool_from_config(const ic__cfg_rd *r, int avg, ic_layer **out)
{
    ic_pool2d_opts o = ic_pool2d_opts_default();
    ic_status s;
    if ((s = ic__rd_pair(r, "pool_size", 1, 2, &o.pool_h, &o.pool_w)))
        return s;
    const cJSON *st = ic__rd_field(r, "strides");
    if (st && !cJSON_IsNull(st) &&
        (s = ic__rd_pair(r, "strides", 0, 0, &o.stride_h, &o.stride_w)))
        return s;
    if ((s = ic__rd_padding(r, &o.padding)) || (s = ic__rd_channels_last(r)))
        return s;
    o.name = r->name;
    return avg ? ic_layer_average_pooling2d(out, &o) : ic_layer_max_pooling2d(out, &o);
}

/* Keras _GlobalPooling2D config -> layer (keepdims is not supported). */
static ic_status global_pool_from_config(const ic__cfg_rd *r, int avg, ic_layer **out)
{
    ic_status s = ic__rd_channels_last(r);
    int keep;
    if (!s)
        s = ic__rd_bool(r, "keepdims", 0, &keep);
    if (!s && keep)
        s = ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): keepdims is not supported", r->name,
                      r->cls);
    if (s)
        return s;
    return avg ? ic_layer_global_average_pooling2d(out, r->name)
               : ic_layer_global_max_pooling2d(out, r->name);
}

ic_status ic__max_pooling2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return pool_from_config(r, 0, out);
}

ic_status ic__average_pooling2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return pool_from_config(r, 1, out);
}

ic_status ic__global_average_pooling2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return global_pool_from_config(r, 1, out);
}

ic_status ic__global_max_pooling2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return global_pool_from_config(r, 0, out);
}
