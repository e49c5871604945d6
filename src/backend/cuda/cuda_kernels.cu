// cuda_kernels.cu - the cuda backend's own kernels (declared in cuda_kernels.h): layout
// conversions, padding, bias + activation, element-wise activations, softmax, batch
// normalisation, pooling, column sums. The one CUDA source of the library: everything
// else is C calling these launchers, cuDNN and cuBLAS, which keeps nvcc's share of the
// build small.
//
// Simple one-thread-per-output kernels with grid-stride loops: correctness first; these
// ops are memory-bound and small next to the convolutions. Reductions accumulate in
// double in a fixed order (per-thread strided partial sums, then a fixed tree or a
// sequential pass over the partials), like the reference backend's double sums, and
// never use atomics, so results are the same from run to run and independent of the
// batch a row or a sample sits in.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "cuda_kernels.h"

namespace {

const int kThreads = 256;

inline unsigned blocks_for(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b < 1)
        b = 1;
    if (b > 1048576) // grid-stride loops cover the rest
        b = 1048576;
    return (unsigned)b;
}

#define GRID_LOOP(i, n)                                                                       \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)blockDim.x * gridDim.x)

int last_error()
{
    return (int)cudaGetLastError();
}

// The activations as act.c writes them (NaN passes through relu, as there).
__device__ inline float act_fwd(int act, float x)
{
    switch (act) {
    case 1: return x < 0.f ? 0.f : x;
    case 2: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case 3: return 1.f / (1.f + expf(-x));
    case 4: return tanhf(x);
    default: return x;
    }
}

__device__ inline float act_bwd(int act, float dy, float y)
{
    switch (act) {
    case 1: return y > 0.f ? dy : 0.f;
    case 2: return (y > 0.f && y < 6.f) ? dy : 0.f;
    case 3: return dy * y * (1.f - y);
    case 4: return dy * (1.f - y * y);
    default: return dy;
    }
}

// ---- layouts ----

__global__ void k_hwio_to_ohwi(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    GRID_LOOP(j, s * icg * oc)
    { // j indexes dst (o, si, i)
        int64_t i = j % icg, si = (j / icg) % s, o = j / (icg * s);
        dst[j] = src[(si * icg + i) * oc + o];
    }
}

__global__ void k_ohwi_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    GRID_LOOP(j, s * icg * oc)
    { // j indexes dst (si, i, o)
        int64_t o = j % oc, i = (j / oc) % icg, si = j / (oc * icg);
        dst[j] = src[(o * s + si) * icg + i];
    }
}

__global__ void k_hwio_to_oihw(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    GRID_LOOP(j, s * icg * oc)
    { // j indexes dst (o, i, si)
        int64_t si = j % s, i = (j / s) % icg, o = j / (s * icg);
        dst[j] = src[(si * icg + i) * oc + o];
    }
}

__global__ void k_oihw_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    GRID_LOOP(j, s * icg * oc)
    { // j indexes dst (si, i, o)
        int64_t o = j % oc, i = (j / oc) % icg, si = j / (oc * icg);
        dst[j] = src[(o * icg + i) * s + si];
    }
}

__global__ void k_nhwc_to_nchw(float *dst, const float *src, int64_t n, int64_t hw, int64_t c)
{
    GRID_LOOP(j, n * hw * c)
    { // j indexes dst (b, ch, p)
        int64_t p = j % hw, ch = (j / hw) % c, b = j / (hw * c);
        dst[j] = src[(b * hw + p) * c + ch];
    }
}

__global__ void k_nchw_to_nhwc(float *dst, const float *src, int64_t n, int64_t hw, int64_t c)
{
    GRID_LOOP(j, n * hw * c)
    { // j indexes dst (b, p, ch)
        int64_t ch = j % c, p = (j / c) % hw, b = j / (c * hw);
        dst[j] = src[(b * c + ch) * hw + p];
    }
}

__global__ void k_pad(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                      int pt, int pb, int pl, int pr)
{
    const int64_t ph = h + pt + pb, pw = w + pl + pr;
    GRID_LOOP(j, n * ph * pw * c)
    {
        int64_t ch = j % c, x = (j / c) % pw, y = (j / (c * pw)) % ph, b = j / (c * pw * ph);
        int64_t sy = y - pt, sx = x - pl;
        dst[j] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? src[((b * h + sy) * w + sx) * c + ch]
                                                           : 0.f;
    }
}

__global__ void k_crop(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                       int pt, int pb, int pl, int pr)
{
    const int64_t ph = h + pt + pb, pw = w + pl + pr;
    GRID_LOOP(j, n * h * w * c)
    {
        int64_t ch = j % c, x = (j / c) % w, y = (j / (c * w)) % h, b = j / (c * w * h);
        dst[j] = src[((b * ph + y + pt) * pw + x + pl) * c + ch];
    }
}

// ---- element-wise ----

__global__ void k_bias_act(float *x, const float *bias, int64_t rows, int64_t cols, int act)
{
    GRID_LOOP(j, rows * cols)
    {
        float v = x[j];
        if (bias)
            v += bias[j % cols];
        x[j] = act_fwd(act, v);
    }
}

__global__ void k_act_fwd(float *dst, const float *src, int64_t n, int act)
{
    GRID_LOOP(j, n) dst[j] = act_fwd(act, src[j]);
}

__global__ void k_act_bwd(float *diff_src, const float *diff_dst, const float *dst, int64_t n,
                          int act)
{
    GRID_LOOP(j, n) diff_src[j] = act_bwd(act, diff_dst[j], dst[j]);
}

// ---- column reductions: a block of 32 columns x kRowLanes row lanes ----

const int kRowLanes = 16;

// Sums of the 16 lanes' partials, in lane order, for column threadIdx.x (valid in lane 0).
__device__ inline double lanes_sum(double v, double (*sh)[32])
{
    sh[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.y == 0)
        for (int l = 0; l < kRowLanes; l++)
            s += sh[l][threadIdx.x];
    __syncthreads();
    return s;
}

__global__ void k_colsum(float *out, const float *x, int64_t rows, int64_t cols)
{
    __shared__ double sh[kRowLanes][32];
    int64_t col = (int64_t)blockIdx.x * 32 + threadIdx.x;
    double acc = 0.0;
    if (col < cols)
        for (int64_t r = threadIdx.y; r < rows; r += kRowLanes)
            acc += (double)x[r * cols + col];
    double s = lanes_sum(acc, sh);
    if (threadIdx.y == 0 && col < cols)
        out[col] = (float)s;
}

__global__ void k_bn_stats(double *mean_d, double *var_d, float *mean, float *var,
                           const float *src, int64_t rows, int64_t c)
{
    __shared__ double sh[kRowLanes][32];
    __shared__ double msh[32];
    int64_t col = (int64_t)blockIdx.x * 32 + threadIdx.x;
    double acc = 0.0;
    if (col < c)
        for (int64_t r = threadIdx.y; r < rows; r += kRowLanes)
            acc += (double)src[r * c + col];
    double s = lanes_sum(acc, sh);
    if (threadIdx.y == 0)
        msh[threadIdx.x] = s / (double)rows;
    __syncthreads();
    const double m = msh[threadIdx.x];
    acc = 0.0;
    if (col < c)
        for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) {
            double t = (double)src[r * c + col] - m;
            acc += t * t;
        }
    s = lanes_sum(acc, sh);
    if (threadIdx.y == 0 && col < c) {
        double v = s / (double)rows;
        mean_d[col] = m;
        var_d[col] = v;
        mean[col] = (float)m;
        var[col] = (float)v;
    }
}

__global__ void k_bn_apply(float *dst, const float *src, const float *gamma, const float *beta,
                           const double *mean_d, const double *var_d, const float *mean,
                           const float *var, int64_t rows, int64_t c, float eps)
{
    GRID_LOOP(j, rows * c)
    {
        int64_t ch = j % c;
        double m = mean_d ? mean_d[ch] : (double)mean[ch];
        double v = var_d ? var_d[ch] : (double)var[ch];
        double scale = (gamma ? (double)gamma[ch] : 1.0) / sqrt(v + (double)eps);
        double shift = beta ? (double)beta[ch] : 0.0;
        dst[j] = (float)(((double)src[j] - m) * scale + shift);
    }
}

__global__ void k_bn_bwd_sums(double *sum_dy, double *sum_dy_xhat, float *diff_gamma,
                              float *diff_beta, const float *diff_dst, const float *src,
                              const float *mean, const float *var, int64_t rows, int64_t c,
                              float eps)
{
    __shared__ double sh[kRowLanes][32];
    int64_t col = (int64_t)blockIdx.x * 32 + threadIdx.x;
    double a = 0.0, b = 0.0;
    if (col < c) {
        const double m = mean[col], inv_std = 1.0 / sqrt((double)var[col] + (double)eps);
        for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) {
            double dy = diff_dst[r * c + col];
            a += dy;
            b += dy * ((double)src[r * c + col] - m) * inv_std;
        }
    }
    double sa = lanes_sum(a, sh);
    double sb = lanes_sum(b, sh);
    if (threadIdx.y == 0 && col < c) {
        sum_dy[col] = sa;
        sum_dy_xhat[col] = sb;
        if (diff_beta)
            diff_beta[col] = (float)sa;
        if (diff_gamma)
            diff_gamma[col] = (float)sb;
    }
}

__global__ void k_bn_bwd_apply(float *diff_src, const float *diff_dst, const float *src,
                               const float *mean, const float *var, const float *gamma,
                               const double *sum_dy, const double *sum_dy_xhat, int64_t rows,
                               int64_t c, float eps, int global_stats)
{
    GRID_LOOP(j, rows * c)
    {
        int64_t ch = j % c;
        const double inv_std = 1.0 / sqrt((double)var[ch] + (double)eps);
        const double g = gamma ? (double)gamma[ch] : 1.0;
        double dy = diff_dst[j];
        if (!global_stats) {
            const double xhat = ((double)src[j] - (double)mean[ch]) * inv_std;
            dy -= sum_dy[ch] / (double)rows + xhat * sum_dy_xhat[ch] / (double)rows;
        }
        diff_src[j] = (float)(g * inv_std * dy);
    }
}

// ---- softmax: one block per row ----

__device__ inline double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__global__ void k_softmax_fwd(float *dst, const float *src, int64_t cols)
{
    __shared__ double sh[kThreads];
    __shared__ float mx_all;
    const float *x = src + (int64_t)blockIdx.x * cols;
    float *y = dst + (int64_t)blockIdx.x * cols;
    if (threadIdx.x == 0) { // the row's max, sequentially: cheap next to exp, and exact
        float mx = x[0];
        for (int64_t j = 1; j < cols; j++)
            mx = x[j] > mx ? x[j] : mx;
        mx_all = mx;
    }
    __syncthreads();
    const double mx = mx_all;
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += kThreads) {
        double e = exp((double)x[j] - mx);
        y[j] = (float)e; // x[j] is read before y[j] is written by the same thread: may alias
        acc += e;
    }
    const double sum = block_sum(acc, sh);
    for (int64_t j = threadIdx.x; j < cols; j += kThreads)
        y[j] = (float)((double)y[j] / sum);
}

__global__ void k_softmax_bwd(float *diff_src, const float *diff_dst, const float *dst,
                              int64_t cols)
{
    __shared__ double sh[kThreads];
    const int64_t off = (int64_t)blockIdx.x * cols;
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += kThreads)
        acc += (double)diff_dst[off + j] * (double)dst[off + j];
    const double dot = block_sum(acc, sh);
    for (int64_t j = threadIdx.x; j < cols; j += kThreads)
        diff_src[off + j] = (float)((double)dst[off + j] * ((double)diff_dst[off + j] - dot));
}

// ---- pooling ----

__global__ void k_pool_fwd(float *dst, int32_t *argmax, const float *src, ic__cuda_pool_geom g)
{
    GRID_LOOP(j, g.n * g.oh * g.ow * g.c)
    {
        int64_t ch = j % g.c, ox = (j / g.c) % g.ow, oy = (j / (g.c * g.ow)) % g.oh,
                b = j / (g.c * g.ow * g.oh);
        const float *s = src + b * g.ih * g.iw * g.c + ch;
        int64_t y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl;
        if (g.alg == 0) {
            float best = 0.f;
            int32_t arg = -1;
            for (int ky = 0; ky < g.kh; ky++) {
                int64_t y = y0 + ky;
                if (y < 0 || y >= g.ih)
                    continue;
                for (int kx = 0; kx < g.kw; kx++) {
                    int64_t x = x0 + kx;
                    if (x < 0 || x >= g.iw)
                        continue;
                    float v = s[(y * g.iw + x) * g.c];
                    if (arg < 0 || v > best) { // first maximum in window order wins ties
                        best = v;
                        arg = ky * g.kw + kx;
                    }
                }
            }
            dst[j] = best;
            if (argmax)
                argmax[j] = arg;
        } else {
            double acc = 0.0;
            int cnt = 0;
            for (int ky = 0; ky < g.kh; ky++) {
                int64_t y = y0 + ky;
                if (y < 0 || y >= g.ih)
                    continue;
                for (int kx = 0; kx < g.kw; kx++) {
                    int64_t x = x0 + kx;
                    if (x < 0 || x >= g.iw)
                        continue;
                    acc += (double)s[(y * g.iw + x) * g.c];
                    cnt++;
                }
            }
            dst[j] = (float)(acc / (double)(cnt > 0 ? cnt : 1));
        }
    }
}

// First and last output index whose window (start o*st - p, size k) covers input i.
__device__ inline void windows_of(int64_t i, int k, int st, int p, int64_t on, int64_t *o0,
                                  int64_t *o1)
{
    int64_t a = i + p - k + 1; // o*st >= a
    *o0 = a <= 0 ? 0 : (a + st - 1) / st;
    int64_t hi = (i + p) / st; // o*st <= i + p
    *o1 = hi < on - 1 ? hi : on - 1;
}

__global__ void k_pool_bwd(float *diff_src, const float *diff_dst, const int32_t *argmax,
                           ic__cuda_pool_geom g)
{
    GRID_LOOP(j, g.n * g.ih * g.iw * g.c)
    {
        int64_t ch = j % g.c, x = (j / g.c) % g.iw, y = (j / (g.c * g.iw)) % g.ih,
                b = j / (g.c * g.iw * g.ih);
        int64_t oy0, oy1, ox0, ox1;
        windows_of(y, g.kh, g.sh, g.pt, g.oh, &oy0, &oy1);
        windows_of(x, g.kw, g.sw, g.pl, g.ow, &ox0, &ox1);
        const int64_t base = b * g.oh * g.ow * g.c + ch;
        double acc = 0.0;
        for (int64_t oy = oy0; oy <= oy1; oy++) {
            for (int64_t ox = ox0; ox <= ox1; ox++) {
                int64_t o = base + (oy * g.ow + ox) * g.c;
                int64_t ty = y - (oy * g.sh - g.pt), tx = x - (ox * g.sw - g.pl);
                if (g.alg == 0) {
                    if (argmax[o] == (int32_t)(ty * g.kw + tx))
                        acc += (double)diff_dst[o];
                } else {
                    int64_t ys = oy * g.sh - g.pt, xs = ox * g.sw - g.pl;
                    int64_t ye = ys + g.kh < g.ih ? ys + g.kh : g.ih;
                    int64_t xe = xs + g.kw < g.iw ? xs + g.kw : g.iw;
                    ys = ys < 0 ? 0 : ys;
                    xs = xs < 0 ? 0 : xs;
                    acc += (double)diff_dst[o] / (double)((ye - ys) * (xe - xs));
                }
            }
        }
        diff_src[j] = (float)acc;
    }
}

} // namespace

extern "C" {

int ic__cuda_k_hwio_to_ohwi(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    k_hwio_to_ohwi<<<blocks_for(s * icg * oc), kThreads>>>(dst, src, s, icg, oc);
    return last_error();
}

int ic__cuda_k_ohwi_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    k_ohwi_to_hwio<<<blocks_for(s * icg * oc), kThreads>>>(dst, src, s, icg, oc);
    return last_error();
}

int ic__cuda_k_hwio_to_oihw(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    k_hwio_to_oihw<<<blocks_for(s * icg * oc), kThreads>>>(dst, src, s, icg, oc);
    return last_error();
}

int ic__cuda_k_oihw_to_hwio(float *dst, const float *src, int64_t s, int64_t icg, int64_t oc)
{
    k_oihw_to_hwio<<<blocks_for(s * icg * oc), kThreads>>>(dst, src, s, icg, oc);
    return last_error();
}

int ic__cuda_k_nhwc_to_nchw(float *dst, const float *src, int64_t n, int64_t hw, int64_t c)
{
    k_nhwc_to_nchw<<<blocks_for(n * hw * c), kThreads>>>(dst, src, n, hw, c);
    return last_error();
}

int ic__cuda_k_nchw_to_nhwc(float *dst, const float *src, int64_t n, int64_t hw, int64_t c)
{
    k_nchw_to_nhwc<<<blocks_for(n * hw * c), kThreads>>>(dst, src, n, hw, c);
    return last_error();
}

int ic__cuda_k_pad(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                   int pt, int pb, int pl, int pr)
{
    k_pad<<<blocks_for(n * (h + pt + pb) * (w + pl + pr) * c), kThreads>>>(dst, src, n, h, w, c,
                                                                            pt, pb, pl, pr);
    return last_error();
}

int ic__cuda_k_crop(float *dst, const float *src, int64_t n, int64_t h, int64_t w, int64_t c,
                    int pt, int pb, int pl, int pr)
{
    k_crop<<<blocks_for(n * h * w * c), kThreads>>>(dst, src, n, h, w, c, pt, pb, pl, pr);
    return last_error();
}

int ic__cuda_k_bias_act(float *x, const float *bias, int64_t rows, int64_t cols, int act)
{
    if (!bias && act == 0)
        return 0;
    k_bias_act<<<blocks_for(rows * cols), kThreads>>>(x, bias, rows, cols, act);
    return last_error();
}

int ic__cuda_k_act_fwd(float *dst, const float *src, int64_t n, int act)
{
    k_act_fwd<<<blocks_for(n), kThreads>>>(dst, src, n, act);
    return last_error();
}

int ic__cuda_k_act_bwd(float *diff_src, const float *diff_dst, const float *dst, int64_t n,
                       int act)
{
    k_act_bwd<<<blocks_for(n), kThreads>>>(diff_src, diff_dst, dst, n, act);
    return last_error();
}

int ic__cuda_k_colsum(float *out, const float *x, int64_t rows, int64_t cols)
{
    k_colsum<<<(unsigned)((cols + 31) / 32), dim3(32, kRowLanes)>>>(out, x, rows, cols);
    return last_error();
}

int ic__cuda_k_softmax_fwd(float *dst, const float *src, int64_t rows, int64_t cols)
{
    k_softmax_fwd<<<(unsigned)rows, kThreads>>>(dst, src, cols);
    return last_error();
}

int ic__cuda_k_softmax_bwd(float *diff_src, const float *diff_dst, const float *dst,
                           int64_t rows, int64_t cols)
{
    k_softmax_bwd<<<(unsigned)rows, kThreads>>>(diff_src, diff_dst, dst, cols);
    return last_error();
}

int ic__cuda_k_bn_stats(double *mean_d, double *var_d, float *mean, float *var, const float *src,
                        int64_t rows, int64_t c)
{
    k_bn_stats<<<(unsigned)((c + 31) / 32), dim3(32, kRowLanes)>>>(mean_d, var_d, mean, var, src,
                                                                   rows, c);
    return last_error();
}

int ic__cuda_k_bn_apply(float *dst, const float *src, const float *gamma, const float *beta,
                        const double *mean_d, const double *var_d, const float *mean,
                        const float *var, int64_t rows, int64_t c, float eps)
{
    k_bn_apply<<<blocks_for(rows * c), kThreads>>>(dst, src, gamma, beta, mean_d, var_d, mean,
                                                   var, rows, c, eps);
    return last_error();
}

int ic__cuda_k_bn_bwd_sums(double *sum_dy, double *sum_dy_xhat, float *diff_gamma,
                           float *diff_beta, const float *diff_dst, const float *src,
                           const float *mean, const float *var, int64_t rows, int64_t c,
                           float eps)
{
    k_bn_bwd_sums<<<(unsigned)((c + 31) / 32), dim3(32, kRowLanes)>>>(
        sum_dy, sum_dy_xhat, diff_gamma, diff_beta, diff_dst, src, mean, var, rows, c, eps);
    return last_error();
}

int ic__cuda_k_bn_bwd_apply(float *diff_src, const float *diff_dst, const float *src,
                            const float *mean, const float *var, const float *gamma,
                            const double *sum_dy, const double *sum_dy_xhat, int64_t rows,
                            int64_t c, float eps, int global_stats)
{
    k_bn_bwd_apply<<<blocks_for(rows * c), kThreads>>>(diff_src, diff_dst, src, mean, var, gamma,
                                                       sum_dy, sum_dy_xhat, rows, c, eps,
                                                       global_stats);
    return last_error();
}

int ic__cuda_k_pool_fwd(float *dst, int32_t *argmax, const float *src, ic__cuda_pool_geom g)
{
    k_pool_fwd<<<blocks_for(g.n * g.oh * g.ow * g.c), kThreads>>>(dst, argmax, src, g);
    return last_error();
}

int ic__cuda_k_pool_bwd(float *diff_src, const float *diff_dst, const int32_t *argmax,
                        ic__cuda_pool_geom g)
{
    k_pool_bwd<<<blocks_for(g.n * g.ih * g.iw * g.c), kThreads>>>(diff_src, diff_dst, argmax, g);
    return last_error();
}

} // extern "C"
