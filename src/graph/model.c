/* model.c - building models: nodes, the sequential and functional APIs, layer lists,
 * freezing, and weights in Keras order. Execution lives in plan.c. */
#include <stdio.h>
#include <string.h>

#include "graph.h"

ic_status ic_model_create(ic_model **out, const char *name, int sequential)
{
    *out = NULL;
    ic_model *m = ic__calloc(1, sizeof *m);
    if (!m)
        return IC_ERR_NOMEM;
    m->sequential = sequential != 0;
    m->trainable = 1;
    m->input_node = -1;
    m->output_node = -1;
    if (name && *name) {
        snprintf(m->name, sizeof m->name, "%s", name);
    } else {
        const char *p = sequential ? "sequential" : "model";
        snprintf(m->name, sizeof m->name, "%s_%d", p, ic__next_uid(p));
    }
    *out = m;
    return IC_OK;
}

void ic__model_drop_plans(ic_model *m)
{
    for (int i = 0; i < IC__PLAN_CACHE; i++) {
        ic__plan_free(m->plans[i]);
        m->plans[i] = NULL;
    }
}

void ic_model_free(ic_model *m)
{
    if (!m)
        return;
    ic__model_drop_plans(m);
    if (m->train && m->train_free)
        m->train_free(m->train);
    for (int i = 0; i < m->n_nodes; i++) {
        ic__layer_destroy(m->nodes[i].layer);
        ic__free(m->nodes[i].in);
    }
    ic__free(m->nodes);
    ic__free(m);
}

/* Appends a built node; takes ownership of layer and in (on failure too). */
static ic_status push_node(ic_model *m, ic_layer *layer, int n_in, int *in, int *node)
{
    if (m->n_nodes == m->cap) {
        int cap = m->cap ? 2 * m->cap : 16;
        ic__node *nn = ic__realloc(m->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            ic__layer_destroy(layer);
            ic__free(in);
            return IC_ERR_NOMEM;
        }
        m->nodes = nn;
        m->cap = cap;
    }
    layer->owner = m;
    m->nodes[m->n_nodes] = (ic__node){layer, n_in, in};
    if (node)
        *node = m->n_nodes;
    m->n_nodes++;
    ic__model_drop_plans(m); /* the graph changed */
    return IC_OK;
}

/* Largest activation of one sample in floats (2^32 = 16 GiB). Shapes come from model
 * configs, which may be hostile: every node's shape is checked against this (without
 * overflow) as it is added, so later size computations (Flatten, plans) cannot overflow.
 * docs/security.md. */
#define IC_MAX_SAMPLE_VALUES ((int64_t)1 << 32)

static ic_status check_sample_size(const ic_model *m, const char *lname, int ndim,
                                   const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (d[i] < 0 || (d[i] > 0 && n > IC_MAX_SAMPLE_VALUES / d[i])) {
            char dims[128];
            int k = 0;
            for (int j = 0; j < ndim && k < (int)sizeof dims - 24; j++)
                k += snprintf(dims + k, sizeof dims - (size_t)k, "%s%lld", j ? ", " : "",
                              (long long)d[j]);
            return ic_seterr(IC_ERR_UNSUPPORTED,
                             "model '%s': layer '%s': output shape (None, %s) has more than "
                             "%lld values per sample",
                             m->name, lname, dims, (long long)IC_MAX_SAMPLE_VALUES);
        }
        n *= d[i];
    }
    return IC_OK;
}

ic_status ic_model_input(ic_model *m, int ndim, const int64_t *shape, const char *name,
                         int *node)
{
    if (m->input_node >= 0)
        return ic_seterr(IC_ERR_UNSUPPORTED, "model '%s' already has an input (one input only)",
                         m->name);
    if (ndim < 1 || ndim > 3)
        return ic_seterr(IC_ERR_SHAPE, "model '%s': input must have 1 to 3 dimensions, got %d",
                         m->name, ndim);
    ic__shape s = {ndim, {0}};
    for (int i = 0; i < ndim; i++)
        s.d[i] = shape[i];
    ic_status st = check_sample_size(m, name ? name : "input", ndim, shape);
    if (st)
        return st;
    ic_layer *l;
    st = ic__layer_input(&l, &s, name);
    if (st)
        return st;
    int n;
    st = push_node(m, l, 0, NULL, &n);
    if (st)
        return st;
    m->input_node = n;
    if (node)
        *node = n;
    return IC_OK;
}

static int name_taken(const ic_model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].layer->name, name))
            return 1;
    return 0;
}

ic_status ic_model_apply(ic_model *m, ic_layer *layer, int n_inputs, const int *inputs, int *node)
{
    if (!layer)
        return ic_seterr(IC_ERR_INVALID, "model '%s': NULL layer", m->name);
    if (layer->owner) /* not ours to free */
        return ic_seterr(IC_ERR_INVALID, "layer '%s' already belongs to model '%s'", layer->name,
                         ic_model_name(layer->owner));
    ic_status st = IC_OK;
    if (n_inputs < 1) {
        st = ic_seterr(IC_ERR_INVALID, "layer '%s' needs at least one input node", layer->name);
    } else if (name_taken(m, layer->name)) {
        st = ic_seterr(IC_ERR_INVALID,
                       "model '%s': a layer named '%s' already exists (names must be unique)",
                       m->name, layer->name);
    }
    for (int i = 0; !st && i < n_inputs; i++)
        if (inputs[i] < 0 || inputs[i] >= m->n_nodes)
            st = ic_seterr(IC_ERR_INVALID, "layer '%s': input node %d does not exist in '%s'",
                           layer->name, inputs[i], m->name);
    ic__shape in_shapes[16];
    if (!st && n_inputs > 16)
        st = ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s': more than 16 inputs", layer->name);
    if (st) {
        ic__layer_destroy(layer);
        return st;
    }
    for (int i = 0; i < n_inputs; i++)
        in_shapes[i] = m->nodes[inputs[i]].layer->out;
    st = layer->vt->build(layer, n_inputs, in_shapes);
    if (!st)
        st = check_sample_size(m, layer->name, layer->out.ndim, layer->out.d);
    if (st) {
        ic__errctx(st, "model '%s'", m->name);
        ic__layer_destroy(layer);
        return st;
    }
    layer->built = 1;
    layer->n_in = n_inputs;
    layer->in0 = in_shapes[0];
    int *in = ic__malloc((size_t)n_inputs * sizeof *in);
    if (!in) {
        ic__layer_destroy(layer);
        return IC_ERR_NOMEM;
    }
    memcpy(in, inputs, (size_t)n_inputs * sizeof *in);
    return push_node(m, layer, n_inputs, in, node);
}

ic_status ic_model_add(ic_model *m, ic_layer *layer)
{
    if (m->n_nodes == 0) {
        /* Keras allows input_shape on the first layer; here a model wrapped as a layer
         * brings its own input shape. */
        if (layer && layer->inner) {
            int64_t shape[IC_MAX_DIMS];
            int nd = ic_model_input_shape(layer->inner, shape);
            ic_status st = ic_model_input(m, nd, shape, NULL, NULL);
            if (st) {
                ic_layer_free(layer);
                return st;
            }
        } else {
            const char *ln = layer ? layer->name : "(null)";
            ic_layer_free(layer);
            return ic_seterr(IC_ERR_INVALID,
                             "model '%s': add an input (ic_model_input) before layer '%s'",
                             m->name, ln);
        }
    }
    int last = m->n_nodes - 1;
    return ic_model_apply(m, layer, 1, &last, NULL);
}

ic_status ic_model_set_output(ic_model *m, int node)
{
    if (node < 0 || node >= m->n_nodes)
        return ic_seterr(IC_ERR_INVALID, "model '%s': output node %d does not exist", m->name,
                         node);
    m->output_node = node;
    ic__model_drop_plans(m);
    return IC_OK;
}

int ic__model_out_node(const ic_model *m)
{
    return m->output_node >= 0 ? m->output_node : m->n_nodes - 1;
}

const ic__shape *ic__model_out_shape(const ic_model *m)
{
    return &m->nodes[ic__model_out_node(m)].layer->out;
}

const char *ic_model_name(const ic_model *m) { return m->name; }

/* Keras model.layers: every node's layer, minus the InputLayer of a Sequential. */
static int first_listed(const ic_model *m)
{
    return (m->sequential && m->n_nodes > 0 && m->input_node == 0) ? 1 : 0;
}

int ic_model_num_layers(const ic_model *m) { return m->n_nodes - first_listed(m); }

ic_layer *ic_model_layer(const ic_model *m, int i)
{
    int k = i + first_listed(m);
    return (i >= 0 && k < m->n_nodes) ? m->nodes[k].layer : NULL;
}

ic_layer *ic_model_get_layer(const ic_model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].layer->name, name))
            return m->nodes[i].layer;
    return NULL;
}

int ic_model_input_shape(const ic_model *m, int64_t *shape)
{
    if (m->input_node < 0)
        return 0;
    const ic__shape *s = &m->nodes[m->input_node].layer->out;
    for (int i = 0; i < s->ndim; i++)
        shape[i] = s->d[i];
    return s->ndim;
}

int ic_model_output_shape(const ic_model *m, int64_t *shape)
{
    if (m->n_nodes == 0)
        return 0;
    const ic__shape *s = ic__model_out_shape(m);
    for (int i = 0; i < s->ndim; i++)
        shape[i] = s->d[i];
    return s->ndim;
}

/* ---- Freezing ---- */

int ic__model_effective_trainable(const ic_model *m)
{
    if (!m->trainable)
        return 0;
    return m->wrapper ? ic__layer_effective_trainable(m->wrapper) : 1;
}

void ic_model_set_trainable(ic_model *m, int trainable)
{
    m->trainable = trainable != 0;
    if (m->wrapper)
        m->wrapper->trainable = m->trainable;
}

int ic_model_trainable(const ic_model *m) { return m->trainable; }

/* Resolves a layer name to its index in model.layers; -1 with an error if absent. */
static int layer_index(const ic_model *m, const char *name, const char *what)
{
    for (int i = 0; i < ic_model_num_layers(m); i++)
        if (!strcmp(ic_model_layer(m, i)->name, name))
            return i;
    ic_seterr(IC_ERR_NOT_FOUND, "model '%s' has no layer named '%s' (%s)", m->name, name, what);
    return -1;
}

static ic_status set_range(ic_model *m, const char *from, const char *to, int inside)
{
    int n = ic_model_num_layers(m);
    int a = 0, b = n - 1;
    if (from && (a = layer_index(m, from, "freeze/unfreeze 'from'")) < 0)
        return IC_ERR_NOT_FOUND;
    if (to && (b = layer_index(m, to, "freeze/unfreeze 'to'")) < 0)
        return IC_ERR_NOT_FOUND;
    if (a > b)
        return ic_seterr(IC_ERR_INVALID, "model '%s': layer '%s' comes after '%s'", m->name,
                         from, to);
    ic_model_set_trainable(m, 1);
    for (int i = 0; i < n; i++) {
        int in = i >= a && i <= b;
        ic_layer_set_trainable(ic_model_layer(m, i), in ? inside : !inside);
    }
    return IC_OK;
}

ic_status ic_model_freeze_range(ic_model *m, const char *from, const char *to)
{
    return set_range(m, from, to, 0);
}

ic_status ic_model_unfreeze_range(ic_model *m, const char *from, const char *to)
{
    return set_range(m, from, to, 1);
}

int ic_model_freeze_batchnorm(ic_model *m, int freeze, int *n_bn)
{
    int frozen = 0, n = 0;
    for (int i = 0; i < ic_model_num_layers(m); i++) {
        ic_layer *l = ic_model_layer(m, i);
        if (strcmp(ic_layer_class_name(l), "BatchNormalization"))
            continue;
        n++;
        if (freeze && ic_layer_trainable(l)) {
            ic_layer_set_trainable(l, 0);
            frozen++;
        }
    }
    if (n_bn)
        *n_bn = n;
    return frozen;
}

/* ---- Weights in Keras order ---- */

typedef struct {
    ic__param **params;
    ic_layer **layers;
    int cap, n;
} collector;

static void put(collector *c, ic__param *p, ic_layer *l)
{
    if (c->n < c->cap) {
        if (c->params)
            c->params[c->n] = p;
        if (c->layers)
            c->layers[c->n] = l;
    }
    c->n++;
}

static void collect_model(const ic_model *m, int which, int ignore_flag, collector *c);

/* Keras Layer.trainable_weights (which 1) / non_trainable_weights (which 2). */
static void collect_layer(ic_layer *l, int which, collector *c)
{
    if (l->inner) {
        collect_model(l->inner, which, 0, c);
        return;
    }
    for (int i = 0; i < l->n_params; i++) {
        int tr = l->trainable && !l->params[i]->always_frozen;
        if ((which == 1) == tr)
            put(c, l->params[i], l);
    }
}

/* Keras Network: trainable = [] if not trainable else layers' trainable; non-trainable =
 * layers' non-trainable, preceded by the layers' trainable ones when not trainable. */
static void collect_model(const ic_model *m, int which, int ignore_flag, collector *c)
{
    int n = ic_model_num_layers(m);
    int tr = m->trainable || ignore_flag;
    if (which == 1) {
        if (tr)
            for (int i = 0; i < n; i++)
                collect_layer(ic_model_layer(m, i), 1, c);
        return;
    }
    if (!tr)
        for (int i = 0; i < n; i++)
            collect_layer(ic_model_layer(m, i), 1, c);
    for (int i = 0; i < n; i++)
        collect_layer(ic_model_layer(m, i), 2, c);
}

int ic__model_collect(const ic_model *m, int which, ic__param **params, ic_layer **layers, int cap)
{
    collector c = {params, layers, cap, 0};
    if (which == 0) {
        collect_model(m, 1, 0, &c);
        collect_model(m, 2, 0, &c);
    } else {
        collect_model(m, which, 0, &c);
    }
    return c.n;
}

static int64_t count_of(const ic_model *m, int which)
{
    int n = ic__model_collect(m, which, NULL, NULL, 0);
    ic__param **ps = ic__malloc((size_t)(n ? n : 1) * sizeof *ps);
    if (!ps)
        return -1;
    ic__model_collect(m, which, ps, NULL, n);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += ic_tensor_numel(&ps[i]->value);
    ic__free(ps);
    return total;
}

int64_t ic_model_count_params(const ic_model *m) { return count_of(m, 0); }
int64_t ic_model_count_trainable_params(const ic_model *m) { return count_of(m, 1); }
int ic_model_num_weights(const ic_model *m) { return ic__model_collect(m, 0, NULL, NULL, 0); }
int ic_model_num_trainable_weights(const ic_model *m)
{
    return ic__model_collect(m, 1, NULL, NULL, 0);
}

/* The i-th weight of m in Keras order (NULL if out of range or out of memory); *name, when
 * asked for, is kept per thread so the pointer stays valid until the next call. */
static ic__param *weight_at(const ic_model *m, int i, const char **name)
{
    int n = ic__model_collect(m, 0, NULL, NULL, 0);
    if (i < 0 || i >= n)
        return NULL;
    ic__param **ps = ic__malloc((size_t)n * sizeof *ps);
    ic_layer **ls = ic__malloc((size_t)n * sizeof *ls);
    ic__param *p = NULL;
    if (ps && ls) {
        ic__model_collect(m, 0, ps, ls, n);
        p = ps[i];
        if (name) {
            static _Thread_local char buf[300];
            snprintf(buf, sizeof buf, "%s/%s:0", ls[i]->name, ps[i]->name);
            *name = buf;
        }
    }
    ic__free(ps);
    ic__free(ls);
    return p;
}

const ic_tensor *ic_model_weight(const ic_model *m, int i, const char **name)
{
    ic__param *p = weight_at(m, i, name);
    return p ? &p->value : NULL;
}

ic_tensor *ic_model_weight_mut(ic_model *m, int i, const char **name)
{
    ic__param *p = weight_at(m, i, name);
    if (!p)
        return NULL;
    /* the caller may write through the tensor: a new version makes backends drop converted
     * copies of the old values */
    p->version = ic__next_version();
    return &p->value;
}
