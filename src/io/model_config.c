/* model_config.c - Keras model_config JSON -> models.
 *
 * Rebuilds what model_config_write.c writes: each layer through its class's from_config
 * (src/layers/layer_registry.c, which calls the public constructors of layer.h), then
 * connects them. It accepts a few spellings of other Keras versions too: a Sequential
 * config as a bare list, an InputLayer first in a Sequential, "Functional", Keras 3's
 * "batch_shape", __keras_tensor__ inbound nodes and dtype policies, ints for pairs, BN
 * axis [3]. Initializers are ignored (the weights come from the file); regularizers and
 * constraints are ignored with a warning. Every error names the layer and the field.
 *
 * A Keras loader (keras_model.c) passes an ic__keras_build, and channels_first models are
 * then converted to this library's layout (channels_first.c); the build passes it down to
 * nested models explicitly.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "io/io_impl.h"

static ic_status build_model(const char *cls, const cJSON *cfg, ic__keras_build *kb,
                             ic_model **out);
static ic_status layer_from(const char *class_name, const cJSON *config, ic__keras_build *kb,
                            ic_layer **out);

static int is_model_class(const char *cls)
{
    return !strcmp(cls, "Model") || !strcmp(cls, "Functional") || !strcmp(cls, "Sequential");
}

/* ---- layers ---- */

/* A nested model used as a layer. */
static ic_status nested_from(const char *cls, const cJSON *config, ic__keras_build *kb,
                             ic_layer **out)
{
    ic_model *inner;
    ic_status s = build_model(cls, config, kb, &inner);
    if (s)
        return s;
    if ((s = ic_layer_from_model(out, inner))) {
        ic_model_free(inner);
        return s;
    }
    return IC_OK;
}

/* "Conv2D, DepthwiseConv2D, ..., Model, Sequential": the classes a config may name. */
static void supported_classes(char *buf, size_t size)
{
    int n;
    const ic__layer_reader *t = ic__layer_readers(&n);
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < size; i++)
        if (!t[i].alias)
            len += (size_t)snprintf(buf + len, size - len, "%s, ", t[i].cls);
    if (len < size)
        snprintf(buf + len, size - len, "Model, Sequential");
}

static ic_status layer_from(const char *class_name, const cJSON *config, ic__keras_build *kb,
                            ic_layer **out)
{
    *out = NULL;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(config, "name");
    ic__cfg_rd r = {cJSON_IsString(nm) ? nm->valuestring : "", class_name ? class_name : "?",
                    config};
    if (!cJSON_IsObject(config))
        return ic_seterr(IC_ERR_FORMAT, "layer '%s' (%s): 'config' must be an object", r.name,
                         r.cls);
    if (nm && !cJSON_IsString(nm))
        return ic__rd_bad(&r, "name", "a string");
    const ic__layer_reader *reader = ic__layer_reader_find(class_name);
    int model = class_name && is_model_class(class_name);
    if (!reader && !model) {
        char list[512];
        supported_classes(list, sizeof list);
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s': class '%s' is not supported (supported: %s)", r.name, r.cls,
                         list);
    }
    int trainable;
    ic_status s = ic__rd_bool(&r, "trainable", 1, &trainable);
    if (!s && !ic__cfg_dtype_ok(ic__rd_field(&r, "dtype")))
        s = ic__rd_bad(&r, "dtype", "\"float32\"");
    if (!s)
        s = model ? nested_from(class_name, config, kb, out) : reader->from_config(&r, out);
    if (s)
        return s;
    ic_layer_set_trainable(*out, trainable);
    return IC_OK;
}

ic_status ic__layer_from_config(const char *class_name, const cJSON *config, ic_layer **out)
{
    return layer_from(class_name, config, NULL, out);
}

/* ---- models ---- */

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
        ok = ic__json_is_int(d) && d->valuedouble >= 1;
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

static ic_status build_sequential(ic_model *m, const cJSON *layers, ic__keras_build *kb)
{
    int n = cJSON_GetArraySize(layers);
    if (n < 1)
        return ic_seterr(IC_ERR_FORMAT, "sequential model '%s' has no layers", m->name);
    ic__cf_ctx x;
    ic_status s = ic__cf_init(&x, kb, layers, n + 2);
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
            ic__cf_input(&x, nd, shape);
            snprintf(in_name, sizeof in_name, "%s%s", name, is_input_layer(cls) ? "" : "_input");
            if ((s = ic_model_input(m, nd, shape, *name ? in_name : NULL, NULL)))
                break;
            if (is_input_layer(cls))
                continue;
        } else if (is_input_layer(cls)) {
            s = ic_seterr(IC_ERR_FORMAT,
                          "sequential model '%s': InputLayer '%s' is not the first layer", m->name,
                          name);
            break;
        }
        int prev = m->n_nodes - 1, after = IC__CF_NONE;
        cJSON *dup = NULL;
        if (prev >= 0 && (s = ic__cf_layer(&x, m, cls, name, cfg, &prev, 1, &dup, &after)))
            break;
        const cJSON *use = dup ? dup : cfg;
        ic_layer *l;
        if (!(s = layer_from(cls, use, kb, &l)) && !(s = ic_model_add(m, l)) &&
            !(s = check_axis(use, m->nodes[m->n_nodes - 1].layer)))
            s = ic__cf_after(&x, after, m->n_nodes - 1, prev, m->nodes[m->n_nodes - 1].layer);
        cJSON_Delete(dup);
    }
    if (!s)
        s = ic__cf_output(&x, m);
    ic__cf_free(&x);
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
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "config"),
                                                      "keras_history");
    if (!cJSON_IsString(cls) || strcmp(cls->valuestring, "__keras_tensor__") || !cJSON_IsArray(h) ||
        cJSON_GetArraySize(h) != 3)
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
        if (!cJSON_IsArray(r) || !cJSON_IsString(rn) || !ic__json_is_int(ni) ||
            !ic__json_is_int(ti))
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

static ic_status build_functional(ic_model *m, const cJSON *cfg, const cJSON *layers,
                                  ic__keras_build *kb)
{
    int n = cJSON_GetArraySize(layers);
    if (n < 2)
        return ic_seterr(IC_ERR_FORMAT, "model '%s' has no layers", m->name);
    built *b = ic__calloc((size_t)n, sizeof *b);
    if (!b)
        return IC_ERR_NOMEM;
    ic__cf_ctx x;
    ic_status s = ic__cf_init(&x, kb, layers, n + 1);
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
                    if (!ic__cfg_dtype_ok(dt))
                        s = ic_seterr(IC_ERR_UNSUPPORTED, "input '%s': dtype must be float32",
                                      b[i].name);
                    else if (cJSON_IsTrue(sp))
                        s = ic_seterr(IC_ERR_UNSUPPORTED,
                                      "input '%s': sparse inputs are not "
                                      "supported",
                                      b[i].name);
                    else {
                        ic__cf_input(&x, nd, shape);
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
                int after = IC__CF_NONE;
                cJSON *dup = NULL;
                if ((s = ic__cf_layer(&x, m, cls, b[i].name, c, ins, k, &dup, &after)))
                    break;
                const cJSON *use = dup ? dup : c;
                ic_layer *l;
                if (!(s = layer_from(cls, use, kb, &l)) &&
                    !(s = ic_model_apply(m, l, k, ins, &b[i].node)) && !(s = check_axis(use, l)))
                    s = ic__cf_after(&x, after, b[i].node, ins[0], l);
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
        s = ic__cf_output(&x, m);
    ic__cf_free(&x);
    ic__free(b);
    return s;
}

/* cls: "Sequential", "Model" or "Functional"; cfg: its config. */
static ic_status build_model(const char *cls, const cJSON *cfg, ic__keras_build *kb, ic_model **out)
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
    s = seq ? build_sequential(m, layers, kb) : build_functional(m, cfg, layers, kb);
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

/* Parses json and builds the model it describes; kb: see ic__model_from_keras_config. */
static ic_status from_json(const char *json, const char *file, ic__keras_build *kb, ic_model **out)
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
    else if ((s = build_model(cls->valuestring, cfg, kb, out)))
        ic__errctx(s, "%s: model_config", where);
    cJSON_Delete(root);
    return s;
}

ic_status ic__model_from_config(const char *json, const char *file, ic_model **out)
{
    return from_json(json, file, NULL, out);
}

ic_status ic__model_from_keras_config(const char *json, const char *file, ic__keras_build *kb,
                                      ic_model **out)
{
    return from_json(json, file, kb, out);
}
