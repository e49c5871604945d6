/* backend.h - the one interface between layers and compute kernels (private).
 *
 * A backend is a table of functions. Layers describe an operation once per shape
 * (a *_desc), ask the backend for an op handle (create), then call the op every step.
 * The handle caches whatever the backend needs (oneDNN primitive descriptors,
 * primitives, reordered weights, pooling workspaces); creating it may be slow, running
 * it must not allocate on the hot path.
 *
 * Conventions (oneDNN's words, outputs first):
 *   - Host tensors are float32, dense, row-major NHWC (activations), HWIO (conv
 *     kernels, Keras layout), (in, out) (dense kernels, Keras layout).
 *   - Every output is overwritten, never accumulated into.
 *   - `weights_version`: a number that changes whenever the weights' values change
 *     (0 = unknown, never cache). A backend may keep a converted copy of the weights and
 *     reuse it while the pointer and version are unchanged (frozen layers, inference).
 *   - Backward passes are created lazily on first use, so an inference-only op never
 *     pays for them.
 *   - Activation backward is always computed from dst (the forward output), so layers
 *     need not keep pre-activation tensors.
 *   - Aliasing: eltwise and softmax forward/backward may run in place (dst == src,
 *     diff_src == diff_dst); nothing else may alias.
 *   - diff_bias may be NULL (not wanted); it is never written when has_bias is 0.
 *   - Pooling padding must be smaller than the kernel (TF 'same' always is), so every
 *     window holds at least one real cell; avg pool_bwd does not read src (may be NULL).
 *   - BN needs eps > 0 (a constant channel would otherwise divide 0 by 0).
 * All functions return IC_OK or set the error message via ic_seterr.
 */
#ifndef IC_BACKEND_H
#define IC_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "imgclass/status.h"

typedef struct ic__op ic__op; /* backend-specific, opaque here */

/* Compute precision of the heavy ops (conv and dense: forward, backward-data,
 * backward-weights). Host tensors stay float32 whatever the precision: in BF16 the op
 * rounds its inputs (src, weights, diff_dst) to bfloat16 (round to nearest even),
 * multiplies them with float32 accumulation and writes float32 outputs; bias, diff_bias,
 * the fused activation and every other op stay float32. Weights converted to bf16 are
 * cached by (pointer, version) like any other converted weights. The master weights,
 * the optimizer, losses and metrics never see bf16. BF16 is an upper bound on the
 * rounding, not a promise of it: a backend may run a pass in float32 where that is
 * faster (the cpu backend's Winograd convolutions, cpu_conv.c), which is more accurate,
 * not less; its exact bf16 emulation then no longer matches that pass bit for bit. */
typedef enum ic__prec {
    IC__PREC_F32 = 0,
    IC__PREC_BF16
} ic__prec;

typedef enum ic__act {
    IC__ACT_NONE = 0, /* identity */
    IC__ACT_RELU,
    IC__ACT_RELU6, /* min(max(x,0),6) */
    IC__ACT_SIGMOID,
    IC__ACT_TANH
} ic__act;

/* 2-D convolution (cross-correlation, as TF/Keras).
 * src (n, ih, iw, ic), dst (n, oh, ow, oc), weights (kh, kw, ic/groups, oc), bias (oc).
 * groups = 1: ordinary conv. groups = ic: depthwise, output channel o reads input
 * channel o / (oc/ic) (Keras DepthwiseConv2D order: c * depth_multiplier + m).
 * Padding is explicit zeros: pt/pb rows above/below, pl/pr columns left/right.
 * oh = (ih + pt + pb - kh) / sh + 1, likewise ow. */
typedef struct ic__conv_desc {
    int64_t n, ih, iw, ic;
    int64_t oh, ow, oc;
    int kh, kw, sh, sw;
    int pt, pb, pl, pr;
    int groups;
    int has_bias;
    ic__act act; /* fused into the forward pass: dst = act(conv + bias) */
    ic__prec prec; /* set by the backend table's conv_create (see prec below), not layers */
} ic__conv_desc;

typedef enum ic__pool_alg {
    IC__POOL_MAX = 0,
    IC__POOL_AVG /* average over the valid (unpadded) elements only, as TF 'same' */
} ic__pool_alg;

/* Pooling. src (n, ih, iw, c), dst (n, oh, ow, c). Padded positions never win a max
 * and are not counted in an average. Global pooling = kernel ih x iw, no padding. */
typedef struct ic__pool_desc {
    int64_t n, ih, iw, c;
    int64_t oh, ow;
    int kh, kw, sh, sw;
    int pt, pb, pl, pr;
    ic__pool_alg alg;
} ic__pool_desc;

/* Fully connected: src (n, ic), weights (ic, oc) (Keras Dense kernel), bias (oc),
 * dst (n, oc) = act(src . weights + bias). */
typedef struct ic__dense_desc {
    int64_t n, ic, oc;
    int has_bias;
    ic__act act;
    ic__prec prec; /* as for conv */
} ic__dense_desc;

/* Element-wise activation over n values. */
typedef struct ic__eltwise_desc {
    int64_t n;
    ic__act act;
} ic__eltwise_desc;

/* Softmax over the last axis: src/dst (rows, cols). */
typedef struct ic__softmax_desc {
    int64_t rows, cols;
} ic__softmax_desc;

/* Batch normalisation over channel axis c of src/dst (rows, c), rows = N*H*W.
 * Training: mean/var are outputs (batch statistics, biased variance) and normalise.
 * Inference (global stats): mean/var are inputs (moving statistics).
 * dst = gamma * (src - mean) / sqrt(var + eps) + beta; gamma/beta may be NULL
 * (scale/center off: 1 and 0). */
typedef struct ic__bn_desc {
    int64_t rows, c;
    float eps;
} ic__bn_desc;

typedef struct ic__backend {
    const char *name;
    /* Every backend has one table per precision; layers never look at precision: the
     * plan picks the table (ic__backend_with_prec) and the table's conv_create and
     * dense_create stamp their precision into the desc they are given a copy of. */
    ic__prec prec;
    /* The table of the same backend for precision p (NULL when it has none). */
    const struct ic__backend *(*with_prec)(ic__prec p);
    /* 1 when p runs natively on this machine (cpu bf16: oneDNN's effective ISA has
     * AVX512_BF16 or AMX; the reference backend emulates bf16 exactly, always 1). */
    int (*prec_native)(ic__prec p);

    ic_status (*conv_create)(ic__op **op, const ic__conv_desc *d);
    ic_status (*conv_fwd)(ic__op *op, float *dst, const float *src, const float *weights,
                          uint64_t weights_version, const float *bias);
    /* diff_dst is the gradient w.r.t. the *pre-activation* output (the layer applies
     * the activation backward first). */
    ic_status (*conv_bwd_data)(ic__op *op, float *diff_src, const float *diff_dst,
                               const float *weights, uint64_t weights_version);
    ic_status (*conv_bwd_weights)(ic__op *op, float *diff_weights, float *diff_bias,
                                  const float *src, const float *diff_dst);

    ic_status (*pool_create)(ic__op **op, const ic__pool_desc *d);
    /* training != 0 keeps what the backward pass needs (max positions). */
    ic_status (*pool_fwd)(ic__op *op, float *dst, const float *src, int training);
    /* Needs the last training forward of the same op (src given again for backends
     * that recompute the argmax). */
    ic_status (*pool_bwd)(ic__op *op, float *diff_src, const float *diff_dst, const float *src);

    ic_status (*dense_create)(ic__op **op, const ic__dense_desc *d);
    ic_status (*dense_fwd)(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias);
    /* diff_dst w.r.t. the pre-activation output, as for conv. */
    ic_status (*dense_bwd_data)(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version);
    ic_status (*dense_bwd_weights)(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst);

    ic_status (*eltwise_create)(ic__op **op, const ic__eltwise_desc *d);
    ic_status (*eltwise_fwd)(ic__op *op, float *dst, const float *src); /* may alias */
    /* diff_src = diff_dst * act'(.) computed from dst; may alias diff_dst. */
    ic_status (*eltwise_bwd)(ic__op *op, float *diff_src, const float *diff_dst,
                             const float *dst);

    ic_status (*softmax_create)(ic__op **op, const ic__softmax_desc *d);
    ic_status (*softmax_fwd)(ic__op *op, float *dst, const float *src);
    ic_status (*softmax_bwd)(ic__op *op, float *diff_src, const float *diff_dst,
                             const float *dst);

    ic_status (*bn_create)(ic__op **op, const ic__bn_desc *d);
    /* Training: writes dst and the batch mean/var (each c floats). */
    ic_status (*bn_fwd_training)(ic__op *op, float *dst, float *mean, float *var,
                                 const float *src, const float *gamma, const float *beta);
    ic_status (*bn_fwd_inference)(ic__op *op, float *dst, const float *src, const float *gamma,
                                  const float *beta, const float *mean, const float *var);
    /* global_stats = 0: backward of the training forward (mean/var were batch stats);
     * 1: backward of the inference forward (mean/var constants). diff_gamma/diff_beta may
     * be NULL when not wanted. */
    ic_status (*bn_bwd)(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                        const float *diff_dst, const float *src, const float *mean,
                        const float *var, const float *gamma, int global_stats);

    void (*op_free)(ic__op *op); /* NULL ok */
} ic__backend;

/* Registry (src/backend/registry.c). */
const ic__backend *ic__backend_ref(void);
const ic__backend *ic__backend_cpu(void); /* oneDNN */
/* cuDNN + cuBLAS (src/backend/cuda; defined only in builds with IC_HAVE_CUDA, and called
 * only from registry.c): the f32 table, or IC_ERR_BACKEND saying why no GPU is usable. */
ic_status ic__backend_cuda(const ic__backend **out);
/* Opens cuDNN and cuBLAS as the cuda backend does when it starts, without a GPU
 * (src/backend/cuda/cuda_dl.h); msg says what is missing. IC_ERR_UNSUPPORTED in a build
 * without the cuda backend. For the tests. */
ic_status ic__backend_cuda_libs(char *msg, size_t size);
/* The backend currently selected (ic_set_backend / IC_BACKEND; default cpu). */
const ic__backend *ic__backend_current(void);
ic_status ic__backend_by_name(const char *name, const ic__backend **out);
/* Installs any backend table (tests wrap the reference one to count calls). */
void ic__backend_set(const ic__backend *be);
/* be's table for precision p; be itself when p is be->prec or be has no such table
 * (a test's wrapper table without with_prec). */
const ic__backend *ic__backend_with_prec(const ic__backend *be, ic__prec p);
/* be->prec_native(p), 1 for F32 and 0 for tables without prec_native. */
int ic__backend_prec_native(const ic__backend *be, ic__prec p);
/* The precision a convolution of shape d computes in when the model asks for p: f32 for
 * depthwise and grouped convolutions, which are bound by memory, where bf16's input
 * conversions cost more than its faster multiplications save (src/backend/prec.c);
 * else p. */
ic__prec ic__conv_prec(const ic__conv_desc *d, ic__prec p);

/* Every backend's table pair differs only in its conv and dense creators, which stamp
 * the table's precision (for convolutions, ic__conv_prec's) into a copy of the desc:
 * this defines the four of them
 * (conv_create_f32, conv_create_bf16, dense_create_f32, dense_create_bf16) around the
 * backend's own create functions. */
#define IC__PREC_CREATOR(name, desc_t, create, p)                                            \
    static ic_status name(ic__op **op, const desc_t *d)                                       \
    {                                                                                         \
        desc_t c = *d;                                                                        \
        c.prec = (p);                                                                         \
        return create(op, &c);                                                                \
    }
#define IC__DEFINE_PREC_CREATORS(conv_create, dense_create)                                   \
    IC__PREC_CREATOR(conv_create_f32, ic__conv_desc, conv_create, ic__conv_prec(d, IC__PREC_F32)) \
    IC__PREC_CREATOR(conv_create_bf16, ic__conv_desc, conv_create,                           \
                     ic__conv_prec(d, IC__PREC_BF16))                                         \
    IC__PREC_CREATOR(dense_create_f32, ic__dense_desc, dense_create, IC__PREC_F32)            \
    IC__PREC_CREATOR(dense_create_bf16, ic__dense_desc, dense_create, IC__PREC_BF16)

/* Rounds a float to the nearest bfloat16 (ties to even; NaN stays NaN) and back to
 * float: what a bf16 op does to its inputs (the reference backend's emulation). */
float ic__bf16_round(float x);

/* Applies act to n values in place, and its derivative from dst (plain C, used by the
 * reference backend and by layers that need a quick activation). */
void ic__act_fwd_inplace(ic__act act, float *x, int64_t n);
void ic__act_bwd_from_dst(ic__act act, float *diff_src, const float *diff_dst, const float *dst,
                          int64_t n);

#endif
