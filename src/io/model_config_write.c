/* model_config_write.c - models -> Keras model_config JSON.
 *
 * Writing follows Keras 2.2.4's Model.get_config(): a Sequential is
 *   {"class_name": "Sequential", "config": {"name": ..., "layers": [{"class_name", "config"}]}}
 * with batch_input_shape / dtype in the first layer's config (our hidden InputLayer); a
 * functional model is
 *   {"class_name": "Model", "config": {"name", "layers": [{"name", "class_name", "config",
 *    "inbound_nodes": [[["input_1", 0, 0, {}]]]}], "input_layers": [["input_1", 0, 0]],
 *    "output_layers": [["block5_pool", 0, 0]]}}.
 * A nested model is a layer whose config is the inner model's config. Each layer writes
 * its own fields (vtable get_config); trainable flags are part of every layer's config,
 * and, as an imgclass addition Keras ignores, of every model's config. The reader is
 * model_config.c.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "core/core.h"
#include "io/io_impl.h"

static ic_status nomem(void)
{
    return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
}

static ic_status model_body(const ic_model *m, cJSON *cfg);

/* [name, 0, 0] (+ {} for inbound nodes). */
static cJSON *tensor_ref(const char *name, int with_kwargs)
{
    cJSON *r = cJSON_CreateArray();
    if (!r)
        return NULL;
    int ok = cJSON_AddItemToArray(r, cJSON_CreateString(name)) &&
             cJSON_AddItemToArray(r, cJSON_CreateNumber(0)) &&
             cJSON_AddItemToArray(r, cJSON_CreateNumber(0)) &&
             (!with_kwargs || cJSON_AddItemToArray(r, cJSON_CreateObject()));
    if (!ok) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* Adds batch_input_shape and dtype (from the hidden InputLayer `in`) right after
 * name/trainable, where Keras 2.2.4 has them in a Sequential's first layer. */
static ic_status first_layer_shape(const ic_layer *in, cJSON *c)
{
    cJSON *tmp = cJSON_CreateObject();
    if (!tmp)
        return nomem();
    ic_status s = in->vt->get_config(in, tmp); /* batch_input_shape, dtype, sparse, name */
    /* Detached items keep their keys. */
    cJSON *shape = cJSON_DetachItemFromObjectCaseSensitive(tmp, "batch_input_shape");
    cJSON *dtype = cJSON_DetachItemFromObjectCaseSensitive(tmp, "dtype");
    cJSON_Delete(tmp);
    if (s || !shape || !dtype) {
        cJSON_Delete(shape);
        cJSON_Delete(dtype);
        return s ? s : nomem();
    }
    /* Splice after "trainable" by moving the later items to the end behind the two new
     * ones (cJSON_InsertItemInArray of Debian's 1.7.15 refuses non-head positions).
     * Detached items keep their keys; adding to a list allocates nothing. */
    cJSON *it = c->child;
    while (it && !(it->string && !strcmp(it->string, "trainable")))
        it = it->next;
    cJSON *rest = it ? it->next : NULL;
    cJSON_AddItemToArray(c, shape);
    cJSON_AddItemToArray(c, dtype);
    while (rest && rest != shape) {
        cJSON *next = rest->next;
        cJSON_AddItemToArray(c, cJSON_DetachItemViaPointer(c, rest));
        rest = next;
    }
    return IC_OK;
}

/* One entry of "layers". */
static ic_status layer_entry(const ic_model *m, int node, cJSON *layers, int first_seq)
{
    const ic_layer *l = m->nodes[node].layer;
    if (!l->vt->get_config)
        return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s) has no config writer", l->name,
                         l->vt->class_name);
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddItemToArray(layers, e)) {
        cJSON_Delete(e);
        return nomem();
    }
    if (!m->sequential && !cJSON_AddStringToObject(e, "name", l->name))
        return nomem();
    if (!cJSON_AddStringToObject(e, "class_name", l->vt->class_name))
        return nomem();
    cJSON *c = cJSON_AddObjectToObject(e, "config");
    if (!c)
        return nomem();
    ic_status s = l->vt->get_config(l, c);
    if (!s && l->inner)
        s = model_body(l->inner, c);
    if (!s && first_seq && !l->inner)
        s = first_layer_shape(m->nodes[m->input_node].layer, c);
    if (s || m->sequential)
        return s;
    cJSON *nodes = cJSON_AddArrayToObject(e, "inbound_nodes");
    if (!nodes)
        return nomem();
    const ic__node *nd = &m->nodes[node];
    if (nd->n_in == 0)
        return IC_OK;
    cJSON *call = cJSON_CreateArray();
    if (!call || !cJSON_AddItemToArray(nodes, call)) {
        cJSON_Delete(call);
        return nomem();
    }
    for (int i = 0; i < nd->n_in; i++) {
        cJSON *r = tensor_ref(m->nodes[nd->in[i]].layer->name, 1);
        if (!r || !cJSON_AddItemToArray(call, r)) {
            cJSON_Delete(r);
            return nomem();
        }
    }
    return IC_OK;
}

/* [[name, 0, 0]] */
static ic_status add_refs(cJSON *cfg, const char *key, const char *name)
{
    cJSON *a = cJSON_AddArrayToObject(cfg, key);
    cJSON *r = a ? tensor_ref(name, 0) : NULL;
    if (!r || !cJSON_AddItemToArray(a, r)) {
        cJSON_Delete(r);
        return nomem();
    }
    return IC_OK;
}

/* The inner part of a model's config: layers (+ input_layers / output_layers). The
 * name (and trainable) are written by the caller. */
static ic_status model_body(const ic_model *m, cJSON *cfg)
{
    if (m->input_node < 0 || m->n_nodes < 2)
        return ic_seterr(IC_ERR_INVALID, "model '%s' has no input or no layers", m->name);
    if (m->sequential && m->input_node != 0)
        return ic_seterr(IC_ERR_INTERNAL, "sequential model '%s': input is not node 0", m->name);
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    if (!layers)
        return nomem();
    ic_status s = IC_OK;
    for (int i = m->sequential ? 1 : 0; !s && i < m->n_nodes; i++)
        s = layer_entry(m, i, layers, m->sequential && i == 1);
    if (s || m->sequential)
        return s;
    s = add_refs(cfg, "input_layers", m->nodes[m->input_node].layer->name);
    if (!s)
        s = add_refs(cfg, "output_layers", m->nodes[ic__model_out_node(m)].layer->name);
    return s;
}

ic_status ic__model_to_config(const ic_model *m, char **json)
{
    *json = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *cfg = NULL;
    ic_status s = IC_OK;
    if (!root ||
        !cJSON_AddStringToObject(root, "class_name", m->sequential ? "Sequential" : "Model") ||
        !(cfg = cJSON_AddObjectToObject(root, "config")) ||
        !cJSON_AddStringToObject(cfg, "name", m->name) ||
        !cJSON_AddBoolToObject(cfg, "trainable", m->trainable))
        s = nomem();
    if (!s)
        s = model_body(m, cfg);
    char *text = s ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (s)
        return ic__errctx(s, "model '%s': writing model_config", m->name);
    if (!text)
        return nomem();
    *json = ic__strdup(text);
    cJSON_free(text);
    return *json ? IC_OK : IC_ERR_NOMEM;
}
