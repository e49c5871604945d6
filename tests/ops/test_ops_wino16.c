/* test_ops_wino16.c - the bf16 Winograd F(2x2, 3x3) of the oneDNN backend
 * (src/backend/cpu/cpu_wino16.c) in its three passes.
 *
 * Two references for every pass:
 *   - an emulation in plain C: the same transforms, with the transformed tiles and
 *     weights rounded to bf16 at the same points, the sums over channels (or tiles) and
 *     the output transforms in double. The implementation differs from it only by
 *     float32 accumulation, so a wrong tile, padding, flip or transpose shows as an
 *     error of 1e-2 or more where the bound is 2e-5 (relative L2; measured 1e-7..1e-6);
 *   - the reference backend in float32, at a bf16 tolerance: the error must be of the
 *     kind and size of a direct bf16 convolution's, which the reference backend's bf16
 *     emulation gives on the same data (bound: 3x that error and 2e-2; measured
 *     Winograd 3e-3..5e-3 against direct 2e-3..3e-3).
 * Shapes: paddings 0, 1, 2 and asymmetric, odd sizes (partial tiles), batches that leave
 * a partial chunk, 16 to 144 channels, bias and ReLU on and off; created directly (every
 * pass, whatever the rule) and through the bf16 backend table (the rule).
 * Also: a sample's forward result independent of its batch (bit for bit), repeated
 * calls bit-identical, the transformed-weights cache (new version, version 0), NaN
 * propagation, every allocation failing in turn, the shared buffer released, and
 * IC_CONV_WINOGRAD=0 / =1 (the test runs itself again with each).
 * Skips (77) where the CPU has no AVX512_BF16: the path never runs there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_wino16.h"
#include "harness.h"
#include "ops_cases.h"

#define EMU_L2 2e-5
#define REF_L2 2e-2
#define REF_VS_DIRECT 3.0

static const ic__backend *cpu, *cpu16, *ref, *ref16;
static double g_worst_emu, g_worst_ref;
static int g_amx; /* the rule never takes it on AMX (cpu_conv.c): rule checks expect none */

/* ---- the emulation ---- */

typedef struct geo {
    int64_t n, h, w, c, oh, ow, k, th, tw;
    int pt, pl;
} geo;

static geo geo_make(int64_t n, int64_t h, int64_t w, int64_t c, int pt, int pl, int64_t oh,
                    int64_t ow, int64_t k)
{
    geo g = {n, h, w, c, oh, ow, k, (oh + 1) / 2, (ow + 1) / 2, pt, pl};
    return g;
}

/* U[16][C][K] (bf16 values) = G g G^T of host weights (3, 3, C, K), flipped or not. */
static float *emu_u(const float *wt, int64_t C, int64_t K, int flip)
{
    float *U = fbuf(16 * C * K);
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++) {
            float g[3][3], t[4][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    int tap = flip ? (2 - i) * 3 + (2 - j) : i * 3 + j;
                    g[i][j] = wt[(tap * C + c) * K + k];
                }
            for (int j = 0; j < 3; j++) {
                float s = g[0][j] + g[2][j];
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (s + g[1][j]);
                t[2][j] = 0.5f * (s - g[1][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) {
                float s = t[i][0] + t[i][2], u[4];
                u[0] = t[i][0];
                u[1] = 0.5f * (s + t[i][1]);
                u[2] = 0.5f * (s - t[i][1]);
                u[3] = t[i][2];
                for (int j = 0; j < 4; j++)
                    U[((i * 4 + j) * C + c) * K + k] = ic__bf16_round(u[j]);
            }
        }
    return U;
}

/* V[16] (bf16 values) of tile (s, ty, tx), channel c of x under geometry g. */
static void emu_v(const geo *g, const float *x, int64_t s, int64_t ty, int64_t tx, int64_t c,
                  float v[16])
{
    float d[4][4], u[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int64_t y = 2 * ty - g->pt + i, xx = 2 * tx - g->pl + j;
            d[i][j] = y >= 0 && y < g->h && xx >= 0 && xx < g->w
                          ? x[((s * g->h + y) * g->w + xx) * g->c + c]
                          : 0.f;
        }
    for (int j = 0; j < 4; j++) {
        u[0][j] = d[0][j] - d[2][j];
        u[1][j] = d[1][j] + d[2][j];
        u[2][j] = d[2][j] - d[1][j];
        u[3][j] = d[1][j] - d[3][j];
    }
    for (int i = 0; i < 4; i++) {
        v[i * 4 + 0] = ic__bf16_round(u[i][0] - u[i][2]);
        v[i * 4 + 1] = ic__bf16_round(u[i][1] + u[i][2]);
        v[i * 4 + 2] = ic__bf16_round(u[i][2] - u[i][1]);
        v[i * 4 + 3] = ic__bf16_round(u[i][1] - u[i][3]);
    }
}

/* y = act(A^T (V x U) A + bias) over geometry g; U is [16][c][k] (transposed: [16][k][c]). */
static void emu_conv(const geo *g, const float *x, const float *U, int u_transposed,
                     const float *bias, int relu, float *y)
{
    float *V = fbuf(16 * g->c);
    for (int64_t s = 0; s < g->n; s++)
        for (int64_t ty = 0; ty < g->th; ty++)
            for (int64_t tx = 0; tx < g->tw; tx++) {
                for (int64_t c = 0; c < g->c; c++) {
                    float v[16];
                    emu_v(g, x, s, ty, tx, c, v);
                    for (int e = 0; e < 16; e++)
                        V[e * g->c + c] = v[e];
                }
                for (int64_t k = 0; k < g->k; k++) {
                    double m[4][4], a[2][4];
                    for (int e = 0; e < 16; e++) {
                        double acc = 0;
                        for (int64_t c = 0; c < g->c; c++)
                            acc += (double)V[e * g->c + c] *
                                   U[u_transposed ? (e * g->k + k) * g->c + c
                                                  : (e * g->c + c) * g->k + k];
                        m[e / 4][e % 4] = acc;
                    }
                    for (int j = 0; j < 4; j++) {
                        a[0][j] = m[0][j] + m[1][j] + m[2][j];
                        a[1][j] = m[1][j] - m[2][j] - m[3][j];
                    }
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++) {
                            int64_t oy = 2 * ty + i, ox = 2 * tx + j;
                            if (oy >= g->oh || ox >= g->ow)
                                continue;
                            double o = j == 0 ? a[i][0] + a[i][1] + a[i][2]
                                              : a[i][1] - a[i][2] - a[i][3];
                            o += bias ? bias[k] : 0.0;
                            if (relu && o < 0)
                                o = 0;
                            y[((s * g->oh + oy) * g->ow + ox) * g->k + k] = (float)o;
                        }
                }
            }
    free(V);
}

/* dw (3, 3, C, K) = G^T (sum over tiles of V (.) A dY A^T) G; db = sum of dy. */
static void emu_bwd_weights(const geo *g, const float *x, const float *dy, float *dw, float *db)
{
    const int64_t C = g->c, K = g->k;
    double *dU = calloc((size_t)(16 * C * K), sizeof(double));
    float *V = fbuf(16 * C), *D = fbuf(16 * K);
    for (int64_t s = 0; s < g->n; s++)
        for (int64_t ty = 0; ty < g->th; ty++)
            for (int64_t tx = 0; tx < g->tw; tx++) {
                for (int64_t c = 0; c < C; c++) {
                    float v[16];
                    emu_v(g, x, s, ty, tx, c, v);
                    for (int e = 0; e < 16; e++)
                        V[e * C + c] = v[e];
                }
                for (int64_t k = 0; k < K; k++) {
                    float e2[2][2], q[4][2];
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++) {
                            int64_t oy = 2 * ty + i, ox = 2 * tx + j;
                            e2[i][j] = oy < g->oh && ox < g->ow
                                           ? dy[((s * g->oh + oy) * g->ow + ox) * K + k]
                                           : 0.f;
                        }
                    for (int j = 0; j < 2; j++) {
                        q[0][j] = e2[0][j];
                        q[1][j] = e2[0][j] + e2[1][j];
                        q[2][j] = e2[0][j] - e2[1][j];
                        q[3][j] = -e2[1][j];
                    }
                    for (int i = 0; i < 4; i++) {
                        D[(i * 4 + 0) * K + k] = ic__bf16_round(q[i][0]);
                        D[(i * 4 + 1) * K + k] = ic__bf16_round(q[i][0] + q[i][1]);
                        D[(i * 4 + 2) * K + k] = ic__bf16_round(q[i][0] - q[i][1]);
                        D[(i * 4 + 3) * K + k] = ic__bf16_round(-q[i][1]);
                    }
                }
                for (int e = 0; e < 16; e++)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t k = 0; k < K; k++)
                            dU[(e * C + c) * K + k] += (double)V[e * C + c] * D[e * K + k];
            }
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++) {
            double u[4][4], r[3][4];
            for (int e = 0; e < 16; e++)
                u[e / 4][e % 4] = dU[(e * C + c) * K + k];
            for (int j = 0; j < 4; j++) {
                r[0][j] = u[0][j] + 0.5 * (u[1][j] + u[2][j]);
                r[1][j] = 0.5 * (u[1][j] - u[2][j]);
                r[2][j] = 0.5 * (u[1][j] + u[2][j]) + u[3][j];
            }
            for (int a = 0; a < 3; a++) {
                dw[((a * 3 + 0) * C + c) * K + k] = (float)(r[a][0] + 0.5 * (r[a][1] + r[a][2]));
                dw[((a * 3 + 1) * C + c) * K + k] = (float)(0.5 * (r[a][1] - r[a][2]));
                dw[((a * 3 + 2) * C + c) * K + k] = (float)(0.5 * (r[a][1] + r[a][2]) + r[a][3]);
            }
        }
    if (db)
        for (int64_t k = 0; k < K; k++) {
            double acc = 0;
            for (int64_t p = 0; p < g->n * g->oh * g->ow; p++)
                acc += dy[p * K + k];
            db[k] = (float)acc;
        }
    free(dU), free(V), free(D);
}

/* The emulation of all three passes of case c into B's slot `slot`. */
static void emulate(const wcase *c, wbufs *B, int slot)
{
    const ic__conv_desc *d = &c->cd;
    geo gf = geo_make(d->n, d->ih, d->iw, d->ic, d->pt, d->pl, d->oh, d->ow, d->oc);
    geo gb = geo_make(d->n, d->oh, d->ow, d->oc, 2 - d->pt, 2 - d->pl, d->ih, d->iw, d->ic);
    float *U = emu_u(B->w, d->ic, d->oc, 0), *Uf = emu_u(B->w, d->ic, d->oc, 1);
    emu_conv(&gf, B->src, U, 0, d->has_bias ? B->b : NULL, d->act == IC__ACT_RELU, B->y[slot]);
    emu_conv(&gb, B->dd, Uf, 1, NULL, 0, B->ds[slot]);
    emu_bwd_weights(&gf, B->src, B->dd, B->dw[slot], d->has_bias ? B->db[slot] : NULL);
    free(U), free(Uf);
}

/* ---- running the implementation ---- */

/* An op whose every pass runs the bf16 Winograd: made directly (w16) or through the
 * bf16 table, which must have chosen it. */
typedef struct runner {
    ic__cpu_w16 *w16;
    ic__op *op;
} runner;

static void r_fwd(runner *r, float *y, const float *x, const float *w, uint64_t v, const float *b)
{
    OK(r->w16 ? ic__cpu_w16_fwd(r->w16, y, x, w, v, b) : cpu16->conv_fwd(r->op, y, x, w, v, b));
}
static void r_bwd_data(runner *r, float *ds, const float *dd, const float *w, uint64_t v)
{
    OK(r->w16 ? ic__cpu_w16_bwd_data(r->w16, ds, dd, w, v)
              : cpu16->conv_bwd_data(r->op, ds, dd, w, v));
}
static void r_bwd_weights(runner *r, float *dw, float *db, const float *x, const float *dd)
{
    OK(r->w16 ? ic__cpu_w16_bwd_weights(r->w16, dw, db, x, dd)
              : cpu16->conv_bwd_weights(r->op, dw, db, x, dd));
}
static void r_free(runner *r)
{
    if (r->w16)
        ic__cpu_w16_free(r->w16);
    if (r->op)
        cpu16->op_free(r->op);
}

static runner r_make(const wcase *c, int direct)
{
    runner r = {0};
    if (g_amx)
        direct = 1; /* the rule gives it nothing here; test the computation anyway */
    if (direct) {
        int on[3] = {1, 1, 1};
        OK(ic__cpu_w16_create(&r.w16, &c->cd, on, c->what));
    } else {
        r.op = wcreate(cpu16, c);
        for (int p = 0; p < 3; p++) {
            const char *impl = ic__cpu_wop_impl(r.op, (ic__cpu_pass)p);
            CHECKF(impl && strstr(impl, "wino16"), "%s: pass %d runs %s, expected wino16 by the rule",
                   c->what, p, impl ? impl : "(null)");
        }
    }
    return r;
}

/* got against the emulation and the f32 reference; direct = the bf16-emulated direct
 * convolution's error against the same reference. */
static void compare(const char *what, const char *pass, const float *got, const float *emu,
                    const float *f32, const float *direct, long n)
{
    double e = rel_l2(got, emu, n), r = rel_l2(got, f32, n), dr = rel_l2(direct, f32, n);
    CHECKF(e < EMU_L2, "%s: %s: relative L2 %.3g against the emulation (< %g)", what, pass, e,
           EMU_L2);
    CHECKF(r < REF_L2 && r < REF_VS_DIRECT * dr + 1e-6,
           "%s: %s: relative L2 %.3g against f32 (< %g and < %g x direct bf16's %.3g)", what, pass,
           r, REF_L2, REF_VS_DIRECT, dr);
    g_worst_emu = e > g_worst_emu ? e : g_worst_emu;
    g_worst_ref = r > g_worst_ref ? r : g_worst_ref;
    printf("    %-11s emulation %.1e, f32 %.1e (direct bf16 %.1e)\n", pass, e, r, dr);
}

static void run_case(const conv_case *cc, int direct, unsigned seed)
{
    wcase c = wcase_conv(cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, seed);
    const float *bias = c.nb ? B.b : NULL;
    printf("  %s (%s)\n", c.what, direct ? "all passes" : "by the rule");

    runner r = r_make(&c, direct);
    r_fwd(&r, B.y[0], B.src, B.w, 3, bias);
    r_bwd_data(&r, B.ds[0], B.dd, B.w, 3);
    r_bwd_weights(&r, B.dw[0], c.nb ? B.db[0] : NULL, B.src, B.dd);

    emulate(&c, &B, 1);
    /* slot 2: the f32 reference; the bf16-emulated direct reference in separate buffers */
    ic__op *o = wcreate(ref, &c), *o16 = wcreate(ref16, &c);
    wfwd(ref, &c, o, B.y[2], B.src, B.w, 1, bias);
    wbwd_data(ref, &c, o, B.ds[2], B.dd, B.w, 1);
    wbwd_weights(ref, &c, o, B.dw[2], c.nb ? B.db[2] : NULL, B.src, B.dd);
    float *y16 = fbuf(c.nd), *ds16 = fbuf(c.ns), *dw16 = fbuf(c.nw), *db16 = fbuf(c.nb);
    wfwd(ref16, &c, o16, y16, B.src, B.w, 1, bias);
    wbwd_data(ref16, &c, o16, ds16, B.dd, B.w, 1);
    wbwd_weights(ref16, &c, o16, dw16, c.nb ? db16 : NULL, B.src, B.dd);

    compare(c.what, "fwd", B.y[0], B.y[1], B.y[2], y16, c.nd);
    compare(c.what, "bwd_data", B.ds[0], B.ds[1], B.ds[2], ds16, c.ns);
    compare(c.what, "bwd_weights", B.dw[0], B.dw[1], B.dw[2], dw16, c.nw);
    if (c.nb) { /* a plain sum of f32 diff_dst: as exact as the reference's */
        double e = rel_l2(B.db[0], B.db[2], c.nb);
        CHECKF(e < 1e-6, "%s: bwd_bias: relative L2 %.3g against f32", c.what, e);
    }

    /* the same calls again: bit-identical */
    float *y = fbuf(c.nd), *ds = fbuf(c.ns), *dw = fbuf(c.nw);
    r_fwd(&r, y, B.src, B.w, 3, bias);
    r_bwd_data(&r, ds, B.dd, B.w, 3);
    r_bwd_weights(&r, dw, NULL, B.src, B.dd);
    CHECKF(!memcmp(y, B.y[0], (size_t)c.nd * sizeof(float)), "%s: fwd not repeatable", c.what);
    CHECKF(!memcmp(ds, B.ds[0], (size_t)c.ns * sizeof(float)), "%s: bwd_data not repeatable",
           c.what);
    CHECKF(!memcmp(dw, B.dw[0], (size_t)c.nw * sizeof(float)), "%s: bwd_weights not repeatable",
           c.what);
    free(y), free(ds), free(dw), free(y16), free(ds16), free(dw16), free(db16);
    r_free(&r);
    ref->op_free(o);
    ref16->op_free(o16);
    wbufs_free(&B);
}

/* ---- properties ---- */

/* A sample's forward result does not depend on its batch: a batch of 13 (chunks of 11
 * samples at 9x9: one full, one padded) against each sample alone and three at a time
 * at other positions, bit for bit. */
static void test_batch_invariance(void)
{
    conv_case base = {13, 9, 9, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    conv_case c1 = base, c3 = base;
    c1.n = 1, c3.n = 3;
    wcase w13 = wcase_conv(&base), w1 = wcase_conv(&c1), w3 = wcase_conv(&c3);
    float *src = fbuf(w13.ns), *w = fbuf(w13.nw), *b = fbuf(48), *y13 = fbuf(w13.nd),
          *y = fbuf(w3.nd);
    t_fill_uniform(src, w13.ns, 31, -1.f, 1.f);
    t_fill_uniform(w, w13.nw, 32, -1.f, 1.f);
    t_fill_uniform(b, 48, 33, -1.f, 1.f);
    runner r13 = r_make(&w13, 1), r1 = r_make(&w1, 1), r3 = r_make(&w3, 1);
    CHECKF(ic__cpu_w16_chunk(r13.w16, 0) == 11, "chunk at 9x9: %lld samples, expected 11",
           (long long)ic__cpu_w16_chunk(r13.w16, 0));
    r_fwd(&r13, y13, src, w, 1, b);
    int same = 1;
    for (int i = 0; i < 13; i++) {
        r_fwd(&r1, y, src + i * w1.ns, w, 1, b);
        same &= !memcmp(y, y13 + i * w1.nd, (size_t)w1.nd * sizeof(float));
    }
    for (int i = 0; i + 3 <= 13; i += 5) {
        r_fwd(&r3, y, src + i * w1.ns, w, 1, b);
        same &= !memcmp(y, y13 + i * w1.nd, (size_t)w3.nd * sizeof(float));
    }
    CHECKF(same, "forward result of a sample depends on its batch");
    printf("  batch invariance (13 vs 1 and 3 at a time): %s\n", same ? "bit-identical" : "DIFFERS");
    r_free(&r13), r_free(&r1), r_free(&r3);
    free(src), free(w), free(b), free(y13), free(y);
}

/* The transformed weights are cached by (pointer, version): new values under a new
 * version are used, version 0 always reads the weights again. */
static void test_weights_cache(void)
{
    conv_case cc = {2, 8, 8, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_NONE, 1.f};
    wcase c = wcase_conv(&cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, 41);
    runner r = r_make(&c, 1);
    r_fwd(&r, B.y[0], B.src, B.w, 5, NULL);
    r_bwd_data(&r, B.ds[0], B.dd, B.w, 5);
    for (long i = 0; i < c.nw; i++) /* same pointer, new values */
        B.w[i] = -0.5f * B.w[i];
    r_fwd(&r, B.y[1], B.src, B.w, 6, NULL);
    r_bwd_data(&r, B.ds[1], B.dd, B.w, 6);
    emulate(&c, &B, 2);
    CHECKF(rel_l2(B.y[1], B.y[2], c.nd) < EMU_L2, "fwd after a new weights version: stale");
    CHECKF(rel_l2(B.ds[1], B.ds[2], c.ns) < EMU_L2, "bwd_data after a new weights version: stale");
    for (long i = 0; i < c.nw; i++)
        B.w[i] = 2.f * B.w[i];
    r_fwd(&r, B.y[0], B.src, B.w, 0, NULL);
    r_bwd_data(&r, B.ds[0], B.dd, B.w, 0);
    emulate(&c, &B, 2);
    CHECKF(rel_l2(B.y[0], B.y[2], c.nd) < EMU_L2, "fwd with version 0: stale");
    CHECKF(rel_l2(B.ds[0], B.ds[2], c.ns) < EMU_L2, "bwd_data with version 0: stale");
    printf("  weights cache: new version and version 0 read the new weights\n");
    r_free(&r);
    wbufs_free(&B);
}

/* A NaN in the input reaches the outputs of its tiles (through the fused ReLU too) and
 * no others. */
static void test_nan(void)
{
    conv_case cc = {1, 12, 12, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    wcase c = wcase_conv(&cc);
    wbufs B;
    wbufs_alloc(&B, &c);
    wbufs_fill(&B, &c, 51);
    B.src[(2 * 12 + 3) * 16 + 5] = NAN; /* (y 2, x 3), channel 5 */
    runner r = r_make(&c, 1);
    r_fwd(&r, B.y[0], B.src, B.w, 1, B.b);
    int near_nan = 1, far_finite = 1;
    for (int64_t oy = 0; oy < 12; oy++)
        for (int64_t ox = 0; ox < 12; ox++)
            for (int64_t k = 0; k < 16; k++) {
                float v = B.y[0][(oy * 12 + ox) * 16 + k];
                if (oy >= 1 && oy <= 3 && ox >= 2 && ox <= 4) /* outputs reading (2, 3) */
                    near_nan &= isnan(v);
                else if (oy >= 6 || ox >= 8)
                    far_finite &= isfinite(v);
            }
    CHECKF(near_nan, "a NaN input did not reach the outputs that read it");
    CHECKF(far_finite, "a NaN input reached outputs far from it");
    printf("  NaN input: propagated to its outputs, not beyond its tiles\n");
    r_free(&r);
    wbufs_free(&B);
}

/* Every allocation of an op through the bf16 table failing in turn. */
static ic_status fi_run(void)
{
    static float src[3 * 10 * 10 * 128], w[9 * 128 * 128], b[128], out[3 * 10 * 10 * 128],
        dw[9 * 128 * 128];
    t_fill_uniform(src, 3 * 10 * 10 * 128, 61, -1.f, 1.f);
    t_fill_uniform(w, 9 * 128 * 128, 62, -1.f, 1.f);
    t_fill_uniform(b, 128, 63, -1.f, 1.f);
    conv_case cc = {3, 10, 10, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    ic__conv_desc d = conv_desc_of(&cc);
    ic__op *op = NULL;
    ic_status s = cpu16->conv_create(&op, &d);
    if (s)
        return s;
    if (!(s = cpu16->conv_fwd(op, out, src, w, 1, b)) &&
        !(s = cpu16->conv_bwd_weights(op, dw, b, src, out)))
        s = cpu16->conv_bwd_data(op, src, out, w, 1);
    cpu16->op_free(op);
    return s;
}

/* ---- IC_CONV_WINOGRAD ---- */

static const char *impl_of(const conv_case *cc, int pass)
{
    wcase c = wcase_conv(cc);
    ic__op *op = wcreate(cpu16, &c);
    static char name[3][96];
    const char *impl = ic__cpu_wop_impl(op, (ic__cpu_pass)pass);
    snprintf(name[pass], sizeof name[pass], "%s", impl ? impl : "(null)");
    cpu16->op_free(op);
    return name[pass];
}

static int runs_w16(const conv_case *cc)
{
    int all = 1;
    for (int p = 0; p < 3; p++)
        all &= strstr(impl_of(cc, p), "wino16") != NULL;
    return all;
}

static const conv_case c128 = {2, 16, 16, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU,
                               1.f};
static const conv_case c64 = {2, 10, 10, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};

int main(int argc, char **argv)
{
    const char *arg = argc > 1 ? argv[1] : "";
    cpu = ic__backend_cpu();
    ref = ic__backend_ref();
    cpu16 = ic__backend_with_prec(cpu, IC__PREC_BF16);
    ref16 = ic__backend_with_prec(ref, IC__PREC_BF16);
    if (!ic__cpu_w16_available())
        t_skip("no AVX512_BF16 on this CPU (or compiler): the bf16 Winograd never runs here");
    if (!strcmp(arg, "--off")) { /* IC_CONV_WINOGRAD=0 */
        for (int p = 0; p < 3; p++)
            CHECKF(!strstr(impl_of(&c128, p), "wino16"), "IC_CONV_WINOGRAD=0: pass %d runs %s",
                   p, impl_of(&c128, p));
        printf("[off] 128 channels: %s\n", impl_of(&c128, 0));
        return t_finish();
    }
    g_amx = ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_amx);
    if (g_amx)
        printf("AMX: the rule never runs the bf16 Winograd here (oneDNN's bf16 kernels are "
               "faster); its computation is still tested, the rule checks expect none\n");
    if (!strcmp(arg, "--on")) { /* IC_CONV_WINOGRAD=1: wherever it fits */
        CHECKF(runs_w16(&c64) != g_amx, "IC_CONV_WINOGRAD=1: 64 channels run %s", impl_of(&c64, 0));
        conv_case c40 = c64;
        c40.ic = 40; /* not a multiple of 16: oneDNN's f32 Winograd instead */
        CHECKF(!strstr(impl_of(&c40, 0), "wino16"), "40 channels run %s", impl_of(&c40, 0));
        printf("[on] 64 channels: %s\n", impl_of(&c64, 0));
        printf("[on] 40 channels: %s\n", impl_of(&c40, 0));
        return t_finish();
    }
    setenv("IC_CONV_WINOGRAD", "auto", 1);

    static const conv_case direct[] = {
        {3, 9, 9, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* odd, same */
        {2, 10, 7, 32, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, 0, IC__ACT_NONE, 1.f},  /* valid */
        {5, 11, 11, 16, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, IC__ACT_RELU, 1.f}, /* pad 2 */
        {2, 8, 9, 16, 48, 3, 3, 1, 1, 0, 2, 1, 1, 1, 1, IC__ACT_NONE, 1.f},   /* asymmetric */
        {1, 2, 2, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f},   /* one tile */
    };
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        run_case(&direct[i], 1, 10 + 10 * (unsigned)i);
    /* the rule: >= 128 channels; the forward from 64 tiles per sample (16x16 outputs);
     * the rest runs oneDNN's direct bf16 kernels */
    conv_case rule = {3, 16, 15, 128, 144, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, 1.f};
    run_case(&rule, 0, 90);
    CHECKF(!runs_w16(&c64), "64 channels run %s by the rule", impl_of(&c64, 0));
    CHECKF(runs_w16(&c128) != g_amx, "16x16, 128 channels: fwd %s", impl_of(&c128, 0));
    conv_case c10 = c128;
    c10.ih = c10.iw = 10;
    CHECKF(!strstr(impl_of(&c10, 0), "wino16") &&
               (strstr(impl_of(&c10, 1), "wino16") != NULL) != g_amx &&
               (strstr(impl_of(&c10, 2), "wino16") != NULL) != g_amx,
           "10x10 (25 tiles): fwd %s, bwd_data %s: expected direct, wino16", impl_of(&c10, 0),
           impl_of(&c10, 1));
    conv_case r6 = c128;
    r6.act = IC__ACT_RELU6; /* not fused here: the forward runs oneDNN's */
    CHECKF(!strstr(impl_of(&r6, 0), "wino16") &&
               (strstr(impl_of(&r6, 1), "wino16") != NULL) != g_amx,
           "ReLU6: fwd %s, bwd_data %s", impl_of(&r6, 0), impl_of(&r6, 1));
    conv_case s2 = c128;
    s2.sh = s2.sw = 2;
    CHECKF(!strstr(impl_of(&s2, 0), "wino16"), "stride 2 runs %s", impl_of(&s2, 0));
    printf("  rule: 64 channels %s\n", impl_of(&c64, 0));
    printf("  rule: 10x10 forward %s\n", impl_of(&c10, 0));
    printf("  rule: ReLU6 fwd %s\n", impl_of(&r6, 0));
    printf("  rule: stride 2 %s\n", impl_of(&s2, 0));

    test_batch_invariance();
    test_weights_cache();
    test_nan();
    fi_each("bf16 Winograd conv", fi_run);
    CHECKF(ic__cpu_shared_bytes() == 0, "shared buffer not released: %zu bytes",
           ic__cpu_shared_bytes());
    printf("worst error: %.2e against the emulation (< %g), %.2e against f32 (< %g)\n",
           g_worst_emu, EMU_L2, g_worst_ref, REF_L2);

    static const char *sub[2][2] = {{"--on", "1"}, {"--off", "0"}};
    for (int i = 0; i < 2; i++) {
        int rc = rerun_with_winograd("test_ops_wino16", sub[i][0], sub[i][1]);
        CHECKF(rc == 0, "IC_CONV_WINOGRAD=%s run: exit %d", sub[i][1], rc);
    }
    return t_finish();
}
