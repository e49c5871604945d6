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

/* The InputLayer (src/layers/input.c). */
ic_status ic__layer_input(ic_layer **out, const ic__shape *shape, const char *name);

#endif
