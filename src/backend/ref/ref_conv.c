/* ref_conv.c - reference 2-D convolution (cross-correlation, as TF/Keras): forward with
 * fused bias and activation, backward data and backward weights. Grouped and depthwise
 * convolutions are the same loops with a group offset on the input channel.
 *
 * Shapes (backend.h): src is N,IH,IW,IC; dst is N,OH,OW,OC; weights are KH,KW,IC/G,OC
 * (HWIO); bias is OC. With G groups, output channel o belongs to group g = o / (OC/G)
 * and reads input channels g*(IC/G) .. g*(IC/G) + IC/G - 1; for depthwise (G = IC) that
 * is input channel o / depth_multiplier, Keras's c * depth_multiplier + m order.
 *
 * Output pixel (oy, ox) with tap (ky, kx) reads input pixel
 *     iy = oy*SH - PT + ky,  ix = ox*SW - PL + kx
 * and taps outside 0..IH-1 / 0..IW-1 read the zero padding. */
#include "backend/ref/ref.h"
#include "core/core.h"

ic_status ic__ref_conv_create(ic__op **op, const ic__conv_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || d->ih <= 0 || d->iw <= 0 || d->ic <= 0 || d->oh <= 0 || d->ow <= 0 ||
        d->oc <= 0 || d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->pt < 0 ||
        d->pb < 0 || d->pl < 0 || d->pr < 0 || d->groups <= 0)
        return ic_seterr(IC_ERR_INVALID,
                         "ref conv: bad descriptor (src %lld,%lld,%lld,%lld dst %lldx%lldx%lld "
                         "kernel %dx%d stride %dx%d pads %d,%d,%d,%d groups %d)",
                         (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic,
                         (long long)d->oh, (long long)d->ow, (long long)d->oc, d->kh, d->kw,
                         d->sh, d->sw, d->pt, d->pb, d->pl, d->pr, d->groups);
    if (d->ic % d->groups || d->oc % d->groups)
        return ic_seterr(IC_ERR_INVALID,
                         "ref conv: groups %d must divide input channels %lld and output "
                         "channels %lld",
                         d->groups, (long long)d->ic, (long long)d->oc);
    int64_t ph = d->ih + d->pt + d->pb, pw = d->iw + d->pl + d->pr;
    if (ph < d->kh || pw < d->kw || d->oh != (ph - d->kh) / d->sh + 1 ||
        d->ow != (pw - d->kw) / d->sw + 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "ref conv: output %lldx%lld does not match input %lldx%lld, kernel "
                         "%dx%d, stride %dx%d, pads %d,%d,%d,%d",
                         (long long)d->oh, (long long)d->ow, (long long)d->ih, (long long)d->iw,
                         d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr);
    ic_status s = ic__ref_act_check(d->act, "conv_create");
    if (s)
        return s;
    s = ic__ref_op_new(op, REF_OP_CONV);
    if (s)
        return s;
    (*op)->d.conv = *d;
    return IC_OK;
}

/* dst[n,oy,ox,o] = act(bias[o] + sum_{ky,kx,c} src[n,iy,ix,g*ICG+c] * w[ky,kx,c,o]). */
ic_status ic__ref_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias)
{
    ic_status s = ic__ref_op_check(op, REF_OP_CONV, "conv_fwd");
    if (s)
        return s;
    const ic__conv_desc *d = &op->d.conv;
    if (d->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "ref conv_fwd: has_bias but bias is NULL");
    const int64_t N = d->n, IH = d->ih, IW = d->iw, IC = d->ic;
    const int64_t OH = d->oh, OW = d->ow, OC = d->oc;
    const int64_t ICG = IC / d->groups, OCG = OC / d->groups;
    float *tmp; /* bf16: the rounded inputs */
    s = ic__ref_prec_inputs(d->prec, src, N * IH * IW * IC, weights,
                            (int64_t)d->kh * d->kw * ICG * OC, &src, &weights, &tmp);
    if (s)
        return s;

#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t oy = 0; oy < OH; oy++) {
            float *drow = dst + ((n * OH + oy) * OW) * OC; /* dst row n,oy: OW,OC */
            for (int64_t ox = 0; ox < OW; ox++) {
                for (int64_t o = 0; o < OC; o++) {
                    const int64_t cbase = (o / OCG) * ICG; /* first input channel of o's group */
                    double acc = d->has_bias ? (double)bias[o] : 0.0;
                    for (int ky = 0; ky < d->kh; ky++) {
                        const int64_t iy = oy * d->sh - d->pt + ky;
                        if (iy < 0 || iy >= IH)
                            continue; /* zero padding */
                        for (int kx = 0; kx < d->kw; kx++) {
                            const int64_t ix = ox * d->sw - d->pl + kx;
                            if (ix < 0 || ix >= IW)
                                continue;
                            const float *sp = src + ((n * IH + iy) * IW + ix) * IC + cbase;
                            const float *wp = weights + ((int64_t)ky * d->kw + kx) * ICG * OC + o;
                            for (int64_t c = 0; c < ICG; c++)
                                acc += (double)sp[c] * (double)wp[c * OC];
                        }
                    }
                    drow[ox * OC + o] = (float)acc;
                }
            }
            ic__act_fwd_inplace(d->act, drow, OW * OC);
        }
    }
    ic__free(tmp);
    return IC_OK;
}

/* diff_src[n,iy,ix,ci] = sum over every (oy,ox,ky,kx,o) that read src[n,iy,ix,ci] of
 * diff_dst[n,oy,ox,o] * w[ky,kx,ci-cbase,o]. Written as a gather: for each input pixel and
 * tap, oy = (iy + PT - ky) / SH must be an exact non-negative integer below OH. */
ic_status ic__ref_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version)
{
    ic_status s = ic__ref_op_check(op, REF_OP_CONV, "conv_bwd_data");
    if (s)
        return s;
    const ic__conv_desc *d = &op->d.conv;
    const int64_t N = d->n, IH = d->ih, IW = d->iw, IC = d->ic;
    const int64_t OH = d->oh, OW = d->ow, OC = d->oc;
    const int64_t ICG = IC / d->groups, OCG = OC / d->groups;
    float *tmp;
    s = ic__ref_prec_inputs(d->prec, diff_dst, N * OH * OW * OC, weights,
                            (int64_t)d->kh * d->kw * ICG * OC, &diff_dst, &weights, &tmp);
    if (s)
        return s;

#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t iy = 0; iy < IH; iy++) {
            for (int64_t ix = 0; ix < IW; ix++) {
                for (int64_t ci = 0; ci < IC; ci++) {
                    const int64_t g = ci / ICG, c = ci - g * ICG; /* group, channel in group */
                    double acc = 0.0;
                    for (int ky = 0; ky < d->kh; ky++) {
                        const int64_t ty = iy + d->pt - ky; /* = oy * SH */
                        if (ty < 0 || ty % d->sh)
                            continue;
                        const int64_t oy = ty / d->sh;
                        if (oy >= OH)
                            continue;
                        for (int kx = 0; kx < d->kw; kx++) {
                            const int64_t tx = ix + d->pl - kx; /* = ox * SW */
                            if (tx < 0 || tx % d->sw)
                                continue;
                            const int64_t ox = tx / d->sw;
                            if (ox >= OW)
                                continue;
                            const float *dp = diff_dst + ((n * OH + oy) * OW + ox) * OC;
                            const float *wp = weights + (((int64_t)ky * d->kw + kx) * ICG + c) * OC;
                            for (int64_t o = g * OCG; o < (g + 1) * OCG; o++)
                                acc += (double)dp[o] * (double)wp[o];
                        }
                    }
                    diff_src[((n * IH + iy) * IW + ix) * IC + ci] = (float)acc;
                }
            }
        }
    }
    ic__free(tmp);
    return IC_OK;
}

/* diff_w[ky,kx,c,o] = sum_{n,oy,ox} src[n,iy,ix,cbase(o)+c] * diff_dst[n,oy,ox,o];
 * diff_bias[o] = sum_{n,oy,ox} diff_dst[n,oy,ox,o]. diff_bias may be NULL (not wanted). */
ic_status ic__ref_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst)
{
    ic_status s = ic__ref_op_check(op, REF_OP_CONV, "conv_bwd_weights");
    if (s)
        return s;
    const ic__conv_desc *d = &op->d.conv;
    const int64_t N = d->n, IH = d->ih, IW = d->iw, IC = d->ic;
    const int64_t OH = d->oh, OW = d->ow, OC = d->oc;
    const int64_t ICG = IC / d->groups, OCG = OC / d->groups;
    const int64_t KHW = (int64_t)d->kh * d->kw;
    float *tmp; /* bf16: diff_bias then sums the rounded diff_dst, as a bf16 kernel does */
    s = ic__ref_prec_inputs(d->prec, src, N * IH * IW * IC, diff_dst, N * OH * OW * OC, &src,
                            &diff_dst, &tmp);
    if (s)
        return s;

    /* One iteration per weight element (tap k = ky*KW+kx, channel in group c, output o). */
#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t k = 0; k < KHW; k++) {
        for (int64_t c = 0; c < ICG; c++) {
            for (int64_t o = 0; o < OC; o++) {
                const int64_t ky = k / d->kw, kx = k % d->kw;
                const int64_t ci = (o / OCG) * ICG + c; /* the input channel this weight reads */
                double acc = 0.0;
                for (int64_t n = 0; n < N; n++) {
                    for (int64_t oy = 0; oy < OH; oy++) {
                        const int64_t iy = oy * d->sh - d->pt + ky;
                        if (iy < 0 || iy >= IH)
                            continue;
                        for (int64_t ox = 0; ox < OW; ox++) {
                            const int64_t ix = ox * d->sw - d->pl + kx;
                            if (ix < 0 || ix >= IW)
                                continue;
                            acc += (double)src[((n * IH + iy) * IW + ix) * IC + ci] *
                                   (double)diff_dst[((n * OH + oy) * OW + ox) * OC + o];
                        }
                    }
                }
                diff_weights[(k * ICG + c) * OC + o] = (float)acc;
            }
        }
    }

    if (d->has_bias && diff_bias) {
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < OC; o++) {
            double acc = 0.0;
            for (int64_t p = 0; p < N * OH * OW; p++) /* every output pixel of every image */
                acc += (double)diff_dst[p * OC + o];
            diff_bias[o] = (float)acc;
        }
    }
    ic__free(tmp);
    return IC_OK;
}
