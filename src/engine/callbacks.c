/* callbacks.c - Keras's callbacks for the engine (fit.h): ModelCheckpoint, BackupAndRestore,
 * EarlyStopping, TerminateOnNaN, the history files (CSVLogger, History JSON) and the
 * collapse watch. Each keeps what it needs to continue a resumed run exactly in its state
 * (save_state / load_state), which BackupAndRestore writes into the checkpoint record. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "engine_impl.h"

const char *ic_monitor_name(ic_monitor m)
{
    return m == IC_MONITOR_VAL_ACC ? "val_acc" : "val_loss";
}

static double monitored(ic_monitor m, const ic_fit_logs *l)
{
    return m == IC_MONITOR_VAL_ACC ? l->val.acc : l->val.loss;
}

/* v improves on best by more than min_delta (best_epoch 0: nothing yet, any finite v does). */
static int improves(ic_monitor m, double v, double best, int best_epoch, double min_delta)
{
    if (isnan(v))
        return 0;
    if (best_epoch == 0)
        return 1;
    return m == IC_MONITOR_VAL_ACC ? v - min_delta > best : v + min_delta < best;
}

static ic_status save_with(const ic_checkpoint_opts *o, ic_model *m, const char *path,
                           int include_optimizer)
{
    if (o->save)
        return o->save(o->save_user, m, path, include_optimizer);
    return ic_model_save(m, path, o->meta, include_optimizer);
}

static ic_status copy_opts(ic_checkpoint_opts *dst, const ic_checkpoint_opts *src)
{
    *dst = *src;
    dst->path = src->path ? strdup(src->path) : NULL;
    if (src->path && !dst->path)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    return IC_OK;
}

/* ---- ModelCheckpoint ---- */

typedef struct ckpt_cb {
    ic_checkpoint_opts o;
    ic_monitor monitor;
    int best_only;
    double best;
    int best_epoch;
    int *out_epoch;
    double *out_best;
} ckpt_cb;

static void ckpt_publish(ckpt_cb *c)
{
    if (c->out_epoch)
        *c->out_epoch = c->best_epoch;
    if (c->out_best)
        *c->out_best = c->best;
}

static ic_status ckpt_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    ckpt_cb *c = self;
    double v = monitored(c->monitor, l);
    if (c->best_only && !improves(c->monitor, v, c->best, c->best_epoch, 0))
        return IC_OK;
    ic_model *m = ic_fit_model(f);
    if (!ic__fit_weights_finite(m, 0))
        return ic_seterr(IC_ERR_NUMERIC, "the weights contain NaN or Inf after epoch %d",
                         l->epoch);
    ic_status s = save_with(&c->o, m, c->o.path, 0);
    if (s)
        return s;
    if (c->best_only) {
        c->best = v;
        c->best_epoch = l->epoch;
        ckpt_publish(c);
    }
    return IC_OK;
}

static ic_status ckpt_save_state(void *self, ic_fit_state *st)
{
    ckpt_cb *c = self;
    ic_status s = ic_fit_state_set(st, "best", c->best);
    return s ? s : ic_fit_state_set(st, "best_epoch", c->best_epoch);
}

static ic_status ckpt_load_state(void *self, const ic_fit_state *st)
{
    ckpt_cb *c = self;
    double e;
    ic_status s = ic_fit_state_get(st, "best", &c->best);
    if (!s && !(s = ic_fit_state_get(st, "best_epoch", &e)))
        c->best_epoch = (int)e;
    ckpt_publish(c);
    return s;
}

static void ckpt_free(void *self)
{
    ckpt_cb *c = self;
    free((char *)c->o.path);
    free(c);
}

ic_status ic_callback_model_checkpoint(ic_callback *out, const ic_checkpoint_opts *o,
                                       ic_monitor monitor, int save_best_only, int *best_epoch,
                                       double *best)
{
    if (!out || !o || !o->path)
        return ic_seterr(IC_ERR_INVALID, "ModelCheckpoint: a path is required");
    ckpt_cb *c = calloc(1, sizeof *c);
    if (!c)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    ic_status s = copy_opts(&c->o, o);
    if (s) {
        free(c);
        return s;
    }
    c->monitor = monitor;
    c->best_only = save_best_only != 0;
    c->best = NAN;
    c->out_epoch = best_epoch;
    c->out_best = best;
    ckpt_publish(c);
    *out = (ic_callback){.name = "ModelCheckpoint", .self = c, .on_epoch_end = ckpt_epoch_end,
                         .save_state = ckpt_save_state, .load_state = ckpt_load_state,
                         .free = ckpt_free};
    return IC_OK;
}

/* ---- BackupAndRestore ---- */

typedef struct backup_cb {
    ic_checkpoint_opts o;
    char *record;
    char *extra;
} backup_cb;

static ic_status backup_now(void *self, ic_fit *f, const ic_fit_logs *l)
{
    backup_cb *c = self;
    (void)l;
    ic_model *m = ic_fit_model(f);
    if (!ic__fit_weights_finite(m, 0))
        return ic_seterr(IC_ERR_NUMERIC, "the weights contain NaN or Inf; not saving them");
    char staged[4200];
    ic_fit_staged_path(c->o.path, staged, sizeof staged);
    ic_status s = save_with(&c->o, m, staged, 1);
    return s ? s : ic_fit_checkpoint(f, c->o.path, c->record, c->extra);
}

static void backup_free(void *self)
{
    backup_cb *c = self;
    free(c->record);
    free(c->extra);
    free((char *)c->o.path);
    free(c);
}

ic_status ic_callback_backup_and_restore(ic_callback *out, const ic_checkpoint_opts *o,
                                         const char *record_path, const char *extra)
{
    if (!out || !o || !o->path || !record_path)
        return ic_seterr(IC_ERR_INVALID, "BackupAndRestore: model and record paths are required");
    backup_cb *c = calloc(1, sizeof *c);
    if (!c)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    ic_status s = copy_opts(&c->o, o);
    if (!s && (!(c->record = strdup(record_path)) || (extra && !(c->extra = strdup(extra)))))
        s = ic_seterr(IC_ERR_NOMEM, "out of memory");
    if (s) {
        backup_free(c);
        return s;
    }
    *out = (ic_callback){.name = "BackupAndRestore", .self = c, .on_epoch_end = backup_now,
                         .on_interrupt = backup_now, .free = backup_free};
    return IC_OK;
}

/* ---- EarlyStopping ---- */

typedef struct es_cb {
    ic_early_stopping_opts o;
    double best;
    int best_epoch, wait, stopped_at;
    float **weights; /* restore_best_weights: the best epoch's, one array per weight */
    int n_weights;
    int *out_stopped, *out_best;
} es_cb;

static void es_publish(es_cb *c)
{
    if (c->out_stopped)
        *c->out_stopped = c->stopped_at;
    if (c->out_best)
        *c->out_best = c->best_epoch;
}

/* Copies the model's weights into c->weights (to_model 0) or back (1). */
static ic_status es_copy(es_cb *c, ic_model *m, int to_model)
{
    int n = ic_model_num_weights(m);
    if (!c->weights) {
        if (!(c->weights = calloc((size_t)n, sizeof *c->weights)))
            return ic_seterr(IC_ERR_NOMEM, "out of memory");
        c->n_weights = n;
    }
    for (int i = 0; i < n && i < c->n_weights; i++) {
        const ic_tensor *t = ic_model_weight(m, i, NULL);
        size_t bytes = (size_t)ic_tensor_numel(t) * sizeof(float);
        if (!c->weights[i] && !(c->weights[i] = malloc(bytes ? bytes : 1)))
            return ic_seterr(IC_ERR_NOMEM, "out of memory");
        if (to_model)
            memcpy(ic_tensor_data(ic_model_weight_mut(m, i, NULL)), c->weights[i], bytes);
        else
            memcpy(c->weights[i], ic_tensor_cdata(t), bytes);
    }
    return IC_OK;
}

static ic_status es_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    es_cb *c = self;
    double v = monitored(c->o.monitor, l);
    if (improves(c->o.monitor, v, c->best, c->best_epoch, c->o.min_delta)) {
        c->best = v;
        c->best_epoch = l->epoch;
        c->wait = 0;
        if (c->o.restore_best_weights) {
            ic_status s = es_copy(c, ic_fit_model(f), 0);
            if (s)
                return s;
        }
    } else if (++c->wait >= c->o.patience) {
        /* Keras 2.2.4: only an epoch that does not improve can stop the run (patience 0
         * stops at the first such epoch), the last epoch included, and restore_best_weights
         * acts only when the run stops here */
        c->stopped_at = l->epoch;
        ic_fit_stop(f);
        if (c->o.restore_best_weights && c->weights) {
            ic_status s = es_copy(c, ic_fit_model(f), 1);
            if (s)
                return s;
        }
    }
    es_publish(c);
    return IC_OK;
}

static ic_status es_save_state(void *self, ic_fit_state *st)
{
    es_cb *c = self;
    ic_status s = ic_fit_state_set(st, "best", c->best);
    if (!s)
        s = ic_fit_state_set(st, "best_epoch", c->best_epoch);
    if (!s)
        s = ic_fit_state_set(st, "wait", c->wait);
    return s ? s : ic_fit_state_set(st, "stopped_epoch", c->stopped_at);
}

static ic_status es_load_state(void *self, const ic_fit_state *st)
{
    es_cb *c = self;
    double b, w, e;
    ic_status s = ic_fit_state_get(st, "best", &c->best);
    if (!s && !(s = ic_fit_state_get(st, "best_epoch", &b)) &&
        !(s = ic_fit_state_get(st, "wait", &w)) &&
        !(s = ic_fit_state_get(st, "stopped_epoch", &e))) {
        c->best_epoch = (int)b;
        c->wait = (int)w;
        c->stopped_at = (int)e;
    }
    es_publish(c);
    return s;
}

static void es_free(void *self)
{
    es_cb *c = self;
    for (int i = 0; c->weights && i < c->n_weights; i++)
        free(c->weights[i]);
    free(c->weights);
    free(c);
}

ic_status ic_callback_early_stopping(ic_callback *out, const ic_early_stopping_opts *o,
                                     int *stopped_at, int *best_epoch)
{
    if (!out || !o || o->patience < 0 || o->min_delta < 0)
        return ic_seterr(IC_ERR_INVALID,
                         "EarlyStopping: options are required, patience and min_delta >= 0");
    es_cb *c = calloc(1, sizeof *c);
    if (!c)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    c->o = *o;
    c->best = NAN;
    c->out_stopped = stopped_at;
    c->out_best = best_epoch;
    es_publish(c);
    *out = (ic_callback){.name = "EarlyStopping", .self = c, .on_epoch_end = es_epoch_end,
                         .save_state = es_save_state, .load_state = es_load_state,
                         .free = es_free};
    return IC_OK;
}

/* ---- TerminateOnNaN ---- */

static ic_status nan_step_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self;
    if (ic__fit_weights_finite(ic_fit_model(f), 1))
        return IC_OK;
    return ic_seterr(IC_ERR_NUMERIC,
                     "the weights became NaN or Inf at epoch %d step %lld (learning rate too "
                     "high?)",
                     l->epoch, (long long)l->step);
}

ic_status ic_callback_terminate_on_nan(ic_callback *out)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "TerminateOnNaN: out is NULL");
    *out = (ic_callback){.name = "TerminateOnNaN", .on_step_end = nan_step_end};
    return IC_OK;
}

/* ---- History files ---- */

typedef struct hist_cb {
    char *csv, *json;
} hist_cb;

static ic_status hist_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    hist_cb *c = self;
    (void)l;
    ic_status s = c->csv ? ic_history_save_csv(ic_fit_history(f), c->csv) : IC_OK;
    if (!s && c->json)
        s = ic_history_save_json(ic_fit_history(f), c->json);
    return s;
}

static void hist_free(void *self)
{
    hist_cb *c = self;
    free(c->csv);
    free(c->json);
    free(c);
}

ic_status ic_callback_history_files(ic_callback *out, const char *csv_path, const char *json_path)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "history files: out is NULL");
    hist_cb *c = calloc(1, sizeof *c);
    if (!c || (csv_path && !(c->csv = strdup(csv_path))) ||
        (json_path && !(c->json = strdup(json_path)))) {
        if (c)
            hist_free(c);
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    }
    *out = (ic_callback){.name = "CSVLogger", .self = c, .on_epoch_end = hist_epoch_end,
                         .free = hist_free};
    return IC_OK;
}

/* ---- The collapse watch ---- */

typedef struct collapse_cb {
    ic_collapse_watch w;
    ic_collapse_fn warn;
    void *user;
} collapse_cb;

static ic_status collapse_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    collapse_cb *c = self;
    (void)f;
    ic_collapse k = ic_collapse_watch_epoch(&c->w, l->loss, &l->val);
    if (k != IC_COLLAPSE_NONE && c->warn)
        c->warn(c->user, l->epoch, k, &c->w);
    return IC_OK;
}

ic_status ic_callback_collapse_watch(ic_callback *out, double majority_rate, ic_collapse_fn warn,
                                     void *user)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "collapse watch: out is NULL");
    collapse_cb *c = calloc(1, sizeof *c);
    if (!c)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    c->w = ic_collapse_watch_init(majority_rate);
    c->warn = warn;
    c->user = user;
    *out = (ic_callback){.name = "CollapseWatch", .self = c, .on_epoch_end = collapse_epoch_end,
                         .free = free};
    return IC_OK;
}

/* ---- the standard set ---- */

ic_status ic_fit_add_callbacks(ic_fit *f, const ic_fit_callbacks *o, const ic_callback *own,
                               int n_own)
{
    ic_callback cb;
    ic_status s = !f || !o ? ic_seterr(IC_ERR_INVALID, "ic_fit_add_callbacks: run and options "
                                                       "are required")
                           : ic_callback_terminate_on_nan(&cb);
    if (!s)
        s = ic_fit_add_callback(f, &cb);
    int i = 0;
    while (own && i < n_own && !s)
        s = ic_fit_add_callback(f, &own[i++]);
    for (; own && i < n_own; i++) /* handed over: those not added are freed, as a failed add */
        if (own[i].free)
            own[i].free(own[i].self);
    if (s)
        return s;
    if ((o->history_csv || o->history_json) &&
        !(s = ic_callback_history_files(&cb, o->history_csv, o->history_json)))
        s = ic_fit_add_callback(f, &cb);
    ic_checkpoint_opts best = o->ckpt;
    best.path = o->best_path;
    if (!s && o->best_path &&
        !(s = ic_callback_model_checkpoint(&cb, &best, o->monitor, 1, o->best_epoch, o->best)))
        s = ic_fit_add_callback(f, &cb);
    ic_early_stopping_opts eo = {o->monitor, 0, o->patience, o->restore_best_weights};
    if (!s && o->patience > 0 &&
        !(s = ic_callback_early_stopping(&cb, &eo, o->stopped_at, o->es_best_epoch)))
        s = ic_fit_add_callback(f, &cb);
    if (s || !o->ckpt.path)
        return s;
    if (o->record_path)
        s = ic_callback_backup_and_restore(&cb, &o->ckpt, o->record_path, o->extra);
    else if (!(s = ic_callback_model_checkpoint(&cb, &o->ckpt, o->monitor, 0, NULL, NULL)))
        cb.name = "checkpoint"; /* names are unique in a run: the best one is ModelCheckpoint */
    return s ? s : ic_fit_add_callback(f, &cb);
}
