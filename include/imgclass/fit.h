/* fit.h - the training engine: epochs of steps with validation, Keras's callbacks, crash-safe
 * checkpoints and exact resumption.
 *
 * One run is an ic_fit: the compiled model, its training and validation batch sources, and
 * the callbacks, which run in the order they were added. A run keeps its whole position
 * (epochs and steps done, the running sums of the epoch, the batches taken from each source,
 * the history, and every callback's own state), so that a checkpoint written by
 * ic_callback_backup_and_restore and given back to ic_fit_restore continues to the same
 * result, bit for bit, as a run that was never stopped: the model file holds the weights and
 * the optimizer state (with its step count, which also drives Dropout's masks), and the
 * record holds the rest. Batch sources must be able to seek for that (ic_batch_source_ops
 * .seek; directory iterators and tensor sources can).
 *
 * Per epoch (Keras 2.2.4 fit_generator): steps_per_epoch training steps, then
 * validation_steps batches in inference mode; the epoch's values are batch-size-weighted
 * means. Messages name "epoch E step S" counted from 1. With a frozen nested base (a
 * Sequential model whose first layer is a model with no trainable weights, or trainable only
 * from some layer on), validation computes the frozen part once per validation image and
 * later validations run only the rest (the same results; opts.validation_cache). */
#ifndef IMGCLASS_FIT_H
#define IMGCLASS_FIT_H

#include <signal.h>
#include <stdint.h>

#include "io.h"
#include "train.h"

/* ---- One-call form (Keras fit / fit_generator) ---- */

/* Called after every epoch (epoch counts from 0, as Keras on_epoch_end); return non-zero
 * to stop training (IC_ERR_CANCELLED). */
typedef int (*ic_epoch_callback)(int epoch, const ic_history *h, void *user);
/* Called after every step with the running means of the epoch so far; step is the number
 * of steps done in this epoch (1..steps). Return non-zero to stop training right after
 * this step (ic_model_fit returns IC_ERR_CANCELLED; the interrupted epoch is not added to
 * the history, the weights keep this step's update). */
typedef int (*ic_step_callback)(int epoch, int64_t step, int64_t steps, double loss,
                                double acc, void *user);

typedef struct ic_fit_opts {
    int epochs;               /* default 1 */
    int64_t steps_per_epoch;  /* 0 = train->length() */
    int64_t validation_steps; /* 0 = val->length() */
    int initial_epoch;
    ic_epoch_callback on_epoch;
    ic_step_callback on_step;
    void *user;
    /* Set (non-zero) from a signal handler, say: the run stops after the running step,
     * after the callbacks' on_interrupt (a checkpoint), with IC_ERR_CANCELLED. May be NULL. */
    const volatile sig_atomic_t *cancel;
    /* 1 (default): validation of a model with a frozen nested base computes the frozen
     * part once per image (IC_NO_VAL_CACHE=1 in the environment also turns it off). */
    int validation_cache;
} ic_fit_opts;
ic_fit_opts ic_fit_opts_default(void);

/* Trains. val may be NULL. *history (may be NULL) receives a new History the caller
 * frees, also when training stopped early with an error (the epochs completed). */
ic_status ic_model_fit(ic_model *m, const ic_fit_opts *o, ic_batch_source *train,
                       ic_batch_source *val, ic_history **history);

/* ---- The engine ---- */

typedef struct ic_fit ic_fit;
/* A set of named values: a callback's resumable state in a checkpoint record. */
typedef struct ic_fit_state ic_fit_state;

/* What callbacks are told. */
typedef struct ic_fit_logs {
    int epoch, epochs;     /* the epoch running or just ended, counted from 1; the last */
    int64_t step, steps;   /* steps done in this epoch; steps per epoch */
    double loss, acc;      /* the epoch's running means (its values at on_epoch_end) */
    ic_eval_result val;    /* on_epoch_end: the validation (loss, acc NaN without) */
    int64_t first_step;    /* on_epoch_begin: steps already done (a resumed epoch) */
} ic_fit_logs;

/* A callback (Keras's Callback). Every function may be NULL. A non-OK status from any
 * of them ends the run with that status (its message set with ic_seterr). */
typedef struct ic_callback {
    const char *name; /* names its state in checkpoint records: unique within a run */
    void *self;
    ic_status (*on_train_begin)(void *self, ic_fit *f);
    ic_status (*on_epoch_begin)(void *self, ic_fit *f, const ic_fit_logs *l);
    ic_status (*on_step_end)(void *self, ic_fit *f, const ic_fit_logs *l);
    ic_status (*on_epoch_end)(void *self, ic_fit *f, const ic_fit_logs *l);
    /* The run is stopping after a step, cancelled (opts.cancel). */
    ic_status (*on_interrupt)(void *self, ic_fit *f, const ic_fit_logs *l);
    /* The run ended (result: its status); always called once after on_train_begin. */
    void (*on_train_end)(void *self, ic_fit *f, ic_status result);
    /* Resumable state: written into each checkpoint record, read back by ic_fit_restore. */
    ic_status (*save_state)(void *self, ic_fit_state *st);
    ic_status (*load_state)(void *self, const ic_fit_state *st);
    void (*free)(void *self); /* frees self when the run is freed */
} ic_callback;

/* A run of m (compiled) on train, validated on val (may be NULL). The sources are
 * borrowed. opts NULL: ic_fit_opts_default(); its on_epoch / on_step are not used here
 * (add callbacks). */
ic_status ic_fit_create(ic_fit **out, ic_model *m, ic_batch_source *train, ic_batch_source *val,
                        const ic_fit_opts *opts);
/* Adds a callback; the run owns cb->self from here (cb->free), also on error. */
ic_status ic_fit_add_callback(ic_fit *f, const ic_callback *cb);
/* Runs the remaining epochs. IC_ERR_CANCELLED: stopped by opts.cancel (message "interrupted
 * after epoch E step S"); a callback's ic_fit_stop ends it with IC_OK after that epoch. */
ic_status ic_fit_run(ic_fit *f);
void ic_fit_free(ic_fit *f);

/* Asks the run to stop after the current epoch (Keras's model.stop_training = True). */
void ic_fit_stop(ic_fit *f);
int ic_fit_stopped(const ic_fit *f);
ic_model *ic_fit_model(const ic_fit *f);
const ic_history *ic_fit_history(const ic_fit *f);
int ic_fit_epochs_done(const ic_fit *f);
int64_t ic_fit_steps(const ic_fit *f);            /* per epoch */
int64_t ic_fit_validation_steps(const ic_fit *f); /* 0 without validation */
/* The base layer whose activations the validation cache stores (NULL: the base's output;
 * "" when the run has no validation cache). */
const char *ic_fit_validation_cache(const ic_fit *f);

/* ---- Running part of a model: feature extraction ---- */

/* The head of m, a Sequential model whose first layer is a nested base (the book's
 * Sequential(conv_base, flatten, dense, dense)): the layers after the base as a model of
 * its own, fed with the base's output, rebuilt from m's config (same classes, options and
 * names); weights are copied between the two by name. It is how features computed once by
 * the frozen base train the head (train --cache-features), and how validation runs the
 * head alone on stored features. IC_ERR_UNSUPPORTED (with a message) when m is not such a
 * model or a head weight's name is not unique in m. The head starts with the library's
 * initial weights: copy m's in with ic_model_head_sync(h, 0). */
typedef struct ic_model_head ic_model_head;
ic_status ic_model_head_create(ic_model *m, ic_model_head **out);
ic_model *ic_model_head_model(const ic_model_head *h); /* the head (owned by h; not compiled) */
ic_model *ic_model_head_base(const ic_model_head *h);  /* m's nested base (borrowed) */
/* Copies the weights from m to the head (to_model 0) or back (to_model 1). */
ic_status ic_model_head_sync(ic_model_head *h, int to_model);
void ic_model_head_free(ic_model_head *h); /* NULL ok */

/* Runs base in inference mode over `steps` batches of src (0: one pass, src->length())
 * into new tensors: *features (N, ...base output) and *labels (N, K), N the samples seen. */
ic_status ic_model_extract_features(ic_model *base, ic_batch_source *src, int64_t steps,
                                    ic_tensor **features, ic_tensor **labels);

/* Training a head on stored features (the book's fast feature extraction): the full model
 * (ic_app_classifier: base, taken also on failure, under a dense head of units, for
 * classes) and its head as a model of its own starting from the full model's initial
 * weights, both compiled with co, with batch sources over the features: training
 * reshuffled every pass from seed, validation in order (the last batch of a pass partial).
 * The features and labels (ic_model_extract_features's) are borrowed: they must outlive
 * the setup. Train ic_model_head_model(head) on train / val; ic_model_head_sync(head, 1)
 * copies the trained weights into full, which is what a program saves. */
typedef struct ic_feature_training {
    ic_model *full;      /* base + head (owned) */
    ic_model_head *head; /* (owned) */
    ic_batch_source train, val;
} ic_feature_training;
ic_status ic_feature_training_init(ic_feature_training *t, ic_model *base, int units, int classes,
                                   const ic_compile_opts *co, const ic_tensor *train_features,
                                   const ic_tensor *train_labels, const ic_tensor *val_features,
                                   const ic_tensor *val_labels, int64_t batch_size,
                                   uint64_t seed);
void ic_feature_training_free(ic_feature_training *t); /* NULL ok; leaves *t empty */

/* ---- Checkpoints ---- */

/* Writes the run's position next to a model file that was just saved: record_path gets
 * a JSON record (the position, the history, every callback's state, extra: a JSON text the
 * caller wants back on resume, may be NULL) naming model_path with its size and time.
 * Crash-safe as a pair: write the model to ic_fit_staged_path(model_path) first; this call
 * writes the record for it (atomically) and then renames the staged file to model_path. */
ic_status ic_fit_checkpoint(ic_fit *f, const char *model_path, const char *record_path,
                            const char *extra);
/* "<dir>/.<name>.next" for model_path "<dir>/<name>". */
void ic_fit_staged_path(const char *model_path, char *buf, size_t size);

typedef struct ic_fit_record ic_fit_record;
/* Reads a record and checks that its model file is the one it was written for (size and
 * modification time; a staged file left by a crash between the two renames is renamed into
 * place here). Errors name the file: IC_ERR_IO (cannot read it; the model file missing),
 * IC_ERR_FORMAT (not a record of this version; damaged), IC_ERR_INVALID (the model file
 * changed since). */
ic_status ic_fit_record_read(const char *path, ic_fit_record **out);
void ic_fit_record_free(ic_fit_record *r);
const char *ic_fit_record_model(const ic_fit_record *r); /* the checkpoint model file */
const char *ic_fit_record_extra(const ic_fit_record *r); /* as given, or NULL */
int ic_fit_record_epochs_done(const ic_fit_record *r);
int64_t ic_fit_record_step(const ic_fit_record *r); /* steps into the next epoch */
int ic_fit_record_stopped(const ic_fit_record *r);  /* a callback stopped the run */
/* Puts the run (created on the checkpoint's model, with the same callbacks added) where
 * the record says: counters, history, callbacks' state, the sources' positions. The steps
 * per epoch and validation steps must match the record's (IC_ERR_INVALID otherwise). */
ic_status ic_fit_restore(ic_fit *f, const ic_fit_record *r);

/* Named values of a callback's state. */
ic_status ic_fit_state_set(ic_fit_state *st, const char *key, double v);
/* IC_ERR_NOT_FOUND when absent. NaN round-trips. */
ic_status ic_fit_state_get(const ic_fit_state *st, const char *key, double *v);

/* ---- Keras's callbacks ---- */

typedef enum ic_monitor { IC_MONITOR_VAL_LOSS = 0, IC_MONITOR_VAL_ACC } ic_monitor;
const char *ic_monitor_name(ic_monitor m); /* "val_loss", "val_acc" */

/* How a checkpointing callback writes the model (NULL: ic_model_save(m, path, meta,
 * include_optimizer)). */
typedef ic_status (*ic_save_fn)(void *user, ic_model *m, const char *path,
                                int include_optimizer);

typedef struct ic_checkpoint_opts {
    const char *path;         /* the model file */
    const ic_model_meta *meta; /* saved with the model (borrowed; may be NULL) */
    ic_save_fn save;          /* NULL: ic_model_save */
    void *save_user;
} ic_checkpoint_opts;

/* ModelCheckpoint(path, monitor, save_best_only): saves the model (without optimizer
 * state, atomically) after every epoch, or with save_best_only after each epoch whose
 * monitored value improves on the best so far (the first finite one counts). Weights with
 * NaN or Inf are an error, never saved. *best_epoch and *best (may be NULL) follow the
 * best epoch. */
ic_status ic_callback_model_checkpoint(ic_callback *out, const ic_checkpoint_opts *o,
                                       ic_monitor monitor, int save_best_only, int *best_epoch,
                                       double *best);

/* BackupAndRestore: after every epoch and on an interrupt, saves the model with its
 * optimizer state and the run's record (ic_fit_checkpoint; record_path, extra as there),
 * so that ic_fit_restore continues exactly. Weights with NaN or Inf are never saved (the
 * last good pair stays). Add it last: the record holds the other callbacks' state as it is
 * when it runs. */
ic_status ic_callback_backup_and_restore(ic_callback *out, const ic_checkpoint_opts *o,
                                         const char *record_path, const char *extra);
/* Where the last checkpoint of the run is (epoch and steps into the next one; 0 / 0 and
 * NULL when none was written by this run or restored). */
const char *ic_fit_last_checkpoint(const ic_fit *f, int *epoch, int64_t *step);

/* EarlyStopping(monitor, min_delta, patience, restore_best_weights): stops the run when the
 * monitored value has not improved by more than min_delta for patience epochs; with
 * restore_best_weights the model gets the best epoch's weights back when it stops. */
typedef struct ic_early_stopping_opts {
    ic_monitor monitor;
    double min_delta;
    int patience;
    int restore_best_weights;
} ic_early_stopping_opts;
/* *stopped_at (may be NULL) receives the epoch it stopped after, *best_epoch the best one. */
ic_status ic_callback_early_stopping(ic_callback *out, const ic_early_stopping_opts *o,
                                     int *stopped_at, int *best_epoch);

/* TerminateOnNaN, and more: after every step, a scan of the trainable weights (which it
 * only reads) ends the run with IC_ERR_NUMERIC when one is NaN or Inf (a NaN in a layer that
 * ReLU clamps can leave the loss finite for a while); a NaN loss already does. */
ic_status ic_callback_terminate_on_nan(ic_callback *out);

/* CSVLogger and the History JSON: after every epoch, rewrites csv_path and json_path (either
 * may be NULL) atomically with the whole history. */
ic_status ic_callback_history_files(ic_callback *out, const char *csv_path,
                                    const char *json_path);

/* The collapse watch (train.h) as a callback: calls warn(user, epoch, kind) once when the
 * model has collapsed to one output; majority_rate as for ic_collapse_watch_init. */
typedef void (*ic_collapse_fn)(void *user, int epoch, ic_collapse kind,
                               const ic_collapse_watch *w);
ic_status ic_callback_collapse_watch(ic_callback *out, double majority_rate, ic_collapse_fn warn,
                                     void *user);

/* ---- the standard set ---- */

/* The callbacks of a training run, from its options. */
typedef struct ic_fit_callbacks {
    const char *history_csv, *history_json; /* the history files (NULL: none) */
    ic_monitor monitor;       /* of the best checkpoint and of early stopping */
    const char *best_path;    /* ModelCheckpoint(save_best_only) into this file; NULL: none */
    int patience;             /* EarlyStopping after this many epochs; 0: none */
    int restore_best_weights; /* EarlyStopping's */
    ic_checkpoint_opts ckpt;  /* the model after every epoch (path NULL: none); best_path
                                 saves the same way */
    const char *record_path;  /* BackupAndRestore's record (ckpt.path resumable, with extra
                                 as ic_fit_checkpoint stores it); NULL: a plain checkpoint */
    const char *extra;
    int *best_epoch;          /* where the callbacks report (each may be NULL): the best */
    double *best;             /* epoch and its value, the epoch early stopping stopped */
    int *stopped_at;          /* after and its best epoch */
    int *es_best_epoch;
} ic_fit_callbacks;
/* Adds to f, in the order they must run: TerminateOnNaN, the caller's own n_own callbacks
 * (a progress bar, ...), the history files, the best epoch's ModelCheckpoint, EarlyStopping,
 * and last the checkpoint of every epoch: BackupAndRestore when record_path is given (its
 * record holds the others' state, so it runs after them), else a ModelCheckpoint named
 * "checkpoint" (beside the best one). The own callbacks are handed over as to
 * ic_fit_add_callback: after an error, those not added are freed too. */
ic_status ic_fit_add_callbacks(ic_fit *f, const ic_fit_callbacks *o, const ic_callback *own,
                               int n_own);

#endif
