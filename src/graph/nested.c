/* nested.c - a model used as a layer of another model (Keras: a Network is a Layer),
 * as the book stacks conv_base inside a sequential model. The layer's state is a plan of
 * the inner model for the outer batch size. */
#include <string.h>

#include "graph.h"

static ic_status nested_build(ic_layer *l, int n_in, const ic__shape *in)
{
    char a[80], b[80];
    ic_model *m = l->inner;
    if (n_in != 1)
        return ic_seterr(IC_ERR_INVALID, "nested model '%s' takes 1 input, got %d", l->name, n_in);
    const ic__shape *want = &m->nodes[m->input_node].layer->out;
    if (!ic__shape_eq(want, &in[0]))
        return ic_seterr(IC_ERR_SHAPE, "nested model '%s' expects input %s, got %s", l->name,
                         ic__shape_fmt(want, a, sizeof a), ic__shape_fmt(&in[0], b, sizeof b));
    l->out = *ic__model_out_shape(m);
    return IC_OK;
}

static ic_status nested_state_create(ic_layer *l, const ic__backend *be, int64_t batch,
                                     void **state)
{
    return ic__plan_create(l->inner, batch, be, (ic__plan **)state);
}

static void nested_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    ic__plan_free(state);
}

static ic_status nested_forward(ic_layer *l, const ic__fwd_args *a)
{
    ic__plan *p = a->state;
    ic__run_ctx rc = {a->training, a->bn_frozen_batch_stats, a->step};
    ic_status s = ic__plan_forward(p, a->in[0]->data, &rc);
    if (s)
        return s;
    return ic_tensor_copy(a->out, ic__plan_output(p));
}

static ic_status nested_backward(ic_layer *l, const ic__bwd_args *a)
{
    return ic__plan_backward(a->state, a->diff_out->data, a->diff_in[0] ? a->diff_in[0]->data : NULL);
}

static void nested_destroy(ic_layer *l)
{
    if (l->inner) {
        l->inner->wrapper = NULL;
        ic_model_free(l->inner);
    }
}

/* The wrapper's part of a nested model's config: "name" and its "trainable" flag (not in
 * Keras's Network.get_config, which Keras ignores when reading). src/io/model_config_write.c adds
 * the inner model's layers, input_layers and output_layers. */
static ic_status nested_get_config(const ic_layer *l, struct cJSON *config)
{
    return ic__cfg_base(l, config);
}

static const ic__layer_vtbl model_vt = {"Model", nested_build, nested_state_create,
                                        nested_state_free, nested_forward, nested_backward,
                                        nested_destroy, nested_get_config};
static const ic__layer_vtbl seq_vt = {"Sequential", nested_build, nested_state_create,
                                      nested_state_free, nested_forward, nested_backward,
                                      nested_destroy, nested_get_config};

ic_status ic_layer_from_model(ic_layer **out, ic_model *inner)
{
    *out = NULL;
    if (!inner || inner->wrapper)
        return ic_seterr(IC_ERR_INVALID, "model is NULL or already used as a layer");
    if (inner->input_node < 0 || inner->n_nodes < 2)
        return ic_seterr(IC_ERR_INVALID, "model '%s' has no input or no layers", inner->name);
    ic_layer *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    ic__layer_init(l, inner->sequential ? &seq_vt : &model_vt, inner->name, "model");
    l->inner = inner;
    l->trainable = inner->trainable;
    inner->wrapper = l;
    ic__model_drop_plans(inner); /* the outer plan owns the inner plans from now on */
    *out = l;
    return IC_OK;
}

ic_model *ic_layer_inner_model(const ic_layer *l) { return l ? l->inner : NULL; }

ic_status ic_model_find_base(const ic_model *m, const char *layer, ic_model **base)
{
    if (!m || !base)
        return ic_seterr(IC_ERR_INVALID, "ic_model_find_base: NULL model or output");
    *base = NULL;
    if (layer) {
        ic_layer *l = ic_model_get_layer(m, layer);
        if (!l)
            return ic_seterr(IC_ERR_NOT_FOUND, "model '%s' has no layer '%s'", m->name, layer);
        if (!(*base = l->inner))
            return ic_seterr(IC_ERR_INVALID, "layer '%s' is a %s, not a nested model", layer,
                             ic_layer_class_name(l));
        return IC_OK;
    }
    for (int i = 0; i < ic_model_num_layers(m) && !*base; i++)
        *base = ic_model_layer(m, i)->inner;
    if (!*base)
        return ic_seterr(IC_ERR_NOT_FOUND,
                         "model '%s' has no nested base model (a layer of class Model or "
                         "Sequential)",
                         m->name);
    return IC_OK;
}
