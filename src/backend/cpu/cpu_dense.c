/* cpu_dense.c - fully connected layers on oneDNN's inner product: forward with bias
 * and a fused activation (eltwise post-op), backward data, backward weights (+bias).
 *
 * src (n,ic) and dst (n,oc) are "nc". Host weights are Keras (ic,oc) row-major, which
 * over oneDNN's logical (oc,ic) is the "io" layout: strides (1, oc). The primitives
 * choose their weights layout; copies are cached as for convolutions.
 */
#include <stdio.h>
#include <string.h>

#include "cpu_common.h"

typedef struct cpu_dense {
    ic__op hdr;
    ic__dense_desc d;
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md, wei_any;
    dnnl_memory_t m_in, m_out, m_bias;
    ic__cpu_prim fwd, bwd_d, bwd_w;
    ic__cpu_wcache w_fwd, w_bwd_d_own;
    ic__cpu_wcache *w_bwd_d;
    ic__cpu_wout dw;
    float *dbias_tmp;
} cpu_dense;

static ic_status dense_build(cpu_dense *c)
{
    ic__op *op = &c->hdr;
    const ic__dense_desc *d = &c->d;
    if (d->n < 1 || d->ic < 1 || d->oc < 1)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    dnnl_dim_t sdims[2] = {d->n, d->ic}, ddims[2] = {d->n, d->oc};
    dnnl_dim_t wdims[2] = {d->oc, d->ic}, wst[2] = {1, d->oc}, bdims[1] = {d->oc};
    IC__TRY(ic__cpu_md_tag(op, &c->src_md, 2, sdims, dnnl_nc));
    IC__TRY(ic__cpu_md_tag(op, &c->dst_md, 2, ddims, dnnl_nc));
    IC__TRY(ic__cpu_md_tag(op, &c->bias_md, 1, bdims, dnnl_a));
    IC__TRY(ic__cpu_md_strides(op, &c->wei_md, 2, wdims, wst));
    IC__TRY(ic__cpu_md_tag(op, &c->wei_any, 2, wdims, dnnl_format_tag_any));

    dnnl_inner_product_desc_t ipd;
    IC__DNNL(op,
             dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_training, &c->src_md,
                                                  &c->wei_any, d->has_bias ? &c->bias_md : NULL,
                                                  &c->dst_md),
             "inner product forward (descriptor)");
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
    ic_status st = ic__cpu_prim_create(op, &c->fwd, &ipd, po, NULL, "inner product forward");
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

ic_status ic__cpu_dense_create(ic__op **out, const ic__dense_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_dense), IC__CPU_DENSE));
    cpu_dense *c = (cpu_dense *)op;
    c->d = *d;
    snprintf(op->what, sizeof op->what, "dense (%lld,%lld)->(%lld,%lld) bias %d act %d",
             (long long)d->n, (long long)d->ic, (long long)d->n, (long long)d->oc, d->has_bias,
             (int)d->act);
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

ic_status ic__cpu_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias)
{
    cpu_dense *c = (cpu_dense *)op;
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
    return ic__cpu_exec(op, &c->fwd, nargs, args, "inner product forward");
}

static ic_status dense_init_bwd_data(cpu_dense *c)
{
    ic__op *op = &c->hdr;
    dnnl_inner_product_desc_t ipd;
    IC__DNNL(op,
             dnnl_inner_product_backward_data_desc_init(&ipd, &c->src_md, &c->wei_any, &c->dst_md),
             "inner product backward data (descriptor)");
    IC__TRY(
        ic__cpu_prim_create(op, &c->bwd_d, &ipd, NULL, c->fwd.pd, "inner product backward data"));
    const dnnl_memory_desc_t *wmd = ic__cpu_query_md(&c->bwd_d, dnnl_query_weights_md);
    if (dnnl_memory_desc_equal(wmd, ic__cpu_query_md(&c->fwd, dnnl_query_weights_md))) {
        c->w_bwd_d = &c->w_fwd;
    } else {
        IC__TRY(ic__cpu_wcache_init(op, &c->w_bwd_d_own, &c->wei_md, wmd));
        c->w_bwd_d = &c->w_bwd_d_own;
    }
    return IC_OK;
}

ic_status ic__cpu_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version)
{
    cpu_dense *c = (cpu_dense *)op;
    if (!c->bwd_d.prim) {
        ic_status s = dense_init_bwd_data(c);
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
    return ic__cpu_exec(op, &c->bwd_d, 3, args, "inner product backward data");
}

static ic_status dense_init_bwd_weights(cpu_dense *c)
{
    ic__op *op = &c->hdr;
    dnnl_inner_product_desc_t ipd;
    IC__DNNL(op,
             dnnl_inner_product_backward_weights_desc_init(
                 &ipd, &c->src_md, &c->wei_any, c->d.has_bias ? &c->bias_md : NULL, &c->dst_md),
             "inner product backward weights (descriptor)");
    IC__TRY(ic__cpu_prim_create(op, &c->bwd_w, &ipd, NULL, c->fwd.pd,
                                "inner product backward weights"));
    if (c->d.has_bias && !(c->dbias_tmp = ic__malloc((size_t)c->d.oc * sizeof(float))))
        return IC_ERR_NOMEM;
    return ic__cpu_wout_init(op, &c->dw, &c->wei_md,
                             ic__cpu_query_md(&c->bwd_w, dnnl_query_diff_weights_md));
}

ic_status ic__cpu_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst)
{
    cpu_dense *c = (cpu_dense *)op;
    if (!c->bwd_w.prim) {
        ic_status s = dense_init_bwd_weights(c);
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
    IC__TRY(ic__cpu_exec(op, &c->bwd_w, nargs, args, "inner product backward weights"));
    return ic__cpu_wout_finish(op, &c->dw, diff_weights);
}
