/* cpu_pool.c - max and average (exclude padding) pooling on oneDNN, src/dst nhwc.
 *
 * Max pooling: the training forward writes a workspace (the argmax positions) kept in
 * the op; the backward pass reads it, so it needs the last training forward of the
 * same op. An inference forward (created lazily) leaves the workspace alone.
 * Average pooling needs no workspace: one forward primitive serves both.
 */
#include <stdio.h>

#include "cpu_common.h"

typedef struct cpu_pool {
    ic__op hdr;
    ic__pool_desc d;
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_memory_t m_in, m_out, m_ws;
    void *ws;    /* workspace buffer (max pooling) */
    int have_ws; /* a training forward has run */
    ic__cpu_prim fwd_train, fwd_infer, bwd;
} cpu_pool;

static dnnl_alg_kind_t pool_alg(const ic__pool_desc *d)
{
    return d->alg == IC__POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
}

static ic_status pool_fwd_prim(cpu_pool *p, ic__cpu_prim *prim, dnnl_prop_kind_t prop)
{
    const ic__pool_desc *d = &p->d;
    dnnl_dims_t strides = {d->sh, d->sw}, kernel = {d->kh, d->kw};
    dnnl_dims_t pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    dnnl_pooling_desc_t pd;
    IC__DNNL(&p->hdr,
             dnnl_pooling_forward_desc_init(&pd, prop, pool_alg(d), &p->src_md, &p->dst_md, strides,
                                            kernel, pad_l, pad_r),
             "pooling forward (descriptor)");
    return ic__cpu_prim_create(&p->hdr, prim, &pd, NULL, NULL, "pooling forward");
}

static ic_status pool_build(cpu_pool *p)
{
    ic__op *op = &p->hdr;
    const ic__pool_desc *d = &p->d;
    if (d->kh < 1 || d->kw < 1 || d->sh < 1 || d->sw < 1 || d->n < 1 || d->c < 1 ||
        (d->alg != IC__POOL_MAX && d->alg != IC__POOL_AVG))
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    if ((d->ih + d->pt + d->pb - d->kh) / d->sh + 1 != d->oh ||
        (d->iw + d->pl + d->pr - d->kw) / d->sw + 1 != d->ow)
        return ic_seterr(IC_ERR_SHAPE, "cpu backend: output size does not match %s", op->what);
    dnnl_dim_t sdims[4] = {d->n, d->c, d->ih, d->iw};
    dnnl_dim_t ddims[4] = {d->n, d->c, d->oh, d->ow};
    IC__TRY(ic__cpu_md_tag(op, &p->src_md, 4, sdims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &p->dst_md, 4, ddims, dnnl_nhwc));
    IC__TRY(ic__cpu_mem_create(op, &p->m_in, &p->src_md));
    IC__TRY(ic__cpu_mem_create(op, &p->m_out, &p->dst_md));
    IC__TRY(pool_fwd_prim(p, &p->fwd_train, dnnl_forward_training));
    const dnnl_memory_desc_t *wmd = ic__cpu_query_md(&p->fwd_train, dnnl_query_workspace_md);
    size_t ws_size = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (ws_size > 0) {
        p->ws = ic__malloc_aligned(ws_size);
        if (!p->ws)
            return IC_ERR_NOMEM;
        IC__TRY(ic__cpu_mem_create(op, &p->m_ws, wmd));
        IC__TRY(ic__cpu_mem_set(op, p->m_ws, p->ws));
    }
    return IC_OK;
}

ic_status ic__cpu_pool_create(ic__op **out, const ic__pool_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_pool), IC__CPU_POOL));
    cpu_pool *p = (cpu_pool *)op;
    p->d = *d;
    snprintf(op->what, sizeof op->what,
             "%s pooling (%lld,%lld,%lld,%lld)->(%lld,%lld,%lld,%lld) kernel %dx%d stride %dx%d "
             "pad t%d b%d l%d r%d",
             d->alg == IC__POOL_MAX ? "max" : "avg", (long long)d->n, (long long)d->ih,
             (long long)d->iw, (long long)d->c, (long long)d->n, (long long)d->oh, (long long)d->ow,
             (long long)d->c, d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr);
    ic_status s = pool_build(p);
    if (s != IC_OK) {
        ic__cpu_pool_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

void ic__cpu_pool_free(ic__op *op)
{
    cpu_pool *p = (cpu_pool *)op;
    ic__cpu_prim_destroy(&p->fwd_train);
    ic__cpu_prim_destroy(&p->fwd_infer);
    ic__cpu_prim_destroy(&p->bwd);
    ic__cpu_mem_destroy(&p->m_in);
    ic__cpu_mem_destroy(&p->m_out);
    ic__cpu_mem_destroy(&p->m_ws);
    ic__free_aligned(p->ws);
    ic__free_aligned(op->scratch);
    ic__free(op);
}

ic_status ic__cpu_pool_fwd(ic__op *op, float *dst, const float *src, int training)
{
    cpu_pool *p = (cpu_pool *)op;
    ic__cpu_prim *prim = &p->fwd_train;
    if (!training && p->m_ws) { /* keep the workspace of the last training forward */
        if (!p->fwd_infer.prim) {
            ic_status s = pool_fwd_prim(p, &p->fwd_infer, dnnl_forward_inference);
            if (s != IC_OK) {
                ic__cpu_prim_destroy(&p->fwd_infer);
                return s;
            }
        }
        prim = &p->fwd_infer;
    }
    IC__TRY(ic__cpu_mem_set(op, p->m_in, src));
    IC__TRY(ic__cpu_mem_set(op, p->m_out, dst));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, p->m_in}, {DNNL_ARG_DST, p->m_out}, {DNNL_ARG_WORKSPACE, p->m_ws}};
    int nargs = prim == &p->fwd_train && p->m_ws ? 3 : 2;
    IC__TRY(ic__cpu_exec(op, prim, nargs, args, "pooling forward"));
    if (prim == &p->fwd_train)
        p->have_ws = 1;
    return IC_OK;
}

ic_status ic__cpu_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *src)
{
    cpu_pool *p = (cpu_pool *)op;
    const ic__pool_desc *d = &p->d;
    if (p->m_ws && !p->have_ws)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: %s: backward before any training forward",
                         op->what);
    if (!p->bwd.prim) {
        dnnl_dims_t strides = {d->sh, d->sw}, kernel = {d->kh, d->kw};
        dnnl_dims_t pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
        dnnl_pooling_desc_t pd;
        IC__DNNL(op,
                 dnnl_pooling_backward_desc_init(&pd, pool_alg(d), &p->src_md, &p->dst_md, strides,
                                                 kernel, pad_l, pad_r),
                 "pooling backward (descriptor)");
        ic_status s =
            ic__cpu_prim_create(op, &p->bwd, &pd, NULL, p->fwd_train.pd, "pooling backward");
        if (s != IC_OK) {
            ic__cpu_prim_destroy(&p->bwd);
            return s;
        }
    }
    IC__TRY(ic__cpu_mem_set(op, p->m_in, diff_src));
    IC__TRY(ic__cpu_mem_set(op, p->m_out, diff_dst));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_SRC, p->m_in}, {DNNL_ARG_DIFF_DST, p->m_out}, {DNNL_ARG_WORKSPACE, p->m_ws}};
    return ic__cpu_exec(op, &p->bwd, p->m_ws ? 3 : 2, args, "pooling backward");
}
