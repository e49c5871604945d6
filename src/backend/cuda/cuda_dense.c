/* cuda_dense.c - fully connected layers on cuBLAS (fp32 sgemm/sgemv), bias and
 * activation by our kernel, the bias gradient by a column sum.
 *
 * cuBLAS is column-major; a row-major (r, c) matrix is its column-major (c, r) transpose,
 * so with src (n, ic), weights (ic, oc), dst (n, oc) all row-major:
 *   forward      dst^T (oc x n)  = W^T (oc x ic) . src^T (ic x n)
 *   backward data diff_src^T (ic x n) = W (ic x oc) . dd^T (oc x n)   -> W transposed
 *   backward wts  dW^T (oc x ic) = dd^T (oc x n) . src (n x ic)      -> src transposed
 *
 * The forward runs one sgemv per row (same shape every call, whatever the batch), so a
 * row's output does not depend on the batch it sits in: one sgemm over the whole batch
 * would let cuBLAS pick kernels (and split the reduction) by batch size. A row costs one
 * pass over the weights, which is cheap at the sizes of classifier heads. */
#include <stdio.h>

#include "backend/cuda/cuda_common.h"

typedef struct cuda_dense {
    ic__op h;
    ic__dense_desc d;
    ic__cuda_ctx *ctx;
    float *d_src, *d_dst, *d_w, *d_bias, *d_dw, *d_db;
    ic__cuda_wcache wc;
} cuda_dense;

void ic__cuda_dense_free(ic__op *op)
{
    cuda_dense *c = (cuda_dense *)op;
    float *bufs[] = {c->d_src, c->d_dst, c->d_w, c->d_bias, c->d_dw, c->d_db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ic__cuda_free_buf(bufs[i]);
    ic__free(c);
}

ic_status ic__cuda_dense_create(ic__op **op, const ic__dense_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || d->ic <= 0 || d->oc <= 0 || (int)d->act < 0 || (int)d->act > IC__ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "cuda dense: bad descriptor (%lldx%lld->%lld)",
                         (long long)d->n, (long long)d->ic, (long long)d->oc);
    ic__cuda_ctx *ctx;
    ic__op *o;
    IC__TRY(ic__cuda_op_alloc(&o, sizeof(cuda_dense), IC__CUDA_DENSE, &ctx));
    cuda_dense *c = (cuda_dense *)o;
    c->d = *d;
    c->ctx = ctx;
    snprintf(o->what, sizeof o->what, "dense %lldx%lld->%lld", (long long)d->n, (long long)d->ic,
             (long long)d->oc);
    ic__cuda_lock();
    ic_status s = ic__cuda_alloc(o, (void **)&c->d_src, IC__FLOATS(d->n * d->ic));
    if (!s)
        s = ic__cuda_alloc(o, (void **)&c->d_dst, IC__FLOATS(d->n * d->oc));
    if (!s)
        s = ic__cuda_alloc(o, (void **)&c->d_w, IC__FLOATS(d->ic * d->oc));
    if (!s && d->has_bias)
        s = ic__cuda_alloc(o, (void **)&c->d_bias, IC__FLOATS(d->oc));
    if (s)
        ic__cuda_dense_free(o);
    else
        *op = o;
    ic__cuda_unlock();
    return s;
}

static ic_status dense_weights(cuda_dense *c, const float *w, uint64_t version)
{
    if (ic__cuda_wcache_hit(&c->wc, w, version))
        return IC_OK;
    IC__TRY(ic__cuda_upload(&c->h, c->d_w, w, IC__FLOATS(c->d.ic * c->d.oc)));
    ic__cuda_wcache_set(&c->wc, w, version);
    return IC_OK;
}

static ic_status dense_fwd(cuda_dense *c, float *dst, const float *src, const float *w,
                           uint64_t version, const float *bias)
{
    const ic__dense_desc *d = &c->d;
    ic__op *op = &c->h;
    if (d->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "cuda dense_fwd: has_bias but bias is NULL");
    IC__TRY(ic__cuda_upload(op, c->d_src, src, IC__FLOATS(d->n * d->ic)));
    IC__TRY(dense_weights(c, w, version));
    if (d->has_bias)
        IC__TRY(ic__cuda_upload(op, c->d_bias, bias, IC__FLOATS(d->oc)));
    const float one = 1.f, zero = 0.f;
    /* y (oc) = W^T (oc x ic, column-major view of W with ld oc) . x (ic) */
    for (int64_t r = 0; r < d->n; r++)
        IC__BLAS(op, cublasSgemv(c->ctx->blas, CUBLAS_OP_N, (int)d->oc, (int)d->ic, &one, c->d_w,
                                 (int)d->oc, c->d_src + r * d->ic, 1, &zero, c->d_dst + r * d->oc,
                                 1));
    IC__KER(op, ic__cuda_k_bias_act(c->d_dst, d->has_bias ? c->d_bias : NULL, d->n, d->oc,
                                    (int)d->act));
    return ic__cuda_download(op, dst, c->d_dst, IC__FLOATS(d->n * d->oc));
}

ic_status ic__cuda_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                             uint64_t weights_version, const float *bias)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_DENSE, "dense_fwd"));
    ic__cuda_lock();
    ic_status s = dense_fwd((cuda_dense *)op, dst, src, weights, weights_version, bias);
    ic__cuda_unlock();
    return s;
}

static ic_status dense_bwd_data(cuda_dense *c, float *diff_src, const float *diff_dst,
                                const float *w, uint64_t version)
{
    const ic__dense_desc *d = &c->d;
    ic__op *op = &c->h;
    IC__TRY(ic__cuda_upload(op, c->d_dst, diff_dst, IC__FLOATS(d->n * d->oc)));
    IC__TRY(dense_weights(c, w, version));
    const float one = 1.f, zero = 0.f;
    IC__BLAS(op, cublasSgemm(c->ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)d->ic, (int)d->n,
                             (int)d->oc, &one, c->d_w, (int)d->oc, c->d_dst, (int)d->oc, &zero,
                             c->d_src, (int)d->ic));
    return ic__cuda_download(op, diff_src, c->d_src, IC__FLOATS(d->n * d->ic));
}

ic_status ic__cuda_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                  const float *weights, uint64_t weights_version)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_DENSE, "dense_bwd_data"));
    ic__cuda_lock();
    ic_status s = dense_bwd_data((cuda_dense *)op, diff_src, diff_dst, weights, weights_version);
    ic__cuda_unlock();
    return s;
}

static ic_status dense_bwd_weights(cuda_dense *c, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst)
{
    const ic__dense_desc *d = &c->d;
    ic__op *op = &c->h;
    if (!c->d_dw)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_dw, IC__FLOATS(d->ic * d->oc)));
    if (d->has_bias && !c->d_db)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_db, IC__FLOATS(d->oc)));
    IC__TRY(ic__cuda_upload(op, c->d_src, src, IC__FLOATS(d->n * d->ic)));
    IC__TRY(ic__cuda_upload(op, c->d_dst, diff_dst, IC__FLOATS(d->n * d->oc)));
    const float one = 1.f, zero = 0.f;
    IC__BLAS(op, cublasSgemm(c->ctx->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)d->oc, (int)d->ic,
                             (int)d->n, &one, c->d_dst, (int)d->oc, c->d_src, (int)d->ic, &zero,
                             c->d_dw, (int)d->oc));
    if (d->has_bias && diff_bias)
        IC__KER(op, ic__cuda_k_colsum(c->d_db, c->d_dst, d->n, d->oc));
    IC__TRY(ic__cuda_download(op, diff_weights, c->d_dw, IC__FLOATS(d->ic * d->oc)));
    if (d->has_bias && diff_bias)
        IC__TRY(ic__cuda_download(op, diff_bias, c->d_db, IC__FLOATS(d->oc)));
    return IC_OK;
}

ic_status ic__cuda_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                     const float *src, const float *diff_dst)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_DENSE, "dense_bwd_weights"));
    ic__cuda_lock();
    ic_status s = dense_bwd_weights((cuda_dense *)op, diff_weights, diff_bias, src, diff_dst);
    ic__cuda_unlock();
    return s;
}
