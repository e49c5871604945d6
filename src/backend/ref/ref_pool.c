/* ref_pool.c - reference max and average pooling, forward and backward.
 *
 * Shapes: src is N,IH,IW,C; dst is N,OH,OW,C. Window of output (oy, ox) covers input rows
 * oy*SH - PT .. oy*SH - PT + KH - 1 (likewise columns), clipped to the image: padded
 * cells never win a max and are not counted in an average (TF 'same' semantics).
 *
 * Max backward: the gradient of each output goes to the FIRST maximum of its window in
 * scan order (row-major: ky outer, kx inner; a later equal value does not replace it).
 * The argmax is recomputed from src, so pool_fwd keeps nothing. oneDNN may break exact
 * ties differently; with random test data there are no ties. */
#include <string.h>

#include "backend/ref/ref.h"
#include "core/core.h"

ic_status ic__ref_pool_create(ic__op **op, const ic__pool_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || d->ih <= 0 || d->iw <= 0 || d->c <= 0 || d->oh <= 0 || d->ow <= 0 ||
        d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->pt < 0 || d->pb < 0 ||
        d->pl < 0 || d->pr < 0 || (d->alg != IC__POOL_MAX && d->alg != IC__POOL_AVG))
        return ic_seterr(IC_ERR_INVALID,
                         "ref pool: bad descriptor (src %lld,%lld,%lld,%lld dst %lldx%lld "
                         "kernel %dx%d stride %dx%d pads %d,%d,%d,%d alg %d)",
                         (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->c,
                         (long long)d->oh, (long long)d->ow, d->kh, d->kw, d->sh, d->sw, d->pt,
                         d->pb, d->pl, d->pr, (int)d->alg);
    /* A padding as large as the kernel could leave a window with no real cell. */
    if (d->pt >= d->kh || d->pb >= d->kh || d->pl >= d->kw || d->pr >= d->kw)
        return ic_seterr(IC_ERR_INVALID,
                         "ref pool: padding %d,%d,%d,%d must be smaller than the kernel %dx%d",
                         d->pt, d->pb, d->pl, d->pr, d->kh, d->kw);
    int64_t ph = d->ih + d->pt + d->pb, pw = d->iw + d->pl + d->pr;
    if (ph < d->kh || pw < d->kw || d->oh != (ph - d->kh) / d->sh + 1 ||
        d->ow != (pw - d->kw) / d->sw + 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "ref pool: output %lldx%lld does not match input %lldx%lld, kernel "
                         "%dx%d, stride %dx%d, pads %d,%d,%d,%d",
                         (long long)d->oh, (long long)d->ow, (long long)d->ih, (long long)d->iw,
                         d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr);
    ic_status s = ic__ref_op_new(op, REF_OP_POOL);
    if (s)
        return s;
    (*op)->d.pool = *d;
    return IC_OK;
}

/* The window of output (oy, ox) clipped to the image: rows y0..y1-1, columns x0..x1-1.
 * Never empty, since every padding is smaller than the kernel (checked in create). */
typedef struct window {
    int64_t y0, y1, x0, x1;
} window;

static window pool_window(const ic__pool_desc *d, int64_t oy, int64_t ox)
{
    window w;
    w.y0 = oy * d->sh - d->pt;
    w.y1 = w.y0 + d->kh;
    w.x0 = ox * d->sw - d->pl;
    w.x1 = w.x0 + d->kw;
    if (w.y0 < 0)
        w.y0 = 0;
    if (w.y1 > d->ih)
        w.y1 = d->ih;
    if (w.x0 < 0)
        w.x0 = 0;
    if (w.x1 > d->iw)
        w.x1 = d->iw;
    return w;
}

/* Index into src (N,IH,IW,C) of the first maximum of window w in channel ch of image n. */
static int64_t argmax_first(const ic__pool_desc *d, const float *src, int64_t n, window w,
                            int64_t ch)
{
    int64_t best = -1;
    for (int64_t y = w.y0; y < w.y1; y++) {
        for (int64_t x = w.x0; x < w.x1; x++) {
            int64_t i = ((n * d->ih + y) * d->iw + x) * d->c + ch;
            if (best < 0 || src[i] > src[best])
                best = i;
        }
    }
    return best;
}

/* max: dst[n,oy,ox,ch] = max over the window; avg: sum over the window / number of real
 * cells in it. */
ic_status ic__ref_pool_fwd(ic__op *op, float *dst, const float *src, int training)
{
    ic_status s = ic__ref_op_check(op, REF_OP_POOL, "pool_fwd");
    if (s)
        return s;
    const ic__pool_desc *d = &op->d.pool;
    const int64_t N = d->n, C = d->c, OH = d->oh, OW = d->ow;

#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t oy = 0; oy < OH; oy++) {
            for (int64_t ox = 0; ox < OW; ox++) {
                window w = pool_window(d, oy, ox);
                float *dp = dst + ((n * OH + oy) * OW + ox) * C;
                for (int64_t ch = 0; ch < C; ch++) {
                    if (d->alg == IC__POOL_MAX) {
                        dp[ch] = src[argmax_first(d, src, n, w, ch)];
                    } else {
                        double acc = 0.0;
                        for (int64_t y = w.y0; y < w.y1; y++)
                            for (int64_t x = w.x0; x < w.x1; x++)
                                acc += src[((n * d->ih + y) * d->iw + x) * C + ch];
                        dp[ch] = (float)(acc / (double)((w.y1 - w.y0) * (w.x1 - w.x0)));
                    }
                }
            }
        }
    }
    return IC_OK;
}

/* Scatter: each output's gradient goes to its argmax (max) or is spread evenly over the
 * real cells of its window (avg). One iteration per image, so images write disjoint parts
 * of diff_src and the additions within an image happen in a fixed order. */
ic_status ic__ref_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *src)
{
    ic_status s = ic__ref_op_check(op, REF_OP_POOL, "pool_bwd");
    if (s)
        return s;
    const ic__pool_desc *d = &op->d.pool;
    const int64_t N = d->n, IH = d->ih, IW = d->iw, C = d->c, OH = d->oh, OW = d->ow;
    if (d->alg == IC__POOL_MAX && !src)
        return ic_seterr(IC_ERR_INVALID, "ref pool_bwd: max pooling needs src");

#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *ds = diff_src + n * IH * IW * C; /* this image's diff_src: IH,IW,C */
        memset(ds, 0, (size_t)(IH * IW * C) * sizeof *ds);
        for (int64_t oy = 0; oy < OH; oy++) {
            for (int64_t ox = 0; ox < OW; ox++) {
                window w = pool_window(d, oy, ox);
                const float *dd = diff_dst + ((n * OH + oy) * OW + ox) * C;
                for (int64_t ch = 0; ch < C; ch++) {
                    if (d->alg == IC__POOL_MAX) {
                        diff_src[argmax_first(d, src, n, w, ch)] += dd[ch];
                    } else {
                        float g = (float)((double)dd[ch] /
                                          (double)((w.y1 - w.y0) * (w.x1 - w.x0)));
                        for (int64_t y = w.y0; y < w.y1; y++)
                            for (int64_t x = w.x0; x < w.x1; x++)
                                ds[(y * IW + x) * C + ch] += g;
                    }
                }
            }
        }
    }
    return IC_OK;
}
