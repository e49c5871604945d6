/* record.c - checkpoint records (fit.h): the run's position beside its checkpoint model.
 *
 * A record is a JSON file: the format, the model file it belongs to (path, size and
 * modification time, so that a model changed or copied since is refused: resuming from it
 * would not continue the same run), epochs and steps done, the running sums of an
 * interrupted epoch, the batches taken from each source, the history, whether a callback
 * stopped the run, every callback's state under its name, and the caller's extra JSON.
 * Numbers are printed exactly (%.17g; NaN and Inf as strings), so sums and best values
 * come back bit for bit.
 *
 * The pair is crash-safe: the model is written to a staged file first, then the record
 * naming it (atomically), then the staged file is renamed over the model. A crash before
 * the record leaves the old pair; after it, ic_fit_record_read finds the staged file that
 * matches the record and finishes the rename. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "engine_impl.h"
#include "train/train_impl.h"

#define RECORD_FORMAT 1

struct ic_fit_record {
    cJSON *root;
    char *extra; /* "extra" printed back to text, or NULL */
    char path[4096];
};

void ic__json_add_exact(cJSON *o, const char *key, double v)
{
    char buf[40];
    if (isnan(v))
        cJSON_AddStringToObject(o, key, "NaN");
    else if (isinf(v))
        cJSON_AddStringToObject(o, key, v > 0 ? "Infinity" : "-Infinity");
    else {
        snprintf(buf, sizeof buf, "%.17g", v);
        cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
    }
}

static double exact_value(const cJSON *v, double def)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsNull(v))
        return NAN;
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "NaN"))
            return NAN;
        if (!strcmp(v->valuestring, "Infinity"))
            return INFINITY;
        if (!strcmp(v->valuestring, "-Infinity"))
            return -INFINITY;
    }
    return def;
}

double ic__json_exact(const cJSON *o, const char *key, double def)
{
    return exact_value(cJSON_GetObjectItemCaseSensitive(o, key), def);
}

void ic_fit_staged_path(const char *model_path, char *buf, size_t size)
{
    const char *slash = strrchr(model_path, '/');
    if (slash)
        snprintf(buf, size, "%.*s/.%s.next", (int)(slash - model_path), model_path, slash + 1);
    else
        snprintf(buf, size, ".%s.next", model_path);
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

static void mtime_str(const struct stat *sb, char *buf, size_t size)
{
    snprintf(buf, size, "%lld.%09ld", (long long)sb->st_mtim.tv_sec, (long)sb->st_mtim.tv_nsec);
}

static cJSON *history_json(const ic_history *h)
{
    static const char *const keys[] = {"loss", "acc", "val_loss", "val_acc"};
    cJSON *o = cJSON_CreateObject();
    int n = ic_history_epochs(h);
    for (int k = 0; o && k < 4; k++) {
        const double *v = ic_history_metric(h, keys[k]);
        cJSON *a = cJSON_AddArrayToObject(o, keys[k]);
        for (int i = 0; a && v && i < n; i++) {
            cJSON *w = cJSON_CreateObject();
            ic__json_add_exact(w, "v", v[i]);
            cJSON *x = cJSON_DetachItemFromObject(w, "v");
            cJSON_Delete(w);
            cJSON_AddItemToArray(a, x);
        }
    }
    return o;
}

static ic_status write_text(const char *path, const char *text)
{
    ic__atomic_file af;
    ic_status s = ic__atomic_begin(&af, path, 1);
    if (s)
        return s;
    size_t len = strlen(text);
    if (fwrite(text, 1, len, af.fp) != len) {
        int e = errno;
        ic__atomic_abort(&af);
        return ic_seterr(IC_ERR_IO, "%s: writing failed: %s", path, strerror(e));
    }
    return ic__atomic_commit(&af);
}

ic_status ic_fit_checkpoint(ic_fit *f, const char *model_path, const char *record_path,
                            const char *extra)
{
    if (!f || !model_path || !record_path)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_checkpoint: run and paths are required");
    char staged[4200], mt[48];
    ic_fit_staged_path(model_path, staged, sizeof staged);
    struct stat sb; /* rename keeps size and mtime: these become the model file's */
    if (stat(staged, &sb) != 0)
        return ic_seterr(IC_ERR_IO, "%s: %s (write the model there first)", staged,
                         strerror(errno));
    mtime_str(&sb, mt, sizeof mt);
    cJSON *extra_json = NULL;
    if (extra && !(extra_json = cJSON_Parse(extra)))
        return ic_seterr(IC_ERR_INVALID, "checkpoint: the extra record text is not JSON");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "format", RECORD_FORMAT);
    if (extra_json)
        cJSON_AddItemToObject(r, "extra", extra_json);
    cJSON_AddStringToObject(r, "checkpoint", model_path);
    cJSON_AddNumberToObject(r, "checkpoint_size", (double)sb.st_size);
    cJSON_AddStringToObject(r, "checkpoint_mtime", mt);
    cJSON_AddNumberToObject(r, "epochs_done", f->epochs_done);
    cJSON_AddNumberToObject(r, "step", (double)f->step);
    ic__json_add_exact(r, "loss_sum", f->sl);
    ic__json_add_exact(r, "acc_sum", f->sa);
    cJSON_AddNumberToObject(r, "seen", (double)f->seen);
    cJSON_AddNumberToObject(r, "train_batch", (double)f->train_batch);
    cJSON_AddNumberToObject(r, "val_batch", (double)f->val_batch);
    cJSON_AddNumberToObject(r, "steps_per_epoch", (double)f->steps);
    cJSON_AddNumberToObject(r, "validation_steps", (double)f->vsteps);
    cJSON_AddBoolToObject(r, "stopped", f->stop);
    cJSON_AddItemToObject(r, "history", history_json(f->hist));
    cJSON *cbs = cJSON_AddObjectToObject(r, "callbacks");
    ic_status s = IC_OK;
    for (int i = 0; !s && i < f->n_cbs; i++) {
        if (!f->cbs[i].save_state || !f->cbs[i].name)
            continue;
        ic_fit_state st = {cJSON_AddObjectToObject(cbs, f->cbs[i].name)};
        s = f->cbs[i].save_state(f->cbs[i].self, &st);
    }
    char *text = s ? NULL : cJSON_Print(r);
    cJSON_Delete(r);
    if (s)
        return s;
    if (!text)
        return ic_seterr(IC_ERR_NOMEM, "out of memory writing %s", record_path);
    s = write_text(record_path, text);
    cJSON_free(text);
    if (s)
        return ic__errctx(s, "cannot write the checkpoint record");
    if (rename(staged, model_path) != 0)
        return ic_seterr(IC_ERR_IO, "cannot rename %s to %s: %s", staged, model_path,
                         strerror(errno));
    sync_dir_of(model_path);
    f->has_ckpt = 1;
    f->ckpt_epoch = f->epochs_done;
    f->ckpt_step = f->step;
    snprintf(f->ckpt_path, sizeof f->ckpt_path, "%s", model_path);
    return IC_OK;
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
                errno = ENOMEM;
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

void ic_fit_record_free(ic_fit_record *r)
{
    if (!r)
        return;
    cJSON_Delete(r->root);
    cJSON_free(r->extra);
    free(r);
}

/* The history arrays are consistent with the counters. */
static int consistent(const cJSON *root)
{
    int done = (int)ic__json_exact(root, "epochs_done", -1);
    if (done < 0 || ic__json_exact(root, "step", -1) < 0 ||
        ic__json_exact(root, "steps_per_epoch", 0) < 1)
        return 0;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "history");
    static const char *const keys[] = {"loss", "acc", "val_loss", "val_acc"};
    for (int k = 0; k < 4; k++)
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, keys[k])) != done)
            return 0;
    return 1;
}

/* The model file the record names is the one it was written for; a staged file left
 * between the record and the rename is renamed into place. */
static ic_status check_model(const cJSON *root, const char *path)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "checkpoint");
    const cJSON *rmt = cJSON_GetObjectItemCaseSensitive(root, "checkpoint_mtime");
    double size = ic__json_exact(root, "checkpoint_size", -1);
    if (!cJSON_IsString(m) || !cJSON_IsString(rmt))
        return ic_seterr(IC_ERR_FORMAT, "%s is damaged (no checkpoint model named)", path);
    const char *model = m->valuestring;
    struct stat sb;
    char mt[48];
    int missing = stat(model, &sb) != 0, missing_errno = errno;
    if (!missing)
        mtime_str(&sb, mt, sizeof mt);
    if (missing || (double)sb.st_size != size || strcmp(rmt->valuestring, mt)) {
        char staged[4200];
        struct stat ss;
        ic_fit_staged_path(model, staged, sizeof staged);
        if (stat(staged, &ss) == 0 && (double)ss.st_size == size) {
            mtime_str(&ss, mt, sizeof mt);
            if (!strcmp(rmt->valuestring, mt) && rename(staged, model) == 0) {
                sync_dir_of(model);
                return IC_OK;
            }
        }
        if (missing)
            return ic_seterr(IC_ERR_IO, "the checkpoint model %s: %s", model,
                             strerror(missing_errno));
        return ic_seterr(IC_ERR_INVALID,
                         "%s is not the file %s was written for (changed or copied since; copy "
                         "checkpoints with 'cp -p'); cannot resume exactly",
                         model, path);
    }
    return IC_OK;
}

ic_status ic_fit_record_read(const char *path, ic_fit_record **out)
{
    if (!out || !path)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_record_read: path and out are required");
    *out = NULL;
    char *text = read_text(path);
    if (!text)
        return ic_seterr(IC_ERR_IO, "cannot read the checkpoint record %s: %s", path,
                         strerror(errno));
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || ic__json_exact(root, "format", 0) != RECORD_FORMAT) {
        cJSON_Delete(root);
        return ic_seterr(IC_ERR_FORMAT, "%s is not a checkpoint record of this version", path);
    }
    if (!consistent(root)) {
        cJSON_Delete(root);
        return ic_seterr(IC_ERR_FORMAT, "%s is damaged (inconsistent counters or history)",
                         path);
    }
    ic_status s = check_model(root, path);
    if (s) {
        cJSON_Delete(root);
        return s;
    }
    ic_fit_record *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    }
    r->root = root;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "extra");
    if (e && !(r->extra = cJSON_PrintUnformatted(e))) {
        ic_fit_record_free(r);
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    *out = r;
    return IC_OK;
}

const char *ic_fit_record_model(const ic_fit_record *r)
{
    const cJSON *m = r ? cJSON_GetObjectItemCaseSensitive(r->root, "checkpoint") : NULL;
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

const char *ic_fit_record_extra(const ic_fit_record *r)
{
    return r ? r->extra : NULL;
}

int ic_fit_record_epochs_done(const ic_fit_record *r)
{
    return r ? (int)ic__json_exact(r->root, "epochs_done", 0) : 0;
}

int64_t ic_fit_record_step(const ic_fit_record *r)
{
    return r ? (int64_t)ic__json_exact(r->root, "step", 0) : 0;
}

int ic_fit_record_stopped(const ic_fit_record *r)
{
    return r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->root, "stopped"));
}

ic_status ic_fit_restore(ic_fit *f, const ic_fit_record *r)
{
    if (!f || !r)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_restore: run and record are required");
    const cJSON *root = r->root;
    int64_t steps = (int64_t)ic__json_exact(root, "steps_per_epoch", 0);
    int64_t vsteps = (int64_t)ic__json_exact(root, "validation_steps", 0);
    if (steps != f->steps || vsteps != f->vsteps)
        return ic_seterr(IC_ERR_INVALID,
                         "the checkpointed run had %lld steps per epoch and %lld validation "
                         "steps, this one has %lld and %lld (did the data change?)",
                         (long long)steps, (long long)vsteps, (long long)f->steps,
                         (long long)f->vsteps);
    ic_history *h;
    ic_status s = ic_history_create(&h, f->model->train->opts.metric_accuracy, f->val != NULL);
    if (s)
        return s;
    const cJSON *hj = cJSON_GetObjectItemCaseSensitive(root, "history");
    static const char *const keys[] = {"loss", "acc", "val_loss", "val_acc"};
    int done = (int)ic__json_exact(root, "epochs_done", 0);
    for (int i = 0; !s && i < done; i++) {
        double d[4];
        for (int k = 0; k < 4; k++)
            d[k] = exact_value(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hj, keys[k]), i),
                               NAN);
        s = ic_history_append(h, d[0], d[1], d[2], d[3]);
    }
    const cJSON *cbs = cJSON_GetObjectItemCaseSensitive(root, "callbacks");
    for (int i = 0; !s && i < f->n_cbs; i++) {
        if (!f->cbs[i].load_state || !f->cbs[i].name)
            continue;
        cJSON *o = cJSON_GetObjectItemCaseSensitive(cbs, f->cbs[i].name);
        if (!cJSON_IsObject(o)) {
            s = ic_seterr(IC_ERR_FORMAT, "%s holds no state of the callback %s (was the run "
                          "made with other callbacks?)",
                          r->path, f->cbs[i].name);
            break;
        }
        ic_fit_state st = {o};
        s = f->cbs[i].load_state(f->cbs[i].self, &st);
    }
    int64_t tb = (int64_t)ic__json_exact(root, "train_batch", 0);
    int64_t vb = (int64_t)ic__json_exact(root, "val_batch", 0);
    if (!s && (!f->train->ops->seek || (f->val && !f->val->ops->seek)))
        s = ic_seterr(IC_ERR_UNSUPPORTED, "resuming a run needs batch sources that can seek");
    if (!s && (s = f->train->ops->seek(f->train->self, tb)) == IC_OK && f->val)
        s = f->val->ops->seek(f->val->self, vb);
    if (s) {
        ic_history_free(h);
        return s;
    }
    ic_history_free(f->hist);
    f->hist = h;
    f->epochs_done = done;
    f->step = (int64_t)ic__json_exact(root, "step", 0);
    f->sl = ic__json_exact(root, "loss_sum", 0);
    f->sa = ic__json_exact(root, "acc_sum", 0);
    f->seen = (int64_t)ic__json_exact(root, "seen", 0);
    f->train_batch = tb;
    f->val_batch = vb;
    f->stop = ic_fit_record_stopped(r);
    f->has_ckpt = 1;
    f->ckpt_epoch = done;
    f->ckpt_step = f->step;
    snprintf(f->ckpt_path, sizeof f->ckpt_path, "%s", ic_fit_record_model(r));
    return IC_OK;
}

ic_status ic_fit_state_set(ic_fit_state *st, const char *key, double v)
{
    if (!st || !st->obj || !key)
        return ic_seterr(IC_ERR_INVALID, "ic_fit_state_set: state and key are required");
    cJSON_DeleteItemFromObjectCaseSensitive(st->obj, key);
    ic__json_add_exact(st->obj, key, v);
    return IC_OK;
}

ic_status ic_fit_state_get(const ic_fit_state *st, const char *key, double *v)
{
    const cJSON *e = st && st->obj && key ? cJSON_GetObjectItemCaseSensitive(st->obj, key) : NULL;
    if (!e)
        return ic_seterr(IC_ERR_NOT_FOUND, "no state value '%s'", key ? key : "(null)");
    *v = exact_value(e, NAN);
    return IC_OK;
}
