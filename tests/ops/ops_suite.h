/* ops_suite.h - the op-by-op comparison of a backend against the reference kernels,
 * shared by the backend tests (test_ops_cpu.c for oneDNN, tests/gpu/test_ops_cuda.c):
 * forward outputs, input gradients, weight and bias gradients over a table of shapes
 * (odd sizes, stride 2, TF-'same' asymmetric padding, valid, 1x1, 3-channel first
 * layer, batch 1 and 3, grouped and depthwise with depth multiplier 1 and 2, with and
 * without bias, every fused activation), max/avg/global pooling, dense, eltwise,
 * softmax and batch normalisation (training, inference, backward in both modes), and
 * the weights cache contract (pointer + weights_version). Tolerances: float32 with
 * different summation orders, atol growing with the reduction length.
 *
 * The including test sets `tb` (the backend under test) and `ref`, then calls
 * ops_suite_run(). Header-only, like harness.h. */
#ifndef IC_TEST_OPS_SUITE_H
#define IC_TEST_OPS_SUITE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "harness.h"
#include "ops/ops_cases.h"

static const ic__backend *tb, *ref;

/* Tolerance for sums of k products of O(1) values. */
static double atol_k(double k)
{
    return 1e-5 + 2e-6 * k;
}
#define RTOL 1e-4

/* ---- convolution ---- */

static void test_conv(const conv_case *c, unsigned seed)
{
    ic__conv_desc d = conv_desc_of(c);
    char what[200];
    conv_case_name(what, sizeof what, c);
    long ns = (long)(d.n * d.ih * d.iw * d.ic), nd = (long)(d.n * d.oh * d.ow * d.oc);
    long nw = (long)d.kh * d.kw * (d.ic / d.groups) * d.oc;
    float *src = fbuf(ns), *w = fbuf(nw), *b = fbuf(d.oc), *dd = fbuf(nd);
    float *o1 = fbuf(nd), *o2 = fbuf(nd), *ds1 = fbuf(ns), *ds2 = fbuf(ns);
    float *dw1 = fbuf(nw), *dw2 = fbuf(nw), *db1 = fbuf(d.oc), *db2 = fbuf(d.oc);
    t_fill_uniform(src, ns, seed, -c->scale, c->scale);
    t_fill_uniform(w, nw, seed + 1, -1.f, 1.f);
    t_fill_uniform(b, d.oc, seed + 2, -1.f, 1.f);
    t_fill_uniform(dd, nd, seed + 3, -1.f, 1.f);

    ic__op *oc = NULL, *orf = NULL;
    OK(tb->conv_create(&oc, &d));
    OK(ref->conv_create(&orf, &d));
    double kf = (double)d.kh * d.kw * (d.ic / d.groups);
    char msg[260];

    OK(tb->conv_fwd(oc, o1, src, w, 7, d.has_bias ? b : NULL));
    OK(ref->conv_fwd(orf, o2, src, w, 7, d.has_bias ? b : NULL));
    snprintf(msg, sizeof msg, "%s: fwd", what);
    t_allclose(msg, o1, o2, nd, RTOL, atol_k(kf * c->scale));

    OK(tb->conv_bwd_data(oc, ds1, dd, w, 7));
    OK(ref->conv_bwd_data(orf, ds2, dd, w, 7));
    snprintf(msg, sizeof msg, "%s: bwd_data", what);
    double kd = (double)d.kh * d.kw * (d.oc / d.groups);
    t_allclose(msg, ds1, ds2, ns, RTOL, atol_k(kd));

    OK(tb->conv_bwd_weights(oc, dw1, d.has_bias ? db1 : NULL, src, dd));
    OK(ref->conv_bwd_weights(orf, dw2, d.has_bias ? db2 : NULL, src, dd));
    double kw = (double)d.n * d.oh * d.ow;
    snprintf(msg, sizeof msg, "%s: bwd_weights", what);
    t_allclose(msg, dw1, dw2, nw, RTOL, atol_k(kw * c->scale));
    if (d.has_bias) {
        snprintf(msg, sizeof msg, "%s: bwd_bias", what);
        t_allclose(msg, db1, db2, d.oc, RTOL, atol_k(kw));
    }
    /* second step: same op, new data (primitives reused, weights version changed) */
    t_fill_uniform(src, ns, seed + 10, -c->scale, c->scale);
    t_fill_uniform(w, nw, seed + 11, -1.f, 1.f);
    OK(tb->conv_fwd(oc, o1, src, w, 8, d.has_bias ? b : NULL));
    OK(ref->conv_fwd(orf, o2, src, w, 8, d.has_bias ? b : NULL));
    snprintf(msg, sizeof msg, "%s: fwd step 2", what);
    t_allclose(msg, o1, o2, nd, RTOL, atol_k(kf * c->scale));
    OK(tb->conv_bwd_data(oc, ds1, dd, w, 8));
    OK(ref->conv_bwd_data(orf, ds2, dd, w, 8));
    snprintf(msg, sizeof msg, "%s: bwd_data step 2", what);
    t_allclose(msg, ds1, ds2, ns, RTOL, atol_k(kd));

    tb->op_free(oc);
    ref->op_free(orf);
    free(src), free(w), free(b), free(dd), free(o1), free(o2), free(ds1), free(ds2);
    free(dw1), free(dw2), free(db1), free(db2);
}

/* The weights cache: (pointer, version) unchanged -> the cached copy is used even if the
 * values changed in place; a new version (or version 0) -> the new values are used. */
static void test_conv_cache(void)
{
    conv_case c = {2, 9, 9, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f};
    ic__conv_desc d = conv_desc_of(&c);
    long ns = (long)(d.n * d.ih * d.iw * d.ic), nd = (long)(d.n * d.oh * d.ow * d.oc);
    long nw = (long)d.kh * d.kw * d.ic * d.oc;
    float *src = fbuf(ns), *w = fbuf(nw), *b = fbuf(d.oc), *dd = fbuf(nd);
    float *o1 = fbuf(nd), *o2 = fbuf(nd), *oref = fbuf(nd), *ds1 = fbuf(ns), *ds2 = fbuf(ns);
    t_fill_uniform(src, ns, 501, -1.f, 1.f);
    t_fill_uniform(w, nw, 502, -1.f, 1.f);
    t_fill_uniform(b, d.oc, 503, -1.f, 1.f);
    t_fill_uniform(dd, nd, 504, -1.f, 1.f);
    ic__op *oc = NULL, *orf = NULL;
    OK(tb->conv_create(&oc, &d));
    OK(ref->conv_create(&orf, &d));
    double tol = atol_k(9.0 * 32);

    OK(tb->conv_fwd(oc, o1, src, w, 42, b));
    OK(tb->conv_bwd_data(oc, ds1, dd, w, 42));
    for (long i = 0; i < nw; i++)
        w[i] *= -0.5f; /* in place, same version */
    OK(tb->conv_fwd(oc, o2, src, w, 42, b));
    t_allclose("cache: same version keeps the cached weights (fwd)", o2, o1, nd, 0, 0);
    OK(tb->conv_bwd_data(oc, ds2, dd, w, 42));
    t_allclose("cache: same version keeps the cached weights (bwd_data)", ds2, ds1, ns, 0, 0);

    OK(tb->conv_fwd(oc, o2, src, w, 43, b));
    OK(ref->conv_fwd(orf, oref, src, w, 43, b));
    t_allclose("cache: new version uses the new weights", o2, oref, nd, RTOL, tol);
    OK(tb->conv_bwd_data(oc, ds2, dd, w, 43));
    OK(ref->conv_bwd_data(orf, ds1, dd, w, 43));
    t_allclose("cache: new version (bwd_data)", ds2, ds1, ns, RTOL, tol);

    for (long i = 0; i < nw; i++)
        w[i] *= 3.f; /* version 0: never cached */
    OK(tb->conv_fwd(oc, o2, src, w, 0, b));
    OK(ref->conv_fwd(orf, oref, src, w, 0, b));
    t_allclose("cache: version 0 always reads the weights", o2, oref, nd, RTOL, 3 * tol);
    for (long i = 0; i < nw; i++)
        w[i] *= 0.5f;
    OK(tb->conv_fwd(oc, o2, src, w, 0, b));
    OK(ref->conv_fwd(orf, oref, src, w, 0, b));
    t_allclose("cache: version 0 again", o2, oref, nd, RTOL, 2 * tol);

    /* another pointer with the same version is not the cached copy */
    float *w2 = fbuf(nw);
    t_fill_uniform(w2, nw, 505, -1.f, 1.f);
    OK(tb->conv_fwd(oc, o2, src, w2, 0 + 43, b));
    OK(ref->conv_fwd(orf, oref, src, w2, 43, b));
    t_allclose("cache: other pointer, same version", o2, oref, nd, RTOL, tol);

    tb->op_free(oc);
    ref->op_free(orf);
    free(src), free(w), free(w2), free(b), free(dd), free(o1), free(o2), free(oref);
    free(ds1), free(ds2);
}

/* ---- pooling ---- */

typedef struct pool_case {
    int64_t n, ih, iw, c;
    int kh, kw, sh, sw, pt, pb, pl, pr;
    ic__pool_alg alg;
} pool_case;

/* Distinct values (no ties for max pooling): a shuffled ramp in [-1, 1). */
static void fill_distinct(float *x, long n, unsigned seed)
{
    for (long i = 0; i < n; i++)
        x[i] = -1.f + 2.f * (float)i / (float)n;
    unsigned long long s = seed * 2654435761ull + 7;
    for (long i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        long j = (long)((s >> 33) % (unsigned long long)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static void test_pool(const pool_case *c, unsigned seed)
{
    ic__pool_desc d = {0};
    d.n = c->n;
    d.ih = c->ih;
    d.iw = c->iw;
    d.c = c->c;
    d.kh = c->kh;
    d.kw = c->kw;
    d.sh = c->sh;
    d.sw = c->sw;
    d.pt = c->pt;
    d.pb = c->pb;
    d.pl = c->pl;
    d.pr = c->pr;
    d.oh = (c->ih + c->pt + c->pb - c->kh) / c->sh + 1;
    d.ow = (c->iw + c->pl + c->pr - c->kw) / c->sw + 1;
    d.alg = c->alg;
    char what[160];
    snprintf(what, sizeof what, "%s pool n%lld %lldx%lldx%lld k%dx%d s%dx%d p%d,%d,%d,%d",
             c->alg == IC__POOL_MAX ? "max" : "avg", (long long)c->n, (long long)c->ih,
             (long long)c->iw, (long long)c->c, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl,
             c->pr);
    long ns = (long)(d.n * d.ih * d.iw * d.c), nd = (long)(d.n * d.oh * d.ow * d.c);
    float *src = fbuf(ns), *dd = fbuf(nd), *o1 = fbuf(nd), *o2 = fbuf(nd);
    float *ds1 = fbuf(ns), *ds2 = fbuf(ns), *src2 = fbuf(ns);
    fill_distinct(src, ns, seed);
    fill_distinct(src2, ns, seed + 1);
    t_fill_uniform(dd, nd, seed + 2, -1.f, 1.f);
    ic__op *oc = NULL, *orf = NULL;
    OK(tb->pool_create(&oc, &d));
    OK(ref->pool_create(&orf, &d));
    char msg[220];
    double k = (double)c->kh * c->kw;

    OK(tb->pool_fwd(oc, o1, src, 1));
    OK(ref->pool_fwd(orf, o2, src, 1));
    snprintf(msg, sizeof msg, "%s: fwd training", what);
    t_allclose(msg, o1, o2, nd, RTOL, atol_k(k));
    /* an inference forward on other data must not disturb the training workspace */
    OK(tb->pool_fwd(oc, o1, src2, 0));
    OK(ref->pool_fwd(orf, o2, src2, 0));
    snprintf(msg, sizeof msg, "%s: fwd inference", what);
    t_allclose(msg, o1, o2, nd, RTOL, atol_k(k));
    OK(tb->pool_bwd(oc, ds1, dd, src));
    OK(ref->pool_bwd(orf, ds2, dd, src));
    snprintf(msg, sizeof msg, "%s: bwd", what);
    t_allclose(msg, ds1, ds2, ns, RTOL, atol_k(k));
    /* step 2 on the other data */
    OK(tb->pool_fwd(oc, o1, src2, 1));
    OK(tb->pool_bwd(oc, ds1, dd, src2));
    OK(ref->pool_fwd(orf, o2, src2, 1));
    OK(ref->pool_bwd(orf, ds2, dd, src2));
    snprintf(msg, sizeof msg, "%s: bwd step 2", what);
    t_allclose(msg, ds1, ds2, ns, RTOL, atol_k(k));

    tb->op_free(oc);
    ref->op_free(orf);
    free(src), free(src2), free(dd), free(o1), free(o2), free(ds1), free(ds2);
}

/* ---- dense ---- */

static void test_dense(int64_t n, int64_t ic, int64_t oc, int has_bias, ic__act act, unsigned seed)
{
    ic__dense_desc d = {n, ic, oc, has_bias, act, IC__PREC_F32};
    char what[120];
    snprintf(what, sizeof what, "dense %lldx%lld->%lld b%d %s", (long long)n, (long long)ic,
             (long long)oc, has_bias, act_name(act));
    long ns = (long)(n * ic), nd = (long)(n * oc), nw = (long)(ic * oc);
    float *src = fbuf(ns), *w = fbuf(nw), *b = fbuf(oc), *dd = fbuf(nd);
    float *o1 = fbuf(nd), *o2 = fbuf(nd), *ds1 = fbuf(ns), *ds2 = fbuf(ns);
    float *dw1 = fbuf(nw), *dw2 = fbuf(nw), *db1 = fbuf(oc), *db2 = fbuf(oc);
    t_fill_uniform(src, ns, seed, -1.f, 1.f);
    t_fill_uniform(w, nw, seed + 1, -1.f, 1.f);
    t_fill_uniform(b, oc, seed + 2, -1.f, 1.f);
    t_fill_uniform(dd, nd, seed + 3, -1.f, 1.f);
    ic__op *op1 = NULL, *op2 = NULL;
    OK(tb->dense_create(&op1, &d));
    OK(ref->dense_create(&op2, &d));
    char msg[200];
    for (int step = 0; step < 2; step++) {
        uint64_t ver = 100 + step;
        OK(tb->dense_fwd(op1, o1, src, w, ver, has_bias ? b : NULL));
        OK(ref->dense_fwd(op2, o2, src, w, ver, has_bias ? b : NULL));
        snprintf(msg, sizeof msg, "%s: fwd (step %d)", what, step);
        t_allclose(msg, o1, o2, nd, RTOL, atol_k((double)ic));
        OK(tb->dense_bwd_data(op1, ds1, dd, w, ver));
        OK(ref->dense_bwd_data(op2, ds2, dd, w, ver));
        snprintf(msg, sizeof msg, "%s: bwd_data (step %d)", what, step);
        t_allclose(msg, ds1, ds2, ns, RTOL, atol_k((double)oc));
        OK(tb->dense_bwd_weights(op1, dw1, has_bias ? db1 : NULL, src, dd));
        OK(ref->dense_bwd_weights(op2, dw2, has_bias ? db2 : NULL, src, dd));
        snprintf(msg, sizeof msg, "%s: bwd_weights (step %d)", what, step);
        t_allclose(msg, dw1, dw2, nw, RTOL, atol_k((double)n));
        if (has_bias) {
            snprintf(msg, sizeof msg, "%s: bwd_bias (step %d)", what, step);
            t_allclose(msg, db1, db2, oc, RTOL, atol_k((double)n));
        }
        /* next step: new values in place, new version */
        t_fill_uniform(w, nw, seed + 20 + step, -1.f, 1.f);
        t_fill_uniform(src, ns, seed + 30 + step, -1.f, 1.f);
    }
    tb->op_free(op1);
    ref->op_free(op2);
    free(src), free(w), free(b), free(dd), free(o1), free(o2), free(ds1), free(ds2);
    free(dw1), free(dw2), free(db1), free(db2);
}

/* ---- eltwise ---- */

static void test_eltwise(int64_t n, ic__act act, unsigned seed)
{
    ic__eltwise_desc d = {n, act};
    float *src = fbuf(n), *dd = fbuf(n), *y1 = fbuf(n), *y2 = fbuf(n), *g1 = fbuf(n), *g2 = fbuf(n);
    t_fill_uniform(src, n, seed, -8.f, 8.f);
    src[0] = 0.f; /* the kinks */
    if (n > 2) {
        src[1] = 6.f;
        src[2] = 7.f;
    }
    t_fill_uniform(dd, n, seed + 1, -1.f, 1.f);
    ic__op *op1 = NULL, *op2 = NULL;
    OK(tb->eltwise_create(&op1, &d));
    OK(ref->eltwise_create(&op2, &d));
    char msg[120];
    OK(tb->eltwise_fwd(op1, y1, src));
    OK(ref->eltwise_fwd(op2, y2, src));
    snprintf(msg, sizeof msg, "eltwise %s n%lld: fwd", act_name(act), (long long)n);
    t_allclose(msg, y1, y2, n, 1e-5, 1e-6);
    /* backward from the same dst so only the derivative is compared */
    OK(tb->eltwise_bwd(op1, g1, dd, y2));
    OK(ref->eltwise_bwd(op2, g2, dd, y2));
    snprintf(msg, sizeof msg, "eltwise %s n%lld: bwd", act_name(act), (long long)n);
    t_allclose(msg, g1, g2, n, 1e-5, 1e-6);
    /* in place */
    memcpy(g1, src, (size_t)n * sizeof(float));
    OK(tb->eltwise_fwd(op1, g1, g1));
    snprintf(msg, sizeof msg, "eltwise %s n%lld: fwd in place", act_name(act), (long long)n);
    t_allclose(msg, g1, y2, n, 1e-5, 1e-6);
    memcpy(g1, dd, (size_t)n * sizeof(float));
    OK(tb->eltwise_bwd(op1, g1, g1, y2));
    snprintf(msg, sizeof msg, "eltwise %s n%lld: bwd in place", act_name(act), (long long)n);
    t_allclose(msg, g1, g2, n, 1e-5, 1e-6);
    tb->op_free(op1);
    ref->op_free(op2);
    free(src), free(dd), free(y1), free(y2), free(g1), free(g2);
}

/* ---- softmax ---- */

static void test_softmax(int64_t rows, int64_t cols, unsigned seed)
{
    ic__softmax_desc d = {rows, cols};
    long n = (long)(rows * cols);
    float *src = fbuf(n), *dd = fbuf(n), *y1 = fbuf(n), *y2 = fbuf(n), *g1 = fbuf(n), *g2 = fbuf(n);
    t_fill_uniform(src, n, seed, -5.f, 5.f);
    t_fill_uniform(dd, n, seed + 1, -1.f, 1.f);
    ic__op *op1 = NULL, *op2 = NULL;
    OK(tb->softmax_create(&op1, &d));
    OK(ref->softmax_create(&op2, &d));
    char msg[120];
    OK(tb->softmax_fwd(op1, y1, src));
    OK(ref->softmax_fwd(op2, y2, src));
    snprintf(msg, sizeof msg, "softmax %lldx%lld: fwd", (long long)rows, (long long)cols);
    t_allclose(msg, y1, y2, n, 1e-4, 1e-6);
    OK(tb->softmax_bwd(op1, g1, dd, y2));
    OK(ref->softmax_bwd(op2, g2, dd, y2));
    snprintf(msg, sizeof msg, "softmax %lldx%lld: bwd", (long long)rows, (long long)cols);
    t_allclose(msg, g1, g2, n, 1e-4, 1e-6);
    tb->op_free(op1);
    ref->op_free(op2);
    free(src), free(dd), free(y1), free(y2), free(g1), free(g2);
}

/* ---- batch normalisation ---- */

static void test_bn(int64_t rows, int64_t c, int affine, unsigned seed)
{
    ic__bn_desc d = {rows, c, 1e-3f};
    long n = (long)(rows * c);
    float *src = fbuf(n), *dd = fbuf(n), *y1 = fbuf(n), *y2 = fbuf(n), *g1 = fbuf(n), *g2 = fbuf(n);
    float *gamma = fbuf(c), *beta = fbuf(c), *m1 = fbuf(c), *m2 = fbuf(c), *v1 = fbuf(c),
          *v2 = fbuf(c), *dg1 = fbuf(c), *dg2 = fbuf(c), *db1 = fbuf(c), *db2 = fbuf(c);
    t_fill_uniform(src, n, seed, -2.f, 3.f);
    t_fill_uniform(dd, n, seed + 1, -1.f, 1.f);
    t_fill_uniform(gamma, c, seed + 2, 0.5f, 1.5f);
    t_fill_uniform(beta, c, seed + 3, -1.f, 1.f);
    const float *ga = affine ? gamma : NULL, *be = affine ? beta : NULL;
    ic__op *op1 = NULL, *op2 = NULL;
    OK(tb->bn_create(&op1, &d));
    OK(ref->bn_create(&op2, &d));
    char what[80], msg[160];
    snprintf(what, sizeof what, "bn %lldx%lld %s", (long long)rows, (long long)c,
             affine ? "gamma/beta" : "NULL gamma/beta");
    double k = (double)rows;

    OK(tb->bn_fwd_training(op1, y1, m1, v1, src, ga, be));
    OK(ref->bn_fwd_training(op2, y2, m2, v2, src, ga, be));
    snprintf(msg, sizeof msg, "%s: training dst", what);
    t_allclose(msg, y1, y2, n, RTOL, 1e-4);
    snprintf(msg, sizeof msg, "%s: training mean", what);
    t_allclose(msg, m1, m2, c, RTOL, 1e-5);
    snprintf(msg, sizeof msg, "%s: training var", what);
    t_allclose(msg, v1, v2, c, RTOL, 1e-5);

    /* backward of the training forward: both with the reference statistics */
    OK(tb->bn_bwd(op1, g1, dg1, db1, dd, src, m2, v2, ga, 0));
    OK(ref->bn_bwd(op2, g2, dg2, db2, dd, src, m2, v2, ga, 0));
    snprintf(msg, sizeof msg, "%s: bwd diff_src", what);
    t_allclose(msg, g1, g2, n, RTOL, 1e-4);
    snprintf(msg, sizeof msg, "%s: bwd diff_gamma", what);
    t_allclose(msg, dg1, dg2, c, RTOL, atol_k(k));
    snprintf(msg, sizeof msg, "%s: bwd diff_beta", what);
    t_allclose(msg, db1, db2, c, RTOL, atol_k(k));
    /* without parameter gradients */
    OK(tb->bn_bwd(op1, y1, NULL, NULL, dd, src, m2, v2, ga, 0));
    snprintf(msg, sizeof msg, "%s: bwd diff_src (NULL diff_gamma/beta)", what);
    t_allclose(msg, y1, g2, n, RTOL, 1e-4);

    /* inference with moving statistics, and its backward (global stats) */
    float *mm = fbuf(c), *mv = fbuf(c);
    t_fill_uniform(mm, c, seed + 4, -0.5f, 0.5f);
    t_fill_uniform(mv, c, seed + 5, 0.5f, 2.f);
    OK(tb->bn_fwd_inference(op1, y1, src, ga, be, mm, mv));
    OK(ref->bn_fwd_inference(op2, y2, src, ga, be, mm, mv));
    snprintf(msg, sizeof msg, "%s: inference dst", what);
    t_allclose(msg, y1, y2, n, RTOL, 1e-5);
    OK(tb->bn_bwd(op1, g1, dg1, db1, dd, src, mm, mv, ga, 1));
    OK(ref->bn_bwd(op2, g2, dg2, db2, dd, src, mm, mv, ga, 1));
    snprintf(msg, sizeof msg, "%s: bwd global stats diff_src", what);
    t_allclose(msg, g1, g2, n, RTOL, 1e-5);
    snprintf(msg, sizeof msg, "%s: bwd global stats diff_gamma", what);
    t_allclose(msg, dg1, dg2, c, RTOL, atol_k(k));
    snprintf(msg, sizeof msg, "%s: bwd global stats diff_beta", what);
    t_allclose(msg, db1, db2, c, RTOL, atol_k(k));
    OK(tb->bn_bwd(op1, y1, NULL, NULL, dd, src, mm, mv, ga, 1));
    snprintf(msg, sizeof msg, "%s: bwd global stats (NULL diff_gamma/beta)", what);
    t_allclose(msg, y1, g2, n, RTOL, 1e-5);

    tb->op_free(op1);
    ref->op_free(op2);
    free(src), free(dd), free(y1), free(y2), free(g1), free(g2), free(gamma), free(beta);
    free(m1), free(m2), free(v1), free(v2), free(dg1), free(dg2), free(db1), free(db2);
    free(mm), free(mv);
}


/* Every case above, in the order of the tables. */
static void ops_suite_run(void)
{
    static const conv_case convs[] = {
        /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
        {1, 7, 5, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},        /* first layer */
        {3, 13, 13, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f},    /* same, odd */
        {3, 14, 14, 16, 16, 3, 3, 2, 2, 0, 1, 0, 1, 1, 0, IC__ACT_RELU6, 2.f},   /* TF same s2 */
        {2, 13, 13, 24, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_SIGMOID, 1.f}, /* 1x1 */
        {3, 9, 11, 8, 12, 3, 5, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_TANH, 1.f},      /* valid */
        {3, 13, 13, 8, 16, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},     /* 1x1 s2 */
        {1, 13, 13, 3, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, IC__ACT_RELU6, 3.f},    /* rgb s2 */
        {3, 13, 13, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, 1, IC__ACT_RELU6, 3.f},  /* dw dm1 */
        {2, 7, 5, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 8, 0, IC__ACT_NONE, 1.f},       /* dw dm2 s2 */
        {1, 14, 14, 32, 32, 3, 3, 2, 2, 0, 1, 0, 1, 32, 1, IC__ACT_RELU6, 3.f},  /* dw s2 TF */
        {3, 13, 13, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1, IC__ACT_SIGMOID, 1.f},   /* dw dm2 */
        {2, 9, 9, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, IC__ACT_TANH, 1.f},       /* groups 2 */
        {2, 20, 20, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},    /* VGG-like */
        {3, 6, 6, 32, 8, 6, 6, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE, 1.f},       /* kernel=image */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        test_conv(&convs[i], 1000 + 10 * (unsigned)i);
    test_conv_cache();

    static const pool_case pools[] = {
        /* n  ih  iw  c  kh kw sh sw pt pb pl pr alg */
        {3, 13, 13, 8, 2, 2, 2, 2, 0, 0, 0, 0, IC__POOL_MAX}, /* valid, odd drops a row */
        {3, 13, 13, 8, 2, 2, 2, 2, 0, 1, 0, 1, IC__POOL_MAX}, /* TF same */
        {2, 14, 13, 5, 3, 3, 2, 2, 0, 1, 1, 1, IC__POOL_MAX}, /* TF same 3x3 s2 */
        {1, 7, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, IC__POOL_MAX},  /* 3x3 s1 same */
        {3, 13, 13, 8, 2, 2, 2, 2, 0, 1, 0, 1, IC__POOL_AVG},
        {2, 14, 13, 5, 3, 3, 2, 2, 0, 1, 1, 1, IC__POOL_AVG},
        {1, 7, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, IC__POOL_AVG},
        {3, 9, 9, 16, 3, 3, 3, 3, 0, 0, 0, 0, IC__POOL_AVG},
        {3, 7, 5, 24, 7, 5, 1, 1, 0, 0, 0, 0, IC__POOL_AVG}, /* global */
        {3, 7, 5, 24, 7, 5, 1, 1, 0, 0, 0, 0, IC__POOL_MAX}, /* global */
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        test_pool(&pools[i], 2000 + 10 * (unsigned)i);

    for (int act = IC__ACT_NONE; act <= IC__ACT_TANH; act++) {
        test_dense(3, 50, 7, act % 2, (ic__act)act, 3000 + 10 * (unsigned)act);
        test_eltwise(1000, (ic__act)act, 4000 + 10 * (unsigned)act);
    }
    test_dense(1, 300, 20, 1, IC__ACT_NONE, 3100);
    test_dense(3, 128, 1, 0, IC__ACT_SIGMOID, 3110);
    test_eltwise(3, IC__ACT_RELU6, 4100);

    test_softmax(7, 10, 5000);
    test_softmax(3, 1000, 5010);
    test_softmax(5, 1, 5020);

    test_bn(3 * 5 * 7, 13, 1, 6000);
    test_bn(3 * 5 * 7, 13, 0, 6010);
    test_bn(2 * 4 * 4, 64, 1, 6020);
}

#endif
