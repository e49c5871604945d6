/* cuda_kernels.h - the backend's own CUDA kernels (cuda_kernels.cu), callable from C.
 *
 * All pointers are device pointers, all tensors float32 and dense; every launcher runs on
 * the default stream and returns cudaGetLastError() as an int (0 = success). The kernels
 * that reduce (column sums, softmax rows, BN statistics) sum in double in a fixed order,
 * so their results never depend on the launch geometry, the batch, or the run. */
#ifndef IC_CUDA_KERNELS_H
#define IC_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* act values are backend.h's ic__act (0 none, 1 relu, 2 relu6, 3 sigmoid, 4 tanh). */

/* Filter layouts. HWIO (s = kh*kw taps, icg, oc) <-> OHWI (oc, s, icg), cuDNN's KRSC for
 * NHWC tensors, and <-> OIHW (oc, icg, s), its KCRS for NCHW tensors. */
int ic__cuda_k_hwio_to_ohwi(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc);
int ic__cuda_k_ohwi_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc);
int ic__cuda_k_hwio_to_oihw(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc);
int ic__cuda_k_oihw_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc);

/* NHWC (n, hw, c) <-> NCHW (n, c, hw). */
int ic__cuda_k_nhwc_to_nchw(float *dst, const float *src, int64_t n, int64_t hw, int64_t c);
int ic__cuda_k_nchw_to_nhwc(float *dst, const float *src, int64_t n, int64_t hw, int64_t c);

/* NHWC src (n, h, w, c) into dst (n, h+pt+pb, w+pl+pr, c) with zeros around it, and back
 * (crop: dst (n, h, w, c) = the interior of src). */
int ic__cuda_k_pad(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                   int pt, int pb, int pl, int pr);
int ic__cuda_k_crop(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                    int pt, int pb, int pl, int pr);

/* x (rows, cols) = act(x + bias[col]) in place; bias may be NULL. */
int ic__cuda_k_bias_act(float *x, const float *bias, int64_t rows, int64_t cols, int act);
/* dst = act(src) (may alias); diff_src = diff_dst * act'(from dst) (may alias diff_dst). */
int ic__cuda_k_act_fwd(float *dst, const float *src, int64_t n, int act);
int ic__cuda_k_act_bwd(float *diff_src, const float *diff_dst, const float *dst, int64_t n,
                       int act);
/* out[c] = sum over rows of x (rows, cols), in double, rounded once. */
int ic__cuda_k_colsum(float *out, const float *x, int64_t rows, int64_t cols);

/* Softmax over the last axis of (rows, cols); backward from dst. Both may alias. */
int ic__cuda_k_softmax_fwd(float *dst, const float *src, int64_t rows, int64_t cols);
int ic__cuda_k_softmax_bwd(float *diff_src, const float *diff_dst, const float *dst,
                           int64_t rows, int64_t cols);

/* Batch normalisation over (rows, c), as the reference backend (ref_misc.c) computes it.
 * stats: mean_d/var_d (double, c each) = batch mean and biased variance; mean/var (float)
 * get the same values rounded. apply: dst = gamma * (src - mean) / sqrt(var + eps) + beta
 * with mean/var in double (mean_d/var_d) or, when those are NULL, the float mean/var;
 * gamma/beta may be NULL (1 and 0). bwd_sums: sum_dy, sum_dy_xhat (double, c each), and
 * their float copies into diff_beta/diff_gamma when not NULL. bwd_apply: diff_src. */
int ic__cuda_k_bn_stats(double *mean_d, double *var_d, float *mean, float *var, const float *src,
                        int64_t rows, int64_t c);
int ic__cuda_k_bn_apply(float *dst, const float *src, const float *gamma, const float *beta,
                        const double *mean_d, const double *var_d, const float *mean,
                        const float *var, int64_t rows, int64_t c, float eps);
int ic__cuda_k_bn_bwd_sums(double *sum_dy, double *sum_dy_xhat, float *diff_gamma,
                           float *diff_beta, const float *diff_dst, const float *src,
                           const float *mean, const float *var, int64_t rows, int64_t c,
                           float eps);
int ic__cuda_k_bn_bwd_apply(float *diff_src, const float *diff_dst, const float *src,
                            const float *mean, const float *var, const float *gamma,
                            const double *sum_dy, const double *sum_dy_xhat, int64_t rows,
                            int64_t c, float eps, int global_stats);

/* Pooling over NHWC, geometry as backend.h's ic__pool_desc (alg 0 max, 1 avg excluding
 * the padding). Max forward writes the winning tap (ky * kw + kx) per output to argmax
 * when argmax is not NULL; the backward gathers per input cell (no atomics: the sums run
 * in a fixed order). */
typedef struct ic__cuda_pool_geom {
    int64_t n, ih, iw, c, oh, ow;
    int kh, kw, sh, sw, pt, pl;
    int alg;
} ic__cuda_pool_geom;
int ic__cuda_k_pool_fwd(float *dst, int32_t *argmax, const float *src, ic__cuda_pool_geom g);
int ic__cuda_k_pool_bwd(float *diff_src, const float *diff_dst, const int32_t *argmax,
                        ic__cuda_pool_geom g);

#ifdef __cplusplus
}
#endif

#endif
