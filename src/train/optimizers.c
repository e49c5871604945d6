/* optimizers.c - RMSprop, Adam (amsgrad) and SGD (momentum, Nesterov) as Keras 2.2.4.
 *
 * Common: lr is float32; with decay > 0 the step uses lr / (1 + decay * iterations)
 * (iterations counted before this step). Per-weight state (accumulators, moments) is
 * made on a weight's first step, keyed by the weight, so a weight that becomes trainable
 * later gets zero state then. Updates are element-wise in float32 (TF variables are
 * float32), so the OpenMP split over elements cannot change the result.
 *   RMSprop: a = rho a + (1-rho) g^2;  p -= lr g / (sqrt(a) + eps)
 *   Adam:    t = iterations + 1;  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)
 *            m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  (amsgrad: vh = max(vh, v))
 *            p -= lr_t m / (sqrt(v or vh) + eps)
 *   SGD:     v = mu v - lr g;  p += v   (Nesterov: p += mu v - lr g)
 */
#include <math.h>
#include <string.h>

#include "train_impl.h"

/* Below this many elements a loop runs on one thread. */
#define PAR_MIN 32768

ic_optimizer_opts ic_optimizer_opts_default(ic_optimizer_kind kind)
{
    ic_optimizer_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = kind == IC_OPT_SGD ? 0.01f : 0.001f;
    o.rho = 0.9f;
    o.beta_1 = 0.9f;
    o.beta_2 = 0.999f;
    o.epsilon = IC__KERAS_EPSILON;
    o.momentum = 0.0f;
    o.nesterov = 0;
    o.amsgrad = 0;
    o.decay = 0.0f;
    return o;
}

double ic_optimizer_default_lr(ic_optimizer_kind kind, ic_training_kind what)
{
    if (what == IC_TRAINING_SCRATCH)
        return ic_optimizer_opts_default(kind).lr;
    /* RMSprop and Adam take steps of about lr whatever the gradient's scale; plain SGD's
     * steps scale with the gradient, so it keeps a rate 100x larger, as between Keras's
     * own defaults. */
    double lr = what == IC_TRAINING_FINETUNE ? 1e-5 : 2e-5;
    return kind == IC_OPT_SGD ? lr * 100 : lr;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

ic_status ic_optimizer_parse(const char *name, ic_optimizer_kind *out)
{
    static const struct {
        const char *name;
        ic_optimizer_kind kind;
    } names[] = {{"rmsprop", IC_OPT_RMSPROP}, {"adam", IC_OPT_ADAM}, {"sgd", IC_OPT_SGD}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (ieq(name, names[i].name)) {
            *out = names[i].kind;
            return IC_OK;
        }
    return ic_seterr(IC_ERR_INVALID, "unknown optimizer '%s' (expected rmsprop, adam or sgd)",
                     name ? name : "(null)");
}

static ic_status bad_opt(const char *kind, const char *field, float v)
{
    return ic_seterr(IC_ERR_INVALID, "%s: invalid %s = %g", kind, field, (double)v);
}

ic_status ic__opt_init(ic__optimizer *opt, const ic_optimizer_opts *o)
{
    memset(opt, 0, sizeof *opt);
    const char *kn = o->kind == IC_OPT_RMSPROP ? "RMSprop"
                     : o->kind == IC_OPT_ADAM  ? "Adam"
                     : o->kind == IC_OPT_SGD   ? "SGD"
                                               : NULL;
    if (!kn)
        return ic_seterr(IC_ERR_INVALID, "unknown optimizer kind %d", (int)o->kind);
    if (!(isfinite(o->lr) && o->lr >= 0))
        return bad_opt(kn, "lr", o->lr);
    if (!(isfinite(o->decay) && o->decay >= 0))
        return bad_opt(kn, "decay", o->decay);
    if (o->kind != IC_OPT_SGD && !(isfinite(o->epsilon) && o->epsilon >= 0))
        return bad_opt(kn, "epsilon", o->epsilon);
    if (o->kind == IC_OPT_RMSPROP && !(o->rho >= 0 && o->rho <= 1))
        return bad_opt(kn, "rho", o->rho);
    if (o->kind == IC_OPT_ADAM && !(o->beta_1 >= 0 && o->beta_1 < 1))
        return bad_opt(kn, "beta_1", o->beta_1);
    if (o->kind == IC_OPT_ADAM && !(o->beta_2 >= 0 && o->beta_2 < 1))
        return bad_opt(kn, "beta_2", o->beta_2);
    if (o->kind == IC_OPT_SGD && !(isfinite(o->momentum) && o->momentum >= 0))
        return bad_opt(kn, "momentum", o->momentum);
    opt->o = *o;
    return IC_OK;
}

static void slot_free(ic__opt_slot *s)
{
    ic__free_aligned(s->a);
    ic__free_aligned(s->b);
    ic__free_aligned(s->c);
}

void ic__opt_clear(ic__optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n_slots; i++)
        slot_free(&opt->slots[i]);
    ic__free(opt->slots);
    opt->slots = NULL;
    opt->n_slots = opt->cap_slots = 0;
    opt->iterations = 0;
}

double ic__opt_current_lr(const ic__optimizer *opt)
{
    double lr = opt->o.lr; /* already a float32 value */
    if (opt->o.decay > 0)
        lr = (float)(lr * (1.0 / (1.0 + (double)opt->o.decay * (double)opt->iterations)));
    return lr;
}

static float *zeros(int64_t n)
{
    float *p = ic__malloc_aligned((size_t)n * sizeof(float));
    if (p)
        memset(p, 0, (size_t)n * sizeof(float));
    return p;
}

/* The state of one weight; made (zeros) on first use. hint: where to look first. */
static ic_status get_slot(ic__optimizer *opt, ic__param *p, int hint, ic__opt_slot **out)
{
    int64_t n = ic_tensor_numel(&p->value);
    ic__opt_slot *s = NULL;
    if (hint >= 0 && hint < opt->n_slots && opt->slots[hint].param == p)
        s = &opt->slots[hint];
    for (int i = 0; !s && i < opt->n_slots; i++)
        if (opt->slots[i].param == p)
            s = &opt->slots[i];
    if (s && s->n != n) { /* a different weight at a recycled address */
        slot_free(s);
        memset(s, 0, sizeof *s);
        s->param = p;
    }
    if (!s) {
        if (opt->n_slots == opt->cap_slots) {
            int cap = opt->cap_slots ? 2 * opt->cap_slots : 32;
            ic__opt_slot *ns = ic__realloc(opt->slots, (size_t)cap * sizeof *ns);
            if (!ns)
                return IC_ERR_NOMEM;
            opt->slots = ns;
            opt->cap_slots = cap;
        }
        s = &opt->slots[opt->n_slots++];
        memset(s, 0, sizeof *s);
        s->param = p;
    }
    if (!s->a) {
        const ic_optimizer_opts *o = &opt->o;
        int adam = o->kind == IC_OPT_ADAM;
        s->n = n;
        s->a = zeros(n);
        s->b = adam ? zeros(n) : NULL;
        s->c = adam && o->amsgrad ? zeros(n) : NULL;
        if (!s->a || (adam && !s->b) || (adam && o->amsgrad && !s->c)) {
            slot_free(s); /* all or nothing, so a later step starts clean */
            s->a = s->b = s->c = NULL;
            return IC_ERR_NOMEM;
        }
    }
    *out = s;
    return IC_OK;
}

static void rmsprop(float *restrict w, float *restrict a, const float *restrict g, int64_t n,
                    float lr, float rho, float eps)
{
    const float one_m_rho = 1.0f - rho;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float ai = rho * a[i] + one_m_rho * gi * gi;
        a[i] = ai;
        w[i] -= lr * gi / (sqrtf(ai) + eps);
    }
}

static void adam(float *restrict w, float *restrict m, float *restrict v, float *restrict vh,
                 const float *restrict g, int64_t n, float lr_t, float b1, float b2, float eps)
{
    const float omb1 = 1.0f - b1, omb2 = 1.0f - b2;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (vh) {
            vi = vh[i] > vi ? vh[i] : vi;
            vh[i] = vi;
        }
        w[i] -= lr_t * mi / (sqrtf(vi) + eps);
    }
}

static void sgd(float *restrict w, float *restrict mom, const float *restrict g, int64_t n,
                float lr, float mu, int nesterov)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float vi = mu * mom[i] - lr * gi;
        mom[i] = vi;
        w[i] = nesterov ? w[i] + mu * vi - lr * gi : w[i] + vi;
    }
}

ic_status ic__opt_step(ic__optimizer *opt, ic__param *const *params, int n)
{
    const ic_optimizer_opts *o = &opt->o;
    const float lr = (float)ic__opt_current_lr(opt);
    float lr_t = lr;
    if (o->kind == IC_OPT_ADAM) {
        double t = (double)opt->iterations + 1.0;
        lr_t = (float)(lr *
                       (sqrt(1.0 - pow((double)o->beta_2, t)) / (1.0 - pow((double)o->beta_1, t))));
    }
    for (int i = 0; i < n; i++) {
        ic__param *p = params[i];
        if (!p->grad || p->always_frozen)
            continue;
        ic__opt_slot *s;
        ic_status st = get_slot(opt, p, i, &s);
        if (st)
            return st;
        int64_t k = ic_tensor_numel(&p->value);
        switch (o->kind) {
        case IC_OPT_RMSPROP:
            rmsprop(p->value.data, s->a, p->grad, k, lr, o->rho, o->epsilon);
            break;
        case IC_OPT_ADAM:
            adam(p->value.data, s->a, s->b, o->amsgrad ? s->c : NULL, p->grad, k, lr_t, o->beta_1,
                 o->beta_2, o->epsilon);
            break;
        case IC_OPT_SGD: sgd(p->value.data, s->a, p->grad, k, lr, o->momentum, o->nesterov); break;
        }
        p->version = ic__next_version();
    }
    opt->iterations++;
    return IC_OK;
}

/* ---- State export / import (model files) ---- */

int ic__opt_num_slots(const ic__optimizer *opt)
{
    if (opt->o.kind == IC_OPT_ADAM)
        return opt->o.amsgrad ? 3 : 2;
    return 1;
}

const char *ic__opt_slot_name(const ic__optimizer *opt, int k)
{
    static const char *const adam_names[3] = {"m", "v", "vhat"};
    if (k < 0 || k >= ic__opt_num_slots(opt))
        return NULL;
    if (opt->o.kind == IC_OPT_ADAM)
        return adam_names[k];
    return opt->o.kind == IC_OPT_RMSPROP ? "accumulator" : "moment";
}

const float *ic__opt_export(const ic__optimizer *opt, const ic__param *p, int k)
{
    if (k < 0 || k >= ic__opt_num_slots(opt))
        return NULL;
    for (int i = 0; i < opt->n_slots; i++) {
        const ic__opt_slot *s = &opt->slots[i];
        if (s->param == p && s->n == ic_tensor_numel(&p->value) && s->a)
            return k == 0 ? s->a : k == 1 ? s->b : s->c;
    }
    return NULL;
}

ic_status ic__opt_import(ic__optimizer *opt, ic__param *p, const float *const *bufs)
{
    ic__opt_slot *s;
    ic_status st = get_slot(opt, p, -1, &s);
    if (st)
        return st;
    float *dst[3] = {s->a, s->b, s->c};
    for (int k = 0; k < ic__opt_num_slots(opt); k++)
        memcpy(dst[k], bufs[k], (size_t)s->n * sizeof(float));
    return IC_OK;
}
