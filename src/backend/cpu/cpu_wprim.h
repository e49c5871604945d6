/* cpu_wprim.h - the "weighted primitive" of the oneDNN backend: what convolution and
 * inner product share (private to src/backend/cpu/).
 *
 * Both ops are a forward with bias and a fused activation, a backward-data and a
 * backward-weights (+bias) over host tensors src, dst, weights, bias; only their oneDNN
 * op descriptors differ. The op file describes the host layouts once
 * and gives a function that builds each pass's op descriptor from the memory
 * descriptors the weighted primitive chooses for it (ic__cpu_wmds); everything else
 * (memory objects, weights caches, output reorders, activation conversions, lazy
 * creation of the backward passes and cleanup when it fails, execution) lives in
 * cpu_wprim.c.
 *
 * An op may ask for an alternative algorithm per pass (ic__cpu_alt: convolution's
 * Winograd, cpu_conv.c). Such a pass runs in f32 on activations in the layout its
 * primitive chooses: src and diff_dst are reordered into that layout, dst and diff_src
 * are written there and reordered to the host, all inside the shared buffer
 * (cpu_common.h). Where oneDNN has no implementation of it the pass is built as usual.
 *
 * Precision: in BF16 the primitives read bf16 src, weights and diff_dst and write f32
 * dst, diff_src, diff_weights and (diff_)bias (backward weights may read f32 instead:
 * ic__cpu_bf16_bwd_weights); host tensors stay f32 and are converted by reorders into
 * op-owned buffers, or the shared buffer in an op with an alternative algorithm
 * (cpu_wprim.c says when a conversion is reused). A pass running an alternative
 * algorithm reads f32 whatever the precision (more accurate, not less).
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
    dnnl_alg_kind_t alg; /* the algorithm; 0: the op's default (dense has only that) */
} ic__cpu_wmds;

/* What an op asks for beyond its default algorithm. */
typedef struct ic__cpu_alt {
    dnnl_alg_kind_t alg[3]; /* per pass: tried first, f32 in the primitive's layouts (0: none) */
    /* Samples per forward execution with alg[IC__CPU_FWD] (>= 1; may exceed the batch).
     * The forward runs chunk after chunk, the last one padded with zero samples, so one
     * primitive of one shape computes every sample: a sample's result then does not depend
     * on the batch size or on the other samples (oneDNN's Winograd picks its blocking
     * from the batch size, and its results differ in the last bits between blockings). */
    int64_t fwd_chunk;
} ic__cpu_alt;

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
 * descriptor), or a copy (bf16, or another layout) in an op-owned buffer or, for a shared
 * op, placed in the shared buffer for the call. `held` is the host pointer whose values
 * the copy holds (NULL: nothing reusable) and `by` the pass that made it. */
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
    ic__cpu_alt alt;
    int alt_on[3];           /* the pass runs alt.alg (oneDNN had it) */
    int64_t batch, chunk;    /* samples; samples per forward execution */
    size_t src_len, dst_len; /* floats per sample on the host */
    char name[3][48];        /* "convolution forward", ... for error messages */
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md; /* host layouts, f32 */
    ic__cpu_wmds md[3];                                 /* per pass, for the op descriptors */
    dnnl_memory_t m_bias;                               /* host bias (in or out) */
    ic__cpu_prim prim[3];
    ic__cpu_prim hint; /* whole-batch forward descriptor when the forward runs in chunks */
    ic__cpu_wcache w_fwd, w_bwd_d_own;
    ic__cpu_wcache *w_bwd_d; /* &w_fwd when both passes want one layout, else &w_bwd_d_own */
    ic__cpu_wout dw;
    float *dbias_tmp; /* diff_bias when the caller passes NULL */
    ic__cpu_acopy src, src_w_own, ddst, ddst_w_own;
    ic__cpu_acopy *src_w, *ddst_w;  /* what bwd_weights reads: shared or its own */
    ic__cpu_wout dst_out, dsrc_out; /* dst (one chunk) and diff_src as the primitives write them */
    size_t off[3][4];               /* shared op: where each pass's temporaries go (cpu_wprim.c) */
    char *tmp; /* shared op, during a call: its temporaries in the shared buffer */
} ic__cpu_wprim;

/* The start of every op built on a weighted primitive (convolution, dense), so code
 * that only knows the op can reach it. */
typedef struct ic__cpu_wop {
    ic__op hdr;
    ic__cpu_wprim wp;
    struct ic__cpu_w16 *w16; /* convolution: the passes our bf16 Winograd runs (NULL: none) */
} ic__cpu_wop;

/* Name of the oneDNN implementation running `pass` of a conv or dense op
 * ("brgconv:avx512_core_bf16", "jit_wino_4x3:avx512_core"; "wino16:" and the matmul's for
 * cpu_wino16.c's passes), "-" while the pass is not yet created, NULL for other ops. For
 * tests and benchmarks. */
const char *ic__cpu_wop_impl(const ic__op *op, ic__cpu_pass pass);

/* Creates the op's weighted primitive: host layouts (f32; bias_md has the bias length;
 * dimension 0 is the batch), precision, the op descriptor maker, the alternative
 * algorithms (NULL: none), and the forward pass (act fused as a post-op). The backward
 * passes are created on first use. `what` names the primitive family ("convolution").
 * On failure the caller destroys wp. */
ic_status ic__cpu_wprim_create(ic__op *op, ic__cpu_wprim *wp, const char *what, ic__prec prec,
                               int has_bias, ic__act act, const dnnl_memory_desc_t *src_md,
                               const dnnl_memory_desc_t *dst_md, const dnnl_memory_desc_t *wei_md,
                               const dnnl_memory_desc_t *bias_md, ic__cpu_opdesc_fn opdesc,
                               const ic__cpu_alt *alt);

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
