/* train_run.c - the parts `imgclass train` and `imgclass finetune` share (see
 * train_run.h): data, pretrained weights, and the run itself, which is the library's
 * training engine (ic_fit, fit.h) with the command's callbacks: Keras's progress bar, the
 * collapse warning and the messages. --resume is in train_resume.c, the options in
 * train_opts.c. */
#define _XOPEN_SOURCE 700 /* SA_RESTART, SA_RESETHAND */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"
#include "train_run.h"

/* ---------------------------------------------------------------- small helpers ---- */

const char *tr_commas(int64_t v, char *buf, size_t size)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    size_t k = 0;
    if (v < 0 && k + 1 < size)
        buf[k++] = '-';
    for (int i = 0; i < n && k + 1 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && k + 1 < size)
            buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = '\0';
    return buf;
}

/* Paths next to -o OUT: STEM + suffix ("m.h5" + ".history.csv" -> "m.history.csv"), and
 * where the checkpoint model goes (OUT, or STEM.last.h5 with --save-best). */
static void tr_stem_path(const char *out, const char *suffix, char *buf, size_t size)
{
    size_t n = strlen(out);
    if (n > 3 && !strcmp(out + n - 3, ".h5"))
        n -= 3;
    snprintf(buf, size, "%.*s%s", (int)n, out, suffix);
}

void tr_record_path(const char *out, char *buf, size_t size)
{
    snprintf(buf, size, "%s.ckpt.json", out);
}

static void tr_ckpt_model_path(const tr_opts *o, char *buf, size_t size)
{
    if (o->save_best != TR_BEST_NONE)
        tr_stem_path(o->out, ".last.h5", buf, size);
    else
        snprintf(buf, size, "%s", o->out);
}

int tr_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------- data ---- */

int tr_data_open(const tr_opts *o, int64_t h, int64_t w, const char *const *classes, int n_classes,
                 const ic_image_data_generator *gtrain, const ic_image_data_generator *gval,
                 int shuffle_train, tr_data *d)
{
    ic_flow_opts f = ic_flow_opts_default();
    f.target_h = h;
    f.target_w = w;
    f.batch_size = o->batch;
    f.shuffle = shuffle_train;
    f.seed = o->seed;
    f.classes = classes;
    f.n_classes = n_classes;
    /* Unset: the library's default, half the compute threads. 0: loaded between steps by
     * the step's own threads, which measured slightly slower on 2 cores than one worker
     * (docs/performance.md). */
    f.threads = o->workers > 0 ? (int)o->workers : o->workers == 0 ? IC_FLOW_INLINE : 0;
    f.interpolation = o->interpolation;
    ic_status s = ic_flow_train_val(d, o->data_dir, gtrain, gval, &f);
    if (s)
        return ic_cli_fail(o->cmd, s);
    if (d->n_classes > 256) { /* the commands keep the class names in arrays of 256 */
        fprintf(stderr, "imgclass %s: %d classes: at most 256 are supported\n", o->cmd,
                d->n_classes);
        ic_train_val_free(d);
        return 1;
    }
    char buf[160];
    printf("%s\n", ic_dir_iterator_found(d->train, buf, sizeof buf));
    printf("%s\n", ic_dir_iterator_found(d->val, buf, sizeof buf));
    fflush(stdout);
    return 0;
}

/* ---------------------------------------------------------------- base weights ---- */

int tr_load_base_weights(const tr_opts *o, ic_model *base, const char *name, double alpha,
                         int64_t rows)
{
    char path[4096];
    ic_status s = ic_app_load_weights(base, name, (float)alpha, rows,
                                      o->weights ? o->weights : "imagenet", path, sizeof path);
    if (s && !strncmp(ic_errmsg(), "cannot get the ImageNet weights", 31)) {
        char wname[96] = "";
        ic_app_weights_name(name, (float)alpha, rows, wname, sizeof wname);
        fprintf(stderr, "imgclass %s: %s (download them with 'imgclass weights fetch %s', or give "
                "--weights FILE or --weights none)\n", o->cmd, ic_errmsg(), wname);
        return 1;
    }
    if (s)
        return ic_cli_fail(o->cmd, s);
    if (path[0])
        printf("Loaded %s weights from %s\n", name, path);
    return 0;
}

/* ---------------------------------------------------------------- signals ---- */

void tr_note_previous_run(const tr_opts *o)
{
    char p[4096];
    tr_record_path(o->out, p, sizeof p);
    if (access(p, F_OK) == 0)
        fprintf(stderr,
                "note: %s records an earlier run; this new run replaces it after its first "
                "epoch (add --resume to continue that run instead)\n",
                p);
}

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    static const char msg[] = "\nstopping after this step (press Ctrl-C again to abort "
                              "without saving)\n";
    if (!g_signal) {
        g_signal = sig;
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
    }
}

/* The first SIGINT / SIGTERM sets the flag; the handler is then reset, so a second one
 * ends the process at once. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void restore_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

/* The command line again, with --resume, shell-quoted where needed. */
static void tr_resume_command(int argc, char **argv, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "imgclass");
    int has_resume = 0;
    for (int i = 0; i < argc && n < size; i++) {
        const char *a = argv[i];
        has_resume |= !strcmp(a, "--resume");
        int plain = *a != '\0';
        for (const char *c = a; *c && plain; c++)
            plain =
                strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
                       *c) != NULL;
        if (plain) {
            n += (size_t)snprintf(buf + n, size - n, " %s", a);
            continue;
        }
        n += (size_t)snprintf(buf + n, size - n, " '");
        for (const char *c = a; *c && n + 5 < size; c++) {
            if (*c == '\'')
                n += (size_t)snprintf(buf + n, size - n, "'\\''");
            else
                buf[n++] = *c, buf[n] = '\0';
        }
        if (n < size)
            n += (size_t)snprintf(buf + n, size - n, "'");
    }
    if (!has_resume && n < size)
        snprintf(buf + n, size - n, " --resume");
}

/* ---------------------------------------------------------------- the run ---- */

/* The command's callback: the progress bar, bad-file counts and the collapse warning. */
typedef struct cli_cb {
    tr_job *j;
    ic_cli_progress pb;
    char record[4096]; /* an earlier run's record, removed at the first epoch of a run that
                          cannot resume (it no longer matches the model file) */
} cli_cb;

static int64_t take_skipped(const tr_job *j)
{
    return ic_dir_iterator_take_replaced(j->train_it) + ic_dir_iterator_take_replaced(j->val_it);
}

static ic_status cli_epoch_begin(void *self, ic_fit *f, const ic_fit_logs *l)
{
    cli_cb *c = self;
    (void)f;
    ic_cli_progress_epoch(&c->pb, l->epoch, l->epochs, l->steps, l->first_step);
    return IC_OK;
}

static ic_status cli_step_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    cli_cb *c = self;
    (void)f;
    ic_cli_progress_step(&c->pb, l->step, l->loss, l->acc);
    return IC_OK;
}

static ic_status cli_epoch_end(void *self, ic_fit *f, const ic_fit_logs *l)
{
    cli_cb *c = self;
    (void)f;
    ic_cli_progress_end(&c->pb, l->loss, l->acc, l->val.loss, l->val.acc,
                        c->j->train_it ? take_skipped(c->j) : 0);
    if (c->record[0]) {
        unlink(c->record);
        c->record[0] = '\0';
    }
    return IC_OK;
}

static ic_status cli_interrupt(void *self, ic_fit *f, const ic_fit_logs *l)
{
    cli_cb *c = self;
    (void)f, (void)l;
    ic_cli_progress_break(&c->pb);
    return IC_OK;
}

static void cli_train_end(void *self, ic_fit *f, ic_status result)
{
    cli_cb *c = self;
    (void)f;
    if (result)
        ic_cli_progress_break(&c->pb);
}

/* One line when the model has collapsed to one output: what was seen, and the usual cure. */
static void collapse_note(void *user, int epoch, ic_collapse c, const ic_collapse_watch *cw)
{
    const tr_opts *o = user;
    char seen[160];
    if (c == IC_COLLAPSE_CONSTANT)
        snprintf(seen, sizeof seen, "the model gives every validation image the same output");
    else
        snprintf(seen, sizeof seen,
                 "val_acc has stayed at the majority-class rate (%.4f) and the loss has not "
                 "moved for %d epochs",
                 cw->majority_rate, IC_COLLAPSE_EPOCHS);
    printf("warning: epoch %d: %s: training has collapsed; try a lower --lr (this run: %g, "
           "e.g. %g)\n",
           epoch, seen, o->lr, o->lr / 10);
    fflush(stdout);
}

/* The record's extra: the command and every invocation's arguments, in order: the first
 * run's, then each --resume's (so that a resumed run is checked against all of them). */
static char *record_extra(const tr_job *j, const ic_fit_record *rec)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "command", j->o->cmd);
    cJSON *args = cJSON_AddArrayToObject(r, "args");
    cJSON *prev = rec && ic_fit_record_extra(rec) ? cJSON_Parse(ic_fit_record_extra(rec)) : NULL;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(prev, "args"))
        cJSON_AddItemToArray(args, cJSON_Duplicate(it, 1));
    cJSON_Delete(prev);
    cJSON *now = cJSON_CreateArray();
    for (int i = 1; i < j->argc; i++)
        if (strcmp(j->argv[i], "--resume"))
            cJSON_AddItemToArray(now, cJSON_CreateString(j->argv[i]));
    cJSON_AddItemToArray(args, now);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

/* The run's error, said in the command's words, with what was kept. Returns the exit
 * status. */
static int report(const tr_job *j, const ic_fit *f, ic_status s, const char *ckpt)
{
    const tr_opts *o = j->o;
    int epoch = 0;
    int64_t step = 0;
    const char *kept = ic_fit_last_checkpoint(f, &epoch, &step);
    if (!kept && !j->can_resume && ic_fit_epochs_done(f) > 0) { /* saved every epoch */
        kept = ckpt;
        epoch = ic_fit_epochs_done(f);
    }
    if (s == IC_ERR_CANCELLED && g_signal) {
        int code = g_signal == SIGTERM ? 143 : 130;
        if (j->can_resume) {
            char cmdline[8192];
            tr_resume_command(j->argc, j->argv, cmdline, sizeof cmdline);
            fprintf(stderr, "imgclass %s: %s; resume with: %s\n", o->cmd, ic_errmsg(), cmdline);
        } else if (kept) {
            fprintf(stderr,
                    "imgclass %s: %s; %s holds the model after epoch %d (--cache-features runs "
                    "cannot be resumed: run again)\n",
                    o->cmd, ic_errmsg(), kept, epoch);
        } else {
            fprintf(stderr, "imgclass %s: %s; nothing was saved\n", o->cmd, ic_errmsg());
        }
        return code;
    }
    if (s != IC_ERR_NUMERIC) {
        fprintf(stderr, "imgclass %s: %s\n", o->cmd, *ic_errmsg() ? ic_errmsg() : ic_status_str(s));
        return 1;
    }
    char pos[64] = "";
    if (step)
        snprintf(pos, sizeof pos, " step %lld", (long long)step);
    if (kept)
        fprintf(stderr,
                "imgclass %s: %s; stopped, the last good checkpoint (after epoch %d%s) is kept "
                "in %s\n",
                o->cmd, ic_errmsg(), epoch + (step > 0), pos, kept);
    else
        fprintf(stderr, "imgclass %s: %s; stopped, nothing was saved\n", o->cmd, ic_errmsg());
    return 1;
}

int tr_run(tr_job *j, const ic_fit_record *rec)
{
    const tr_opts *o = j->o;
    const char *cmd = o->cmd;
    /* compile set it already, but a checkpoint loaded by --resume comes back in fp32 */
    ic_status s = ic_cli_set_precision(j->model, o->precision);
    if (s)
        return ic_cli_fail(cmd, s);
    printf("Precision: %s\n", ic_cli_precision_str(j->model, o->precision));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = (int)o->epochs;
    fo.steps_per_epoch = j->steps;
    fo.validation_steps = j->vsteps;
    fo.cancel = &g_signal;
    ic_fit *f = NULL;
    cli_cb cc = {.j = j};
    ic_cli_progress_init(&cc.pb, stdout, -1);
    char ckpt[4096], hcsv[4096], hjson[4096], record[4096];
    tr_ckpt_model_path(o, ckpt, sizeof ckpt);
    tr_stem_path(o->out, ".history.csv", hcsv, sizeof hcsv);
    tr_stem_path(o->out, ".history.json", hjson, sizeof hjson);
    tr_record_path(o->out, record, sizeof record);
    int best_epoch = 0, stopped_at = 0, es_epoch = 0;
    double best = NAN;
    ic_monitor mon = o->save_best == TR_BEST_VAL_ACC ? IC_MONITOR_VAL_ACC : IC_MONITOR_VAL_LOSS;
    char *extra = j->can_resume ? record_extra(j, rec) : NULL;
    if (j->can_resume && !extra)
        return ic_cli_fail(cmd, IC_ERR_NOMEM);
    /* the library's standard set with the command's own: the progress bar, the collapse
     * warning */
    ic_callback own[2] = {{.name = "progress", .self = &cc, .on_epoch_begin = cli_epoch_begin,
                           .on_step_end = cli_step_end, .on_epoch_end = cli_epoch_end,
                           .on_interrupt = cli_interrupt, .on_train_end = cli_train_end}};
    ic_fit_callbacks fc = {.history_csv = hcsv, .history_json = hjson, .monitor = mon,
                           .best_path = o->save_best != TR_BEST_NONE ? o->out : NULL,
                           .patience = (int)o->patience,
                           .ckpt = {ckpt, j->meta, j->save, j->save_user},
                           .record_path = j->can_resume ? record : NULL, .extra = extra,
                           .best_epoch = &best_epoch, .best = &best, .stopped_at = &stopped_at,
                           .es_best_epoch = &es_epoch};
    if (!(s = ic_fit_create(&f, j->model, &j->train, &j->val, &fo)) &&
        !(s = ic_callback_collapse_watch(&own[1], j->majority_rate, collapse_note, (void *)o)))
        s = ic_fit_add_callbacks(f, &fc, own, 2);
    if (!s && !j->can_resume && access(record, F_OK) == 0)
        snprintf(cc.record, sizeof cc.record, "%s", record);
    cJSON_free(extra);
    if (!s && rec && (s = ic_fit_restore(f, rec))) {
        fprintf(stderr, "imgclass %s: --resume: %s\n", cmd, ic_errmsg());
        ic_fit_free(f);
        return 1;
    }
    if (s) {
        ic_fit_free(f);
        return ic_cli_fail(cmd, s);
    }
    const char *cut = ic_fit_validation_cache(f);
    if (cut && *cut)
        printf("Validation: base activations at '%s' computed once (frozen up to there)\n", cut);
    else if (!cut)
        printf("Validation: base features computed once (base frozen)\n");
    fflush(stdout);
    g_signal = 0;
    install_signals();
    take_skipped(j); /* count from here */
    s = ic_fit_run(f);
    fflush(stdout);
    restore_signals();
    int rc = s ? report(j, f, s, ckpt) : 0;
    if (!s) {
        const char *m = ic_monitor_name(mon);
        if (stopped_at)
            printf("Epoch %d: early stopping (%s has not improved for %d epochs since epoch %d)\n",
                   stopped_at, m, stopped_at - es_epoch, es_epoch);
        if (o->save_best != TR_BEST_NONE) {
            if (best_epoch > 0)
                printf("Best epoch %d (%s %.4f) saved in %s; the last epoch's checkpoint is %s\n",
                       best_epoch, m, best, o->out, ckpt);
            else
                printf("No epoch had a finite %s: %s was not written; the last epoch's "
                       "checkpoint is %s\n",
                       m, o->out, ckpt);
        } else {
            printf("Saved %s (epoch %d)\n", o->out, ic_fit_epochs_done(f));
        }
        printf("History: %s, %s\n", hcsv, hjson);
    }
    fflush(stdout);
    ic_fit_free(f);
    return rc;
}

int tr_run_on_data(const tr_opts *o, int argc, char **argv, ic_model *m, const ic_model_meta *meta,
                   tr_data *d, const ic_fit_record *rec)
{
    tr_job j = {.o = o, .argc = argc, .argv = argv, .model = m, .train_it = d->train,
                .val_it = d->val, .train = ic_dir_iterator_source(d->train),
                .val = ic_dir_iterator_source(d->val), .meta = meta, .can_resume = 1,
                .majority_rate = ic_dir_iterator_majority_rate(d->val)};
    j.steps = o->steps > 0 ? o->steps : j.train.ops->length(j.train.self);
    j.vsteps = o->vsteps > 0 ? o->vsteps : j.val.ops->length(j.val.self);
    char a[32], b[32];
    printf("Trainable params: %s of %s\n",
           tr_commas(ic_model_count_trainable_params(m), a, sizeof a),
           tr_commas(ic_model_count_params(m), b, sizeof b));
    fflush(stdout);
    return tr_run(&j, rec);
}

int tr_model_load(const tr_opts *o, const char *path, const char *hint, ic_model **m,
                  ic_model_meta *meta)
{
    *m = NULL;
    memset(meta, 0, sizeof *meta);
    ic_status s = ic_model_load(m, path, meta);
    if (s)
        return ic_cli_fail(o->cmd, s);
    if (meta->n_classes < 2 || meta->target_h < 1 || meta->target_w < 1) {
        fprintf(stderr, "imgclass %s: %s has no class names or input size (%s)\n", o->cmd, path,
                hint);
        return 1;
    }
    return 0;
}

int tr_run_on_meta(tr_opts *o, int argc, char **argv, ic_model *m, const ic_model_meta *meta,
                   const ic_fit_record *rec)
{
    o->th = meta->target_h;
    o->tw = meta->target_w;
    o->rescale = meta->rescale;
    o->rescale_given = 1;
    o->preprocess = meta->preprocess;
    o->interpolation = (ic_interpolation)meta->interpolation;
    ic_image_data_generator gt = tr_generator(o, 1), gv = tr_generator(o, 0);
    tr_data d;
    int rc = tr_data_open(o, meta->target_h, meta->target_w, (const char *const *)meta->class_names,
                          meta->n_classes, &gt, &gv, 1, &d);
    if (!rc)
        rc = tr_run_on_data(o, argc, argv, m, meta, &d, rec);
    ic_train_val_free(&d);
    return rc;
}

/* --resume, both commands: loads the checkpoint model the record names (compiled, with its
 * optimizer state and meta), opens the data as the meta says and continues. Frees rec.
 * Returns the exit status. */
static int tr_resume_run(tr_opts *o, int argc, char **argv, ic_fit_record *rec)
{
    ic_model *m;
    ic_model_meta meta;
    int rc = tr_model_load(o, ic_fit_record_model(rec), "not an imgclass model file?", &m, &meta);
    if (!rc)
        rc = tr_run_on_meta(o, argc, argv, m, &meta, rec);
    ic_model_free(m);
    ic_model_meta_free(&meta);
    ic_fit_record_free(rec);
    return rc;
}

/* ---------------------------------------------------------------- the commands ---- */

int tr_main(tr_kind kind, int argc, char **argv, void (*help)(void), tr_fresh_fn fresh, void *user)
{
    tr_opts o;
    tr_opts_init(&o, kind);
    int rc = tr_parse(&o, argc, argv, 1);
    if (rc < 0) {
        help();
        return 0;
    }
    if (rc)
        return rc;
    if (o.resume) {
        if (!o.out)
            return ic_cli_usage_error(o.cmd, "--resume needs -o %s of the run to resume",
                                      kind == TR_FINETUNE ? "FT.h5" : "MODEL.h5");
        if (o.cache_features) /* tr_check says why that cannot resume */
            return tr_check(&o);
        ic_fit_record *rec;
        if ((rc = tr_resume_load(&o, argc, argv, &rec)) || !rec) {
            tr_opts_release(&o);
            return rc;
        }
        if (!(rc = tr_check(&o))) {
            /* the model file holds the run's learning rate and its meta the preprocessing */
            tr_resolve_defaults(&o);
            ic_set_random_seed(o.seed);
            rc = tr_resume_run(&o, argc, argv, rec); /* frees rec */
        } else
            ic_fit_record_free(rec);
        tr_opts_release(&o);
        return rc;
    }
    if ((rc = tr_check(&o)))
        return rc;
    tr_resolve_defaults(&o);
    tr_print_defaults(&o, stdout);
    ic_set_random_seed(o.seed);
    return fresh(&o, argc, argv, user);
}
