/* cpu_wprim.c - the weighted primitive shared by convolution and inner product
 * (cpu_wprim.h): memory descriptors per pass and precision, lazy creation of the
 * backward passes, weights caches, gradient reorders, bf16 conversions of activations,
 * execution.
 *
 * bf16 activations. The host tensors are f32, so in BF16 every pass converts what it
 * reads (src, diff_dst) into an op-owned bf16 buffer with a reorder; the buffers are
 * allocated when a pass is created, never on the hot path. Two conversions are reused
 * instead of repeated:
 *   - src: the forward's copy serves the backward-weights that follows it when that is
 *     called with the same src pointer. This relies on the plan's contract (the fp32 path
 *     relies on it too): the activations a layer read in its forward are left unchanged
 *     until its backward has run. The copy serves one backward-weights only.
 *   - diff_dst: whichever backward pass converts it first leaves the copy for the other
 *     backward pass, and only when that is the op's very next call with the same
 *     pointer: the layer hands both passes the same gradient, but gradient buffers (the
 *     plan's shared scratch) get new contents for every layer and step, so anything
 *     else (a forward, a second call of the same pass) converts again.
 * In F32 the descriptors match the host ones and the "copies" are the host memory.
 */
#include "cpu_wprim.h"

#include <stdio.h>
#include <string.h>

/* ---- activation copies ---- */

static ic_status acopy_init(ic__op *op, ic__cpu_acopy *a, const dnnl_memory_desc_t *host_md,
                            const dnnl_memory_desc_t *md)
{
    if (a->ready)
        return IC_OK;
    ic_status s = ic__cpu_wcache_init(op, &a->cv, host_md, md);
    if (s != IC_OK) {
        ic__cpu_wcache_destroy(&a->cv);
        return s;
    }
    a->ready = 1;
    a->held = NULL;
    return IC_OK;
}

static void acopy_destroy(ic__cpu_acopy *a)
{
    ic__cpu_wcache_destroy(&a->cv);
    memset(a, 0, sizeof *a);
}

/* The memory holding host x as `pass` reads it. Converts unless may_reuse says the
 * copy's current contents may serve. */
static ic_status acopy_get(ic__op *op, ic__cpu_acopy *a, const float *x, ic__cpu_pass pass,
                           int may_reuse, dnnl_memory_t *out)
{
    IC__TRY(ic__cpu_mem_set(op, a->cv.user_mem, x));
    if (a->cv.plain) {
        *out = a->cv.user_mem;
        return IC_OK;
    }
    if (!may_reuse) {
        a->held = NULL; /* invalid until the reorder succeeded */
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->cv.user_mem}, {DNNL_ARG_TO, a->cv.mem}};
        IC__TRY(ic__cpu_exec(op, &a->cv.reorder, 2, args, "bf16 conversion"));
        a->held = x;
        a->by = pass;
    }
    *out = a->cv.mem;
    return IC_OK;
}

/* src: the copy made by the last forward, not yet used by a backward-weights. */
static int src_reusable(const ic__cpu_acopy *a, const float *src)
{
    return a->held == src && a->by == IC__CPU_FWD;
}

/* diff_dst: made by the other backward pass in the op's previous call. "Previous call"
 * needs no counter: a forward drops the copy, a second call of the pass that made it
 * converts again, and the other pass drops it after use. */
static int ddst_reusable(const ic__cpu_acopy *a, const float *ddst, ic__cpu_pass pass)
{
    return a->held == ddst && a->by != pass;
}

/* ---- setup ---- */

/* Host layouts, and the memory descriptors of each pass for precision prec. */
static ic_status setup(ic__op *op, ic__cpu_wprim *wp, const char *what, ic__prec prec, int has_bias,
                       const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
                       const dnnl_memory_desc_t *wei_md, const dnnl_memory_desc_t *bias_md)
{
    static const char *pass_name[3] = {"forward", "backward data", "backward weights"};
    for (int p = 0; p < 3; p++)
        snprintf(wp->name[p], sizeof wp->name[p], "%s %s", what, pass_name[p]);
    wp->prec = prec;
    wp->bwd_w_bf16 = prec == IC__PREC_BF16 && ic__cpu_bf16_bwd_weights();
    wp->has_bias = has_bias;
    wp->src_md = *src_md;
    wp->dst_md = *dst_md;
    wp->wei_md = *wei_md;
    wp->bias_md = *bias_md;

    dnnl_data_type_t cdt = prec == IC__PREC_BF16 ? dnnl_bf16 : dnnl_f32; /* fwd, bwd_data */
    dnnl_data_type_t wdt = wp->bwd_w_bf16 ? dnnl_bf16 : dnnl_f32;        /* bwd_weights */
    ic__cpu_wmds *f = &wp->md[IC__CPU_FWD], *bd = &wp->md[IC__CPU_BWD_DATA],
                 *bw = &wp->md[IC__CPU_BWD_WEIGHTS];
    IC__TRY(ic__cpu_md_retype(op, &f->src, src_md, cdt));
    IC__TRY(ic__cpu_md_any(op, &f->weights, wei_md, cdt));
    f->bias = *bias_md;
    f->dst = *dst_md;
    bd->src = *src_md;
    bd->weights = f->weights;
    bd->bias = *bias_md;
    IC__TRY(ic__cpu_md_retype(op, &bd->dst, dst_md, cdt));
    IC__TRY(ic__cpu_md_retype(op, &bw->src, src_md, wdt));
    IC__TRY(ic__cpu_md_any(op, &bw->weights, wei_md, dnnl_f32));
    bw->bias = *bias_md;
    IC__TRY(ic__cpu_md_retype(op, &bw->dst, dst_md, wdt));
    /* backward weights shares the other passes' copies when it reads the same type */
    wp->src_w = dnnl_memory_desc_equal(&bw->src, &f->src) ? &wp->src : &wp->src_w_own;
    wp->ddst_w = dnnl_memory_desc_equal(&bw->dst, &bd->dst) ? &wp->ddst : &wp->ddst_w_own;

    IC__TRY(ic__cpu_mem_create(op, &wp->m_dst, dst_md));
    IC__TRY(ic__cpu_mem_create(op, &wp->m_diff_src, src_md));
    IC__TRY(ic__cpu_mem_create(op, &wp->m_bias, bias_md));
    return IC_OK;
}

/* The op descriptor of a pass, from the op file. */
static ic_status opdesc(ic__op *op, ic__cpu_wprim *wp, ic__cpu_pass pass, ic__cpu_opdesc *out)
{
    dnnl_status_t s = wp->opdesc(op, pass, &wp->md[pass], out);
    if (s != dnnl_success) {
        char call[80];
        snprintf(call, sizeof call, "%s (descriptor)", wp->name[pass]);
        return ic__cpu_fail(op, call, s);
    }
    return IC_OK;
}

/* ---- forward ---- */

static ic_status init_fwd(ic__op *op, ic__cpu_wprim *wp, ic__act act)
{
    ic__cpu_opdesc desc;
    IC__TRY(opdesc(op, wp, IC__CPU_FWD, &desc));
    dnnl_post_ops_t po = NULL;
    dnnl_alg_kind_t alg;
    float alpha, beta;
    if (ic__cpu_act_alg(act, 0, &alg, &alpha, &beta)) {
        IC__DNNL(op, dnnl_post_ops_create(&po), "post-ops");
        dnnl_status_t s = dnnl_post_ops_append_eltwise(po, 1.f, alg, alpha, beta);
        if (s != dnnl_success) {
            dnnl_post_ops_destroy(po);
            return ic__cpu_fail(op, "post-ops (eltwise)", s);
        }
    }
    ic__cpu_prim *p = &wp->prim[IC__CPU_FWD];
    ic_status st = ic__cpu_prim_create(op, p, &desc, po, NULL, wp->name[IC__CPU_FWD]);
    if (po)
        dnnl_post_ops_destroy(po);
    IC__TRY(st);
    IC__TRY(ic__cpu_wcache_init(op, &wp->w_fwd, &wp->wei_md,
                                ic__cpu_query_md(p, dnnl_query_weights_md)));
    return acopy_init(op, &wp->src, &wp->src_md, &wp->md[IC__CPU_FWD].src);
}

ic_status ic__cpu_wprim_create(ic__op *op, ic__cpu_wprim *wp, const char *what, ic__prec prec,
                               int has_bias, ic__act act, const dnnl_memory_desc_t *src_md,
                               const dnnl_memory_desc_t *dst_md, const dnnl_memory_desc_t *wei_md,
                               const dnnl_memory_desc_t *bias_md, ic__cpu_opdesc_fn fn)
{
    wp->opdesc = fn;
    IC__TRY(setup(op, wp, what, prec, has_bias, src_md, dst_md, wei_md, bias_md));
    return init_fwd(op, wp, act);
}

ic_status ic__cpu_wprim_fwd(ic__op *op, ic__cpu_wprim *wp, float *dst, const float *src,
                            const float *weights, uint64_t weights_version, const float *bias)
{
    wp->ddst.held = NULL; /* the gradient buffers get new contents from here on */
    if (wp->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: bias is NULL for %s", op->what);
    dnnl_memory_t w, s;
    IC__TRY(ic__cpu_wcache_get(op, &wp->w_fwd, weights, weights_version, &w));
    IC__TRY(acopy_get(op, &wp->src, src, IC__CPU_FWD, 0, &s));
    IC__TRY(ic__cpu_mem_set(op, wp->m_dst, dst));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_DST, wp->m_dst},
                               {DNNL_ARG_BIAS, wp->m_bias}};
    int nargs = 3;
    if (wp->has_bias) {
        IC__TRY(ic__cpu_mem_set(op, wp->m_bias, bias));
        nargs = 4;
    }
    return ic__cpu_exec(op, &wp->prim[IC__CPU_FWD], nargs, args, wp->name[IC__CPU_FWD]);
}

/* ---- backward data ---- */

static ic_status init_bwd_data(ic__op *op, ic__cpu_wprim *wp)
{
    ic__cpu_opdesc desc;
    IC__TRY(opdesc(op, wp, IC__CPU_BWD_DATA, &desc));
    ic__cpu_prim *p = &wp->prim[IC__CPU_BWD_DATA];
    IC__TRY(ic__cpu_prim_create(op, p, &desc, NULL, wp->prim[IC__CPU_FWD].pd,
                                wp->name[IC__CPU_BWD_DATA]));
    const dnnl_memory_desc_t *wmd = ic__cpu_query_md(p, dnnl_query_weights_md);
    const dnnl_memory_desc_t *fmd = ic__cpu_query_md(&wp->prim[IC__CPU_FWD], dnnl_query_weights_md);
    if (dnnl_memory_desc_equal(wmd, fmd)) {
        wp->w_bwd_d = &wp->w_fwd;
    } else {
        IC__TRY(ic__cpu_wcache_init(op, &wp->w_bwd_d_own, &wp->wei_md, wmd));
        wp->w_bwd_d = &wp->w_bwd_d_own;
    }
    return acopy_init(op, &wp->ddst, &wp->dst_md, &wp->md[IC__CPU_BWD_DATA].dst);
}

/* Creates backward data on first use; a failure leaves it uncreated (tried again). */
static ic_status lazy_bwd_data(ic__op *op, ic__cpu_wprim *wp)
{
    if (wp->prim[IC__CPU_BWD_DATA].prim)
        return IC_OK;
    ic_status s = init_bwd_data(op, wp);
    if (s != IC_OK) {
        ic__cpu_prim_destroy(&wp->prim[IC__CPU_BWD_DATA]);
        ic__cpu_wcache_destroy(&wp->w_bwd_d_own);
        wp->w_bwd_d = NULL;
        /* wp->ddst may belong to a created backward weights: acopy_init left it intact */
    }
    return s;
}

ic_status ic__cpu_wprim_bwd_data(ic__op *op, ic__cpu_wprim *wp, float *diff_src,
                                 const float *diff_dst, const float *weights,
                                 uint64_t weights_version)
{
    const ic__cpu_pass me = IC__CPU_BWD_DATA;
    IC__TRY(lazy_bwd_data(op, wp));
    int reuse = ddst_reusable(&wp->ddst, diff_dst, me);
    dnnl_memory_t w, dd;
    IC__TRY(ic__cpu_wcache_get(op, wp->w_bwd_d, weights, weights_version, &w));
    IC__TRY(acopy_get(op, &wp->ddst, diff_dst, me, reuse, &dd));
    if (reuse)
        wp->ddst.held = NULL; /* used up */
    IC__TRY(ic__cpu_mem_set(op, wp->m_diff_src, diff_src));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_SRC, wp->m_diff_src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, dd}};
    return ic__cpu_exec(op, &wp->prim[me], 3, args, wp->name[me]);
}

/* ---- backward weights ---- */

static ic_status init_bwd_weights(ic__op *op, ic__cpu_wprim *wp)
{
    ic__cpu_opdesc desc;
    IC__TRY(opdesc(op, wp, IC__CPU_BWD_WEIGHTS, &desc));
    ic__cpu_prim *p = &wp->prim[IC__CPU_BWD_WEIGHTS];
    IC__TRY(ic__cpu_prim_create(op, p, &desc, NULL, wp->prim[IC__CPU_FWD].pd,
                                wp->name[IC__CPU_BWD_WEIGHTS]));
    if (wp->has_bias) {
        size_t nb = (size_t)wp->bias_md.dims[0];
        if (!(wp->dbias_tmp = ic__malloc(nb * sizeof(float))))
            return IC_ERR_NOMEM;
    }
    IC__TRY(ic__cpu_wout_init(op, &wp->dw, &wp->wei_md,
                              ic__cpu_query_md(p, dnnl_query_diff_weights_md)));
    const ic__cpu_wmds *m = &wp->md[IC__CPU_BWD_WEIGHTS];
    IC__TRY(acopy_init(op, wp->src_w, &wp->src_md, &m->src));
    return acopy_init(op, wp->ddst_w, &wp->dst_md, &m->dst);
}

/* Creates backward weights on first use; a failure leaves it uncreated (tried again). */
static ic_status lazy_bwd_weights(ic__op *op, ic__cpu_wprim *wp)
{
    if (wp->prim[IC__CPU_BWD_WEIGHTS].prim)
        return IC_OK;
    ic_status s = init_bwd_weights(op, wp);
    if (s != IC_OK) {
        ic__cpu_prim_destroy(&wp->prim[IC__CPU_BWD_WEIGHTS]);
        ic__cpu_wout_destroy(&wp->dw);
        ic__free(wp->dbias_tmp);
        wp->dbias_tmp = NULL;
        /* copies shared with the other passes stay (acopy_init cleans up after itself) */
    }
    return s;
}

ic_status ic__cpu_wprim_bwd_weights(ic__op *op, ic__cpu_wprim *wp, float *diff_weights,
                                    float *diff_bias, const float *src, const float *diff_dst)
{
    const ic__cpu_pass me = IC__CPU_BWD_WEIGHTS;
    IC__TRY(lazy_bwd_weights(op, wp));
    int reuse_s = src_reusable(wp->src_w, src);
    int reuse_d = ddst_reusable(wp->ddst_w, diff_dst, me);
    dnnl_memory_t dw, s, dd;
    IC__TRY(ic__cpu_wout_target(op, &wp->dw, diff_weights, &dw));
    IC__TRY(acopy_get(op, wp->src_w, src, me, reuse_s, &s));
    wp->src_w->held = NULL; /* serves one backward weights */
    IC__TRY(acopy_get(op, wp->ddst_w, diff_dst, me, reuse_d, &dd));
    if (reuse_d)
        wp->ddst_w->held = NULL;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, s},
                               {DNNL_ARG_DIFF_DST, dd},
                               {DNNL_ARG_DIFF_WEIGHTS, dw},
                               {DNNL_ARG_DIFF_BIAS, wp->m_bias}};
    int nargs = 3;
    if (wp->has_bias) {
        IC__TRY(ic__cpu_mem_set(op, wp->m_bias, diff_bias ? diff_bias : wp->dbias_tmp));
        nargs = 4;
    }
    IC__TRY(ic__cpu_exec(op, &wp->prim[me], nargs, args, wp->name[me]));
    return ic__cpu_wout_finish(op, &wp->dw, diff_weights);
}

const char *ic__cpu_wop_impl(const ic__op *op, ic__cpu_pass pass)
{
    if (!op || (op->kind != IC__CPU_CONV && op->kind != IC__CPU_DENSE) || pass < IC__CPU_FWD ||
        pass > IC__CPU_BWD_WEIGHTS)
        return NULL;
    const ic__cpu_prim *p = &((const ic__cpu_wop *)op)->wp.prim[pass];
    return p->prim ? ic__cpu_impl(p) : "-";
}

void ic__cpu_wprim_destroy(ic__cpu_wprim *wp)
{
    for (int p = 0; p < 3; p++)
        ic__cpu_prim_destroy(&wp->prim[p]);
    ic__cpu_wcache_destroy(&wp->w_fwd);
    ic__cpu_wcache_destroy(&wp->w_bwd_d_own);
    ic__cpu_wout_destroy(&wp->dw);
    acopy_destroy(&wp->src);
    acopy_destroy(&wp->src_w_own);
    acopy_destroy(&wp->ddst);
    acopy_destroy(&wp->ddst_w_own);
    ic__cpu_mem_destroy(&wp->m_dst);
    ic__cpu_mem_destroy(&wp->m_diff_src);
    ic__cpu_mem_destroy(&wp->m_bias);
    ic__free(wp->dbias_tmp);
    wp->dbias_tmp = NULL;
}
