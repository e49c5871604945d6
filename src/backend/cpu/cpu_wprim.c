/* cpu_wprim.c - the weighted primitive shared by convolution and inner product
 * (cpu_wprim.h): memory descriptors per pass and precision, alternative algorithms
 * (Winograd) with their layout conversions, lazy creation of the backward passes,
 * weights caches, output reorders, bf16 conversions of activations, execution.
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
 *
 * Alternative algorithms. An op that asks for one (cpu_conv.c: Winograd) is a shared op
 * (cpu_common.h): each pass's copies of src / diff_dst and its outputs in the
 * primitive's layout (dst, diff_src) live in the shared buffer during the call, at the
 * offsets off[pass][] (forward: src copy, dst, and the staging of a partial last chunk
 * for src and dst; backward data: diff_dst copy, diff_src; backward weights: src copy,
 * diff_dst copy). Nothing survives a call there, so such an op reuses no conversion:
 * every pass has its own copies and converts what it reads (a reorder costs a few
 * percent of a Winograd pass). The forward runs in chunks of alt.fwd_chunk samples
 * (cpu_wprim.h says why); the backward passes take the whole batch, and their hint is
 * then a whole-batch forward descriptor made for the purpose.
 */
#include "cpu_wprim.h"
#include "cpu_wino16.h"

#include <stdio.h>
#include <string.h>

/* ---- activation copies and outputs ---- */

/* A copy is placed in the shared buffer for a shared op, owned otherwise. */
static ic_status acopy_init(ic__op *op, ic__cpu_acopy *a, const dnnl_memory_desc_t *host_md,
                            const dnnl_memory_desc_t *md)
{
    if (a->ready)
        return IC_OK;
    ic_status s = op->shared ? ic__cpu_wcache_init_placed(op, &a->cv, host_md, md)
                             : ic__cpu_wcache_init(op, &a->cv, host_md, md);
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

static ic_status out_init(ic__op *op, ic__cpu_wout *o, const dnnl_memory_desc_t *host_md,
                          const dnnl_memory_desc_t *md)
{
    ic_status s = op->shared ? ic__cpu_wout_init_placed(op, o, host_md, md)
                             : ic__cpu_wout_init(op, o, host_md, md);
    if (s != IC_OK)
        ic__cpu_wout_destroy(o);
    return s;
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
        IC__TRY(ic__cpu_exec(op, &a->cv.reorder, 2, args, "activation conversion"));
        a->held = a->cv.buf ? x : NULL; /* a copy in the shared buffer ends with the call */
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

/* ---- the shared buffer's part of a pass (shared ops only) ---- */

/* Lays out a pass's four temporaries (bytes[i], 0 for none) and reserves them. */
static ic_status tmp_plan(ic__op *op, ic__cpu_wprim *wp, ic__cpu_pass pass, const size_t bytes[4])
{
    if (!op->shared)
        return IC_OK;
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        wp->off[pass][i] = at;
        at += ic__cpu_round64(bytes[i]);
    }
    return ic__cpu_tmp_reserve(op, at);
}

static void tmp_enter(ic__op *op, ic__cpu_wprim *wp)
{
    if (op->shared)
        wp->tmp = ic__cpu_shared_enter(op);
}

static void tmp_leave(ic__op *op, ic__cpu_wprim *wp)
{
    if (op->shared) {
        wp->tmp = NULL;
        ic__cpu_shared_leave(op);
    }
}

static ic_status place_in(ic__op *op, ic__cpu_wprim *wp, ic__cpu_acopy *a, ic__cpu_pass pass,
                          int slot)
{
    return op->shared ? ic__cpu_wcache_place(op, &a->cv, wp->tmp + wp->off[pass][slot]) : IC_OK;
}

static ic_status place_out(ic__op *op, ic__cpu_wprim *wp, ic__cpu_wout *o, ic__cpu_pass pass,
                           int slot)
{
    return op->shared ? ic__cpu_wout_place(op, o, wp->tmp + wp->off[pass][slot]) : IC_OK;
}

/* ---- setup ---- */

/* The plain host layout `in` with n samples (dimension 0); the strides stay. */
static ic_status md_batch(const ic__op *op, dnnl_memory_desc_t *out, const dnnl_memory_desc_t *in,
                          int64_t n)
{
    dnnl_dims_t dims;
    memcpy(dims, in->dims, sizeof dims);
    dims[0] = n;
    IC__DNNL(op,
             dnnl_memory_desc_init_by_strides(out, in->ndims, dims, in->data_type,
                                              in->format_desc.blocking.strides),
             "memory descriptor (batch)");
    return IC_OK;
}

static size_t sample_len(const dnnl_memory_desc_t *md)
{
    size_t n = 1;
    for (int i = 1; i < md->ndims; i++)
        n *= (size_t)md->dims[i];
    return n;
}

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
    wp->batch = src_md->dims[0];
    wp->chunk = wp->batch;
    wp->src_len = sample_len(src_md);
    wp->dst_len = sample_len(dst_md);

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
    /* backward weights shares the other passes' copies when it reads the same type; a
     * shared op's copies end with each call, so there it has its own */
    wp->src_w =
        !op->shared && dnnl_memory_desc_equal(&bw->src, &f->src) ? &wp->src : &wp->src_w_own;
    wp->ddst_w =
        !op->shared && dnnl_memory_desc_equal(&bw->dst, &bd->dst) ? &wp->ddst : &wp->ddst_w_own;
    return ic__cpu_mem_create(op, &wp->m_bias, bias_md);
}

/* The memory descriptors of `pass` running the alternative algorithm: f32, every layout
 * the primitive's choice, the forward over one chunk. */
static ic_status alt_mds(ic__op *op, const ic__cpu_wprim *wp, ic__cpu_pass pass, ic__cpu_wmds *m)
{
    int64_t n = pass == IC__CPU_FWD ? wp->alt.fwd_chunk : wp->batch;
    dnnl_memory_desc_t s, d;
    IC__TRY(md_batch(op, &s, &wp->src_md, n));
    IC__TRY(md_batch(op, &d, &wp->dst_md, n));
    IC__TRY(ic__cpu_md_any(op, &m->src, &s, dnnl_f32));
    IC__TRY(ic__cpu_md_any(op, &m->dst, &d, dnnl_f32));
    IC__TRY(ic__cpu_md_any(op, &m->weights, &wp->wei_md, dnnl_f32));
    m->bias = wp->bias_md;
    m->alg = wp->alt.alg[pass];
    return IC_OK;
}

/* The op descriptor of a pass over m, from the op file. */
static ic_status opdesc(ic__op *op, ic__cpu_wprim *wp, ic__cpu_pass pass, const ic__cpu_wmds *m,
                        ic__cpu_opdesc *out)
{
    dnnl_status_t s = wp->opdesc(op, pass, m, out);
    if (s != dnnl_success) {
        char call[80];
        snprintf(call, sizeof call, "%s (descriptor)", wp->name[pass]);
        return ic__cpu_fail(op, call, s);
    }
    return IC_OK;
}

/* Creates the primitive of `pass`: with the alternative algorithm when the op asks for
 * one and oneDNN has it, else (silently) as md[pass] describes it. */
static ic_status pass_create(ic__op *op, ic__cpu_wprim *wp, ic__cpu_pass pass,
                             const_dnnl_post_ops_t po, const_dnnl_primitive_desc_t hint)
{
    ic__cpu_prim *p = &wp->prim[pass];
    ic__cpu_opdesc desc;
    wp->alt_on[pass] = 0;
    if (wp->alt.alg[pass]) {
        ic__cpu_wmds m;
        IC__TRY(alt_mds(op, wp, pass, &m));
        IC__TRY(opdesc(op, wp, pass, &m, &desc));
        ic_status s = ic__cpu_prim_try(op, p, &desc, po, hint, wp->name[pass]);
        if (s != IC_ERR_UNSUPPORTED) {
            wp->alt_on[pass] = s == IC_OK;
            return s;
        }
    }
    IC__TRY(opdesc(op, wp, pass, &wp->md[pass], &desc));
    return ic__cpu_prim_create(op, p, &desc, po, hint, wp->name[pass]);
}

/* What the backward passes take as hint: the forward's descriptor, or a whole-batch one
 * when the forward runs in chunks. */
static const_dnnl_primitive_desc_t fwd_hint(const ic__cpu_wprim *wp)
{
    return wp->hint.pd ? wp->hint.pd : wp->prim[IC__CPU_FWD].pd;
}

/* ---- forward ---- */

static ic_status fwd_create(ic__op *op, ic__cpu_wprim *wp, const_dnnl_post_ops_t po)
{
    IC__TRY(pass_create(op, wp, IC__CPU_FWD, po, NULL));
    wp->chunk = wp->alt_on[IC__CPU_FWD] ? wp->alt.fwd_chunk : wp->batch;
    if (wp->chunk == wp->batch)
        return IC_OK;
    ic__cpu_opdesc desc;
    IC__TRY(opdesc(op, wp, IC__CPU_FWD, &wp->md[IC__CPU_FWD], &desc));
    return ic__cpu_pd_create(op, &wp->hint, &desc, po, wp->name[IC__CPU_FWD]);
}

static ic_status init_fwd(ic__op *op, ic__cpu_wprim *wp, ic__act act)
{
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
    ic_status st = fwd_create(op, wp, po);
    if (po)
        dnnl_post_ops_destroy(po);
    IC__TRY(st);
    ic__cpu_prim *p = &wp->prim[IC__CPU_FWD];
    IC__TRY(ic__cpu_wcache_init(op, &wp->w_fwd, &wp->wei_md,
                                ic__cpu_query_md(p, dnnl_query_weights_md)));
    dnnl_memory_desc_t hs, hd; /* one chunk of the host tensors */
    IC__TRY(md_batch(op, &hs, &wp->src_md, wp->chunk));
    IC__TRY(md_batch(op, &hd, &wp->dst_md, wp->chunk));
    IC__TRY(acopy_init(op, &wp->src, &hs, ic__cpu_query_md(p, dnnl_query_src_md)));
    IC__TRY(out_init(op, &wp->dst_out, &hd, ic__cpu_query_md(p, dnnl_query_dst_md)));
    /* a partial last chunk is staged in host layout, padded with zero samples */
    size_t stage = wp->batch % wp->chunk ? (size_t)wp->chunk * sizeof(float) : 0;
    size_t bytes[4] = {wp->src.cv.bytes, wp->dst_out.bytes, stage * wp->src_len,
                       stage * wp->dst_len};
    return tmp_plan(op, wp, IC__CPU_FWD, bytes);
}

ic_status ic__cpu_wprim_create(ic__op *op, ic__cpu_wprim *wp, const char *what, ic__prec prec,
                               int has_bias, ic__act act, const dnnl_memory_desc_t *src_md,
                               const dnnl_memory_desc_t *dst_md, const dnnl_memory_desc_t *wei_md,
                               const dnnl_memory_desc_t *bias_md, ic__cpu_opdesc_fn fn,
                               const ic__cpu_alt *alt)
{
    wp->opdesc = fn;
    if (alt)
        wp->alt = *alt;
    for (int p = 0; p < 3; p++)
        op->shared |= wp->alt.alg[p] != 0;
    if (wp->alt.fwd_chunk < 1)
        wp->alt.fwd_chunk = src_md->dims[0];
    IC__TRY(setup(op, wp, what, prec, has_bias, src_md, dst_md, wei_md, bias_md));
    return init_fwd(op, wp, act);
}

/* One forward execution over the first m samples of src and dst. The primitive always
 * takes `chunk` samples: a shorter last chunk goes through the staging buffers, padded
 * with zeros. */
static ic_status fwd_chunk(ic__op *op, ic__cpu_wprim *wp, float *dst, const float *src, int64_t m,
                           dnnl_memory_t w)
{
    const ic__cpu_pass me = IC__CPU_FWD;
    const size_t sb = wp->src_len * sizeof(float), db = wp->dst_len * sizeof(float);
    const float *x = src;
    float *y = dst;
    if (m < wp->chunk) {
        char *xs = wp->tmp + wp->off[me][2];
        memcpy(xs, src, (size_t)m * sb);
        memset(xs + (size_t)m * sb, 0, (size_t)(wp->chunk - m) * sb);
        x = (const float *)xs;
        y = (float *)(wp->tmp + wp->off[me][3]);
    }
    dnnl_memory_t s, d;
    IC__TRY(place_in(op, wp, &wp->src, me, 0));
    IC__TRY(place_out(op, wp, &wp->dst_out, me, 1));
    IC__TRY(acopy_get(op, &wp->src, x, me, 0, &s));
    IC__TRY(ic__cpu_wout_target(op, &wp->dst_out, y, &d));
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, d}, {DNNL_ARG_BIAS, wp->m_bias}};
    IC__TRY(ic__cpu_exec(op, &wp->prim[me], wp->has_bias ? 4 : 3, args, wp->name[me]));
    IC__TRY(ic__cpu_wout_finish(op, &wp->dst_out, y));
    if (y != dst)
        memcpy(dst, y, (size_t)m * db);
    return IC_OK;
}

static ic_status fwd_run(ic__op *op, ic__cpu_wprim *wp, float *dst, const float *src,
                         const float *weights, uint64_t weights_version, const float *bias)
{
    dnnl_memory_t w;
    IC__TRY(ic__cpu_wcache_get(op, &wp->w_fwd, weights, weights_version, &w));
    if (wp->has_bias)
        IC__TRY(ic__cpu_mem_set(op, wp->m_bias, bias));
    for (int64_t s0 = 0; s0 < wp->batch; s0 += wp->chunk) {
        int64_t m = wp->batch - s0 < wp->chunk ? wp->batch - s0 : wp->chunk;
        IC__TRY(fwd_chunk(op, wp, dst + (size_t)s0 * wp->dst_len, src + (size_t)s0 * wp->src_len, m,
                          w));
    }
    return IC_OK;
}

ic_status ic__cpu_wprim_fwd(ic__op *op, ic__cpu_wprim *wp, float *dst, const float *src,
                            const float *weights, uint64_t weights_version, const float *bias)
{
    wp->ddst.held = NULL; /* the gradient buffers get new contents from here on */
    if (wp->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: bias is NULL for %s", op->what);
    tmp_enter(op, wp);
    ic_status s = fwd_run(op, wp, dst, src, weights, weights_version, bias);
    tmp_leave(op, wp);
    return s;
}

/* ---- backward data ---- */

static ic_status init_bwd_data(ic__op *op, ic__cpu_wprim *wp)
{
    IC__TRY(pass_create(op, wp, IC__CPU_BWD_DATA, NULL, fwd_hint(wp)));
    ic__cpu_prim *p = &wp->prim[IC__CPU_BWD_DATA];
    const dnnl_memory_desc_t *wmd = ic__cpu_query_md(p, dnnl_query_weights_md);
    const dnnl_memory_desc_t *fmd = ic__cpu_query_md(&wp->prim[IC__CPU_FWD], dnnl_query_weights_md);
    if (dnnl_memory_desc_equal(wmd, fmd)) {
        wp->w_bwd_d = &wp->w_fwd;
    } else {
        IC__TRY(ic__cpu_wcache_init(op, &wp->w_bwd_d_own, &wp->wei_md, wmd));
        wp->w_bwd_d = &wp->w_bwd_d_own;
    }
    IC__TRY(acopy_init(op, &wp->ddst, &wp->dst_md, ic__cpu_query_md(p, dnnl_query_diff_dst_md)));
    IC__TRY(out_init(op, &wp->dsrc_out, &wp->src_md, ic__cpu_query_md(p, dnnl_query_diff_src_md)));
    size_t bytes[4] = {wp->ddst.cv.bytes, wp->dsrc_out.bytes, 0, 0};
    return tmp_plan(op, wp, IC__CPU_BWD_DATA, bytes);
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
        ic__cpu_wout_destroy(&wp->dsrc_out);
        wp->alt_on[IC__CPU_BWD_DATA] = 0;
        /* wp->ddst may belong to a created backward weights (acopy_init left it intact),
         * except in a shared op, where it is this pass's own */
        if (op->shared)
            acopy_destroy(&wp->ddst);
    }
    return s;
}

static ic_status bwd_data_run(ic__op *op, ic__cpu_wprim *wp, float *diff_src, const float *diff_dst,
                              const float *weights, uint64_t weights_version)
{
    const ic__cpu_pass me = IC__CPU_BWD_DATA;
    int reuse = ddst_reusable(&wp->ddst, diff_dst, me);
    dnnl_memory_t w, dd, ds;
    IC__TRY(ic__cpu_wcache_get(op, wp->w_bwd_d, weights, weights_version, &w));
    IC__TRY(place_in(op, wp, &wp->ddst, me, 0));
    IC__TRY(place_out(op, wp, &wp->dsrc_out, me, 1));
    IC__TRY(acopy_get(op, &wp->ddst, diff_dst, me, reuse, &dd));
    if (reuse)
        wp->ddst.held = NULL; /* used up */
    IC__TRY(ic__cpu_wout_target(op, &wp->dsrc_out, diff_src, &ds));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_SRC, ds}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, dd}};
    IC__TRY(ic__cpu_exec(op, &wp->prim[me], 3, args, wp->name[me]));
    return ic__cpu_wout_finish(op, &wp->dsrc_out, diff_src);
}

ic_status ic__cpu_wprim_bwd_data(ic__op *op, ic__cpu_wprim *wp, float *diff_src,
                                 const float *diff_dst, const float *weights,
                                 uint64_t weights_version)
{
    IC__TRY(lazy_bwd_data(op, wp));
    tmp_enter(op, wp);
    ic_status s = bwd_data_run(op, wp, diff_src, diff_dst, weights, weights_version);
    tmp_leave(op, wp);
    return s;
}

/* ---- backward weights ---- */

static ic_status init_bwd_weights(ic__op *op, ic__cpu_wprim *wp)
{
    IC__TRY(pass_create(op, wp, IC__CPU_BWD_WEIGHTS, NULL, fwd_hint(wp)));
    ic__cpu_prim *p = &wp->prim[IC__CPU_BWD_WEIGHTS];
    if (wp->has_bias) {
        size_t nb = (size_t)wp->bias_md.dims[0];
        if (!(wp->dbias_tmp = ic__malloc(nb * sizeof(float))))
            return IC_ERR_NOMEM;
    }
    IC__TRY(ic__cpu_wout_init(op, &wp->dw, &wp->wei_md,
                              ic__cpu_query_md(p, dnnl_query_diff_weights_md)));
    IC__TRY(acopy_init(op, wp->src_w, &wp->src_md, ic__cpu_query_md(p, dnnl_query_src_md)));
    IC__TRY(acopy_init(op, wp->ddst_w, &wp->dst_md, ic__cpu_query_md(p, dnnl_query_diff_dst_md)));
    size_t bytes[4] = {wp->src_w->cv.bytes, wp->ddst_w->cv.bytes, 0, 0};
    return tmp_plan(op, wp, IC__CPU_BWD_WEIGHTS, bytes);
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
        wp->alt_on[IC__CPU_BWD_WEIGHTS] = 0;
        /* its own copies go; those shared with the other passes stay */
        acopy_destroy(&wp->src_w_own);
        acopy_destroy(&wp->ddst_w_own);
    }
    return s;
}

static ic_status bwd_weights_run(ic__op *op, ic__cpu_wprim *wp, float *diff_weights,
                                 float *diff_bias, const float *src, const float *diff_dst)
{
    const ic__cpu_pass me = IC__CPU_BWD_WEIGHTS;
    int reuse_s = src_reusable(wp->src_w, src);
    int reuse_d = ddst_reusable(wp->ddst_w, diff_dst, me);
    dnnl_memory_t dw, s, dd;
    IC__TRY(ic__cpu_wout_target(op, &wp->dw, diff_weights, &dw));
    IC__TRY(place_in(op, wp, wp->src_w, me, 0));
    IC__TRY(place_in(op, wp, wp->ddst_w, me, 1));
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

ic_status ic__cpu_wprim_bwd_weights(ic__op *op, ic__cpu_wprim *wp, float *diff_weights,
                                    float *diff_bias, const float *src, const float *diff_dst)
{
    IC__TRY(lazy_bwd_weights(op, wp));
    tmp_enter(op, wp);
    ic_status s = bwd_weights_run(op, wp, diff_weights, diff_bias, src, diff_dst);
    tmp_leave(op, wp);
    return s;
}

const char *ic__cpu_wop_impl(const ic__op *op, ic__cpu_pass pass)
{
    if (!op || (op->kind != IC__CPU_CONV && op->kind != IC__CPU_DENSE) || pass < IC__CPU_FWD ||
        pass > IC__CPU_BWD_WEIGHTS)
        return NULL;
    const ic__cpu_wop *w = (const ic__cpu_wop *)op;
    if (ic__cpu_w16_on(w->w16, pass))
        return "wino16:avx512_core_bf16+brgemm_matmul";
    const ic__cpu_prim *p = &w->wp.prim[pass];
    return p->prim ? ic__cpu_impl(p) : "-";
}

void ic__cpu_wprim_destroy(ic__cpu_wprim *wp)
{
    for (int p = 0; p < 3; p++)
        ic__cpu_prim_destroy(&wp->prim[p]);
    ic__cpu_prim_destroy(&wp->hint);
    ic__cpu_wcache_destroy(&wp->w_fwd);
    ic__cpu_wcache_destroy(&wp->w_bwd_d_own);
    ic__cpu_wout_destroy(&wp->dw);
    ic__cpu_wout_destroy(&wp->dst_out);
    ic__cpu_wout_destroy(&wp->dsrc_out);
    acopy_destroy(&wp->src);
    acopy_destroy(&wp->src_w_own);
    acopy_destroy(&wp->ddst);
    acopy_destroy(&wp->ddst_w_own);
    ic__cpu_mem_destroy(&wp->m_bias);
    ic__free(wp->dbias_tmp);
    wp->dbias_tmp = NULL;
}
