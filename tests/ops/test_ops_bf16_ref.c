/* test_ops_bf16_ref.c - the reference backend's bf16 emulation, the oracle of
 * test_ops_bf16.c (runs on every machine: it needs no bf16 hardware).
 *
 * The contract (backend.h): a bf16 op rounds its inputs (src, weights, diff_dst) to bf16
 * and otherwise computes as in float32; bias, the activation and the outputs stay
 * float32. So for every pass of a few conv and dense shapes:
 *   - ref bf16 on any inputs == ref float32 on inputs rounded by ic__bf16_round, bit for
 *     bit (bias left unrounded);
 *   - ref bf16 == ref float32 bit for bit when the inputs are bf16 numbers already;
 *   - on ordinary inputs they differ by bf16 rounding: relative L2 between 1e-4 and 1e-2.
 * Convolutions that the bf16 tables compute in float32 (depthwise and grouped:
 * src/backend/prec.c) give float32's results bit for bit instead.
 * Also the tables (with_prec, prec_native), ic__bf16_round on ties, NaN and overflow, and
 * a small convnet trained 3 steps in bf16 vs float32 on the ref backend. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "harness.h"
#include "ops_cases.h"

static const ic__backend *ref16, *ref32;

static void round_all(float *dst, const float *src, long n)
{
    for (long i = 0; i < n; i++)
        dst[i] = ic__bf16_round(src[i]);
}

/* Runs all passes of c on table be with inputs (src, w, b, dd) into slot k of B. */
static void run_all(const ic__backend *be, const wcase *c, wbufs *B, int k, const float *src,
                    const float *w, const float *dd)
{
    ic__op *op = wcreate(be, c);
    wfwd(be, c, op, B->y[k], src, w, 3, c->nb ? B->b : NULL);
    wbwd_data(be, c, op, B->ds[k], dd, w, 3);
    wbwd_weights(be, c, op, B->dw[k], c->nb ? B->db[k] : NULL, src, dd);
    be->op_free(op);
}

static void check_equal(const char *what, const char *pass, const float *a, const float *b, long n)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s", what, pass);
    t_allclose(msg, a, b, n, 0, 0);
}

static void test_emulation(const wcase *c, unsigned seed)
{
    wbufs B;
    wbufs_alloc(&B, c);
    wbufs_fill(&B, c, seed);
    float *rs = fbuf(c->ns), *rw = fbuf(c->nw), *rd = fbuf(c->nd);
    round_all(rs, B.src, c->ns);
    round_all(rw, B.w, c->nw);
    round_all(rd, B.dd, c->nd);
    char what[260];

    if (c->is_conv && ic__conv_prec(&c->cd, IC__PREC_BF16) == IC__PREC_F32) {
        /* memory-bound (src/backend/prec.c): the bf16 table computes it in float32 */
        run_all(ref16, c, &B, 0, B.src, B.w, B.dd);
        run_all(ref32, c, &B, 1, B.src, B.w, B.dd);
        snprintf(what, sizeof what, "%s: float32 in a bf16 model", c->what);
        check_equal(what, "fwd", B.y[0], B.y[1], c->nd);
        check_equal(what, "bwd_data", B.ds[0], B.ds[1], c->ns);
        check_equal(what, "bwd_weights", B.dw[0], B.dw[1], c->nw);
        check_equal(what, "bwd_bias", B.db[0], B.db[1], c->nb);
        free(rs), free(rw), free(rd);
        wbufs_free(&B);
        return;
    }

    /* bf16 on raw inputs == float32 on rounded inputs */
    run_all(ref16, c, &B, 0, B.src, B.w, B.dd);
    run_all(ref32, c, &B, 1, rs, rw, rd);
    snprintf(what, sizeof what, "%s: bf16 = float32 on rounded inputs", c->what);
    check_equal(what, "fwd", B.y[0], B.y[1], c->nd);
    check_equal(what, "bwd_data", B.ds[0], B.ds[1], c->ns);
    check_equal(what, "bwd_weights", B.dw[0], B.dw[1], c->nw);
    check_equal(what, "bwd_bias", B.db[0], B.db[1], c->nb);

    /* bf16 numbers in: nothing to round */
    run_all(ref16, c, &B, 2, rs, rw, rd);
    snprintf(what, sizeof what, "%s: bf16 inputs", c->what);
    check_equal(what, "fwd", B.y[2], B.y[1], c->nd);
    check_equal(what, "bwd_data", B.ds[2], B.ds[1], c->ns);
    check_equal(what, "bwd_weights", B.dw[2], B.dw[1], c->nw);

    /* ordinary inputs: bf16 differs from float32 by bf16 rounding */
    run_all(ref32, c, &B, 1, B.src, B.w, B.dd);
    const char *pass[3] = {"fwd", "bwd_data", "bwd_weights"};
    const float *a[3] = {B.y[0], B.ds[0], B.dw[0]}, *b[3] = {B.y[1], B.ds[1], B.dw[1]};
    long n[3] = {c->nd, c->ns, c->nw};
    for (int p = 0; p < 3; p++) {
        double e = rel_l2(a[p], b[p], n[p]);
        CHECKF(e > 1e-4 && e < 1e-2, "%s: %s: ref bf16 vs float32: relative L2 %.3g", c->what,
               pass[p], e);
    }
    free(rs), free(rw), free(rd);
    wbufs_free(&B);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_round(void)
{
    CHECK(ic__bf16_round(1.f) == 1.f);
    CHECK(ic__bf16_round(-2.5f) == -2.5f);
    CHECK(ic__bf16_round(1.f + 0x1p-8f) == 1.f);                      /* tie: to even */
    CHECK(ic__bf16_round(1.f + 0x1p-7f + 0x1p-8f) == 1.f + 0x1p-6f);  /* tie: to even */
    CHECK(ic__bf16_round(1.f + 0x1p-8f + 0x1p-20f) == 1.f + 0x1p-7f); /* above the tie */
    CHECK(isnan(ic__bf16_round(from_bits(0x7f800001u))));             /* NaN stays NaN */
    CHECK(isinf(ic__bf16_round(from_bits(0x7f7fffffu))));             /* FLT_MAX: overflows */
    CHECK(ic__bf16_round(INFINITY) == INFINITY);
}

int main(void)
{
    const ic__backend *ref = ic__backend_ref();
    ref16 = ic__backend_with_prec(ref, IC__PREC_BF16);
    ref32 = ic__backend_with_prec(ref, IC__PREC_F32);
    CHECK(ref32 == ref && ref->prec == IC__PREC_F32);
    CHECK(ref16 && ref16 != ref && ref16->prec == IC__PREC_BF16 && !strcmp(ref16->name, "ref"));
    CHECK(ic__backend_with_prec(ref16, IC__PREC_F32) == ref);
    CHECK(ic__backend_with_prec(ref16, IC__PREC_BF16) == ref16);
    CHECK(ic__backend_prec_native(ref, IC__PREC_BF16) == 1);
    CHECK(ic__backend_prec_native(ref16, IC__PREC_F32) == 1);
    /* every entry but the creators is shared */
    CHECK(ref16->conv_fwd == ref->conv_fwd && ref16->dense_bwd_weights == ref->dense_bwd_weights);
    CHECK(ref16->conv_create != ref->conv_create && ref16->dense_create != ref->dense_create);
    test_round();

    static const conv_case convs[] = {
        /* n  ih  iw  ic  oc  kh kw sh sw pt pb pl pr  g  b  act  scale */
        {1, 7, 5, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},       /* first layer */
        {3, 14, 14, 16, 16, 3, 3, 2, 2, 0, 1, 0, 1, 1, 0, IC__ACT_RELU6, 2.f},  /* TF same s2 */
        {3, 13, 13, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, 1, IC__ACT_RELU6, 3.f}, /* dw */
        {2, 9, 9, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, IC__ACT_TANH, 1.f},      /* groups 2 */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        wcase c = wcase_conv(&convs[i]);
        test_emulation(&c, 100 + 10 * (unsigned)i);
    }
    wcase d1 = wcase_dense(3, 50, 7, 1, IC__ACT_RELU), d2 = wcase_dense(5, 128, 1, 0, IC__ACT_NONE);
    test_emulation(&d1, 200);
    test_emulation(&d2, 210);

    double f32[3], bf[3];
    train3("ref", IC_PRECISION_FP32, f32);
    train3("ref", IC_PRECISION_BF16, bf);
    printf("ref losses fp32 %.7f %.7f %.7f, bf16 %.7f %.7f %.7f\n", f32[0], f32[1], f32[2], bf[0],
           bf[1], bf[2]);
    int differ = 0;
    for (int s = 0; s < 3; s++) {
        CHECKF(fabs(bf[s] - f32[s]) < 1e-2 * fabs(f32[s]), "step %d: bf16 %.7f vs fp32 %.7f", s,
               bf[s], f32[s]);
        differ |= bf[s] != f32[s];
    }
    CHECKF(differ, "bf16 losses equal the fp32 ones: bf16 is not in effect");
    return t_finish();
}
