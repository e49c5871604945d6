/* train_run.c - the parts `imgclass train` and `imgclass finetune` share (see
 * train_run.h): data, the training loop, checkpoints and --resume (the options are
 * in train_opts.c).
 *
 * The loop is written here with ic_model_train_on_batch and ic_model_evaluate rather than
 * ic_model_fit, because an interrupted epoch must resume exactly: the checkpoint records
 * the running sums of the epoch (loss * batch size, acc * batch size, samples), and a
 * resumed run continues those sums, so the history is the same, bit for bit, as without
 * the interruption. Per epoch it does what ic_model_fit does (Keras 2.2.4 fit_generator):
 * steps_per_epoch training steps, then validation_steps batches in inference mode, epoch
 * values as batch-size-weighted means. */
#define _XOPEN_SOURCE 700 /* SA_RESTART, SA_RESETHAND */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "io/io_impl.h"
#include "progress.h"
#include "train_run.h"
#include "val_cache.h"

#define CKPT_FORMAT 1

/* ---------------------------------------------------------------- small helpers ---- */

ic_model *tr_nested_model(ic_layer *l) { return ic_layer_inner_model(l); }

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

/* OUT without a trailing ".h5" plus suffix: "m.h5" + ".history.csv" -> "m.history.csv". */
static void stem_path(const char *out, const char *suffix, char *buf, size_t size)
{
    size_t n = strlen(out);
    if (n > 3 && !strcmp(out + n - 3, ".h5"))
        n -= 3;
    snprintf(buf, size, "%.*s%s", (int)n, out, suffix);
}

static void ckpt_json_path(const char *out, char *buf, size_t size)
{
    snprintf(buf, size, "%s.ckpt.json", out);
}

/* Where the checkpoint model goes: OUT, or STEM.last.h5 with --save-best. */
static void ckpt_model_path(const tr_opts *o, char *buf, size_t size)
{
    if (o->save_best != TR_BEST_NONE)
        stem_path(o->out, ".last.h5", buf, size);
    else
        snprintf(buf, size, "%s", o->out);
}

/* Writes text to path atomically through the library's crash-safe writer (io/atomic.c:
 * a temporary file in the same directory, fsync, rename, fsync of the directory).
 * Returns 0, or -1 with the reason in ic_errmsg(). */
static int write_atomic(const char *path, const char *text)
{
    ic__atomic_file af;
    if (ic__atomic_begin(&af, path, 1) != IC_OK)
        return -1;
    size_t len = strlen(text);
    if (fwrite(text, 1, len, af.fp) != len) {
        ic_seterr(IC_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
        ic__atomic_abort(&af);
        return -1;
    }
    return ic__atomic_commit(&af) == IC_OK ? 0 : -1;
}

/* The staged checkpoint: "<dir>/.<name>.next", complete (ic_model_save is atomic) before
 * the checkpoint record names it and it is renamed to <name>. */
static void staged_path(const char *ckpt, char *buf, size_t size)
{
    const char *slash = strrchr(ckpt, '/');
    if (slash)
        snprintf(buf, size, "%.*s/.%s.next", (int)(slash - ckpt), ckpt, slash + 1);
    else
        snprintf(buf, size, ".%s.next", ckpt);
}

/* fsync of the folder holding path, so a rename in it is durable (best effort). */
static void sync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!dir[0])
        snprintf(dir, sizeof dir, "/");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int tr_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------- data ---- */

static int open_flow(const tr_opts *o, const char *dir, int shuffle, int64_t h, int64_t w,
                     const char *const *classes, int n_classes, ic_class_mode mode,
                     const ic_image_data_generator *g, ic_dir_iterator **it)
{
    ic_flow_opts f = ic_flow_opts_default();
    f.target_h = h;
    f.target_w = w;
    f.class_mode = mode;
    f.batch_size = o->batch;
    f.shuffle = shuffle;
    f.has_seed = 1;
    f.seed = o->seed;
    f.classes = classes;
    f.n_classes = n_classes;
    /* Default: half the compute threads, at least 1. The workers share the cores with the
     * training step, and one worker on 2 cores still decodes and augments ~1,000 images/s,
     * far above what a step consumes: with 2 workers the seed's VGG16 feature-extraction
     * epoch took 44-46 s, with 1 worker 42 s (docs/performance.md). Batches do not depend
     * on the number of workers. */
    int nt = ic_num_threads();
    f.threads = o->workers ? (int)o->workers : nt > 1 ? nt / 2 : 1;
    f.interpolation = o->interpolation;
    ic_status s = ic_flow_from_directory(it, dir, g, &f);
    if (s)
        return ic_cli_fail(o->cmd, s);
    if (ic_dir_iterator_samples(*it) == 0) {
        fprintf(stderr, "imgclass %s: no images (JPEG/PNG) in the class folders of %s\n", o->cmd,
                dir);
        ic_dir_iterator_free(*it);
        *it = NULL;
        return 1;
    }
    return 0;
}

int tr_data_open(const tr_opts *o, int64_t h, int64_t w, const char *const *classes, int n_classes,
                 const ic_image_data_generator *gtrain, const ic_image_data_generator *gval,
                 int shuffle_train, tr_data *d)
{
    memset(d, 0, sizeof *d);
    char tdir[4096], vdir[4096];
    snprintf(tdir, sizeof tdir, "%s/train", o->data_dir);
    snprintf(vdir, sizeof vdir, "%s/validation", o->data_dir);
    if (!tr_is_dir(o->data_dir)) {
        fprintf(stderr, "imgclass %s: %s: no such directory\n", o->cmd, o->data_dir);
        return 1;
    }
    const char *missing = !tr_is_dir(tdir) ? tdir : !tr_is_dir(vdir) ? vdir : NULL;
    if (missing) {
        fprintf(stderr,
                "imgclass %s: %s: no such directory (DATA_DIR must hold train/ and "
                "validation/, each with one folder per class)\n",
                o->cmd, missing);
        return 1;
    }
    /* Two classes: labels 0/1 (B, 1) for the sigmoid unit; more: one-hot for softmax.
     * Unknown yet (train): scan with sparse labels, which are the binary ones for two
     * classes, and open again with one-hot labels if there are more. */
    ic_class_mode mode =
        classes ? (n_classes == 2 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL) : IC_CLASS_SPARSE;
    int rc = open_flow(o, tdir, shuffle_train, h, w, classes, n_classes, mode, gtrain, &d->train);
    if (rc)
        return rc;
    int k = ic_dir_iterator_num_classes(d->train);
    if (k < 2) {
        fprintf(stderr,
                "imgclass %s: %s has %d class folder; a classifier needs at least 2 (one folder "
                "per class)\n",
                o->cmd, tdir, k);
        tr_data_close(d);
        return 1;
    }
    if (!classes && k > 2) {
        ic_dir_iterator_free(d->train);
        d->train = NULL;
        if ((rc = open_flow(o, tdir, shuffle_train, h, w, NULL, 0, IC_CLASS_CATEGORICAL, gtrain,
                            &d->train)))
            return rc;
    }
    d->n_classes = k;
    char buf[160];
    printf("%s\n", ic_dir_iterator_found(d->train, buf, sizeof buf));
    /* validation: the training classes, in the training order */
    const char *names[256];
    const char *const *vclasses = classes;
    if (!classes) {
        if (k > (int)(sizeof names / sizeof names[0])) {
            fprintf(stderr, "imgclass %s: %d classes: at most 256 are supported\n", o->cmd, k);
            tr_data_close(d);
            return 1;
        }
        for (int i = 0; i < k; i++)
            names[i] = ic_dir_iterator_class_name(d->train, i);
        vclasses = names;
    }
    mode = k == 2 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    /* Validation shuffles too, as the seed's flow_images_from_directory does by default:
     * with --validation-steps shorter than a pass, an in-order iterator would see only
     * the first class. */
    if ((rc = open_flow(o, vdir, 1, h, w, vclasses, k, mode, gval, &d->val))) {
        tr_data_close(d);
        return rc;
    }
    printf("%s\n", ic_dir_iterator_found(d->val, buf, sizeof buf));
    fflush(stdout);
    return 0;
}

void tr_data_close(tr_data *d)
{
    ic_dir_iterator_free(d->train);
    ic_dir_iterator_free(d->val);
    d->train = d->val = NULL;
}

double tr_majority_rate_iterator(const ic_dir_iterator *it)
{
    int64_t n = ic_dir_iterator_samples(it), count[256] = {0}, best = 0;
    int k = ic_dir_iterator_num_classes(it);
    for (int64_t i = 0; i < n; i++) {
        int c = ic_dir_iterator_label(it, i);
        if (c >= 0 && c < k && c < 256 && ++count[c] > best)
            best = count[c];
    }
    return n > 0 ? (double)best / (double)n : 0;
}

double tr_majority_rate_tensor(const ic_tensor *y)
{
    int64_t n = ic_tensor_dim(y, 0), k = ic_tensor_dim(y, 1), count[256] = {0}, best = 0;
    const float *d = ic_tensor_cdata(y);
    if (n < 1 || k < 1 || k > 256)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        if (k == 1)
            c = d[i] > 0.5f;
        else
            for (int64_t u = 1; u < k; u++)
                c = d[i * k + u] > d[i * k + c] ? u : c;
        if (++count[c] > best)
            best = count[c];
    }
    return (double)best / (double)n;
}

/* ---------------------------------------------------------------- base weights ---- */

/* Keras's name of the no-top weights for a base at this input size. */
static int weights_name(const char *base, double alpha, int64_t rows, char *buf, size_t size)
{
    if (strcmp(base, "mobilenet_v2")) {
        snprintf(buf, size, "%s_notop", base);
        return 0;
    }
    static const struct {
        double a;
        const char *s;
    } alphas[] = {{0.35, "0.35"}, {0.5, "0.5"}, {0.75, "0.75"},
                  {1.0, "1.0"},   {1.3, "1.3"}, {1.4, "1.4"}};
    const char *as = NULL;
    double a = alpha > 0 ? alpha : 1.0;
    for (size_t i = 0; i < sizeof alphas / sizeof alphas[0]; i++)
        if (fabs(alphas[i].a - a) < 1e-9)
            as = alphas[i].s;
    if (!as)
        return -1;
    /* keras.applications: rows other than 96/128/160/192/224 load the 224 weights */
    int64_t r = rows;
    if (r != 96 && r != 128 && r != 160 && r != 192 && r != 224)
        r = 224;
    snprintf(buf, size, "mobilenet_v2_%s_%lld_notop", as, (long long)r);
    return 0;
}

int tr_load_base_weights(const tr_opts *o, ic_model *base, const char *name, double alpha,
                         int64_t rows)
{
    const char *w = o->weights ? o->weights : "imagenet";
    if (!strcmp(w, "none"))
        return 0;
    char path[4096];
    if (!strcmp(w, "imagenet")) {
        char wname[96];
        if (weights_name(name, alpha, rows, wname, sizeof wname) || !ic_weights_find(wname)) {
            fprintf(stderr, "imgclass %s: no ImageNet weights known for %s (alpha %g)\n", o->cmd,
                    name, alpha > 0 ? alpha : 1.0);
            return 1;
        }
        ic_status s = ic_weights_fetch(wname, NULL, NULL, NULL, path, sizeof path);
        if (s) {
            fprintf(stderr,
                    "imgclass %s: cannot get the ImageNet weights %s: %s (download them with "
                    "'imgclass weights fetch %s', or give --weights FILE or --weights none)\n",
                    o->cmd, wname, *ic_errmsg() ? ic_errmsg() : ic_status_str(s), wname);
            return 1;
        }
    } else {
        snprintf(path, sizeof path, "%s", w);
    }
    ic_load_weights_opts lo = ic_load_weights_opts_default();
    ic_status s = ic_model_load_weights(base, path, &lo);
    if (s) {
        fprintf(stderr, "imgclass %s: loading weights into %s: %s\n", o->cmd, name,
                *ic_errmsg() ? ic_errmsg() : ic_status_str(s));
        return 1;
    }
    printf("Loaded %s weights from %s\n", name, path);
    return 0;
}

/* ---------------------------------------------------------------- run state ---- */

struct tr_state {
    int epochs_done;     /* complete epochs */
    int64_t step;        /* steps done in epoch epochs_done + 1 (interrupted epoch) */
    double sl, sa;       /* its running sums: loss * batch, acc * batch */
    int64_t seen;        /* and samples */
    int64_t train_batch; /* batches taken from the training iterator */
    int64_t val_batch;   /* ... and from the validation iterator */
    int64_t steps, vsteps;
    double best; /* --save-best: best value so far (best_epoch 0: none yet) */
    int best_epoch;
    double es_best; /* --early-stopping: best monitored value and the epochs since */
    int es_epoch, wait;
    int stopped_early;
    int has_ckpt;      /* a checkpoint of this run exists on disk: */
    int ckpt_epoch;    /* its complete epochs */
    int64_t ckpt_step; /* and steps into the next one */
    ic_history *hist;
    cJSON *root; /* the record read by --resume (owns the stored arguments) */
    char ckpt_model[4096];
};

void tr_state_free(tr_state *s)
{
    if (!s)
        return;
    ic_history_free(s->hist);
    cJSON_Delete(s->root);
    free(s);
}

void tr_note_previous_run(const tr_opts *o)
{
    char p[4096];
    ckpt_json_path(o->out, p, sizeof p);
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
static void resume_command(const tr_job *j, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "imgclass");
    int has_resume = 0;
    for (int i = 0; i < j->argc && n < size; i++) {
        const char *a = j->argv[i];
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

/* A number printed exactly (%.17g; cJSON's own printing may round the last digit); NaN and
 * Inf as null. */
static cJSON *exact(double v)
{
    char buf[40];
    if (!isfinite(v))
        return cJSON_CreateNull();
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static void add_exact(cJSON *o, const char *key, double v)
{
    cJSON_AddItemToObject(o, key, exact(v));
}

static cJSON *history_json(const ic_history *h)
{
    static const char *const keys[] = {"loss", "acc", "val_loss", "val_acc"};
    cJSON *o = cJSON_CreateObject();
    int n = ic_history_epochs(h);
    for (int k = 0; o && k < 4; k++) {
        const double *v = ic_history_metric(h, keys[k]);
        cJSON *a = cJSON_AddArrayToObject(o, keys[k]);
        for (int i = 0; a && v && i < n; i++)
            cJSON_AddItemToArray(a, exact(v[i]));
    }
    return o;
}

/* Writes OUT.ckpt.json for the checkpoint model just saved at ckpt. Returns 0 or 1. */
static int write_record(const tr_job *j, const tr_state *st, const char *ckpt,
                        const char *staged)
{
    const tr_opts *o = j->o;
    char path[4096], mt[48];
    ckpt_json_path(o->out, path, sizeof path);
    struct stat sb; /* rename keeps size and mtime: these become ckpt's */
    if (stat(staged, &sb) != 0) {
        fprintf(stderr, "imgclass %s: %s: %s\n", o->cmd, staged, strerror(errno));
        return 1;
    }
    snprintf(mt, sizeof mt, "%lld.%09ld", (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "format", CKPT_FORMAT);
    cJSON_AddStringToObject(r, "command", o->cmd);
    /* every invocation's arguments, in order: the first run's, then each --resume's */
    cJSON *args = cJSON_AddArrayToObject(r, "args");
    cJSON *prev = st->root ? cJSON_GetObjectItemCaseSensitive(st->root, "args") : NULL;
    cJSON *it;
    cJSON_ArrayForEach(it, prev) cJSON_AddItemToArray(args, cJSON_Duplicate(it, 1));
    cJSON *now = cJSON_CreateArray();
    for (int i = 1; i < j->argc; i++)
        if (strcmp(j->argv[i], "--resume"))
            cJSON_AddItemToArray(now, cJSON_CreateString(j->argv[i]));
    cJSON_AddItemToArray(args, now);
    cJSON_AddStringToObject(r, "checkpoint", ckpt);
    cJSON_AddNumberToObject(r, "checkpoint_size", (double)sb.st_size);
    cJSON_AddStringToObject(r, "checkpoint_mtime", mt);
    cJSON_AddNumberToObject(r, "epochs_done", st->epochs_done);
    cJSON_AddNumberToObject(r, "step", (double)st->step);
    add_exact(r, "loss_sum", st->sl);
    add_exact(r, "acc_sum", st->sa);
    cJSON_AddNumberToObject(r, "seen", (double)st->seen);
    cJSON_AddNumberToObject(r, "train_batch", (double)st->train_batch);
    cJSON_AddNumberToObject(r, "val_batch", (double)st->val_batch);
    cJSON_AddNumberToObject(r, "steps_per_epoch", (double)st->steps);
    cJSON_AddNumberToObject(r, "validation_steps", (double)st->vsteps);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", o->seed);
    cJSON_AddStringToObject(r, "seed", seed);
    add_exact(r, "best", st->best);
    cJSON_AddNumberToObject(r, "best_epoch", st->best_epoch);
    add_exact(r, "es_best", st->es_best);
    cJSON_AddNumberToObject(r, "es_epoch", st->es_epoch);
    cJSON_AddNumberToObject(r, "wait", st->wait);
    cJSON_AddBoolToObject(r, "stopped_early", st->stopped_early);
    cJSON_AddItemToObject(r, "history", history_json(st->hist));
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    if (!text) {
        fprintf(stderr, "imgclass %s: out of memory writing %s\n", o->cmd, path);
        return 1;
    }
    int rc = write_atomic(path, text);
    cJSON_free(text);
    if (rc) {
        fprintf(stderr, "imgclass %s: cannot write the checkpoint record: %s\n", o->cmd,
                ic_errmsg());
        return 1;
    }
    return 0;
}

static int weights_finite(const ic_model *m)
{
    for (int i = 0; i < ic_model_num_weights(m); i++) {
        const ic_tensor *t = ic_model_weight(m, i, NULL);
        const float *d = ic_tensor_cdata(t);
        int64_t n = ic_tensor_numel(t);
        for (int64_t k = 0; k < n; k++)
            if (!isfinite(d[k]))
                return 0;
    }
    return 1;
}

static ic_status save_model(tr_job *j, const char *path, int checkpoint)
{
    if (j->save)
        return j->save(j, path, checkpoint);
    return ic_model_save(j->model, path, j->meta, 1);
}

/* Saves the checkpoint model and its record. Returns 0 or 1 (printed). */
static int checkpoint(tr_job *j, tr_state *st, const char *ckpt)
{
    const tr_opts *o = j->o;
    if (!weights_finite(j->model)) {
        fprintf(stderr, "imgclass %s: the weights contain NaN or Inf; not saving them (%s)\n",
                o->cmd, st->has_ckpt ? "the last good checkpoint is kept" : "nothing was saved");
        return 1;
    }
    if (j->can_resume) {
        /* Crash-safe pair: the model goes to a staged file, the record is written for it,
         * then the staged file is renamed over ckpt. A crash before the record leaves the
         * old pair; after it, --resume finds the staged file matching the record and
         * finishes the rename (see staged_path). */
        char staged[4200];
        staged_path(ckpt, staged, sizeof staged);
        ic_status s = save_model(j, staged, 1);
        if (s)
            return ic_cli_fail(o->cmd, s);
        int rc = write_record(j, st, ckpt, staged);
        if (!rc && rename(staged, ckpt) != 0) {
            fprintf(stderr, "imgclass %s: cannot rename %s to %s: %s\n", o->cmd, staged, ckpt,
                    strerror(errno));
            rc = 1;
        }
        if (rc)
            return 1;
        sync_dir_of(ckpt);
        st->has_ckpt = 1;
        st->ckpt_epoch = st->epochs_done;
        st->ckpt_step = st->step;
        return 0;
    }
    ic_status s = save_model(j, ckpt, 1);
    if (s)
        return ic_cli_fail(o->cmd, s);
    st->has_ckpt = 1;
    st->ckpt_epoch = st->epochs_done;
    st->ckpt_step = st->step;
    char rec[4096]; /* an earlier run's record no longer matches the model file */
    ckpt_json_path(o->out, rec, sizeof rec);
    unlink(rec);
    return 0;
}

/* Rewrites the library's "at train_on_batch step N" / "at evaluate step N" as the place
 * in this run (where NULL: msg says it already), then says what was kept. */
static void print_numeric(const tr_opts *o, const char *msg, const char *where, const tr_state *st,
                          const char *ckpt)
{
    const char *keys[] = {" at train_on_batch step ", " at evaluate step "};
    char fixed[2048];
    snprintf(fixed, sizeof fixed, where ? "%s at %s" : "%s", msg, where);
    for (int k = 0; where && k < 2; k++) {
        const char *p = strstr(msg, keys[k]);
        if (!p)
            continue;
        const char *q = p + strlen(keys[k]);
        while (*q >= '0' && *q <= '9')
            q++;
        snprintf(fixed, sizeof fixed, "%.*s at %s%s", (int)(p - msg), msg, where, q);
        break;
    }
    char pos[64] = "";
    if (st->ckpt_step)
        snprintf(pos, sizeof pos, " step %lld", (long long)st->ckpt_step);
    if (st->has_ckpt)
        fprintf(stderr,
                "imgclass %s: %s; stopped, the last good checkpoint (after epoch %d%s) "
                "is kept in %s\n",
                o->cmd, fixed, st->ckpt_epoch + (st->ckpt_step > 0), pos, ckpt);
    else
        fprintf(stderr, "imgclass %s: %s; stopped, nothing was saved\n", o->cmd, fixed);
}

static int interrupted(tr_job *j, tr_state *st, int epoch, int64_t step, const char *ckpt)
{
    const tr_opts *o = j->o;
    int sig = (int)g_signal;
    int code = sig == SIGTERM ? 143 : 130;
    if (!j->can_resume) {
        if (st->has_ckpt)
            fprintf(stderr,
                    "imgclass %s: interrupted after epoch %d step %lld; %s holds the model "
                    "after epoch %d (--cache-features runs cannot be resumed: run again)\n",
                    o->cmd, epoch, (long long)step, ckpt, st->epochs_done);
        else
            fprintf(stderr,
                    "imgclass %s: interrupted after epoch %d step %lld; nothing was saved\n",
                    o->cmd, epoch, (long long)step);
        return code;
    }
    char cmdline[8192];
    resume_command(j, cmdline, sizeof cmdline);
    fprintf(stderr, "imgclass %s: interrupted after epoch %d step %lld; resume with: %s\n", o->cmd,
            epoch, (long long)step, cmdline);
    return code;
}

static int improved(tr_best mode, double v, double best, int best_epoch)
{
    if (isnan(v))
        return 0;
    if (best_epoch == 0)
        return 1;
    return mode == TR_BEST_VAL_ACC ? v > best : v < best;
}

/* One line when the model has collapsed to one output: what was seen, and the usual cure. */
static void collapse_note(const tr_opts *o, ic_collapse_watch *cw, int epoch, double loss,
                          const ic_eval_result *vr)
{
    ic_collapse c = ic_collapse_watch_epoch(cw, loss, vr);
    if (c == IC_COLLAPSE_NONE)
        return;
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

/* ---------------------------------------------------------------- the loop ---- */

static int64_t take_skipped(tr_job *j)
{
    return ic_dir_iterator_take_replaced(j->train_it) + ic_dir_iterator_take_replaced(j->val_it);
}

int tr_run(tr_job *j, tr_state *rs)
{
    const tr_opts *o = j->o;
    const char *cmd = o->cmd;
    tr_state fresh;
    memset(&fresh, 0, sizeof fresh);
    tr_state *st = rs ? rs : &fresh;
    int rc = 0;
    /* compile set it already, but a checkpoint loaded by --resume comes back in fp32 */
    ic_status ps = ic_cli_set_precision(j->model, o->precision);
    if (ps)
        return ic_cli_fail(cmd, ps);
    printf("Precision: %s\n", ic_cli_precision_str(j->model, o->precision));
    if (!st->hist && ic_history_create(&st->hist, 1, 1) != IC_OK)
        return ic_cli_fail(cmd, IC_ERR_NOMEM);
    /* Validation on images through a frozen base: its features once, then the head only. */
    tr_vcache *vc = NULL;
    if (j->val_it) {
        ic_compile_opts co = tr_compile_opts(o, j->meta->n_classes);
        if ((vc = tr_vcache_create(j->model, &co, j->val_it))) {
            if (tr_vcache_cut(vc))
                printf("Validation: base activations at '%s' computed once (frozen up to "
                       "there)\n", tr_vcache_cut(vc));
            else
                printf("Validation: base features computed once (base frozen)\n");
        }
    }
    fflush(stdout);
    st->steps = j->steps;
    st->vsteps = j->vsteps;
    ic_collapse_watch cw = ic_collapse_watch_init(j->majority_rate);
    tr_best es_mode = o->save_best != TR_BEST_NONE ? o->save_best : TR_BEST_VAL_LOSS;

    char ckpt[4096], hcsv[4096], hjson[4096];
    ckpt_model_path(o, ckpt, sizeof ckpt);
    stem_path(o->out, ".history.csv", hcsv, sizeof hcsv);
    stem_path(o->out, ".history.json", hjson, sizeof hjson);

    ic_cli_progress pb;
    ic_cli_progress_init(&pb, stdout, -1);
    g_signal = 0;
    install_signals();
    take_skipped(j); /* count from here */
    char where[96];

    for (int e = st->epochs_done; e < o->epochs; e++) {
        ic_cli_progress_epoch(&pb, e + 1, (int)o->epochs, j->steps, st->step);
        for (int64_t s = st->step; s < j->steps; s++) {
            const ic_tensor *x = NULL, *y = NULL;
            ic_status err = j->train.ops->next(j->train.self, &x, &y);
            if (err) {
                ic_cli_progress_break(&pb);
                fprintf(stderr, "imgclass %s: epoch %d step %lld: reading the training batch: %s\n",
                        cmd, e + 1, (long long)s + 1,
                        *ic_errmsg() ? ic_errmsg() : ic_status_str(err));
                rc = 1;
                goto done;
            }
            st->train_batch++;
            double l = 0, a = 0;
            err = ic_model_train_on_batch(j->model, x, y, &l, &a);
            if (err) {
                ic_cli_progress_break(&pb);
                snprintf(where, sizeof where, "epoch %d step %lld", e + 1, (long long)s + 1);
                if (err == IC_ERR_NUMERIC)
                    print_numeric(o, ic_errmsg(), where, st, ckpt);
                else
                    fprintf(stderr, "imgclass %s: %s: %s\n", cmd, where,
                            *ic_errmsg() ? ic_errmsg() : ic_status_str(err));
                rc = 1;
                goto done;
            }
            if (!weights_finite(j->model)) {
                /* a NaN in a layer that ReLU clamps can leave the loss finite for a while */
                ic_cli_progress_break(&pb);
                char msg[160];
                snprintf(msg, sizeof msg,
                         "the weights became NaN or Inf at epoch %d step %lld (learning rate too "
                         "high?)",
                         e + 1, (long long)s + 1);
                print_numeric(o, msg, NULL, st, ckpt);
                rc = 1;
                goto done;
            }
            double b = (double)ic_tensor_dim(x, 0);
            st->sl += l * b;
            st->sa += a * b;
            st->seen += (int64_t)b;
            st->step = s + 1;
            ic_cli_progress_step(&pb, s + 1, st->sl / (double)st->seen, st->sa / (double)st->seen);
            if (g_signal && s + 1 < j->steps) {
                ic_cli_progress_break(&pb);
                if (j->can_resume && (rc = checkpoint(j, st, ckpt)))
                    goto done;
                rc = interrupted(j, st, e + 1, s + 1, ckpt);
                goto done;
            }
        }
        ic_eval_result vr;
        ic_status err = vc ? tr_vcache_evaluate(vc, &j->val, j->vsteps, &vr)
                           : ic_model_evaluate_ex(j->model, &j->val, j->vsteps, &vr);
        if (err) {
            ic_cli_progress_break(&pb);
            snprintf(where, sizeof where, "epoch %d validation", e + 1);
            if (err == IC_ERR_NUMERIC)
                print_numeric(o, ic_errmsg(), where, st, ckpt);
            else
                fprintf(stderr, "imgclass %s: %s: %s\n", cmd, where,
                        *ic_errmsg() ? ic_errmsg() : ic_status_str(err));
            rc = 1;
            goto done;
        }
        st->val_batch += j->vsteps;
        double vl = vr.loss, va = vr.acc;
        double loss = st->sl / (double)st->seen, acc = st->sa / (double)st->seen;
        if (ic_history_append(st->hist, loss, acc, vl, va) != IC_OK) {
            rc = ic_cli_fail(cmd, IC_ERR_NOMEM);
            goto done;
        }
        st->epochs_done = e + 1;
        st->step = 0;
        st->sl = st->sa = 0;
        st->seen = 0;
        ic_cli_progress_end(&pb, loss, acc, vl, va, j->train_it ? take_skipped(j) : 0);
        collapse_note(o, &cw, e + 1, loss, &vr);

        ic_status hs = ic_history_save_csv(st->hist, hcsv);
        if (!hs)
            hs = ic_history_save_json(st->hist, hjson);
        if (hs) {
            rc = ic_cli_fail(cmd, hs);
            goto done;
        }
        if (o->save_best != TR_BEST_NONE) {
            double v = o->save_best == TR_BEST_VAL_ACC ? va : vl;
            if (improved(o->save_best, v, st->best, st->best_epoch)) {
                if (!weights_finite(j->model)) {
                    fprintf(stderr, "imgclass %s: the weights contain NaN or Inf after epoch %d\n",
                            cmd, e + 1);
                    rc = 1;
                    goto done;
                }
                if ((hs = save_model(j, o->out, 0))) {
                    rc = ic_cli_fail(cmd, hs);
                    goto done;
                }
                st->best = v;
                st->best_epoch = e + 1;
            }
        }
        if (o->patience > 0) {
            double v = es_mode == TR_BEST_VAL_ACC ? va : vl;
            if (improved(es_mode, v, st->es_best, st->es_epoch)) {
                st->es_best = v;
                st->es_epoch = e + 1;
                st->wait = 0;
            } else {
                st->wait++;
            }
            st->stopped_early = st->wait >= o->patience && e + 1 < o->epochs;
        }
        if ((rc = checkpoint(j, st, ckpt)))
            goto done;
        if (st->stopped_early) {
            printf("Epoch %d: early stopping (%s has not improved for %d epochs since epoch %d)\n",
                   e + 1, es_mode == TR_BEST_VAL_ACC ? "val_acc" : "val_loss", st->wait,
                   st->es_epoch);
            break;
        }
        if (g_signal && e + 1 < o->epochs) {
            rc = interrupted(j, st, e + 1, j->steps, ckpt);
            goto done;
        }
    }
    if (o->save_best != TR_BEST_NONE) {
        if (st->best_epoch > 0)
            printf("Best epoch %d (%s %.4f) saved in %s; the last epoch's checkpoint is %s\n",
                   st->best_epoch, o->save_best == TR_BEST_VAL_ACC ? "val_acc" : "val_loss",
                   st->best, o->out, ckpt);
        else
            printf("No epoch had a finite %s: %s was not written; the last epoch's checkpoint "
                   "is %s\n",
                   o->save_best == TR_BEST_VAL_ACC ? "val_acc" : "val_loss", o->out, ckpt);
    } else {
        printf("Saved %s (epoch %d)\n", o->out, st->epochs_done);
    }
    printf("History: %s, %s\n", hcsv, hjson);
done:
    fflush(stdout);
    restore_signals();
    tr_vcache_free(vc);
    if (!rs) {
        ic_history_free(fresh.hist);
    }
    return rc;
}

/* ---------------------------------------------------------------- --resume ---- */

typedef struct sig_item {
    const char *flag;
    char val[160];
} sig_item;

/* The options that change the result of a run, as "flag = value" pairs. */
static int signature(const tr_opts *o, sig_item *it)
{
    int n = 0;
#define ITEM(f, ...) (it[n].flag = (f), snprintf(it[n].val, sizeof it[n].val, __VA_ARGS__), n++)
    ITEM("--model", "%s", o->model ? o->model : "");
    ITEM("--base", "%s", o->base ? o->base : "");
    ITEM("--alpha", "%.9g", o->alpha);
    ITEM("--weights", "%s", o->weights ? o->weights : "(default)");
    ITEM("--head", "%ld", o->head);
    ITEM("--pooling", "%d", (int)o->pooling);
    ITEM("--freeze-base", "%s", o->freeze < 0 ? "(default)" : o->freeze ? "yes" : "no");
    ITEM("--dropout", "%.9g", o->dropout);
    ITEM("--cache-features", "%d", o->cache_features);
    ITEM("--unfreeze-from", "%s", o->unfreeze_from ? o->unfreeze_from : "");
    ITEM("--base-layer", "%s", o->base_layer ? o->base_layer : "");
    ITEM("--freeze-bn", "%s", o->freeze_bn < 0 ? "(default)" : o->freeze_bn ? "yes" : "no");
    ITEM("--target-size", "%lldx%lld", (long long)o->th, (long long)o->tw);
    ITEM("--preprocess", "%d", (int)o->preprocess);
    ITEM("--interpolation", "%d", (int)o->interpolation);
    ITEM("--rescale", "%.9g%s", o->rescale, o->rescale_given ? "" : " (default)");
    ic_image_data_generator g = ic_cli_aug_generator(&o->aug);
    ITEM("augmentation options", "%g %g %g %g %g %g %d %d %d %g", g.rotation_range,
         g.width_shift_range, g.height_shift_range, g.shear_range, g.zoom_lo, g.zoom_hi,
         g.horizontal_flip, g.vertical_flip, (int)g.fill_mode, g.cval);
    ITEM("--optimizer", "%d", (int)o->opt);
    ITEM("--lr", "%.9g", o->lr);
    ITEM("--steps-per-epoch", "%ld", o->steps);
    ITEM("--validation-steps", "%ld", o->vsteps);
    ITEM("--batch-size", "%ld", o->batch);
    ITEM("--seed", "%llu", o->seed);
    ITEM("--save-best", "%d", (int)o->save_best);
#undef ITEM
    return n;
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 16384;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, fp);
        n += r;
        if (r < 4096)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static double num(const cJSON *r, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsNull(v))
        return NAN;
    return def;
}

/* Parses one stored argument list (a JSON array of strings) into o. */
static int parse_stored(tr_opts *o, const cJSON *list)
{
    int n = cJSON_GetArraySize(list);
    char **av = calloc((size_t)n + 1, sizeof *av);
    if (!av)
        return 1;
    int k = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, list)
    {
        if (!cJSON_IsString(a)) {
            free(av);
            return 2;
        }
        av[k++] = a->valuestring;
    }
    int rc = tr_parse(o, k, av, 0);
    free(av);
    return rc;
}

int tr_resume_load(tr_opts *o, int argc, char **argv, tr_state **state, const char **ckpt_model)
{
    *state = NULL;
    *ckpt_model = NULL;
    const char *cmd = o->cmd;
    char path[4096];
    ckpt_json_path(o->out, path, sizeof path);
    char *text = read_text(path);
    if (!text) {
        fprintf(stderr,
                "imgclass %s: --resume: cannot read the checkpoint record %s: %s (it is written "
                "after the first epoch of a run with -o %s)\n",
                cmd, path, strerror(errno), o->out);
        return 1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *c = root ? cJSON_GetObjectItemCaseSensitive(root, "command") : NULL;
    const cJSON *args = root ? cJSON_GetObjectItemCaseSensitive(root, "args") : NULL;
    if (!root || num(root, "format", 0) != CKPT_FORMAT || !cJSON_IsString(c) ||
        !cJSON_IsArray(args)) {
        fprintf(stderr, "imgclass %s: --resume: %s is not a checkpoint record of this version\n",
                cmd, path);
        cJSON_Delete(root);
        return 1;
    }
    if (strcmp(c->valuestring, cmd)) {
        fprintf(stderr,
                "imgclass %s: --resume: %s records an 'imgclass %s' run; resume it with "
                "'imgclass %s ... --resume'\n",
                cmd, path, c->valuestring, c->valuestring);
        cJSON_Delete(root);
        return 1;
    }
    /* the run's options: every stored invocation in order, then this command line */
    tr_opts so;
    tr_opts_init(&so, o->kind);
    const cJSON *list;
    cJSON_ArrayForEach(list, args)
    {
        int rc = cJSON_IsArray(list) ? parse_stored(&so, list) : 2;
        if (rc) {
            fprintf(stderr, "imgclass %s: --resume: the arguments stored in %s do not parse\n", cmd,
                    path);
            cJSON_Delete(root);
            return 1;
        }
    }
    tr_opts mo = so;
    int rc = tr_parse(&mo, argc, argv, 1);
    if (rc) {
        cJSON_Delete(root);
        return rc < 0 ? 2 : rc;
    }
    sig_item a[32], b[32];
    int na = signature(&so, a), nb = signature(&mo, b);
    for (int i = 0; i < na && i < nb; i++)
        if (strcmp(a[i].val, b[i].val)) {
            fprintf(stderr,
                    "imgclass %s: --resume: %s differs from the checkpointed run (%s there, %s "
                    "here): a resumed run must use the same settings (only --epochs, "
                    "--early-stopping, --workers, --threads, --precision and DATA_DIR may "
                    "change)\n",
                    cmd, a[i].flag, a[i].val, b[i].val);
            cJSON_Delete(root);
            return 2;
        }
    mo.resume = 1;
    *o = mo;

    tr_state *st = calloc(1, sizeof *st);
    if (!st || ic_history_create(&st->hist, 1, 1) != IC_OK) {
        free(st);
        cJSON_Delete(root);
        return ic_cli_fail(cmd, IC_ERR_NOMEM);
    }
    st->root = root;
    st->epochs_done = (int)num(root, "epochs_done", 0);
    st->step = (int64_t)num(root, "step", 0);
    st->sl = num(root, "loss_sum", 0);
    st->sa = num(root, "acc_sum", 0);
    st->seen = (int64_t)num(root, "seen", 0);
    st->train_batch = (int64_t)num(root, "train_batch", 0);
    st->val_batch = (int64_t)num(root, "val_batch", 0);
    st->steps = (int64_t)num(root, "steps_per_epoch", 0);
    st->vsteps = (int64_t)num(root, "validation_steps", 0);
    st->best = num(root, "best", NAN);
    st->best_epoch = (int)num(root, "best_epoch", 0);
    st->es_best = num(root, "es_best", NAN);
    st->es_epoch = (int)num(root, "es_epoch", 0);
    st->wait = (int)num(root, "wait", 0);
    st->stopped_early = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stopped_early"));
    st->has_ckpt = 1;
    st->ckpt_epoch = st->epochs_done;
    st->ckpt_step = st->step;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "history");
    const cJSON *hl = cJSON_GetObjectItemCaseSensitive(h, "loss");
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(h, "acc");
    const cJSON *hvl = cJSON_GetObjectItemCaseSensitive(h, "val_loss");
    const cJSON *hva = cJSON_GetObjectItemCaseSensitive(h, "val_acc");
    int bad =
        st->epochs_done < 0 || st->step < 0 || st->steps < 1 || st->vsteps < 1 ||
        cJSON_GetArraySize(hl) != st->epochs_done || cJSON_GetArraySize(ha) != st->epochs_done ||
        cJSON_GetArraySize(hvl) != st->epochs_done || cJSON_GetArraySize(hva) != st->epochs_done;
    for (int i = 0; !bad && i < st->epochs_done; i++) {
        const cJSON *v[4] = {cJSON_GetArrayItem(hl, i), cJSON_GetArrayItem(ha, i),
                             cJSON_GetArrayItem(hvl, i), cJSON_GetArrayItem(hva, i)};
        double d[4];
        for (int k = 0; k < 4; k++)
            d[k] = cJSON_IsNumber(v[k]) ? v[k]->valuedouble : NAN;
        bad = ic_history_append(st->hist, d[0], d[1], d[2], d[3]) != IC_OK;
    }
    if (bad) {
        fprintf(stderr, "imgclass %s: --resume: %s is damaged (inconsistent counters or history)\n",
                cmd, path);
        tr_state_free(st);
        return 1;
    }
    ckpt_model_path(o, st->ckpt_model, sizeof st->ckpt_model);
    struct stat sb;
    char mt[48];
    int missing = stat(st->ckpt_model, &sb) != 0, missing_errno = errno;
    if (missing) /* maybe only staged yet (below) */
        memset(&sb, 0, sizeof sb);
    snprintf(mt, sizeof mt, "%lld.%09ld", (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    const cJSON *rmt = cJSON_GetObjectItemCaseSensitive(root, "checkpoint_mtime");
    if ((double)sb.st_size != num(root, "checkpoint_size", -1) || !cJSON_IsString(rmt) ||
        strcmp(rmt->valuestring, mt)) {
        /* killed between writing the record and renaming the staged model into place:
         * the staged file is the one the record describes; finish the rename */
        char staged[4200];
        struct stat ss;
        staged_path(st->ckpt_model, staged, sizeof staged);
        if (cJSON_IsString(rmt) && stat(staged, &ss) == 0 &&
            (double)ss.st_size == num(root, "checkpoint_size", -1)) {
            snprintf(mt, sizeof mt, "%lld.%09ld", (long long)ss.st_mtim.tv_sec,
                     (long)ss.st_mtim.tv_nsec);
            if (!strcmp(rmt->valuestring, mt) && rename(staged, st->ckpt_model) == 0) {
                sync_dir_of(st->ckpt_model);
                sb = ss;
                missing = 0;
            }
        }
        if (missing) {
            fprintf(stderr, "imgclass %s: --resume: the checkpoint model %s: %s\n", cmd,
                    st->ckpt_model, strerror(missing_errno));
            tr_state_free(st);
            return 1;
        }
        snprintf(mt, sizeof mt, "%lld.%09ld", (long long)sb.st_mtim.tv_sec,
                 (long)sb.st_mtim.tv_nsec);
    }
    if ((double)sb.st_size != num(root, "checkpoint_size", -1) || !cJSON_IsString(rmt) ||
        strcmp(rmt->valuestring, mt)) {
        fprintf(stderr,
                "imgclass %s: --resume: %s is not the file %s was written for (changed or "
                "copied since; copy checkpoints with 'cp -p'); cannot resume exactly\n",
                cmd, st->ckpt_model, path);
        tr_state_free(st);
        return 1;
    }
    if (st->stopped_early) {
        printf("The run in %s stopped early after epoch %d (--early-stopping); nothing to "
               "resume.\n",
               path, st->epochs_done);
        tr_state_free(st);
        return 0;
    }
    if (st->epochs_done >= o->epochs && st->step == 0) {
        printf("%s already holds %d epoch%s (--epochs %ld); give a larger --epochs to train "
               "further.\n",
               st->ckpt_model, st->epochs_done, st->epochs_done == 1 ? "" : "s", o->epochs);
        tr_state_free(st);
        return 0;
    }
    if (st->epochs_done >= o->epochs) {
        fprintf(stderr,
                "imgclass %s: --resume: --epochs %ld is not larger than the %d epochs "
                "the checkpoint has started\n",
                cmd, o->epochs, st->epochs_done + 1);
        tr_state_free(st);
        return 2;
    }
    printf("Resuming from %s: %d epoch%s done", st->ckpt_model, st->epochs_done,
           st->epochs_done == 1 ? "" : "s");
    if (st->step)
        printf(", %lld steps into epoch %d", (long long)st->step, st->epochs_done + 1);
    printf("\n");
    *state = st;
    *ckpt_model = st->ckpt_model;
    return 0;
}

ic_status tr_resume_seek(tr_job *j, const tr_state *s)
{
    if (s->steps != j->steps || s->vsteps != j->vsteps) {
        fprintf(stderr,
                "imgclass %s: --resume: the checkpointed run had %lld steps per epoch and %lld "
                "validation steps, this data gives %lld and %lld (did DATA_DIR change?)\n",
                j->o->cmd, (long long)s->steps, (long long)s->vsteps, (long long)j->steps,
                (long long)j->vsteps);
        return IC_ERR_INVALID;
    }
    ic_status e = ic_dir_iterator_seek(j->train_it, s->train_batch);
    if (!e)
        e = ic_dir_iterator_seek(j->val_it, s->val_batch);
    if (e)
        ic_cli_fail(j->o->cmd, e);
    return e;
}

/* ---------------------------------------------------------------- runs on images ---- */

int tr_run_on_data(const tr_opts *o, int argc, char **argv, ic_model *m, const ic_model_meta *meta,
                   tr_data *d, tr_state *rs)
{
    tr_job j;
    memset(&j, 0, sizeof j);
    j.o = o;
    j.argc = argc;
    j.argv = argv;
    j.model = m;
    j.train_it = d->train;
    j.val_it = d->val;
    j.train = ic_dir_iterator_source(d->train);
    j.val = ic_dir_iterator_source(d->val);
    j.steps = o->steps > 0 ? o->steps : j.train.ops->length(j.train.self);
    j.vsteps = o->vsteps > 0 ? o->vsteps : j.val.ops->length(j.val.self);
    j.meta = meta;
    j.can_resume = 1;
    j.majority_rate = tr_majority_rate_iterator(d->val);
    if (rs && tr_resume_seek(&j, rs))
        return 1;
    char a[32], b[32];
    printf("Trainable params: %s of %s\n",
           tr_commas(ic_model_count_trainable_params(m), a, sizeof a),
           tr_commas(ic_model_count_params(m), b, sizeof b));
    fflush(stdout);
    return tr_run(&j, rs);
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
                   tr_state *rs)
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
        rc = tr_run_on_data(o, argc, argv, m, meta, &d, rs);
    tr_data_close(&d);
    return rc;
}

int tr_resume_run(tr_opts *o, int argc, char **argv, tr_state *rs, const char *ckpt)
{
    ic_model *m;
    ic_model_meta meta;
    int rc = tr_model_load(o, ckpt, "not an imgclass model file?", &m, &meta);
    if (!rc)
        rc = tr_run_on_meta(o, argc, argv, m, &meta, rs);
    ic_model_free(m);
    ic_model_meta_free(&meta);
    tr_state_free(rs);
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
        tr_state *rs;
        const char *ckpt;
        if ((rc = tr_resume_load(&o, argc, argv, &rs, &ckpt)) || !rs)
            return rc;
        if ((rc = tr_check(&o))) {
            tr_state_free(rs);
            return rc;
        }
        /* the model file holds the run's learning rate and its meta the preprocessing */
        tr_resolve_defaults(&o);
        ic_set_random_seed(o.seed);
        return tr_resume_run(&o, argc, argv, rs, ckpt);
    }
    if ((rc = tr_check(&o)))
        return rc;
    tr_resolve_defaults(&o);
    tr_print_defaults(&o, stdout);
    ic_set_random_seed(o.seed);
    return fresh(&o, argc, argv, user);
}
