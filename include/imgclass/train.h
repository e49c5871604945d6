/* train.h - compile / fit / evaluate / predict, losses, optimizers, history.
 *
 * Mirrors Keras: ic_model_compile sets optimizer, loss and metrics; ic_model_fit
 * consumes batches from an ic_batch_source for steps_per_epoch steps per epoch and
 * returns a History. Batch sources are the seam the data pipeline plugs into; one
 * over in-memory tensors is provided here.
 */
#ifndef IMGCLASS_TRAIN_H
#define IMGCLASS_TRAIN_H

#include <stdint.h>

#include "model.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ic_loss {
    IC_LOSS_BINARY_CROSSENTROPY = 0,
    IC_LOSS_CATEGORICAL_CROSSENTROPY,
    IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
} ic_loss;

typedef enum ic_optimizer_kind { IC_OPT_RMSPROP = 0, IC_OPT_ADAM, IC_OPT_SGD } ic_optimizer_kind;

typedef struct ic_optimizer_opts {
    ic_optimizer_kind kind;
    float lr;       /* Keras defaults: RMSprop 1e-3, Adam 1e-3, SGD 1e-2 */
    float rho;      /* RMSprop, 0.9 */
    float beta_1;   /* Adam, 0.9 */
    float beta_2;   /* Adam, 0.999 */
    float epsilon;  /* 1e-7 (K.epsilon()) */
    float momentum; /* SGD, 0 */
    int nesterov;   /* SGD */
    int amsgrad;    /* Adam */
    float decay;    /* lr / (1 + decay * iterations) */
} ic_optimizer_opts;
ic_optimizer_opts ic_optimizer_opts_default(ic_optimizer_kind kind);

/* What a run trains, for its default learning rate: a model from scratch, a new head on a
 * pretrained (frozen) base, or a pretrained base being fine-tuned. */
typedef enum ic_training_kind {
    IC_TRAINING_SCRATCH = 0,
    IC_TRAINING_HEAD,
    IC_TRAINING_FINETUNE
} ic_training_kind;
/* The learning rate that works without tuning: Keras's optimizer default from scratch;
 * on a pretrained base the book's rates (2e-5 for the head, 1e-5 for fine-tuning; 100x
 * those for plain SGD), since Keras's 1e-3 can collapse a dense head over frozen
 * features to one output within an epoch. */
double ic_optimizer_default_lr(ic_optimizer_kind kind, ic_training_kind what);
ic_status ic_optimizer_parse(const char *name, ic_optimizer_kind *out); /* "rmsprop", ... */

typedef struct ic_compile_opts {
    ic_optimizer_opts optimizer;
    ic_loss loss;
    int metric_accuracy; /* report acc / val_acc */
    /* Keras < 2.1 / multi-backend behaviour: a frozen BatchNormalization still
     * normalises with batch statistics while training. Default 0: tf.keras 2.x,
     * frozen BN runs in inference mode. */
    int frozen_bn_uses_batch_stats;
    /* Compute precision (ic_model_set_precision; BF16 falls back to FP32 on CPUs
     * without native bf16: read ic_model_precision() after compiling). Default FP32. */
    ic_precision precision;
} ic_compile_opts;
ic_compile_opts ic_compile_opts_default(void);
ic_status ic_model_compile(ic_model *m, const ic_compile_opts *o);

/* ---- Batch sources ---- */
/* next() hands out the next batch: x (B, ...) and y (B, K) float labels (binary and
 * sparse labels are (B, 1)). The tensors belong to the source and stay valid until the
 * next call to next() or free(). B may be smaller than the nominal batch size. A
 * source cycles forever (Keras generators do), so steps_per_epoch decides epochs. */
typedef struct ic_batch_source_ops {
    ic_status (*next)(void *self, const ic_tensor **x, const ic_tensor **y);
    int64_t (*length)(void *self); /* batches per pass over the data (steps default) */
    void (*free)(void *self);      /* may be NULL */
    /* May be NULL (the source cannot resume a run): puts the source where it is after
     * handing out `batches` batches from its start, so that the batches that follow are
     * exactly those an uninterrupted source gives. */
    ic_status (*seek)(void *self, int64_t batches);
} ic_batch_source_ops;

typedef struct ic_batch_source {
    const ic_batch_source_ops *ops;
    void *self;
} ic_batch_source;

/* A source over in-memory tensors x (N, ...) and y (N, K). Batches in order, or
 * shuffled every pass from seed; the last batch of a pass is partial, as in Keras.
 * x and y are borrowed and must outlive the source. Free with ic_batch_source_free. */
ic_status ic_batch_source_tensors(ic_batch_source *out, const ic_tensor *x, const ic_tensor *y,
                                  int64_t batch_size, int shuffle, uint64_t seed);
void ic_batch_source_free(ic_batch_source *s);

/* ---- History ---- */
typedef struct ic_history ic_history;
void ic_history_free(ic_history *h);
int ic_history_epochs(const ic_history *h);
/* Metric by Keras name: "loss", "acc", "val_loss", "val_acc". NULL if not recorded. */
const double *ic_history_metric(const ic_history *h, const char *name);
/* Appends one epoch (used by fit, and by readers of saved histories). */
ic_status ic_history_append(ic_history *h, double loss, double acc, double val_loss,
                            double val_acc);
ic_status ic_history_create(ic_history **out, int has_acc, int has_val);

/* Saving and loading (history_io.c). Files are replaced atomically (temp file + rename).
 * CSV: header "epoch,loss,acc,val_loss,val_acc" with only the recorded columns, epoch from
 * 1, values as %.17g (exact round trip), NaN as "nan". JSON: Keras-like {"epoch":[1,...],
 * "loss":[...],"acc":[...],"val_loss":[...],"val_acc":[...]}, NaN as null. */
ic_status ic_history_save_csv(const ic_history *h, const char *path);
ic_status ic_history_save_json(const ic_history *h, const char *path);
/* Reads a history saved as CSV or JSON (told apart by content). Also reads Keras
 * CSVLogger files (any column order, extra columns ignored), pandas' empty fields, R's NA
 * and Python's NaN/Infinity. Errors name the file and line (IC_ERR_FORMAT, IC_ERR_IO).
 * *out is a new history the caller frees with ic_history_free. */
ic_status ic_history_load(const char *path, ic_history **out);

/* One optimizer step on one batch; loss and acc (may be NULL) of that batch, computed
 * with the weights before the update (as Keras reports them). */
ic_status ic_model_train_on_batch(ic_model *m, const ic_tensor *x, const ic_tensor *y,
                                  double *loss, double *acc);
/* Mean loss and accuracy over `steps` batches (0 = src->length()), batch-size weighted. */
ic_status ic_model_evaluate(ic_model *m, ic_batch_source *src, int64_t steps, double *loss,
                            double *acc);

/* What one evaluation pass found. */
typedef struct ic_eval_result {
    double loss, acc; /* as ic_model_evaluate */
    int64_t samples;  /* images seen */
    /* The largest (max - min) over the pass of any output unit: 0 when the model gave every
     * image the same output (a collapsed model), NaN when an output was NaN. */
    double output_spread;
} ic_eval_result;
/* ic_model_evaluate, with the output spread too. */
ic_status ic_model_evaluate_ex(ic_model *m, ic_batch_source *src, int64_t steps,
                               ic_eval_result *r);

/* Collapse watch: tells when training has collapsed to one output, the usual sign of a
 * learning rate too high for the model (a dense head over many frozen features under
 * RMSprop's default 1e-3 is the classic case). Feed it every epoch's training loss and
 * validation result; the majority rate is the share of the largest class among the
 * validation images. It reports once per run. */
typedef enum ic_collapse {
    IC_COLLAPSE_NONE = 0,
    IC_COLLAPSE_CONSTANT, /* every validation image got the same output */
    IC_COLLAPSE_MAJORITY  /* val_acc at the majority rate, training loss flat, for
                             IC_COLLAPSE_EPOCHS epochs */
} ic_collapse;
#define IC_COLLAPSE_EPOCHS 3
typedef struct ic_collapse_watch {
    double majority_rate;   /* set by the caller (0: only the constant-output rule) */
    double prev_loss;       /* the previous epoch's training loss (NaN before the first) */
    int flat_epochs;        /* consecutive epochs at the majority rate with a flat loss */
    int reported;           /* a collapse was reported; later epochs report none */
} ic_collapse_watch;
ic_collapse_watch ic_collapse_watch_init(double majority_rate);
ic_collapse ic_collapse_watch_epoch(ic_collapse_watch *w, double loss, const ic_eval_result *val);
/* The majority rate of labels y (N, 1) 0/1 or (N, K) one-hot (the largest column wins):
 * the share of the most frequent class, 0 for no samples. */
double ic_labels_majority_rate(const ic_tensor *y);

/* Area under the ROC curve of scores (e.g. a sigmoid output) for labels 1 (positive) and 0:
 * the probability that a random positive scores above a random negative, ties counting
 * one half; exact, as scikit-learn's roc_auc_score. Unlike accuracy it does not depend on
 * a threshold, so it tells a worse ranking from a moved decision threshold.
 * IC_ERR_INVALID without samples of both classes or for labels other than 0/1,
 * IC_ERR_NUMERIC for a NaN score (messages say which). */
ic_status ic_roc_auc(const float *score, const float *label, int64_t n, double *auc);

#ifdef __cplusplus
}
#endif
#endif
