/* cpu_conv.c - 2-D convolution on oneDNN: forward with bias and a fused activation
 * (eltwise post-op), backward data, backward weights (+bias); grouped (depthwise).
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

#include "cpu_common.h"

typedef struct cpu_conv {
    ic__op hdr;
    ic__conv_desc d;
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md, wei_any;
    dnnl_memory_t m_in;   /* (n,ih,iw,ic): src or diff_src */
    dnnl_memory_t m_out;  /* (n,oh,ow,oc): dst or diff_dst */
    dnnl_memory_t m_bias; /* bias or diff_bias */
    ic__cpu_prim fwd, bwd_d, bwd_w;
    ic__cpu_wcache w_fwd, w_bwd_d_own;
    ic__cpu_wcache *w_bwd_d; /* &w_fwd when the layouts agree, else &w_bwd_d_own */
    ic__cpu_wout dw;
    float *dbias_tmp; /* diff_bias when the caller passes NULL */
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

static ic_status conv_build(cpu_conv *c)
{
    ic__op *op = &c->hdr;
    const ic__conv_desc *d = &c->d;
    if (d->groups < 1 || d->ic % d->groups || d->oc % d->groups || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->n < 1)
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
    IC__TRY(ic__cpu_md_tag(op, &c->src_md, 4, sdims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &c->dst_md, 4, ddims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &c->bias_md, 1, bdims, dnnl_a));
    IC__TRY(ic__cpu_md_strides(op, &c->wei_md, wnd, wdims, wst));
    IC__TRY(ic__cpu_md_tag(op, &c->wei_any, wnd, wdims, dnnl_format_tag_any));

    dnnl_dims_t strides = {d->sh, d->sw}, pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    dnnl_convolution_desc_t cd;
    IC__DNNL(op,
             dnnl_convolution_forward_desc_init(
                 &cd, dnnl_forward_training, dnnl_convolution_direct, &c->src_md, &c->wei_any,
                 d->has_bias ? &c->bias_md : NULL, &c->dst_md, strides, pad_l, pad_r),
             "convolution forward (descriptor)");

    dnnl_post_ops_t po = NULL;
    dnnl_alg_kind_t alg;
    float alpha, beta;
    if (ic__cpu_act_alg(d->act, 0, &alg, &alpha, &beta)) {
        IC__DNNL(op, dnnl_post_ops_create(&po), "post-ops");
        dnnl_status_t s = dnnl_post_ops_append_eltwise(po, 1.f, alg, alpha, beta);
        if (s != dnnl_success) {
            dnnl_post_ops_destroy(po);
            return ic__cpu_fail(op, "post-ops (eltwise)", s);
        }
    }
    ic_status st = ic__cpu_prim_create(op, &c->fwd, &cd, po, NULL, "convolution forward");
    if (po)
        dnnl_post_ops_destroy(po);
    IC__TRY(st);
    IC__TRY(ic__cpu_wcache_init(op, &c->w_fwd, &c->wei_md,
                                ic__cpu_query_md(&c->fwd, dnnl_query_weights_md)));
    IC__TRY(ic__cpu_mem_create(op, &c->m_in, &c->src_md));
    IC__TRY(ic__cpu_mem_create(op, &c->m_out, &c->dst_md));
    IC__TRY(ic__cpu_mem_create(op, &c->m_bias, &c->bias_md));
    return IC_OK;
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
             "pad t%d b%d l%d r%d groups %d bias %d act %d",
             (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic, (long long)d->n,
             (long long)d->oh, (long long)d->ow, (long long)d->oc, d->kh, d->kw, d->sh, d->sw,
             d->pt, d->pb, d->pl, d->pr, d->groups, d->has_bias, (int)d->act);
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
    ic__cpu_prim_destroy(&c->fwd);
    ic__cpu_prim_destroy(&c->bwd_d);
    ic__cpu_prim_destroy(&c->bwd_w);
    ic__cpu_wcache_destroy(&c->w_fwd);
    ic__cpu_wcache_destroy(&c->w_bwd_d_own);
    ic__cpu_wout_destroy(&c->dw);
    ic__cpu_mem_destroy(&c->m_in);
    ic__cpu_mem_destroy(&c->m_out);
    ic__cpu_mem_destroy(&c->m_bias);
    ic__free(c->dbias_tmp);
    ic__free_aligned(op->scratch);
    ic__free(op);
}

ic_status ic__cpu_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias)
{
    cpu_conv *c = (cpu_conv *)op;
    dnnl_memory_t w;
    IC__TRY(ic__cpu_wcache_get(op, &c->w_fwd, weights, weights_version, &w));
    IC__TRY(ic__cpu_mem_set(op, c->m_in, src));
    IC__TRY(ic__cpu_mem_set(op, c->m_out, dst));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->m_in},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_DST, c->m_out},
                               {DNNL_ARG_BIAS, c->m_bias}};
    int nargs = 3;
    if (c->d.has_bias) {
        if (!bias)
            return ic_seterr(IC_ERR_INVALID, "cpu backend: bias is NULL for %s", op->what);
        IC__TRY(ic__cpu_mem_set(op, c->m_bias, bias));
        nargs = 4;
    }
    return ic__cpu_exec(op, &c->fwd, nargs, args, "convolution forward");
}

static ic_status conv_init_bwd_data(cpu_conv *c)
{
    ic__op *op = &c->hdr;
    const ic__conv_desc *d = &c->d;
    dnnl_dims_t strides = {d->sh, d->sw}, pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    dnnl_convolution_desc_t cd;
    IC__DNNL(op,
             dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &c->src_md,
                                                      &c->wei_any, &c->dst_md, strides, pad_l,
                                                      pad_r),
             "convolution backward data (descriptor)");
    IC__TRY(ic__cpu_prim_create(op, &c->bwd_d, &cd, NULL, c->fwd.pd, "convolution backward data"));
    const dnnl_memory_desc_t *wmd = ic__cpu_query_md(&c->bwd_d, dnnl_query_weights_md);
    const dnnl_memory_desc_t *fmd = ic__cpu_query_md(&c->fwd, dnnl_query_weights_md);
    if (dnnl_memory_desc_equal(wmd, fmd)) {
        c->w_bwd_d = &c->w_fwd;
    } else {
        IC__TRY(ic__cpu_wcache_init(op, &c->w_bwd_d_own, &c->wei_md, wmd));
        c->w_bwd_d = &c->w_bwd_d_own;
    }
    return IC_OK;
}

ic_status ic__cpu_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version)
{
    cpu_conv *c = (cpu_conv *)op;
    if (!c->bwd_d.prim) {
        ic_status s = conv_init_bwd_data(c);
        if (s != IC_OK) {
            ic__cpu_prim_destroy(&c->bwd_d);
            ic__cpu_wcache_destroy(&c->w_bwd_d_own);
            return s;
        }
    }
    dnnl_memory_t w;
    IC__TRY(ic__cpu_wcache_get(op, c->w_bwd_d, weights, weights_version, &w));
    IC__TRY(ic__cpu_mem_set(op, c->m_in, diff_src));
    IC__TRY(ic__cpu_mem_set(op, c->m_out, diff_dst));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_SRC, c->m_in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, c->m_out}};
    return ic__cpu_exec(op, &c->bwd_d, 3, args, "convolution backward data");
}

static ic_status conv_init_bwd_weights(cpu_conv *c)
{
    ic__op *op = &c->hdr;
    const ic__conv_desc *d = &c->d;
    dnnl_dims_t strides = {d->sh, d->sw}, pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    dnnl_convolution_desc_t cd;
    IC__DNNL(op,
             dnnl_convolution_backward_weights_desc_init(
                 &cd, dnnl_convolution_direct, &c->src_md, &c->wei_any,
                 d->has_bias ? &c->bias_md : NULL, &c->dst_md, strides, pad_l, pad_r),
             "convolution backward weights (descriptor)");
    IC__TRY(
        ic__cpu_prim_create(op, &c->bwd_w, &cd, NULL, c->fwd.pd, "convolution backward weights"));
    if (d->has_bias && !(c->dbias_tmp = ic__malloc((size_t)d->oc * sizeof(float))))
        return IC_ERR_NOMEM;
    return ic__cpu_wout_init(op, &c->dw, &c->wei_md,
                             ic__cpu_query_md(&c->bwd_w, dnnl_query_diff_weights_md));
}

ic_status ic__cpu_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst)
{
    cpu_conv *c = (cpu_conv *)op;
    if (!c->bwd_w.prim) {
        ic_status s = conv_init_bwd_weights(c);
        if (s != IC_OK) {
            ic__cpu_prim_destroy(&c->bwd_w);
            ic__cpu_wout_destroy(&c->dw);
            ic__free(c->dbias_tmp);
            c->dbias_tmp = NULL;
            return s;
        }
    }
    dnnl_memory_t dw;
    IC__TRY(ic__cpu_wout_target(op, &c->dw, diff_weights, &dw));
    IC__TRY(ic__cpu_mem_set(op, c->m_in, src));
    IC__TRY(ic__cpu_mem_set(op, c->m_out, diff_dst));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->m_in},
                               {DNNL_ARG_DIFF_DST, c->m_out},
                               {DNNL_ARG_DIFF_WEIGHTS, dw},
                               {DNNL_ARG_DIFF_BIAS, c->m_bias}};
    int nargs = 3;
    if (c->d.has_bias) {
        IC__TRY(ic__cpu_mem_set(op, c->m_bias, diff_bias ? diff_bias : c->dbias_tmp));
        nargs = 4;
    }
    IC__TRY(ic__cpu_exec(op, &c->bwd_w, nargs, args, "convolution backward weights"));
    return ic__cpu_wout_finish(op, &c->dw, diff_weights);
}
