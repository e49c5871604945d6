/* model.h - sequential and functional models (a DAG of named layers).
 *
 * A model owns its layers. Nodes are small integers returned by ic_model_input and
 * ic_model_apply (the functional API); ic_model_add appends a layer fed by the last
 * node (the sequential API). A model can be used as a layer of another model with
 * ic_layer_from_model: the outer model then owns the inner one, exactly as the book
 * stacks conv_base inside a sequential model.
 */
#ifndef IMGCLASS_MODEL_H
#define IMGCLASS_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "layer.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A new empty model. name NULL: automatic ("sequential_1" / "model_1").
 * sequential != 0 gives Keras Sequential semantics (the InputLayer is hidden from
 * layers(), summary and weight files). Caller frees. */
ic_status ic_model_create(ic_model **out, const char *name, int sequential);
void ic_model_free(ic_model *m); /* NULL ok */

/* Adds an InputLayer with per-sample shape (H, W, C) or (features). Returns its node. */
ic_status ic_model_input(ic_model *m, int ndim, const int64_t *shape, const char *name,
                         int *node);
/* Functional: node = layer(inputs). Takes ownership of layer (also on failure). */
ic_status ic_model_apply(ic_model *m, ic_layer *layer, int n_inputs, const int *inputs,
                         int *node);
/* Sequential: layer(last node). The model must already have an input.
 * Takes ownership of layer (also on failure). */
ic_status ic_model_add(ic_model *m, ic_layer *layer);
/* Marks the model's output node (default: the last node added). */
ic_status ic_model_set_output(ic_model *m, int node);

/* Wraps a model as a layer (class "Model"); the layer takes ownership of inner. */
ic_status ic_layer_from_model(ic_layer **out, ic_model *inner);
/* The model inside a layer made by ic_layer_from_model (borrowed), or NULL for any other
 * layer. */
ic_model *ic_layer_inner_model(const ic_layer *l);

const char *ic_model_name(const ic_model *m);
/* Layers as Keras lists them (model.layers); index 0.. ic_model_num_layers()-1.
 * Borrowed pointers. */
int ic_model_num_layers(const ic_model *m);
ic_layer *ic_model_layer(const ic_model *m, int i);
ic_layer *ic_model_get_layer(const ic_model *m, const char *name); /* NULL if absent */
/* Per-sample input / output shape. Returns ndim. */
int ic_model_input_shape(const ic_model *m, int64_t *shape);
int ic_model_output_shape(const ic_model *m, int64_t *shape);

/* ---- Freezing (R keras freeze_weights / unfreeze_weights) ---- */
/* Whole model. */
void ic_model_set_trainable(ic_model *m, int trainable);
int ic_model_trainable(const ic_model *m);
/* freeze_weights(from, to): model trainable, layers [from, to] frozen, the others
 * trainable. NULL from = first layer, NULL to = last. Unknown name: IC_ERR_NOT_FOUND. */
ic_status ic_model_freeze_range(ic_model *m, const char *from, const char *to);
/* unfreeze_weights(from, to): the mirror: [from, to] trainable, the others frozen. */
ic_status ic_model_unfreeze_range(ic_model *m, const char *from, const char *to);

/* The pretrained base of a transfer-learning model: the nested model (a layer made by
 * ic_layer_from_model, class Model or Sequential) named layer, or with layer NULL the first
 * one (borrowed). Errors: no such layer (IC_ERR_NOT_FOUND), a layer that is not a model
 * (IC_ERR_INVALID), no nested model at all (IC_ERR_NOT_FOUND). */
ic_status ic_model_find_base(const ic_model *m, const char *layer, ic_model **base);
/* Freezes (freeze != 0) every trainable BatchNormalization layer among m's layers, so that
 * after an unfreeze they still normalise with their moving statistics (a frozen BN runs in
 * inference mode), as Keras's transfer-learning guide advises. Returns how many it froze;
 * *n_bn (may be NULL) receives how many BN layers m has. freeze 0 only counts. */
int ic_model_freeze_batchnorm(ic_model *m, int freeze, int *n_bn);

/* ---- Weights ---- */
/* Counts as Keras model.count_params(), trainable_weights, non_trainable_weights. */
int64_t ic_model_count_params(const ic_model *m);
int64_t ic_model_count_trainable_params(const ic_model *m);
int ic_model_num_weights(const ic_model *m);           /* len(model.weights) */
int ic_model_num_trainable_weights(const ic_model *m); /* len(model.trainable_weights) */
/* The i-th weight tensor in Keras model.weights order (borrowed, read-only) and its full
 * name ("block1_conv1/kernel:0"); NULL if i is out of range. */
const ic_tensor *ic_model_weight(const ic_model *m, int i, const char **name);
/* The same tensor for writing (set_weights): each call marks that weight as changed, so
 * the next forward pass uses the new values (backends drop their converted copies of it).
 * Call it again after writing through an older pointer. */
ic_tensor *ic_model_weight_mut(ic_model *m, int i, const char **name);

/* ---- Summary ---- */
/* Prints Keras's model.summary() table. line_length 0 = 80 (R's default width, as in
 * the book); Keras Python's default is 65. */
ic_status ic_model_summary(const ic_model *m, FILE *fp, int line_length);

/* ---- Compute precision ---- */
/* Keras's mixed-precision policy ("mixed_bfloat16"), for the model as a whole:
 * IC_PRECISION_BF16 runs convolutions and dense layers (forward and both backward
 * passes) with bfloat16 inputs and float32 accumulation; weights, optimizer state,
 * activations between layers, batch norm, losses and metrics stay float32. It is
 * about twice as fast where the CPU has AVX512_BF16 or AMX, and changes results by
 * bf16 rounding (about 3 significant digits per product). */
typedef enum ic_precision {
    IC_PRECISION_FP32 = 0,
    IC_PRECISION_BF16
} ic_precision;
/* Sets the model's precision; nested models run in their parent's. BF16 on a CPU without native bf16
 * falls back to FP32 and returns IC_OK: check ic_model_precision() (the CLI prints a
 * one-line notice). Affects every later forward/fit/evaluate/predict. */
ic_status ic_model_set_precision(ic_model *m, ic_precision p);
ic_precision ic_model_precision(const ic_model *m);
/* 1 when the current backend runs p natively on this machine. */
int ic_precision_supported(ic_precision p);
/* "fp32"/"float32" and "bf16"/"bfloat16"/"mixed_bfloat16". */
ic_status ic_precision_parse(const char *s, ic_precision *out);
const char *ic_precision_name(ic_precision p); /* "fp32", "bf16" */

/* ---- Inference on a tensor ---- */
/* Forward pass in inference mode; x is (N, ...input shape). *out is a new tensor
 * (N, ...output shape) the caller frees. */
ic_status ic_model_forward(ic_model *m, const ic_tensor *x, ic_tensor **out);

/* ---- Global settings ---- */
/* Seeds weight initialisation and dropout (like tf.random.set_seed). Default 1337. */
void ic_set_random_seed(uint64_t seed);
/* Compute backend: "cpu" (oneDNN, default) or "ref" (plain C reference kernels).
 * The IC_BACKEND environment variable sets the default. */
ic_status ic_set_backend(const char *name);
const char *ic_backend_name(void);
/* Threads used by kernels. 0 = IC_NUM_THREADS or all cores. */
void ic_set_num_threads(int n);
int ic_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
