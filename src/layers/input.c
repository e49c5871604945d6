/* input.c - InputLayer: the entry node of a model; its output is the batch itself. */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

static ic_status input_build(ic_layer *l, int n_in, const ic__shape *in)
{
    (void)n_in;
    (void)in;
    return IC_OK; /* out was set at creation */
}

static ic_status input_forward(ic_layer *l, const ic__fwd_args *a) { return IC_OK; }
static ic_status input_backward(ic_layer *l, const ic__bwd_args *a) { return IC_OK; }

/* Keras 2.2.4 InputLayer.get_config(): batch_input_shape [null, ...], dtype, sparse, name
 * (no trainable). */
static ic_status input_get_config(const ic_layer *l, cJSON *c)
{
    cJSON *shape = cJSON_AddArrayToObject(c, "batch_input_shape");
    int ok = shape && cJSON_AddItemToArray(shape, cJSON_CreateNull());
    for (int i = 0; ok && i < l->out.ndim; i++) {
        cJSON *d = cJSON_CreateNumber((double)l->out.d[i]);
        ok = d && cJSON_AddItemToArray(shape, d);
        if (!ok)
            cJSON_Delete(d);
    }
    if (!ok)
        return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
    ic_status s = ic__cfg_str(IC_OK, c, "dtype", "float32");
    s = ic__cfg_bool(s, c, "sparse", 0);
    return ic__cfg_str(s, c, "name", l->name);
}

static const ic__layer_vtbl input_vt = {
    .class_name = "InputLayer",
    .build = input_build,
    .forward = input_forward,
    .backward = input_backward,
    .get_config = input_get_config,
};

ic_status ic__layer_input(ic_layer **out, const ic__shape *shape, const char *name)
{
    *out = NULL;
    if (shape->ndim < 1 || shape->ndim > 3)
        return ic_seterr(IC_ERR_SHAPE, "Input shape must have 1 to 3 dimensions, got %d",
                         shape->ndim);
    for (int i = 0; i < shape->ndim; i++)
        if (shape->d[i] < 1)
            return ic_seterr(IC_ERR_SHAPE, "Input dimension %d is %lld (must be >= 1)", i,
                             (long long)shape->d[i]);
    ic_layer *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    ic__layer_init(l, &input_vt, name, "input");
    l->out = *shape;
    l->in0 = *shape;
    l->built = 1;
    *out = l;
    return IC_OK;
}
