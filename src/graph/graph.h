/* graph.h - the model DAG and its execution plans (private).
 *
 * A model is a list of nodes in topological order (each node = one layer applied to
 * earlier nodes). An execution plan binds a model to one batch size: it owns the
 * activation and gradient buffers (one arena each, sized from the shapes) and the
 * per-node layer states (backend ops). Plans are cached on the model by batch size.
 */
#ifndef IC_GRAPH_H
#define IC_GRAPH_H

#include "imgclass/model.h"
#include "layers/layer_impl.h"

typedef struct ic__node {
    ic_layer *layer; /* owned by the model */
    int n_in;
    int *in;         /* indices of earlier nodes */
} ic__node;

typedef struct ic__plan ic__plan;
typedef struct ic__train_state ic__train_state; /* src/train */

#define IC__PLAN_CACHE 2

struct ic_model {
    char name[128];
    int sequential;
    int trainable;
    ic__node *nodes;
    int n_nodes, cap;
    int input_node;  /* -1 until ic_model_input */
    int output_node; /* -1 = last node */
    ic_layer *wrapper; /* the layer wrapping this model when nested, else NULL */
    ic__plan *plans[IC__PLAN_CACHE];
    int plan_lru;
    ic__train_state *train; /* compile state, owned; freed by train_free */
    /* Set with train by its owner (src/train), so the graph frees it without knowing its
     * type. */
    void (*train_free)(ic__train_state *t);
    ic_precision precision; /* picks the backend table of plans (ic__plan_get) */
};

/* How a forward pass runs. */
typedef struct ic__run_ctx {
    int training;
    int bn_frozen_batch_stats;
    uint64_t step;
} ic__run_ctx;

int ic__model_effective_trainable(const ic_model *m);
int ic__model_out_node(const ic_model *m);
const ic__shape *ic__model_out_shape(const ic_model *m);

/* Weights in Keras order. which: 0 = model.weights, 1 = trainable_weights,
 * 2 = non_trainable_weights. Fills params/layers (each may be NULL) up to cap and returns
 * the total count. */
int ic__model_collect(const ic_model *m, int which, ic__param **params, ic_layer **layers,
                      int cap);

/* Plans. ic__plan_get returns a cached plan for this batch size (creating it; the model
 * owns it). Forward: x is (batch, ...input shape), read-only and must stay valid through
 * backward. */
ic_status ic__plan_get(ic_model *m, int64_t batch, ic__plan **out);
/* An uncached plan owned by the caller (nested models keep theirs in the layer state). */
ic_status ic__plan_create(ic_model *m, int64_t batch, const ic__backend *be, ic__plan **out);
ic_status ic__plan_forward(ic__plan *p, const float *x, const ic__run_ctx *rc);
/* An inference forward that starts part-way, so that a caller holding a node's activations
 * from an earlier forward does not recompute the nodes up to it: node `from`'s activation
 * becomes x_from (batch rows, as that node's output; copied in unless it is already that
 * activation) and only the nodes after it run. The input is not read, so every node after
 * `from` must read only `from` or later nodes; IC_ERR_INTERNAL otherwise, for a node not
 * strictly between the input and the output, and for a training forward (its backward
 * would need the skipped activations). A nested model's plan (ic__plan_nested) can be
 * started this way, then its outer plan from the nested node with ic__plan_output of it. */
ic_status ic__plan_forward_from(ic__plan *p, int from, const float *x_from, const ic__run_ctx *rc);
ic_tensor *ic__plan_output(ic__plan *p);
/* Activation of one node after a forward pass (tests read intermediate layers); NULL if
 * node is out of range. Borrowed; the input node's data is the caller's batch. */
ic_tensor *ic__plan_node_output(ic__plan *p, int node);
/* The plan of the nested model at node (its layer wraps a model), else NULL. Borrowed. */
ic__plan *ic__plan_nested(ic__plan *p, int node);
/* Backward from the gradient of the loss w.r.t. the output. diff_x (may be NULL) receives
 * the gradient w.r.t. the input. Parameter gradients go to param->grad for every
 * effectively trainable layer; nothing is computed below the lowest trainable layer
 * unless diff_x is asked for. */
ic_status ic__plan_backward(ic__plan *p, const float *diff_out, float *diff_x);
void ic__plan_free(ic__plan *p);
void ic__model_drop_plans(ic_model *m);

/* Automatic names (K.get_uid). */
int ic__next_uid(const char *prefix);

#endif
