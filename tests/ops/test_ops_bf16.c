/* test_ops_bf16.c - bf16 compute precision of the oneDNN backend, against
 * the reference backend's exact bf16 emulation and its float32 kernels.
 *
 * For each conv shape (3x3 same, strided valid, TF-'same' stride 2, 1x1, depthwise,
 * grouped, 3-channel first layer, bias + relu/relu6, odd sizes) and dense shape, every
 * pass is compared twice:
 *   (a) cpu bf16 vs ref bf16: tight (relative L2 < TIGHT). Products of bf16 numbers are
 *       exact in float32, so only the summation order differs;
 *   (b) bf16 vs ref float32: between BF16_MIN and BF16_MAX, which shows that the inputs
 *       really were rounded (a silent float32 fallback lands far below BF16_MIN).
 * Convolutions that a bf16 model computes in float32 (depthwise and grouped, bound by
 * memory: src/backend/prec.c) are held tightly to ref float32 and must run a float32
 * kernel.
 * Where the bf16 table runs backward weights in float32 (AMX, or
 * IC_BF16_BWD_WEIGHTS=f32), that pass is held tightly to ref float32 instead.
 * The same op then runs a sequence of steps that rewrite src, diff_dst and (sometimes)
 * the weights in the same buffers, in the call orders a plan makes and a few more that
 * the caching contract allows (cpu_wprim.c): a reused conversion that should have been
 * redone shows up as a mismatch. Also the weights cache by (pointer, version), the
 * oneDNN implementations picked (never a "ref:" one), every allocation failing in turn,
 * and three training steps of a small convnet in bf16 vs float32 through
 * ic_model_set_precision.
 * Skips (77) when this machine has no native bf16 (test_ops_bf16_ref.c covers the
 * reference side everywhere). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_wprim.h"
#include "harness.h"
#include "ops_cases.h"

#define TIGHT 1e-5
#define BF16_MIN 1e-4
#define BF16_MAX 1e-2

static const ic__backend *cpu16, *ref16, *ref32;
static int g_bwd_w_bf16; /* the cpu bf16 table's backward weights reads bf16 */
static int g_verbose;

/* got (cpu bf16) against emu (ref bf16) and f32 (ref float32, NULL: not computed).
 * bf16 = 0: the pass runs in float32 in the cpu bf16 table (backward weights on AMX). */
static void check_pass(const char *what, const char *pass, const float *got, const float *emu,
                       const float *f32, long n, int bf16)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s", what, pass);
    if (!bf16) {
        double e = rel_l2(got, f32 ? f32 : emu, n);
        CHECKF(e < TIGHT, "%s: float32 pass vs ref float32: relative L2 %.3g", msg, e);
        return;
    }
    double e_emu = rel_l2(got, emu, n);
    CHECKF(e_emu < TIGHT, "%s: cpu bf16 vs ref bf16: relative L2 %.3g (want < %g)", msg, e_emu,
           TIGHT);
    if (f32) {
        double e_f32 = rel_l2(got, f32, n), e_ref = rel_l2(emu, f32, n);
        CHECKF(e_f32 > BF16_MIN && e_f32 < BF16_MAX,
               "%s: cpu bf16 vs float32: relative L2 %.3g (want %g..%g)", msg, e_f32, BF16_MIN,
               BF16_MAX);
        CHECKF(e_ref > BF16_MIN && e_ref < BF16_MAX,
               "%s: ref bf16 vs float32: relative L2 %.3g (want %g..%g)", msg, e_ref, BF16_MIN,
               BF16_MAX);
        if (g_verbose)
            printf("  %-60s %-16s vs ref bf16 %.2e, vs f32 %.2e\n", what, pass, e_emu, e_f32);
    }
}

/* The first pass of a case: all three passes on all three tables, both comparisons. */
static void test_case(const wcase *c, unsigned seed)
{
    wbufs B;
    wbufs_alloc(&B, c);
    wbufs_fill(&B, c, seed);
    const ic__backend *be[3] = {cpu16, ref16, ref32};
    ic__op *op[3];
    for (int i = 0; i < 3; i++)
        op[i] = wcreate(be[i], c);
    const float *bias = c->nb ? B.b : NULL;
    for (int i = 0; i < 3; i++) {
        wfwd(be[i], c, op[i], B.y[i], B.src, B.w, 5, bias);
        wbwd_weights(be[i], c, op[i], B.dw[i], c->nb ? B.db[i] : NULL, B.src, B.dd);
        wbwd_data(be[i], c, op[i], B.ds[i], B.dd, B.w, 5);
    }
    /* memory-bound convolutions compute in float32 in a bf16 model (src/backend/prec.c) */
    int b16 = !c->is_conv || ic__conv_prec(&c->cd, IC__PREC_BF16) == IC__PREC_BF16;
    int w16 = b16 && g_bwd_w_bf16;
    check_pass(c->what, "fwd", B.y[0], B.y[1], B.y[2], c->nd, b16);
    check_pass(c->what, "bwd_data", B.ds[0], B.ds[1], B.ds[2], c->ns, b16);
    check_pass(c->what, "bwd_weights", B.dw[0], w16 ? B.dw[1] : B.dw[2], B.dw[2], c->nw, w16);
    if (c->nb) { /* a sum of diff_dst: bf16 rounding shows less, so only the tight check */
        double e = rel_l2(B.db[0], w16 ? B.db[1] : B.db[2], c->nb);
        CHECKF(e < TIGHT, "%s: bwd_bias: relative L2 %.3g", c->what, e);
    }
    /* the implementations oneDNN picked: a "ref:" one would be orders of magnitude slower */
    const char *impl[3];
    for (int p = 0; p < 3; p++) {
        impl[p] = ic__cpu_wop_impl(op[0], (ic__cpu_pass)p);
        CHECKF(impl[p] && strncmp(impl[p], "ref", 3) != 0, "%s: pass %d runs %s", c->what, p,
               impl[p] ? impl[p] : "(null)");
    }
    /* a convolution the rule keeps in float32 runs a float32 kernel (a bf16 one's name
     * says bf16 or amx; the other way the numbers above tell, as some bf16 kernels'
     * names do not say it: "ip:x64:gemm:jit") */
    for (int p = 0; p < 3 && c->is_conv && !b16; p++)
        CHECKF(!strstr(impl[p], "bf16") && !strstr(impl[p], "amx"),
               "%s: pass %d runs %s, the rule says float32", c->what, p, impl[p]);
    if (g_verbose)
        printf("  %-60s fwd %s, bwd_data %s, bwd_weights %s\n", c->what, impl[0], impl[1], impl[2]);
    for (int i = 0; i < 3; i++)
        be[i]->op_free(op[i]);
    wbufs_free(&B);
}

/* Steps over the same buffers with new contents. Each step is a string of calls
 * (f = forward, w = backward weights, b = backward data), checked against ref bf16.
 * Between steps src and diff_dst are rewritten in place, and the weights on odd steps
 * (new version; even steps keep values and version, so the cached copy is right). The
 * table follows the contract of cpu_wprim.c: a step after one that ended with a
 * backward pass starts with a forward or with that same pass. */
static void test_steps(const wcase *c, unsigned seed)
{
    static const char *steps[] = {"fwb", "fwb", "b",  "fbw", "w", "fb",  "fb", "b",
                                  "b",   "fw",  "fw", "w",   "w", "fwb", "f",  "fwb"};
    wbufs B;
    wbufs_alloc(&B, c);
    t_fill_uniform(B.b, c->nb, seed + 2, -1.f, 1.f);
    t_fill_uniform(B.w, c->nw, seed + 1, -1.f, 1.f);
    ic__op *o1 = wcreate(cpu16, c), *o2 = wcreate(ref16, c), *o3 = wcreate(ref32, c);
    const float *bias = c->nb ? B.b : NULL;
    uint64_t ver = 1;
    for (int s = 0; s < (int)(sizeof steps / sizeof steps[0]); s++) {
        t_fill_uniform(B.src, c->ns, seed + 100 + 3 * (unsigned)s, -c->scale, c->scale);
        t_fill_uniform(B.dd, c->nd, seed + 101 + 3 * (unsigned)s, -1.f, 1.f);
        if (s % 2) {
            t_fill_uniform(B.w, c->nw, seed + 102 + 3 * (unsigned)s, -1.f, 1.f);
            ver++;
        }
        char what[260];
        for (const char *k = steps[s]; *k; k++) {
            snprintf(what, sizeof what, "%s: step %d \"%s\"", c->what, s, steps[s]);
            switch (*k) {
            case 'f':
                wfwd(cpu16, c, o1, B.y[0], B.src, B.w, ver, bias);
                wfwd(ref16, c, o2, B.y[1], B.src, B.w, ver, bias);
                check_pass(what, "fwd", B.y[0], B.y[1], NULL, c->nd, 1);
                break;
            case 'b':
                wbwd_data(cpu16, c, o1, B.ds[0], B.dd, B.w, ver);
                wbwd_data(ref16, c, o2, B.ds[1], B.dd, B.w, ver);
                check_pass(what, "bwd_data", B.ds[0], B.ds[1], NULL, c->ns, 1);
                break;
            case 'w': {
                const ic__backend *rb = g_bwd_w_bf16 ? ref16 : ref32;
                wbwd_weights(cpu16, c, o1, B.dw[0], c->nb ? B.db[0] : NULL, B.src, B.dd);
                wbwd_weights(rb, c, g_bwd_w_bf16 ? o2 : o3, B.dw[1], c->nb ? B.db[1] : NULL, B.src,
                             B.dd);
                check_pass(what, "bwd_weights", B.dw[0], B.dw[1], NULL, c->nw, 1);
                if (c->nb)
                    check_pass(what, "bwd_bias", B.db[0], B.db[1], NULL, c->nb, 1);
                break;
            }
            }
        }
    }
    /* another src pointer right after a forward is converted, not taken from the copy */
    float *src2 = fbuf(c->ns);
    t_fill_uniform(src2, c->ns, seed + 999, -c->scale, c->scale);
    wfwd(cpu16, c, o1, B.y[0], B.src, B.w, ver, bias);
    wbwd_weights(cpu16, c, o1, B.dw[0], c->nb ? B.db[0] : NULL, src2, B.dd);
    wbwd_weights(g_bwd_w_bf16 ? ref16 : ref32, c, g_bwd_w_bf16 ? o2 : o3, B.dw[1],
                 c->nb ? B.db[1] : NULL, src2, B.dd);
    char what[260];
    snprintf(what, sizeof what, "%s: other src pointer", c->what);
    check_pass(what, "bwd_weights", B.dw[0], B.dw[1], NULL, c->nw, 1);
    free(src2);
    cpu16->op_free(o1);
    ref16->op_free(o2);
    ref32->op_free(o3);
    wbufs_free(&B);
}

/* The bf16 weights cache: (pointer, version) unchanged -> the cached bf16 copy, even if
 * the values changed in place; a new version, version 0 or another pointer -> converted
 * again. Forward and backward data (which may share the copy). */
static void test_weights_cache(void)
{
    conv_case cc = {2, 9, 9, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f};
    wcase c = wcase_conv(&cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    t_fill_uniform(B.src, c.ns, 501, -1.f, 1.f);
    t_fill_uniform(B.w, c.nw, 502, -1.f, 1.f);
    t_fill_uniform(B.b, c.nb, 503, -1.f, 1.f);
    t_fill_uniform(B.dd, c.nd, 504, -1.f, 1.f);
    ic__op *o1 = wcreate(cpu16, &c), *o2 = wcreate(ref16, &c);

    wfwd(cpu16, &c, o1, B.y[0], B.src, B.w, 42, B.b);
    wbwd_data(cpu16, &c, o1, B.ds[0], B.dd, B.w, 42);
    for (long i = 0; i < c.nw; i++)
        B.w[i] *= -0.5f; /* in place, same version */
    wfwd(cpu16, &c, o1, B.y[1], B.src, B.w, 42, B.b);
    t_allclose("bf16 cache: same version keeps the cached weights (fwd)", B.y[1], B.y[0], c.nd, 0,
               0);
    wbwd_data(cpu16, &c, o1, B.ds[1], B.dd, B.w, 42);
    t_allclose("bf16 cache: same version keeps the cached weights (bwd_data)", B.ds[1], B.ds[0],
               c.ns, 0, 0);

    wfwd(cpu16, &c, o1, B.y[0], B.src, B.w, 43, B.b);
    wfwd(ref16, &c, o2, B.y[1], B.src, B.w, 43, B.b);
    check_pass("bf16 cache: new version", "fwd", B.y[0], B.y[1], NULL, c.nd, 1);
    wbwd_data(cpu16, &c, o1, B.ds[0], B.dd, B.w, 43);
    wbwd_data(ref16, &c, o2, B.ds[1], B.dd, B.w, 43);
    check_pass("bf16 cache: new version", "bwd_data", B.ds[0], B.ds[1], NULL, c.ns, 1);

    for (int k = 0; k < 2; k++) { /* version 0: never cached */
        for (long i = 0; i < c.nw; i++)
            B.w[i] *= k ? 0.5f : 3.f;
        wfwd(cpu16, &c, o1, B.y[0], B.src, B.w, 0, B.b);
        wfwd(ref16, &c, o2, B.y[1], B.src, B.w, 0, B.b);
        check_pass("bf16 cache: version 0", "fwd", B.y[0], B.y[1], NULL, c.nd, 1);
        wbwd_data(cpu16, &c, o1, B.ds[0], B.dd, B.w, 0);
        wbwd_data(ref16, &c, o2, B.ds[1], B.dd, B.w, 0);
        check_pass("bf16 cache: version 0", "bwd_data", B.ds[0], B.ds[1], NULL, c.ns, 1);
    }
    float *w2 = fbuf(c.nw); /* another pointer with the cached version */
    t_fill_uniform(w2, c.nw, 505, -1.f, 1.f);
    wfwd(cpu16, &c, o1, B.y[0], B.src, B.w, 44, B.b);
    wfwd(cpu16, &c, o1, B.y[0], B.src, w2, 44, B.b);
    wfwd(ref16, &c, o2, B.y[1], B.src, w2, 44, B.b);
    check_pass("bf16 cache: other pointer, same version", "fwd", B.y[0], B.y[1], NULL, c.nd, 1);
    free(w2);
    cpu16->op_free(o1);
    ref16->op_free(o2);
    wbufs_free(&B);
}

/* ---- fault injection over the bf16 ops (conversion buffers, lazy backward passes) ---- */

static ic_status fi_run(void)
{
    static float src[4 * 6 * 6 * 16], w[3 * 3 * 16 * 16], b[16], out[4 * 6 * 6 * 16];
    t_fill_uniform(src, 4 * 6 * 6 * 16, 77, -1.f, 1.f);
    t_fill_uniform(w, 3 * 3 * 16 * 16, 78, -1.f, 1.f);
    t_fill_uniform(b, 16, 79, -1.f, 1.f);
    ic_status s;
    ic__op *op = NULL;
    ic__conv_desc cd = {.n = 4,
                        .ih = 6,
                        .iw = 6,
                        .ic = 16,
                        .oh = 6,
                        .ow = 6,
                        .oc = 16,
                        .kh = 3,
                        .kw = 3,
                        .sh = 1,
                        .sw = 1,
                        .pt = 1,
                        .pb = 1,
                        .pl = 1,
                        .pr = 1,
                        .groups = 1,
                        .has_bias = 1,
                        .act = IC__ACT_RELU};
    if ((s = cpu16->conv_create(&op, &cd)) != IC_OK)
        return s;
    if (!(s = cpu16->conv_fwd(op, out, src, w, 1, b)) &&
        !(s = cpu16->conv_bwd_weights(op, w, b, src, out)))
        s = cpu16->conv_bwd_data(op, out, src, w, 1);
    cpu16->op_free(op);
    if (s)
        return s;
    ic__dense_desc dd = {.n = 4, .ic = 36, .oc = 16, .has_bias = 1, .act = IC__ACT_TANH};
    if ((s = cpu16->dense_create(&op, &dd)) != IC_OK)
        return s;
    if (!(s = cpu16->dense_fwd(op, out, src, w, 0, b)) &&
        !(s = cpu16->dense_bwd_data(op, out, src, w, 0)))
        s = cpu16->dense_bwd_weights(op, w, b, src, out);
    cpu16->op_free(op);
    return s;
}

/* ---- model level ---- */

static void test_model(void)
{
    double f32[3], bf[3], emu[3];
    train3("cpu", IC_PRECISION_FP32, f32);
    train3("cpu", IC_PRECISION_BF16, bf);
    train3("ref", IC_PRECISION_BF16, emu);
    OK(ic_set_backend("cpu"));
    printf("losses fp32 %.7f %.7f %.7f\n       bf16 %.7f %.7f %.7f\n   ref bf16 %.7f %.7f %.7f\n",
           f32[0], f32[1], f32[2], bf[0], bf[1], bf[2], emu[0], emu[1], emu[2]);
    int differ = 0;
    for (int s = 0; s < 3; s++) {
        double rel = fabs(bf[s] - f32[s]) / fabs(f32[s]);
        CHECKF(rel < 1e-2, "step %d: bf16 loss %.7f vs fp32 %.7f", s, bf[s], f32[s]);
        differ |= bf[s] != f32[s];
        /* the same bf16 arithmetic up to summation order (and float32 backward weights
         * on AMX): close to the emulation */
        double re = fabs(bf[s] - emu[s]) / fabs(emu[s]);
        CHECKF(re < (g_bwd_w_bf16 ? 1e-4 : 1e-3), "step %d: cpu bf16 loss %.7f vs ref bf16 %.7f", s,
               bf[s], emu[s]);
    }
    CHECKF(differ, "bf16 losses equal the fp32 ones: bf16 is not in effect");
}

int main(int argc, char **argv)
{
    g_verbose = argc > 1 && !strcmp(argv[1], "-v");
    const ic__backend *cpu = ic__backend_cpu(), *ref = ic__backend_ref();
    cpu16 = ic__backend_with_prec(cpu, IC__PREC_BF16);
    ref16 = ic__backend_with_prec(ref, IC__PREC_BF16);
    ref32 = ic__backend_with_prec(ref, IC__PREC_F32);
    /* the tables themselves hold everywhere */
    CHECK(cpu16 != cpu && cpu16->prec == IC__PREC_BF16 && !strcmp(cpu16->name, "cpu"));
    CHECK(ref16 != ref && ref16->prec == IC__PREC_BF16 && ref32 == ref);
    CHECK(ic__backend_with_prec(cpu16, IC__PREC_F32) == cpu);
    CHECK(ic__backend_with_prec(ref16, IC__PREC_F32) == ref);
    CHECK(ic__backend_prec_native(ref, IC__PREC_BF16) == 1);
    CHECK(ic__backend_prec_native(cpu16, IC__PREC_F32) == 1);
    if (!ic__backend_prec_native(cpu, IC__PREC_BF16)) {
        if (t_failures)
            return t_finish();
        t_skip("no native bf16 here (oneDNN's effective ISA lacks AVX512_BF16)");
    }
    g_bwd_w_bf16 = ic__cpu_bf16_bwd_weights();
    printf("cpu bf16 backward weights reads %s\n", g_bwd_w_bf16 ? "bf16" : "float32");

    static const conv_case convs[] = {
        /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
        {1, 7, 5, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},        /* first layer */
        {1, 13, 13, 3, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, IC__ACT_RELU6, 3.f},    /* rgb s2 */
        {3, 13, 13, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f},    /* same, odd */
        {2, 20, 20, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},    /* VGG-like */
        {3, 14, 14, 16, 16, 3, 3, 2, 2, 0, 1, 0, 1, 1, 0, IC__ACT_RELU6, 2.f},   /* TF same s2 */
        {3, 9, 11, 8, 12, 3, 5, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_TANH, 1.f},      /* valid */
        {2, 15, 15, 32, 48, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},    /* valid s2 */
        {2, 13, 13, 24, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_SIGMOID, 1.f}, /* 1x1 */
        {2, 7, 7, 128, 144, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},    /* 1x1 wide */
        {3, 13, 13, 8, 16, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},     /* 1x1 s2 */
        {3, 13, 13, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, 1, IC__ACT_RELU6, 3.f},  /* dw */
        {1, 14, 14, 32, 32, 3, 3, 2, 2, 0, 1, 0, 1, 32, 1, IC__ACT_RELU6, 3.f},  /* dw s2 TF */
        {2, 7, 5, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 8, 0, IC__ACT_NONE, 1.f},       /* dw dm2 s2 */
        {2, 9, 9, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, IC__ACT_TANH, 1.f},       /* groups 2 */
        {3, 6, 6, 32, 8, 6, 6, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE, 1.f},       /* kernel=image */
    };
    size_t nconv = sizeof convs / sizeof convs[0];
    for (size_t i = 0; i < nconv; i++) {
        wcase c = wcase_conv(&convs[i]);
        test_case(&c, 7000 + 10 * (unsigned)i);
    }
    wcase dense[] = {
        wcase_dense(3, 50, 7, 1, IC__ACT_RELU),     wcase_dense(1, 300, 20, 1, IC__ACT_NONE),
        wcase_dense(5, 128, 1, 0, IC__ACT_SIGMOID), wcase_dense(20, 2048, 64, 1, IC__ACT_RELU),
        wcase_dense(4, 33, 17, 1, IC__ACT_TANH),
    };
    size_t ndense = sizeof dense / sizeof dense[0];
    for (size_t i = 0; i < ndense; i++)
        test_case(&dense[i], 8000 + 10 * (unsigned)i);

    /* the conversion caches over repeated calls: a plain conv, the first layer, a
     * depthwise and a grouped one, and two dense layers */
    const size_t step_convs[] = {2, 0, 9, 12};
    for (size_t i = 0; i < sizeof step_convs / sizeof step_convs[0]; i++) {
        wcase c = wcase_conv(&convs[step_convs[i]]);
        test_steps(&c, 9000 + 10 * (unsigned)i);
    }
    test_steps(&dense[0], 9500);
    test_steps(&dense[3], 9510);
    test_weights_cache();
    fi_each("bf16 conv and dense", fi_run);
    test_model();
    return t_finish();
}
