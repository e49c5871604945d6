/* cpu_conv.c - 2-D convolution on oneDNN: forward with bias and a fused activation
 * (eltwise post-op), backward data, backward weights (+bias); grouped (depthwise); in
 * f32 or bf16 (d->prec). This file only describes the convolution; running it is the
 * weighted primitive's job (cpu_wprim.c).
 *
 * Host layouts: src (n,ih,iw,ic) and dst (n,oh,ow,oc) are oneDNN's nhwc over logical
 * (n,c,h,w). Host weights (kh,kw,ic/g,oc) with oc = group * (oc/g) + m are, over
 * oneDNN's logical (oc,ic,kh,kw) [g = 1] or (g,oc/g,ic/g,kh,kw), the strided layout
 * "hwio" / "hwigo" (described here by explicit strides). The primitives choose their
 * own weights layout (format_tag_any); the forward and backward-data copies are cached
 * by (pointer, weights_version) and shared when both passes want the same layout.
 *
 * 3x3 stride-1 convolutions may run oneDNN's Winograd (conv_winograd below says where).
 */
#include <stdio.h>
#include <string.h>

#include "cpu_wino16.h"
#include "cpu_wprim.h"

/* ---- Winograd ----
 * oneDNN 2.6's jit_wino_4x3 (AVX-512) computes F(4x4, 3x3): 4x4 output tiles from 6x6
 * input tiles with 2.25x fewer multiplications than the direct kernel, in f32 only, on
 * blocked activations (nChw16c: cpu_wprim.c converts them), with bias and a fused ReLU
 * (no other activation), padding <= 1. Its results differ from the direct kernel's by
 * rounding (relative L2 about 1e-6 against the reference where the direct kernels give
 * 2e-7..1e-6: tests/ops/test_ops_winograd.c) and are bit-reproducible run to run.
 *
 * Measured through this backend (tests' probe, conversions and chunking included) on the
 * AMD EPYC Zen 5 (AVX-512, AVX512_BF16, no AMX) of docs/performance.md: one thread, CPU
 * time in ms, best of 3 calls, median of 3 runs; VGG16 at 150x150, batch 20, bias+ReLU.
 * f32 = direct f32 (IC_CONV_WINOGRAD=0), wino = Winograd (=1), bf16 = direct bf16:
 *
 *   out, ic->oc         fwd: f32 wino bf16   bwd_data: f32 wino bf16   bwd_weights: f32 wino bf16
 *   150x150  64-> 64          167   98   88            177  105   88              281  145  105
 *    75x75   64->128           81   48   43             86   61   43              113   61   49
 *    75x75  128->128          160   83   81            169   91   86              211  113   92
 *    37x37  128->256           77   45   40             90   42   41               89   54   44
 *    37x37  256->256          158   71   78            183   67   81              188   91   90
 *    18x18  256->512           73   43   34             90   34   36               84   40   39
 *    18x18  512->512          147   71   69            174   63   73              163   75   84
 *     9x9   512->512           36   50   16             50   27   18               44   31   23
 *
 * oneDNN's Winograd chooses its blocking from the batch size, and its results then
 * differ in the last bits: an 18x18x512 sample gives other bits in a batch of 3 or 13
 * than in a batch of 8 or 20. The library promises that a sample's result does not
 * depend on its batch (cli/val_cache.c relies on it for forward passes), so the forward
 * runs in chunks of a fixed number of samples (cpu_wprim.h): 1 where that is as fast as
 * whole batches (75x75 and up), else 4 (the table's forward column is chunked; whole
 * batches take about 64 ms at 37x37 256->256 and 24 at 9x9, measured outside). The
 * backward passes only run in training, where a step depends on the whole batch anyway,
 * and take the batch as it is; below about 100 tiles in all they lose their advantage
 * (9x9 at batch 4: 10 ms either way).
 *
 * Hence the rule, static per shape (never timed at run time; the backward passes also
 * read the batch size n); tiles = ceil(oh/4) * ceil(ow/4) per sample:
 *   F32:  ic, oc >= 64, multiples of 16: forward when tiles >= 25 (18x18 and up: 9x9
 *         and smaller stay direct), in chunks of 1 sample when tiles >= 256 else 4;
 *         backward data and weights when n * tiles >= 100. 1.7-2.2x per pass above.
 *   BF16: none of oneDNN's: it runs in f32 and beats bf16's doubled rate only in a few
 *         backward passes, by 7-18 % per pass and nothing measurable per step. bf16 has
 *         its own Winograd instead (cpu_wino16.h, rule below).
 * IC_CONV_WINOGRAD=0 turns Winograd off, 1 asks for it in every pass wherever oneDNN has
 * it (3x3 stride 1; oneDNN pads channels to 16), chunks as above. */

static int64_t wino_tiles(const ic__conv_desc *d)
{
    return ((d->oh + 3) / 4) * ((d->ow + 3) / 4);
}

/* The measured rule above: oneDNN's (f32) Winograd wanted in each pass of d (want[pass]). */
static void wino_auto(const ic__conv_desc *d, int want[3])
{
    int64_t t = wino_tiles(d), nt = d->n * t;
    int ch = d->ic % 16 == 0 && d->oc % 16 == 0 && d->ic >= 64 && d->oc >= 64;
    want[IC__CPU_FWD] = ch && t >= 25;
    want[IC__CPU_BWD_DATA] = want[IC__CPU_BWD_WEIGHTS] = ch && nt >= 100;
}

/* ---- bf16 Winograd (cpu_wino16.h) ----
 * In BF16, 3x3 stride-1 convolutions may run our own F(2x2, 3x3) on oneDNN's bf16 matmul
 * instead of oneDNN's direct bf16 kernels. Measured through this backend on the Zen 5 of
 * docs/performance.md (wall ms, 2 threads, VGG16 at 150x150, batch 20, bias+ReLU;
 * direct bf16 / Winograd bf16):
 *
 *   out, ic->oc          fwd          bwd_data      bwd_weights
 *   150x150  64-> 64     47.5 / 56.6   48.0 / 55.0   61.2 / 75.3
 *    75x75   64->128     24.0 / 27.9   25.2 / 24.6   30.1 / 38.4
 *    75x75  128->128     44.3 / 42.4   51.1 / 36.0   53.6 / 49.0
 *    37x37  128->256     22.7 / 18.0   23.4 / 17.6   24.9 / 21.4
 *    37x37  256->256     44.4 / 32.3   45.9 / 31.6   53.1 / 36.1
 *    18x18  256->512     19.5 / 13.8   22.0 / 14.2   25.3 / 15.5
 *    18x18  512->512     38.1 / 23.6   42.5 / 24.0   54.8 / 26.4
 *     9x9   512->512      9.1 / 10.3   10.6 /  9.3   14.1 / 10.2
 *
 * With 64 input channels the transforms (memory-bound) cost more than the saved
 * multiplications; at 9x9 the forward's fixed chunks (11 samples) pad a batch of 20 to
 * 22. Hence: ic, oc >= 128; the forward only from 64 tiles per sample (16x16 outputs).
 * IC_CONV_WINOGRAD=0 turns it off, 1 asks for it in every pass it can compute; passes it
 * cannot compute then take oneDNN's f32 Winograd where oneDNN has it, as in F32. Never on
 * AMX, where oneDNN's bf16 kernels run 3-10x faster and nothing here was measured. */
static void w16_auto(const ic__conv_desc *d, int want[3])
{
    int ch = d->ic >= 128 && d->oc >= 128;
    int64_t tiles = ((d->oh + 1) / 2) * ((d->ow + 1) / 2); /* 2x2 output tiles per sample */
    want[IC__CPU_FWD] = ch && tiles >= 64;
    want[IC__CPU_BWD_DATA] = want[IC__CPU_BWD_WEIGHTS] = ch;
}

/* The passes of d that run on the bf16 Winograd (on[pass]). */
static void w16_passes(const ic__conv_desc *d, int on[3])
{
    on[0] = on[1] = on[2] = 0;
    ic__cpu_wino_mode mode = ic__cpu_conv_winograd();
    if (mode == IC__CPU_WINO_OFF || d->prec != IC__PREC_BF16 || !ic__cpu_w16_fits(d) ||
        !ic__cpu_w16_available() || ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_amx))
        return;
    if (mode == IC__CPU_WINO_ON)
        on[0] = on[1] = on[2] = 1;
    else
        w16_auto(d, on);
    if (d->act != IC__ACT_NONE && d->act != IC__ACT_RELU) /* out_tf fuses only ReLU */
        on[IC__CPU_FWD] = 0;
}

/* The algorithms d asks the weighted primitive for (none: direct only), for the passes
 * the bf16 Winograd does not take (w16[pass]). */
static ic__cpu_alt conv_winograd(const ic__conv_desc *d, const int w16[3])
{
    ic__cpu_alt alt = {{0}, 1};
    ic__cpu_wino_mode mode = ic__cpu_conv_winograd();
    if (mode == IC__CPU_WINO_OFF || d->kh != 3 || d->kw != 3 || d->sh != 1 || d->sw != 1 ||
        d->groups != 1)
        return alt;
    int want[3] = {1, 1, 1};
    if (mode == IC__CPU_WINO_AUTO) {
        if (d->prec == IC__PREC_F32)
            wino_auto(d, want);
        else /* in bf16, oneDNN's f32 Winograd does not beat the direct bf16 kernels */
            want[0] = want[1] = want[2] = 0;
    }
    /* oneDNN fuses only ReLU into its Winograd forward */
    if (d->act != IC__ACT_NONE && d->act != IC__ACT_RELU)
        want[IC__CPU_FWD] = 0;
    for (int p = 0; p < 3; p++)
        alt.alg[p] = want[p] && !w16[p] ? dnnl_convolution_winograd : dnnl_alg_kind_undef;
    alt.fwd_chunk = wino_tiles(d) >= 256 ? 1 : 4;
    return alt;
}

typedef struct cpu_conv {
    ic__cpu_wop w; /* first: the header and the weighted primitive */
    ic__conv_desc d;
} cpu_conv;

static void conv_dims(const cpu_conv *c, dnnl_dim_t *wdims, dnnl_dim_t *wstrides, int *wnd)
{
    const ic__conv_desc *d = &c->d;
    int64_t g = d->groups, icg = d->ic / g, ocg = d->oc / g;
    /* host offset of (kh,kw,i,o) with o = gi*ocg + m: ((h*kw + w)*icg + i)*oc + gi*ocg + m */
    if (g == 1) {
        dnnl_dim_t dims[4] = {d->oc, d->ic, d->kh, d->kw};
        dnnl_dim_t st[4] = {1, d->oc, (dnnl_dim_t)d->kw * icg * d->oc, icg * d->oc};
        memcpy(wdims, dims, sizeof dims);
        memcpy(wstrides, st, sizeof st);
        *wnd = 4;
    } else {
        dnnl_dim_t dims[5] = {g, ocg, icg, d->kh, d->kw};
        dnnl_dim_t st[5] = {ocg, 1, d->oc, (dnnl_dim_t)d->kw * icg * d->oc, icg * d->oc};
        memcpy(wdims, dims, sizeof dims);
        memcpy(wstrides, st, sizeof st);
        *wnd = 5;
    }
}

/* The convolution descriptor of one pass over the memory descriptors m (cpu_wprim.h). */
static dnnl_status_t conv_opdesc(const ic__op *op, ic__cpu_pass pass, const ic__cpu_wmds *m,
                                 ic__cpu_opdesc *out)
{
    const ic__conv_desc *d = &((const cpu_conv *)op)->d;
    const dnnl_memory_desc_t *bias = d->has_bias ? &m->bias : NULL;
    dnnl_dims_t strides = {d->sh, d->sw}, pad_l = {d->pt, d->pl}, pad_r = {d->pb, d->pr};
    dnnl_alg_kind_t alg = m->alg ? m->alg : dnnl_convolution_direct;
    switch (pass) {
    case IC__CPU_FWD:
        return dnnl_convolution_forward_desc_init(&out->conv, dnnl_forward_training, alg, &m->src,
                                                  &m->weights, bias, &m->dst, strides, pad_l,
                                                  pad_r);
    case IC__CPU_BWD_DATA:
        return dnnl_convolution_backward_data_desc_init(&out->conv, alg, &m->src, &m->weights,
                                                        &m->dst, strides, pad_l, pad_r);
    default:
        return dnnl_convolution_backward_weights_desc_init(&out->conv, alg, &m->src, &m->weights,
                                                           bias, &m->dst, strides, pad_l, pad_r);
    }
}

static ic_status conv_build(cpu_conv *c)
{
    ic__op *op = &c->w.hdr;
    const ic__conv_desc *d = &c->d;
    if (d->groups < 1 || d->ic % d->groups || d->oc % d->groups || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->n < 1 || (d->prec != IC__PREC_F32 && d->prec != IC__PREC_BF16))
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    if ((d->ih + d->pt + d->pb - d->kh) / d->sh + 1 != d->oh ||
        (d->iw + d->pl + d->pr - d->kw) / d->sw + 1 != d->ow)
        return ic_seterr(IC_ERR_SHAPE, "cpu backend: output size does not match %s", op->what);

    dnnl_dim_t sdims[4] = {d->n, d->ic, d->ih, d->iw};
    dnnl_dim_t ddims[4] = {d->n, d->oc, d->oh, d->ow};
    dnnl_dim_t bdims[1] = {d->oc};
    dnnl_dim_t wdims[5], wst[5];
    int wnd;
    conv_dims(c, wdims, wst, &wnd);
    dnnl_memory_desc_t src_md, dst_md, wei_md, bias_md;
    IC__TRY(ic__cpu_md_tag(op, &src_md, 4, sdims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &dst_md, 4, ddims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &bias_md, 1, bdims, dnnl_a));
    IC__TRY(ic__cpu_md_strides(op, &wei_md, wnd, wdims, wst));
    int w16[3];
    w16_passes(d, w16);
    if (w16[0] || w16[1] || w16[2])
        IC__TRY(ic__cpu_w16_create(&c->w.w16, d, w16, op->what));
    ic__cpu_alt alt = conv_winograd(d, w16);
    return ic__cpu_wprim_create(op, &c->w.wp, "convolution", d->prec, d->has_bias, d->act, &src_md,
                                &dst_md, &wei_md, &bias_md, conv_opdesc, &alt);
}

ic_status ic__cpu_conv_create(ic__op **out, const ic__conv_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_conv), IC__CPU_CONV));
    cpu_conv *c = (cpu_conv *)op;
    c->d = *d;
    snprintf(op->what, sizeof op->what,
             "conv2d (%lld,%lld,%lld,%lld)->(%lld,%lld,%lld,%lld) kernel %dx%d stride %dx%d "
             "pad t%d b%d l%d r%d groups %d bias %d act %d%s",
             (long long)d->n, (long long)d->ih, (long long)d->iw, (long long)d->ic, (long long)d->n,
             (long long)d->oh, (long long)d->ow, (long long)d->oc, d->kh, d->kw, d->sh, d->sw,
             d->pt, d->pb, d->pl, d->pr, d->groups, d->has_bias, (int)d->act,
             d->prec == IC__PREC_BF16 ? " bf16" : "");
    ic_status s = conv_build(c);
    if (s != IC_OK) {
        ic__cpu_conv_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

void ic__cpu_conv_free(ic__op *op)
{
    cpu_conv *c = (cpu_conv *)op;
    ic__cpu_wprim_destroy(&c->w.wp);
    ic__cpu_w16_free(c->w.w16);
    ic__cpu_shared_drop(op);
    if (!op->shared) /* a shared op's scratch is the shared buffer's, and NULL here */
        ic__free_aligned(op->scratch);
    ic__free(op);
}

ic_status ic__cpu_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias)
{
    cpu_conv *c = (cpu_conv *)op;
    if (ic__cpu_w16_on(c->w.w16, IC__CPU_FWD))
        return ic__cpu_w16_fwd(c->w.w16, dst, src, weights, weights_version, bias);
    return ic__cpu_wprim_fwd(op, &c->w.wp, dst, src, weights, weights_version, bias);
}

ic_status ic__cpu_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version)
{
    cpu_conv *c = (cpu_conv *)op;
    if (ic__cpu_w16_on(c->w.w16, IC__CPU_BWD_DATA))
        return ic__cpu_w16_bwd_data(c->w.w16, diff_src, diff_dst, weights, weights_version);
    return ic__cpu_wprim_bwd_data(op, &c->w.wp, diff_src, diff_dst, weights, weights_version);
}

ic_status ic__cpu_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst)
{
    cpu_conv *c = (cpu_conv *)op;
    if (ic__cpu_w16_on(c->w.w16, IC__CPU_BWD_WEIGHTS))
        return ic__cpu_w16_bwd_weights(c->w.w16, diff_weights, diff_bias, src, diff_dst);
    return ic__cpu_wprim_bwd_weights(op, &c->w.wp, diff_weights, diff_bias, src, diff_dst);
}
