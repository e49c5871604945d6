/* test_engine.c - the training engine (ic_fit) and Keras's callbacks through the public API:
 * EarlyStopping and ModelCheckpoint(save_best_only) against a naive transcription of Keras
 * 2.2.4's rules over random monitored sequences; restore_best_weights gives back the best
 * epoch's weights bit for bit; a run cancelled mid-epoch and resumed from its checkpoint
 * (BackupAndRestore + ic_fit_restore) ends with the history and weights of a run that was
 * never stopped; TerminateOnNaN names the step; the history files read back; callbacks run
 * in order and their errors end the run. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "imgclass/imgclass.h"

#define NS 48

static char dir[64];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* XOR blobs, as in test_fit.c: corners +-1 with noise; label 1 when the signs differ. */
static void xor_data(ic_tensor **x, ic_tensor **y)
{
    int64_t sx[2] = {NS, 2}, sy[2] = {NS, 1};
    OK(ic_tensor_create(x, 2, sx));
    OK(ic_tensor_create(y, 2, sy));
    float noise[2 * NS];
    t_fill_uniform(noise, 2 * NS, 11, -0.25f, 0.25f);
    float *px = ic_tensor_data(*x), *py = ic_tensor_data(*y);
    for (int i = 0; i < NS; i++) {
        float a = (i & 1) ? 1.0f : -1.0f, b = (i & 2) ? 1.0f : -1.0f;
        px[2 * i] = a + noise[2 * i];
        px[2 * i + 1] = b + noise[2 * i + 1];
        py[i] = a != b;
    }
}

/* Input(2) -> Dense(16, relu) -> Dropout(0.25) -> Dense(1, sigmoid), compiled with RMSprop:
 * dropout and shuffling make a resumed run depend on every piece of restored state. */
static ic_model *mlp(uint64_t seed)
{
    ic_set_random_seed(seed);
    ic_model *m;
    OK(ic_model_create(&m, "xor", 1));
    int64_t in[1] = {2};
    OK(ic_model_input(m, 1, in, NULL, NULL));
    ic_layer *l;
    OK(ic_layer_dense(&l, 16, IC_ACT_RELU, 1, "hidden"));
    OK(ic_model_add(m, l));
    OK(ic_layer_dropout(&l, 0.25f, "drop"));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, "out"));
    OK(ic_model_add(m, l));
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer.lr = 0.01f;
    OK(ic_model_compile(m, &c));
    return m;
}

typedef struct data {
    ic_tensor *x, *y;
    ic_batch_source train, val;
} data;

static void data_open(data *d)
{
    xor_data(&d->x, &d->y);
    OK(ic_batch_source_tensors(&d->train, d->x, d->y, 10, 1, 5)); /* shuffled, partial batch */
    OK(ic_batch_source_tensors(&d->val, d->x, d->y, 16, 0, 0));
}

static void data_close(data *d)
{
    ic_batch_source_free(&d->train);
    ic_batch_source_free(&d->val);
    ic_tensor_free(d->x);
    ic_tensor_free(d->y);
}

static float *weights_copy(const ic_model *m, long *n)
{
    long total = 0;
    for (int i = 0; i < ic_model_num_weights(m); i++)
        total += (long)ic_tensor_numel(ic_model_weight(m, i, NULL));
    float *w = malloc((size_t)total * sizeof *w), *p = w;
    for (int i = 0; i < ic_model_num_weights(m); i++) {
        const ic_tensor *t = ic_model_weight(m, i, NULL);
        memcpy(p, ic_tensor_cdata(t), (size_t)ic_tensor_numel(t) * sizeof *p);
        p += ic_tensor_numel(t);
    }
    *n = total;
    return w;
}

/* ---- EarlyStopping and ModelCheckpoint against Keras's rules ---- */

/* Keras 2.2.4 EarlyStopping.on_epoch_end, transcribed: best starts at +inf (min) or -inf
 * (max); min_delta is subtracted in the monitor's direction; only a non-improving epoch
 * counts towards patience and can stop. Returns the epoch (from 1) it stops after, 0 if
 * never; *best_epoch the last improving epoch. */
static int keras_early_stopping(const double *v, int n, int is_acc, double min_delta,
                                int patience, int *best_epoch)
{
    double best = is_acc ? -INFINITY : INFINITY;
    int wait = 0;
    *best_epoch = 0;
    for (int e = 0; e < n; e++) {
        int better = is_acc ? v[e] - min_delta > best : v[e] + min_delta < best;
        if (better) {
            best = v[e];
            wait = 0;
            *best_epoch = e + 1;
        } else if (++wait >= patience) {
            return e + 1;
        }
    }
    return 0;
}

/* Keras 2.2.4 ModelCheckpoint(save_best_only): saves when monitor_op(current, best). */
static int keras_checkpoint_saves(const double *v, int n, int is_acc, int *saved)
{
    double best = is_acc ? -INFINITY : INFINITY;
    int k = 0;
    for (int e = 0; e < n; e++)
        if (is_acc ? v[e] > best : v[e] < best) {
            best = v[e];
            saved[k++] = e + 1;
        }
    return k;
}

static int saves[64], n_saves, logged_epoch;
static ic_status count_save(void *user, ic_model *m, const char *path, int include_optimizer)
{
    (void)user, (void)m, (void)path, (void)include_optimizer;
    saves[n_saves++] = logged_epoch;
    return IC_OK;
}

static void test_monitor_rules(void)
{
    data d;
    data_open(&d);
    ic_model *m = mlp(1);
    uint64_t rng = 12345;
    for (int trial = 0; trial < 400; trial++) {
        int n = 3 + (int)(trial % 9), is_acc = trial & 1;
        double v[16];
        for (int e = 0; e < n; e++) { /* coarse values, so that ties and deltas matter */
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            v[e] = (double)((rng >> 33) % 8) / 8.0;
            if ((rng >> 20) % 23 == 0)
                v[e] = NAN;
        }
        int patience = (int)(trial / 2 % 4);
        double min_delta = (trial / 8) % 3 == 0 ? 0.0 : (trial / 8) % 3 == 1 ? 0.1 : 0.2;

        ic_fit *f;
        OK(ic_fit_create(&f, m, &d.train, &d.val, NULL));
        ic_callback es, ck;
        int stopped_at = -1, best_epoch = -1, ck_best_epoch = 0;
        double ck_best = 0;
        ic_early_stopping_opts eo = {is_acc ? IC_MONITOR_VAL_ACC : IC_MONITOR_VAL_LOSS, min_delta,
                                     patience, 0};
        OK(ic_callback_early_stopping(&es, &eo, &stopped_at, &best_epoch));
        char p[300];
        path_in(p, sizeof p, "never_written.h5");
        ic_checkpoint_opts co = {p, NULL, count_save, NULL};
        OK(ic_callback_model_checkpoint(&ck, &co, eo.monitor, 1, &ck_best_epoch, &ck_best));
        n_saves = 0;
        int got_stop = 0;
        for (int e = 0; e < n; e++) {
            ic_fit_logs l = {.epoch = e + 1, .epochs = n, .steps = 5};
            l.val.loss = is_acc ? 0.3 : v[e];
            l.val.acc = is_acc ? v[e] : 0.5;
            logged_epoch = e + 1;
            OK(ck.on_epoch_end(ck.self, f, &l));
            if (!got_stop) {
                OK(es.on_epoch_end(es.self, f, &l));
                if (ic_fit_stopped(f))
                    got_stop = e + 1;
            }
        }
        int want_best, want = keras_early_stopping(v, n, is_acc, min_delta, patience, &want_best);
        CHECKF(got_stop == want && stopped_at == want && best_epoch == want_best,
               "trial %d: EarlyStopping stopped after %d (published %d, best %d), Keras %d (best "
               "%d)",
               trial, got_stop, stopped_at, best_epoch, want, want_best);
        int want_saves[16], nw = keras_checkpoint_saves(v, n, is_acc, want_saves);
        CHECKF(n_saves == nw && !memcmp(saves, want_saves, (size_t)nw * sizeof *saves),
               "trial %d: ModelCheckpoint saved %d times, Keras %d", trial, n_saves, nw);
        CHECK(ck_best_epoch == (nw ? want_saves[nw - 1] : 0));
        if (nw)
            CHECK(ck_best == v[want_saves[nw - 1] - 1]);
        es.free(es.self);
        ck.free(ck.self);
        ic_fit_free(f);
    }
    ic_model_free(m);
    data_close(&d);
}

/* ---- restore_best_weights on a real run ---- */

typedef struct snap {
    float *w[8];
    long n;
    int epochs;
} snap;

static ic_status snap_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    snap *s = self;
    (void)l;
    s->w[s->epochs++] = weights_copy(ic_fit_model(f), &s->n);
    return IC_OK;
}

static void test_restore_best_weights(void)
{
    data d;
    data_open(&d);
    ic_model *m = mlp(2);
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 6;
    ic_fit *f;
    OK(ic_fit_create(&f, m, &d.train, &d.val, &fo));
    snap s = {0};
    ic_callback sc = {.name = "snap", .self = &s, .on_epoch_end = snap_epoch_end};
    OK(ic_fit_add_callback(f, &sc)); /* before EarlyStopping: sees each epoch's own weights */
    /* a min_delta no loss can beat: epoch 1 is the best, epoch 3 stops (patience 2) */
    ic_early_stopping_opts eo = {IC_MONITOR_VAL_LOSS, 100.0, 2, 1};
    ic_callback es;
    int stopped_at = 0, best_epoch = 0;
    OK(ic_callback_early_stopping(&es, &eo, &stopped_at, &best_epoch));
    OK(ic_fit_add_callback(f, &es));
    OK(ic_fit_run(f));
    CHECK(ic_fit_epochs_done(f) == 3 && ic_history_epochs(ic_fit_history(f)) == 3);
    CHECK(stopped_at == 3 && best_epoch == 1 && ic_fit_stopped(f));
    CHECK(s.epochs == 3);
    long n;
    float *now = weights_copy(m, &n);
    CHECK(n == s.n && !memcmp(now, s.w[0], (size_t)n * sizeof *now));
    CHECK(memcmp(now, s.w[2], (size_t)n * sizeof *now) != 0); /* training did move them */
    free(now);
    for (int i = 0; i < s.epochs; i++)
        free(s.w[i]);
    ic_fit_free(f);
    ic_model_free(m);
    data_close(&d);
}

/* ---- cancel, checkpoint, resume ---- */

static volatile sig_atomic_t cancel_flag;
static int cancel_epoch, cancel_step, interrupts;

static ic_status cancel_step_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self, (void)f;
    if (l->epoch == cancel_epoch && l->step == cancel_step)
        cancel_flag = 1; /* what a SIGINT handler does */
    return IC_OK;
}

static ic_status count_interrupt(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self, (void)f, (void)l;
    interrupts++;
    return IC_OK;
}

static char run_msg[512]; /* the run's message (freeing the run may set others) */

/* Runs 4 epochs (or resumes from rec) with EarlyStopping (never firing, but its state
 * must round-trip), the history files and BackupAndRestore into tag's files. */
static ic_status run(ic_model *m, data *d, const char *tag, const ic_fit_record *rec,
                     ic_history **hist)
{
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 4;
    fo.steps_per_epoch = 7; /* epochs that do not line up with passes over the data */
    fo.cancel = &cancel_flag;
    ic_fit *f;
    OK(ic_fit_create(&f, m, &d->train, &d->val, &fo));
    char mp[300], rp[300], csv[300], json[300], name[32];
    snprintf(name, sizeof name, "%s.h5", tag);
    path_in(mp, sizeof mp, name);
    snprintf(name, sizeof name, "%s.ckpt.json", tag);
    path_in(rp, sizeof rp, name);
    snprintf(name, sizeof name, "%s.csv", tag);
    path_in(csv, sizeof csv, name);
    snprintf(name, sizeof name, "%s.json", tag);
    path_in(json, sizeof json, name);
    ic_callback cb;
    ic_callback cc = {.name = "cancel", .on_step_end = cancel_step_end,
                      .on_interrupt = count_interrupt};
    OK(ic_fit_add_callback(f, &cc));
    ic_early_stopping_opts eo = {IC_MONITOR_VAL_ACC, 0.0, 50, 1};
    OK(ic_callback_early_stopping(&cb, &eo, NULL, NULL));
    OK(ic_fit_add_callback(f, &cb));
    OK(ic_callback_terminate_on_nan(&cb));
    OK(ic_fit_add_callback(f, &cb));
    OK(ic_callback_history_files(&cb, csv, json));
    OK(ic_fit_add_callback(f, &cb));
    ic_checkpoint_opts co = {mp, NULL, NULL, NULL};
    OK(ic_callback_backup_and_restore(&cb, &co, rp, "{\"who\":\"test_engine\"}"));
    OK(ic_fit_add_callback(f, &cb));
    if (rec)
        OK(ic_fit_restore(f, rec));
    ic_status s = ic_fit_run(f);
    snprintf(run_msg, sizeof run_msg, "%s", ic_errmsg());
    if (hist) {
        const ic_history *h = ic_fit_history(f);
        int ne = ic_history_epochs(h);
        OK(ic_history_create(hist, 1, 1));
        const double *lo = ic_history_metric(h, "loss"), *ac = ic_history_metric(h, "acc"),
                     *vl = ic_history_metric(h, "val_loss"), *va = ic_history_metric(h, "val_acc");
        for (int e = 0; e < ne; e++)
            OK(ic_history_append(*hist, lo[e], ac[e], vl[e], va[e]));
    }
    ic_fit_free(f);
    return s;
}

static void test_resume_exact(void)
{
    char rp[300], mp[300];
    /* the run that is never stopped */
    data d;
    data_open(&d);
    ic_model *m = mlp(3);
    ic_history *ha;
    cancel_flag = 0, cancel_epoch = 0;
    OK(run(m, &d, "whole", NULL, &ha));
    long n;
    float *wa = weights_copy(m, &n);
    ic_model_free(m);
    data_close(&d);

    /* the same run, cancelled in epoch 2 after step 3 */
    data_open(&d);
    m = mlp(3);
    cancel_flag = 0, cancel_epoch = 2, cancel_step = 3, interrupts = 0;
    CHECK(run(m, &d, "cut", NULL, NULL) == IC_ERR_CANCELLED);
    CHECKF(strstr(run_msg, "interrupted after epoch 2 step 3"), "message: %s", run_msg);
    CHECK(interrupts == 1);
    ic_model_free(m);
    data_close(&d);

    path_in(rp, sizeof rp, "cut.ckpt.json");
    ic_fit_record *rec;
    OK(ic_fit_record_read(rp, &rec));
    CHECK(ic_fit_record_epochs_done(rec) == 1 && ic_fit_record_step(rec) == 3);
    CHECK(!ic_fit_record_stopped(rec));
    CHECK(ic_fit_record_extra(rec) && strstr(ic_fit_record_extra(rec), "test_engine"));
    path_in(mp, sizeof mp, "cut.h5");
    CHECK(!strcmp(ic_fit_record_model(rec), mp));

    /* resumed in a new process's state: fresh sources and a model loaded from the file */
    data_open(&d);
    ic_set_random_seed(3); /* the run's seed (Dropout's masks derive from it), as --seed */
    OK(ic_model_load(&m, ic_fit_record_model(rec), NULL));
    ic_history *hb;
    cancel_flag = 0, cancel_epoch = 0;
    OK(run(m, &d, "cut", rec, &hb));
    ic_fit_record_free(rec);
    float *wb = weights_copy(m, &n);
    CHECK(ic_history_epochs(ha) == 4 && ic_history_epochs(hb) == 4);
    const char *keys[] = {"loss", "acc", "val_loss", "val_acc"};
    for (int k = 0; k < 4; k++)
        CHECKF(!memcmp(ic_history_metric(ha, keys[k]), ic_history_metric(hb, keys[k]),
                       4 * sizeof(double)),
               "resumed %s differs", keys[k]);
    CHECKF(!memcmp(wa, wb, (size_t)n * sizeof *wa), "resumed weights differ");

    /* the history files read back as the run's history */
    char js[300];
    path_in(js, sizeof js, "cut.json");
    ic_history *hf;
    OK(ic_history_load(js, &hf));
    CHECK(ic_history_epochs(hf) == 4);
    CHECK(ic_history_metric(hf, "val_loss")[3] == ic_history_metric(hb, "val_loss")[3]);
    ic_history_free(hf);

    /* a record whose model file changed is refused, naming it */
    FILE *fp = fopen(mp, "ab");
    fputs("x", fp);
    fclose(fp);
    EXPECT_ERR(ic_fit_record_read(rp, &rec), IC_ERR_INVALID, "cut.h5");

    free(wa), free(wb);
    ic_history_free(ha), ic_history_free(hb);
    ic_model_free(m);
    data_close(&d);
}

/* ---- TerminateOnNaN, callback order and errors ---- */

static char order[64];
static ic_status poison(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self;
    strcat(order, "p");
    if (l->epoch == 1 && l->step == 3)
        ic_tensor_data(ic_model_weight_mut(ic_fit_model(f), 0, NULL))[5] = NAN;
    return IC_OK;
}

static ic_status fail_at_2(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self, (void)f;
    strcat(order, "f");
    return l->epoch == 2 ? ic_seterr(IC_ERR_INVALID, "the test's callback refuses epoch 2")
                         : IC_OK;
}

static int ended;
static ic_status ended_with;
static void on_end(void *self, ic_fit *f, ic_status s)
{
    (void)self, (void)f;
    ended++, ended_with = s;
}

static void test_nan_and_errors(void)
{
    data d;
    data_open(&d);
    ic_model *m = mlp(4);
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 2;
    ic_fit *f;
    OK(ic_fit_create(&f, m, &d.train, &d.val, &fo));
    ic_callback cb = {.name = "poison", .on_step_end = poison, .on_train_end = on_end};
    OK(ic_fit_add_callback(f, &cb));
    OK(ic_callback_terminate_on_nan(&cb));
    OK(ic_fit_add_callback(f, &cb));
    order[0] = 0, ended = 0;
    EXPECT_ERR(ic_fit_run(f), IC_ERR_NUMERIC, "epoch 1 step 3");
    CHECK(!strcmp(order, "ppp") && ended == 1 && ended_with == IC_ERR_NUMERIC);
    ic_fit_free(f);
    ic_model_free(m);

    m = mlp(4);
    OK(ic_fit_create(&f, m, &d.train, &d.val, &fo));
    ic_callback c1 = {.name = "a", .on_epoch_end = fail_at_2, .on_train_end = on_end};
    ic_callback c2 = {.name = "b", .on_epoch_end = fail_at_2};
    OK(ic_fit_add_callback(f, &c1));
    OK(ic_fit_add_callback(f, &c2));
    order[0] = 0, ended = 0;
    EXPECT_ERR(ic_fit_run(f), IC_ERR_INVALID, "refuses epoch 2");
    CHECK(!strcmp(order, "fff")); /* both at epoch 1, the first ends epoch 2 */
    CHECK(ended == 1 && ended_with == IC_ERR_INVALID);
    CHECK(ic_fit_epochs_done(f) == 2); /* trained and validated; its callbacks failed */
    EXPECT_ERR(ic_fit_add_callback(f, &c1), IC_ERR_INVALID, "two callbacks are named 'a'");
    ic_fit_free(f);
    ic_model_free(m);
    data_close(&d);
}

/* ic_fit_add_callbacks: the callbacks it adds run in order (the caller's between
 * TerminateOnNaN and the history files), each as its options ask; a plain checkpoint runs
 * beside the best one; the caller's callbacks are freed when it fails. */
static char seen_order[16];
static ic_status own_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)f, (void)l;
    strncat(seen_order, self, sizeof seen_order - strlen(seen_order) - 1);
    return IC_OK;
}

static int own_freed;
static void own_free(void *self)
{
    (void)self;
    own_freed++;
}

static void test_standard_callbacks(void)
{
    char csv[300], best[300], ck[300], rp[300];
    path_in(csv, sizeof csv, "std.csv");
    path_in(best, sizeof best, "std_best.h5");
    path_in(ck, sizeof ck, "std.h5");
    path_in(rp, sizeof rp, "std.ckpt.json");
    for (int resumable = 0; resumable < 2; resumable++) {
        data d;
        data_open(&d);
        ic_model *m = mlp(3);
        ic_fit_opts fo = ic_fit_opts_default();
        fo.epochs = 3;
        ic_fit *f;
        OK(ic_fit_create(&f, m, &d.train, &d.val, &fo));
        ic_callback own[2] = {{.name = "a", .self = "a", .on_epoch_end = own_epoch_end},
                              {.name = "b", .self = "b", .on_epoch_end = own_epoch_end}};
        int best_epoch = 0, stopped_at = -1;
        double bv = NAN;
        ic_fit_callbacks fc = {.history_csv = csv, .best_path = best, .patience = 50,
                               .ckpt = {.path = ck}, .record_path = resumable ? rp : NULL,
                               .extra = "{}", .best_epoch = &best_epoch, .best = &bv,
                               .stopped_at = &stopped_at};
        unlink(rp);
        seen_order[0] = '\0';
        OK(ic_fit_add_callbacks(f, &fc, own, 2));
        OK(ic_fit_run(f));
        CHECKF(!strcmp(seen_order, "ababab"), "own callbacks ran as '%s'", seen_order);
        CHECK(access(csv, F_OK) == 0 && access(best, F_OK) == 0 && access(ck, F_OK) == 0);
        CHECK(best_epoch >= 1 && best_epoch <= 3 && isfinite(bv));
        CHECK(stopped_at == 0); /* patience 50: never stops */
        CHECK((access(rp, F_OK) == 0) == resumable);
        int ep = 0;
        int64_t st = 0;
        const char *kept = ic_fit_last_checkpoint(f, &ep, &st);
        CHECK(resumable ? kept && !strcmp(kept, ck) && ep == 3 : !kept);
        ic_fit_free(f);
        ic_model_free(m);
        data_close(&d);
    }
    /* a bad call frees the callbacks handed over */
    ic_callback owned = {.name = "owned", .free = own_free};
    CHECK(ic_fit_add_callbacks(NULL, NULL, &owned, 1) == IC_ERR_INVALID);
    CHECK(own_freed == 1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ic_test_engine.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_monitor_rules();
    test_restore_best_weights();
    test_resume_exact();
    test_nan_and_errors();
    test_standard_callbacks();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        return 1;
    return t_finish();
}
