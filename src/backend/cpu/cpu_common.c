/* cpu_common.c - engine and stream, error translation, primitives with an op-owned
 * scratchpad, the shared buffer for large per-call temporaries, memory objects over host
 * pointers, the weights cache and output reorders for the oneDNN backend; the CPU's ISA
 * as oneDNN sees it, the bf16 backward-weights choice that depends on it, and the
 * Winograd setting. */
#include "cpu_common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_engine_status;

static void engine_init(void)
{
    g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_engine_status == dnnl_success) {
        g_engine_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
        if (g_engine_status != dnnl_success) {
            dnnl_engine_destroy(g_engine);
            g_engine = NULL;
        }
    }
}

ic_status ic__cpu_engine(dnnl_engine_t *eng, dnnl_stream_t *stream)
{
    pthread_once(&g_once, engine_init);
    if (g_engine_status != dnnl_success)
        return ic_seterr(IC_ERR_BACKEND, "oneDNN: creating the CPU engine and stream failed: %s",
                         dnnl_status2str(g_engine_status));
    if (eng)
        *eng = g_engine;
    if (stream)
        *stream = g_stream;
    return IC_OK;
}

ic_status ic__cpu_fail(const ic__op *op, const char *call, dnnl_status_t s)
{
    return ic_seterr(IC_ERR_BACKEND, "oneDNN %s failed: %s (%s)", call, dnnl_status2str(s),
                     op ? op->what : "?");
}

ic_status ic__cpu_op_alloc(ic__op **op, size_t size, ic__cpu_kind kind)
{
    *op = NULL;
    IC__TRY(ic__cpu_engine(NULL, NULL));
    ic__threads_init(); /* oneDNN's OpenMP team follows the library's thread count */
    ic__op *o = ic__calloc(1, size);
    if (!o)
        return IC_ERR_NOMEM;
    o->kind = kind;
    *op = o;
    return IC_OK;
}

ic_status ic__cpu_md_tag(const ic__op *op, dnnl_memory_desc_t *md, int ndims,
                         const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    IC__DNNL(op, dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag),
             "memory descriptor (by tag)");
    return IC_OK;
}

ic_status ic__cpu_md_strides(const ic__op *op, dnnl_memory_desc_t *md, int ndims,
                             const dnnl_dim_t *dims, const dnnl_dim_t *strides)
{
    IC__DNNL(op, dnnl_memory_desc_init_by_strides(md, ndims, dims, dnnl_f32, strides),
             "memory descriptor (by strides)");
    return IC_OK;
}

ic_status ic__cpu_md_retype(const ic__op *op, dnnl_memory_desc_t *out, const dnnl_memory_desc_t *in,
                            dnnl_data_type_t dt)
{
    /* strides count elements, not bytes, so the same strides serve any data type */
    IC__DNNL(op,
             dnnl_memory_desc_init_by_strides(out, in->ndims, in->dims, dt,
                                              in->format_desc.blocking.strides),
             "memory descriptor (retyped)");
    return IC_OK;
}

ic_status ic__cpu_md_any(const ic__op *op, dnnl_memory_desc_t *out, const dnnl_memory_desc_t *in,
                         dnnl_data_type_t dt)
{
    IC__DNNL(op, dnnl_memory_desc_init_by_tag(out, in->ndims, in->dims, dt, dnnl_format_tag_any),
             "memory descriptor (any)");
    return IC_OK;
}

int ic__cpu_isa_has(dnnl_cpu_isa_t isa)
{
    /* the dnnl_cpu_isa_t values are bit sets: each ISA includes the bits of those below */
    unsigned eff = (unsigned)dnnl_get_effective_cpu_isa();
    return (eff & (unsigned)isa) == (unsigned)isa;
}

/* Backward weights in the bf16 table: bf16 or f32 inputs.
 * On AVX512_BF16 without AMX (the AMD EPYC of docs/performance.md) oneDNN 2.6's bf16
 * backward weights runs at ~500-600 GFLOP/s against ~300 for f32 (about 2x), so it
 * reads bf16 like the other passes. On Intel AMX, oneDNN 2.6's bf16 backward weights
 * (jit:avx512_core_amx_bf16) is the slow one: 78 GFLOP/s against 230 for f32 on VGG16
 * block3_conv2 (../shared/bench/README.md), and 63% of PyTorch's bf16 fine-tune step, so
 * there it reads f32 (the host tensors, no conversion) while forward and backward data
 * run on AMX. IC_BF16_BWD_WEIGHTS=bf16|f32 overrides (for measuring on new machines). */
static int g_bwd_w_bf16;
static pthread_once_t g_bwd_w_once = PTHREAD_ONCE_INIT;

static void bwd_w_init(void)
{
    const char *e = getenv("IC_BF16_BWD_WEIGHTS");
    if (e && !strcmp(e, "bf16"))
        g_bwd_w_bf16 = 1;
    else if (e && (!strcmp(e, "f32") || !strcmp(e, "fp32")))
        g_bwd_w_bf16 = 0;
    else
        g_bwd_w_bf16 = !ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_amx);
}

int ic__cpu_bf16_bwd_weights(void)
{
    pthread_once(&g_bwd_w_once, bwd_w_init);
    return g_bwd_w_bf16;
}

/* IC_CONV_WINOGRAD: cpu_conv.c's rule by default; 0 and 1 are for measuring and testing
 * (1 also shows what oneDNN's Winograd supports on a new machine). */
static ic__cpu_wino_mode g_wino;
static pthread_once_t g_wino_once = PTHREAD_ONCE_INIT;

static void wino_init(void)
{
    const char *e = getenv("IC_CONV_WINOGRAD");
    if (e && !strcmp(e, "0"))
        g_wino = IC__CPU_WINO_OFF;
    else if (e && !strcmp(e, "1"))
        g_wino = IC__CPU_WINO_ON;
    else
        g_wino = IC__CPU_WINO_AUTO;
}

ic__cpu_wino_mode ic__cpu_conv_winograd(void)
{
    pthread_once(&g_wino_once, wino_init);
    return g_wino;
}

/* ---- the shared buffer (cpu_common.h) ---- */

static pthread_mutex_t g_sh_mutex = PTHREAD_MUTEX_INITIALIZER;
static void *g_sh_buf;
static size_t g_sh_size;
static long g_sh_refs;

/* Makes the shared buffer big enough for op's scratchpad and temporaries. The new buffer
 * is allocated before the old one is freed, so a failure leaves the others' buffer. */
static ic_status shared_grow(ic__op *op)
{
    size_t need = ic__cpu_round64(op->scratch_size) + op->tmp_size;
    ic_status s = IC_OK;
    pthread_mutex_lock(&g_sh_mutex);
    if (!op->shared_ref) {
        op->shared_ref = 1;
        g_sh_refs++;
    }
    if (need > g_sh_size) {
        void *p = ic__malloc_aligned(need);
        if (p) {
            ic__free_aligned(g_sh_buf);
            g_sh_buf = p;
            g_sh_size = need;
        } else {
            s = IC_ERR_NOMEM;
        }
    }
    pthread_mutex_unlock(&g_sh_mutex);
    return s;
}

ic_status ic__cpu_tmp_reserve(ic__op *op, size_t bytes)
{
    if (bytes > op->tmp_size)
        op->tmp_size = bytes;
    return shared_grow(op);
}

char *ic__cpu_shared_enter(ic__op *op)
{
    pthread_mutex_lock(&g_sh_mutex);
    op->scratch = g_sh_buf;
    return (char *)g_sh_buf + ic__cpu_round64(op->scratch_size);
}

void ic__cpu_shared_leave(ic__op *op)
{
    op->scratch = NULL;
    pthread_mutex_unlock(&g_sh_mutex);
}

void ic__cpu_shared_drop(ic__op *op)
{
    if (!op->shared_ref)
        return;
    pthread_mutex_lock(&g_sh_mutex);
    op->shared_ref = 0;
    if (--g_sh_refs == 0) {
        ic__free_aligned(g_sh_buf);
        g_sh_buf = NULL;
        g_sh_size = 0;
    }
    pthread_mutex_unlock(&g_sh_mutex);
}

size_t ic__cpu_shared_bytes(void)
{
    pthread_mutex_lock(&g_sh_mutex);
    size_t n = g_sh_size;
    pthread_mutex_unlock(&g_sh_mutex);
    return n;
}

/* Grows the op's scratchpad to at least `size` bytes (contents are not kept). */
static ic_status scratch_reserve(ic__op *op, size_t size)
{
    if (op->shared) {
        if (size > op->scratch_size)
            op->scratch_size = size;
        return shared_grow(op);
    }
    if (size <= op->scratch_size)
        return IC_OK;
    ic__free_aligned(op->scratch);
    op->scratch = NULL;
    op->scratch_size = 0;
    op->scratch = ic__malloc_aligned(size);
    if (!op->scratch)
        return IC_ERR_NOMEM;
    op->scratch_size = size;
    return IC_OK;
}

/* Creates the primitive and the scratchpad memory of an existing p->pd. */
static ic_status prim_finish(ic__op *op, ic__cpu_prim *p, const char *name)
{
    char call[96];
    snprintf(call, sizeof call, "%s (primitive creation)", name);
    IC__DNNL(op, dnnl_primitive_create(&p->prim, p->pd), call);
    const dnnl_memory_desc_t *smd = ic__cpu_query_md(p, dnnl_query_scratchpad_md);
    size_t size = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (size > 0) {
        IC__TRY(ic__cpu_mem_create(op, &p->scratch_mem, smd));
        IC__TRY(scratch_reserve(op, size));
    }
    return IC_OK;
}

/* The primitive descriptor with a user-mode scratchpad. optional: oneDNN having no
 * implementation is IC_ERR_UNSUPPORTED without a message. */
static ic_status pd_create(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                           const_dnnl_post_ops_t post_ops, const_dnnl_primitive_desc_t hint,
                           const char *name, int optional)
{
    dnnl_engine_t eng = NULL;
    IC__TRY(ic__cpu_engine(&eng, NULL));
    char call[96];
    snprintf(call, sizeof call, "%s (attributes)", name);
    dnnl_primitive_attr_t attr;
    IC__DNNL(op, dnnl_primitive_attr_create(&attr), call);
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && post_ops)
        s = dnnl_primitive_attr_set_post_ops(attr, post_ops);
    if (s == dnnl_success) {
        snprintf(call, sizeof call, "%s (primitive descriptor)", name);
        s = dnnl_primitive_desc_create(&p->pd, op_desc, attr, eng, hint);
        if (s != dnnl_success)
            p->pd = NULL;
    }
    dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_unimplemented && optional)
        return IC_ERR_UNSUPPORTED;
    if (s != dnnl_success)
        return ic__cpu_fail(op, call, s);
    return IC_OK;
}

ic_status ic__cpu_prim_create(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                              const_dnnl_post_ops_t post_ops, const_dnnl_primitive_desc_t hint,
                              const char *name)
{
    IC__TRY(pd_create(op, p, op_desc, post_ops, hint, name, 0));
    return prim_finish(op, p, name);
}

ic_status ic__cpu_prim_try(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                           const_dnnl_post_ops_t post_ops, const_dnnl_primitive_desc_t hint,
                           const char *name)
{
    IC__TRY(pd_create(op, p, op_desc, post_ops, hint, name, 1));
    return prim_finish(op, p, name);
}

ic_status ic__cpu_pd_create(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                            const_dnnl_post_ops_t post_ops, const char *name)
{
    return pd_create(op, p, op_desc, post_ops, NULL, name, 0);
}

ic_status ic__cpu_reorder_create(ic__op *op, ic__cpu_prim *p, const dnnl_memory_desc_t *src_md,
                                 const dnnl_memory_desc_t *dst_md)
{
    dnnl_engine_t eng = NULL;
    IC__TRY(ic__cpu_engine(&eng, NULL));
    dnnl_primitive_attr_t attr;
    IC__DNNL(op, dnnl_primitive_attr_create(&attr), "reorder (attributes)");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) {
        s = dnnl_reorder_primitive_desc_create(&p->pd, src_md, eng, dst_md, eng, attr);
        if (s != dnnl_success)
            p->pd = NULL;
    }
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return ic__cpu_fail(op, "reorder (primitive descriptor)", s);
    return prim_finish(op, p, "reorder");
}

void ic__cpu_prim_destroy(ic__cpu_prim *p)
{
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    if (p->pd)
        dnnl_primitive_desc_destroy(p->pd);
    ic__cpu_mem_destroy(&p->scratch_mem);
    p->prim = NULL;
    p->pd = NULL;
}

ic_status ic__cpu_exec(ic__op *op, ic__cpu_prim *p, int nargs, const dnnl_exec_arg_t *args,
                       const char *name)
{
    enum { MAX_ARGS = 16 };
    dnnl_exec_arg_t a[MAX_ARGS + 1];
    if (nargs > MAX_ARGS)
        return ic_seterr(IC_ERR_INTERNAL, "cpu backend: too many arguments for %s", name);
    memcpy(a, args, (size_t)nargs * sizeof *a);
    if (p->scratch_mem) {
        if (!op->scratch) /* a shared op outside ic__cpu_shared_enter: a bug here */
            return ic_seterr(IC_ERR_INTERNAL, "cpu backend: no scratchpad for %s (%s)", name,
                             op->what);
        IC__TRY(ic__cpu_mem_set(op, p->scratch_mem, op->scratch));
        a[nargs].arg = DNNL_ARG_SCRATCHPAD;
        a[nargs].memory = p->scratch_mem;
        nargs++;
    }
    dnnl_stream_t stream = NULL;
    IC__TRY(ic__cpu_engine(NULL, &stream));
    char call[96];
    snprintf(call, sizeof call, "%s (execution)", name);
    IC__DNNL(op, dnnl_primitive_execute(p->prim, stream, nargs, a), call);
    IC__DNNL(op, dnnl_stream_wait(stream), call);
    return IC_OK;
}

const dnnl_memory_desc_t *ic__cpu_query_md(const ic__cpu_prim *p, dnnl_query_t what)
{
    return p->pd ? dnnl_primitive_desc_query_md(p->pd, what, 0) : NULL;
}

const char *ic__cpu_impl(const ic__cpu_prim *p)
{
    const char *impl = NULL;
    if (!p->pd ||
        dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        !impl)
        return "?";
    return impl;
}

ic_status ic__cpu_mem_create(const ic__op *op, dnnl_memory_t *m, const dnnl_memory_desc_t *md)
{
    dnnl_engine_t eng = NULL;
    IC__TRY(ic__cpu_engine(&eng, NULL));
    dnnl_status_t s = dnnl_memory_create(m, md, eng, DNNL_MEMORY_NONE);
    if (s != dnnl_success) {
        *m = NULL;
        return ic__cpu_fail(op, "memory creation", s);
    }
    return IC_OK;
}

ic_status ic__cpu_mem_set(const ic__op *op, dnnl_memory_t m, const void *ptr)
{
    /* oneDNN takes non-const handles; inputs are only read. */
    IC__DNNL(op, dnnl_memory_set_data_handle(m, (void *)(uintptr_t)ptr), "set data handle");
    return IC_OK;
}

void ic__cpu_mem_destroy(dnnl_memory_t *m)
{
    if (*m)
        dnnl_memory_destroy(*m);
    *m = NULL;
}

/* ---- weights cache ---- */

/* The copy's memory in prim_md: over an owned buffer, or (placed) with no handle yet. */
static ic_status copy_mem(ic__op *op, dnnl_memory_t *mem, void **buf, size_t *bytes,
                          const dnnl_memory_desc_t *prim_md, int placed)
{
    *bytes = dnnl_memory_desc_get_size(prim_md);
    IC__TRY(ic__cpu_mem_create(op, mem, prim_md));
    if (placed)
        return IC_OK;
    *buf = ic__malloc_aligned(*bytes ? *bytes : 64);
    if (!*buf)
        return IC_ERR_NOMEM;
    /* blocked layouts may pad: the padding must hold zeros (oneDNN also zeroes it when a
     * placed copy gets its handle) */
    memset(*buf, 0, *bytes);
    return ic__cpu_mem_set(op, *mem, *buf);
}

static ic_status wcache_init(ic__op *op, ic__cpu_wcache *wc, const dnnl_memory_desc_t *user_md,
                             const dnnl_memory_desc_t *prim_md, int placed)
{
    IC__TRY(ic__cpu_mem_create(op, &wc->user_mem, user_md));
    wc->plain = dnnl_memory_desc_equal(user_md, prim_md);
    if (wc->plain)
        return IC_OK;
    IC__TRY(copy_mem(op, &wc->mem, &wc->buf, &wc->bytes, prim_md, placed));
    return ic__cpu_reorder_create(op, &wc->reorder, user_md, prim_md);
}

ic_status ic__cpu_wcache_init(ic__op *op, ic__cpu_wcache *wc, const dnnl_memory_desc_t *user_md,
                              const dnnl_memory_desc_t *prim_md)
{
    return wcache_init(op, wc, user_md, prim_md, 0);
}

ic_status ic__cpu_wcache_init_placed(ic__op *op, ic__cpu_wcache *wc,
                                     const dnnl_memory_desc_t *user_md,
                                     const dnnl_memory_desc_t *prim_md)
{
    return wcache_init(op, wc, user_md, prim_md, 1);
}

ic_status ic__cpu_wcache_place(const ic__op *op, ic__cpu_wcache *wc, void *at)
{
    return wc->plain ? IC_OK : ic__cpu_mem_set(op, wc->mem, at);
}

ic_status ic__cpu_wcache_get(ic__op *op, ic__cpu_wcache *wc, const float *w, uint64_t version,
                             dnnl_memory_t *out)
{
    IC__TRY(ic__cpu_mem_set(op, wc->user_mem, w));
    if (wc->plain) {
        *out = wc->user_mem;
        return IC_OK;
    }
    if (version == 0 || wc->ptr != w || wc->version != version) {
        wc->ptr = NULL; /* invalid until the reorder succeeded */
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wc->user_mem}, {DNNL_ARG_TO, wc->mem}};
        IC__TRY(ic__cpu_exec(op, &wc->reorder, 2, args, "weights reorder"));
        wc->ptr = w;
        wc->version = version;
    }
    *out = wc->mem;
    return IC_OK;
}

void ic__cpu_wcache_destroy(ic__cpu_wcache *wc)
{
    ic__cpu_prim_destroy(&wc->reorder);
    ic__cpu_mem_destroy(&wc->user_mem);
    ic__cpu_mem_destroy(&wc->mem);
    ic__free_aligned(wc->buf);
    memset(wc, 0, sizeof *wc);
}

/* ---- output reorder ---- */

static ic_status wout_init(ic__op *op, ic__cpu_wout *wo, const dnnl_memory_desc_t *user_md,
                           const dnnl_memory_desc_t *prim_md, int placed)
{
    IC__TRY(ic__cpu_mem_create(op, &wo->user_mem, user_md));
    wo->plain = dnnl_memory_desc_equal(user_md, prim_md);
    if (wo->plain)
        return IC_OK;
    IC__TRY(copy_mem(op, &wo->mem, &wo->buf, &wo->bytes, prim_md, placed));
    return ic__cpu_reorder_create(op, &wo->reorder, prim_md, user_md);
}

ic_status ic__cpu_wout_init(ic__op *op, ic__cpu_wout *wo, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *prim_md)
{
    return wout_init(op, wo, user_md, prim_md, 0);
}

ic_status ic__cpu_wout_init_placed(ic__op *op, ic__cpu_wout *wo, const dnnl_memory_desc_t *user_md,
                                   const dnnl_memory_desc_t *prim_md)
{
    return wout_init(op, wo, user_md, prim_md, 1);
}

ic_status ic__cpu_wout_place(const ic__op *op, ic__cpu_wout *wo, void *at)
{
    return wo->plain ? IC_OK : ic__cpu_mem_set(op, wo->mem, at);
}

ic_status ic__cpu_wout_target(ic__op *op, ic__cpu_wout *wo, float *dst, dnnl_memory_t *out)
{
    if (wo->plain) {
        IC__TRY(ic__cpu_mem_set(op, wo->user_mem, dst));
        *out = wo->user_mem;
    } else {
        *out = wo->mem;
    }
    return IC_OK;
}

ic_status ic__cpu_wout_finish(ic__op *op, ic__cpu_wout *wo, float *dst)
{
    if (wo->plain)
        return IC_OK;
    IC__TRY(ic__cpu_mem_set(op, wo->user_mem, dst));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wo->mem}, {DNNL_ARG_TO, wo->user_mem}};
    return ic__cpu_exec(op, &wo->reorder, 2, args, "output reorder");
}

void ic__cpu_wout_destroy(ic__cpu_wout *wo)
{
    ic__cpu_prim_destroy(&wo->reorder);
    ic__cpu_mem_destroy(&wo->user_mem);
    ic__cpu_mem_destroy(&wo->mem);
    ic__free_aligned(wo->buf);
    memset(wo, 0, sizeof *wo);
}

int ic__cpu_act_alg(ic__act act, int use_dst, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
    *alpha = 0.f;
    *beta = 0.f;
    switch (act) {
    case IC__ACT_RELU:
        *alg = use_dst ? dnnl_eltwise_relu_use_dst_for_bwd : dnnl_eltwise_relu;
        return 1;
    case IC__ACT_RELU6:
        /* clip_v2 = min(max(x, alpha), beta); its use_dst backward passes the gradient
         * only for alpha < y < beta, matching TF's Relu6Grad at the kinks. */
        *alg = use_dst ? dnnl_eltwise_clip_v2_use_dst_for_bwd : dnnl_eltwise_clip_v2;
        *beta = 6.f;
        return 1;
    case IC__ACT_SIGMOID:
        *alg = use_dst ? dnnl_eltwise_logistic_use_dst_for_bwd : dnnl_eltwise_logistic;
        return 1;
    case IC__ACT_TANH:
        *alg = use_dst ? dnnl_eltwise_tanh_use_dst_for_bwd : dnnl_eltwise_tanh;
        return 1;
    case IC__ACT_NONE:
    default: return 0;
    }
}
