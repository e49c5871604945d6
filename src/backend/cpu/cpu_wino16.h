/* cpu_wino16.h - bf16 Winograd F(2x2, 3x3) convolution on oneDNN's bf16 matmul (private to
 * src/backend/cpu/).
 *
 * oneDNN 2.6 has Winograd only in f32 (jit_wino_4x3), which cannot beat its own direct
 * bf16 kernels on a CPU where bf16 doubles the arithmetic rate. This computes the
 * minimal-filtering form of a 3x3 stride-1 convolution itself:
 *
 *   Y(2x2 tile) = A^T [ (G g G^T) (.) (B^T d B) ] A        (d: 4x4 input tile)
 *
 * The 16 element-wise products, summed over channels for every tile, are 16 matrix
 * products [tiles x ic] x [ic x oc]: one batched bf16 matmul (oneDNN brgemm, fp32
 * accumulation), with 2.25x fewer multiplications than the direct convolution. The
 * transforms (ours, AVX-512 over 16 channels) are additions and halvings, in f32; the
 * transformed tiles and weights are rounded to bf16 once, where a direct bf16
 * convolution rounds its inputs, so the error is of the same kind and size (tests:
 * tests/ops/test_ops_wino16.c). F(4x4, 3x3) would save more but its transforms scale
 * values by up to 25, which bf16's 8-bit mantissa does not survive.
 *
 * Backward data is the same computation on diff_dst with the kernel flipped and its
 * channels swapped (padding 2 - p). Backward weights follows from the forward formula
 * by the chain rule: dU = sum over tiles of (B^T d B) (.) (A dY A^T), a batched matmul
 * [ic x tiles] x [tiles x oc], then dW = G^T dU G; diff_bias is a plain sum.
 *
 * Runs only where the CPU has AVX512_BF16 (the transforms use it) and the convolution is
 * 3x3, stride 1, ungrouped, channels multiples of 16, padding <= 2, activation none or
 * ReLU; cpu_conv.c decides per pass where it pays. Temporaries (transformed tiles, the
 * matmuls' scratchpads) live in the shared buffer (cpu_common.h) during a call; the
 * transformed weights are cached by (pointer, weights_version) like oneDNN's copies.
 *
 * The forward runs in chunks of a fixed number of samples, the last one padded with zero
 * samples, so that a sample's result does not depend on its batch (cpu_wprim.h explains
 * why that matters). */
#ifndef IC_CPU_WINO16_H
#define IC_CPU_WINO16_H

#include "cpu_wprim.h" /* ic__cpu_pass */

typedef struct ic__cpu_w16 ic__cpu_w16;

/* 1 when this build and CPU can run it at all (AVX512_BF16, compiler support). */
int ic__cpu_w16_available(void);
/* 1 when d's shape is one it computes (3x3, stride 1, ...; see above), whatever the CPU. */
int ic__cpu_w16_fits(const ic__conv_desc *d);

/* Creates the passes on[pass] != 0 (IC__CPU_FWD, IC__CPU_BWD_DATA, IC__CPU_BWD_WEIGHTS
 * order) for d; `what` names the op in error messages. */
ic_status ic__cpu_w16_create(ic__cpu_w16 **out, const ic__conv_desc *d, const int on[3],
                             const char *what);
/* 1 when pass runs here. */
int ic__cpu_w16_on(const ic__cpu_w16 *w, int pass);

/* backend.h's conv passes. */
ic_status ic__cpu_w16_fwd(ic__cpu_w16 *w, float *dst, const float *src, const float *weights,
                          uint64_t weights_version, const float *bias);
ic_status ic__cpu_w16_bwd_data(ic__cpu_w16 *w, float *diff_src, const float *diff_dst,
                               const float *weights, uint64_t weights_version);
ic_status ic__cpu_w16_bwd_weights(ic__cpu_w16 *w, float *diff_weights, float *diff_bias,
                                  const float *src, const float *diff_dst);

void ic__cpu_w16_free(ic__cpu_w16 *w);

/* Samples per matmul in each pass (tests). */
int64_t ic__cpu_w16_chunk(const ic__cpu_w16 *w, int pass);

#endif
