/* layer.h - Keras layers.
 *
 * Every constructor returns a new layer owned by the caller until it is added to a
 * model (ic_model_add / ic_model_apply), after which the model owns it and frees it.
 * A layer belongs to at most one model. A NULL or empty name asks for Keras's
 * automatic name (snake_case class name + "_" + a per-process counter: conv2d_1,
 * dense_2, ...; ic_reset_uids() restarts the counters like K.clear_session()).
 * Shapes are per sample, without the batch dimension: (H, W, C) or (features).
 */
#ifndef IMGCLASS_LAYER_H
#define IMGCLASS_LAYER_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ic_layer ic_layer;
typedef struct ic_model ic_model;

typedef enum ic_activation {
    IC_ACT_LINEAR = 0,
    IC_ACT_RELU,
    IC_ACT_RELU6,
    IC_ACT_SIGMOID,
    IC_ACT_SOFTMAX,
    IC_ACT_TANH
} ic_activation;

typedef enum ic_padding { IC_PAD_VALID = 0, IC_PAD_SAME } ic_padding;

/* Parses "relu", "linear", ... (Keras names). */
ic_status ic_activation_parse(const char *name, ic_activation *out);
const char *ic_activation_name(ic_activation a);

/* ---- Conv2D / DepthwiseConv2D ---- */
typedef struct ic_conv2d_opts {
    int filters;                /* Conv2D only */
    int kernel_h, kernel_w;
    int stride_h, stride_w;     /* default 1 */
    ic_padding padding;         /* default valid */
    int use_bias;               /* default 1 */
    ic_activation activation;   /* default linear */
    int depth_multiplier;       /* DepthwiseConv2D only, default 1 */
    const char *name;
} ic_conv2d_opts;
ic_conv2d_opts ic_conv2d_opts_default(int filters, int kernel_h, int kernel_w);
ic_status ic_layer_conv2d(ic_layer **out, const ic_conv2d_opts *o);
/* DepthwiseConv2D: o->filters is ignored; output channels = in * depth_multiplier. */
ic_status ic_layer_depthwise_conv2d(ic_layer **out, const ic_conv2d_opts *o);

/* ---- Pooling ---- */
typedef struct ic_pool2d_opts {
    int pool_h, pool_w;         /* default 2x2 */
    int stride_h, stride_w;     /* 0 = pool size (Keras strides=None) */
    ic_padding padding;         /* default valid */
    const char *name;
} ic_pool2d_opts;
ic_pool2d_opts ic_pool2d_opts_default(void);
/* Pooling and BatchNormalization constructors accept NULL opts (the defaults). */
ic_status ic_layer_max_pooling2d(ic_layer **out, const ic_pool2d_opts *o);
ic_status ic_layer_average_pooling2d(ic_layer **out, const ic_pool2d_opts *o);
ic_status ic_layer_global_average_pooling2d(ic_layer **out, const char *name);
ic_status ic_layer_global_max_pooling2d(ic_layer **out, const char *name);

/* ---- Core ---- */
ic_status ic_layer_flatten(ic_layer **out, const char *name);
ic_status ic_layer_dense(ic_layer **out, int units, ic_activation act, int use_bias,
                         const char *name);
/* Inverted dropout, active only in training; masks derive from the global seed
 * (ic_set_random_seed), the layer name and the training step. */
ic_status ic_layer_dropout(ic_layer **out, float rate, const char *name);
ic_status ic_layer_activation(ic_layer **out, ic_activation act, const char *name);
/* Keras ReLU layer: min(max(x, 0), max_value) (max_value <= 0: no cap). */
ic_status ic_layer_relu(ic_layer **out, float max_value, const char *name);
ic_status ic_layer_zero_padding2d(ic_layer **out, int top, int bottom, int left, int right,
                                  const char *name);

/* ---- BatchNormalization (axis -1) ---- */
typedef struct ic_batchnorm_opts {
    float momentum; /* 0.99 */
    float epsilon;  /* 1e-3 */
    int center;     /* 1: has beta */
    int scale;      /* 1: has gamma */
    const char *name;
} ic_batchnorm_opts;
ic_batchnorm_opts ic_batchnorm_opts_default(void);
ic_status ic_layer_batch_normalization(ic_layer **out, const ic_batchnorm_opts *o);

/* ---- Merge ---- */
ic_status ic_layer_add(ic_layer **out, const char *name);
/* Concatenate along the channel (last) axis. */
ic_status ic_layer_concatenate(ic_layer **out, const char *name);

/* ---- Common accessors ---- */
void ic_layer_free(ic_layer *l); /* only for a layer never added to a model; NULL ok */
const char *ic_layer_name(const ic_layer *l);
const char *ic_layer_class_name(const ic_layer *l); /* Keras class: "Conv2D", ... */
int ic_layer_trainable(const ic_layer *l);
void ic_layer_set_trainable(ic_layer *l, int trainable);
/* Number of weight tensors (Keras len(layer.weights)) and their parameters. */
int ic_layer_num_weights(const ic_layer *l);
int64_t ic_layer_count_params(const ic_layer *l);

/* Restarts the automatic-name counters (Keras K.clear_session()). */
void ic_reset_uids(void);

#ifdef __cplusplus
}
#endif
#endif
