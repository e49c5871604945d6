/* layer_impl.h - what every layer family implements (private).
 *
 * A layer is a small function table plus a private struct whose first member is the
 * common header `struct ic_layer`. Shapes handed to build() are per sample (no batch).
 * Per-batch-size state (backend op handles, masks, saved statistics) lives in a
 * `state` object that the execution plan creates with state_create() and owns, so one
 * layer can serve plans of different batch sizes (the last partial batch).
 */
#ifndef IC_LAYER_IMPL_H
#define IC_LAYER_IMPL_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/core.h"
#include "imgclass/layer.h"
#include "imgclass/tensor.h"

#define IC__MAX_LAYER_PARAMS 4

struct cJSON; /* <cjson/cJSON.h>; only get_config / from_config implementations include it */

typedef struct ic__shape {
    int ndim; /* per sample: 3 for (H, W, C), 1 for (features) */
    int64_t d[IC_MAX_DIMS];
} ic__shape;

/* One weight tensor of a layer (Keras variable). */
typedef struct ic__param {
    char name[32];       /* short Keras name: "kernel", "bias", "gamma", "moving_mean", ... */
    ic_tensor value;     /* owned storage (value.data from ic__malloc_aligned) */
    float *grad;         /* same size; allocated by the plan on first backward */
    int always_frozen;   /* BN moving statistics: never trainable */
    uint64_t version;    /* changes whenever value changes (ic__next_version) */
} ic__param;

typedef struct ic__fwd_args {
    const ic__backend *be;
    void *state;
    int n_in;
    const ic_tensor *const *in; /* (batch, ...) */
    ic_tensor *out;             /* (batch, ...out_shape), preallocated */
    int training;               /* fit(): dropout on; BN batch stats if trainable */
    int trainable;              /* the layer is effectively trainable now */
    int bn_frozen_batch_stats;  /* compile option: frozen BN still uses batch stats */
    uint64_t step;              /* training step counter (dropout masks) */
} ic__fwd_args;

typedef struct ic__bwd_args {
    const ic__backend *be;
    void *state;
    int n_in;
    const ic_tensor *const *in;
    const ic_tensor *out;
    const ic_tensor *diff_out;  /* gradient of the loss w.r.t. out */
    ic_tensor *const *diff_in;  /* entries NULL where that input needs no gradient;
                                   non-NULL ones are overwritten */
    int weight_grads;           /* write gradients of params into param->grad */
    float *scratch;             /* at least numel(out) floats the layer may use */
} ic__bwd_args;

typedef struct ic__layer_vtbl {
    const char *class_name; /* Keras class: "Conv2D", "InputLayer", ... */
    /* Shape inference; creates and initialises params (glorot etc.) the first time.
     * in: per-sample input shapes. Sets l->out. Errors name the layer and shapes. */
    ic_status (*build)(ic_layer *l, int n_in, const ic__shape *in);
    /* Per-batch state (may set *state = NULL when the layer needs none). */
    ic_status (*state_create)(ic_layer *l, const ic__backend *be, int64_t batch, void **state);
    void (*state_free)(ic_layer *l, const ic__backend *be, void *state);
    ic_status (*forward)(ic_layer *l, const ic__fwd_args *a);
    ic_status (*backward)(ic_layer *l, const ic__bwd_args *a);
    /* Frees the private part (params are freed by the common code). May be NULL. */
    void (*destroy)(ic_layer *l);
    /* Writes Keras 2.2.4's layer.get_config() fields (name, trainable, then the class's
     * options, with Keras's names and value forms) into the JSON object config. The
     * inverse is the class's from_config, found through layer_registry.c. IC_ERR_NOMEM
     * only. */
    ic_status (*get_config)(const ic_layer *l, struct cJSON *config);
} ic__layer_vtbl;

struct ic_layer {
    const ic__layer_vtbl *vt;
    char name[128];
    int trainable;        /* the layer's own flag (Keras layer.trainable) */
    int built;
    int n_in;             /* inputs seen at build time */
    ic__shape in0;        /* shape of the first input, per sample */
    ic__shape out;        /* per-sample output shape, set by build */
    int n_params;
    ic__param *params[IC__MAX_LAYER_PARAMS];
    ic_model *owner;      /* the model that owns this layer (NULL before adding) */
    ic_model *inner;      /* set for a nested model used as a layer */
};

/* Initialises the common header; name NULL/"" picks Keras's automatic name from
 * auto_prefix (e.g. "conv2d" -> "conv2d_3"). */
void ic__layer_init(ic_layer *l, const ic__layer_vtbl *vt, const char *name,
                    const char *auto_prefix);
/* Adds a param of the given shape to l (zero-filled). */
ic_status ic__layer_add_param(ic_layer *l, const char *name, int ndim, const int64_t *shape,
                              int always_frozen, ic__param **out);
/* Keras initialisers, drawing from the global init stream. */
void ic__init_glorot_uniform(ic__param *p, int64_t fan_in, int64_t fan_out);
void ic__init_const(ic__param *p, float v);
/* Output spatial size for Keras padding; fills TF's (before, after) padding amounts. */
int64_t ic__conv_out_len(int64_t in, int k, int stride, ic_padding pad, int *before, int *after);
/* Maps the public activation enum to the backend's (softmax has no backend act). */
ic__act ic__act_from_public(ic_activation a);
/* The activation of Conv2D and Dense: relu/relu6/sigmoid/tanh are fused into the
 * forward primitive and need an eltwise op for the backward pass (from dst); softmax is
 * applied after the primitive over the last axis (rows x cols). */
typedef struct ic__act_ops {
    ic__op *eltwise;
    ic__op *softmax;
} ic__act_ops;
ic_status ic__act_ops_create(ic__act_ops *o, const ic__backend *be, ic_activation act,
                             int64_t rows, int64_t cols);
void ic__act_ops_free(ic__act_ops *o, const ic__backend *be);
/* After the primitive's forward: softmax in place (no-op otherwise). */
ic_status ic__act_ops_fwd(const ic__act_ops *o, const ic__backend *be, float *dst);
/* Sets *dpre to the gradient w.r.t. the pre-activation output: diff_out itself for a
 * linear activation, else computed into scratch from the stored output. */
ic_status ic__act_ops_bwd(const ic__act_ops *o, const ic__backend *be, const float *diff_out,
                          const float *out, float *scratch, const float **dpre);
/* Shape helpers. */
int ic__shape_eq(const ic__shape *a, const ic__shape *b);
char *ic__shape_fmt(const ic__shape *s, char *buf, size_t size); /* "(None, 4, 4, 512)" */
int64_t ic__shape_numel(const ic__shape *s);
/* Errors if the input is not (H, W, C); names the layer. */
ic_status ic__expect_hwc(const ic_layer *l, int n_in, const ic__shape *in);
/* The layer is trainable now: own flag, and every enclosing model trainable. */
int ic__layer_effective_trainable(const ic_layer *l);
/* Frees a layer (params, private part, nested model). */
void ic__layer_destroy(ic_layer *l);

/* ---- get_config helpers (layer_config.c) ----
 * Each takes the status so far and does nothing unless it is IC_OK, so a get_config is a
 * chain of calls ending in `return s;`. A failed cJSON allocation gives IC_ERR_NOMEM. */
/* Keras Layer.get_config(): "name", "trainable". */
ic_status ic__cfg_base(const ic_layer *l, struct cJSON *c);
ic_status ic__cfg_int(ic_status s, struct cJSON *c, const char *key, int64_t v);
/* A float32 option written as the shortest decimal that reads back to the same float
 * (0.99f -> 0.99, as Python writes Keras's defaults). */
ic_status ic__cfg_float(ic_status s, struct cJSON *c, const char *key, float v);
ic_status ic__cfg_bool(ic_status s, struct cJSON *c, const char *key, int v);
ic_status ic__cfg_str(ic_status s, struct cJSON *c, const char *key, const char *v);
ic_status ic__cfg_null(ic_status s, struct cJSON *c, const char *key);
ic_status ic__cfg_pair(ic_status s, struct cJSON *c, const char *key, int64_t a, int64_t b);
/* A value given as JSON text (initializer objects). */
ic_status ic__cfg_json(ic_status s, struct cJSON *c, const char *key, const char *json);
/* Keras 2.2.4 serialisations of the initializers used here. */
#define IC__CFG_GLOROT_UNIFORM                                                             \
    "{\"class_name\":\"VarianceScaling\",\"config\":{\"scale\":1.0,\"mode\":\"fan_avg\","     \
    "\"distribution\":\"uniform\",\"seed\":null}}"
#define IC__CFG_ZEROS "{\"class_name\":\"Zeros\",\"config\":{}}"
#define IC__CFG_ONES "{\"class_name\":\"Ones\",\"config\":{}}"

/* ---- from_config (layer_config_read.c, layer_registry.c) ----
 * Each layer file defines the from_config of its classes next to their get_config: it
 * reads the Keras config through the helpers below and builds the layer with the public
 * constructor. The common fields (name, trainable, dtype) are handled by the caller
 * (ic__layer_from_config in src/io/model_config.c). */
typedef struct ic__cfg_rd {
    const char *name;        /* the layer's name, "" when the config has none */
    const char *cls;         /* the class name as the file spells it */
    const struct cJSON *cfg; /* the config object */
} ic__cfg_rd;
typedef ic_status (*ic__from_config_fn)(const ic__cfg_rd *r, ic_layer **out);
/* One readable Keras class; alias marks another spelling of the class before it
 * ("Convolution2D" for "Conv2D"). */
typedef struct ic__layer_reader {
    const char *cls;
    ic__from_config_fn from_config;
    int alias;
} ic__layer_reader;
/* The reader of a class, NULL when the class is not supported. */
const ic__layer_reader *ic__layer_reader_find(const char *cls);
/* The whole table (*n entries), in the order error messages list the classes. */
const ic__layer_reader *ic__layer_readers(int *n);

/* The field (NULL when absent). */
const struct cJSON *ic__rd_field(const ic__cfg_rd *r, const char *key);
/* IC_ERR_FORMAT "layer 'x' (Cls): field 'key' must be <want>, got <value>". */
ic_status ic__rd_bad(const ic__cfg_rd *r, const char *key, const char *want);
/* A number with an integral value of magnitude below 1e9. */
int ic__json_is_int(const struct cJSON *v);
/* Integer field; def is used when absent, which is an error when def_ok is 0. */
ic_status ic__rd_int(const ic__cfg_rd *r, const char *key, int def_ok, int def, int *out);
ic_status ic__rd_float(const ic__cfg_rd *r, const char *key, float def, float *out);
/* true/false, or an integer (0 = false). */
ic_status ic__rd_bool(const ic__cfg_rd *r, const char *key, int def, int *out);
/* An int or a list of two ints (kernel_size, strides, pool_size). */
ic_status ic__rd_pair(const ic__cfg_rd *r, const char *key, int def_ok, int def, int *a, int *b);
/* "valid" (also when absent) or "same". */
ic_status ic__rd_padding(const ic__cfg_rd *r, ic_padding *out);
/* An activation name; absent (unless required) or null is linear. */
ic_status ic__rd_activation(const ic__cfg_rd *r, int required, ic_activation *out);
/* data_format absent, null or "channels_last" (a channels_first model is converted before
 * its layers are read, src/io/channels_first.c). */
ic_status ic__rd_channels_last(const ic__cfg_rd *r);
/* A field that must be null or absent for the layer to mean what is computed here. */
ic_status ic__rd_null(const ic__cfg_rd *r, const char *key);
/* Regularizers and constraints change only training and are not implemented: a
 * non-null one is logged as ignored. */
void ic__rd_warn_ignored(const ic__cfg_rd *r);
/* axis -1, or a positive int / [int] that the model builder checks against the input
 * rank once the layer is built. */
ic_status ic__rd_axis(const ic__cfg_rd *r);
/* dtype absent, null, "float32", or a Keras 3 / mixed-precision policy object
 * {"class_name": "DTypePolicy"|"Policy", "config": {"name": "float32"}}. */
int ic__cfg_dtype_ok(const struct cJSON *dt);

/* The InputLayer (src/layers/input.c). */
ic_status ic__layer_input(ic_layer **out, const ic__shape *shape, const char *name);

#endif
