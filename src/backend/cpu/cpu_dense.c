/* cpu_dense.c - fully connected layers on oneDNN's inner product: forward with bias
 * and a fused activation (eltwise post-op), backward data, backward weights (+bias); in
 * f32 or bf16 (d->prec). This file only describes the inner product; running it is the
 * weighted primitive's job (cpu_wprim.c).
 *
 * src (n,ic) and dst (n,oc) are "nc". Host weights are Keras (ic,oc) row-major, which
 * over oneDNN's logical (oc,ic) is the "io" layout: strides (1, oc). The primitives
 * choose their weights layout; copies are cached as for convolutions.
 */
#include <stdio.h>
#include <string.h>

#include "cpu_wprim.h"

typedef struct cpu_dense {
    ic__cpu_wop w; /* first: the header and the weighted primitive */
    ic__dense_desc d;
} cpu_dense;

/* The inner product descriptor of one pass over the memory descriptors m (cpu_wprim.h). */
static dnnl_status_t dense_opdesc(const ic__op *op, ic__cpu_pass pass, const ic__cpu_wmds *m,
                                  ic__cpu_opdesc *out)
{
    const dnnl_memory_desc_t *bias = ((const cpu_dense *)op)->d.has_bias ? &m->bias : NULL;
    switch (pass) {
    case IC__CPU_FWD:
        return dnnl_inner_product_forward_desc_init(&out->ip, dnnl_forward_training, &m->src,
                                                    &m->weights, bias, &m->dst);
    case IC__CPU_BWD_DATA:
        return dnnl_inner_product_backward_data_desc_init(&out->ip, &m->src, &m->weights, &m->dst);
    default:
        return dnnl_inner_product_backward_weights_desc_init(&out->ip, &m->src, &m->weights, bias,
                                                             &m->dst);
    }
}

static ic_status dense_build(cpu_dense *c)
{
    ic__op *op = &c->w.hdr;
    const ic__dense_desc *d = &c->d;
    if (d->n < 1 || d->ic < 1 || d->oc < 1 || (d->prec != IC__PREC_F32 && d->prec != IC__PREC_BF16))
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    dnnl_dim_t sdims[2] = {d->n, d->ic}, ddims[2] = {d->n, d->oc};
    dnnl_dim_t wdims[2] = {d->oc, d->ic}, wst[2] = {1, d->oc}, bdims[1] = {d->oc};
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md;
    IC__TRY(ic__cpu_md_tag(op, &src_md, 2, sdims, dnnl_nc));
    IC__TRY(ic__cpu_md_tag(op, &dst_md, 2, ddims, dnnl_nc));
    IC__TRY(ic__cpu_md_tag(op, &bias_md, 1, bdims, dnnl_a));
    IC__TRY(ic__cpu_md_strides(op, &wei_md, 2, wdims, wst));
    return ic__cpu_wprim_create(op, &c->w.wp, "inner product", d->prec, d->has_bias, d->act,
                                &src_md, &dst_md, &wei_md, &bias_md, dense_opdesc, NULL);
}

ic_status ic__cpu_dense_create(ic__op **out, const ic__dense_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_dense), IC__CPU_DENSE));
    cpu_dense *c = (cpu_dense *)op;
    c->d = *d;
    snprintf(op->what, sizeof op->what, "dense (%lld,%lld)->(%lld,%lld) bias %d act %d%s",
             (long long)d->n, (long long)d->ic, (long long)d->n, (long long)d->oc, d->has_bias,
             (int)d->act, d->prec == IC__PREC_BF16 ? " bf16" : "");
    ic_status s = dense_build(c);
    if (s != IC_OK) {
        ic__cpu_dense_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

void ic__cpu_dense_free(ic__op *op)
{
    cpu_dense *c = (cpu_dense *)op;
    ic__cpu_wprim_destroy(&c->w.wp);
    ic__free_aligned(op->scratch);
    ic__free(op);
}

ic_status ic__cpu_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias)
{
    cpu_dense *c = (cpu_dense *)op;
    return ic__cpu_wprim_fwd(op, &c->w.wp, dst, src, weights, weights_version, bias);
}

ic_status ic__cpu_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version)
{
    cpu_dense *c = (cpu_dense *)op;
    return ic__cpu_wprim_bwd_data(op, &c->w.wp, diff_src, diff_dst, weights, weights_version);
}

ic_status ic__cpu_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst)
{
    cpu_dense *c = (cpu_dense *)op;
    return ic__cpu_wprim_bwd_weights(op, &c->w.wp, diff_weights, diff_bias, src, diff_dst);
}
