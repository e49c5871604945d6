/* test_optimizers.c - RMSprop, Adam (+amsgrad), SGD (+momentum, Nesterov) and decay
 * against the Keras 2.2.4 formulas re-computed here in double, for 3 steps on a tiny
 * weight; lazy state for weights that join later; versions; option parsing; default
 * learning rates by what is trained.
 *
 * Hand-checked first steps (w = 1, g = 0.5):
 *   RMSprop lr 0.01: a = 0.1 * 0.25 = 0.025, step = 0.01 * 0.5 / (sqrt(0.025) + 1e-7)
 *     = 0.0316227566 (~ lr * sqrt(10)), so w = 0.9683772434.
 *   Adam lr 0.01: lr_t = 0.01 * sqrt(0.001) / 0.1 = 0.0031622777, m = 0.05, v = 0.00025,
 *     step = lr_t * 0.05 / (0.0158113883 + 1e-7) = 0.0099999368 (~ lr), w = 0.9900000632.
 *   SGD lr 0.1, momentum 0.9: v = -0.05, w = 0.95; Nesterov: w = 1 + 0.9 * -0.05 - 0.05
 *     = 0.905.
 */
#include "harness.h"
#include "train/train_impl.h"

#define N 4
#define STEPS 3

static const float W0[N] = {1.0f, -2.0f, 0.5f, 0.0f};
/* Gradients of steps 1..3 (the first element's first gradient is the hand example's). */
static const float G[STEPS][N] = {
    {0.5f, -1.0f, 2.0f, 0.0f}, {0.25f, 3.0f, 0.01f, -0.2f}, {-0.75f, 0.5f, 0.01f, 0.3f}};

typedef struct {
    float w[N], g[N];
    ic__param p;
} tparam;

static void tparam_init(tparam *t)
{
    memcpy(t->w, W0, sizeof t->w);
    memset(&t->p, 0, sizeof t->p);
    int64_t shape[1] = {N};
    ic__tensor_init(&t->p.value, t->w, 1, shape);
    t->p.grad = t->g;
    t->p.version = 0; /* ic__next_version() never returns 0 */
}

/* Runs STEPS steps of opt on a fresh param; returns the weights after each step. */
static void run(const ic_optimizer_opts *o, float out[STEPS][N])
{
    ic__optimizer opt;
    OK(ic__opt_init(&opt, o));
    tparam t;
    tparam_init(&t);
    ic__param *ps[1] = {&t.p};
    for (int s = 0; s < STEPS; s++) {
        memcpy(t.g, G[s], sizeof t.g);
        uint64_t v0 = t.p.version;
        OK(ic__opt_step(&opt, ps, 1));
        CHECK(t.p.version != v0);
        memcpy(out[s], t.w, sizeof t.w);
    }
    CHECK(opt.iterations == STEPS);
    ic__opt_clear(&opt);
}

/* ---- references in double (the constants are the float32 values Keras holds) ---- */

static double lr_at(double lr, double decay, int it)
{
    return lr / (1.0 + decay * it);
}

static void ref_rmsprop(double lr, double rho, double eps, double decay, double out[STEPS][N])
{
    double w[N], a[N] = {0};
    for (int i = 0; i < N; i++)
        w[i] = W0[i];
    for (int s = 0; s < STEPS; s++) {
        double l = lr_at(lr, decay, s);
        for (int i = 0; i < N; i++) {
            double g = G[s][i];
            a[i] = rho * a[i] + (1 - rho) * g * g;
            w[i] -= l * g / (sqrt(a[i]) + eps);
            out[s][i] = w[i];
        }
    }
}

static void ref_adam(double lr, double b1, double b2, double eps, int ams, double out[STEPS][N])
{
    double w[N], m[N] = {0}, v[N] = {0}, vh[N] = {0};
    for (int i = 0; i < N; i++)
        w[i] = W0[i];
    for (int s = 0; s < STEPS; s++) {
        double t = s + 1;
        double lrt = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
        for (int i = 0; i < N; i++) {
            double g = G[s][i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            vh[i] = vh[i] > v[i] ? vh[i] : v[i];
            w[i] -= lrt * m[i] / (sqrt(ams ? vh[i] : v[i]) + eps);
            out[s][i] = w[i];
        }
    }
}

static void ref_sgd(double lr, double mu, int nesterov, double decay, double out[STEPS][N])
{
    double w[N], v[N] = {0};
    for (int i = 0; i < N; i++)
        w[i] = W0[i];
    for (int s = 0; s < STEPS; s++) {
        double l = lr_at(lr, decay, s);
        for (int i = 0; i < N; i++) {
            double g = G[s][i];
            v[i] = mu * v[i] - l * g;
            w[i] = nesterov ? w[i] + mu * v[i] - l * g : w[i] + v[i];
            out[s][i] = w[i];
        }
    }
}

static void compare(const char *what, float got[STEPS][N], double want[STEPS][N])
{
    for (int s = 0; s < STEPS; s++) {
        float w[N];
        for (int i = 0; i < N; i++)
            w[i] = (float)want[s][i];
        char name[96];
        snprintf(name, sizeof name, "%s step %d", what, s + 1);
        t_allclose(name, got[s], w, N, 1e-5, 1e-6);
    }
}

static void test_defaults_and_parse(void)
{
    ic_optimizer_opts r = ic_optimizer_opts_default(IC_OPT_RMSPROP);
    ic_optimizer_opts a = ic_optimizer_opts_default(IC_OPT_ADAM);
    ic_optimizer_opts s = ic_optimizer_opts_default(IC_OPT_SGD);
    CHECK(r.lr == 0.001f && r.rho == 0.9f && r.epsilon == 1e-7f && r.decay == 0);
    CHECK(a.lr == 0.001f && a.beta_1 == 0.9f && a.beta_2 == 0.999f && a.epsilon == 1e-7f &&
          !a.amsgrad);
    CHECK(s.lr == 0.01f && s.momentum == 0 && !s.nesterov);
    /* Default rates by what is trained: Keras's from scratch, the book's on a base. */
    CHECK(ic_optimizer_default_lr(IC_OPT_RMSPROP, IC_TRAINING_SCRATCH) == 0.001f);
    CHECK(ic_optimizer_default_lr(IC_OPT_SGD, IC_TRAINING_SCRATCH) == 0.01f);
    CHECK(ic_optimizer_default_lr(IC_OPT_RMSPROP, IC_TRAINING_HEAD) == 2e-5);
    CHECK(ic_optimizer_default_lr(IC_OPT_ADAM, IC_TRAINING_FINETUNE) == 1e-5);
    CHECK(fabs(ic_optimizer_default_lr(IC_OPT_SGD, IC_TRAINING_HEAD) - 2e-3) < 1e-15);
    CHECK(fabs(ic_optimizer_default_lr(IC_OPT_SGD, IC_TRAINING_FINETUNE) - 1e-3) < 1e-15);
    ic_optimizer_kind k = IC_OPT_SGD;
    OK(ic_optimizer_parse("rmsprop", &k));
    CHECK(k == IC_OPT_RMSPROP);
    OK(ic_optimizer_parse("Adam", &k));
    CHECK(k == IC_OPT_ADAM);
    OK(ic_optimizer_parse("sgd", &k));
    CHECK(k == IC_OPT_SGD);
    EXPECT_ERR(ic_optimizer_parse("adagrad", &k), IC_ERR_INVALID, "unknown optimizer 'adagrad'");
    ic__optimizer opt;
    ic_optimizer_opts bad = a;
    bad.lr = -1;
    EXPECT_ERR(ic__opt_init(&opt, &bad), IC_ERR_INVALID, "Adam: invalid lr");
    bad = a;
    bad.beta_2 = 1.0f;
    EXPECT_ERR(ic__opt_init(&opt, &bad), IC_ERR_INVALID, "beta_2");
    bad = r;
    bad.rho = NAN;
    EXPECT_ERR(ic__opt_init(&opt, &bad), IC_ERR_INVALID, "rho");
}

static void test_hand_values(void)
{
    float got[STEPS][N];
    ic_optimizer_opts o = ic_optimizer_opts_default(IC_OPT_RMSPROP);
    o.lr = 0.01f;
    run(&o, got);
    CHECKF(fabs(got[0][0] - 0.9683772434) < 1e-6, "RMSprop step 1: %.9f", got[0][0]);
    o = ic_optimizer_opts_default(IC_OPT_ADAM);
    o.lr = 0.01f;
    run(&o, got);
    CHECKF(fabs(got[0][0] - 0.9900000632) < 1e-6, "Adam step 1: %.9f", got[0][0]);
    o = ic_optimizer_opts_default(IC_OPT_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    run(&o, got);
    CHECKF(fabs(got[0][0] - 0.95) < 1e-6, "SGD momentum step 1: %.9f", got[0][0]);
    o.nesterov = 1;
    run(&o, got);
    CHECKF(fabs(got[0][0] - 0.905) < 1e-6, "SGD Nesterov step 1: %.9f", got[0][0]);
}

static void test_formulas(void)
{
    float got[STEPS][N];
    double want[STEPS][N];

    ic_optimizer_opts o = ic_optimizer_opts_default(IC_OPT_RMSPROP);
    o.lr = 0.01f;
    run(&o, got);
    ref_rmsprop(0.01f, 0.9f, 1e-7f, 0, want);
    compare("rmsprop", got, want);

    o.decay = 0.5f;
    run(&o, got);
    ref_rmsprop(0.01f, 0.9f, 1e-7f, 0.5f, want);
    compare("rmsprop decay", got, want);
    /* decay changes steps 2 and 3 only (iterations = 0 on the first step) */
    float nodecay[STEPS][N];
    o.decay = 0;
    run(&o, nodecay);
    CHECK(got[0][0] == nodecay[0][0] && got[1][0] != nodecay[1][0]);

    o = ic_optimizer_opts_default(IC_OPT_ADAM);
    o.lr = 0.01f;
    run(&o, got);
    ref_adam(0.01f, 0.9f, 0.999f, 1e-7f, 0, want);
    compare("adam", got, want);

    /* amsgrad with beta_2 0.5, so that v shrinks fast enough to matter in 3 steps:
     * element 2 has g = 2 then 0.01, so vhat stays at v of step 1 */
    o.amsgrad = 1;
    o.beta_2 = 0.5f;
    run(&o, got);
    ref_adam(0.01f, 0.9f, 0.5f, 1e-7f, 1, want);
    compare("adam amsgrad", got, want);
    double plain[STEPS][N];
    ref_adam(0.01f, 0.9f, 0.5f, 1e-7f, 0, plain);
    CHECKF(fabs(got[2][2] - plain[2][2]) > 1e-3, "amsgrad %.7f vs plain %.7f", got[2][2],
           plain[2][2]);
    o.amsgrad = 0;
    run(&o, got);
    compare("adam beta_2 0.5", got, plain);

    o = ic_optimizer_opts_default(IC_OPT_SGD);
    o.lr = 0.1f;
    run(&o, got);
    ref_sgd(0.1f, 0, 0, 0, want);
    compare("sgd", got, want);
    CHECKF(fabs(got[0][1] - (-2.0 + 0.1)) < 1e-6, "plain SGD: w - lr g");

    o.momentum = 0.9f;
    run(&o, got);
    ref_sgd(0.1f, 0.9f, 0, 0, want);
    compare("sgd momentum", got, want);
    float mom[STEPS][N];
    memcpy(mom, got, sizeof mom);

    o.nesterov = 1;
    run(&o, got);
    ref_sgd(0.1f, 0.9f, 1, 0, want);
    compare("sgd nesterov", got, want);
    CHECK(fabs(got[2][0] - mom[2][0]) > 1e-3); /* Nesterov differs from plain momentum */

    o.decay = 0.1f;
    run(&o, got);
    ref_sgd(0.1f, 0.9f, 1, 0.1f, want);
    compare("sgd nesterov decay", got, want);
}

/* State is per weight and made on first use: a weight that joins on step 2 takes a
 * first-step RMSprop update; one without a gradient is left alone. */
static void test_lazy_state(void)
{
    ic_optimizer_opts o = ic_optimizer_opts_default(IC_OPT_RMSPROP);
    o.lr = 0.01f;
    ic__optimizer opt;
    OK(ic__opt_init(&opt, &o));
    tparam a, b, c;
    tparam_init(&a);
    tparam_init(&b);
    tparam_init(&c);
    c.p.grad = NULL;
    ic__param *ps[3] = {&a.p, &b.p, &c.p};
    memcpy(a.g, G[0], sizeof a.g);
    OK(ic__opt_step(&opt, ps, 1));
    memcpy(a.g, G[1], sizeof a.g);
    memcpy(b.g, G[0], sizeof b.g);
    uint64_t vc = c.p.version;
    OK(ic__opt_step(&opt, ps, 3));
    CHECK(opt.n_slots == 2);
    CHECK(c.p.version == vc);
    CHECK(!memcmp(c.w, W0, sizeof c.w));
    double want[STEPS][N];
    ref_rmsprop(0.01f, 0.9f, 1e-7f, 0, want);
    float w1[N];
    for (int i = 0; i < N; i++)
        w1[i] = (float)want[0][i];
    t_allclose("late weight gets a first step", b.w, w1, N, 1e-5, 1e-6);
    float w2[N];
    for (int i = 0; i < N; i++)
        w2[i] = (float)want[1][i];
    t_allclose("early weight gets its second step", a.w, w2, N, 1e-5, 1e-6);
    ic__opt_clear(&opt);
    CHECK(opt.iterations == 0 && opt.n_slots == 0);
}

/* A large weight goes through the OpenMP path; it must equal the serial result. */
static void test_parallel_deterministic(void)
{
    const int64_t n = 200000;
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g), *w2 = malloc(n * sizeof *w2);
    t_fill_uniform(w, n, 1, -1, 1);
    t_fill_uniform(g, n, 2, -1, 1);
    memcpy(w2, w, n * sizeof *w);
    ic__param p;
    memset(&p, 0, sizeof p);
    ic__tensor_init(&p.value, w, 1, &n);
    p.grad = g;
    ic__optimizer opt;
    ic_optimizer_opts o = ic_optimizer_opts_default(IC_OPT_ADAM);
    OK(ic__opt_init(&opt, &o));
    ic__param *ps[1] = {&p};
    for (int s = 0; s < 3; s++)
        OK(ic__opt_step(&opt, ps, 1));
    /* serial float reference of the same float formula */
    float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    for (int s = 0; s < 3; s++) {
        double t = s + 1;
        float lrt = (float)(0.001f * (sqrt(1.0 - pow(0.999f, t)) / (1.0 - pow(0.9f, t))));
        for (int64_t i = 0; i < n; i++) {
            m[i] = 0.9f * m[i] + (1.0f - 0.9f) * g[i];
            v[i] = 0.999f * v[i] + (1.0f - 0.999f) * g[i] * g[i];
            w2[i] -= lrt * m[i] / (sqrtf(v[i]) + 1e-7f);
        }
    }
    t_allclose("parallel adam", w, w2, n, 1e-6, 1e-7);
    ic__opt_clear(&opt);
    free(w);
    free(g);
    free(w2);
    free(m);
    free(v);
}

int main(void)
{
    test_defaults_and_parse();
    test_hand_values();
    test_formulas();
    test_lazy_state();
    test_parallel_deterministic();
    return t_finish();
}
