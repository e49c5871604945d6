/* test_grad_ref_misc.c - reference element-wise activations and softmax:
 *   eltwise: hand values for every activation, in-place use, sizes across the parallel
 *   chunk boundary, and the backward-from-dst against central differences in double;
 *   softmax: hand values (incl. huge logits that overflow a naive exp), rows summing to 1,
 *   in-place use, and the backward-from-dst against central differences in double. */
#include <stdint.h>

#include "backend/backend.h"
#include "fd.h"
#include "harness.h"

static const ic__backend *B;

/* ---------- eltwise ---------- */

static void eltwise_hand(void)
{
    const float x[5] = {-1, 0, 2, 3, 7};
    const float want[5][5] = {
        {-1, 0, 2, 3, 7},                                                  /* none */
        {0, 0, 2, 3, 7},                                                   /* relu */
        {0, 0, 2, 3, 6},                                                   /* relu6 */
        {0.268941421f, 0.5f, 0.880797078f, 0.952574127f, 0.999088949f},   /* sigmoid */
        {-0.761594156f, 0, 0.964027580f, 0.995054754f, 0.999998337f}};    /* tanh */
    for (int a = IC__ACT_NONE; a <= IC__ACT_TANH; a++) {
        ic__eltwise_desc d = {.n = 5, .act = (ic__act)a};
        ic__op *op;
        float y[5];
        memcpy(y, x, sizeof y);
        OK(B->eltwise_create(&op, &d));
        OK(B->eltwise_fwd(op, y, y)); /* in place */
        char what[64];
        snprintf(what, sizeof what, "eltwise hand act %d", a);
        t_allclose(what, y, want[a], 5, 1e-6, 1e-7);
        B->op_free(op);
    }
}

/* For every activation: values in [-8, 8) so relu6 clips at both ends; compare diff_src
 * with central differences of L = sum(dy * act(x)), and in-place bwd with out-of-place.
 * n = 10007 spans several parallel chunks; the forward must equal one whole-array call. */
static void eltwise_grad(void)
{
    const int64_t n = 10007;
    float *x = malloc(n * 4), *y = malloc(n * 4), *y2 = malloc(n * 4), *dy = malloc(n * 4);
    float *dx = malloc(n * 4), *fd = malloc(n * 4);
    t_fill_uniform(x, n, 1, -8, 8);
    t_fill_uniform(dy, n, 2, -1, 1);
    for (int a = IC__ACT_NONE; a <= IC__ACT_TANH; a++) {
        ic__eltwise_desc d = {.n = n, .act = (ic__act)a};
        ic__op *op;
        OK(B->eltwise_create(&op, &d));
        OK(B->eltwise_fwd(op, y, x));
        memcpy(y2, x, n * 4);
        ic__act_fwd_inplace((ic__act)a, y2, n);
        CHECK(!memcmp(y, y2, n * 4));
        OK(B->eltwise_bwd(op, dx, dy, y));
        /* element-wise: each difference needs only its own element, not the whole L */
        const double h = 1e-6;
        const ic__act act = (ic__act)a;
        for (int64_t i = 0; i < n; i++)
            fd[i] = (float)(dy[i] * (fd_act(act, x[i] + h) - fd_act(act, x[i] - h)) / (2 * h));
        char what[64];
        snprintf(what, sizeof what, "eltwise act %d: diff_src vs finite differences", a);
        t_allclose(what, dx, fd, n, 1e-4, 1e-5);
        memcpy(y2, dy, n * 4);
        OK(B->eltwise_bwd(op, y2, y2, y)); /* in place */
        CHECK(!memcmp(y2, dx, n * 4));
        B->op_free(op);
    }
    free(x), free(y), free(y2), free(dy), free(dx), free(fd);
}

/* ---------- softmax ---------- */

/* Rows: [0, ln 3] -> [1/4, 3/4]; [1000, 1000] -> [1/2, 1/2] (exp(1000) overflows unless
 * the row max is subtracted); [-1000, 0] -> [0, 1]; [1, 1, 1, 1] -> 1/4 each (cols 4 in a
 * separate op). */
static void softmax_hand(void)
{
    float x[6] = {0, (float)log(3.0), 1000, 1000, -1000, 0}, y[6];
    ic__softmax_desc d = {.rows = 3, .cols = 2};
    ic__op *op;
    OK(B->softmax_create(&op, &d));
    OK(B->softmax_fwd(op, y, x));
    t_allclose("softmax hand", y, (const float[]){0.25f, 0.75f, 0.5f, 0.5f, 0, 1}, 6, 1e-6, 1e-7);
    OK(B->softmax_fwd(op, x, x)); /* in place */
    CHECK(!memcmp(x, y, sizeof y));
    B->op_free(op);
    float u[4] = {1, 1, 1, 1};
    d.rows = 1;
    d.cols = 4;
    OK(B->softmax_create(&op, &d));
    OK(B->softmax_fwd(op, u, u));
    t_allclose("softmax uniform", u, (const float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4, 0, 1e-7);
    B->op_free(op);
}

typedef struct sm_ctx {
    int64_t rows, cols;
    double *x, *dy;
} sm_ctx;

static double sm_loss(void *p)
{
    sm_ctx *c = p;
    double l = 0;
    for (int64_t r = 0; r < c->rows; r++) {
        const double *x = c->x + r * c->cols;
        double mx = x[0], s = 0;
        for (int64_t j = 1; j < c->cols; j++)
            mx = x[j] > mx ? x[j] : mx;
        for (int64_t j = 0; j < c->cols; j++)
            s += exp(x[j] - mx);
        for (int64_t j = 0; j < c->cols; j++)
            l += c->dy[r * c->cols + j] * exp(x[j] - mx) / s;
    }
    return l;
}

static void softmax_grad(int64_t rows, int64_t cols, float amp, unsigned seed)
{
    const int64_t n = rows * cols;
    float *x = malloc(n * 4), *y = malloc(n * 4), *dy = malloc(n * 4), *dx = malloc(n * 4);
    float *fd = malloc(n * 4), *dx2 = malloc(n * 4);
    t_fill_uniform(x, n, seed, -amp, amp);
    t_fill_uniform(dy, n, seed + 1, -1, 1);
    ic__softmax_desc d = {.rows = rows, .cols = cols};
    ic__op *op;
    OK(B->softmax_create(&op, &d));
    OK(B->softmax_fwd(op, y, x));
    OK(B->softmax_bwd(op, dx, dy, y));
    memcpy(dx2, dy, n * 4);
    OK(B->softmax_bwd(op, dx2, dx2, y)); /* in place */
    CHECK(!memcmp(dx, dx2, n * 4));
    B->op_free(op);

    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        int pos = 1;
        for (int64_t j = 0; j < cols; j++) {
            s += y[r * cols + j];
            pos &= y[r * cols + j] >= 0;
        }
        CHECKF(fabs(s - 1) < 1e-5 && pos, "row %lld sums to %.9g", (long long)r, s);
    }
    sm_ctx c = {rows, cols, fd_to_double(x, n), fd_to_double(dy, n)};
    fd_grad(sm_loss, &c, c.x, n, fd);
    char what[80];
    snprintf(what, sizeof what, "softmax %lldx%lld: diff_src vs finite differences",
             (long long)rows, (long long)cols);
    t_allclose(what, dx, fd, n, 1e-4, 1e-5);
    free(c.x), free(c.dy);
    free(x), free(y), free(dy), free(dx), free(fd), free(dx2);
}

int main(void)
{
    B = ic__backend_ref();
    eltwise_hand();
    eltwise_grad();
    softmax_hand();
    softmax_grad(5, 7, 3, 1);
    softmax_grad(3, 1, 1, 2);    /* one class: softmax is 1, gradient 0 */
    softmax_grad(2, 100, 10, 3); /* peaked rows */
    softmax_grad(64, 10, 2, 4);
    ic__op *op = NULL;
    ic__softmax_desc bad = {.rows = 0, .cols = 3};
    EXPECT_ERR(B->softmax_create(&op, &bad), IC_ERR_INVALID, "bad shape");
    ic__eltwise_desc bade = {.n = 4, .act = (ic__act)-1};
    EXPECT_ERR(B->eltwise_create(&op, &bade), IC_ERR_INVALID, "activation");
    CHECK(op == NULL);
    return t_finish();
}
