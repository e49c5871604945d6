/* test_grad_ref_bn.c - reference batch normalisation:
 *   hand-computed training and inference forwards; training output with gamma/beta NULL
 *   has per-channel mean 0 and variance 1, and the mean/var outputs are the batch mean and
 *   biased variance (also with a large offset, where a one-pass variance would lose digits);
 *   the backward for global_stats 0 (the training forward, mean/var functions of src) and
 *   1 (the inference forward, mean/var constants) against central differences in double,
 *   for src, gamma and beta; NULL gamma/beta and NULL diff_gamma/diff_beta. */
#include <stdint.h>

#include "backend/backend.h"
#include "fd.h"
#include "harness.h"

static const ic__backend *B;

typedef struct ctx {
    int64_t rows, c;
    double eps;
    int global_stats;
    double *x, *gamma, *beta, *dy; /* x/dy ROWS,C; gamma/beta C */
    const float *mean, *var;       /* global_stats = 1: the constants */
} ctx;

/* L = sum(dy * bn(x)) in double, statistics from the batch (global_stats 0) or given. */
static double loss_d(void *p)
{
    ctx *c = p;
    double l = 0;
    for (int64_t ch = 0; ch < c->c; ch++) {
        double m = 0, v = 0;
        if (c->global_stats) {
            m = c->mean[ch];
            v = c->var[ch];
        } else {
            for (int64_t r = 0; r < c->rows; r++)
                m += c->x[r * c->c + ch];
            m /= c->rows;
            for (int64_t r = 0; r < c->rows; r++)
                v += (c->x[r * c->c + ch] - m) * (c->x[r * c->c + ch] - m);
            v /= c->rows;
        }
        for (int64_t r = 0; r < c->rows; r++) {
            double y = c->gamma[ch] * (c->x[r * c->c + ch] - m) / sqrt(v + c->eps) + c->beta[ch];
            l += c->dy[r * c->c + ch] * y;
        }
    }
    return l;
}

/* One FD case. use_affine = 0 passes gamma/beta NULL (the loss then uses 1 and 0). */
static void grad_case(int64_t rows, int64_t C, int global_stats, int use_affine, unsigned seed)
{
    const int64_t n = rows * C;
    const float eps = 1e-3f;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *y = malloc(n * 4), *dx = malloc(n * 4);
    float *dx2 = malloc(n * 4), *fd = malloc(n * 4);
    float *gamma = malloc(C * 4), *beta = malloc(C * 4), *mean = malloc(C * 4);
    float *var = malloc(C * 4), *dg = malloc(C * 4), *db = malloc(C * 4);
    t_fill_uniform(x, n, seed, -1, 2);
    t_fill_uniform(dy, n, seed + 1, -1, 1);
    t_fill_uniform(gamma, C, seed + 2, 0.5f, 1.5f);
    t_fill_uniform(beta, C, seed + 3, -0.5f, 0.5f);
    if (!use_affine)
        for (int64_t i = 0; i < C; i++)
            gamma[i] = 1, beta[i] = 0;

    ic__bn_desc d = {.rows = rows, .c = C, .eps = eps};
    ic__op *op;
    OK(B->bn_create(&op, &d));
    const float *g = use_affine ? gamma : NULL, *b = use_affine ? beta : NULL;
    if (global_stats) {
        t_fill_uniform(mean, C, seed + 4, 0, 1);
        t_fill_uniform(var, C, seed + 5, 0.2f, 2);
        OK(B->bn_fwd_inference(op, y, x, g, b, mean, var));
    } else {
        OK(B->bn_fwd_training(op, y, mean, var, x, g, b));
    }
    OK(B->bn_bwd(op, dx, dg, db, dy, x, mean, var, g, global_stats));
    OK(B->bn_bwd(op, dx2, NULL, NULL, dy, x, mean, var, g, global_stats));
    CHECK(!memcmp(dx, dx2, n * 4));
    B->op_free(op);

    ctx c = {rows, C, eps, global_stats, fd_to_double(x, n), fd_to_double(gamma, C),
             fd_to_double(beta, C), fd_to_double(dy, n), mean, var};
    char what[120];
    snprintf(what, sizeof what, "bn %lldx%lld global_stats %d affine %d", (long long)rows,
             (long long)C, global_stats, use_affine);
    size_t len = strlen(what);
    fd_grad(loss_d, &c, c.x, n, fd);
    strcpy(what + len, ": diff_src");
    t_allclose(what, dx, fd, n, 1e-4, 1e-4);
    fd_grad(loss_d, &c, c.gamma, C, fd);
    strcpy(what + len, ": diff_gamma");
    t_allclose(what, dg, fd, C, 1e-4, 1e-4);
    fd_grad(loss_d, &c, c.beta, C, fd);
    strcpy(what + len, ": diff_beta");
    t_allclose(what, db, fd, C, 1e-4, 1e-4);
    free(c.x), free(c.gamma), free(c.beta), free(c.dy);
    free(x), free(dy), free(y), free(dx), free(dx2), free(fd), free(gamma), free(beta);
    free(mean), free(var), free(dg), free(db);
}

/* Training forward statistics: batch mean and biased variance; with gamma/beta NULL the
 * output has per-channel mean 0 and variance var/(var+eps) ~ 1. offset shifts the data. */
static void stats_case(int64_t rows, int64_t C, float offset, unsigned seed)
{
    const int64_t n = rows * C;
    const float eps = 1e-5f;
    float *x = malloc(n * 4), *y = malloc(n * 4), *mean = malloc(C * 4), *var = malloc(C * 4);
    t_fill_uniform(x, n, seed, offset - 1, offset + 3);
    for (int64_t r = 0; r < rows; r++) /* channel ch gets scale ch + 1 */
        for (int64_t ch = 0; ch < C; ch++)
            x[r * C + ch] = offset + (x[r * C + ch] - offset) * (float)(ch + 1);
    ic__bn_desc d = {.rows = rows, .c = C, .eps = eps};
    ic__op *op;
    OK(B->bn_create(&op, &d));
    OK(B->bn_fwd_training(op, y, mean, var, x, NULL, NULL));
    B->op_free(op);
    for (int64_t ch = 0; ch < C; ch++) {
        double m = 0, v = 0, my = 0, vy = 0;
        for (int64_t r = 0; r < rows; r++)
            m += x[r * C + ch], my += y[r * C + ch];
        m /= rows, my /= rows;
        for (int64_t r = 0; r < rows; r++) {
            v += (x[r * C + ch] - m) * (x[r * C + ch] - m);
            vy += (y[r * C + ch] - my) * (y[r * C + ch] - my);
        }
        v /= rows, vy /= rows;
        CHECKF(fabs(mean[ch] - m) <= 1e-6 * fabs(m) + 1e-6, "ch %lld mean %.9g vs %.9g",
               (long long)ch, mean[ch], m);
        CHECKF(fabs(var[ch] - v) <= 1e-5 * v, "ch %lld var %.9g vs %.9g", (long long)ch,
               var[ch], v);
        CHECKF(fabs(my) < 1e-5, "ch %lld output mean %.9g", (long long)ch, my);
        CHECKF(fabs(vy - v / (v + eps)) < 1e-4, "ch %lld output var %.9g", (long long)ch, vy);
        CHECKF(fabs(vy - 1) < 1e-3, "ch %lld output var %.9g", (long long)ch, vy);
    }
    free(x), free(y), free(mean), free(var);
}

/* x = [1, 2, 3, 4] in one channel, eps 0: mean 2.5, biased var 1.25, so
 * xhat = (x - 2.5) / sqrt(1.25) = [-1.5, -0.5, 0.5, 1.5] / 1.118034 =
 * [-1.341641, -0.447214, 0.447214, 1.341641]; with gamma 2, beta 1: 2 * xhat + 1.
 * Inference with mean 1, var 3 (eps 1): (x - 1) / 2 * 2 + 1 = [1, 2, 3, 4].
 * Second channel (x = 5 each, constant): var 0, training output = beta. */
static void hand_case(void)
{
    const float x[8] = {1, 5, 2, 5, 3, 5, 4, 5}, gamma[2] = {2, 3}, beta[2] = {1, -1};
    float y[8], mean[2], var[2];
    ic__bn_desc d = {.rows = 4, .c = 2, .eps = 0};
    ic__op *op;
    OK(B->bn_create(&op, &d));
    OK(B->bn_fwd_training(op, y, mean, var, x, gamma, beta));
    B->op_free(op);
    t_allclose("hand: mean", mean, (const float[]){2.5f, 5}, 2, 0, 0);
    t_allclose("hand: var", var, (const float[]){1.25f, 0}, 2, 0, 0);
    /* channel 1 has var 0 and eps 0: 0/0, so only channel 0 is compared */
    float y0[4] = {y[0], y[2], y[4], y[6]};
    t_allclose("hand: training dst", y0,
               (const float[]){1 - 2 * 1.3416408f, 1 - 2 * 0.4472136f, 1 + 2 * 0.4472136f,
                               1 + 2 * 1.3416408f},
               4, 1e-6, 1e-6);

    d.eps = 1e-3f;
    OK(B->bn_create(&op, &d));
    OK(B->bn_fwd_training(op, y, mean, var, x, gamma, beta));
    float y1[4] = {y[1], y[3], y[5], y[7]};
    t_allclose("hand: constant channel -> beta", y1, (const float[]){-1, -1, -1, -1}, 4, 0, 0);
    B->op_free(op);

    d.c = 1;
    d.eps = 1;
    const float x1[4] = {1, 2, 3, 4}, m1[1] = {1}, v1[1] = {3};
    OK(B->bn_create(&op, &d));
    OK(B->bn_fwd_inference(op, y, x1, gamma, beta, m1, v1));
    t_allclose("hand: inference", y, (const float[]){1, 2, 3, 4}, 4, 1e-6, 1e-6);
    OK(B->bn_fwd_inference(op, y, x1, NULL, NULL, m1, v1));
    t_allclose("hand: inference, no affine", y, (const float[]){0, 0.5f, 1, 1.5f}, 4, 1e-6, 1e-6);
    B->op_free(op);
}

int main(void)
{
    B = ic__backend_ref();
    hand_case();
    stats_case(2 * 5 * 7, 3, 0, 1);
    stats_case(4 * 16 * 16, 5, 0, 2);
    stats_case(500, 4, 1000, 3); /* large offset */
    for (int gs = 0; gs < 2; gs++)
        for (int aff = 0; aff < 2; aff++) {
            grad_case(2 * 5 * 7, 3, gs, aff, 10 + gs * 2 + aff);
            grad_case(3, 2, gs, aff, 20 + gs * 2 + aff);
        }
    grad_case(600, 4, 0, 1, 30);
    grad_case(600, 4, 1, 1, 31);
    ic__op *op = NULL;
    ic__bn_desc bad = {.rows = 4, .c = 0, .eps = 1e-3f};
    EXPECT_ERR(B->bn_create(&op, &bad), IC_ERR_INVALID, "bad descriptor");
    CHECK(op == NULL);
    return t_finish();
}
