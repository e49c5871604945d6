/* test_losses.c - Keras 2.2.4 losses and "acc": values against hand computations,
 * gradients against central finite differences, clipping at p = 0 / 1, the 0.5
 * threshold, NaN / Inf detection and shape errors. */
#include "harness.h"
#include "train/train_impl.h"

static ic_tensor T(float *d, int64_t b, int64_t k)
{
    ic_tensor t;
    int64_t s[2] = {b, k};
    ic__tensor_init(&t, d, 2, s);
    return t;
}

static double loss_of(ic_loss l, ic_tensor *p, ic_tensor *y)
{
    double v = NAN;
    OK(ic__loss_compute(l, p, y, &v, NULL, NULL));
    return v;
}

static void near(const char *what, double got, double want, double tol)
{
    CHECKF(fabs(got - want) <= tol, "%s: got %.9f, want %.9f", what, got, want);
}

static void test_values(void)
{
    /* binary: -(log .9 + log .8 + log .5 + log .3) / 4
     *       = (0.1053605 + 0.2231436 + 0.6931472 + 1.2039728) / 4 = 0.5564060 */
    float p[4] = {0.9f, 0.2f, 0.5f, 0.7f}, y[4] = {1, 0, 1, 0};
    ic_tensor tp = T(p, 4, 1), ty = T(y, 4, 1);
    near("binary", loss_of(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty), 0.5564060, 2e-7);

    /* categorical: row 1 -log(0.5) = 0.6931472; row 2 sums to 0.8, q = 0.6 / 0.8 = 0.75,
     * -log(0.75) = 0.2876821; mean 0.4904146 */
    float pc[6] = {0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.6f}, yc[6] = {0, 1, 0, 0, 0, 1};
    ic_tensor tpc = T(pc, 2, 3), tyc = T(yc, 2, 3);
    near("categorical", loss_of(IC_LOSS_CATEGORICAL_CROSSENTROPY, &tpc, &tyc), 0.4904146, 2e-7);
    /* sparse, same rows, labels 1 and 2: -log(pc_t / sum pc) gives the same numbers */
    float ys[2] = {1, 2};
    ic_tensor tys = T(ys, 2, 1);
    near("sparse", loss_of(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &tpc, &tys), 0.4904146, 2e-7);
    /* 1-D labels (B) are accepted for binary and sparse */
    ic_tensor ty1;
    int64_t s1[1] = {2};
    ic__tensor_init(&ty1, ys, 1, s1);
    near("sparse 1-D y", loss_of(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &tpc, &ty1), 0.4904146,
         2e-7);
}

static void test_clipping(void)
{
    /* Keras: wrong certain predictions are finite. p = 0, y = 1: -log(float(1e-7)) = 16.118;
     * p = 1, y = 0: 1 - eps in float32 is 0.99999988, -log(1.1920929e-7) = 15.942. */
    float p[1] = {0}, y[1] = {1}, g[1] = {42};
    ic_tensor tp = T(p, 1, 1), ty = T(y, 1, 1);
    double v;
    OK(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty, &v, g, NULL));
    near("binary p=0 y=1", v, 16.1180957, 1e-6);
    CHECK(g[0] == 0.0f); /* clipped: no gradient */
    p[0] = 1;
    y[0] = 0;
    OK(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty, &v, g, NULL));
    near("binary p=1 y=0", v, 15.9423851, 1e-6);
    CHECK(g[0] == 0.0f);
    p[0] = 1;
    y[0] = 1;
    near("binary p=1 y=1", loss_of(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty), 1.1920929e-7, 1e-9);

    float pc[2] = {1, 0}, yc[2] = {0, 1}, gc[2];
    ic_tensor tpc = T(pc, 1, 2), tyc = T(yc, 1, 2);
    OK(ic__loss_compute(IC_LOSS_CATEGORICAL_CROSSENTROPY, &tpc, &tyc, &v, gc, NULL));
    near("categorical certain and wrong", v, 16.1180957, 1e-6);
    CHECK(isfinite(gc[0]) && isfinite(gc[1]));
    float ys[1] = {1};
    ic_tensor tys = T(ys, 1, 1);
    OK(ic__loss_compute(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &tpc, &tys, &v, gc, NULL));
    /* pc = (1 - eps, eps): -log(eps / 1) = 16.118 */
    near("sparse certain and wrong", v, 16.1180956, 1e-5);
    CHECK(gc[0] == 0.0f && gc[1] == 0.0f);
}

/* Central differences, with the actual float step in the denominator. */
static void fd_check(const char *what, ic_loss l, float *p, float *y, int64_t B, int64_t K,
                     int64_t ky)
{
    ic_tensor tp = T(p, B, K), ty = T(y, B, ky);
    float g[64], fd[64];
    double v;
    OK(ic__loss_compute(l, &tp, &ty, &v, g, NULL));
    for (int64_t i = 0; i < B * K; i++) {
        float p0 = p[i];
        float h = 1e-3f;
        p[i] = p0 + h;
        float up = p[i];
        double lp = loss_of(l, &tp, &ty);
        p[i] = p0 - h;
        float dn = p[i];
        double lm = loss_of(l, &tp, &ty);
        p[i] = p0;
        fd[i] = (float)((lp - lm) / ((double)up - (double)dn));
    }
    t_allclose(what, g, fd, B * K, 2e-3, 1e-5);
}

static void test_gradients(void)
{
    float p[4] = {0.9f, 0.2f, 0.5f, 0.7f}, y[4] = {1, 0, 1, 0};
    fd_check("binary grad", IC_LOSS_BINARY_CROSSENTROPY, p, y, 4, 1, 1);
    float ysoft[4] = {0.8f, 0.1f, 0.5f, 0.3f}; /* soft labels too */
    fd_check("binary grad soft labels", IC_LOSS_BINARY_CROSSENTROPY, p, ysoft, 4, 1, 1);
    float pc[9] = {0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.6f, 0.3f, 0.45f, 0.4f};
    float yc[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
    fd_check("categorical grad", IC_LOSS_CATEGORICAL_CROSSENTROPY, pc, yc, 3, 3, 3);
    float ys[3] = {1, 2, 0};
    fd_check("sparse grad", IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, pc, ys, 3, 3, 1);
    /* the gradient is of the batch mean: one sample of a batch of 4 gets 1/4 of it */
    float p1[1] = {0.9f}, y1[1] = {1}, g1[1], g4[4];
    ic_tensor tp1 = T(p1, 1, 1), ty1 = T(y1, 1, 1), tp4 = T(p, 4, 1), ty4 = T(y, 4, 1);
    double v;
    OK(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp1, &ty1, &v, g1, NULL));
    OK(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp4, &ty4, &v, g4, NULL));
    near("batch mean gradient", g4[0], g1[0] / 4.0, 1e-7);
    near("dL/dp = -1/p", g1[0], -1.0 / 0.9, 1e-6);
}

static void test_accuracy(void)
{
    /* TF round is half-to-even: 0.5 -> 0, so only p > 0.5 predicts 1 */
    float p[4] = {0.5f, 0.50001f, 0.49f, 0.51f}, y[4] = {0, 1, 0, 1};
    ic_tensor tp = T(p, 4, 1), ty = T(y, 4, 1);
    near("binary acc", ic__accuracy(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty), 1.0, 0);
    y[0] = 1;
    near("p = 0.5 counts as 0", ic__accuracy(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty), 0.75, 0);
    float pc[6] = {0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.6f}, yc[6] = {0, 1, 0, 1, 0, 0};
    ic_tensor tpc = T(pc, 2, 3), tyc = T(yc, 2, 3);
    near("categorical acc", ic__accuracy(IC_LOSS_CATEGORICAL_CROSSENTROPY, &tpc, &tyc), 0.5, 0);
    float ys[2] = {1, 2};
    ic_tensor tys = T(ys, 2, 1);
    near("sparse acc", ic__accuracy(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &tpc, &tys), 1.0, 0);
}

static void test_numeric(void)
{
    float p[2] = {0.3f, NAN}, y[2] = {1, 0}, g[2];
    ic_tensor tp = T(p, 2, 1), ty = T(y, 2, 1);
    double v;
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty, &v, g, "epoch 3 step 7"),
               IC_ERR_NUMERIC, "loss is NaN at epoch 3 step 7 (");
    CHECK(strstr(ic_errmsg(), "learning rate too high?") != NULL);
    p[1] = INFINITY;
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty, &v, g, "epoch 1 step 2"),
               IC_ERR_NUMERIC, "loss is Inf at epoch 1 step 2");
    p[1] = 0.4f;
    y[1] = NAN; /* NaN labels make the loss NaN */
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &tp, &ty, &v, g, "step 1"),
               IC_ERR_NUMERIC, "loss is NaN at step 1");
    float pc[3] = {0.2f, NAN, 0.3f}, yc[3] = {0, 1, 0};
    ic_tensor tpc = T(pc, 1, 3), tyc = T(yc, 1, 3);
    EXPECT_ERR(ic__loss_compute(IC_LOSS_CATEGORICAL_CROSSENTROPY, &tpc, &tyc, &v, NULL, "x"),
               IC_ERR_NUMERIC, "loss is NaN at x");
}

static void test_shapes(void)
{
    float p[12] = {0}, y[12] = {0};
    ic_tensor p43 = T(p, 4, 3), y41 = T(y, 4, 1), y43 = T(y, 4, 3), y31 = T(y, 3, 1),
              p41 = T(p, 4, 1), y42 = T(y, 4, 2);
    double v;
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &p43, &y43, &v, NULL, NULL),
               IC_ERR_SHAPE, "binary_crossentropy needs a model output (batch, 1), got (4, 3)");
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &p41, &y42, &v, NULL, NULL),
               IC_ERR_SHAPE, "binary_crossentropy needs labels y (batch, 1) of 0/1, got (4, 2)");
    EXPECT_ERR(ic__loss_compute(IC_LOSS_CATEGORICAL_CROSSENTROPY, &p43, &y41, &v, NULL, NULL),
               IC_ERR_SHAPE,
               "one-hot labels y (batch, 3) matching the model output (4, 3), got (4, 1)");
    EXPECT_ERR(
        ic__loss_compute(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &p43, &y43, &v, NULL, NULL),
        IC_ERR_SHAPE, "class indices y (batch, 1), got (4, 3)");
    EXPECT_ERR(ic__loss_compute(IC_LOSS_BINARY_CROSSENTROPY, &p41, &y31, &v, NULL, NULL),
               IC_ERR_SHAPE, "different batch size");
    y[2] = 3; /* class 3 of 3 */
    EXPECT_ERR(
        ic__loss_compute(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &p43, &y41, &v, NULL, NULL),
        IC_ERR_INVALID, "label 3 of sample 2 is not a class index in 0..2");
    y[2] = 0.5f;
    EXPECT_ERR(
        ic__loss_compute(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &p43, &y41, &v, NULL, NULL),
        IC_ERR_INVALID, "not a class index");

    ic__shape s3 = {1, {3}}, s1 = {1, {1}}, hwc = {3, {4, 4, 8}};
    OK(ic__loss_check_output(IC_LOSS_BINARY_CROSSENTROPY, &s1));
    OK(ic__loss_check_output(IC_LOSS_CATEGORICAL_CROSSENTROPY, &s3));
    EXPECT_ERR(ic__loss_check_output(IC_LOSS_BINARY_CROSSENTROPY, &s3), IC_ERR_SHAPE,
               "binary_crossentropy needs a model output of shape (None, 1) (one sigmoid unit), "
               "the model outputs (None, 3)");
    EXPECT_ERR(ic__loss_check_output(IC_LOSS_CATEGORICAL_CROSSENTROPY, &s1), IC_ERR_SHAPE,
               "at least 2 classes");
    EXPECT_ERR(ic__loss_check_output(IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &hwc), IC_ERR_SHAPE,
               "the model outputs (None, 4, 4, 8)");
    EXPECT_ERR(ic__loss_check_output((ic_loss)7, &s1), IC_ERR_INVALID, "unknown loss");
}

int main(void)
{
    test_values();
    test_clipping();
    test_gradients();
    test_accuracy();
    test_numeric();
    test_shapes();
    return t_finish();
}
