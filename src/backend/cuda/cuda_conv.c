/* cuda_conv.c - 2-D convolution on cuDNN's legacy API: forward with bias and activation
 * fused by our own kernel, backward data, backward weights (+ bias by a column sum).
 *
 * Layouts. Activations are NHWC, as on the host, and the filter is converted from HWIO to
 * what cuDNN wants for NHWC (KRSC = OHWI) by a kernel, diff_weights converted back. Where
 * cuDNN has no fp32 NHWC algorithm for a shape (for some grouped shapes it may not), the
 * op runs in NCHW instead: activations are transposed on the device around each call and
 * the filter is KCRS (OIHW). The choice is made once, at create.
 *
 * Padding. cuDNN pads symmetrically only; TF 'same' with an even kernel or stride 2 pads
 * one more row/column at the bottom/right. Those ops copy the input into a zero-padded
 * buffer (our kernel) and run with pad 0; backward data computes the padded gradient and
 * crops it.
 *
 * Algorithms. Chosen once per op at create by cuDNN's heuristics (the Get_v7 queries), not
 * by timing (Find), so the choice and therefore the results are the same in every run;
 * only deterministic algorithms are taken where one is supported (backward filter's
 * ALGO_0/ALGO_3 sum with atomics). The forward prefers the implicit-GEMM algorithms:
 * every output is one dot product over (ky, kx, c) whatever the batch size, which is
 * what makes a sample's result independent of its batch (the validation cache relies on
 * it, engine/val_cache.c); Winograd/FFT/GEMM variants may tile differently by batch size.
 * IC_CUDA_CONV_PER_SAMPLE=1 (read at create) runs the forward one sample per cuDNN call
 * instead, independent of the batch by construction, with any algorithm.
 *
 * Math. CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor cores for fp32 convolutions on
 * Ampere and later (10 mantissa bits), which would not match the reference backend's
 * fp32; CUDNN_FMA_MATH keeps fp32 FMA kernels. IC_CUDA_TF32=1 allows tensor-op math. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_common.h"

typedef struct cuda_conv {
    ic__op h;
    ic__conv_desc d;
    ic__cuda_ctx *ctx;
    int asym;         /* explicit zero-padding copy */
    int nchw;         /* cuDNN runs in NCHW (no NHWC algorithm) */
    int64_t chunk;    /* samples per forward call: n, or 1 (IC_CUDA_CONV_PER_SAMPLE) */
    int64_t ihp, iwp; /* the input cuDNN sees (padded when asym) */
    int64_t ns, nsp, nd, nw;
    cudnnTensorDescriptor_t x, y, xc, yc; /* whole batch; forward chunk */
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t bd_algo;
    cudnnConvolutionBwdFilterAlgo_t bf_algo;
    size_t ws_fwd, ws_bd, ws_bf, ws_size;
    void *ws;
    float *d_src, *d_dst, *d_xpad, *d_xt, *d_yt, *d_w, *d_wtmp, *d_bias;
    float *d_dw, *d_db; /* backward weights, on first use */
    ic__cuda_wcache wc;
    char algos[200];
} cuda_conv;

static const char *fwd_name(cudnnConvolutionFwdAlgo_t a)
{
    static const char *n[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm", "direct",
                              "fft", "fft_tiling", "winograd", "winograd_nonfused"};
    return (unsigned)a < sizeof n / sizeof n[0] ? n[a] : "?";
}

static const char *bd_name(cudnnConvolutionBwdDataAlgo_t a)
{
    static const char *n[] = {"algo_0", "algo_1", "fft", "fft_tiling", "winograd",
                              "winograd_nonfused"};
    return (unsigned)a < sizeof n / sizeof n[0] ? n[a] : "?";
}

static const char *bf_name(cudnnConvolutionBwdFilterAlgo_t a)
{
    static const char *n[] = {"algo_0", "algo_1", "fft", "algo_3", "winograd",
                              "winograd_nonfused", "fft_tiling"};
    return (unsigned)a < sizeof n / sizeof n[0] ? n[a] : "?";
}

static ic_status conv_check(const ic__conv_desc *d)
{
    if (d->n <= 0 || d->ih <= 0 || d->iw <= 0 || d->ic <= 0 || d->oh <= 0 || d->ow <= 0 ||
        d->oc <= 0 || d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->pt < 0 ||
        d->pb < 0 || d->pl < 0 || d->pr < 0 || d->groups <= 0 || d->ic % d->groups ||
        d->oc % d->groups || (int)d->act < 0 || (int)d->act > (int)IC__ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "cuda conv2d: bad descriptor");
    int64_t ph = d->ih + d->pt + d->pb, pw = d->iw + d->pl + d->pr;
    if (ph < d->kh || pw < d->kw || d->oh != (ph - d->kh) / d->sh + 1 ||
        d->ow != (pw - d->kw) / d->sw + 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "cuda conv2d: output %lldx%lld does not match input %lldx%lld, kernel "
                         "%dx%d, stride %dx%d, pads %d,%d,%d,%d",
                         (long long)d->oh, (long long)d->ow, (long long)d->ih, (long long)d->iw,
                         d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr);
    return IC_OK;
}

/* Descriptors for the layout (nchw or not). */
static ic_status set_descs(cuda_conv *c, int nchw)
{
    const ic__conv_desc *d = &c->d;
    cudnnTensorFormat_t f = nchw ? CUDNN_TENSOR_NCHW : CUDNN_TENSOR_NHWC;
    ic__op *op = &c->h;
    IC__DNN(op, cudnnSetTensor4dDescriptor(c->x, f, CUDNN_DATA_FLOAT, (int)d->n, (int)d->ic,
                                           (int)c->ihp, (int)c->iwp));
    IC__DNN(op, cudnnSetTensor4dDescriptor(c->y, f, CUDNN_DATA_FLOAT, (int)d->n, (int)d->oc,
                                           (int)d->oh, (int)d->ow));
    IC__DNN(op, cudnnSetTensor4dDescriptor(c->xc, f, CUDNN_DATA_FLOAT, (int)c->chunk, (int)d->ic,
                                           (int)c->ihp, (int)c->iwp));
    IC__DNN(op, cudnnSetTensor4dDescriptor(c->yc, f, CUDNN_DATA_FLOAT, (int)c->chunk, (int)d->oc,
                                           (int)d->oh, (int)d->ow));
    IC__DNN(op, cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_FLOAT, f, (int)d->oc,
                                           (int)(d->ic / d->groups), d->kh, d->kw));
    int on, oc, oh, ow;
    IC__DNN(op, cudnnGetConvolution2dForwardOutputDim(c->conv, c->x, c->w, &on, &oc, &oh, &ow));
    if (on != d->n || oc != d->oc || oh != d->oh || ow != d->ow)
        return ic_seterr(IC_ERR_INTERNAL, "cuda backend: %s: cuDNN's output is %dx%dx%dx%d",
                         c->h.what, on, oh, ow, oc);
    return IC_OK;
}

/* Picks the algorithms for the current descriptors: IC_OK, or IC_ERR_UNSUPPORTED (no
 * message) when a direction has none. */
static ic_status choose_algos(cuda_conv *c)
{
    cudnnHandle_t h = c->ctx->dnn;
    int got = 0, found = 0;
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    if (cudnnGetConvolutionForwardAlgorithm_v7(h, c->xc, c->w, c->conv, c->yc,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                               fp) != CUDNN_STATUS_SUCCESS)
        return IC_ERR_UNSUPPORTED;
    /* pass 0: implicit GEMM, deterministic (batch-invariant, see the top); 1: any
     * deterministic; 2: anything that runs */
    for (int pass = c->chunk == 1 ? 1 : 0; pass < 3 && !found; pass++)
        for (int i = 0; i < got && !found; i++) {
            cudnnConvolutionFwdAlgo_t a = fp[i].algo;
            size_t ws;
            if (fp[i].status != CUDNN_STATUS_SUCCESS ||
                (pass < 2 && fp[i].determinism != CUDNN_DETERMINISTIC) ||
                (pass == 0 && a != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM &&
                 a != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) ||
                cudnnGetConvolutionForwardWorkspaceSize(h, c->xc, c->w, c->conv, c->yc, a, &ws) !=
                    CUDNN_STATUS_SUCCESS)
                continue;
            c->fwd_algo = a, c->ws_fwd = ws, found = 1;
        }
    if (!found)
        return IC_ERR_UNSUPPORTED;

    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    if (cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c->w, c->y, c->conv, c->x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got,
                                                    dp) != CUDNN_STATUS_SUCCESS)
        return IC_ERR_UNSUPPORTED;
    found = 0;
    for (int pass = 1; pass < 3 && !found; pass++)
        for (int i = 0; i < got && !found; i++) {
            size_t ws;
            if (dp[i].status != CUDNN_STATUS_SUCCESS ||
                (pass < 2 && dp[i].determinism != CUDNN_DETERMINISTIC) ||
                cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->conv, c->x,
                                                             dp[i].algo, &ws) !=
                    CUDNN_STATUS_SUCCESS)
                continue;
            c->bd_algo = dp[i].algo, c->ws_bd = ws, found = 1;
        }
    if (!found)
        return IC_ERR_UNSUPPORTED;

    cudnnConvolutionBwdFilterAlgoPerf_t bp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c->x, c->y, c->conv, c->w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                      &got, bp) != CUDNN_STATUS_SUCCESS)
        return IC_ERR_UNSUPPORTED;
    found = 0;
    for (int pass = 1; pass < 3 && !found; pass++)
        for (int i = 0; i < got && !found; i++) {
            size_t ws;
            if (bp[i].status != CUDNN_STATUS_SUCCESS ||
                (pass < 2 && bp[i].determinism != CUDNN_DETERMINISTIC) ||
                cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->conv, c->w,
                                                               bp[i].algo, &ws) !=
                    CUDNN_STATUS_SUCCESS)
                continue;
            c->bf_algo = bp[i].algo, c->ws_bf = ws, found = 1;
        }
    return found ? IC_OK : IC_ERR_UNSUPPORTED;
}

const char *ic__cuda_conv_algos(const ic__op *op)
{
    return op && op->kind == IC__CUDA_CONV ? ((const cuda_conv *)op)->algos : "";
}

static ic_status grow_ws(cuda_conv *c, size_t need)
{
    if (need <= c->ws_size)
        return IC_OK;
    ic__cuda_free_buf(c->ws);
    c->ws = NULL;
    c->ws_size = 0;
    IC__TRY(ic__cuda_alloc(&c->h, &c->ws, need));
    c->ws_size = need;
    return IC_OK;
}

static ic_status conv_create(cuda_conv *c)
{
    const ic__conv_desc *d = &c->d;
    ic__op *op = &c->h;
    const char *ps = getenv("IC_CUDA_CONV_PER_SAMPLE");
    c->chunk = ps && !strcmp(ps, "1") ? 1 : d->n;
    c->asym = d->pt != d->pb || d->pl != d->pr;
    c->ihp = c->asym ? d->ih + d->pt + d->pb : d->ih;
    c->iwp = c->asym ? d->iw + d->pl + d->pr : d->iw;
    c->ns = d->n * d->ih * d->iw * d->ic;
    c->nsp = d->n * c->ihp * c->iwp * d->ic;
    c->nd = d->n * d->oh * d->ow * d->oc;
    c->nw = (int64_t)d->kh * d->kw * (d->ic / d->groups) * d->oc;
    IC__DNN(op, cudnnCreateTensorDescriptor(&c->x));
    IC__DNN(op, cudnnCreateTensorDescriptor(&c->y));
    IC__DNN(op, cudnnCreateTensorDescriptor(&c->xc));
    IC__DNN(op, cudnnCreateTensorDescriptor(&c->yc));
    IC__DNN(op, cudnnCreateFilterDescriptor(&c->w));
    IC__DNN(op, cudnnCreateConvolutionDescriptor(&c->conv));
    IC__DNN(op, cudnnSetConvolution2dDescriptor(c->conv, c->asym ? 0 : d->pt, c->asym ? 0 : d->pl,
                                                d->sh, d->sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    IC__DNN(op, cudnnSetConvolutionGroupCount(c->conv, d->groups));
    IC__DNN(op, cudnnSetConvolutionMathType(c->conv, c->ctx->tf32 ? CUDNN_TENSOR_OP_MATH
                                                                  : CUDNN_FMA_MATH));
    IC__TRY(set_descs(c, 0));
    ic_status s = choose_algos(c);
    if (s == IC_ERR_UNSUPPORTED) {
        c->nchw = 1;
        IC__TRY(set_descs(c, 1));
        s = choose_algos(c);
        if (s == IC_ERR_UNSUPPORTED)
            return ic_seterr(IC_ERR_UNSUPPORTED,
                             "cuda backend: %s: cuDNN has no fp32 algorithm for this shape",
                             c->h.what);
    }
    IC__TRY(s);
    snprintf(c->algos, sizeof c->algos, "%s fwd %s%s, bwd_data %s, bwd_filter %s",
             c->nchw ? "nchw" : "nhwc", fwd_name(c->fwd_algo), c->chunk == 1 ? " per sample" : "",
             bd_name(c->bd_algo), bf_name(c->bf_algo));
    IC__TRY(grow_ws(c, c->ws_fwd));
    IC__TRY(ic__cuda_alloc(op, (void **)&c->d_src, IC__FLOATS(c->ns)));
    IC__TRY(ic__cuda_alloc(op, (void **)&c->d_dst, IC__FLOATS(c->nd)));
    if (c->asym)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_xpad, IC__FLOATS(c->nsp)));
    if (c->nchw) {
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_xt, IC__FLOATS(c->nsp)));
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_yt, IC__FLOATS(c->nd)));
    }
    IC__TRY(ic__cuda_alloc(op, (void **)&c->d_w, IC__FLOATS(c->nw)));
    IC__TRY(ic__cuda_alloc(op, (void **)&c->d_wtmp, IC__FLOATS(c->nw)));
    if (d->has_bias)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_bias, IC__FLOATS(d->oc)));
    return IC_OK;
}

void ic__cuda_conv_free(ic__op *op)
{
    cuda_conv *c = (cuda_conv *)op;
    if (c->x)
        cudnnDestroyTensorDescriptor(c->x);
    if (c->y)
        cudnnDestroyTensorDescriptor(c->y);
    if (c->xc)
        cudnnDestroyTensorDescriptor(c->xc);
    if (c->yc)
        cudnnDestroyTensorDescriptor(c->yc);
    if (c->w)
        cudnnDestroyFilterDescriptor(c->w);
    if (c->conv)
        cudnnDestroyConvolutionDescriptor(c->conv);
    float *bufs[] = {c->d_src, c->d_dst, c->d_xpad, c->d_xt, c->d_yt,
                     c->d_w,   c->d_wtmp, c->d_bias, c->d_dw, c->d_db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ic__cuda_free_buf(bufs[i]);
    ic__cuda_free_buf(c->ws);
    ic__free(c);
}

ic_status ic__cuda_conv_create(ic__op **op, const ic__conv_desc *d)
{
    *op = NULL;
    IC__TRY(conv_check(d));
    ic__cuda_ctx *ctx;
    ic__op *o;
    IC__TRY(ic__cuda_op_alloc(&o, sizeof(cuda_conv), IC__CUDA_CONV, &ctx));
    cuda_conv *c = (cuda_conv *)o;
    c->d = *d;
    c->ctx = ctx;
    snprintf(o->what, sizeof o->what,
             "conv2d n%lld %lldx%lldx%lld->%lld k%dx%d s%dx%d p%d,%d,%d,%d g%d",
             (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic,
             (long long)d->oc, d->kh, d->kw, d->sh, d->sw, d->pt, d->pb, d->pl, d->pr, d->groups);
    ic__cuda_lock();
    ic_status s = conv_create(c);
    if (s != IC_OK)
        ic__cuda_conv_free(o);
    else
        *op = o;
    ic__cuda_unlock();
    return s;
}

/* The cached device filter for host weights (w, version), converted to cuDNN's layout. */
static ic_status conv_weights(cuda_conv *c, const float *w, uint64_t version)
{
    if (ic__cuda_wcache_hit(&c->wc, w, version))
        return IC_OK;
    const ic__conv_desc *d = &c->d;
    int64_t s = (int64_t)d->kh * d->kw, icg = d->ic / d->groups;
    IC__TRY(ic__cuda_upload(&c->h, c->d_wtmp, w, IC__FLOATS(c->nw)));
    if (c->nchw)
        IC__KER(&c->h, ic__cuda_k_hwio_to_oihw(c->d_w, c->d_wtmp, s, icg, d->oc));
    else
        IC__KER(&c->h, ic__cuda_k_hwio_to_ohwi(c->d_w, c->d_wtmp, s, icg, d->oc));
    ic__cuda_wcache_set(&c->wc, w, version);
    return IC_OK;
}

/* d_src (uploaded) as cuDNN reads it: padded and/or transposed. */
static ic_status conv_input(cuda_conv *c, const float **x)
{
    const ic__conv_desc *d = &c->d;
    const float *p = c->d_src;
    if (c->asym) {
        IC__KER(&c->h, ic__cuda_k_pad(c->d_xpad, c->d_src, d->n, d->ih, d->iw, d->ic, d->pt, d->pb,
                                      d->pl, d->pr));
        p = c->d_xpad;
    }
    if (c->nchw) {
        IC__KER(&c->h, ic__cuda_k_nhwc_to_nchw(c->d_xt, p, d->n, c->ihp * c->iwp, d->ic));
        p = c->d_xt;
    }
    *x = p;
    return IC_OK;
}

/* d_dst (an uploaded diff_dst) as cuDNN reads it. */
static ic_status conv_diff_dst(cuda_conv *c, const float **dy)
{
    const ic__conv_desc *d = &c->d;
    *dy = c->d_dst;
    if (c->nchw) {
        IC__KER(&c->h, ic__cuda_k_nhwc_to_nchw(c->d_yt, c->d_dst, d->n, d->oh * d->ow, d->oc));
        *dy = c->d_yt;
    }
    return IC_OK;
}

static ic_status conv_fwd(cuda_conv *c, float *dst, const float *src, const float *weights,
                          uint64_t version, const float *bias)
{
    const ic__conv_desc *d = &c->d;
    ic__op *op = &c->h;
    if (d->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "cuda conv_fwd: has_bias but bias is NULL");
    IC__TRY(ic__cuda_upload(op, c->d_src, src, IC__FLOATS(c->ns)));
    IC__TRY(conv_weights(c, weights, version));
    if (d->has_bias)
        IC__TRY(ic__cuda_upload(op, c->d_bias, bias, IC__FLOATS(d->oc)));
    const float *x;
    IC__TRY(conv_input(c, &x));
    float *y = c->nchw ? c->d_yt : c->d_dst;
    const float one = 1.f, zero = 0.f;
    const int64_t xs = c->ihp * c->iwp * d->ic, ys = d->oh * d->ow * d->oc; /* per sample */
    for (int64_t b = 0; b < d->n; b += c->chunk)
        IC__DNN(op, cudnnConvolutionForward(c->ctx->dnn, &one, c->xc, x + b * xs, c->w, c->d_w,
                                            c->conv, c->fwd_algo, c->ws, c->ws_fwd, &zero, c->yc,
                                            y + b * ys));
    if (c->nchw)
        IC__KER(op, ic__cuda_k_nchw_to_nhwc(c->d_dst, c->d_yt, d->n, d->oh * d->ow, d->oc));
    IC__KER(op, ic__cuda_k_bias_act(c->d_dst, d->has_bias ? c->d_bias : NULL,
                                    d->n * d->oh * d->ow, d->oc, (int)d->act));
    return ic__cuda_download(op, dst, c->d_dst, IC__FLOATS(c->nd));
}

ic_status ic__cuda_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_CONV, "conv_fwd"));
    ic__cuda_lock();
    ic_status s = conv_fwd((cuda_conv *)op, dst, src, weights, weights_version, bias);
    ic__cuda_unlock();
    return s;
}

static ic_status conv_bwd_data(cuda_conv *c, float *diff_src, const float *diff_dst,
                               const float *weights, uint64_t version)
{
    const ic__conv_desc *d = &c->d;
    ic__op *op = &c->h;
    IC__TRY(grow_ws(c, c->ws_bd));
    IC__TRY(ic__cuda_upload(op, c->d_dst, diff_dst, IC__FLOATS(c->nd)));
    IC__TRY(conv_weights(c, weights, version));
    const float *dy;
    IC__TRY(conv_diff_dst(c, &dy));
    float *pad_or_src = c->asym ? c->d_xpad : c->d_src; /* NHWC, cuDNN's input size */
    float *dx = c->nchw ? c->d_xt : pad_or_src;
    const float one = 1.f, zero = 0.f;
    IC__DNN(op, cudnnConvolutionBackwardData(c->ctx->dnn, &one, c->w, c->d_w, c->y, dy, c->conv,
                                             c->bd_algo, c->ws, c->ws_bd, &zero, c->x, dx));
    if (c->nchw)
        IC__KER(op, ic__cuda_k_nchw_to_nhwc(pad_or_src, c->d_xt, d->n, c->ihp * c->iwp, d->ic));
    if (c->asym)
        IC__KER(op, ic__cuda_k_crop(c->d_src, c->d_xpad, d->n, d->ih, d->iw, d->ic, d->pt, d->pb,
                                    d->pl, d->pr));
    return ic__cuda_download(op, diff_src, c->d_src, IC__FLOATS(c->ns));
}

ic_status ic__cuda_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_CONV, "conv_bwd_data"));
    ic__cuda_lock();
    ic_status s = conv_bwd_data((cuda_conv *)op, diff_src, diff_dst, weights, weights_version);
    ic__cuda_unlock();
    return s;
}

static ic_status conv_bwd_weights(cuda_conv *c, float *diff_weights, float *diff_bias,
                                  const float *src, const float *diff_dst)
{
    const ic__conv_desc *d = &c->d;
    ic__op *op = &c->h;
    IC__TRY(grow_ws(c, c->ws_bf));
    if (!c->d_dw)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_dw, IC__FLOATS(c->nw)));
    if (d->has_bias && !c->d_db)
        IC__TRY(ic__cuda_alloc(op, (void **)&c->d_db, IC__FLOATS(d->oc)));
    IC__TRY(ic__cuda_upload(op, c->d_src, src, IC__FLOATS(c->ns)));
    IC__TRY(ic__cuda_upload(op, c->d_dst, diff_dst, IC__FLOATS(c->nd)));
    const float *x, *dy;
    IC__TRY(conv_input(c, &x));
    IC__TRY(conv_diff_dst(c, &dy));
    const float one = 1.f, zero = 0.f;
    IC__DNN(op, cudnnConvolutionBackwardFilter(c->ctx->dnn, &one, c->x, x, c->y, dy, c->conv,
                                               c->bf_algo, c->ws, c->ws_bf, &zero, c->w, c->d_dw));
    /* back to HWIO in the upload buffer (it holds nothing between calls; the cached
     * filter is d_w) */
    int64_t s = (int64_t)d->kh * d->kw, icg = d->ic / d->groups;
    if (c->nchw)
        IC__KER(op, ic__cuda_k_oihw_to_hwio(c->d_wtmp, c->d_dw, s, icg, d->oc));
    else
        IC__KER(op, ic__cuda_k_ohwi_to_hwio(c->d_wtmp, c->d_dw, s, icg, d->oc));
    if (d->has_bias && diff_bias)
        IC__KER(op, ic__cuda_k_colsum(c->d_db, c->d_dst, d->n * d->oh * d->ow, d->oc));
    IC__TRY(ic__cuda_download(op, diff_weights, c->d_wtmp, IC__FLOATS(c->nw)));
    if (d->has_bias && diff_bias)
        IC__TRY(ic__cuda_download(op, diff_bias, c->d_db, IC__FLOATS(d->oc)));
    return IC_OK;
}

ic_status ic__cuda_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst)
{
    IC__TRY(ic__cuda_op_check(op, IC__CUDA_CONV, "conv_bwd_weights"));
    ic__cuda_lock();
    ic_status s = conv_bwd_weights((cuda_conv *)op, diff_weights, diff_bias, src, diff_dst);
    ic__cuda_unlock();
    return s;
}
