/* cuda_misc.c - pooling, element-wise activations, softmax and batch normalisation: thin
 * wrappers that upload, run a kernel of cuda_kernels.cu and download. The kernels follow
 * the reference backend's formulas (ref_pool.c, ref_misc.c), including its double sums,
 * rather than cuDNN's pooling/softmax/BN, whose conventions differ in places (cuDNN's
 * BN variance and the avg-pool padding rule need care) and whose results would vary
 * more against the oracle. These ops are memory-bound; the copies dominate anyway. */
#include <stdio.h>

#include "backend/cuda/cuda_common.h"

typedef struct cuda_misc {
    ic__op h;
    union {
        ic__pool_desc pool;
        ic__eltwise_desc eltwise;
        ic__softmax_desc softmax;
        ic__bn_desc bn;
    } d;
    float *x, *y;                 /* element buffers (src/diff, dst/diff_dst) */
    float *gamma, *beta, *mean, *var, *dgamma, *dbeta; /* BN: c each */
    double *mean_d, *var_d, *sum_dy, *sum_dyx;         /* BN: c each */
    int32_t *argmax;              /* max pooling: winning tap per output */
    int trained;                  /* pooling: a training forward ran */
} cuda_misc;

static void misc_free(cuda_misc *m)
{
    void *bufs[] = {m->x,      m->y,     m->gamma,  m->beta,   m->mean,    m->var,  m->dgamma,
                    m->dbeta,  m->mean_d, m->var_d, m->sum_dy, m->sum_dyx, m->argmax};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ic__cuda_free_buf(bufs[i]);
    ic__free(m);
}

void ic__cuda_misc_free(ic__op *op) { misc_free((cuda_misc *)op); }
void ic__cuda_pool_free(ic__op *op) { misc_free((cuda_misc *)op); }

/* Allocates the op and its element buffers (nx and ny floats) under the lock. */
static ic_status misc_new(ic__op **op, ic__cuda_kind kind, int64_t nx, int64_t ny,
                          cuda_misc **out)
{
    ic__cuda_ctx *ctx;
    IC__TRY(ic__cuda_op_alloc(op, sizeof(cuda_misc), kind, &ctx));
    cuda_misc *m = (cuda_misc *)*op;
    ic__cuda_lock();
    ic_status s = ic__cuda_alloc(*op, (void **)&m->x, IC__FLOATS(nx));
    if (!s)
        s = ic__cuda_alloc(*op, (void **)&m->y, IC__FLOATS(ny));
    ic__cuda_unlock();
    if (s) {
        misc_free(m);
        *op = NULL;
        return s;
    }
    *out = m;
    return IC_OK;
}

#define LOCKED(expr)                                                                              \
    do {                                                                                          \
        ic__cuda_lock();                                                                          \
        ic_status s_ = (expr);                                                                    \
        ic__cuda_unlock();                                                                        \
        return s_;                                                                                \
    } while (0)

/* ---- pooling ---- */

static ic__cuda_pool_geom pool_geom(const ic__pool_desc *d)
{
    ic__cuda_pool_geom g = {d->n,  d->ih, d->iw, d->c,  d->oh,  d->ow, d->kh,
                            d->kw, d->sh, d->sw, d->pt, d->pl, (int)d->alg};
    return g;
}

ic_status ic__cuda_pool_create(ic__op **op, const ic__pool_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || d->ih <= 0 || d->iw <= 0 || d->c <= 0 || d->kh <= 0 || d->kw <= 0 ||
        d->sh <= 0 || d->sw <= 0 || d->pt < 0 || d->pb < 0 || d->pl < 0 || d->pr < 0 ||
        d->pt >= d->kh || d->pb >= d->kh || d->pl >= d->kw || d->pr >= d->kw ||
        d->oh != (d->ih + d->pt + d->pb - d->kh) / d->sh + 1 ||
        d->ow != (d->iw + d->pl + d->pr - d->kw) / d->sw + 1 ||
        (d->alg != IC__POOL_MAX && d->alg != IC__POOL_AVG))
        return ic_seterr(IC_ERR_SHAPE, "cuda pooling: bad descriptor (%lldx%lldx%lld -> %lldx%lld, "
                                       "kernel %dx%d, stride %dx%d, pads %d,%d,%d,%d)",
                         (long long)d->ih, (long long)d->iw, (long long)d->c, (long long)d->oh,
                         (long long)d->ow, d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr);
    int64_t ns = d->n * d->ih * d->iw * d->c, nd = d->n * d->oh * d->ow * d->c;
    cuda_misc *m;
    IC__TRY(misc_new(op, IC__CUDA_POOL, ns, nd, &m));
    m->d.pool = *d;
    snprintf(m->h.what, sizeof m->h.what, "%s pool n%lld %lldx%lldx%lld k%dx%d s%dx%d",
             d->alg == IC__POOL_MAX ? "max" : "avg", (long long)d->n, (long long)d->ih,
             (long long)d->iw, (long long)d->c, d->kh, d->kw, d->sh, d->sw);
    if (d->alg == IC__POOL_MAX) {
        ic__cuda_lock();
        ic_status s = ic__cuda_alloc(*op, (void **)&m->argmax, (size_t)nd * sizeof(int32_t));
        ic__cuda_unlock();
        if (s) {
            misc_free(m);
            *op = NULL;
            return s;
        }
    }
    return IC_OK;
}

static ic_status pool_fwd(cuda_misc *m, float *dst, const float *src, int training)
{
    const ic__pool_desc *d = &m->d.pool;
    int64_t ns = d->n * d->ih * d->iw * d->c, nd = d->n * d->oh * d->ow * d->c;
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(ns)));
    /* an inference forward leaves the training forward's argmax alone */
    IC__KER(&m->h, ic__cuda_k_pool_fwd(m->y, training ? m->argmax : NULL, m->x, pool_geom(d)));
    IC__TRY(ic__cuda_download(&m->h, dst, m->y, IC__FLOATS(nd)));
    if (training)
        m->trained = 1;
    return IC_OK;
}

ic_status ic__cuda_pool_fwd(ic__op *op, float *dst, const float *src, int training)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_POOL, "pool_fwd"));
    LOCKED(pool_fwd((cuda_misc *)op, dst, src, training));
}

static ic_status pool_bwd(cuda_misc *m, float *diff_src, const float *diff_dst)
{
    const ic__pool_desc *d = &m->d.pool;
    if (d->alg == IC__POOL_MAX && !m->trained)
        return ic_seterr(IC_ERR_INVALID,
                         "cuda backend: %s: max-pool backward needs a training forward first",
                         m->h.what);
    int64_t ns = d->n * d->ih * d->iw * d->c, nd = d->n * d->oh * d->ow * d->c;
    IC__TRY(ic__cuda_upload(&m->h, m->y, diff_dst, IC__FLOATS(nd)));
    IC__KER(&m->h, ic__cuda_k_pool_bwd(m->x, m->y, m->argmax, pool_geom(d)));
    return ic__cuda_download(&m->h, diff_src, m->x, IC__FLOATS(ns));
}

/* src is not needed: max pooling kept its argmax from the training forward. */
ic_status ic__cuda_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *src)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_POOL, "pool_bwd"));
    LOCKED(pool_bwd((cuda_misc *)op, diff_src, diff_dst));
}

/* ---- element-wise activation ---- */

ic_status ic__cuda_eltwise_create(ic__op **op, const ic__eltwise_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || (int)d->act < 0 || (int)d->act > IC__ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "cuda eltwise: bad descriptor (n %lld, act %d)",
                         (long long)d->n, (int)d->act);
    cuda_misc *m;
    IC__TRY(misc_new(op, IC__CUDA_ELTWISE, d->n, d->n, &m));
    m->d.eltwise = *d;
    snprintf(m->h.what, sizeof m->h.what, "eltwise n%lld act %d", (long long)d->n, (int)d->act);
    return IC_OK;
}

static ic_status eltwise_fwd(cuda_misc *m, float *dst, const float *src)
{
    const int64_t n = m->d.eltwise.n;
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(n)));
    IC__KER(&m->h, ic__cuda_k_act_fwd(m->x, m->x, n, (int)m->d.eltwise.act));
    return ic__cuda_download(&m->h, dst, m->x, IC__FLOATS(n));
}

ic_status ic__cuda_eltwise_fwd(ic__op *op, float *dst, const float *src)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_ELTWISE, "eltwise_fwd"));
    LOCKED(eltwise_fwd((cuda_misc *)op, dst, src));
}

static ic_status eltwise_bwd(cuda_misc *m, float *diff_src, const float *diff_dst,
                             const float *dst)
{
    const int64_t n = m->d.eltwise.n;
    IC__TRY(ic__cuda_upload(&m->h, m->x, diff_dst, IC__FLOATS(n)));
    IC__TRY(ic__cuda_upload(&m->h, m->y, dst, IC__FLOATS(n)));
    IC__KER(&m->h, ic__cuda_k_act_bwd(m->x, m->x, m->y, n, (int)m->d.eltwise.act));
    return ic__cuda_download(&m->h, diff_src, m->x, IC__FLOATS(n));
}

ic_status ic__cuda_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                               const float *dst)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_ELTWISE, "eltwise_bwd"));
    LOCKED(eltwise_bwd((cuda_misc *)op, diff_src, diff_dst, dst));
}

/* ---- softmax ---- */

ic_status ic__cuda_softmax_create(ic__op **op, const ic__softmax_desc *d)
{
    *op = NULL;
    if (d->rows <= 0 || d->cols <= 0 || d->rows > 2147483647)
        return ic_seterr(IC_ERR_INVALID, "cuda softmax: bad shape %lldx%lld", (long long)d->rows,
                         (long long)d->cols);
    cuda_misc *m;
    int64_t n = d->rows * d->cols;
    IC__TRY(misc_new(op, IC__CUDA_SOFTMAX, n, n, &m));
    m->d.softmax = *d;
    snprintf(m->h.what, sizeof m->h.what, "softmax %lldx%lld", (long long)d->rows,
             (long long)d->cols);
    return IC_OK;
}

static ic_status softmax_fwd(cuda_misc *m, float *dst, const float *src)
{
    const int64_t r = m->d.softmax.rows, c = m->d.softmax.cols;
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(r * c)));
    IC__KER(&m->h, ic__cuda_k_softmax_fwd(m->x, m->x, r, c));
    return ic__cuda_download(&m->h, dst, m->x, IC__FLOATS(r * c));
}

ic_status ic__cuda_softmax_fwd(ic__op *op, float *dst, const float *src)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_SOFTMAX, "softmax_fwd"));
    LOCKED(softmax_fwd((cuda_misc *)op, dst, src));
}

static ic_status softmax_bwd(cuda_misc *m, float *diff_src, const float *diff_dst,
                             const float *dst)
{
    const int64_t r = m->d.softmax.rows, c = m->d.softmax.cols;
    IC__TRY(ic__cuda_upload(&m->h, m->x, diff_dst, IC__FLOATS(r * c)));
    IC__TRY(ic__cuda_upload(&m->h, m->y, dst, IC__FLOATS(r * c)));
    IC__KER(&m->h, ic__cuda_k_softmax_bwd(m->x, m->x, m->y, r, c));
    return ic__cuda_download(&m->h, diff_src, m->x, IC__FLOATS(r * c));
}

ic_status ic__cuda_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                               const float *dst)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_SOFTMAX, "softmax_bwd"));
    LOCKED(softmax_bwd((cuda_misc *)op, diff_src, diff_dst, dst));
}

/* ---- batch normalisation ---- */

ic_status ic__cuda_bn_create(ic__op **op, const ic__bn_desc *d)
{
    *op = NULL;
    if (d->rows <= 0 || d->c <= 0 || !(d->eps > 0.f))
        return ic_seterr(IC_ERR_INVALID, "cuda batchnorm: bad descriptor (%lldx%lld, eps %g)",
                         (long long)d->rows, (long long)d->c, (double)d->eps);
    cuda_misc *m;
    int64_t n = d->rows * d->c;
    IC__TRY(misc_new(op, IC__CUDA_BN, n, n, &m));
    m->d.bn = *d;
    snprintf(m->h.what, sizeof m->h.what, "batchnorm %lldx%lld", (long long)d->rows,
             (long long)d->c);
    float **fb[] = {&m->gamma, &m->beta, &m->mean, &m->var, &m->dgamma, &m->dbeta};
    double **db[] = {&m->mean_d, &m->var_d, &m->sum_dy, &m->sum_dyx};
    ic_status s = IC_OK;
    ic__cuda_lock();
    for (size_t i = 0; i < sizeof fb / sizeof fb[0] && !s; i++)
        s = ic__cuda_alloc(*op, (void **)fb[i], IC__FLOATS(d->c));
    for (size_t i = 0; i < sizeof db / sizeof db[0] && !s; i++)
        s = ic__cuda_alloc(*op, (void **)db[i], (size_t)d->c * sizeof(double));
    ic__cuda_unlock();
    if (s) {
        misc_free(m);
        *op = NULL;
    }
    return s;
}

/* Uploads gamma/beta when given; returns the device pointers (NULL when not given). */
static ic_status bn_affine(cuda_misc *m, const float *gamma, const float *beta, const float **g,
                           const float **b)
{
    const size_t bytes = IC__FLOATS(m->d.bn.c);
    *g = *b = NULL;
    if (gamma) {
        IC__TRY(ic__cuda_upload(&m->h, m->gamma, gamma, bytes));
        *g = m->gamma;
    }
    if (beta) {
        IC__TRY(ic__cuda_upload(&m->h, m->beta, beta, bytes));
        *b = m->beta;
    }
    return IC_OK;
}

static ic_status bn_fwd_training(cuda_misc *m, float *dst, float *mean, float *var,
                                 const float *src, const float *gamma, const float *beta)
{
    const int64_t r = m->d.bn.rows, c = m->d.bn.c;
    const float *g, *b;
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(r * c)));
    IC__TRY(bn_affine(m, gamma, beta, &g, &b));
    IC__KER(&m->h, ic__cuda_k_bn_stats(m->mean_d, m->var_d, m->mean, m->var, m->x, r, c));
    IC__KER(&m->h, ic__cuda_k_bn_apply(m->y, m->x, g, b, m->mean_d, m->var_d, NULL, NULL, r, c,
                                       m->d.bn.eps));
    IC__TRY(ic__cuda_download(&m->h, dst, m->y, IC__FLOATS(r * c)));
    IC__TRY(ic__cuda_download(&m->h, mean, m->mean, IC__FLOATS(c)));
    return ic__cuda_download(&m->h, var, m->var, IC__FLOATS(c));
}

ic_status ic__cuda_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var,
                                   const float *src, const float *gamma, const float *beta)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_BN, "bn_fwd_training"));
    LOCKED(bn_fwd_training((cuda_misc *)op, dst, mean, var, src, gamma, beta));
}

static ic_status bn_fwd_inference(cuda_misc *m, float *dst, const float *src, const float *gamma,
                                  const float *beta, const float *mean, const float *var)
{
    const int64_t r = m->d.bn.rows, c = m->d.bn.c;
    const float *g, *b;
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(r * c)));
    IC__TRY(bn_affine(m, gamma, beta, &g, &b));
    IC__TRY(ic__cuda_upload(&m->h, m->mean, mean, IC__FLOATS(c)));
    IC__TRY(ic__cuda_upload(&m->h, m->var, var, IC__FLOATS(c)));
    IC__KER(&m->h, ic__cuda_k_bn_apply(m->y, m->x, g, b, NULL, NULL, m->mean, m->var, r, c,
                                       m->d.bn.eps));
    return ic__cuda_download(&m->h, dst, m->y, IC__FLOATS(r * c));
}

ic_status ic__cuda_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                    const float *beta, const float *mean, const float *var)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_BN, "bn_fwd_inference"));
    LOCKED(bn_fwd_inference((cuda_misc *)op, dst, src, gamma, beta, mean, var));
}

static ic_status bn_bwd(cuda_misc *m, float *diff_src, float *diff_gamma, float *diff_beta,
                        const float *diff_dst, const float *src, const float *mean,
                        const float *var, const float *gamma, int global_stats)
{
    const int64_t r = m->d.bn.rows, c = m->d.bn.c;
    const float *g, *unused;
    IC__TRY(ic__cuda_upload(&m->h, m->y, diff_dst, IC__FLOATS(r * c)));
    IC__TRY(ic__cuda_upload(&m->h, m->x, src, IC__FLOATS(r * c)));
    IC__TRY(ic__cuda_upload(&m->h, m->mean, mean, IC__FLOATS(c)));
    IC__TRY(ic__cuda_upload(&m->h, m->var, var, IC__FLOATS(c)));
    IC__TRY(bn_affine(m, gamma, NULL, &g, &unused));
    IC__KER(&m->h, ic__cuda_k_bn_bwd_sums(m->sum_dy, m->sum_dyx, m->dgamma, m->dbeta, m->y, m->x,
                                          m->mean, m->var, r, c, m->d.bn.eps));
    /* element by element, so diff_src can overwrite src's buffer */
    IC__KER(&m->h, ic__cuda_k_bn_bwd_apply(m->x, m->y, m->x, m->mean, m->var, g, m->sum_dy,
                                           m->sum_dyx, r, c, m->d.bn.eps, global_stats));
    IC__TRY(ic__cuda_download(&m->h, diff_src, m->x, IC__FLOATS(r * c)));
    if (diff_gamma)
        IC__TRY(ic__cuda_download(&m->h, diff_gamma, m->dgamma, IC__FLOATS(c)));
    if (diff_beta)
        IC__TRY(ic__cuda_download(&m->h, diff_beta, m->dbeta, IC__FLOATS(c)));
    return IC_OK;
}

ic_status ic__cuda_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                          const float *diff_dst, const float *src, const float *mean,
                          const float *var, const float *gamma, int global_stats)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_BN, "bn_bwd"));
    LOCKED(bn_bwd((cuda_misc *)op, diff_src, diff_gamma, diff_beta, diff_dst, src, mean, var,
                  gamma, global_stats));
}
