/* train_head.c - a model's head as a model of its own (see train_head.h).
 *
 * The layers are rebuilt from the model's own config (io/config.c writes it, and reads a
 * layer back through the public constructors), so any head the library can load works:
 * the one `imgclass train --base` adds, or a Keras Sequential model's, with a Dropout or
 * a pooling layer in it. Copying by weight name rather than by position, because
 * model.weights lists trainable weights first (Keras's order), so a frozen base's weights
 * come after the head's. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "io/io_impl.h"
#include "train_head.h"

void tr_head_free(tr_head *h)
{
    ic_model_free(h->model);
    free(h->mi);
    memset(h, 0, sizeof *h);
}

/* Adds the layers of m's Sequential config after the first (the base) to head. */
static ic_status add_layers(ic_model *m, ic_model *head)
{
    char *json = NULL;
    ic_status s = ic__model_to_config(m, &json);
    if (s)
        return s;
    cJSON *root = cJSON_Parse(json);
    ic__free(json);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
    if (!root)
        s = ic_seterr(IC_ERR_NOMEM, "out of memory reading the model config");
    else if (!cJSON_IsString(cls) || strcmp(cls->valuestring, "Sequential"))
        s = ic_seterr(IC_ERR_UNSUPPORTED, "model '%s' is not Sequential", ic_model_name(m));
    else if (cJSON_GetArraySize(layers) != ic_model_num_layers(m))
        s = ic_seterr(IC_ERR_INTERNAL, "model '%s': its config lists %d layers, the model %d",
                      ic_model_name(m), cJSON_GetArraySize(layers), ic_model_num_layers(m));
    for (int i = 1; !s && i < cJSON_GetArraySize(layers); i++) {
        const cJSON *e = cJSON_GetArrayItem(layers, i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class_name");
        ic_layer *l;
        s = ic__layer_from_config(cJSON_IsString(c) ? c->valuestring : NULL,
                                  cJSON_GetObjectItemCaseSensitive(e, "config"), &l);
        if (!s)
            s = ic_model_add(head, l);
    }
    cJSON_Delete(root);
    return s;
}

/* The index of m's weight named name, when exactly one has that name; else -1. */
static int weight_named(const ic_model *m, const char *name)
{
    int found = -1, count = 0;
    for (int k = 0; k < ic_model_num_weights(m); k++) {
        const char *n;
        ic_model_weight(m, k, &n);
        if (!strcmp(n, name)) {
            found = k;
            count++;
        }
    }
    return count == 1 ? found : -1;
}

ic_status tr_head_create(ic_model *m, tr_head *out)
{
    memset(out, 0, sizeof *out);
    ic_layer *first = ic_model_num_layers(m) > 1 ? ic_model_layer(m, 0) : NULL;
    ic_model *base = first ? ic_layer_inner_model(first) : NULL;
    if (!base)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "model '%s': its first layer is not a nested model, or nothing follows",
                         ic_model_name(m));
    int64_t shape[IC_MAX_DIMS];
    int nd = ic_model_output_shape(base, shape), node;
    /* an explicit input name: an automatic one would advance the global "input" counter */
    ic_status s = ic_model_create(&out->model, "head", 1);
    if (!s)
        s = ic_model_input(out->model, nd, shape, "head_input", &node);
    if (!s)
        s = add_layers(m, out->model);
    int n = s ? 0 : ic_model_num_weights(out->model);
    if (!s && !(out->mi = calloc((size_t)n + 1, sizeof *out->mi)))
        s = ic_seterr(IC_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < n; i++) {
        const char *nm;
        char name[320]; /* ic_model_weight's name buffer is reused by the next call */
        ic_model_weight(out->model, i, &nm);
        snprintf(name, sizeof name, "%s", nm);
        if ((out->mi[i] = weight_named(m, name)) < 0)
            s = ic_seterr(IC_ERR_UNSUPPORTED, "model '%s': no single weight named %s",
                          ic_model_name(m), name);
    }
    if (s) {
        tr_head_free(out);
        return s;
    }
    out->base = base;
    out->owner = m;
    out->n = n;
    return IC_OK;
}

ic_status tr_head_sync(tr_head *h, int to_model)
{
    /* Tensors are fetched again for every copy: ic_model_weight marks the weight it hands
     * out as changed, so the destination's backends drop converted copies of old values. */
    for (int i = 0; i < h->n; i++) {
        ic_tensor *hw = ic_model_weight(h->model, i, NULL);
        ic_tensor *mw = ic_model_weight(h->owner, h->mi[i], NULL);
        ic_status s = !hw || !mw ? ic_seterr(IC_ERR_INTERNAL, "head weight %d vanished", i)
                      : to_model ? ic_tensor_copy(mw, hw)
                                 : ic_tensor_copy(hw, mw);
        if (s)
            return s;
    }
    return IC_OK;
}
