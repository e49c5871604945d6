/* cpu_common.h - shared pieces of the oneDNN backend (private to src/backend/cpu/).
 *
 * One engine and one stream for the process; oneDNN status codes translated into
 * IC_ERR_BACKEND with the op's shapes; primitives with a user-mode scratchpad owned by
 * the op (or, for ops whose temporaries are large, the process's shared buffer); memory
 * objects over host pointers (handle set per call); a cache of reordered (or
 * bf16-converted) weights keyed by (pointer, weights_version); an output reorder for
 * results that oneDNN produces in its own layout; the effective ISA and the settings
 * read from the environment. Convolution and dense share more (cpu_wprim.h).
 *
 * Every op struct starts with `ic__op` (the header below) so op_free can dispatch.
 */
#ifndef IC_CPU_COMMON_H
#define IC_CPU_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend/backend.h"
#include "core/core.h"

typedef enum ic__cpu_kind {
    IC__CPU_CONV = 1,
    IC__CPU_POOL,
    IC__CPU_DENSE,
    IC__CPU_ELTWISE,
    IC__CPU_SOFTMAX,
    IC__CPU_BN
} ic__cpu_kind;

/* Common header, the first member of every cpu op. */
struct ic__op {
    ic__cpu_kind kind;
    char what[160];      /* the op and its shapes, for error messages */
    void *scratch;       /* user scratchpad shared by the op's primitives (run one at a time) */
    size_t scratch_size; /* bytes allocated (shared: bytes needed) */
    /* shared != 0: the scratchpad and the other per-call temporaries (tmp_size bytes after
     * it) live in the process's shared buffer, and scratch points there only between
     * ic__cpu_shared_enter and ic__cpu_shared_leave. Set before any primitive is made. */
    int shared;
    int shared_ref; /* holds a reference on the shared buffer */
    size_t tmp_size;
};

/* A primitive with its descriptor and a scratchpad memory object (NULL if none needed). */
typedef struct ic__cpu_prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t scratch_mem;
} ic__cpu_prim;

/* Reordered copy of host weights (or activations) in the layout a primitive wants. */
typedef struct ic__cpu_wcache {
    int plain;              /* the primitive takes the host layout: no copy */
    dnnl_memory_t user_mem; /* host layout, handle set per call */
    dnnl_memory_t mem;      /* primitive layout over buf (plain: NULL, use user_mem) */
    void *buf;              /* owned (NULL when placed: the caller sets mem's handle) */
    size_t bytes;           /* size of the primitive-layout copy (0 when plain) */
    ic__cpu_prim reorder;   /* user_mem -> mem */
    const float *ptr;       /* what buf holds, valid while version != 0 */
    uint64_t version;
} ic__cpu_wcache;

/* A result (gradient, or an activation) computed in the primitive's layout and
 * reordered into the host layout. */
typedef struct ic__cpu_wout {
    int plain;              /* the primitive writes the host layout directly */
    dnnl_memory_t user_mem; /* host layout, handle set per call */
    dnnl_memory_t mem;      /* primitive layout over buf */
    void *buf;              /* owned (NULL when placed, as for ic__cpu_wcache) */
    size_t bytes;           /* size in the primitive's layout (0 when plain) */
    ic__cpu_prim reorder;   /* mem -> user_mem */
} ic__cpu_wout;

/* The process-wide engine and stream (created on first use, thread-safe). */
ic_status ic__cpu_engine(dnnl_engine_t *eng, dnnl_stream_t *stream);

/* Translates a failed oneDNN call: IC_ERR_BACKEND naming `call` and op->what. */
ic_status ic__cpu_fail(const ic__op *op, const char *call, dnnl_status_t s);

#define IC__DNNL(op, call, name)                                                                   \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success)                                                                    \
            return ic__cpu_fail((op), (name), s_);                                                 \
    } while (0)

#define IC__TRY(call)                                                                              \
    do {                                                                                           \
        ic_status st_ = (call);                                                                    \
        if (st_ != IC_OK)                                                                          \
            return st_;                                                                            \
    } while (0)

/* Allocates and initialises the header of an op of `size` bytes (zeroed). */
ic_status ic__cpu_op_alloc(ic__op **op, size_t size, ic__cpu_kind kind);

/* Memory descriptor helpers (all f32). dims are in oneDNN's logical order. */
ic_status ic__cpu_md_tag(const ic__op *op, dnnl_memory_desc_t *md, int ndims,
                         const dnnl_dim_t *dims, dnnl_format_tag_t tag);
ic_status ic__cpu_md_strides(const ic__op *op, dnnl_memory_desc_t *md, int ndims,
                             const dnnl_dim_t *dims, const dnnl_dim_t *strides);
/* *out = the plain (strided) layout of `in` with data type dt. */
ic_status ic__cpu_md_retype(const ic__op *op, dnnl_memory_desc_t *out, const dnnl_memory_desc_t *in,
                            dnnl_data_type_t dt);
/* *out = the dims of `in`, data type dt, format_tag_any (the primitive chooses). */
ic_status ic__cpu_md_any(const ic__op *op, dnnl_memory_desc_t *out, const dnnl_memory_desc_t *in,
                         dnnl_data_type_t dt);

/* 1 when oneDNN's effective ISA (the machine, capped by DNNL_MAX_CPU_ISA) includes isa. */
int ic__cpu_isa_has(dnnl_cpu_isa_t isa);
/* 1 when the bf16 table runs backward weights in bf16, 0 when in f32 (cpu_common.c
 * explains the choice; IC_BF16_BWD_WEIGHTS=bf16|f32 overrides). Read once per process. */
int ic__cpu_bf16_bwd_weights(void);

/* n rounded up to a multiple of 64 bytes: where the shared buffer's parts start. */
static inline size_t ic__cpu_round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* IC_CONV_WINOGRAD=auto|0|1 (cpu_conv.c's rule, never, wherever oneDNN has it); unset or
 * anything else is auto. Read once per process. */
typedef enum ic__cpu_wino_mode {
    IC__CPU_WINO_AUTO = 0,
    IC__CPU_WINO_OFF,
    IC__CPU_WINO_ON
} ic__cpu_wino_mode;
ic__cpu_wino_mode ic__cpu_conv_winograd(void);

/* Creates the primitive descriptor for op_desc (post_ops may be NULL, hint may be NULL),
 * with a user-mode scratchpad, then the primitive and its scratchpad memory; grows the
 * op's scratch buffer as needed. `name` says which primitive ("convolution forward"). */
ic_status ic__cpu_prim_create(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                              const_dnnl_post_ops_t post_ops, const_dnnl_primitive_desc_t hint,
                              const char *name);
/* The same for an optional implementation: IC_ERR_UNSUPPORTED, with no error message and
 * p left empty, when oneDNN has none for op_desc (dnnl_unimplemented). */
ic_status ic__cpu_prim_try(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                           const_dnnl_post_ops_t post_ops, const_dnnl_primitive_desc_t hint,
                           const char *name);
/* Only the primitive descriptor (a hint for other descriptors; p->prim stays NULL). */
ic_status ic__cpu_pd_create(ic__op *op, ic__cpu_prim *p, const_dnnl_op_desc_t op_desc,
                            const_dnnl_post_ops_t post_ops, const char *name);
/* Reorder primitive from src_md to dst_md. */
ic_status ic__cpu_reorder_create(ic__op *op, ic__cpu_prim *p, const dnnl_memory_desc_t *src_md,
                                 const dnnl_memory_desc_t *dst_md);
void ic__cpu_prim_destroy(ic__cpu_prim *p);
/* Executes p with args (plus the scratchpad) and waits. */
ic_status ic__cpu_exec(ic__op *op, ic__cpu_prim *p, int nargs, const dnnl_exec_arg_t *args,
                       const char *name);
/* A memory descriptor of p's primitive descriptor (dnnl_query_src_md, ...). */
const dnnl_memory_desc_t *ic__cpu_query_md(const ic__cpu_prim *p, dnnl_query_t what);
/* Name of the implementation oneDNN picked ("brgconv:avx512_core"), or "?". */
const char *ic__cpu_impl(const ic__cpu_prim *p);

/* A memory object over host data; the handle is set before each use. */
ic_status ic__cpu_mem_create(const ic__op *op, dnnl_memory_t *m, const dnnl_memory_desc_t *md);
ic_status ic__cpu_mem_set(const ic__op *op, dnnl_memory_t m, const void *ptr);
void ic__cpu_mem_destroy(dnnl_memory_t *m);

/* Weights cache: user_md is the host layout, prim_md what the primitive wants. */
ic_status ic__cpu_wcache_init(ic__op *op, ic__cpu_wcache *wc, const dnnl_memory_desc_t *user_md,
                              const dnnl_memory_desc_t *prim_md);
/* The same without a buffer of its own: ic__cpu_wcache_place gives it wc->bytes at `at`
 * before each use (an activation copy in the shared buffer). */
ic_status ic__cpu_wcache_init_placed(ic__op *op, ic__cpu_wcache *wc,
                                     const dnnl_memory_desc_t *user_md,
                                     const dnnl_memory_desc_t *prim_md);
ic_status ic__cpu_wcache_place(const ic__op *op, ic__cpu_wcache *wc, void *at);
/* Returns the memory to pass to the primitive for host weights w at version. Reorders
 * unless (w, version) is what the cache holds and version != 0. */
ic_status ic__cpu_wcache_get(ic__op *op, ic__cpu_wcache *wc, const float *w, uint64_t version,
                             dnnl_memory_t *out);
void ic__cpu_wcache_destroy(ic__cpu_wcache *wc);

/* Output: prim_md is what the primitive produces, user_md the host layout. */
ic_status ic__cpu_wout_init(ic__op *op, ic__cpu_wout *wo, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *prim_md);
/* Placed variants, as for the weights cache. */
ic_status ic__cpu_wout_init_placed(ic__op *op, ic__cpu_wout *wo, const dnnl_memory_desc_t *user_md,
                                   const dnnl_memory_desc_t *prim_md);
ic_status ic__cpu_wout_place(const ic__op *op, ic__cpu_wout *wo, void *at);
/* The memory the primitive should write to (host pointer dst when plain). */
ic_status ic__cpu_wout_target(ic__op *op, ic__cpu_wout *wo, float *dst, dnnl_memory_t *out);
/* After the primitive ran: copies into host dst unless plain. */
ic_status ic__cpu_wout_finish(ic__op *op, ic__cpu_wout *wo, float *dst);
void ic__cpu_wout_destroy(ic__cpu_wout *wo);

/* The shared buffer: one allocation for the per-call temporaries of every op with
 * op->shared set (Winograd convolutions: their scratchpads and activation copies reach
 * hundreds of MB each, and nothing in them outlives one call, so a buffer the size of
 * the largest need serves them all). A mutex gives it to one call at a time: concurrent
 * calls of such ops from several threads run one after the other. It grows when an op
 * is created (or creates a backward pass), never during a call, and is freed when the
 * last op holding a reference is freed.
 *   ic__cpu_tmp_reserve: op needs `bytes` after its scratchpad (takes the reference).
 *   ic__cpu_shared_enter: locks; sets op->scratch; returns the op's temporaries area.
 *   ic__cpu_shared_leave: op->scratch = NULL; unlocks.
 *   ic__cpu_shared_drop: gives the reference back (op_free).
 *   ic__cpu_shared_bytes: the buffer's size now (tests). */
ic_status ic__cpu_tmp_reserve(ic__op *op, size_t bytes);
char *ic__cpu_shared_enter(ic__op *op);
void ic__cpu_shared_leave(ic__op *op);
void ic__cpu_shared_drop(ic__op *op);
size_t ic__cpu_shared_bytes(void);

/* oneDNN eltwise algorithm for an activation (forward-from-dst variants when
 * use_dst != 0); alpha/beta are set. Returns 0 for IC__ACT_NONE. */
int ic__cpu_act_alg(ic__act act, int use_dst, dnnl_alg_kind_t *alg, float *alpha, float *beta);

/* Per-family creators and destructors (cpu_conv.c, cpu_pool.c, ...). */
void ic__cpu_conv_free(ic__op *op);
void ic__cpu_pool_free(ic__op *op);
void ic__cpu_dense_free(ic__op *op);
void ic__cpu_misc_free(ic__op *op);

/* Conv and dense run in d->prec (cpu_backend.c's tables stamp it into a copy of the desc). */
ic_status ic__cpu_conv_create(ic__op **op, const ic__conv_desc *d);
ic_status ic__cpu_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias);
ic_status ic__cpu_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version);
ic_status ic__cpu_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst);

ic_status ic__cpu_pool_create(ic__op **op, const ic__pool_desc *d);
ic_status ic__cpu_pool_fwd(ic__op *op, float *dst, const float *src, int training);
ic_status ic__cpu_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *src);

ic_status ic__cpu_dense_create(ic__op **op, const ic__dense_desc *d);
ic_status ic__cpu_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias);
ic_status ic__cpu_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version);
ic_status ic__cpu_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst);

ic_status ic__cpu_eltwise_create(ic__op **op, const ic__eltwise_desc *d);
ic_status ic__cpu_eltwise_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__cpu_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *dst);

ic_status ic__cpu_softmax_create(ic__op **op, const ic__softmax_desc *d);
ic_status ic__cpu_softmax_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__cpu_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *dst);

ic_status ic__cpu_bn_create(ic__op **op, const ic__bn_desc *d);
ic_status ic__cpu_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var, const float *src,
                                  const float *gamma, const float *beta);
ic_status ic__cpu_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                   const float *beta, const float *mean, const float *var);
ic_status ic__cpu_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                         const float *diff_dst, const float *src, const float *mean,
                         const float *var, const float *gamma, int global_stats);

#endif
