/* config.c - Keras model_config JSON <-> models.
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
 * and, as an imgclass addition Keras ignores, of every model's config.
 *
 * Reading (ic__layer_from_config and ic__model_from_config) rebuilds the layers through
 * the public constructors of layer.h. It accepts what this file writes plus a few
 * spellings of other Keras versions (a Sequential config as a bare list, an InputLayer
 * first in a Sequential, "Functional", "batch_shape", ints for pairs, BN axis [3]);
 * general Keras files are issue #8. Initializers are ignored (the weights come from the
 * file); regularizers and constraints are ignored with a warning. Every error names the
 * layer and the field.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "io/io_impl.h"

/* Builds one layer (not an InputLayer) from its class name and config object. The layer
 * is new and owned by the caller. Errors: "layer 'x': class 'LSTM' is not supported". */

static ic_status nomem(void)
{
    return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config");
}

/* ================================================================================== */
/* Model -> JSON                                                                       */
/* ================================================================================== */

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

/* ================================================================================== */
/* JSON -> layers                                                                      */
/* ================================================================================== */

typedef struct rd {
    const char *name; /* layer name for messages */
    const char *cls;
    const cJSON *cfg;
} rd;

static ic_status bad(const rd *r, const char *key, const char *want)
{
    char *got = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->cfg, key);
    if (v)
        got = cJSON_PrintUnformatted(v);
    ic_status s = ic_seterr(IC_ERR_FORMAT, "layer '%s' (%s): field '%s' must be %s, got %.60s",
                            r->name, r->cls, key, want, got ? got : "nothing");
    cJSON_free(got);
    return s;
}

static const cJSON *field(const rd *r, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(r->cfg, key);
}

static int is_int(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) < 1e9;
}

/* Integer field; def used when absent (required when def_ok is 0). */
static ic_status get_int(const rd *r, const char *key, int def_ok, int def, int *out)
{
    const cJSON *v = field(r, key);
    if (!v && def_ok) {
        *out = def;
        return IC_OK;
    }
    if (!is_int(v))
        return bad(r, key, "an integer");
    *out = (int)v->valuedouble;
    return IC_OK;
}

static ic_status get_float(const rd *r, const char *key, float def, float *out)
{
    const cJSON *v = field(r, key);
    if (!v) {
        *out = def;
        return IC_OK;
    }
    if (!cJSON_IsNumber(v))
        return bad(r, key, "a number");
    *out = (float)v->valuedouble;
    return IC_OK;
}

static ic_status get_bool(const rd *r, const char *key, int def, int *out)
{
    const cJSON *v = field(r, key);
    if (!v) {
        *out = def;
        return IC_OK;
    }
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (is_int(v))
        *out = v->valuedouble != 0;
    else
        return bad(r, key, "true or false");
    return IC_OK;
}

/* An int or a list of two ints (kernel_size, strides, pool_size). */
static ic_status get_pair(const rd *r, const char *key, int def_ok, int def, int *a, int *b)
{
    const cJSON *v = field(r, key);
    if (!v && def_ok) {
        *a = *b = def;
        return IC_OK;
    }
    if (is_int(v)) {
        *a = *b = (int)v->valuedouble;
        return IC_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && is_int(cJSON_GetArrayItem(v, 0)) &&
        is_int(cJSON_GetArrayItem(v, 1))) {
        *a = (int)cJSON_GetArrayItem(v, 0)->valuedouble;
        *b = (int)cJSON_GetArrayItem(v, 1)->valuedouble;
        return IC_OK;
    }
    return bad(r, key, "an integer or a list of 2 integers");
}

static ic_status get_padding(const rd *r, ic_padding *out)
{
    const cJSON *v = field(r, "padding");
    if (!v) {
        *out = IC_PAD_VALID;
        return IC_OK;
    }
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "valid"))
        *out = IC_PAD_VALID;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "same"))
        *out = IC_PAD_SAME;
    else
        return bad(r, "padding", "\"valid\" or \"same\"");
    return IC_OK;
}

static ic_status get_activation(const rd *r, int required, ic_activation *out)
{
    const cJSON *v = field(r, "activation");
    if ((!v && !required) || cJSON_IsNull(v)) {
        *out = IC_ACT_LINEAR;
        return IC_OK;
    }
    if (!cJSON_IsString(v))
        return bad(r, "activation", "an activation name");
    ic_status s = ic_activation_parse(v->valuestring, out);
    if (s)
        return ic__errctx(IC_ERR_UNSUPPORTED, "layer '%s' (%s)", r->name, r->cls);
    return IC_OK;
}

/* data_format: absent, null or "channels_last". */
static ic_status check_channels_last(const rd *r)
{
    const cJSON *v = field(r, "data_format");
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "channels_last")))
        return IC_OK;
    if (cJSON_IsString(v))
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): data_format '%s' is not supported (channels_last only)",
                         r->name, r->cls, v->valuestring);
    return bad(r, "data_format", "\"channels_last\"");
}

/* Fields that must be null (or absent) for the layer to mean what we compute. */
static ic_status must_be_null(const rd *r, const char *key)
{
    const cJSON *v = field(r, key);
    if (!v || cJSON_IsNull(v))
        return IC_OK;
    return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): a non-null '%s' is not supported",
                     r->name, r->cls, key);
}

/* dtype: absent, null, "float32", or a Keras 3 / mixed-precision policy object
 * {"class_name": "DTypePolicy"|"Policy", "config": {"name": "float32"}}. */
static int dtype_ok(const cJSON *dt)
{
    if (!dt || cJSON_IsNull(dt))
        return 1;
    if (cJSON_IsString(dt))
        return !strcmp(dt->valuestring, "float32");
    if (!cJSON_IsObject(dt))
        return 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(dt, "config");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
    return cJSON_IsString(n) && !strcmp(n->valuestring, "float32");
}

/* Regularizers and constraints change only training; they are not implemented. */
static void warn_ignored(const rd *r, const char *const *keys)
{
    for (; *keys; keys++) {
        const cJSON *v = field(r, *keys);
        if (v && !cJSON_IsNull(v))
            ic__log(2, "layer '%s' (%s): '%s' is ignored (not implemented)", r->name, r->cls,
                    *keys);
    }
}

static const char *const g_ignored[] = {
    "kernel_regularizer", "bias_regularizer",      "activity_regularizer", "kernel_constraint",
    "bias_constraint",    "depthwise_regularizer", "depthwise_constraint", "beta_regularizer",
    "gamma_regularizer",  "beta_constraint",       "gamma_constraint",     NULL};

/* axis: -1, or a positive int / [int] checked against the input rank after building
 * (check_axis). */
static ic_status get_axis(const rd *r)
{
    const cJSON *v = field(r, "axis");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
        v = cJSON_GetArrayItem(v, 0);
    if (!v || (is_int(v) && (v->valuedouble == -1 || v->valuedouble > 0)))
        return IC_OK;
    return ic_seterr(IC_ERR_UNSUPPORTED,
                     "layer '%s' (%s): only the last axis is supported (axis -1)", r->name, r->cls);
}

static ic_status conv_from(const rd *r, int depthwise, ic_layer **out)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(0, 0, 0);
    int dh, dw;
    ic_status s;
    if ((!depthwise && (s = get_int(r, "filters", 0, 0, &o.filters))) ||
        (s = get_pair(r, "kernel_size", 0, 0, &o.kernel_h, &o.kernel_w)) ||
        (s = get_pair(r, "strides", 1, 1, &o.stride_h, &o.stride_w)) ||
        (s = get_padding(r, &o.padding)) || (s = check_channels_last(r)) ||
        (s = get_pair(r, "dilation_rate", 1, 1, &dh, &dw)) ||
        (s = get_activation(r, 0, &o.activation)) ||
        (s = get_bool(r, "use_bias", 1, &o.use_bias)) ||
        (depthwise && (s = get_int(r, "depth_multiplier", 1, 1, &o.depth_multiplier))))
        return s;
    if (dh != 1 || dw != 1)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): dilation_rate (%d, %d) is not supported (1 only)",
                         r->name, r->cls, dh, dw);
    int groups;
    if ((s = get_int(r, "groups", 1, 1, &groups)))
        return s;
    if (groups != 1)
        return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): groups %d is not supported (1 only)",
                         r->name, r->cls, groups);
    if (o.kernel_h < 1 || o.kernel_w < 1 || o.stride_h < 1 || o.stride_w < 1)
        return bad(r, o.kernel_h < 1 || o.kernel_w < 1 ? "kernel_size" : "strides",
                   "positive integers");
    warn_ignored(r, g_ignored);
    o.name = r->name;
    return depthwise ? ic_layer_depthwise_conv2d(out, &o) : ic_layer_conv2d(out, &o);
}

static ic_status pool_from(const rd *r, int avg, ic_layer **out)
{
    ic_pool2d_opts o = ic_pool2d_opts_default();
    ic_status s;
    if ((s = get_pair(r, "pool_size", 1, 2, &o.pool_h, &o.pool_w)))
        return s;
    const cJSON *st = field(r, "strides");
    if (st && !cJSON_IsNull(st) && (s = get_pair(r, "strides", 0, 0, &o.stride_h, &o.stride_w)))
        return s;
    if ((s = get_padding(r, &o.padding)) || (s = check_channels_last(r)))
        return s;
    o.name = r->name;
    return avg ? ic_layer_average_pooling2d(out, &o) : ic_layer_max_pooling2d(out, &o);
}

static ic_status global_pool_from(const rd *r, int avg, ic_layer **out)
{
    ic_status s = check_channels_last(r);
    int keep;
    if (!s)
        s = get_bool(r, "keepdims", 0, &keep);
    if (!s && keep)
        s = ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): keepdims is not supported", r->name,
                      r->cls);
    if (s)
        return s;
    return avg ? ic_layer_global_average_pooling2d(out, r->name)
               : ic_layer_global_max_pooling2d(out, r->name);
}

static ic_status dense_from(const rd *r, ic_layer **out)
{
    int units = 0, use_bias = 1;
    ic_activation act;
    ic_status s;
    if ((s = get_int(r, "units", 0, 0, &units)) || (s = get_activation(r, 0, &act)) ||
        (s = get_bool(r, "use_bias", 1, &use_bias)))
        return s;
    warn_ignored(r, g_ignored);
    return ic_layer_dense(out, units, act, use_bias, r->name);
}

static ic_status dropout_from(const rd *r, ic_layer **out)
{
    float rate;
    ic_status s;
    if (!field(r, "rate"))
        return bad(r, "rate", "a number");
    if ((s = get_float(r, "rate", 0.f, &rate)) || (s = must_be_null(r, "noise_shape")))
        return s;
    return ic_layer_dropout(out, rate, r->name);
}

static ic_status relu_from(const rd *r, ic_layer **out)
{
    float mv = 0.f, slope, thr;
    const cJSON *v = field(r, "max_value");
    ic_status s;
    if (v && !cJSON_IsNull(v) && (s = get_float(r, "max_value", 0.f, &mv)))
        return s;
    if ((s = get_float(r, "negative_slope", 0.f, &slope)) ||
        (s = get_float(r, "threshold", 0.f, &thr)))
        return s;
    if (slope != 0.f || thr != 0.f)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (ReLU): negative_slope %g / threshold %g are not supported "
                         "(0 only)",
                         r->name, (double)slope, (double)thr);
    if (v && !cJSON_IsNull(v) && mv <= 0.f)
        return bad(r, "max_value", "null or a positive number");
    if ((s = ic_layer_relu(out, mv, r->name)))
        return ic__errctx(s, "layer '%s'", r->name);
    return IC_OK;
}

static ic_status zpad_from(const rd *r, ic_layer **out)
{
    const cJSON *v = field(r, "padding");
    int p[4] = {1, 1, 1, 1};
    if (is_int(v)) {
        p[0] = p[1] = p[2] = p[3] = (int)v->valuedouble;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
        for (int i = 0; i < 2; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (is_int(e)) {
                p[2 * i] = p[2 * i + 1] = (int)e->valuedouble;
            } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                       is_int(cJSON_GetArrayItem(e, 0)) && is_int(cJSON_GetArrayItem(e, 1))) {
                p[2 * i] = (int)cJSON_GetArrayItem(e, 0)->valuedouble;
                p[2 * i + 1] = (int)cJSON_GetArrayItem(e, 1)->valuedouble;
            } else {
                return bad(r, "padding", "an int, (h, w) or ((top, bottom), (left, right))");
            }
        }
    } else if (v) {
        return bad(r, "padding", "an int, (h, w) or ((top, bottom), (left, right))");
    }
    ic_status s = check_channels_last(r);
    return s ? s : ic_layer_zero_padding2d(out, p[0], p[1], p[2], p[3], r->name);
}

static ic_status bn_from(const rd *r, ic_layer **out)
{
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    ic_status s;
    if ((s = get_axis(r)) || (s = get_float(r, "momentum", o.momentum, &o.momentum)) ||
        (s = get_float(r, "epsilon", o.epsilon, &o.epsilon)) ||
        (s = get_bool(r, "center", 1, &o.center)) || (s = get_bool(r, "scale", 1, &o.scale)))
        return s;
    warn_ignored(r, g_ignored);
    o.name = r->name;
    return ic_layer_batch_normalization(out, &o);
}

static ic_status nested_from(const char *cls, const cJSON *config, ic_layer **out);

typedef enum {
    K_CONV,
    K_DWCONV,
    K_MAXPOOL,
    K_AVGPOOL,
    K_GAP,
    K_GMP,
    K_FLATTEN,
    K_DENSE,
    K_DROPOUT,
    K_ACT,
    K_RELU,
    K_ZPAD,
    K_BN,
    K_ADD,
    K_CONCAT,
    K_MODEL
} kind;

static const struct {
    const char *cls;
    kind k;
} g_classes[] = {
    {"Conv2D", K_CONV},
    {"Convolution2D", K_CONV},
    {"DepthwiseConv2D", K_DWCONV},
    {"MaxPooling2D", K_MAXPOOL},
    {"MaxPool2D", K_MAXPOOL},
    {"AveragePooling2D", K_AVGPOOL},
    {"AvgPool2D", K_AVGPOOL},
    {"GlobalAveragePooling2D", K_GAP},
    {"GlobalAvgPool2D", K_GAP},
    {"GlobalMaxPooling2D", K_GMP},
    {"GlobalMaxPool2D", K_GMP},
    {"Flatten", K_FLATTEN},
    {"Dense", K_DENSE},
    {"Dropout", K_DROPOUT},
    {"Activation", K_ACT},
    {"ReLU", K_RELU},
    {"ZeroPadding2D", K_ZPAD},
    {"BatchNormalization", K_BN},
    {"Add", K_ADD},
    {"Concatenate", K_CONCAT},
    {"Model", K_MODEL},
    {"Functional", K_MODEL},
    {"Sequential", K_MODEL},
};

ic_status ic__layer_from_config(const char *class_name, const cJSON *config, ic_layer **out)
{
    *out = NULL;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(config, "name");
    rd r = {cJSON_IsString(nm) ? nm->valuestring : "", class_name ? class_name : "?", config};
    if (!cJSON_IsObject(config))
        return ic_seterr(IC_ERR_FORMAT, "layer '%s' (%s): 'config' must be an object", r.name,
                         r.cls);
    if (nm && !cJSON_IsString(nm))
        return bad(&r, "name", "a string");
    int k = -1;
    for (size_t i = 0; class_name && i < sizeof g_classes / sizeof g_classes[0]; i++)
        if (!strcmp(class_name, g_classes[i].cls))
            k = (int)g_classes[i].k;
    if (k < 0)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s': class '%s' is not supported (supported: Conv2D, "
                         "DepthwiseConv2D, MaxPooling2D, AveragePooling2D, "
                         "GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout, "
                         "Activation, ReLU, ZeroPadding2D, BatchNormalization, Add, "
                         "Concatenate, Model, Sequential)",
                         r.name, r.cls);
    int trainable;
    ic_status s = get_bool(&r, "trainable", 1, &trainable);
    if (!s) {
        if (!dtype_ok(field(&r, "dtype")))
            s = bad(&r, "dtype", "\"float32\"");
    }
    if (s)
        return s;
    ic_activation act;
    switch ((kind)k) {
    case K_CONV: s = conv_from(&r, 0, out); break;
    case K_DWCONV: s = conv_from(&r, 1, out); break;
    case K_MAXPOOL: s = pool_from(&r, 0, out); break;
    case K_AVGPOOL: s = pool_from(&r, 1, out); break;
    case K_GAP: s = global_pool_from(&r, 1, out); break;
    case K_GMP: s = global_pool_from(&r, 0, out); break;
    case K_FLATTEN:
        s = check_channels_last(&r);
        if (!s)
            s = ic_layer_flatten(out, r.name);
        break;
    case K_DENSE: s = dense_from(&r, out); break;
    case K_DROPOUT: s = dropout_from(&r, out); break;
    case K_ACT:
        s = get_activation(&r, 1, &act);
        if (!s)
            s = ic_layer_activation(out, act, r.name);
        break;
    case K_RELU: s = relu_from(&r, out); break;
    case K_ZPAD: s = zpad_from(&r, out); break;
    case K_BN: s = bn_from(&r, out); break;
    case K_ADD: s = ic_layer_add(out, r.name); break;
    case K_CONCAT:
        s = get_axis(&r);
        if (!s)
            s = ic_layer_concatenate(out, r.name);
        break;
    case K_MODEL: s = nested_from(class_name, config, out); break;
    }
    if (s)
        return s;
    ic_layer_set_trainable(*out, trainable);
    return IC_OK;
}

/* ================================================================================== */
/* JSON -> models                                                                      */
/* ================================================================================== */

static ic_status build_model(const char *cls, const cJSON *cfg, ic_model **out);

static ic_status nested_from(const char *cls, const cJSON *config, ic_layer **out)
{
    ic_model *inner;
    ic_status s = build_model(cls, config, &inner);
    if (s)
        return s;
    if ((s = ic_layer_from_model(out, inner))) {
        ic_model_free(inner);
        return s;
    }
    return IC_OK;
}

/* A positive BN / Concatenate axis must be the last axis of the (batch-first) input. */
static ic_status check_axis(const cJSON *cfg, const ic_layer *l)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "axis");
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0);
    if (v && cJSON_IsNumber(v) && v->valuedouble > 0 && (int)v->valuedouble != l->out.ndim)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): axis %d is not the last axis (%d); only the last "
                         "axis is supported",
                         l->name, l->vt->class_name, (int)v->valuedouble, l->out.ndim);
    return IC_OK;
}

/* batch_input_shape [null, d...] (or Keras 3's batch_shape) of a layer config. */
static ic_status read_batch_shape(const cJSON *cfg, const char *lname, int *nd, int64_t *shape)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "batch_input_shape");
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(cfg, "batch_shape");
    if (!v)
        return ic_seterr(IC_ERR_FORMAT,
                         "layer '%s': no batch_input_shape (the model's input shape is unknown)",
                         lname);
    int n = cJSON_GetArraySize(v);
    int ok = cJSON_IsArray(v) && n >= 2 && n <= 4;
    for (int i = 1; ok && i < n; i++) {
        const cJSON *d = cJSON_GetArrayItem(v, i);
        ok = is_int(d) && d->valuedouble >= 1;
        if (ok)
            shape[i - 1] = (int64_t)d->valuedouble;
    }
    if (!ok)
        return ic_seterr(IC_ERR_FORMAT,
                         "layer '%s': batch_input_shape must be [null, d1, ...] with 1 to 3 "
                         "positive dimensions",
                         lname);
    *nd = n - 1;
    return IC_OK;
}

/* class_name (string) and config (object) of a layer entry. */
static ic_status entry_parts(const cJSON *e, int i, const char **cls, const cJSON **cfg,
                             const char **name)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class_name");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(e, "config");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "name");
    if (!cJSON_IsString(n))
        n = cJSON_GetObjectItemCaseSensitive(e, "name");
    if (!cJSON_IsObject(e) || !cJSON_IsString(c) || !cJSON_IsObject(g))
        return ic_seterr(IC_ERR_FORMAT,
                         "layer entry %d: needs a string 'class_name' and an object 'config'", i);
    *cls = c->valuestring;
    *cfg = g;
    *name = cJSON_IsString(n) ? n->valuestring : "";
    return IC_OK;
}

static int is_input_layer(const char *cls)
{
    return !strcmp(cls, "InputLayer");
}
static int is_model_class(const char *cls)
{
    return !strcmp(cls, "Model") || !strcmp(cls, "Functional") || !strcmp(cls, "Sequential");
}

static ic_status set_model_trainable(ic_model *m, const cJSON *cfg)
{
    const cJSON *t =
        cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "trainable") : NULL;
    if (!t)
        return IC_OK;
    if (!cJSON_IsBool(t))
        return ic_seterr(IC_ERR_FORMAT, "model '%s': 'trainable' must be true or false", m->name);
    ic_model_set_trainable(m, cJSON_IsTrue(t));
    return IC_OK;
}

/* ---- channels_first Keras models, converted to our layout at load time ----
 * Keras kernels are HWIO for both data formats, so only the layout of activations
 * changes: the input shape (C, H, W) becomes (H, W, C), data_format becomes
 * channels_last, BatchNormalization / Concatenate axis 1 becomes -1, and a Flatten that
 * flattened in C, H, W order (Keras 2.0's Flatten without data_format, or an explicit
 * channels_last one) marks its output so that the Dense reading it gets its kernel rows
 * permuted after loading (ic__keras_build.fix). Anything else that depends on the order
 * is refused with the layer's name. Only done when a Keras loader asks (g_kb). */
static _Thread_local ic__keras_build *g_kb;

typedef struct cfx {
    int cf;           /* the model is channels_first and is being converted */
    int64_t (*tag)[3]; /* per node: (C, H, W) when its output is CHW-flattened, else 0s */
    int cap;
} cfx;

static int df_is(const cJSON *cfg, const char *v)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "data_format");
    return cJSON_IsString(d) && !strcmp(d->valuestring, v);
}

static ic_status cfx_init(cfx *x, const cJSON *layers, int cap)
{
    memset(x, 0, sizeof *x);
    const cJSON *e;
    cJSON_ArrayForEach(e, layers)
    {
        if (df_is(cJSON_GetObjectItemCaseSensitive(e, "config"), "channels_first"))
            x->cf = 1;
    }
    if (!x->cf || !g_kb) {
        x->cf = 0; /* unconverted: check_channels_last names the layer */
        return IC_OK;
    }
    x->cap = cap;
    x->tag = ic__calloc((size_t)cap, sizeof *x->tag);
    return x->tag ? IC_OK : IC_ERR_NOMEM;
}

static void cfx_free(cfx *x)
{
    ic__free(x->tag);
    x->tag = NULL;
}

/* (C, H, W) -> (H, W, C) for an image input of a converted model. */
static void cfx_input(const cfx *x, int nd, int64_t *shape)
{
    if (!x->cf || nd != 3)
        return;
    int64_t c = shape[0];
    shape[0] = shape[1];
    shape[1] = shape[2];
    shape[2] = c;
}

static ic_status cfx_set(cJSON *dup, const char *key, cJSON *v)
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

enum { CF_NONE = 0, CF_PASS, CF_FLATTEN, CF_DENSE };

/* The converted config (*dup, NULL = use cfg as is) of one layer with inputs ins[0..k),
 * and what to do once it is built (*after). */
static ic_status cfx_layer(const cfx *x, const ic_model *m, const char *cls, const char *name,
                           const cJSON *cfg, const int *ins, int k, cJSON **dup, int *after)
{
    *dup = NULL;
    *after = CF_NONE;
    if (!x->cf)
        return IC_OK;
    const ic__shape *in = &m->nodes[ins[0]].layer->out;
    int rank = in->ndim;
    for (int j = 0; j < k; j++) {
        if (!x->tag[ins[j]][0])
            continue;
        if (k == 1 && (!strcmp(cls, "Dropout") || !strcmp(cls, "Activation") ||
                       !strcmp(cls, "ReLU"))) {
            *after = CF_PASS;
            return IC_OK;
        }
        if (k == 1 && !strcmp(cls, "Dense")) {
            *after = CF_DENSE;
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
            *after = CF_FLATTEN;
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
        s = cfx_set(d, "data_format", cJSON_CreateString("channels_last"));
    if (!s && ax == 1)
        s = cfx_set(d, "axis", cJSON_CreateNumber(-1));
    if (s) {
        cJSON_Delete(d);
        return s;
    }
    *dup = d;
    return IC_OK;
}

/* After node `node` (layer l, first input in0) was built. */
static ic_status cfx_after(cfx *x, int after, int node, int in0, const ic_layer *l)
{
    if (!x->cf || after == CF_NONE)
        return IC_OK;
    if (node < 0 || node >= x->cap)
        return ic_seterr(IC_ERR_INTERNAL, "channels_first conversion: node %d out of range", node);
    const ic__shape *in = &l->in0;
    if (after == CF_PASS) {
        memcpy(x->tag[node], x->tag[in0], sizeof x->tag[node]);
    } else if (after == CF_FLATTEN) {
        x->tag[node][0] = in->d[2];
        x->tag[node][1] = in->d[0];
        x->tag[node][2] = in->d[1];
    } else if (after == CF_DENSE) {
        ic__keras_build *kb = g_kb;
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

/* The output of a converted model must not depend on the layout. */
static ic_status cfx_output(const cfx *x, const ic_model *m)
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

static ic_status build_sequential(ic_model *m, const cJSON *layers)
{
    int n = cJSON_GetArraySize(layers);
    if (n < 1)
        return ic_seterr(IC_ERR_FORMAT, "sequential model '%s' has no layers", m->name);
    cfx x;
    ic_status s = cfx_init(&x, layers, n + 2);
    for (int i = 0; !s && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(layers, i);
        const char *cls, *name;
        const cJSON *cfg;
        if ((s = entry_parts(e, i, &cls, &cfg, &name)))
            break;
        if (i == 0 && !is_model_class(cls)) {
            /* The input: an InputLayer entry (tf.keras) or the first layer's shape. */
            int nd;
            int64_t shape[3];
            char in_name[160];
            if ((s = read_batch_shape(cfg, name, &nd, shape)))
                break;
            cfx_input(&x, nd, shape);
            snprintf(in_name, sizeof in_name, "%s%s", name, is_input_layer(cls) ? "" : "_input");
            if ((s = ic_model_input(m, nd, shape, *name ? in_name : NULL, NULL)))
                break;
            if (is_input_layer(cls))
                continue;
        } else if (is_input_layer(cls)) {
            s = ic_seterr(IC_ERR_FORMAT,
                          "sequential model '%s': InputLayer '%s' is not the first layer",
                          m->name, name);
            break;
        }
        int prev = m->n_nodes - 1, after = CF_NONE;
        cJSON *dup = NULL;
        if (prev >= 0 && (s = cfx_layer(&x, m, cls, name, cfg, &prev, 1, &dup, &after)))
            break;
        const cJSON *use = dup ? dup : cfg;
        ic_layer *l;
        if (!(s = ic__layer_from_config(cls, use, &l)) && !(s = ic_model_add(m, l)) &&
            !(s = check_axis(use, m->nodes[m->n_nodes - 1].layer)))
            s = cfx_after(&x, after, m->n_nodes - 1, prev, m->nodes[m->n_nodes - 1].layer);
        cJSON_Delete(dup);
    }
    if (!s)
        s = cfx_output(&x, m);
    cfx_free(&x);
    return s;
}

/* Node of the layer called name among the first n_done entries, -1 if not built yet. */
typedef struct built {
    const char *name;
    int node; /* -1 until built */
} built;

static int node_of(const built *b, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (b[i].node >= 0 && !strcmp(b[i].name, name))
            return b[i].node;
    return -1;
}

static int known(const built *b, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(b[i].name, name))
            return 1;
    return 0;
}

/* Appends [name, node, tensor] of one Keras 3 "__keras_tensor__" argument to out. */
static ic_status k3_tensor(const cJSON *t, const char *name, cJSON *out)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(t, "class_name");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(t, "config"), "keras_history");
    if (!cJSON_IsString(cls) || strcmp(cls->valuestring, "__keras_tensor__") ||
        !cJSON_IsArray(h) || cJSON_GetArraySize(h) != 3)
        return ic_seterr(IC_ERR_FORMAT,
                         "layer '%s': inbound node arguments must be __keras_tensor__ objects "
                         "with a keras_history [name, node, tensor]",
                         name);
    cJSON *d = cJSON_Duplicate(h, 1);
    if (!d || !cJSON_AddItemToArray(out, d)) {
        cJSON_Delete(d);
        return IC_ERR_NOMEM;
    }
    return IC_OK;
}

/* The inputs of a layer's single call as a new list of [name, node_index, tensor_index]
 * (the caller deletes it), from Keras 2's [[name, node, tensor, kwargs], ...] or Keras 3's
 * {"args": [tensor | [tensor, ...]], "kwargs": {...}}. */
static ic_status inbound_refs(const cJSON *e, const char *name, cJSON **refs)
{
    *refs = NULL;
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(e, "inbound_nodes");
    if (!cJSON_IsArray(nodes))
        return ic_seterr(IC_ERR_FORMAT, "layer '%s': 'inbound_nodes' must be a list", name);
    int nn = cJSON_GetArraySize(nodes);
    if (nn == 0)
        return ic_seterr(IC_ERR_FORMAT, "layer '%s' is not connected (no inbound nodes)", name);
    if (nn > 1)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' is shared (called %d times), which is not supported", name,
                         nn);
    const cJSON *call = cJSON_GetArrayItem(nodes, 0);
    cJSON *out = cJSON_CreateArray();
    if (!out)
        return IC_ERR_NOMEM;
    ic_status s = IC_OK;
    if (cJSON_IsObject(call)) { /* Keras 3 */
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "args");
        if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) < 1)
            s = ic_seterr(IC_ERR_FORMAT, "layer '%s': inbound node has no 'args' list", name);
        const cJSON *a = NULL;
        if (!s) {
            a = cJSON_GetArrayItem(args, 0);
            if (cJSON_GetArraySize(args) > 1)
                s = ic_seterr(IC_ERR_UNSUPPORTED,
                              "layer '%s': calls with %d positional arguments are not supported",
                              name, cJSON_GetArraySize(args));
        }
        if (!s && cJSON_IsArray(a)) {
            const cJSON *t;
            cJSON_ArrayForEach(t, a)
            {
                if ((s = k3_tensor(t, name, out)))
                    break;
            }
        } else if (!s) {
            s = k3_tensor(a, name, out);
        }
    } else if (cJSON_IsArray(call)) {
        const cJSON *r;
        cJSON_ArrayForEach(r, call)
        {
            cJSON *d = cJSON_Duplicate(r, 1);
            if (!d || !cJSON_AddItemToArray(out, d)) {
                cJSON_Delete(d);
                s = IC_ERR_NOMEM;
                break;
            }
        }
    }
    int k = cJSON_GetArraySize(out);
    if (!s && (k < 1 || k > 16))
        s = ic_seterr(IC_ERR_FORMAT, "layer '%s': bad inbound node (1 to 16 inputs)", name);
    for (int i = 0; !s && i < k; i++) {
        const cJSON *r = cJSON_GetArrayItem(out, i);
        const cJSON *rn = cJSON_GetArrayItem(r, 0);
        const cJSON *ni = cJSON_GetArrayItem(r, 1);
        const cJSON *ti = cJSON_GetArrayItem(r, 2);
        if (!cJSON_IsArray(r) || !cJSON_IsString(rn) || !is_int(ni) || !is_int(ti))
            s = ic_seterr(IC_ERR_FORMAT,
                          "layer '%s': inbound node entries must be [name, node, tensor, "
                          "kwargs]",
                          name);
        else if (ti->valuedouble != 0)
            s = ic_seterr(IC_ERR_UNSUPPORTED,
                          "layer '%s': input '%s' tensor %d: layers with several outputs are "
                          "not supported",
                          name, rn->valuestring, (int)ti->valuedouble);
    }
    if (s) {
        cJSON_Delete(out);
        return s;
    }
    *refs = out;
    return IC_OK;
}

/* [[name, 0, 0]] with exactly one entry; returns the name. */
static ic_status single_ref(const ic_model *m, const cJSON *cfg, const char *key, const char **name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    const cJSON *r = cJSON_GetArrayItem(v, 0);
    /* tf.keras may write a single ref without the outer list. */
    if (cJSON_IsArray(v) && cJSON_IsString(cJSON_GetArrayItem(v, 0)))
        r = v;
    else if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1)
        return ic_seterr(cJSON_IsArray(v) ? IC_ERR_UNSUPPORTED : IC_ERR_FORMAT,
                         "model '%s': '%s' must list exactly one tensor (one input, one output "
                         "only)",
                         m->name, key);
    const cJSON *n = cJSON_GetArrayItem(r, 0);
    if (!cJSON_IsString(n))
        return ic_seterr(IC_ERR_FORMAT, "model '%s': bad '%s' entry", m->name, key);
    *name = n->valuestring;
    return IC_OK;
}

static ic_status build_functional(ic_model *m, const cJSON *cfg, const cJSON *layers)
{
    int n = cJSON_GetArraySize(layers);
    if (n < 2)
        return ic_seterr(IC_ERR_FORMAT, "model '%s' has no layers", m->name);
    built *b = ic__calloc((size_t)n, sizeof *b);
    if (!b)
        return IC_ERR_NOMEM;
    cfx x;
    ic_status s = cfx_init(&x, layers, n + 1);
    for (int i = 0; !s && i < n; i++) {
        const char *cls;
        const cJSON *c;
        b[i].node = -1;
        s = entry_parts(cJSON_GetArrayItem(layers, i), i, &cls, &c, &b[i].name);
        if (!s && !*b[i].name)
            s = ic_seterr(IC_ERR_FORMAT, "model '%s': layer entry %d has no name", m->name, i);
        if (!s && known(b, i, b[i].name))
            s = ic_seterr(IC_ERR_FORMAT, "model '%s': two layers are named '%s'", m->name,
                          b[i].name);
    }
    /* Passes in file order, building every layer whose inputs exist (one pass when the
     * list is topologically ordered, as Keras writes it). */
    int left = n, progress = 1;
    while (!s && left > 0 && progress) {
        progress = 0;
        for (int i = 0; !s && i < n; i++) {
            if (b[i].node >= 0)
                continue;
            const cJSON *e = cJSON_GetArrayItem(layers, i);
            const char *cls = cJSON_GetObjectItemCaseSensitive(e, "class_name")->valuestring;
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "config");
            if (is_input_layer(cls)) {
                int nd;
                int64_t shape[3];
                if (m->input_node >= 0) {
                    s = ic_seterr(IC_ERR_UNSUPPORTED,
                                  "model '%s': more than one input ('%s' and '%s')", m->name,
                                  m->nodes[m->input_node].layer->name, b[i].name);
                } else if (!(s = read_batch_shape(c, b[i].name, &nd, shape))) {
                    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(c, "dtype");
                    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(c, "sparse");
                    if (!dtype_ok(dt))
                        s = ic_seterr(IC_ERR_UNSUPPORTED, "input '%s': dtype must be float32",
                                      b[i].name);
                    else if (cJSON_IsTrue(sp))
                        s = ic_seterr(IC_ERR_UNSUPPORTED,
                                      "input '%s': sparse inputs are not "
                                      "supported",
                                      b[i].name);
                    else {
                        cfx_input(&x, nd, shape);
                        s = ic_model_input(m, nd, shape, b[i].name, &b[i].node);
                    }
                }
            } else {
                cJSON *refs = NULL;
                if ((s = inbound_refs(e, b[i].name, &refs)))
                    break;
                int ins[16], k = cJSON_GetArraySize(refs), ready = 1;
                for (int j = 0; !s && j < k; j++) {
                    const char *rn =
                        cJSON_GetArrayItem(cJSON_GetArrayItem(refs, j), 0)->valuestring;
                    if (!known(b, n, rn))
                        s = ic_seterr(IC_ERR_FORMAT, "layer '%s': input layer '%s' does not exist",
                                      b[i].name, rn);
                    else if ((ins[j] = node_of(b, n, rn)) < 0)
                        ready = 0;
                }
                cJSON_Delete(refs);
                if (s || !ready)
                    continue;
                int after = CF_NONE;
                cJSON *dup = NULL;
                if ((s = cfx_layer(&x, m, cls, b[i].name, c, ins, k, &dup, &after)))
                    break;
                const cJSON *use = dup ? dup : c;
                ic_layer *l;
                if (!(s = ic__layer_from_config(cls, use, &l)) &&
                    !(s = ic_model_apply(m, l, k, ins, &b[i].node)) && !(s = check_axis(use, l)))
                    s = cfx_after(&x, after, b[i].node, ins[0], l);
                cJSON_Delete(dup);
                if (s)
                    break;
            }
            if (!s) {
                left--;
                progress = 1;
            }
        }
    }
    if (!s && left > 0) {
        for (int i = 0; i < n; i++)
            if (b[i].node < 0) {
                s = ic_seterr(IC_ERR_FORMAT,
                              "model '%s': layer '%s' cannot be reached from the input (a cycle "
                              "or a missing input)",
                              m->name, b[i].name);
                break;
            }
    }
    const char *in_name = NULL, *out_name = NULL;
    if (!s && m->input_node < 0)
        s = ic_seterr(IC_ERR_FORMAT, "model '%s' has no InputLayer", m->name);
    if (!s)
        s = single_ref(m, cfg, "input_layers", &in_name);
    if (!s && strcmp(in_name, m->nodes[m->input_node].layer->name))
        s = ic_seterr(IC_ERR_FORMAT, "model '%s': input_layers names '%s', not an InputLayer",
                      m->name, in_name);
    if (!s)
        s = single_ref(m, cfg, "output_layers", &out_name);
    if (!s) {
        int o = node_of(b, n, out_name);
        s = o < 0 ? ic_seterr(IC_ERR_FORMAT, "model '%s': output layer '%s' does not exist",
                              m->name, out_name)
                  : ic_model_set_output(m, o);
    }
    if (!s)
        s = cfx_output(&x, m);
    cfx_free(&x);
    ic__free(b);
    return s;
}

/* cls: "Sequential", "Model" or "Functional"; cfg: its config. */
static ic_status build_model(const char *cls, const cJSON *cfg, ic_model **out)
{
    *out = NULL;
    int seq = !strcmp(cls, "Sequential");
    const cJSON *layers =
        cJSON_IsArray(cfg) ? cfg : cJSON_GetObjectItemCaseSensitive(cfg, "layers");
    const cJSON *nm = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "name") : NULL;
    const char *name = cJSON_IsString(nm) ? nm->valuestring : NULL;
    if (!cJSON_IsArray(layers) || (!seq && !cJSON_IsObject(cfg)))
        return ic_seterr(IC_ERR_FORMAT, "model '%s' (%s): the config has no 'layers' list",
                         name ? name : "", cls);
    ic_model *m;
    ic_status s = ic_model_create(&m, name, seq);
    if (s)
        return s;
    s = seq ? build_sequential(m, layers) : build_functional(m, cfg, layers);
    if (!s)
        s = set_model_trainable(m, cfg);
    if (s) {
        ic__errctx(s, "model '%s'", m->name);
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}

ic_status ic__model_from_keras_config(const char *json, const char *file, ic__keras_build *kb,
                                      ic_model **out)
{
    ic__keras_build *prev = g_kb;
    g_kb = kb;
    ic_status s = ic__model_from_config(json, file, out);
    g_kb = prev;
    return s;
}

void ic__keras_build_free(ic__keras_build *kb)
{
    if (!kb)
        return;
    ic__free(kb->fix);
    memset(kb, 0, sizeof *kb);
}

ic_status ic__model_from_config(const char *json, const char *file, ic_model **out)
{
    *out = NULL;
    const char *where = file ? file : "model_config";
    const char *end = NULL;
    cJSON *root = NULL;
    if (ic__json_parse(json, &end, 1, &root) == IC_ERR_NOMEM)
        return ic__errctx(IC_ERR_NOMEM, "%s: reading model_config", where);
    if (!root) {
        size_t off = json && end ? (size_t)(end - json) : 0;
        return ic_seterr(IC_ERR_FORMAT, "%s: model_config is not valid JSON (error at byte %zu)",
                         where, off);
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    ic_status s = IC_OK;
    if (!cJSON_IsString(cls) || !cfg)
        s = ic_seterr(IC_ERR_FORMAT,
                      "%s: model_config needs \"class_name\" and \"config\" at the top level",
                      where);
    else if (strcmp(cls->valuestring, "Sequential") && strcmp(cls->valuestring, "Model") &&
             strcmp(cls->valuestring, "Functional"))
        s = ic_seterr(IC_ERR_UNSUPPORTED, "%s: model class '%s' is not supported", where,
                      cls->valuestring);
    else if ((s = build_model(cls->valuestring, cfg, out)))
        ic__errctx(s, "%s: model_config", where);
    cJSON_Delete(root);
    return s;
}
