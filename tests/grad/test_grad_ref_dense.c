/* test_grad_ref_dense.c - the reference fully connected layer: a hand-computed forward
 * and backward that pin the (in, out) kernel layout, then for several shapes and every
 * activation the float forward against a double forward and bwd_data / bwd_weights /
 * bias against central differences of L = sum(dy * act(src . w + b)) in double. */
#include <stdint.h>

#include "backend/backend.h"
#include "fd.h"
#include "harness.h"

static const ic__backend *B;

typedef struct ctx {
    ic__dense_desc d;
    double *src, *w, *b, *dy, *out; /* src N,IC; w IC,OC; b OC; dy/out N,OC */
} ctx;

static void fwd_d(ctx *c)
{
    const ic__dense_desc *d = &c->d;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->oc; o++) {
            double acc = d->has_bias ? c->b[o] : 0;
            for (int64_t i = 0; i < d->ic; i++)
                acc += c->src[n * d->ic + i] * c->w[i * d->oc + o];
            c->out[n * d->oc + o] = fd_act(d->act, acc);
        }
}

static double loss_d(void *p)
{
    ctx *c = p;
    fwd_d(c);
    return fd_dot(c->dy, c->out, c->d.n * c->d.oc);
}

static void grad_case(int64_t n, int64_t ic, int64_t oc, int has_bias, ic__act act, unsigned seed)
{
    ic__dense_desc d = {.n = n, .ic = ic, .oc = oc, .has_bias = has_bias, .act = act};
    const int64_t ns = n * ic, no = n * oc, nw = ic * oc;
    const float amp = act == IC__ACT_RELU6 ? 4.f : 1.f; /* some relu6 outputs clip at 6 */
    float *src = malloc(ns * 4), *w = malloc(nw * 4), *b = malloc(oc * 4), *dy = malloc(no * 4);
    float *dst = malloc(no * 4), *dpre = malloc(no * 4), *dsrc = malloc(ns * 4);
    float *dw = malloc(nw * 4), *db = malloc(oc * 4);
    float *ref = malloc((ns + nw + no + oc) * 4);
    t_fill_uniform(src, ns, seed, -amp, amp);
    t_fill_uniform(w, nw, seed + 1, -1, 1);
    t_fill_uniform(b, oc, seed + 2, -0.5f, 0.5f);
    t_fill_uniform(dy, no, seed + 3, -1, 1);

    ic__op *op;
    OK(B->dense_create(&op, &d));
    OK(B->dense_fwd(op, dst, src, w, 0, has_bias ? b : NULL));
    ic__act_bwd_from_dst(act, dpre, dy, dst, no);
    OK(B->dense_bwd_data(op, dsrc, dpre, w, 0));
    OK(B->dense_bwd_weights(op, dw, has_bias ? db : NULL, src, dpre));
    B->op_free(op);

    ctx c = {.d = d};
    c.src = fd_to_double(src, ns);
    c.w = fd_to_double(w, nw);
    c.b = fd_to_double(b, oc);
    c.dy = fd_to_double(dy, no);
    c.out = malloc(no * 8);
    char what[200];
    fwd_d(&c);
    fd_to_float(ref, c.out, no);
    snprintf(what, sizeof what, "n%lld %lld->%lld bias %d act %d: fwd", (long long)n,
             (long long)ic, (long long)oc, has_bias, (int)act);
    t_allclose(what, dst, ref, no, 1e-5, 1e-5);
    fd_grad(loss_d, &c, c.src, ns, ref);
    strcat(what, " / diff_src");
    t_allclose(what, dsrc, ref, ns, 1e-4, 1e-4);
    fd_grad(loss_d, &c, c.w, nw, ref);
    strcat(what, " / diff_weights");
    t_allclose(what, dw, ref, nw, 1e-4, 1e-4);
    if (has_bias) {
        fd_grad(loss_d, &c, c.b, oc, ref);
        strcat(what, " / diff_bias");
        t_allclose(what, db, ref, oc, 1e-4, 1e-4);
    }
    free(c.src), free(c.w), free(c.b), free(c.dy), free(c.out);
    free(src), free(w), free(b), free(dy), free(dst), free(dpre), free(dsrc), free(dw), free(db);
    free(ref);
}

/* src (1,2) = [1, 2]; kernel (2,3) = [[1,2,3],[4,5,6]] (Keras (in, out)); bias [0.5,0,-1]:
 *   dst = [1*1+2*4+0.5, 1*2+2*5, 1*3+2*6-1] = [9.5, 12, 14].
 * diff_dst = [1, 0, -1]: diff_src = w . dy = [1-3, 4-6] = [-2, -2];
 *   diff_w = src^T dy = [[1,0,-1],[2,0,-2]]; diff_bias = dy. */
static void hand_case(void)
{
    const float src[2] = {1, 2}, w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, 0, -1};
    const float dy[3] = {1, 0, -1};
    float dst[3], ds[2], dw[6], db[3];
    ic__dense_desc d = {.n = 1, .ic = 2, .oc = 3, .has_bias = 1, .act = IC__ACT_NONE};
    ic__op *op;
    OK(B->dense_create(&op, &d));
    OK(B->dense_fwd(op, dst, src, w, 0, b));
    OK(B->dense_bwd_data(op, ds, dy, w, 0));
    OK(B->dense_bwd_weights(op, dw, db, src, dy));
    B->op_free(op);
    t_allclose("hand: fwd", dst, (const float[]){9.5f, 12, 14}, 3, 0, 0);
    t_allclose("hand: diff_src", ds, (const float[]){-2, -2}, 2, 0, 0);
    t_allclose("hand: diff_w", dw, (const float[]){1, 0, -1, 2, 0, -2}, 6, 0, 0);
    t_allclose("hand: diff_bias", db, dy, 3, 0, 0);
    /* fused sigmoid, bias shifted by -12: sigmoid([-2.5, 0, 2]) */
    const float b2[3] = {-12 + 0.5f, -12, -12 - 1};
    d.act = IC__ACT_SIGMOID;
    OK(B->dense_create(&op, &d));
    OK(B->dense_fwd(op, dst, src, w, 0, b2));
    B->op_free(op);
    t_allclose("hand: sigmoid", dst,
               (const float[]){(float)(1 / (1 + exp(2.5))), 0.5f, (float)(1 / (1 + exp(-2)))}, 3,
               1e-6, 0);
}

int main(void)
{
    B = ic__backend_ref();
    hand_case();
    ic__op *op = NULL;
    ic__dense_desc bad = {.n = 2, .ic = 0, .oc = 3};
    EXPECT_ERR(B->dense_create(&op, &bad), IC_ERR_INVALID, "bad descriptor");
    bad.ic = 2;
    bad.act = (ic__act)17;
    EXPECT_ERR(B->dense_create(&op, &bad), IC_ERR_INVALID, "activation");
    CHECK(op == NULL);

    unsigned seed = 1;
    for (int act = IC__ACT_NONE; act <= IC__ACT_TANH; act++)
        for (int bias = 0; bias < 2; bias++)
            grad_case(3, 7, 5, bias, (ic__act)act, seed++ * 10);
    grad_case(1, 1, 4, 1, IC__ACT_RELU, 100);
    grad_case(4, 9, 1, 1, IC__ACT_TANH, 110);
    grad_case(2, 33, 10, 1, IC__ACT_SIGMOID, 120);
    return t_finish();
}
