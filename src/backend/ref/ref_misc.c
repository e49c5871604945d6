/* ref_misc.c - reference element-wise activation, softmax over the last axis, and batch
 * normalisation (training and inference forward, backward for both). */
#include <math.h>
#include <string.h>

#include "backend/ref/ref.h"
#include "core/core.h"

/* ---- element-wise activation: x is n values ---- */

ic_status ic__ref_eltwise_create(ic__op **op, const ic__eltwise_desc *d)
{
    *op = NULL;
    if (d->n <= 0)
        return ic_seterr(IC_ERR_INVALID, "ref eltwise: bad size %lld", (long long)d->n);
    ic_status s = ic__ref_act_check(d->act, "eltwise_create");
    if (s)
        return s;
    s = ic__ref_op_new(op, REF_OP_ELTWISE);
    if (s)
        return s;
    (*op)->d.eltwise = *d;
    return IC_OK;
}

enum { ELT_CHUNK = 4096 }; /* values per parallel chunk; element-wise, so any split is exact */

/* dst = act(src); dst may alias src. */
ic_status ic__ref_eltwise_fwd(ic__op *op, float *dst, const float *src)
{
    ic_status s = ic__ref_op_check(op, REF_OP_ELTWISE, "eltwise_fwd");
    if (s)
        return s;
    const int64_t n = op->d.eltwise.n;
    const ic__act act = op->d.eltwise.act;
    if (dst != src)
        memmove(dst, src, (size_t)n * sizeof *dst);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += ELT_CHUNK)
        ic__act_fwd_inplace(act, dst + i, n - i < ELT_CHUNK ? n - i : ELT_CHUNK);
    return IC_OK;
}

/* diff_src = diff_dst * act'(x), the derivative written through dst = act(x);
 * diff_src may alias diff_dst. */
ic_status ic__ref_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                              const float *dst)
{
    ic_status s = ic__ref_op_check(op, REF_OP_ELTWISE, "eltwise_bwd");
    if (s)
        return s;
    const int64_t n = op->d.eltwise.n;
    const ic__act act = op->d.eltwise.act;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += ELT_CHUNK)
        ic__act_bwd_from_dst(act, diff_src + i, diff_dst + i, dst + i,
                             n - i < ELT_CHUNK ? n - i : ELT_CHUNK);
    return IC_OK;
}

/* ---- softmax over the last axis: src/dst are ROWS,COLS ---- */

ic_status ic__ref_softmax_create(ic__op **op, const ic__softmax_desc *d)
{
    *op = NULL;
    if (d->rows <= 0 || d->cols <= 0)
        return ic_seterr(IC_ERR_INVALID, "ref softmax: bad shape %lldx%lld",
                         (long long)d->rows, (long long)d->cols);
    ic_status s = ic__ref_op_new(op, REF_OP_SOFTMAX);
    if (s)
        return s;
    (*op)->d.softmax = *d;
    return IC_OK;
}

/* dst[r,j] = exp(src[r,j] - max_r) / sum_k exp(src[r,k] - max_r); dst may alias src. */
ic_status ic__ref_softmax_fwd(ic__op *op, float *dst, const float *src)
{
    ic_status s = ic__ref_op_check(op, REF_OP_SOFTMAX, "softmax_fwd");
    if (s)
        return s;
    const int64_t R = op->d.softmax.rows, C = op->d.softmax.cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *x = src + r * C;
        float *y = dst + r * C;
        float mx = x[0];
        for (int64_t j = 1; j < C; j++)
            mx = x[j] > mx ? x[j] : mx;
        double sum = 0.0;
        for (int64_t j = 0; j < C; j++) {
            double e = exp((double)x[j] - (double)mx);
            y[j] = (float)e; /* x[j] is read before y[j] is written: aliasing is fine */
            sum += e;
        }
        for (int64_t j = 0; j < C; j++)
            y[j] = (float)((double)y[j] / sum);
    }
    return IC_OK;
}

/* diff_src[r,j] = dst[r,j] * (diff_dst[r,j] - sum_k diff_dst[r,k] * dst[r,k]);
 * diff_src may alias diff_dst. */
ic_status ic__ref_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                              const float *dst)
{
    ic_status s = ic__ref_op_check(op, REF_OP_SOFTMAX, "softmax_bwd");
    if (s)
        return s;
    const int64_t R = op->d.softmax.rows, C = op->d.softmax.cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        const float *dy = diff_dst + r * C, *y = dst + r * C;
        double dot = 0.0;
        for (int64_t j = 0; j < C; j++)
            dot += (double)dy[j] * (double)y[j];
        for (int64_t j = 0; j < C; j++)
            diff_src[r * C + j] = (float)((double)y[j] * ((double)dy[j] - dot));
    }
    return IC_OK;
}

/* ---- batch normalisation: src/dst are ROWS,C (ROWS = N*H*W); statistics are C ---- */

ic_status ic__ref_bn_create(ic__op **op, const ic__bn_desc *d)
{
    *op = NULL;
    if (d->rows <= 0 || d->c <= 0 || !(d->eps >= 0.f))
        return ic_seterr(IC_ERR_INVALID, "ref batchnorm: bad descriptor (%lldx%lld, eps %g)",
                         (long long)d->rows, (long long)d->c, (double)d->eps);
    ic_status s = ic__ref_op_new(op, REF_OP_BN);
    if (s)
        return s;
    (*op)->d.bn = *d;
    return IC_OK;
}

/* dst = gamma * (src - mean) / sqrt(var + eps) + beta with the batch statistics
 * mean[c] = sum_r src[r,c] / ROWS and var[c] = sum_r (src[r,c] - mean[c])^2 / ROWS
 * (biased), both written out. gamma/beta NULL mean 1/0. */
ic_status ic__ref_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var,
                                  const float *src, const float *gamma, const float *beta)
{
    ic_status s = ic__ref_op_check(op, REF_OP_BN, "bn_fwd_training");
    if (s)
        return s;
    const int64_t R = op->d.bn.rows, C = op->d.bn.c;
    const double eps = op->d.bn.eps;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double m = 0.0, v = 0.0;
        for (int64_t r = 0; r < R; r++)
            m += src[r * C + c];
        m /= (double)R;
        for (int64_t r = 0; r < R; r++) {
            double t = (double)src[r * C + c] - m;
            v += t * t;
        }
        v /= (double)R;
        mean[c] = (float)m;
        var[c] = (float)v;
        const double scale = (gamma ? (double)gamma[c] : 1.0) / sqrt(v + eps);
        const double shift = beta ? (double)beta[c] : 0.0;
        for (int64_t r = 0; r < R; r++)
            dst[r * C + c] = (float)(((double)src[r * C + c] - m) * scale + shift);
    }
    return IC_OK;
}

/* The same formula with given (moving) statistics. */
ic_status ic__ref_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                   const float *beta, const float *mean, const float *var)
{
    ic_status s = ic__ref_op_check(op, REF_OP_BN, "bn_fwd_inference");
    if (s)
        return s;
    const int64_t R = op->d.bn.rows, C = op->d.bn.c;
    const double eps = op->d.bn.eps;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        for (int64_t c = 0; c < C; c++) {
            const double scale = (gamma ? (double)gamma[c] : 1.0) / sqrt((double)var[c] + eps);
            const double shift = beta ? (double)beta[c] : 0.0;
            dst[r * C + c] = (float)(((double)src[r * C + c] - (double)mean[c]) * scale + shift);
        }
    }
    return IC_OK;
}

/* With xhat = (src - mean) * inv_std, inv_std = 1 / sqrt(var + eps), dy = diff_dst:
 *   diff_beta[c]  = sum_r dy[r,c]
 *   diff_gamma[c] = sum_r dy[r,c] * xhat[r,c]
 *   global_stats = 1 (mean/var constants):
 *     diff_src = gamma * inv_std * dy
 *   global_stats = 0 (mean/var are functions of src, the batch statistics):
 *     diff_src = gamma * inv_std * (dy - diff_beta / ROWS - xhat * diff_gamma / ROWS)
 * diff_gamma/diff_beta may be NULL (not wanted); gamma NULL means 1. */
ic_status ic__ref_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                         const float *diff_dst, const float *src, const float *mean,
                         const float *var, const float *gamma, int global_stats)
{
    ic_status s = ic__ref_op_check(op, REF_OP_BN, "bn_bwd");
    if (s)
        return s;
    const int64_t R = op->d.bn.rows, C = op->d.bn.c;
    const double eps = op->d.bn.eps;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const double m = mean[c];
        const double inv_std = 1.0 / sqrt((double)var[c] + eps);
        const double g = gamma ? (double)gamma[c] : 1.0;
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t r = 0; r < R; r++) {
            const double dy = diff_dst[r * C + c];
            sum_dy += dy;
            sum_dy_xhat += dy * ((double)src[r * C + c] - m) * inv_std;
        }
        if (diff_beta)
            diff_beta[c] = (float)sum_dy;
        if (diff_gamma)
            diff_gamma[c] = (float)sum_dy_xhat;
        for (int64_t r = 0; r < R; r++) {
            double dy = diff_dst[r * C + c];
            if (!global_stats) {
                const double xhat = ((double)src[r * C + c] - m) * inv_std;
                dy -= sum_dy / (double)R + xhat * sum_dy_xhat / (double)R;
            }
            diff_src[r * C + c] = (float)(g * inv_std * dy);
        }
    }
    return IC_OK;
}
