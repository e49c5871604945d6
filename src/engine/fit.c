/* fit.c - the training loop (fit.h): epochs of steps, validation, callbacks, cancellation.
 *
 * The loop keeps its whole position in struct ic_fit (record.c writes and reads it): the
 * running sums of the epoch are continued by a resumed run, so its history is the same,
 * bit for bit, as without the interruption. Per epoch it does what Keras 2.2.4's
 * fit_generator does: steps_per_epoch training steps, then validation_steps batches in
 * inference mode, the epoch's values as batch-size-weighted means; the validation source
 * keeps cycling across epochs, as Keras's persistent enqueuer does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "engine_impl.h"
#include "train/train_impl.h"

ic_fit_opts ic_fit_opts_default(void)
{
    ic_fit_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.validation_cache = 1;
    return o;
}

static int64_t source_steps(ic_batch_source *src, int64_t steps)
{
    if (steps > 0)
        return steps;
    return src->ops->length ? src->ops->length(src->self) : 0;
}

static ic_status check_source(const ic_batch_source *src, const char *what)
{
    if (!src || !src->ops || !src->ops->next)
        return ic_seterr(IC_ERR_INVALID, "%s batch source is NULL or has no next()", what);
    return IC_OK;
}

ic_status ic_fit_create(ic_fit **out, ic_model *m, ic_batch_source *train, ic_batch_source *val,
                        const ic_fit_opts *opts)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_create: out is NULL");
    *out = NULL;
    if (!m)
        return ic_seterr(IC_ERR_INVALID, "fit: model is NULL");
    if (!m->train)
        return ic_seterr(IC_ERR_INVALID,
                         "model '%s' is not compiled: call ic_model_compile() before fitting",
                         m->name);
    ic_fit_opts def = ic_fit_opts_default();
    const ic_fit_opts *o = opts ? opts : &def;
    ic_status s = check_source(train, "training");
    if (!s && val)
        s = check_source(val, "validation");
    if (s)
        return s;
    if (o->steps_per_epoch < 0 || o->validation_steps < 0 || o->initial_epoch < 0)
        return ic_seterr(IC_ERR_INVALID,
                         "fit: steps_per_epoch (%lld), validation_steps (%lld) and "
                         "initial_epoch (%d) must be >= 0",
                         (long long)o->steps_per_epoch, (long long)o->validation_steps,
                         o->initial_epoch);
    int64_t steps = source_steps(train, o->steps_per_epoch), vsteps = 0;
    if (steps < 1)
        return ic_seterr(IC_ERR_INVALID,
                         "fit: steps_per_epoch is 0 and the training source reports no length");
    if (val && (vsteps = source_steps(val, o->validation_steps)) < 1)
        return ic_seterr(IC_ERR_INVALID, "fit: validation_steps is 0 and the validation source "
                                         "reports no length");
    ic_fit *f = ic__calloc(1, sizeof *f);
    if (!f)
        return IC_ERR_NOMEM;
    f->model = m;
    f->train = train;
    f->val = val;
    f->o = *o;
    f->steps = steps;
    f->vsteps = vsteps;
    f->epochs_done = o->initial_epoch;
    if ((s = ic_history_create(&f->hist, m->train->opts.metric_accuracy, val != NULL))) {
        ic__free(f);
        return s;
    }
    const char *off = getenv("IC_NO_VAL_CACHE");
    if (val && o->validation_cache && !(off && *off && strcmp(off, "0")))
        f->vc = ic__vcache_create(m);
    *out = f;
    return IC_OK;
}

ic_status ic_fit_add_callback(ic_fit *f, const ic_callback *cb)
{
    if (!f || !cb) {
        if (cb && cb->free)
            cb->free(cb->self);
        return ic_seterr(IC_ERR_INVALID, "ic_fit_add_callback: run and callback are required");
    }
    for (int i = 0; cb->name && i < f->n_cbs; i++)
        if (f->cbs[i].name && !strcmp(f->cbs[i].name, cb->name)) {
            if (cb->free)
                cb->free(cb->self);
            return ic_seterr(IC_ERR_INVALID, "fit: two callbacks are named '%s'", cb->name);
        }
    if (f->n_cbs == f->cap_cbs) {
        int cap = f->cap_cbs ? 2 * f->cap_cbs : 8;
        ic_callback *n = ic__realloc(f->cbs, (size_t)cap * sizeof *n);
        if (!n) {
            if (cb->free)
                cb->free(cb->self);
            return IC_ERR_NOMEM;
        }
        f->cbs = n;
        f->cap_cbs = cap;
    }
    f->cbs[f->n_cbs++] = *cb;
    return IC_OK;
}

void ic_fit_free(ic_fit *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_cbs; i++)
        if (f->cbs[i].free)
            f->cbs[i].free(f->cbs[i].self);
    ic__free(f->cbs);
    ic_history_free(f->hist);
    ic__vcache_free(f->vc);
    ic__free(f);
}

void ic_fit_stop(ic_fit *f)
{
    if (f)
        f->stop = 1;
}

int ic_fit_stopped(const ic_fit *f) { return f ? f->stop : 0; }
ic_model *ic_fit_model(const ic_fit *f) { return f ? f->model : NULL; }
const ic_history *ic_fit_history(const ic_fit *f) { return f ? f->hist : NULL; }
int ic_fit_epochs_done(const ic_fit *f) { return f ? f->epochs_done : 0; }
int64_t ic_fit_steps(const ic_fit *f) { return f ? f->steps : 0; }
int64_t ic_fit_validation_steps(const ic_fit *f) { return f ? f->vsteps : 0; }

const char *ic_fit_validation_cache(const ic_fit *f)
{
    if (!f || !f->vc)
        return "";
    return ic__vcache_cut(f->vc);
}

const char *ic_fit_last_checkpoint(const ic_fit *f, int *epoch, int64_t *step)
{
    int has = f && f->has_ckpt;
    if (epoch)
        *epoch = has ? f->ckpt_epoch : 0;
    if (step)
        *step = has ? f->ckpt_step : 0;
    return has ? f->ckpt_path : NULL;
}

int ic__fit_weights_finite(const ic_model *m, int trainable_only)
{
    int n = ic__model_collect((ic_model *)m, trainable_only, NULL, NULL, 0);
    if (n <= 0)
        return 1;
    ic__param **ps = ic__malloc((size_t)n * sizeof *ps);
    if (!ps)
        return 1; /* cannot check: the loss check still stands */
    ic__model_collect((ic_model *)m, trainable_only, ps, NULL, n);
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const ic_tensor *t = &ps[i]->value;
        int64_t k = ic_tensor_numel(t);
        for (int64_t j = 0; j < k && ok; j++)
            ok = isfinite(t->data[j]);
    }
    ic__free(ps);
    return ok;
}

/* Calls hook k (an offset into ic_callback) of every callback, in order. */
#define CALL_ALL(f, hook, ...)                                                                 \
    do {                                                                                       \
        for (int i_ = 0; !s && i_ < (f)->n_cbs; i_++)                                          \
            if ((f)->cbs[i_].hook)                                                             \
                s = (f)->cbs[i_].hook((f)->cbs[i_].self, (f), __VA_ARGS__);                    \
    } while (0)

static ic_status validate(ic_fit *f, int epoch, ic_eval_result *r)
{
    return f->vc ? ic__vcache_evaluate(f->vc, f->val, f->vsteps, r, epoch)
                 : ic__evaluate(f->model, f->val, f->vsteps, r, "validation", epoch, NULL);
}

static ic_status train_steps(ic_fit *f, int e)
{
    ic_status s = IC_OK;
    char where[64];
    for (int64_t st = f->step; st < f->steps; st++) {
        const ic_tensor *x = NULL, *y = NULL;
        snprintf(where, sizeof where, "epoch %d step %lld", e + 1, (long long)st + 1);
        if ((s = f->train->ops->next(f->train->self, &x, &y)))
            return ic__errctx(s, "%s: reading the training batch", where);
        f->train_batch++;
        double l = 0, a = 0;
        if ((s = ic__train_step(f->model, x, y, &l, &a, where)))
            return s;
        double b = (double)x->shape[0];
        f->sl += l * b;
        f->sa += a * b;
        f->seen += (int64_t)b;
        f->step = st + 1;
        f->logs.step = st + 1;
        f->logs.loss = f->sl / (double)f->seen;
        f->logs.acc = f->sa / (double)f->seen;
        CALL_ALL(f, on_step_end, &f->logs);
        if (s)
            return s;
        if (f->o.cancel && *f->o.cancel && st + 1 < f->steps) {
            CALL_ALL(f, on_interrupt, &f->logs);
            if (s)
                return s;
            return ic_seterr(IC_ERR_CANCELLED, "interrupted after epoch %d step %lld", e + 1,
                             (long long)st + 1);
        }
    }
    return IC_OK;
}

ic_status ic_fit_run(ic_fit *f)
{
    if (!f)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_run: run is NULL");
    ic_status s = IC_OK;
    memset(&f->logs, 0, sizeof f->logs);
    f->logs.epochs = f->o.epochs;
    f->logs.steps = f->steps;
    for (int i = 0; !s && i < f->n_cbs; i++)
        if (f->cbs[i].on_train_begin)
            s = f->cbs[i].on_train_begin(f->cbs[i].self, f);
    for (int e = f->epochs_done; !s && e < f->o.epochs && !f->stop; e++) {
        f->logs.epoch = e + 1;
        f->logs.first_step = f->step;
        f->logs.step = f->step;
        f->logs.loss = f->seen ? f->sl / (double)f->seen : NAN;
        f->logs.acc = f->seen ? f->sa / (double)f->seen : NAN;
        CALL_ALL(f, on_epoch_begin, &f->logs);
        if (s || (s = train_steps(f, e)))
            break;
        ic_eval_result vr = {NAN, NAN, 0, NAN};
        if (f->val && (s = validate(f, e + 1, &vr)))
            break;
        f->val_batch += f->val ? f->vsteps : 0;
        double loss = f->sl / (double)f->seen, acc = f->sa / (double)f->seen;
        if ((s = ic_history_append(f->hist, loss, acc, vr.loss, vr.acc)))
            break;
        f->epochs_done = e + 1;
        f->step = 0;
        f->sl = f->sa = 0;
        f->seen = 0;
        f->logs.loss = loss;
        f->logs.acc = acc;
        f->logs.val = vr;
        CALL_ALL(f, on_epoch_end, &f->logs);
        if (s)
            break;
        if (f->o.cancel && *f->o.cancel && e + 1 < f->o.epochs && !f->stop)
            s = ic_seterr(IC_ERR_CANCELLED, "interrupted after epoch %d step %lld", e + 1,
                          (long long)f->steps);
    }
    for (int i = 0; i < f->n_cbs; i++)
        if (f->cbs[i].on_train_end) {
            char msg[1024]; /* the run's message survives what the callback does */
            snprintf(msg, sizeof msg, "%s", ic_errmsg());
            f->cbs[i].on_train_end(f->cbs[i].self, f, s);
            if (s)
                ic_seterr(s, "%s", msg);
        }
    return s;
}

/* ---- ic_model_fit: the one-call form ---- */

typedef struct legacy {
    ic_epoch_callback on_epoch;
    ic_step_callback on_step;
    void *user;
} legacy;

static ic_status legacy_step(void *self, ic_fit *f, const ic_fit_logs *l)
{
    legacy *g = self;
    (void)f;
    if (g->on_step && g->on_step(l->epoch - 1, l->step, l->steps, l->loss, l->acc, g->user))
        return ic_seterr(IC_ERR_CANCELLED,
                         "training stopped by the step callback at epoch %d step %lld", l->epoch,
                         (long long)l->step);
    return IC_OK;
}

static ic_status legacy_epoch(void *self, ic_fit *f, const ic_fit_logs *l)
{
    legacy *g = self;
    if (g->on_epoch && g->on_epoch(l->epoch - 1, ic_fit_history(f), g->user))
        return ic_seterr(IC_ERR_CANCELLED, "training stopped by the epoch callback after epoch %d",
                         l->epoch);
    return IC_OK;
}

ic_status ic_model_fit(ic_model *m, const ic_fit_opts *o, ic_batch_source *train,
                       ic_batch_source *val, ic_history **history)
{
    if (history)
        *history = NULL;
    if (!m)
        return ic_seterr(IC_ERR_INVALID, "ic_model_fit: model is NULL");
    if (!m->train)
        return ic_seterr(IC_ERR_INVALID,
                         "model '%s' is not compiled: call ic_model_compile() before "
                         "ic_model_fit()",
                         m->name);
    ic_fit_opts def = ic_fit_opts_default();
    if (!o)
        o = &def;
    ic_fit *f;
    ic_status s = ic_fit_create(&f, m, train, val, o);
    if (s)
        return s;
    legacy g = {o->on_epoch, o->on_step, o->user};
    ic_callback cb = {.name = "ic_model_fit", .self = &g};
    if (o->on_step)
        cb.on_step_end = legacy_step;
    if (o->on_epoch)
        cb.on_epoch_end = legacy_epoch;
    if ((o->on_step || o->on_epoch) && (s = ic_fit_add_callback(f, &cb))) {
        ic_fit_free(f);
        return s;
    }
    s = ic_fit_run(f);
    if (history) {
        *history = f->hist;
        f->hist = NULL;
    }
    ic_fit_free(f);
    return s;
}
