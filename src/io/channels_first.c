/* channels_first.c - Keras models saved with data_format channels_first, converted to
 * this library's layout while the model is built from its config.
 *
 * Keras kernels are HWIO for both data formats, so only the layout of activations
 * changes: the input shape (C, H, W) becomes (H, W, C), data_format becomes
 * channels_last, BatchNormalization / Concatenate axis 1 becomes -1, and a Flatten that
 * flattened in C, H, W order (Keras 2.0's Flatten without data_format, or an explicit
 * channels_last one) marks its output so that the Dense reading it gets its kernel rows
 * permuted after loading (ic__keras_build.fix). Anything else that depends on the order
 * is refused with the layer's name. Only done when a Keras loader asks for it by passing
 * an ic__keras_build; the state of one model's conversion is an ic__cf_ctx that the
 * model builder (model_config.c) passes to every call.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "io/io_impl.h"

static int df_is(const cJSON *cfg, const char *v)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "data_format");
    return cJSON_IsString(d) && !strcmp(d->valuestring, v);
}

ic_status ic__cf_init(ic__cf_ctx *x, ic__keras_build *kb, const cJSON *layers, int cap)
{
    memset(x, 0, sizeof *x);
    x->kb = kb;
    const cJSON *e;
    cJSON_ArrayForEach(e, layers)
    {
        if (df_is(cJSON_GetObjectItemCaseSensitive(e, "config"), "channels_first"))
            x->cf = 1;
    }
    if (!x->cf || !kb) {
        x->cf = 0; /* unconverted: the layer's ic__rd_channels_last names it */
        return IC_OK;
    }
    x->cap = cap;
    x->tag = ic__calloc((size_t)cap, sizeof *x->tag);
    return x->tag ? IC_OK : IC_ERR_NOMEM;
}

void ic__cf_free(ic__cf_ctx *x)
{
    ic__free(x->tag);
    x->tag = NULL;
}

/* (C, H, W) -> (H, W, C) for an image input of a converted model. */
void ic__cf_input(const ic__cf_ctx *x, int nd, int64_t *shape)
{
    if (!x->cf || nd != 3)
        return;
    int64_t c = shape[0];
    shape[0] = shape[1];
    shape[1] = shape[2];
    shape[2] = c;
}

static ic_status set_field(cJSON *dup, const char *key, cJSON *v)
{
    if (!v)
        return IC_ERR_NOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(dup, key);
    if (!cJSON_AddItemToObject(dup, key, v)) {
        cJSON_Delete(v);
        return IC_ERR_NOMEM;
    }
    return IC_OK;
}

ic_status ic__cf_layer(const ic__cf_ctx *x, const ic_model *m, const char *cls, const char *name,
                       const cJSON *cfg, const int *ins, int k, cJSON **dup, int *after)
{
    *dup = NULL;
    *after = IC__CF_NONE;
    if (!x->cf)
        return IC_OK;
    const ic__shape *in = &m->nodes[ins[0]].layer->out;
    int rank = in->ndim;
    for (int j = 0; j < k; j++) {
        if (!x->tag[ins[j]][0])
            continue;
        if (k == 1 &&
            (!strcmp(cls, "Dropout") || !strcmp(cls, "Activation") || !strcmp(cls, "ReLU"))) {
            *after = IC__CF_PASS;
            return IC_OK;
        }
        if (k == 1 && !strcmp(cls, "Dense")) {
            *after = IC__CF_DENSE;
            return IC_OK;
        }
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): cannot convert this channels_first model: the layer "
                         "reads features flattened in channels-first order (only Dense, "
                         "Dropout, Activation and ReLU can follow such a Flatten)",
                         name, cls);
    }
    const cJSON *df = cJSON_GetObjectItemCaseSensitive(cfg, "data_format");
    int first = df_is(cfg, "channels_first");
    if (!strcmp(cls, "Flatten")) {
        if (rank == 3 && !first && in->d[2] > 1 && in->d[0] * in->d[1] > 1)
            *after = IC__CF_FLATTEN;
    } else if (cJSON_IsString(df) && !first && rank == 3) {
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): data_format '%s' inside a channels_first model "
                         "(mixed data formats cannot be converted)",
                         name, cls, df->valuestring);
    }
    int axis_layer = !strcmp(cls, "BatchNormalization") || !strcmp(cls, "Concatenate");
    int ax = 0;
    if (axis_layer && rank == 3) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "axis");
        if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
            v = cJSON_GetArrayItem(v, 0);
        ax = cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
        if (ax != 1)
            return ic_seterr(IC_ERR_UNSUPPORTED,
                             "layer '%s' (%s): axis %d of a channels_first model is not the "
                             "channel axis (1); it cannot be converted",
                             name, cls, ax);
    }
    if (!strcmp(cls, "Dense") && rank == 3)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (Dense): applied to a channels_first feature map (over its "
                         "width axis), which cannot be converted",
                         name);
    if (!first && ax != 1)
        return IC_OK;
    cJSON *d = cJSON_Duplicate(cfg, 1);
    ic_status s = d ? IC_OK : IC_ERR_NOMEM;
    if (!s && first)
        s = set_field(d, "data_format", cJSON_CreateString("channels_last"));
    if (!s && ax == 1)
        s = set_field(d, "axis", cJSON_CreateNumber(-1));
    if (s) {
        cJSON_Delete(d);
        return s;
    }
    *dup = d;
    return IC_OK;
}

ic_status ic__cf_after(ic__cf_ctx *x, int after, int node, int in0, const ic_layer *l)
{
    if (!x->cf || after == IC__CF_NONE)
        return IC_OK;
    if (node < 0 || node >= x->cap)
        return ic_seterr(IC_ERR_INTERNAL, "channels_first conversion: node %d out of range", node);
    const ic__shape *in = &l->in0;
    if (after == IC__CF_PASS) {
        memcpy(x->tag[node], x->tag[in0], sizeof x->tag[node]);
    } else if (after == IC__CF_FLATTEN) {
        x->tag[node][0] = in->d[2];
        x->tag[node][1] = in->d[0];
        x->tag[node][2] = in->d[1];
    } else if (after == IC__CF_DENSE) {
        ic__keras_build *kb = x->kb;
        if (kb->n_fix == kb->cap) {
            int cap = kb->cap ? 2 * kb->cap : 4;
            ic__keras_fix *f = ic__realloc(kb->fix, (size_t)cap * sizeof *f);
            if (!f)
                return IC_ERR_NOMEM;
            kb->fix = f;
            kb->cap = cap;
        }
        ic__keras_fix *f = &kb->fix[kb->n_fix++];
        snprintf(f->layer, sizeof f->layer, "%s", l->name);
        f->c = x->tag[in0][0];
        f->h = x->tag[in0][1];
        f->w = x->tag[in0][2];
    }
    return IC_OK;
}

ic_status ic__cf_output(const ic__cf_ctx *x, const ic_model *m)
{
    if (!x->cf)
        return IC_OK;
    int o = ic__model_out_node(m);
    const ic_layer *l = m->nodes[o].layer;
    if (x->tag[o][0] || l->out.ndim == 3)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): the output of a channels_first model must be a "
                         "vector that does not depend on the layout",
                         l->name, l->vt->class_name);
    return IC_OK;
}

void ic__keras_build_free(ic__keras_build *kb)
{
    if (!kb)
        return;
    ic__free(kb->fix);
    memset(kb, 0, sizeof *kb);
}
