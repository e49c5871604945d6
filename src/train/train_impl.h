/* train_impl.h - what the files of src/train share (private): losses and metrics,
 * optimizers, and the compile state a model keeps in m->train.
 *
 * Conventions: the model output p is (B, K) (K = per-sample feature count, a 1-D
 * output), labels y are (B, K) (categorical) or (B, 1) / (B) (binary, sparse). Losses are
 * computed in double and are the batch MEAN, as Keras reports them; gradients are
 * dL/dp of that mean, written as float.
 */
#ifndef IC_TRAIN_IMPL_H
#define IC_TRAIN_IMPL_H

#include <stdint.h>

#include "graph/graph.h"
#include "imgclass/train.h"

/* K.epsilon() in Keras 2.x (float32). */
#define IC__KERAS_EPSILON 1e-7f

/* ---- Losses and metrics (losses.c) ---- */

/* Keras's name for a loss ("binary_crossentropy", ...); "?" if unknown. */
const char *ic__loss_name(ic_loss loss);
/* Checks that a per-sample model output shape suits the loss (1-D; binary: 1 unit;
 * categorical / sparse: >= 2 units). IC_ERR_SHAPE / IC_ERR_INVALID with a message. */
ic_status ic__loss_check_output(ic_loss loss, const ic__shape *out);
/* Checks labels y against output p (batch sizes, K, label values for sparse). */
ic_status ic__loss_check_labels(ic_loss loss, const ic_tensor *p, const ic_tensor *y);
/* Batch-mean loss of output p against labels y, and (grad non-NULL) dL/dp with p's
 * element count. where (may be NULL) names the step in messages ("epoch 2 step 5").
 * NaN / Inf in p or in the loss: IC_ERR_NUMERIC "loss is NaN at <where> (...)". */
ic_status ic__loss_compute(ic_loss loss, const ic_tensor *p, const ic_tensor *y, double *value,
                           float *grad, const char *where);
/* Keras "acc": binary (K == 1 or binary loss: y == round_half_even(p)), sparse
 * (argmax(p) == y), else categorical (argmax(p) == argmax(y)). Mean over the batch (and
 * over the K elements for binary). Shapes must have passed ic__loss_check_labels. */
double ic__accuracy(ic_loss loss, const ic_tensor *p, const ic_tensor *y);

/* ---- Optimizers (optimizers.c) ---- */

typedef struct ic__opt_slot {
    ic__param *param; /* key: the weight this state belongs to */
    int64_t n;        /* its element count when the state was made */
    float *a;         /* RMSprop accumulator / Adam m / SGD moments */
    float *b;         /* Adam v */
    float *c;         /* Adam vhat (amsgrad) */
} ic__opt_slot;

typedef struct ic__optimizer {
    ic_optimizer_opts o;
    uint64_t iterations; /* applied steps (Keras optimizer.iterations) */
    ic__opt_slot *slots;
    int n_slots, cap_slots;
} ic__optimizer;

/* Validates options (IC_ERR_INVALID naming the bad field) and starts with no state. */
ic_status ic__opt_init(ic__optimizer *opt, const ic_optimizer_opts *o);
/* Frees the per-weight state (the struct itself is the caller's). */
void ic__opt_clear(ic__optimizer *opt);
/* One update of params[0..n) from their ->grad (params whose grad is NULL are skipped);
 * state for a weight is created on its first step. Sets param->version on every updated
 * weight, then iterations++. */
ic_status ic__opt_step(ic__optimizer *opt, ic__param *const *params, int n);
/* The learning rate this step uses: lr / (1 + decay * iterations). */
double ic__opt_current_lr(const ic__optimizer *opt);

/* Optimizer state for model files (src/io/model_file.c). A weight's state is
 * ic__opt_num_slots() tensors of the weight's shape, named ic__opt_slot_name(): RMSprop
 * "accumulator"; Adam "m", "v" (+ "vhat" with amsgrad); SGD "moment". The step count is
 * opt->iterations and the dropout step train_state->step: the file code sets them directly. */
int ic__opt_num_slots(const ic__optimizer *opt);
const char *ic__opt_slot_name(const ic__optimizer *opt, int k);
/* The k-th state tensor of weight p (numel(p) floats; borrowed), NULL when p has none yet. */
const float *ic__opt_export(const ic__optimizer *opt, const ic__param *p, int k);
/* Sets p's state to copies of bufs[0 .. ic__opt_num_slots()) (numel(p) floats each),
 * creating it if needed. */
ic_status ic__opt_import(ic__optimizer *opt, ic__param *p, const float *const *bufs);

/* ---- Steps and evaluation (fit.c), for the engine ---- */

/* One optimizer step on a batch; where ("epoch 2 step 5") names it in messages. */
ic_status ic__train_step(ic_model *m, const ic_tensor *x, const ic_tensor *y, double *loss,
                         double *acc, const char *where);
/* How ic__evaluate runs the model on a batch x, with the plan p for its size and the
 * inference run context rc: run leaves the output in p as ic__plan_forward(p, x->data, rc)
 * would. It lets a caller that holds part of the forward already (the validation cache's
 * stored activations) start part-way with ic__plan_forward_from. */
typedef struct ic__eval_forward {
    ic_status (*run)(void *self, ic__plan *p, const ic_tensor *x, const ic__run_ctx *rc);
    void *self;
} ic__eval_forward;

/* Inference over `steps` batches of src (r may be NULL); messages say "<label> step N", or
 * "epoch E <label> step N" when epoch >= 1. fwd runs each batch's forward; NULL: the whole
 * model. */
ic_status ic__evaluate(ic_model *m, ic_batch_source *src, int64_t steps, ic_eval_result *r,
                       const char *label, int epoch, const ic__eval_forward *fwd);

/* ---- Compile state (fit.c) ---- */

struct ic__train_state {
    ic_compile_opts opts;
    ic__optimizer opt;
    uint64_t step;      /* training forward passes ever run (dropout stream); kept on recompile */
    ic__param **params; /* scratch: trainable weights of this step */
    int cap_params;
    float *dloss; /* scratch: dL/dp */
    int64_t cap_dloss;
};

#endif
