/* test_grad_ref_conv.c - the reference convolution, pinned two ways:
 *   1. hand-computed forward cases (valid, TF 'same' with an even kernel, stride 2,
 *      depthwise channel order), so the forward itself is fixed, not only its
 *      consistency with the backward;
 *   2. for many shapes (odd sizes, strides, asymmetric pads, groups, depthwise with
 *      depth_multiplier 1 and 2, bias on/off, every activation): the float forward
 *      against an independent double forward (explicitly zero-padded input), and the
 *      analytic backward (bwd_data, bwd_weights, bias) against central differences of
 *      L = sum(dy * fwd(src, w, b)) computed in double. */
#include <stdint.h>

#include "backend/backend.h"
#include "fd.h"
#include "harness.h"

static const ic__backend *B;

/* ---------- an independent double forward: pad explicitly, then a 'valid' conv ---------- */

typedef struct ctx {
    ic__conv_desc d;
    double *src, *w, *b, *dy; /* src N,IH,IW,IC; w KH,KW,IC/G,OC; b OC; dy N,OH,OW,OC */
    double *padded;           /* N,IH+PT+PB,IW+PL+PR,IC */
    double *out;              /* N,OH,OW,OC (post-activation) */
} ctx;

static void fwd_d(ctx *c)
{
    const ic__conv_desc *d = &c->d;
    const int64_t PH = d->ih + d->pt + d->pb, PW = d->iw + d->pl + d->pr;
    const int64_t icg = d->ic / d->groups, ocg = d->oc / d->groups;
    for (int64_t i = 0; i < d->n * PH * PW * d->ic; i++)
        c->padded[i] = 0;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t y = 0; y < d->ih; y++)
            for (int64_t x = 0; x < d->iw; x++)
                for (int64_t ch = 0; ch < d->ic; ch++)
                    c->padded[((n * PH + y + d->pt) * PW + x + d->pl) * d->ic + ch] =
                        c->src[((n * d->ih + y) * d->iw + x) * d->ic + ch];
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t oy = 0; oy < d->oh; oy++)
            for (int64_t ox = 0; ox < d->ow; ox++)
                for (int64_t o = 0; o < d->oc; o++) {
                    int64_t g = o / ocg;
                    double acc = d->has_bias ? c->b[o] : 0;
                    for (int64_t ky = 0; ky < d->kh; ky++)
                        for (int64_t kx = 0; kx < d->kw; kx++)
                            for (int64_t ci = 0; ci < icg; ci++) {
                                int64_t py = oy * d->sh + ky, px = ox * d->sw + kx;
                                acc += c->padded[((n * PH + py) * PW + px) * d->ic + g * icg + ci] *
                                       c->w[((ky * d->kw + kx) * icg + ci) * d->oc + o];
                            }
                    c->out[((n * d->oh + oy) * d->ow + ox) * d->oc + o] = fd_act(d->act, acc);
                }
}

static double loss_d(void *p)
{
    ctx *c = p;
    fwd_d(c);
    return fd_dot(c->dy, c->out, c->d.n * c->d.oh * c->d.ow * c->d.oc);
}

/* ---------- one gradient-check case ---------- */

static ic__conv_desc mk(int64_t ih, int64_t iw, int64_t ic, int64_t oc, int kh, int kw, int sh,
                        int sw, int pt, int pb, int pl, int pr, int groups, int has_bias,
                        ic__act act)
{
    ic__conv_desc d = {0};
    d.n = 2;
    d.ih = ih;
    d.iw = iw;
    d.ic = ic;
    d.oc = oc;
    d.kh = kh;
    d.kw = kw;
    d.sh = sh;
    d.sw = sw;
    d.pt = pt;
    d.pb = pb;
    d.pl = pl;
    d.pr = pr;
    d.groups = groups;
    d.has_bias = has_bias;
    d.act = act;
    d.oh = (ih + pt + pb - kh) / sh + 1;
    d.ow = (iw + pl + pr - kw) / sw + 1;
    return d;
}

static void grad_case(const char *name, ic__conv_desc d, unsigned seed)
{
    const int64_t ns = d.n * d.ih * d.iw * d.ic, no = d.n * d.oh * d.ow * d.oc;
    const int64_t nw = (int64_t)d.kh * d.kw * (d.ic / d.groups) * d.oc, nb = d.oc;
    /* relu6 gets larger inputs so that some outputs clip at 6 */
    const float amp = d.act == IC__ACT_RELU6 ? 3.f : 1.f;
    float *src = malloc(ns * 4), *w = malloc(nw * 4), *b = malloc(nb * 4), *dy = malloc(no * 4);
    float *dst = malloc(no * 4), *dpre = malloc(no * 4), *dsrc = malloc(ns * 4);
    int64_t nmax = ns > nw ? ns : nw;
    nmax = nmax > no ? nmax : no;
    float *dw = malloc(nw * 4), *db = malloc(nb * 4), *ref = malloc((nmax + nb) * 4);
    t_fill_uniform(src, ns, seed, -amp, amp);
    t_fill_uniform(w, nw, seed + 1, -1.f, 1.f);
    t_fill_uniform(b, nb, seed + 2, -0.5f, 0.5f);
    t_fill_uniform(dy, no, seed + 3, -1.f, 1.f);

    ic__op *op;
    OK(B->conv_create(&op, &d));
    OK(B->conv_fwd(op, dst, src, w, 0, d.has_bias ? b : NULL));
    ic__act_bwd_from_dst(d.act, dpre, dy, dst, no);
    OK(B->conv_bwd_data(op, dsrc, dpre, w, 0));
    for (int64_t i = 0; i < nb; i++)
        db[i] = -999.f;
    OK(B->conv_bwd_weights(op, dw, d.has_bias ? db : NULL, src, dpre));
    B->op_free(op);

    ctx c = {.d = d};
    c.src = fd_to_double(src, ns);
    c.w = fd_to_double(w, nw);
    c.b = fd_to_double(b, nb);
    c.dy = fd_to_double(dy, no);
    c.padded = malloc((size_t)(d.n * (d.ih + d.pt + d.pb) * (d.iw + d.pl + d.pr) * d.ic) * 8);
    c.out = malloc((size_t)no * 8);

    char what[200];
    fwd_d(&c);
    fd_to_float(ref, c.out, no);
    snprintf(what, sizeof what, "%s: fwd vs double fwd", name);
    t_allclose(what, dst, ref, no, 1e-5, 1e-5);

    fd_grad(loss_d, &c, c.src, ns, ref);
    snprintf(what, sizeof what, "%s: diff_src vs finite differences", name);
    t_allclose(what, dsrc, ref, ns, 1e-4, 1e-4);
    fd_grad(loss_d, &c, c.w, nw, ref);
    snprintf(what, sizeof what, "%s: diff_weights vs finite differences", name);
    t_allclose(what, dw, ref, nw, 1e-4, 1e-4);
    if (d.has_bias) {
        fd_grad(loss_d, &c, c.b, nb, ref);
        snprintf(what, sizeof what, "%s: diff_bias vs finite differences", name);
        t_allclose(what, db, ref, nb, 1e-4, 1e-4);
    }

    free(c.src), free(c.w), free(c.b), free(c.dy), free(c.padded), free(c.out);
    free(src), free(w), free(b), free(dy), free(dst), free(dpre), free(dsrc), free(dw), free(db);
    free(ref);
}

/* ---------- hand-computed forward cases ---------- */

/* One image, one channel in and out, input
 *     1 2 3
 *     4 5 6
 *     7 8 9
 * kernel [[1,2],[3,4]] (kh,kw), bias 0.5.
 * valid, stride 1 (2x2): top-left 1*1+2*2+4*3+5*4 = 37, then 47 / 67, 77 (+0.5 each).
 * TF 'same', stride 1, even kernel: pt=0 pb=1 pl=0 pr=1 (3x3); the last column/row see
 * the zero padding: (0,2) = 3*1+6*3 = 21, (1,2) = 6*1+9*3 = 33, (2,0) = 7*1+8*2 = 23,
 * (2,1) = 8*1+9*2 = 26, (2,2) = 9*1 = 9.
 * TF 'same', stride 2: out 2x2, pads 0,1,0,1: 37, 21 / 23, 9.
 * pads all 1, stride 2 (asymmetric taps hit the top-left padding): out 2x2:
 * (0,0) covers rows -1..0, cols -1..0: only src(0,0)=1 under tap (1,1) -> 4;
 * (0,1) rows -1..0, cols 1..2: 2*3 + 3*4 = 18; (1,0) rows 1..2, cols -1..0: 4*2+7*4 = 36;
 * (1,1) rows 1..2, cols 1..2: 5*1+6*2+8*3+9*4 = 77. */
static void hand_case(const char *name, int pt, int pb, int pl, int pr, int s, int oh, int ow,
                      const float *expect)
{
    const float src[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    ic__conv_desc d = mk(3, 3, 1, 1, 2, 2, s, s, pt, pb, pl, pr, 1, 1, IC__ACT_NONE);
    d.n = 1;
    CHECK(d.oh == oh && d.ow == ow);
    float dst[9], want[9];
    for (int i = 0; i < oh * ow; i++)
        want[i] = expect[i] + 0.5f;
    ic__op *op;
    OK(B->conv_create(&op, &d));
    OK(B->conv_fwd(op, dst, src, w, 0, b));
    B->op_free(op);
    t_allclose(name, dst, want, oh * ow, 0, 1e-6);
}

/* Depthwise, 1x1 kernel, 2 input channels, depth_multiplier 2, one 1x2 image with pixels
 * (1, 2) and (3, 4). Output channel o = c*2 + m reads input channel c = o/2, weights
 * (1,1,1,4) = 10, 20, 30, 40, relu on bias -100 for o=3 only:
 * pixel 0: 1*10, 1*20, 2*30, relu(2*40-100)=0; pixel 1: 30, 60, 120, relu(160-100)=60. */
static void hand_depthwise(void)
{
    const float src[4] = {1, 2, 3, 4}, w[4] = {10, 20, 30, 40}, b[4] = {0, 0, 0, -100};
    const float want[8] = {10, 20, 60, 0, 30, 60, 120, 60};
    ic__conv_desc d = mk(1, 2, 2, 4, 1, 1, 1, 1, 0, 0, 0, 0, 2, 1, IC__ACT_RELU);
    d.n = 1;
    float dst[8];
    ic__op *op;
    OK(B->conv_create(&op, &d));
    OK(B->conv_fwd(op, dst, src, w, 0, b));
    t_allclose("depthwise channel order", dst, want, 8, 0, 1e-6);
    /* bwd_data with diff_dst = 1 everywhere: diff_src(c) = sum_m w[c*2+m]: 30, 70 */
    const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1}, want_ds[4] = {30, 70, 30, 70};
    float ds[4];
    OK(B->conv_bwd_data(op, ds, ones, w, 0));
    t_allclose("depthwise bwd_data", ds, want_ds, 4, 0, 1e-6);
    B->op_free(op);
}

/* Results must not depend on the number of threads. */
static void thread_independence(void)
{
    ic__conv_desc d = mk(9, 7, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1, IC__ACT_TANH);
    d.n = 3;
    const int64_t ns = d.n * d.ih * d.iw * d.ic, no = d.n * d.oh * d.ow * d.oc;
    const int64_t nw = 9 * 2 * 6;
    float *src = malloc(ns * 4), *w = malloc(nw * 4), *b = malloc(24), *dy = malloc(no * 4);
    float *out[2][3];
    t_fill_uniform(src, ns, 7, -1, 1);
    t_fill_uniform(w, nw, 8, -1, 1);
    t_fill_uniform(b, 6, 9, -1, 1);
    t_fill_uniform(dy, no, 10, -1, 1);
    ic__op *op;
    OK(B->conv_create(&op, &d));
    for (int t = 0; t < 2; t++) {
        ic_set_num_threads(t == 0 ? 1 : 5);
        out[t][0] = malloc(no * 4);
        out[t][1] = malloc(ns * 4);
        out[t][2] = malloc(nw * 4 + 24);
        OK(B->conv_fwd(op, out[t][0], src, w, 0, b));
        OK(B->conv_bwd_data(op, out[t][1], dy, w, 0));
        OK(B->conv_bwd_weights(op, out[t][2], out[t][2] + nw, src, dy));
    }
    CHECK(!memcmp(out[0][0], out[1][0], no * 4));
    CHECK(!memcmp(out[0][1], out[1][1], ns * 4));
    CHECK(!memcmp(out[0][2], out[1][2], nw * 4 + 24));
    ic_set_num_threads(0);
    B->op_free(op);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++)
            free(out[t][k]);
    free(src), free(w), free(b), free(dy);
}

static void bad_descs(void)
{
    ic__op *op = NULL;
    ic__conv_desc d = mk(7, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE);
    d.oh = 6; /* should be 5 */
    EXPECT_ERR(B->conv_create(&op, &d), IC_ERR_SHAPE, "does not match");
    CHECK(op == NULL);
    d = mk(7, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2, 1, IC__ACT_NONE); /* 2 does not divide 3 */
    EXPECT_ERR(B->conv_create(&op, &d), IC_ERR_INVALID, "groups");
    d = mk(7, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE);
    d.sh = 0;
    EXPECT_ERR(B->conv_create(&op, &d), IC_ERR_INVALID, "bad descriptor");
    B->op_free(NULL);
}

int main(void)
{
    B = ic__backend_ref();
    CHECK(!strcmp(B->name, "ref"));

    const float valid[4] = {37, 47, 67, 77};
    const float same1[9] = {37, 47, 21, 67, 77, 33, 23, 26, 9};
    const float same2[4] = {37, 21, 23, 9};
    const float pad1s2[4] = {4, 18, 36, 77};
    hand_case("hand: valid", 0, 0, 0, 0, 1, 2, 2, valid);
    hand_case("hand: same stride 1", 0, 1, 0, 1, 1, 3, 3, same1);
    hand_case("hand: same stride 2", 0, 1, 0, 1, 2, 2, 2, same2);
    hand_case("hand: pads 1 stride 2", 1, 1, 1, 1, 2, 2, 2, pad1s2);
    hand_depthwise();
    thread_independence();
    bad_descs();

    /*         name                         ih iw ic oc kh kw sh sw pt pb pl pr  g bias act */
    grad_case("valid 3x3 on 7x5",
              mk(7, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE), 1);
    grad_case("same 3x3 relu",
              mk(7, 5, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_RELU), 2);
    grad_case("same 3x3 stride 2 (pads 0,1,0,1) sigmoid",
              mk(8, 6, 2, 3, 3, 3, 2, 2, 0, 1, 0, 1, 1, 1, IC__ACT_SIGMOID), 3);
    grad_case("same 2x2 stride 1 (pads 0,1,0,1) tanh",
              mk(7, 5, 3, 2, 2, 2, 1, 1, 0, 1, 0, 1, 1, 1, IC__ACT_TANH), 4);
    grad_case("4x2 kernel, stride 2x1, pads 1,1,0,1, relu6",
              mk(6, 7, 2, 3, 4, 2, 2, 1, 1, 1, 0, 1, 1, 1, IC__ACT_RELU6), 5);
    grad_case("stride 3x2, leftover rows, pads 1,0,2,1",
              mk(7, 5, 2, 3, 3, 2, 3, 2, 1, 0, 2, 1, 1, 1, IC__ACT_NONE), 6);
    grad_case("pads larger than the kernel",
              mk(4, 5, 2, 2, 2, 2, 1, 1, 2, 1, 0, 3, 1, 1, IC__ACT_TANH), 7);
    grad_case("1x1 stride 2",
              mk(7, 5, 3, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 0, IC__ACT_NONE), 8);
    grad_case("groups 2",
              mk(7, 5, 4, 6, 3, 3, 1, 1, 0, 0, 0, 0, 2, 1, IC__ACT_TANH), 9);
    grad_case("depthwise dm 1, same 3x3",
              mk(7, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 1, IC__ACT_RELU), 10);
    grad_case("depthwise dm 2, stride 2 (pads 0,1,0,1), relu6",
              mk(8, 6, 3, 6, 3, 3, 2, 2, 0, 1, 0, 1, 3, 0, IC__ACT_RELU6), 11);
    grad_case("depthwise dm 2, valid 2x3, sigmoid",
              mk(5, 7, 2, 4, 2, 3, 1, 1, 0, 0, 0, 0, 2, 1, IC__ACT_SIGMOID), 12);
    return t_finish();
}
