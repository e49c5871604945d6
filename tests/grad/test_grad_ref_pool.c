/* test_grad_ref_pool.c - reference max/avg pooling:
 *   hand-computed forwards (TF 'same' with stride 2, padded cells never winning a max of
 *   negative values, averages over the real cells only), the max backward's tie rule
 *   (first maximum in row-major scan order), and for several shapes (odd sizes,
 *   asymmetric pads, overlapping windows, global pooling) the float forward against an
 *   independent double forward and the backward against central differences in double.
 *   Inputs are distinct values 0.01 apart so no max is near a tie. */
#include <stdint.h>

#include "backend/backend.h"
#include "fd.h"
#include "harness.h"

static const ic__backend *B;

typedef struct ctx {
    ic__pool_desc d;
    double *src, *dy, *out; /* src N,IH,IW,C; dy/out N,OH,OW,C */
} ctx;

/* Double forward written over the padded coordinates: a cell (py, px) of the padded
 * image is real when PT <= py < PT+IH and PL <= px < PL+IW. */
static void fwd_d(ctx *c)
{
    const ic__pool_desc *d = &c->d;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t oy = 0; oy < d->oh; oy++)
            for (int64_t ox = 0; ox < d->ow; ox++)
                for (int64_t ch = 0; ch < d->c; ch++) {
                    double best = -INFINITY, sum = 0;
                    int cnt = 0;
                    for (int ky = 0; ky < d->kh; ky++)
                        for (int kx = 0; kx < d->kw; kx++) {
                            int64_t py = oy * d->sh + ky, px = ox * d->sw + kx;
                            if (py < d->pt || py >= d->pt + d->ih || px < d->pl ||
                                px >= d->pl + d->iw)
                                continue;
                            double v = c->src[((n * d->ih + py - d->pt) * d->iw + px - d->pl) *
                                                  d->c + ch];
                            best = v > best ? v : best;
                            sum += v;
                            cnt++;
                        }
                    c->out[((n * d->oh + oy) * d->ow + ox) * d->c + ch] =
                        d->alg == IC__POOL_MAX ? best : sum / cnt;
                }
}

static double loss_d(void *p)
{
    ctx *c = p;
    fwd_d(c);
    return fd_dot(c->dy, c->out, c->d.n * c->d.oh * c->d.ow * c->d.c);
}

static ic__pool_desc mk(ic__pool_alg alg, int64_t ih, int64_t iw, int kh, int kw, int sh, int sw,
                        int pt, int pb, int pl, int pr)
{
    ic__pool_desc d = {0};
    d.n = 2;
    d.ih = ih;
    d.iw = iw;
    d.c = 3;
    d.kh = kh;
    d.kw = kw;
    d.sh = sh;
    d.sw = sw;
    d.pt = pt;
    d.pb = pb;
    d.pl = pl;
    d.pr = pr;
    d.alg = alg;
    d.oh = (ih + pt + pb - kh) / sh + 1;
    d.ow = (iw + pl + pr - kw) / sw + 1;
    return d;
}

/* n distinct values (i - n/2) * 0.01 in a shuffled order. */
static void fill_distinct(float *x, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((double)(i - n / 2) * 0.01);
    unsigned long long s = seed * 2654435761ull + 1;
    for (int64_t i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t j = (int64_t)((s >> 33) % (unsigned long long)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static void grad_case(const char *name, ic__pool_desc d, unsigned seed)
{
    const int64_t ns = d.n * d.ih * d.iw * d.c, no = d.n * d.oh * d.ow * d.c;
    float *src = malloc(ns * 4), *dy = malloc(no * 4), *dst = malloc(no * 4);
    float *dsrc = malloc(ns * 4), *ref = malloc((ns > no ? ns : no) * 4);
    fill_distinct(src, ns, seed);
    t_fill_uniform(dy, no, seed + 1, -1, 1);
    for (int64_t i = 0; i < ns; i++)
        dsrc[i] = 12345.f; /* must be overwritten, not accumulated into */

    ic__op *op;
    OK(B->pool_create(&op, &d));
    OK(B->pool_fwd(op, dst, src, 1));
    OK(B->pool_bwd(op, dsrc, dy, src));
    B->op_free(op);

    ctx c = {.d = d};
    c.src = fd_to_double(src, ns);
    c.dy = fd_to_double(dy, no);
    c.out = malloc(no * 8);
    char what[200];
    fwd_d(&c);
    fd_to_float(ref, c.out, no);
    snprintf(what, sizeof what, "%s %s: fwd vs double fwd", name,
             d.alg == IC__POOL_MAX ? "max" : "avg");
    t_allclose(what, dst, ref, no, 1e-6, 1e-7);
    fd_grad(loss_d, &c, c.src, ns, ref);
    snprintf(what, sizeof what, "%s %s: diff_src vs finite differences", name,
             d.alg == IC__POOL_MAX ? "max" : "avg");
    t_allclose(what, dsrc, ref, ns, 1e-4, 1e-5);
    free(c.src), free(c.dy), free(c.out);
    free(src), free(dy), free(dst), free(dsrc), free(ref);
}

static void run1(ic__pool_desc d, const float *src, float *dst, const float *dy, float *dsrc)
{
    ic__op *op;
    OK(B->pool_create(&op, &d));
    OK(B->pool_fwd(op, dst, src, 1));
    if (dy)
        OK(B->pool_bwd(op, dsrc, dy, src));
    B->op_free(op);
}

/* Input (one image, one channel)
 *     1 2 3
 *     4 5 6
 *     7 8 9
 * 2x2 stride 2, TF 'same' (pads 0,1,0,1), out 2x2:
 *   max: 5, 6 / 8, 9;  avg over real cells: (1+2+4+5)/4 = 3, (3+6)/2 = 4.5, (7+8)/2 = 7.5, 9.
 * 3x3 stride 1, pads 1 all round (out 3x3), avg over real cells:
 *   3, 3.5, 4 / 4.5, 5, 5.5 / 6, 6.5, 7  (e.g. corner (1+2+4+5)/4, edge (1+2+3+4+5+6)/6).
 * The same image negated, max 2x2 stride 2 'same': a padded zero must never win:
 *   -1, -3 / -7, -9. */
static void hand_cases(void)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, neg[9], dst[9];
    for (int i = 0; i < 9; i++)
        neg[i] = -x[i];
    ic__pool_desc d = mk(IC__POOL_MAX, 3, 3, 2, 2, 2, 2, 0, 1, 0, 1);
    d.n = d.c = 1;
    run1(d, x, dst, NULL, NULL);
    t_allclose("hand: max same s2", dst, (const float[]){5, 6, 8, 9}, 4, 0, 0);
    run1(d, neg, dst, NULL, NULL);
    t_allclose("hand: max of negatives ignores padding", dst, (const float[]){-1, -3, -7, -9}, 4,
               0, 0);
    d.alg = IC__POOL_AVG;
    run1(d, x, dst, NULL, NULL);
    t_allclose("hand: avg same s2", dst, (const float[]){3, 4.5f, 7.5f, 9}, 4, 0, 1e-6);
    d = mk(IC__POOL_AVG, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1);
    d.n = d.c = 1;
    run1(d, x, dst, NULL, NULL);
    t_allclose("hand: avg 3x3 same", dst, (const float[]){3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7},
               9, 0, 1e-6);
    /* avg backward of that: corner input (0,0) is in the windows of outputs (0,0) (4 real
     * cells), (0,1) (6), (1,0) (6), (1,1) (9): with diff_dst = 1, 1/4+1/6+1/6+1/9. */
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, ds[9];
    run1(d, x, dst, ones, ds);
    CHECK(fabsf(ds[0] - (float)(1.0 / 4 + 2.0 / 6 + 1.0 / 9)) < 1e-6f);

    /* Ties: the first maximum in row-major scan order takes the whole gradient. */
    d = mk(IC__POOL_MAX, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0);
    d.n = d.c = 1;
    float flat[4] = {1, 1, 1, 1}, later[4] = {0, 3, 3, 0}, g[1] = {2.5f}, out[1];
    run1(d, flat, out, g, ds);
    t_allclose("tie: all equal -> first", ds, (const float[]){2.5f, 0, 0, 0}, 4, 0, 0);
    run1(d, later, out, g, ds);
    t_allclose("tie: (0,1) and (1,0) -> (0,1)", ds, (const float[]){0, 2.5f, 0, 0}, 4, 0, 0);

    /* Channels stay apart: two channels, global max. */
    d = mk(IC__POOL_MAX, 2, 1, 2, 1, 1, 1, 0, 0, 0, 0);
    d.n = 1;
    d.c = 2;
    float two[4] = {1, 9, 4, 2}, o2[2], g2[2] = {1, 10}, ds2[4];
    run1(d, two, o2, g2, ds2);
    t_allclose("channels fwd", o2, (const float[]){4, 9}, 2, 0, 0);
    t_allclose("channels bwd", ds2, (const float[]){0, 10, 1, 0}, 4, 0, 0);
}

static void bad_descs(void)
{
    ic__op *op = NULL;
    ic__pool_desc d = mk(IC__POOL_MAX, 7, 5, 2, 2, 2, 2, 2, 0, 0, 0); /* pad 2 >= kernel 2 */
    EXPECT_ERR(B->pool_create(&op, &d), IC_ERR_INVALID, "smaller than the kernel");
    d = mk(IC__POOL_AVG, 7, 5, 2, 2, 2, 2, 0, 0, 0, 0);
    d.ow = 9;
    EXPECT_ERR(B->pool_create(&op, &d), IC_ERR_SHAPE, "does not match");
    CHECK(op == NULL);
}

int main(void)
{
    B = ic__backend_ref();
    hand_cases();
    bad_descs();
    for (int a = 0; a < 2; a++) {
        ic__pool_alg alg = a ? IC__POOL_AVG : IC__POOL_MAX;
        /*                                           ih iw kh kw sh sw pt pb pl pr */
        grad_case("3x3 s2 same on 7x5 (pads 1,1,1,1)", mk(alg, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1), 1);
        grad_case("3x3 s2 same on 8x6 (pads 0,1,0,1)", mk(alg, 8, 6, 3, 3, 2, 2, 0, 1, 0, 1), 2);
        grad_case("2x2 s2 valid on 7x5", mk(alg, 7, 5, 2, 2, 2, 2, 0, 0, 0, 0), 3);
        grad_case("2x2 s2 same on 7x5 (pads 0,1,0,1)", mk(alg, 7, 5, 2, 2, 2, 2, 0, 1, 0, 1), 4);
        grad_case("3x3 s1 same, overlapping", mk(alg, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1), 5);
        grad_case("3x2 s2x1, pads 2,0,0,1", mk(alg, 6, 5, 3, 2, 2, 1, 2, 0, 0, 1), 6);
        grad_case("global 7x5", mk(alg, 7, 5, 7, 5, 1, 1, 0, 0, 0, 0), 7);
    }
    return t_finish();
}
