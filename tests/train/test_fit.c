/* test_fit.c - compile / fit / evaluate / train_on_batch end to end on small MLPs:
 * XOR blobs reach 100% training accuracy (sigmoid + binary CE with Adam, softmax +
 * categorical CE with RMSprop); history keys and epoch counts; epochs spanning passes
 * with partial batches and BaseLogger's batch-size weighting; validation equals
 * evaluate; determinism under a seed (with dropout); NaN stops with IC_ERR_NUMERIC
 * naming epoch and step; errors for fit before compile, bad shapes and losses; frozen
 * layers keep their weights; the tensor batch source's order, shuffling and cycling. */
#include "harness.h"
#include "train/train_impl.h"

#define NS 64 /* samples */

/* XOR blobs: corner (+-1, +-1) + uniform noise of +-0.25; label 1 when the signs differ. */
static void xor_data(float *x, float *y, float *y2, int n)
{
    float noise[2 * NS * 4];
    t_fill_uniform(noise, 2 * n, 7, -0.25f, 0.25f);
    for (int i = 0; i < n; i++) {
        float sx = (i & 1) ? 1.0f : -1.0f, sy = (i & 2) ? 1.0f : -1.0f;
        x[2 * i] = sx + noise[2 * i];
        x[2 * i + 1] = sy + noise[2 * i + 1];
        y[i] = sx != sy;
        if (y2) {
            y2[2 * i] = sx == sy;
            y2[2 * i + 1] = sx != sy;
        }
    }
}

/* Input(2) -> Dense(16, relu) [-> Dropout(rate)] -> Dense(out, act). */
static ic_model *mlp(int out, ic_activation act, float dropout)
{
    ic_model *m;
    OK(ic_model_create(&m, "xor", 1));
    int64_t in[1] = {2};
    OK(ic_model_input(m, 1, in, NULL, NULL));
    ic_layer *l;
    OK(ic_layer_dense(&l, 16, IC_ACT_RELU, 1, "hidden"));
    OK(ic_model_add(m, l));
    if (dropout > 0) {
        OK(ic_layer_dropout(&l, dropout, "drop"));
        OK(ic_model_add(m, l));
    }
    OK(ic_layer_dense(&l, out, act, 1, "out"));
    OK(ic_model_add(m, l));
    return m;
}

static ic_tensor *tensor(const float *d, int64_t n, int64_t k)
{
    ic_tensor *t;
    int64_t s[2] = {n, k};
    OK(ic_tensor_create(&t, 2, s));
    memcpy(ic_tensor_data(t), d, (size_t)(n * k) * sizeof(float));
    return t;
}

static ic_compile_opts copts(ic_optimizer_kind k, float lr, ic_loss loss)
{
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer = ic_optimizer_opts_default(k);
    c.optimizer.lr = lr;
    c.loss = loss;
    return c;
}

static void test_defaults(void)
{
    ic_compile_opts c = ic_compile_opts_default();
    CHECK(c.optimizer.kind == IC_OPT_RMSPROP && c.optimizer.lr == 0.001f);
    CHECK(c.loss == IC_LOSS_BINARY_CROSSENTROPY && c.metric_accuracy == 1);
    CHECK(c.frozen_bn_uses_batch_stats == 0);
    ic_fit_opts f = ic_fit_opts_default();
    CHECK(f.epochs == 1 && f.steps_per_epoch == 0 && f.validation_steps == 0 &&
          f.initial_epoch == 0 && !f.on_epoch && !f.on_step);
}

static void test_errors(void)
{
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, tx, ty, 16, 0, 0));
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_history *h = (ic_history *)&h;
    ic_fit_opts fo = ic_fit_opts_default();
    EXPECT_ERR(ic_model_fit(m, &fo, &src, NULL, &h), IC_ERR_INVALID,
               "model 'xor' is not compiled: call ic_model_compile() before ic_model_fit()");
    CHECK(h == NULL);
    double l;
    EXPECT_ERR(ic_model_evaluate(m, &src, 0, &l, NULL), IC_ERR_INVALID, "not compiled");
    EXPECT_ERR(ic_model_train_on_batch(m, tx, ty, &l, NULL), IC_ERR_INVALID, "not compiled");
    /* a loss that does not fit the output is reported at compile */
    ic_model *m3 = mlp(3, IC_ACT_SOFTMAX, 0);
    ic_compile_opts c = ic_compile_opts_default();
    EXPECT_ERR(ic_model_compile(m3, &c), IC_ERR_SHAPE,
               "compile model 'xor': binary_crossentropy needs a model output of shape (None, 1)");
    c = copts(IC_OPT_ADAM, -0.5f, IC_LOSS_BINARY_CROSSENTROPY);
    EXPECT_ERR(ic_model_compile(m, &c), IC_ERR_INVALID, "Adam: invalid lr = -0.5");
    ic_model_free(m3);
    /* batches that do not match the model input: both shapes named */
    c = ic_compile_opts_default();
    OK(ic_model_compile(m, &c));
    float x3[3 * 8] = {0};
    ic_tensor *bx = tensor(x3, 8, 3), *by = tensor(y, 8, 1);
    EXPECT_ERR(ic_model_train_on_batch(m, bx, by, &l, NULL), IC_ERR_SHAPE,
               "model 'xor' expects input batches (None, 2), got x (8, 3)");
    ic_batch_source bad;
    OK(ic_batch_source_tensors(&bad, bx, by, 4, 0, 0));
    EXPECT_ERR(ic_model_fit(m, &fo, &bad, NULL, &h), IC_ERR_SHAPE,
               "epoch 1 step 1: model 'xor' expects input batches (None, 2), got x (4, 3)");
    CHECK(h && ic_history_epochs(h) == 0);
    ic_history_free(h);
    /* labels that do not match the loss */
    float y2[16] = {0};
    ic_tensor *by2 = tensor(y2, 8, 2), *bx2 = tensor(x, 8, 2);
    EXPECT_ERR(ic_model_train_on_batch(m, bx2, by2, &l, NULL), IC_ERR_SHAPE,
               "binary_crossentropy needs labels y (batch, 1) of 0/1, got (8, 2)");
    /* a source mismatch */
    ic_batch_source_free(&bad);
    EXPECT_ERR(ic_batch_source_tensors(&bad, bx, ty, 4, 0, 0), IC_ERR_SHAPE,
               "different numbers of samples");
    EXPECT_ERR(ic_batch_source_tensors(&bad, bx, by, 0, 0, 0), IC_ERR_INVALID, "batch size 0");
    ic_batch_source_free(&bad);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
    ic_tensor_free(bx);
    ic_tensor_free(by);
    ic_tensor_free(bx2);
    ic_tensor_free(by2);
}

static int last_epoch_cb;
static int stop_after_two(int epoch, const ic_history *h, void *user)
{
    last_epoch_cb = epoch;
    return ic_history_epochs(h) >= 2;
}

static void test_xor_binary(void)
{
    ic_set_random_seed(1);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, tx, ty, 16, 1, 123));
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_ADAM, 0.01f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 60;
    ic_history *h;
    OK(ic_model_fit(m, &fo, &src, NULL, &h));
    CHECK(ic_history_epochs(h) == 60);
    const double *loss = ic_history_metric(h, "loss"), *acc = ic_history_metric(h, "acc");
    CHECK(loss && acc);
    CHECK(!ic_history_metric(h, "val_loss") && !ic_history_metric(h, "val_acc"));
    CHECKF(loss[59] < 0.5 * loss[0], "loss %g -> %g", loss[0], loss[59]);
    CHECKF(acc[59] == 1.0, "final training acc %g", acc[59]);
    ic_batch_source all;
    OK(ic_batch_source_tensors(&all, tx, ty, 64, 0, 0));
    double el, ea;
    OK(ic_model_evaluate(m, &all, 0, &el, &ea));
    CHECKF(ea == 1.0, "evaluate acc %g", ea);
    printf("xor binary (Adam 0.01, 60 epochs): loss %.4f -> %.4f, acc %.3f -> %.3f\n", loss[0],
           loss[59], acc[0], acc[59]);
    ic_history_free(h);

    /* continuing with initial_epoch and a callback that stops after two epochs */
    fo.initial_epoch = 60;
    fo.epochs = 70;
    fo.on_epoch = stop_after_two;
    EXPECT_ERR(ic_model_fit(m, &fo, &src, NULL, &h), IC_ERR_CANCELLED,
               "stopped by the epoch callback after epoch 62");
    CHECK(h && ic_history_epochs(h) == 2 && last_epoch_cb == 61);
    ic_history_free(h);

    /* recompiling resets the optimizer (new iterations and state) */
    CHECK(m->train->opt.iterations > 0 && m->train->opt.n_slots == 4);
    OK(ic_model_compile(m, &c));
    CHECK(m->train->opt.iterations == 0 && m->train->opt.n_slots == 0);

    ic_batch_source_free(&all);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

static void test_xor_softmax(void)
{
    ic_set_random_seed(2);
    float x[2 * NS], y[NS], y2[2 * NS];
    xor_data(x, y, y2, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y2, NS, 2);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, tx, ty, 16, 1, 5));
    ic_model *m = mlp(2, IC_ACT_SOFTMAX, 0);
    ic_compile_opts c = copts(IC_OPT_RMSPROP, 0.01f, IC_LOSS_CATEGORICAL_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 60;
    ic_history *h;
    OK(ic_model_fit(m, &fo, &src, NULL, &h));
    const double *loss = ic_history_metric(h, "loss"), *acc = ic_history_metric(h, "acc");
    CHECKF(acc[59] == 1.0, "softmax final training acc %g", acc[59]);
    printf("xor softmax (RMSprop 0.01, 60 epochs): loss %.4f -> %.4f, acc %.3f -> %.3f\n", loss[0],
           loss[59], acc[0], acc[59]);
    ic_history_free(h);
    /* sparse labels on the same model */
    ic_tensor *tys = tensor(y, NS, 1);
    ic_batch_source ss;
    OK(ic_batch_source_tensors(&ss, tx, tys, 64, 0, 0));
    c.loss = IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    OK(ic_model_compile(m, &c));
    double el, ea;
    OK(ic_model_evaluate(m, &ss, 1, &el, &ea));
    CHECKF(ea == 1.0 && el < 0.3, "sparse evaluate loss %g acc %g", el, ea);
    ic_batch_source_free(&ss);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
    ic_tensor_free(tys);
}

/* A source wrapper that records batch sizes. */
typedef struct {
    ic_batch_source inner;
    int64_t sizes[64];
    int n;
} rec_source;
static ic_status rec_next(void *self, const ic_tensor **x, const ic_tensor **y)
{
    rec_source *r = self;
    ic_status s = r->inner.ops->next(r->inner.self, x, y);
    if (!s && r->n < 64)
        r->sizes[r->n++] = ic_tensor_dim(*x, 0);
    return s;
}
static int64_t rec_length(void *self)
{
    rec_source *r = self;
    return r->inner.ops->length(r->inner.self);
}
static const ic_batch_source_ops rec_ops = {rec_next, rec_length, NULL, NULL};

static int n_step_calls;
static int64_t step_seen[32];
static int count_steps(int epoch, int64_t step, int64_t steps, double loss, double acc, void *u)
{
    if (n_step_calls < 32)
        step_seen[n_step_calls] = epoch * 100 + step;
    n_step_calls++;
    return 0;
}

/* Asks to stop after step *(int64_t *)u of the second epoch. */
static int stop_at(int epoch, int64_t step, int64_t steps, double loss, double acc, void *u)
{
    return epoch == 1 && step == *(const int64_t *)u;
}

/* on_step returning non-zero stops right after that step: IC_ERR_CANCELLED, the epochs
 * before it in the history, no batch read after the stopping step, the weights updated. */
static void test_step_stop(void)
{
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, 10);
    ic_tensor *tx = tensor(x, 10, 2), *ty = tensor(y, 10, 1);
    rec_source r = {0};
    OK(ic_batch_source_tensors(&r.inner, tx, ty, 4, 0, 0));
    ic_batch_source src = {&rec_ops, &r};
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_SGD, 0.1f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    int64_t stop = 2;
    fo.epochs = 3;
    fo.steps_per_epoch = 3;
    fo.on_step = stop_at;
    fo.user = &stop;
    ic_history *h = NULL;
    EXPECT_ERR(ic_model_fit(m, &fo, &src, NULL, &h), IC_ERR_CANCELLED, "epoch 2 step 2");
    CHECK(h && ic_history_epochs(h) == 1);
    CHECKF(r.n == 5, "%d batches read, want 5", r.n);
    ic_history_free(h);
    ic_batch_source_free(&r.inner);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

static double bce(double p, double y)
{
    p = p < 1e-7 ? 1e-7 : p > 1 - 1e-7 ? 1 - 1e-7 : p;
    return -(y * log(p) + (1 - y) * log(1 - p));
}

/* N = 10, batch 4: passes of 4, 4, 2; 5 steps per epoch span passes. With lr = 0 the
 * weights stay put, so the epoch loss must be BaseLogger's batch-size-weighted mean:
 * (sum of all 10 sample losses + the first 8 again) / 18. */
static void test_steps_span_passes(void)
{
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, 10);
    ic_tensor *tx = tensor(x, 10, 2), *ty = tensor(y, 10, 1);
    rec_source r = {0};
    OK(ic_batch_source_tensors(&r.inner, tx, ty, 4, 0, 0));
    ic_batch_source src = {&rec_ops, &r};
    CHECK(src.ops->length(src.self) == 3);
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_RMSPROP, 0.0f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 2;
    fo.steps_per_epoch = 5;
    fo.on_step = count_steps;
    ic_history *h;
    OK(ic_model_fit(m, &fo, &src, NULL, &h));
    CHECK(ic_history_epochs(h) == 2);
    const int64_t want[10] = {4, 4, 2, 4, 4, 2, 4, 4, 2, 4};
    CHECK(r.n == 10);
    for (int i = 0; i < 10 && i < r.n; i++)
        CHECKF(r.sizes[i] == want[i], "batch %d has %lld samples, want %lld", i,
               (long long)r.sizes[i], (long long)want[i]);
    CHECK(n_step_calls == 10 && step_seen[0] == 1 && step_seen[4] == 5 && step_seen[5] == 101);
    ic_tensor *p;
    OK(ic_model_forward(m, tx, &p));
    const float *pd = ic_tensor_cdata(p);
    double all = 0, first8 = 0, acc_all = 0, acc8 = 0;
    for (int i = 0; i < 10; i++) {
        double l = bce(pd[i], y[i]);
        double a = (pd[i] > 0.5f) == (y[i] > 0.5f);
        all += l;
        acc_all += a;
        if (i < 8) {
            first8 += l;
            acc8 += a;
        }
    }
    const double *loss = ic_history_metric(h, "loss"), *acc = ic_history_metric(h, "acc");
    CHECKF(fabs(loss[0] - (all + first8) / 18) < 1e-6, "epoch 1 loss %.8f want %.8f", loss[0],
           (all + first8) / 18);
    CHECKF(fabs(acc[0] - (acc_all + acc8) / 18) < 1e-9, "epoch 1 acc %.8f", acc[0]);
    /* epoch 2: samples 8, 9, then a full pass 0..9, then 0..3 */
    double second = (bce(pd[8], y[8]) + bce(pd[9], y[9])) + all;
    for (int i = 0; i < 4; i++)
        second += bce(pd[i], y[i]);
    CHECKF(fabs(loss[1] - second / 16) < 1e-6, "epoch 2 loss %.8f want %.8f", loss[1], second / 16);
    ic_tensor_free(p);
    ic_history_free(h);
    ic_batch_source_free(&r.inner);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

/* val_loss / val_acc after the last epoch equal ic_model_evaluate over the same data
 * (validation_steps = one pass, with a partial batch: 10 samples in batches of 4). */
static void test_validation_equals_evaluate(void)
{
    ic_set_random_seed(3);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_tensor *vx = tensor(x, 10, 2), *vy = tensor(y, 10, 1);
    ic_batch_source src, val, ev;
    OK(ic_batch_source_tensors(&src, tx, ty, 16, 1, 9));
    OK(ic_batch_source_tensors(&val, vx, vy, 4, 0, 0));
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0.25f);
    ic_compile_opts c = copts(IC_OPT_ADAM, 0.01f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 3;
    ic_history *h;
    OK(ic_model_fit(m, &fo, &src, &val, &h));
    CHECK(ic_history_epochs(h) == 3);
    const double *vl = ic_history_metric(h, "val_loss"), *va = ic_history_metric(h, "val_acc");
    CHECK(vl && va && ic_history_metric(h, "loss") && ic_history_metric(h, "acc"));
    OK(ic_batch_source_tensors(&ev, vx, vy, 4, 0, 0));
    double el, ea;
    OK(ic_model_evaluate(m, &ev, 0, &el, &ea));
    CHECKF(el == vl[2] && ea == va[2], "val %.9g/%.9g vs evaluate %.9g/%.9g", vl[2], va[2], el, ea);
    /* evaluate is inference mode: dropout off, so it is repeatable */
    double el2;
    OK(ic_model_evaluate(m, &ev, 3, &el2, NULL));
    CHECK(el2 == el);
    ic_history_free(h);
    /* without the accuracy metric, history has no acc keys */
    c.metric_accuracy = 0;
    OK(ic_model_compile(m, &c));
    fo.epochs = 1;
    OK(ic_model_fit(m, &fo, &src, &val, &h));
    CHECK(!ic_history_metric(h, "acc") && !ic_history_metric(h, "val_acc"));
    CHECK(ic_history_metric(h, "loss") && ic_history_metric(h, "val_loss"));
    ic_history_free(h);
    ic_batch_source_free(&ev);
    ic_batch_source_free(&val);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
    ic_tensor_free(vx);
    ic_tensor_free(vy);
}

/* Same seed, same data, same shuffling: identical histories (dropout included). */
static void run_seeded(double out[5])
{
    ic_reset_uids();
    ic_set_random_seed(77);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, tx, ty, 12, 1, 4));
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0.5f);
    ic_compile_opts c = copts(IC_OPT_RMSPROP, 0.01f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 5;
    ic_history *h;
    OK(ic_model_fit(m, &fo, &src, NULL, &h));
    memcpy(out, ic_history_metric(h, "loss"), 5 * sizeof(double));
    ic_history_free(h);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

static void test_deterministic(void)
{
    double a[5], b[5];
    run_seeded(a);
    run_seeded(b);
    CHECKF(!memcmp(a, b, sizeof a), "losses differ: %.17g vs %.17g ... %.17g vs %.17g", a[0], b[0],
           a[4], b[4]);
}

/* A NaN in sample 37 of the data: batches of 16 in order, 2 steps per epoch, so it is
 * met in the third batch = epoch 2 step 1. The first epoch is handed back. */
static void test_nan(void)
{
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    x[2 * 37] = NAN;
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, tx, ty, 16, 0, 0));
    ic_model *m;
    OK(ic_model_create(&m, "nan", 1));
    int64_t in[1] = {2};
    OK(ic_model_input(m, 1, in, NULL, NULL));
    ic_layer *l;
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    OK(ic_model_add(m, l));
    ic_compile_opts c = ic_compile_opts_default();
    OK(ic_model_compile(m, &c));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 3;
    fo.steps_per_epoch = 2;
    ic_history *h = NULL;
    EXPECT_ERR(ic_model_fit(m, &fo, &src, NULL, &h), IC_ERR_NUMERIC,
               "loss is NaN at epoch 2 step 1 (the model output contains NaN; learning rate too "
               "high? inputs not normalised?)");
    CHECK(h && ic_history_epochs(h) == 1);
    ic_history_free(h);
    ic_batch_source_free(&src);

    /* A huge learning rate must end in finite losses or IC_ERR_NUMERIC, never a crash. */
    x[2 * 37] = 0.5f;
    ic_tensor *tx2 = tensor(x, NS, 2);
    OK(ic_batch_source_tensors(&src, tx2, ty, 16, 0, 0));
    ic_model *big = mlp(1, IC_ACT_SIGMOID, 0);
    c = copts(IC_OPT_SGD, 1e30f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(big, &c));
    fo.epochs = 5;
    ic_clear_error();
    ic_status s = ic_model_fit(big, &fo, &src, NULL, &h);
    CHECKF(s == IC_OK || (s == IC_ERR_NUMERIC && strstr(ic_errmsg(), "at epoch")),
           "huge lr: %s: %s", ic_status_str(s), ic_errmsg());
    for (int e = 0; e < ic_history_epochs(h); e++)
        CHECK(isfinite(ic_history_metric(h, "loss")[e]));
    printf("huge lr: %s (%d epochs) %s\n", ic_status_str(s), ic_history_epochs(h), ic_errmsg());
    ic_history_free(h);
    ic_batch_source_free(&src);
    ic_model_free(big);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(tx2);
    ic_tensor_free(ty);
}

/* train_on_batch reports the loss of the weights before its update, and updates only
 * the effectively trainable weights. */
static void test_train_on_batch(void)
{
    ic_set_random_seed(5);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, 16);
    ic_tensor *tx = tensor(x, 16, 2), *ty = tensor(y, 16, 1);
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_SGD, 0.1f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_tensor *p;
    OK(ic_model_forward(m, tx, &p));
    double want = 0;
    for (int i = 0; i < 16; i++)
        want += bce(ic_tensor_cdata(p)[i], y[i]) / 16;
    ic_tensor_free(p);
    double l1, l2, a1;
    OK(ic_model_train_on_batch(m, tx, ty, &l1, &a1));
    CHECKF(fabs(l1 - want) < 1e-6, "train_on_batch loss %.8f, forward before %.8f", l1, want);
    OK(ic_model_train_on_batch(m, tx, ty, &l2, NULL));
    CHECKF(l2 < l1, "SGD step lowers the batch loss: %g -> %g", l1, l2);

    /* freeze the hidden layer: its kernel stays, the output layer's moves */
    ic_layer *hid = ic_model_get_layer(m, "hidden"), *out = ic_model_get_layer(m, "out");
    ic_layer_set_trainable(hid, 0);
    float hk[32], ok[16];
    memcpy(hk, hid->params[0]->value.data, sizeof hk);
    memcpy(ok, out->params[0]->value.data, sizeof ok);
    uint64_t hv = hid->params[0]->version, ov = out->params[0]->version;
    OK(ic_model_train_on_batch(m, tx, ty, &l1, NULL));
    CHECK(!memcmp(hk, hid->params[0]->value.data, sizeof hk) && hid->params[0]->version == hv);
    CHECK(memcmp(ok, out->params[0]->value.data, sizeof ok) != 0 && out->params[0]->version != ov);
    /* a frozen model trains nothing but still reports its loss */
    ic_model_set_trainable(m, 0);
    memcpy(ok, out->params[0]->value.data, sizeof ok);
    OK(ic_model_train_on_batch(m, tx, ty, &l1, NULL));
    OK(ic_model_train_on_batch(m, tx, ty, &l2, NULL));
    CHECK(l1 == l2 && !memcmp(ok, out->params[0]->value.data, sizeof ok));
    /* unfreezing later: the hidden layer gets optimizer state on its first step */
    ic_model_set_trainable(m, 1);
    ic_layer_set_trainable(hid, 1);
    c = copts(IC_OPT_ADAM, 0.01f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_layer_set_trainable(hid, 0);
    OK(ic_model_train_on_batch(m, tx, ty, &l1, NULL));
    CHECK(m->train->opt.n_slots == 2);
    ic_layer_set_trainable(hid, 1);
    OK(ic_model_train_on_batch(m, tx, ty, &l1, NULL));
    CHECK(m->train->opt.n_slots == 4);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

static void test_source(void)
{
    float x[10 * 3], y[10];
    for (int i = 0; i < 10; i++) {
        for (int k = 0; k < 3; k++)
            x[3 * i + k] = (float)(10 * i + k);
        y[i] = (float)i;
    }
    ic_tensor *tx = tensor(x, 10, 3), *ty;
    int64_t n1[1] = {10};
    OK(ic_tensor_create(&ty, 1, n1)); /* 1-D labels come out as (B, 1) */
    memcpy(ic_tensor_data(ty), y, sizeof y);
    ic_batch_source s;
    OK(ic_batch_source_tensors(&s, tx, ty, 4, 0, 0));
    CHECK(s.ops->length(s.self) == 3);
    const ic_tensor *bx, *by;
    int expect = 0;
    for (int b = 0; b < 6; b++) {
        OK(s.ops->next(s.self, &bx, &by));
        int64_t bs = b % 3 == 2 ? 2 : 4;
        CHECK(ic_tensor_dim(bx, 0) == bs && ic_tensor_dim(bx, 1) == 3);
        CHECK(ic_tensor_ndim(by) == 2 && ic_tensor_dim(by, 0) == bs && ic_tensor_dim(by, 1) == 1);
        for (int64_t i = 0; i < bs; i++) {
            CHECK(ic_tensor_cdata(by)[i] == (float)(expect % 10));
            CHECK(ic_tensor_cdata(bx)[3 * i + 2] == (float)(10 * (expect % 10) + 2));
            expect++;
        }
    }
    ic_batch_source_free(&s);
    CHECK(s.ops == NULL && s.self == NULL);
    ic_batch_source_free(&s); /* twice is fine */

    /* shuffled: every pass is a permutation; passes differ; same seed, same order */
    int order[2][3][10];
    for (int run = 0; run < 2; run++) {
        OK(ic_batch_source_tensors(&s, tx, ty, 4, 1, 99));
        for (int pass = 0; pass < 3; pass++) {
            int k = 0;
            for (int b = 0; b < 3; b++) {
                OK(s.ops->next(s.self, &bx, &by));
                for (int64_t i = 0; i < ic_tensor_dim(by, 0); i++) {
                    int v = (int)ic_tensor_cdata(by)[i];
                    CHECK(ic_tensor_cdata(bx)[3 * i] == (float)(10 * v)); /* x follows y */
                    order[run][pass][k++] = v;
                }
            }
            CHECK(k == 10);
            int seen[10] = {0};
            for (int i = 0; i < 10; i++)
                seen[order[run][pass][i]]++;
            for (int i = 0; i < 10; i++)
                CHECK(seen[i] == 1);
        }
        ic_batch_source_free(&s);
    }
    CHECK(!memcmp(order[0], order[1], sizeof order[0]));
    CHECK(memcmp(order[0][0], order[0][1], sizeof order[0][0]) != 0);
    int identity = 1;
    for (int i = 0; i < 10; i++)
        identity &= order[0][0][i] == i;
    CHECK(!identity);
    /* batch larger than the data: one partial batch per pass */
    OK(ic_batch_source_tensors(&s, tx, ty, 32, 0, 0));
    CHECK(s.ops->length(s.self) == 1);
    OK(s.ops->next(s.self, &bx, &by));
    CHECK(ic_tensor_dim(bx, 0) == 10);
    ic_batch_source_free(&s);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

static void test_history(void)
{
    ic_history *h;
    OK(ic_history_create(&h, 1, 0));
    CHECK(ic_history_epochs(h) == 0 && ic_history_metric(h, "loss") != NULL);
    for (int i = 0; i < 40; i++)
        OK(ic_history_append(h, i, i / 100.0, NAN, NAN));
    CHECK(ic_history_epochs(h) == 40);
    CHECK(ic_history_metric(h, "loss")[39] == 39 && ic_history_metric(h, "acc")[7] == 0.07);
    CHECK(ic_history_metric(h, "accuracy") == ic_history_metric(h, "acc"));
    CHECK(!ic_history_metric(h, "val_loss") && !ic_history_metric(h, "nope"));
    ic_history_free(h);
    ic_history_free(NULL);
}

/* The whole step chain (loss gradient, backward, optimizer) against finite differences:
 * with SGD lr 1, w_after = w_before - dL/dw, and dL/dw must match central differences of
 * the batch-mean loss computed from ic_model_forward. */
static double batch_loss(ic_model *m, const ic_tensor *x, const float *y, int n)
{
    ic_tensor *p;
    OK(ic_model_forward(m, x, &p));
    double l = 0;
    for (int i = 0; i < n; i++)
        l += bce(ic_tensor_cdata(p)[i], y[i]) / n;
    ic_tensor_free(p);
    return l;
}

static void test_step_gradient(void)
{
    ic_set_random_seed(21);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, 16);
    ic_tensor *tx = tensor(x, 16, 2), *ty = tensor(y, 16, 1);
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_SGD, 1.0f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic__param *ps[4];
    CHECK(ic__model_collect(m, 1, ps, NULL, 4) == 4); /* hidden kernel, bias; out kernel, bias */
    /* Central differences at h and h/2; where they disagree a ReLU kink lies within h
     * of some sample's pre-activation and the element is skipped. */
    double fd[2][2][16];
    float before[2][16];
    const int which[2] = {1, 2}; /* hidden bias (16), output kernel (16 x 1) */
    for (int w = 0; w < 2; w++) {
        ic__param *q = ps[which[w]];
        float *v = q->value.data;
        for (int i = 0; i < 16; i++) {
            float v0 = v[i];
            before[w][i] = v0;
            for (int k = 0; k < 2; k++) {
                float h = k ? 1e-3f : 2e-3f;
                v[i] = v0 + h;
                q->version = ic__next_version();
                double lp = batch_loss(m, tx, y, 16);
                float up = v[i];
                v[i] = v0 - h;
                q->version = ic__next_version();
                double lm = batch_loss(m, tx, y, 16);
                float dn = v[i];
                v[i] = v0;
                q->version = ic__next_version();
                fd[w][k][i] = (lp - lm) / ((double)up - (double)dn);
            }
        }
    }
    OK(ic_model_train_on_batch(m, tx, ty, NULL, NULL));
    for (int w = 0; w < 2; w++) {
        int checked = 0;
        for (int i = 0; i < 16; i++) {
            double a = fd[w][0][i], b = fd[w][1][i];
            if (fabs(a - b) > 5e-5 + 0.01 * fabs(b))
                continue; /* kink */
            checked++;
            double got = (double)before[w][i] - ps[which[w]]->value.data[i];
            CHECKF(fabs(got - b) <= 5e-5 + 0.01 * fabs(b),
                   "%s[%d]: SGD step gives dL/dw %.7f, finite differences %.7f",
                   w ? "output kernel" : "hidden bias", i, got, b);
        }
        CHECKF(checked >= 12, "only %d of 16 elements away from ReLU kinks", checked);
    }
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

/* ic_model_evaluate_ex: the same loss and accuracy as ic_model_evaluate, and the output
 * spread against one computed here from a forward pass over all the samples; a model
 * whose output does not depend on its input has spread 0, and the collapse watch says so
 * once. */
static void test_evaluate_spread(void)
{
    ic_set_random_seed(5);
    float x[2 * NS], y[NS];
    xor_data(x, y, NULL, NS);
    ic_tensor *tx = tensor(x, NS, 2), *ty = tensor(y, NS, 1);
    ic_model *m = mlp(1, IC_ACT_SIGMOID, 0);
    ic_compile_opts c = copts(IC_OPT_RMSPROP, 0.001f, IC_LOSS_BINARY_CROSSENTROPY);
    OK(ic_model_compile(m, &c));
    ic_tensor *out;
    OK(ic_model_forward(m, tx, &out));
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < NS; i++) {
        lo = fmin(lo, ic_tensor_cdata(out)[i]);
        hi = fmax(hi, ic_tensor_cdata(out)[i]);
    }
    ic_tensor_free(out);
    ic_batch_source ev;
    OK(ic_batch_source_tensors(&ev, tx, ty, 16, 0, 0));
    ic_eval_result r;
    double el, ea;
    OK(ic_model_evaluate_ex(m, &ev, 0, &r));
    OK(ic_model_evaluate(m, &ev, 0, &el, &ea));
    CHECKF(r.loss == el && r.acc == ea && r.samples == NS, "ex %.9g/%.9g/%lld vs %.9g/%.9g",
           r.loss, r.acc, (long long)r.samples, el, ea);
    CHECKF(hi - lo > 1e-3 && fabs(r.output_spread - (hi - lo)) <= 1e-6,
           "spread %.9g, forward gives %.9g", r.output_spread, hi - lo);
    ic_collapse_watch w = ic_collapse_watch_init(0.5);
    CHECK(ic_collapse_watch_epoch(&w, 0.7, &r) == IC_COLLAPSE_NONE);
    CHECK(ic_model_evaluate_ex(m, &ev, 0, NULL) == IC_ERR_INVALID && strstr(ic_errmsg(), "NULL"));

    /* the output layer's kernel zeroed and its bias at -30: every output is sigmoid(-30) */
    for (int i = 0; i < ic_model_num_weights(m); i++) {
        const char *name;
        ic_tensor *t = ic_model_weight_mut(m, i, &name);
        if (!strncmp(name, "out/", 4))
            for (int64_t k = 0; k < ic_tensor_numel(t); k++)
                ic_tensor_data(t)[k] = strstr(name, "bias") ? -30.0f : 0.0f;
    }
    OK(ic_model_evaluate_ex(m, &ev, 0, &r));
    CHECKF(r.output_spread == 0 && r.acc == 0.5, "collapsed: spread %g acc %g", r.output_spread,
           r.acc);
    CHECK(ic_collapse_watch_epoch(&w, 8.06, &r) == IC_COLLAPSE_CONSTANT);
    CHECK(w.reported && ic_collapse_watch_epoch(&w, 8.06, &r) == IC_COLLAPSE_NONE);
    ic_batch_source_free(&ev);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
}

/* The majority rule: val_acc at the majority rate with a flat training loss for
 * IC_COLLAPSE_EPOCHS epochs after the first; a moving loss, an accuracy off the rate, a
 * NaN spread or a single sample reset or do not count. */
static void test_collapse_majority(void)
{
    ic_eval_result at = {0.69, 0.6, 500, 0.05}, off = {0.6, 0.7, 500, 0.3};
    ic_collapse_watch w = ic_collapse_watch_init(0.6);
    CHECK(ic_collapse_watch_epoch(&w, 0.693, &at) == IC_COLLAPSE_NONE); /* no previous loss */
    for (int e = 1; e < IC_COLLAPSE_EPOCHS; e++)
        CHECKF(ic_collapse_watch_epoch(&w, 0.6931, &at) == IC_COLLAPSE_NONE, "epoch %d", e + 1);
    CHECK(ic_collapse_watch_epoch(&w, 0.6933, &at) == IC_COLLAPSE_MAJORITY);
    CHECK(ic_collapse_watch_epoch(&w, 0.6933, &at) == IC_COLLAPSE_NONE); /* once */
    /* a loss that keeps moving (1 % per epoch) is a model that learns, slowly */
    w = ic_collapse_watch_init(0.6);
    for (int e = 0; e < 10; e++)
        CHECK(ic_collapse_watch_epoch(&w, 0.7 - 0.007 * e, &at) == IC_COLLAPSE_NONE);
    /* an accuracy off the majority rate in between starts the count again */
    w = ic_collapse_watch_init(0.6);
    int got = 0;
    for (int e = 0; e < 10; e++)
        got |= ic_collapse_watch_epoch(&w, 0.5, e % 3 == 2 ? &off : &at) != IC_COLLAPSE_NONE;
    CHECK(!got);
    /* no majority rate: only the constant-output rule */
    w = ic_collapse_watch_init(0);
    for (int e = 0; e < 10; e++)
        CHECK(ic_collapse_watch_epoch(&w, 0.5, &at) == IC_COLLAPSE_NONE);
    ic_eval_result nan_out = {NAN, 0.5, 500, NAN}, one = {0.1, 1, 1, 0};
    CHECK(ic_collapse_watch_epoch(&w, 0.5, &nan_out) == IC_COLLAPSE_NONE);
    CHECK(ic_collapse_watch_epoch(&w, 0.5, &one) == IC_COLLAPSE_NONE);
    CHECK(ic_collapse_watch_epoch(NULL, 0.5, &at) == IC_COLLAPSE_NONE);
}

int main(void)
{
    test_evaluate_spread();
    test_collapse_majority();
    test_defaults();
    test_history();
    test_source();
    test_errors();
    test_train_on_batch();
    test_step_gradient();
    test_steps_span_passes();
    test_step_stop();
    test_validation_equals_evaluate();
    test_deterministic();
    test_nan();
    test_xor_binary();
    test_xor_softmax();
    return t_finish();
}
