/* test_ops_cuda.c - the cuda backend against the reference kernels over the same cases
 * as the oneDNN backend (ops/ops_suite.h: every op forward and backward, the weights
 * cache), plus the dense weights cache and the property the validation cache relies on
 * (engine/val_cache.c): a sample's convolution, BN-inference, pooling and dense output is
 * bit for bit the same whether it is computed alone or inside a batch of 7.
 *
 * Skips (exit 77) with one line when the build has no cuda backend or no GPU is usable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "harness.h"
#include "ops/ops_suite.h"

/* The algorithms a cuda conv op chose (cuda_conv.c); weak, so that this file needs
 * nothing from the backend's private headers. */
extern const char *ic__cuda_conv_algos(const ic__op *op) __attribute__((weak));

static const char *algos(const ic__op *op)
{
    return ic__cuda_conv_algos ? ic__cuda_conv_algos(op) : "?";
}

/* ---- weights cache of dense ---- */

static void test_dense_cache(void)
{
    ic__dense_desc d = {3, 40, 9, 1, IC__ACT_NONE, IC__PREC_F32};
    long ns = 3 * 40, nd = 3 * 9, nw = 40 * 9;
    float *src = fbuf(ns), *w = fbuf(nw), *b = fbuf(9), *y1 = fbuf(nd), *y2 = fbuf(nd),
          *yr = fbuf(nd);
    t_fill_uniform(src, ns, 701, -1.f, 1.f);
    t_fill_uniform(w, nw, 702, -1.f, 1.f);
    t_fill_uniform(b, 9, 703, -1.f, 1.f);
    ic__op *op = NULL, *orf = NULL;
    OK(tb->dense_create(&op, &d));
    OK(ref->dense_create(&orf, &d));
    OK(tb->dense_fwd(op, y1, src, w, 5, b));
    for (long i = 0; i < nw; i++)
        w[i] *= -2.f; /* in place, same version: the device copy is used */
    OK(tb->dense_fwd(op, y2, src, w, 5, b));
    t_allclose("dense cache: same version keeps the cached weights", y2, y1, nd, 0, 0);
    OK(tb->dense_fwd(op, y2, src, w, 6, b));
    OK(ref->dense_fwd(orf, yr, src, w, 6, b));
    t_allclose("dense cache: new version uploads the new weights", y2, yr, nd, RTOL,
               atol_k(40 * 2));
    for (long i = 0; i < nw; i++)
        w[i] *= 0.5f;
    OK(tb->dense_fwd(op, y2, src, w, 0, b));
    OK(ref->dense_fwd(orf, yr, src, w, 0, b));
    t_allclose("dense cache: version 0 always uploads", y2, yr, nd, RTOL, atol_k(40));
    tb->op_free(op);
    ref->op_free(orf);
    free(src), free(w), free(b), free(y1), free(y2), free(yr);
}

/* ---- batch invariance ---- */

enum { NB = 7 };

/* conv: the forward of each sample alone equals its slice of the batch-of-7 forward. */
static int conv_invariant(const conv_case *base, const char *mode)
{
    conv_case c7 = *base, c1 = *base;
    c7.n = NB, c1.n = 1;
    wcase w7 = wcase_conv(&c7), w1 = wcase_conv(&c1);
    float *src = fbuf(w7.ns), *w = fbuf(w7.nw), *b = fbuf(c7.oc), *y7 = fbuf(w7.nd),
          *y1 = fbuf(w1.nd);
    t_fill_uniform(src, w7.ns, 801, -1.f, 1.f);
    t_fill_uniform(w, w7.nw, 802, -1.f, 1.f);
    t_fill_uniform(b, c7.oc, 803, -1.f, 1.f);
    ic__op *o7 = wcreate(tb, &w7), *o1 = wcreate(tb, &w1);
    wfwd(tb, &w7, o7, y7, src, w, 1, c7.has_bias ? b : NULL);
    int same = 1;
    for (int i = 0; i < NB; i++) {
        wfwd(tb, &w1, o1, y1, src + i * w1.ns, w, 1, c7.has_bias ? b : NULL);
        same &= !memcmp(y1, y7 + i * w1.nd, (size_t)w1.nd * sizeof(float));
    }
    printf("  %s [%s]: batch of 1 vs inside 7: %s\n    n=7: %s\n    n=1: %s\n", w7.what, mode,
           same ? "bit-identical" : "DIFFERS", algos(o7), algos(o1));
    tb->op_free(o7);
    tb->op_free(o1);
    free(src), free(w), free(b), free(y7), free(y1);
    return same;
}

static const conv_case inv_convs[] = {
    /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
    {NB, 20, 20, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},  /* VGG-like */
    {NB, 14, 14, 16, 24, 3, 3, 2, 2, 0, 1, 0, 1, 1, 1, IC__ACT_NONE, 1.f},  /* TF same s2 */
    {NB, 9, 9, 32, 128, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_RELU6, 1.f},  /* 1x1 */
    {NB, 13, 13, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, 1, IC__ACT_RELU6, 1.f}, /* depthwise */
    {NB, 37, 37, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f}, /* VGG block3 */
};

static void test_batch_invariance(void)
{
    int ok = 1;
    for (size_t i = 0; i < sizeof inv_convs / sizeof inv_convs[0]; i++)
        ok &= conv_invariant(&inv_convs[i], "default");
    CHECKF(ok, "a sample's conv forward depends on its batch (default algorithms)");
    /* the per-sample forward is invariant by construction: check it too */
    setenv("IC_CUDA_CONV_PER_SAMPLE", "1", 1);
    int ok1 = 1;
    for (size_t i = 0; i < sizeof inv_convs / sizeof inv_convs[0]; i++)
        ok1 &= conv_invariant(&inv_convs[i], "IC_CUDA_CONV_PER_SAMPLE=1");
    unsetenv("IC_CUDA_CONV_PER_SAMPLE");
    CHECKF(ok1, "a sample's conv forward depends on its batch (per-sample forward)");

    /* dense */
    wcase d7 = wcase_dense(NB, 300, 37, 1, IC__ACT_RELU), d1 = wcase_dense(1, 300, 37, 1,
                                                                          IC__ACT_RELU);
    float *src = fbuf(d7.ns), *w = fbuf(d7.nw), *b = fbuf(37), *y7 = fbuf(d7.nd), *y1 = fbuf(37);
    t_fill_uniform(src, d7.ns, 811, -1.f, 1.f);
    t_fill_uniform(w, d7.nw, 812, -1.f, 1.f);
    t_fill_uniform(b, 37, 813, -1.f, 1.f);
    ic__op *o7 = wcreate(tb, &d7), *o1 = wcreate(tb, &d1);
    wfwd(tb, &d7, o7, y7, src, w, 1, b);
    int same = 1;
    for (int i = 0; i < NB; i++) {
        wfwd(tb, &d1, o1, y1, src + i * 300, w, 1, b);
        same &= !memcmp(y1, y7 + i * 37, 37 * sizeof(float));
    }
    printf("  dense 300->37: batch of 1 vs inside 7: %s\n", same ? "bit-identical" : "DIFFERS");
    CHECKF(same, "a row's dense forward depends on its batch");
    tb->op_free(o7), tb->op_free(o1);
    free(src), free(w), free(b), free(y7), free(y1);

    /* BN inference and max pooling: per element / per sample */
    const int64_t hw = 5 * 5, c = 48;
    ic__bn_desc b7 = {NB * hw, c, 1e-3f}, b1 = {hw, c, 1e-3f};
    long n7 = (long)(NB * hw * c), n1 = (long)(hw * c);
    float *x = fbuf(n7), *z7 = fbuf(n7), *z1 = fbuf(n1), *g = fbuf(c), *be = fbuf(c),
          *mm = fbuf(c), *mv = fbuf(c);
    t_fill_uniform(x, n7, 821, -2.f, 3.f);
    t_fill_uniform(g, c, 822, 0.5f, 1.5f);
    t_fill_uniform(be, c, 823, -1.f, 1.f);
    t_fill_uniform(mm, c, 824, -0.5f, 0.5f);
    t_fill_uniform(mv, c, 825, 0.5f, 2.f);
    OK(tb->bn_create(&o7, &b7));
    OK(tb->bn_create(&o1, &b1));
    OK(tb->bn_fwd_inference(o7, z7, x, g, be, mm, mv));
    same = 1;
    for (int i = 0; i < NB; i++) {
        OK(tb->bn_fwd_inference(o1, z1, x + i * n1, g, be, mm, mv));
        same &= !memcmp(z1, z7 + i * n1, (size_t)n1 * sizeof(float));
    }
    printf("  bn inference: batch of 1 vs inside 7: %s\n", same ? "bit-identical" : "DIFFERS");
    CHECKF(same, "a sample's BN inference depends on its batch");
    tb->op_free(o7), tb->op_free(o1);

    ic__pool_desc p7 = {NB, 5, 5, c, 3, 3, 2, 2, 2, 2, 0, 1, 0, 1, IC__POOL_MAX}, p1 = p7;
    p1.n = 1;
    long m7 = (long)(NB * 3 * 3 * c), m1 = (long)(3 * 3 * c);
    OK(tb->pool_create(&o7, &p7));
    OK(tb->pool_create(&o1, &p1));
    OK(tb->pool_fwd(o7, z7, x, 0));
    same = 1;
    for (int i = 0; i < NB; i++) {
        OK(tb->pool_fwd(o1, z1, x + i * n1, 0));
        same &= !memcmp(z1, z7 + i * m1, (size_t)m1 * sizeof(float));
    }
    (void)m7;
    printf("  max pool: batch of 1 vs inside 7: %s\n", same ? "bit-identical" : "DIFFERS");
    CHECKF(same, "a sample's pooling depends on its batch");
    tb->op_free(o7), tb->op_free(o1);
    free(x), free(z7), free(z1), free(g), free(be), free(mm), free(mv);
}

/* Two runs of the same training step give the same gradients (no atomics anywhere). */
static void test_repeatable(void)
{
    conv_case cc = {5, 17, 17, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f};
    wcase c = wcase_conv(&cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, 901);
    ic__op *op = wcreate(tb, &c);
    for (int k = 0; k < 2; k++) {
        wbwd_data(tb, &c, op, B.ds[k], B.dd, B.w, 3);
        wbwd_weights(tb, &c, op, B.dw[k], B.db[k], B.src, B.dd);
    }
    CHECKF(!memcmp(B.ds[0], B.ds[1], (size_t)c.ns * sizeof(float)), "bwd_data not repeatable");
    CHECKF(!memcmp(B.dw[0], B.dw[1], (size_t)c.nw * sizeof(float)), "bwd_weights not repeatable");
    CHECKF(!memcmp(B.db[0], B.db[1], (size_t)c.nb * sizeof(float)), "bwd_bias not repeatable");
    tb->op_free(op);
    wbufs_free(&B);
}

int main(void)
{
    const ic__backend *cuda = NULL;
    if (ic__backend_by_name("cuda", &cuda) != IC_OK)
        t_skip(ic_errmsg()); /* "no CUDA GPU (cudaGetDeviceCount: ...)" or "this build has
                                no CUDA backend (...)" */
    CHECK(!strcmp(cuda->name, "cuda"));
    CHECK(ic__backend_with_prec(cuda, IC__PREC_BF16) == cuda); /* fp32 only: falls back */
    CHECK(ic__backend_prec_native(cuda, IC__PREC_BF16) == 0);
    tb = cuda;
    ref = ic__backend_ref();
    ops_suite_run();
    test_dense_cache();
    test_batch_invariance();
    test_repeatable();
    return t_finish();
}
