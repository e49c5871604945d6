/* test_ops_winograd.c - Winograd convolutions of the oneDNN backend (cpu_conv.c's rule,
 * cpu_wprim.c's conversions and chunked forward, cpu_common.c's shared buffer) against
 * the reference backend.
 *
 * IC_CONV_WINOGRAD is read once per process, so the test runs itself three times:
 *   (no argument) auto, the default rule: shapes it gives Winograd to (same and valid
 *     padding, bias on and off, ReLU fused, odd batches that leave a partial forward
 *     chunk, chunks of 1 and of 4 samples, 64 and 80 channels, 19x19 to 64x64) against
 *     ref float32 in all three passes; which pass runs which kernel (the rule's
 *     boundaries: 9x9, ReLU6, 32 channels, 1x1, stride 2, depthwise, and bf16, which
 *     never runs oneDNN's Winograd by the rule);
 *     repeated calls bit-identical; a sample's forward result independent of its batch
 *     (size and position); calls with other src / diff_dst pointers (nothing is reused
 *     across calls); the shared buffer's size and release; two threads at once; every
 *     allocation failing in turn.
 *   --on (IC_CONV_WINOGRAD=1): Winograd where the rule would not take it (5x5, 32 and 3
 *     channels, channels oneDNN pads to 16) against ref float32, after the shared buffer
 *     was filled with NaN; what oneDNN refuses (padding 2, ReLU6 in the forward) falls
 *     back to the direct kernels silently; 1x1, stride 2, depthwise and grouped never
 *     run Winograd; where the bf16 table cannot run its own Winograd (channels not
 *     multiples of 16, test_ops_wino16.c), its Winograd passes compute in float32 (bit-identical
 *     to the f32 table's, within the Winograd tolerance of ref float32).
 *   --off (IC_CONV_WINOGRAD=0): the auto shapes run the direct kernels, at the direct
 *     tolerance.
 * Every comparison prints the implementation that ran, so the output shows which path
 * was exercised.
 *
 * Tolerances, relative to the reference backend (plain C float32 loops):
 *   Winograd: relative L2 < 1e-5 and worst element < 3e-5 x max|ref|. Measured on
 *   VGG16-like layers with inputs uniform in [-1, 1] (5x5 to 150x150, 64 to 512
 *   channels, all three passes): relative L2 6e-7..1.2e-6, worst element
 *   0.8e-6..2.9e-6 x max|ref|; the bounds leave ~8x margin for other shapes and data,
 *   while a wrong tile, padding or conversion errs by 1e-2 or more.
 *   Direct: relative L2 < 3e-6 and worst element < 1e-5 x max|ref| (measured up to
 *   1.2e-6 and 2.9e-6): the Winograd bound applies only to passes whose implementation
 *   name says Winograd; which passes those are is asserted separately.
 * Where oneDNN offers no Winograd (no AVX-512), everything runs on the direct kernels,
 * the Winograd assertions are skipped with the reason printed, and the test reports
 * skipped (77). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_wprim.h"
#include "harness.h"
#include "ops_cases.h"

#define WINO_L2 1e-5
#define WINO_MAX 3e-5
#define DIRECT_L2 3e-6
#define DIRECT_MAX 1e-5

static const ic__backend *cpu, *cpu16, *ref;
static const char *g_mode = "auto";
static int g_have_wino;                /* oneDNN itself offers Winograd here */
static int g_bf16_native;              /* the cpu bf16 table runs bf16 natively */
static double g_worst_l2, g_worst_max; /* over the Winograd passes compared */
static const char *pass_name[3] = {"fwd", "bwd_data", "bwd_weights"};

enum { W_FWD = 1, W_BWD_D = 2, W_BWD_W = 4, W_BWD = 6, W_ALL = 7 }; /* Winograd expected */

/* oneDNN's Winograd ("jit_wino_4x3:..."); the bf16 table's own F(2x2, 3x3)
 * ("wino16:...", tests/ops/test_ops_wino16.c) is not it. */
static int is_wino(const char *impl)
{
    return impl && strstr(impl, "jit_wino") != NULL;
}

/* Asks oneDNN directly (not our rule) for a Winograd forward of a shape it supports. */
static int onednn_has_winograd(void)
{
    dnnl_engine_t eng;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success)
        return 0;
    dnnl_memory_desc_t s, w, d;
    dnnl_dims_t sd = {2, 64, 8, 8}, wd = {64, 64, 3, 3}, st = {1, 1}, pad = {1, 1};
    dnnl_memory_desc_init_by_tag(&s, 4, sd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&d, 4, sd, dnnl_f32, dnnl_format_tag_any);
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    int ok =
        dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_winograd,
                                           &s, &w, NULL, &d, st, pad, pad) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) == dnnl_success;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    return ok;
}

/* Pass p of op runs Winograd exactly when `want` says so; without Winograd in oneDNN
 * the "yes" half cannot hold and is skipped with the reason. */
static void expect_impl(const char *what, ic__op *op, int p, int want)
{
    const char *impl = ic__cpu_wop_impl(op, (ic__cpu_pass)p);
    if (want && !g_have_wino) {
        printf("  %s: %s: Winograd assertion skipped: oneDNN offers no Winograd on this CPU "
               "(ran %s)\n",
               what, pass_name[p], impl ? impl : "(null)");
        return;
    }
    CHECKF(is_wino(impl) == want, "%s: %s runs %s, expected %s", what, pass_name[p],
           impl ? impl : "(null)", want ? "Winograd" : "a direct kernel");
}

/* max|got - want| / max|want| */
static double max_err(const float *got, const float *want, long n)
{
    double m = 0, s = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= m))
            m = d; /* NaN sticks */
        if (fabs(want[i]) > s)
            s = fabs(want[i]);
    }
    return s > 0 ? m / s : m;
}

/* got vs the reference at the tolerance of the kernel that ran; returns the L2 error. */
static double check_close(const char *what, const char *pass, const char *impl, const float *got,
                          const float *want, long n)
{
    int w = is_wino(impl);
    double l2 = rel_l2(got, want, n), mx = max_err(got, want, n);
    double tl2 = w ? WINO_L2 : DIRECT_L2, tmx = w ? WINO_MAX : DIRECT_MAX;
    CHECKF(l2 < tl2 && mx < tmx, "%s: %s (%s): relative L2 %.3g (< %g), worst %.3g (< %g)", what,
           pass, impl, l2, tl2, mx, tmx);
    if (w) {
        g_worst_l2 = l2 > g_worst_l2 ? l2 : g_worst_l2;
        g_worst_max = mx > g_worst_max ? mx : g_worst_max;
    }
    return l2;
}

/* ---- one case: all passes of `be` against ref float32, twice (determinism) ---- */

static void run_case(const ic__backend *be, const conv_case *cc, int want, unsigned seed)
{
    wcase c = wcase_conv(cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, seed);
    const float *bias = c.nb ? B.b : NULL;
    ic__op *o = wcreate(be, &c), *r = wcreate(ref, &c);
    wfwd(be, &c, o, B.y[0], B.src, B.w, 3, bias);
    wbwd_data(be, &c, o, B.ds[0], B.dd, B.w, 3);
    wbwd_weights(be, &c, o, B.dw[0], c.nb ? B.db[0] : NULL, B.src, B.dd);
    wfwd(ref, &c, r, B.y[1], B.src, B.w, 3, bias);
    wbwd_data(ref, &c, r, B.ds[1], B.dd, B.w, 3);
    wbwd_weights(ref, &c, r, B.dw[1], c.nb ? B.db[1] : NULL, B.src, B.dd);

    char what[260];
    snprintf(what, sizeof what, "%s%s: %s", g_mode, be == cpu16 ? " bf16" : "", c.what);
    const char *impl[3];
    for (int p = 0; p < 3; p++) {
        impl[p] = ic__cpu_wop_impl(o, (ic__cpu_pass)p);
        expect_impl(what, o, p, (want >> p) & 1);
    }
    double e0 = check_close(what, "fwd", impl[0], B.y[0], B.y[1], c.nd);
    double e1 = check_close(what, "bwd_data", impl[1], B.ds[0], B.ds[1], c.ns);
    double e2 = check_close(what, "bwd_weights", impl[2], B.dw[0], B.dw[1], c.nw);
    if (c.nb)
        check_close(what, "bwd_bias", impl[2], B.db[0], B.db[1], c.nb);
    printf("  %s\n    fwd %s (%.1e), bwd_data %s (%.1e), bwd_weights %s (%.1e)\n", what, impl[0],
           e0, impl[1], e1, impl[2], e2);

    /* the same calls again: bit-identical */
    wfwd(be, &c, o, B.y[2], B.src, B.w, 3, bias);
    wbwd_data(be, &c, o, B.ds[2], B.dd, B.w, 3);
    wbwd_weights(be, &c, o, B.dw[2], c.nb ? B.db[2] : NULL, B.src, B.dd);
    CHECKF(!memcmp(B.y[0], B.y[2], (size_t)c.nd * sizeof(float)), "%s: fwd not repeatable", what);
    CHECKF(!memcmp(B.ds[0], B.ds[2], (size_t)c.ns * sizeof(float)), "%s: bwd_data not repeatable",
           what);
    CHECKF(!memcmp(B.dw[0], B.dw[2], (size_t)c.nw * sizeof(float)),
           "%s: bwd_weights not repeatable", what);
    be->op_free(o);
    ref->op_free(r);
    wbufs_free(&B);
}

/* Only which kernels run (cheap): forward and backward data, then backward weights. */
static void expect_kernels(const ic__backend *be, const conv_case *cc, int want)
{
    wcase c = wcase_conv(cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, 5);
    ic__op *o = wcreate(be, &c);
    wfwd(be, &c, o, B.y[0], B.src, B.w, 1, c.nb ? B.b : NULL);
    wbwd_data(be, &c, o, B.ds[0], B.dd, B.w, 1);
    wbwd_weights(be, &c, o, B.dw[0], c.nb ? B.db[0] : NULL, B.src, B.dd);
    char what[260];
    snprintf(what, sizeof what, "%s%s: %s", g_mode, be == cpu16 ? " bf16" : "", c.what);
    printf("  %s: fwd %s, bwd_data %s, bwd_weights %s\n", what, ic__cpu_wop_impl(o, 0),
           ic__cpu_wop_impl(o, 1), ic__cpu_wop_impl(o, 2));
    for (int p = 0; p < 3; p++)
        expect_impl(what, o, p, (want >> p) & 1);
    be->op_free(o);
    wbufs_free(&B);
}

/* The bf16 table's Winograd passes (want16) compute in float32: bit-identical to the f32
 * table's, which runs Winograd in every pass of cc. */
static void bf16_same_as_f32(const conv_case *cc, int want16)
{
    wcase c = wcase_conv(cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, 610);
    const ic__backend *be[2] = {cpu, cpu16};
    const char *impl[2][3];
    for (int i = 0; i < 2; i++) {
        ic__op *o = wcreate(be[i], &c);
        wfwd(be[i], &c, o, B.y[i], B.src, B.w, 1, B.b);
        wbwd_data(be[i], &c, o, B.ds[i], B.dd, B.w, 1);
        wbwd_weights(be[i], &c, o, B.dw[i], B.db[i], B.src, B.dd);
        for (int p = 0; p < 3; p++) {
            impl[i][p] = ic__cpu_wop_impl(o, (ic__cpu_pass)p);
            expect_impl(c.what, o, p, i == 0 ? 1 : (want16 >> p) & 1);
        }
        be[i]->op_free(o);
    }
    const float *got[3][2] = {{B.y[0], B.y[1]}, {B.ds[0], B.ds[1]}, {B.dw[0], B.dw[1]}};
    long n[3] = {c.nd, c.ns, c.nw};
    for (int p = 0; p < 3; p++) {
        if (!is_wino(impl[1][p]))
            continue;
        CHECKF(!memcmp(got[p][0], got[p][1], (size_t)n[p] * sizeof(float)),
               "%s: bf16 table's %s (%s) differs from the f32 table's (%s)", c.what, pass_name[p],
               impl[1][p], impl[0][p]);
    }
    printf("  bf16 vs f32 table: %s: bf16 %s / %s / %s\n", c.what, impl[1][0], impl[1][1],
           impl[1][2]);
    wbufs_free(&B);
}

/* ---- auto ---- */

/* A sample's forward result does not depend on its batch: the samples of a batch of 7
 * (forward chunks 4 + 3 padded) computed again alone and three at a time, at other
 * positions, must be bit-identical. */
static void test_batch_invariance(const conv_case *cc)
{
    conv_case c7 = *cc, c1 = *cc, c3 = *cc;
    c7.n = 7, c1.n = 1, c3.n = 3;
    wcase w7 = wcase_conv(&c7), w1 = wcase_conv(&c1), w3 = wcase_conv(&c3);
    long s1 = w1.ns, d1 = w1.nd;
    float *src = fbuf(w7.ns), *w = fbuf(w7.nw), *b = fbuf(w7.cd.oc), *y7 = fbuf(w7.nd),
          *y = fbuf(w3.nd);
    t_fill_uniform(src, w7.ns, 901, -1.f, 1.f);
    t_fill_uniform(w, w7.nw, 902, -1.f, 1.f);
    t_fill_uniform(b, w7.cd.oc, 903, -1.f, 1.f);
    const float *bias = cc->has_bias ? b : NULL;
    ic__op *o7 = wcreate(cpu, &w7), *o1 = wcreate(cpu, &w1), *o3 = wcreate(cpu, &w3);
    wfwd(cpu, &w7, o7, y7, src, w, 1, bias);
    int same = 1;
    for (int i = 0; i < 7; i++) {
        wfwd(cpu, &w1, o1, y, src + i * s1, w, 1, bias);
        same &= !memcmp(y, y7 + i * d1, (size_t)d1 * sizeof(float));
    }
    CHECKF(same, "%s: a sample alone differs from the same sample in a batch of 7 (fwd %s)",
           w7.what, ic__cpu_wop_impl(o7, 0));
    for (int s0 = 1; s0 <= 4; s0 += 3) { /* samples 1-3 and 4-6 */
        wfwd(cpu, &w3, o3, y, src + s0 * s1, w, 1, bias);
        CHECKF(!memcmp(y, y7 + s0 * d1, (size_t)(3 * d1) * sizeof(float)),
               "%s: samples %d-%d in a batch of 3 differ from the batch of 7 (fwd %s)", w7.what, s0,
               s0 + 2, ic__cpu_wop_impl(o3, 0));
    }
    printf("  batch invariance: %s: fwd %s (batch 7, 3, 1)\n", w7.what, ic__cpu_wop_impl(o7, 0));
    expect_impl(w7.what, o7, 0, 1);
    cpu->op_free(o7);
    cpu->op_free(o1);
    cpu->op_free(o3);
    free(src), free(w), free(b), free(y7), free(y);
}

/* Calls with other src / diff_dst pointers and contents, in orders a plan makes and
 * others: every result against ref (nothing may be taken from an earlier call). */
static void test_pointers(const conv_case *cc)
{
    wcase c = wcase_conv(cc);
    float *sa = fbuf(c.ns), *sb = fbuf(c.ns), *da = fbuf(c.nd), *db_ = fbuf(c.nd);
    float *w = fbuf(c.nw), *b = fbuf(c.nb), *got = fbuf(c.ns > c.nd ? c.ns : c.nd),
          *want = fbuf(c.ns > c.nd ? c.ns : c.nd), *gw = fbuf(c.nw), *rw = fbuf(c.nw),
          *gb = fbuf(c.nb), *rb = fbuf(c.nb);
    t_fill_uniform(sa, c.ns, 11, -1.f, 1.f);
    t_fill_uniform(sb, c.ns, 12, -2.f, 2.f);
    t_fill_uniform(da, c.nd, 13, -1.f, 1.f);
    t_fill_uniform(db_, c.nd, 14, -3.f, 3.f);
    t_fill_uniform(w, c.nw, 15, -1.f, 1.f);
    t_fill_uniform(b, c.nb, 16, -1.f, 1.f);
    const float *bias = c.nb ? b : NULL;
    ic__op *o = wcreate(cpu, &c), *r = wcreate(ref, &c);
    /* f = forward, b = backward data, w = backward weights; A/B = which src / diff_dst */
    static const char *steps[] = {"fA",  "wAB", "bA", "fB",  "bB", "wBA",
                                  "wAA", "fA",  "fB", "wAB", "bB", "wBB"};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        const char *s = steps[k];
        const float *src = s[1] == 'A' ? sa : sb;
        char what[300];
        snprintf(what, sizeof what, "%s: pointers step %zu \"%s\"", c.what, k, s);
        if (s[0] == 'f') {
            wfwd(cpu, &c, o, got, src, w, 1, bias);
            wfwd(ref, &c, r, want, src, w, 1, bias);
            check_close(what, "fwd", ic__cpu_wop_impl(o, 0), got, want, c.nd);
        } else if (s[0] == 'b') {
            const float *dd = s[1] == 'A' ? da : db_;
            wbwd_data(cpu, &c, o, got, dd, w, 1);
            wbwd_data(ref, &c, r, want, dd, w, 1);
            check_close(what, "bwd_data", ic__cpu_wop_impl(o, 1), got, want, c.ns);
        } else {
            const float *dd = s[2] == 'A' ? da : db_;
            wbwd_weights(cpu, &c, o, gw, c.nb ? gb : NULL, src, dd);
            wbwd_weights(ref, &c, r, rw, c.nb ? rb : NULL, src, dd);
            check_close(what, "bwd_weights", ic__cpu_wop_impl(o, 2), gw, rw, c.nw);
            if (c.nb)
                check_close(what, "bwd_bias", ic__cpu_wop_impl(o, 2), gb, rb, c.nb);
        }
    }
    printf("  pointers: %s: fwd %s, bwd_data %s, bwd_weights %s\n", c.what, ic__cpu_wop_impl(o, 0),
           ic__cpu_wop_impl(o, 1), ic__cpu_wop_impl(o, 2));
    cpu->op_free(o);
    ref->op_free(r);
    free(sa), free(sb), free(da), free(db_), free(w), free(b), free(got), free(want);
    free(gw), free(rw), free(gb), free(rb);
}

/* The shared buffer: one for all Winograd ops (the largest need, not the sum), none for
 * other ops, freed with the last op. */
static void test_shared_buffer(void)
{
    CHECKF(ic__cpu_shared_bytes() == 0, "shared buffer of %zu bytes with no op alive",
           ic__cpu_shared_bytes());
    conv_case big = {6, 24, 24, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    conv_case small = {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_NONE, 1.f};
    conv_case one = {2, 9, 9, 64, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE, 1.f};
    wcase cb = wcase_conv(&big), cs = wcase_conv(&small), c1 = wcase_conv(&one);
    ic__op *o1 = wcreate(cpu, &c1);
    CHECKF(ic__cpu_shared_bytes() == 0, "a 1x1 conv took %zu bytes of the shared buffer",
           ic__cpu_shared_bytes());
    ic__op *ob = wcreate(cpu, &cb);
    size_t after_big = ic__cpu_shared_bytes();
    ic__op *os = wcreate(cpu, &cs);
    size_t after_small = ic__cpu_shared_bytes();
    ic__op *os2 = wcreate(cpu, &cs);
    printf("  shared buffer: %.2f MiB after %s, %.2f MiB with %s too (x2)\n", after_big / 1048576.0,
           cb.what, after_small / 1048576.0, cs.what);
    if (g_have_wino) {
        CHECK(after_big > 0);
        CHECKF(after_small == after_big && ic__cpu_shared_bytes() == after_big,
               "shared buffer grew from %zu to %zu bytes for smaller ops", after_big,
               ic__cpu_shared_bytes());
    }
    cpu->op_free(ob);
    CHECKF(!g_have_wino || ic__cpu_shared_bytes() == after_big,
           "shared buffer changed while ops still hold it");
    cpu->op_free(os);
    cpu->op_free(os2);
    CHECKF(ic__cpu_shared_bytes() == 0, "shared buffer of %zu bytes left after the last op",
           ic__cpu_shared_bytes());
    cpu->op_free(o1);
}

/* Two threads running Winograd ops at once (the shared buffer is handed out one call at a
 * time): each thread's results against ref. */
typedef struct thr_arg {
    conv_case cc;
    unsigned seed;
    double err[3];
    int failed;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    wcase c = wcase_conv(&a->cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, a->seed);
    ic__op *o = NULL, *r = NULL;
    if (cpu->conv_create(&o, &c.cd) || ref->conv_create(&r, &c.cd)) {
        a->failed = 1;
    } else {
        const float *bias = c.nb ? B.b : NULL;
        for (int it = 0; it < 4 && !a->failed; it++)
            a->failed |= cpu->conv_fwd(o, B.y[0], B.src, B.w, 1, bias) ||
                         cpu->conv_bwd_data(o, B.ds[0], B.dd, B.w, 1) ||
                         cpu->conv_bwd_weights(o, B.dw[0], NULL, B.src, B.dd);
        a->failed |= ref->conv_fwd(r, B.y[1], B.src, B.w, 1, bias) ||
                     ref->conv_bwd_data(r, B.ds[1], B.dd, B.w, 1) ||
                     ref->conv_bwd_weights(r, B.dw[1], NULL, B.src, B.dd);
        a->err[0] = rel_l2(B.y[0], B.y[1], c.nd);
        a->err[1] = rel_l2(B.ds[0], B.ds[1], c.ns);
        a->err[2] = rel_l2(B.dw[0], B.dw[1], c.nw);
    }
    cpu->op_free(o);
    ref->op_free(r);
    wbufs_free(&B);
    return NULL;
}

static void test_threads(void)
{
    thr_arg a[2] = {
        {{5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f}, 71, {0}, 0},
        {{7, 22, 22, 80, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_NONE, 1.f}, 72, {0}, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, thr_main, &a[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECKF(!a[i].failed, "thread %d: a call failed", i);
        for (int p = 0; p < 3; p++)
            CHECKF(a[i].err[p] < (g_have_wino ? WINO_L2 : DIRECT_L2),
                   "thread %d: %s relative L2 %.3g", i, pass_name[p], a[i].err[p]);
    }
    printf("  two threads: relative L2 %.1e %.1e %.1e / %.1e %.1e %.1e\n", a[0].err[0], a[0].err[1],
           a[0].err[2], a[1].err[0], a[1].err[1], a[1].err[2]);
}

/* Every allocation of a Winograd op's life failing in turn (conversions, the shared
 * buffer, lazy backward passes): IC_ERR_NOMEM each time and, under ASan, no leak. */
static ic_status fi_run(void)
{
    static float src[5 * 19 * 19 * 64], w[9 * 64 * 64], b[64], out[5 * 19 * 19 * 64],
        dw[9 * 64 * 64];
    t_fill_uniform(src, 5 * 19 * 19 * 64, 81, -1.f, 1.f);
    t_fill_uniform(w, 9 * 64 * 64, 82, -1.f, 1.f);
    t_fill_uniform(b, 64, 83, -1.f, 1.f);
    conv_case cc = {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    ic__conv_desc d = conv_desc_of(&cc);
    ic__op *op = NULL;
    ic_status s = cpu->conv_create(&op, &d);
    if (s)
        return s;
    if (!(s = cpu->conv_fwd(op, out, src, w, 1, b)) &&
        !(s = cpu->conv_bwd_weights(op, dw, b, src, out)))
        s = cpu->conv_bwd_data(op, src, out, w, 1);
    cpu->op_free(op);
    return s;
}

static void mode_auto(void)
{
    static const conv_case cases[] = {
        /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
        {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f}, /* same, chunks 4+1 */
        {7, 19, 19, 80, 80, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_NONE, 1.f}, /* valid, 80 ch */
        {2, 66, 66, 64, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 2.f}, /* chunks of 1 */
        {25, 5, 5, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU6, 3.f}, /* bwd only */
        {3, 20, 20, 96, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f}, /* fwd only */
    };
    static const int want[] = {W_ALL, W_ALL, W_ALL, W_BWD, W_FWD};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(cpu, &cases[i], want[i], 100 + 10 * (unsigned)i);

    /* the rule's boundaries: only the kernels */
    static const conv_case none[] = {
        {4, 9, 9, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* 9x9, 36 tiles */
        {5, 19, 19, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},  /* 32 inputs */
        {5, 19, 19, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* first layer */
        {5, 19, 19, 64, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},  /* 1x1 */
        {5, 19, 19, 64, 64, 3, 3, 2, 2, 0, 1, 0, 1, 1, 1, IC__ACT_RELU, 1.f},  /* stride 2 */
        {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 64, 1, IC__ACT_RELU, 1.f}, /* depthwise */
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        expect_kernels(cpu, &none[i], 0);
    /* ReLU6 is not fused by oneDNN's Winograd: forward direct, backward Winograd */
    conv_case r6 = {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU6, 3.f};
    expect_kernels(cpu, &r6, W_BWD);
    /* bf16 never runs oneDNN's Winograd by the rule: it computes in f32 and cannot beat the
     * direct bf16 kernels (cpu_conv.c); 3x3 layers with >= 128 channels run the bf16
     * Winograd instead (tests/ops/test_ops_wino16.c), smaller ones direct */
    if (g_bf16_native) {
        conv_case c64 = {4, 18, 18, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
        expect_kernels(cpu16, &c64, 0);
        expect_kernels(cpu, &c64, W_ALL);
        conv_case c512 = {16, 20, 20, 512, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
        expect_kernels(cpu16, &c512, 0);
    } else {
        printf("  bf16 checks skipped: no native bf16 here\n");
    }

    conv_case inv[] = {
        {0, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* chunks of 4 */
        {0, 18, 18, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_NONE, 1.f}, /* chunks of 4 */
        {0, 66, 66, 64, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},   /* chunks of 1 */
    };
    for (size_t i = 0; i < sizeof inv / sizeof inv[0]; i++)
        test_batch_invariance(&inv[i]);
    test_pointers(&cases[0]);
    test_pointers(&cases[4]);
    test_shared_buffer();
    test_threads();
    fi_each("winograd conv", fi_run);
    CHECKF(ic__cpu_shared_bytes() == 0, "shared buffer left after the fault injection");
}

/* ---- IC_CONV_WINOGRAD=1 ---- */

/* Fills the shared buffer with NaN through a Winograd op's conversions, so that what
 * follows must not depend on the buffer's old contents (channel padding, staging). */
static ic__op *poison_shared_buffer(void)
{
    conv_case cc = {6, 40, 40, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f};
    wcase c = wcase_conv(&cc);
    float *x = fbuf(c.ns), *w = fbuf(c.nw), *b = fbuf(c.nb), *y = fbuf(c.nd);
    for (long i = 0; i < c.ns; i++)
        x[i] = NAN;
    t_fill_uniform(w, c.nw, 1, -1.f, 1.f);
    t_fill_uniform(b, c.nb, 2, -1.f, 1.f);
    ic__op *o = wcreate(cpu, &c); /* kept alive: the buffer stays */
    wfwd(cpu, &c, o, y, x, w, 1, b);
    wbwd_data(cpu, &c, o, x, y, w, 1);
    wbwd_weights(cpu, &c, o, w, b, x, y);
    free(x), free(w), free(b), free(y);
    return o;
}

static void mode_on(void)
{
    ic__op *keep = poison_shared_buffer();
    static const conv_case cases[] = {
        /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
        {3, 5, 5, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* 5x5, chunk 4 */
        {2, 7, 7, 32, 48, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_NONE, 1.f},   /* valid 5x5 */
        {3, 9, 11, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* 3 channels */
        {5, 12, 12, 24, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_NONE, 1.f}, /* padded to 32, 48 */
        {2, 19, 19, 80, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_RELU, 1.f}, /* 19x19 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(cpu, &cases[i], W_ALL, 300 + 10 * (unsigned)i);
    /* what oneDNN's Winograd does not take falls back silently */
    conv_case pad2 = {3, 9, 9, 64, 64, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, IC__ACT_RELU, 1.f};
    run_case(cpu, &pad2, 0, 400);
    conv_case r6 = {3, 9, 9, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU6, 3.f};
    run_case(cpu, &r6, W_BWD, 410);
    static const conv_case never[] = {
        {3, 9, 9, 64, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, IC__ACT_RELU, 1.f},  /* 1x1 */
        {3, 9, 9, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},  /* stride 2 */
        {3, 9, 9, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 64, 1, IC__ACT_RELU, 1.f}, /* depthwise */
        {3, 9, 9, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, IC__ACT_RELU, 1.f},  /* groups 2 */
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        run_case(cpu, &never[i], 0, 500 + 10 * (unsigned)i);

    /* bf16: where the bf16 Winograd cannot run (channels not multiples of 16), a pass
     * asked for Winograd runs oneDNN's in float32: within the Winograd tolerance of ref
     * float32 (bf16 rounding would err by ~3e-3) and bit-identical to the f32 table's */
    if (g_bf16_native) {
        conv_case cc = {5, 19, 19, 40, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
        run_case(cpu16, &cc, W_ALL, 600);
        bf16_same_as_f32(&cc, W_ALL);
    } else {
        printf("  bf16 checks skipped: no native bf16 here\n");
    }
    cpu->op_free(keep);
}

/* ---- IC_CONV_WINOGRAD=0 ---- */

static void mode_off(void)
{
    static const conv_case cases[] = {
        {5, 19, 19, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},
        {7, 19, 19, 80, 80, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_NONE, 1.f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(cpu, &cases[i], 0, 700 + 10 * (unsigned)i);
    CHECKF(ic__cpu_shared_bytes() == 0, "shared buffer used with Winograd off");
}

int main(int argc, char **argv)
{
    const char *arg = argc > 1 ? argv[1] : "";
    if (!*arg) /* the default rule, whatever the caller's environment says */
        setenv("IC_CONV_WINOGRAD", "auto", 1);
    g_mode = !strcmp(arg, "--on") ? "on" : !strcmp(arg, "--off") ? "off" : "auto";
    cpu = ic__backend_cpu();
    ref = ic__backend_ref();
    cpu16 = ic__backend_with_prec(cpu, IC__PREC_BF16);
    g_have_wino = onednn_has_winograd();
    g_bf16_native = ic__backend_prec_native(cpu, IC__PREC_BF16);
    printf("[%s] oneDNN Winograd on this CPU: %s\n", g_mode,
           g_have_wino ? "yes" : "no (direct kernels only; Winograd assertions skipped)");
    if (!strcmp(g_mode, "on"))
        mode_on();
    else if (!strcmp(g_mode, "off"))
        mode_off();
    else
        mode_auto();
    if (g_worst_l2 > 0)
        printf("[%s] worst Winograd error: relative L2 %.2e (< %g), worst element %.2e x max|ref| "
               "(< %g)\n",
               g_mode, g_worst_l2, WINO_L2, g_worst_max, WINO_MAX);
    if (!strcmp(g_mode, "auto")) {
        static const char *sub[2][2] = {{"--on", "1"}, {"--off", "0"}};
        for (int i = 0; i < 2; i++) {
            int rc = rerun_with_winograd("test_ops_winograd", sub[i][0], sub[i][1]);
            CHECKF(rc == 0 || (rc == 77 && !g_have_wino), "IC_CONV_WINOGRAD=%s run: exit %d",
                   sub[i][1], rc);
        }
    }
    if (t_failures)
        return t_finish();
    if (!g_have_wino) {
        t_finish();
        t_skip("oneDNN has no Winograd convolution on this CPU: only the direct path ran");
    }
    return t_finish();
}
