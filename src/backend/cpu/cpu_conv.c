/* cpu_conv.c - 2-D convolution on oneDNN: forward with bias and a fused activation
 * (eltwise post-op), backward data, backward weights (+bias); grouped (depthwise); in
 * f32 or bf16 (d->prec). This file only describes the convolution; running it is the
 * weighted primitive's job (cpu_wprim.c).
 *
 * Host layouts: src (n,ih,iw,ic) and dst (n,oh,ow,oc) are oneDNN's nhwc over logical
 * (n,c,h,w). Host weights (kh,kw,ic/g,oc) with oc = group * (oc/g) + m are, over
 * oneDNN's logical (oc,ic,kh,kw) [g = 1] or (g,oc/g,ic/g,kh,kw), the strided layout
 * "hwio" / "hwigo" (described here by explicit strides). The primitives choose their
 * own weights layout (format_tag_any); the forward and backward-data copies are cached
 * by (pointer, weights_version) and shared when both passes want the same layout.
 */
#include <stdio.h>
#include <string.h>

#include "cpu_wprim.h"

typedef struct cpu_conv {
    ic__cpu_wop w; /* first: the header and the weighted primitive */
    ic__conv_desc d;
} cpu_conv;

static void conv_dims(const cpu_conv *c, dnnl_dim_t *wdims, dnnl_dim_t *wstrides, int *wnd)
{
    const ic__conv_desc *d = &c->d;
    int64_t g = d->groups, icg = d->ic / g, ocg = d->oc / g;
    /* host offset of (kh,kw,i,o) with o = gi*ocg + m: ((h*kw + w)*icg + i)*oc + gi*ocg + m */
    if (g == 1) {
        dnnl_dim_t dims[4] = {d->oc, d->ic, d->kh, d->kw};
        dnnl_dim_t st[4] = {1, d->oc, (dnnl_dim_t)d->kw * icg * d->oc, icg * d->oc};
        memcpy(wdims, dims, sizeof dims);
        memcpy(wstrides, st, sizeof st);
        *wnd = 4;
    } else {
        dnnl_dim_t dims[5] = {g, ocg, icg, d->kh, d->kw};
        dnnl_dim_t st[5] = {ocg, 1, d->oc, (dnnl_dim_t)d->kw * icg * d->oc, icg * d->oc};
        memcpy(wdims, dims, sizeof dims);
        memcpy(wstrides, st, sizeof st);
        *wnd = 5;
    }
}

/* The convolution descriptor of one pass over the memory descriptors m (cpu_wprim.h). */
static dnnl_status_t conv_opdesc(const ic__op *op, ic__cpu_pass pass, const ic__cpu_wmds *m,
                                 ic__cpu_opdesc *out)
{
    const ic__conv_desc *d = &((const cpu_conv *)op)->d;
    const dnnl_memory_desc_t *bias = d->has_bias ? &m->bias : NULL;
    dnnl_dims_t strides = {d->sh, d->sw}, pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    switch (pass) {
    case IC__CPU_FWD:
        return dnnl_convolution_forward_desc_init(&out->conv, dnnl_forward_training,
                                                  dnnl_convolution_direct, &m->src, &m->weights,
                                                  bias, &m->dst, strides, pad_l, pad_r);
    case IC__CPU_BWD_DATA:
        return dnnl_convolution_backward_data_desc_init(&out->conv, dnnl_convolution_direct,
                                                        &m->src, &m->weights, &m->dst, strides,
                                                        pad_l, pad_r);
    default:
        return dnnl_convolution_backward_weights_desc_init(&out->conv, dnnl_convolution_direct,
                                                           &m->src, &m->weights, bias, &m->dst,
                                                           strides, pad_l, pad_r);
    }
}

static ic_status conv_build(cpu_conv *c)
{
    ic__op *op = &c->w.hdr;
    const ic__conv_desc *d = &c->d;
    if (d->groups < 1 || d->ic % d->groups || d->oc % d->groups || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->n < 1 || (d->prec != IC__PREC_F32 && d->prec != IC__PREC_BF16))
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    if ((d->ih + d->pt + d->pb - d->kh) / d->sh + 1 != d->oh ||
        (d->iw + d->pl + d->pr - d->kw) / d->sw + 1 != d->ow)
        return ic_seterr(IC_ERR_SHAPE, "cpu backend: output size does not match %s", op->what);

    dnnl_dim_t sdims[4] = {d->n, d->ic, d->ih, d->iw};
    dnnl_dim_t ddims[4] = {d->n, d->oc, d->oh, d->ow};
    dnnl_dim_t bdims[1] = {d->oc};
    dnnl_dim_t wdims[5], wst[5];
    int wnd;
    conv_dims(c, wdims, wst, &wnd);
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md;
    IC__TRY(ic__cpu_md_tag(op, &src_md, 4, sdims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &dst_md, 4, ddims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &bias_md, 1, bdims, dnnl_a));
    IC__TRY(ic__cpu_md_strides(op, &wei_md, wnd, wdims, wst));
    return ic__cpu_wprim_create(op, &c->w.wp, "convolution", d->prec, d->has_bias, d->act, &src_md,
                                &dst_md, &wei_md, &bias_md, conv_opdesc);
}

ic_status ic__cpu_conv_create(ic__op **out, const ic__conv_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_conv), IC__CPU_CONV));
    cpu_conv *c = (cpu_conv *)op;
    c->d = *d;
    snprintf(op->what, sizeof op->what,
             "conv2d (%lld,%lld,%lld,%lld)->(%lld,%lld,%lld,%lld) kernel %dx%d stride %dx%d "
             "pad t%d b%d l%d r%d groups %d bias %d act %d%s",
             (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic, (long long)d->n,
             (long long)d->oh, (long long)d->ow, (long long)d->oc, d->kh, d->kw, d->sh, d->sw,
             d->pt, d->pb, d->pl, d->pr, d->groups, d->has_bias, (int)d->act,
             d->prec == IC__PREC_BF16 ? " bf16" : "");
    ic_status s = conv_build(c);
    if (s != IC_OK) {
        ic__cpu_conv_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

void ic__cpu_conv_free(ic__op *op)
{
    cpu_conv *c = (cpu_conv *)op;
    ic__cpu_wprim_destroy(&c->w.wp);
    ic__free_aligned(op->scratch);
    ic__free(op);
}

ic_status ic__cpu_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias)
{
    cpu_conv *c = (cpu_conv *)op;
    return ic__cpu_wprim_fwd(op, &c->w.wp, dst, src, weights, weights_version, bias);
}

ic_status ic__cpu_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version)
{
    cpu_conv *c = (cpu_conv *)op;
    return ic__cpu_wprim_bwd_data(op, &c->w.wp, diff_src, diff_dst, weights, weights_version);
}

ic_status ic__cpu_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst)
{
    cpu_conv *c = (cpu_conv *)op;
    return ic__cpu_wprim_bwd_weights(op, &c->w.wp, diff_weights, diff_bias, src, diff_dst);
}
