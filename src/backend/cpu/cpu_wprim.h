/* cpu_wprim.h - the "weighted primitive" of the oneDNN backend: what convolution and
 * inner product share (private to src/backend/cpu/).
 *
 * Both ops are a forward with bias and a fused activation, a backward-data and a
 * backward-weights (+bias) over host tensors src, dst, weights, bias; only their oneDNN
 * op descriptors differ. The op file describes the host layouts once
 * and gives a function that builds each pass's op descriptor from the memory
 * descriptors the weighted primitive chooses for it (ic__cpu_wmds); everything else
 * (memory objects, weights caches, gradient reorders, bf16 conversions, lazy creation
 * of the backward passes and cleanup when it fails, execution) lives in cpu_wprim.c.
 *
 * Precision: in BF16 the primitives read bf16 src, weights and diff_dst and write f32
 * dst, diff_src, diff_weights and (diff_)bias (backward weights may read f32 instead:
 * ic__cpu_bf16_bwd_weights); host tensors stay f32 and are converted by reorders into
 * op-owned buffers (cpu_wprim.c says when a conversion is reused).
 */
#ifndef IC_CPU_WPRIM_H
#define IC_CPU_WPRIM_H

#include "cpu_common.h"

typedef enum ic__cpu_pass { IC__CPU_FWD = 0, IC__CPU_BWD_DATA, IC__CPU_BWD_WEIGHTS } ic__cpu_pass;

/* The memory descriptors a pass's op descriptor takes, in oneDNN's argument order:
 *   fwd:          src,      weights (any), bias,      dst
 *   bwd_data:     diff_src, weights (any), -,         diff_dst
 *   bwd_weights:  src,      diff_weights (any), diff_bias, diff_dst  */
typedef struct ic__cpu_wmds {
    dnnl_memory_desc_t src, weights, bias, dst;
} ic__cpu_wmds;

/* Storage for any op descriptor the weighted primitive runs. */
typedef union ic__cpu_opdesc {
    dnnl_convolution_desc_t conv;
    dnnl_inner_product_desc_t ip;
} ic__cpu_opdesc;

/* Fills *out with op's descriptor for `pass` over the memory descriptors m (what the op
 * file provides; oneDNN's status is returned as is). */
typedef dnnl_status_t (*ic__cpu_opdesc_fn)(const ic__op *op, ic__cpu_pass pass,
                                           const ic__cpu_wmds *m, ic__cpu_opdesc *out);

/* Host activations as a primitive reads them: the host memory itself (same
 * descriptor) or a bf16 copy in an op-owned buffer. `held` is the host pointer whose
 * values the copy holds (NULL: nothing reusable) and `by` the pass that made it. */
typedef struct ic__cpu_acopy {
    ic__cpu_wcache cv; /* the conversion (weights-cache machinery; its ptr/version unused) */
    int ready;
    const float *held;
    ic__cpu_pass by;
} ic__cpu_acopy;

typedef struct ic__cpu_wprim {
    ic__prec prec;
    int bwd_w_bf16; /* backward weights reads bf16 (see ic__cpu_bf16_bwd_weights) */
    int has_bias;
    ic__cpu_opdesc_fn opdesc;
    char name[3][48]; /* "convolution forward", ... for error messages */
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md; /* host layouts, f32 */
    ic__cpu_wmds md[3];                                 /* per pass, for the op descriptors */
    dnnl_memory_t m_dst, m_diff_src, m_bias;            /* host outputs (bias: in or out) */
    ic__cpu_prim prim[3];
    ic__cpu_wcache w_fwd, w_bwd_d_own;
    ic__cpu_wcache *w_bwd_d; /* &w_fwd when both passes want one layout, else &w_bwd_d_own */
    ic__cpu_wout dw;
    float *dbias_tmp; /* diff_bias when the caller passes NULL */
    ic__cpu_acopy src, src_w_own, ddst, ddst_w_own;
    ic__cpu_acopy *src_w, *ddst_w; /* what bwd_weights reads: shared or its own */
} ic__cpu_wprim;

/* The start of every op built on a weighted primitive (convolution, dense), so code
 * that only knows the op can reach it. */
typedef struct ic__cpu_wop {
    ic__op hdr;
    ic__cpu_wprim wp;
} ic__cpu_wop;

/* Name of the oneDNN implementation running `pass` of a conv or dense op
 * ("brgconv:avx512_core_bf16"), "-" while the pass is not yet created, NULL for other
 * ops. For tests and benchmarks. */
const char *ic__cpu_wop_impl(const ic__op *op, ic__cpu_pass pass);

/* Creates the op's weighted primitive: host layouts (f32; bias_md has the bias length),
 * precision, the op descriptor maker, and the forward pass (act fused as a post-op).
 * The backward passes are created on first use. `what` names the primitive family
 * ("convolution"). On failure the caller destroys wp. */
ic_status ic__cpu_wprim_create(ic__op *op, ic__cpu_wprim *wp, const char *what, ic__prec prec,
                               int has_bias, ic__act act, const dnnl_memory_desc_t *src_md,
                               const dnnl_memory_desc_t *dst_md, const dnnl_memory_desc_t *wei_md,
                               const dnnl_memory_desc_t *bias_md, ic__cpu_opdesc_fn opdesc);

/* The passes, with backend.h's arguments. */
ic_status ic__cpu_wprim_fwd(ic__op *op, ic__cpu_wprim *wp, float *dst, const float *src,
                            const float *weights, uint64_t weights_version, const float *bias);
ic_status ic__cpu_wprim_bwd_data(ic__op *op, ic__cpu_wprim *wp, float *diff_src,
                                 const float *diff_dst, const float *weights,
                                 uint64_t weights_version);
ic_status ic__cpu_wprim_bwd_weights(ic__op *op, ic__cpu_wprim *wp, float *diff_weights,
                                    float *diff_bias, const float *src, const float *diff_dst);

void ic__cpu_wprim_destroy(ic__cpu_wprim *wp);

#endif
