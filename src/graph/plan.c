/* plan.c - executing a model for one batch size: forward in topological order, backward
 * in reverse, with activations and gradients in arenas sized from the shapes.
 *
 * Gradient flow is pruned: a node's output gradient is computed only if its layer has
 * trainable weights or something below it does ("reach"), so frozen bases cost only
 * their forward pass, and a base frozen up to block3 does no backward below block3.
 */
#include <string.h>

#include "graph.h"

struct ic__plan {
    ic_model *m;
    int64_t batch;
    const ic__backend *be;
    int n;                   /* nodes */
    ic_tensor *act;          /* per node, (batch, ...shape) */
    ic_tensor *diff;         /* per node gradient (data in diff_arena) */
    const ic_tensor **inptr; /* concatenated input pointer lists */
    int *inoff;              /* offset of node i's list in inptr */
    void **states;
    float *act_arena, *diff_arena, *scratch;
    float **tmp;             /* lazily allocated accumulation buffers (max fan-in) */
    int max_in;
    int64_t max_numel;
    unsigned char *reach, *written;
};

static int64_t node_numel(const ic__plan *p, int i)
{
    return p->batch * ic__shape_numel(&p->m->nodes[i].layer->out);
}

void ic__plan_free(ic__plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        ic_layer *l = p->m->nodes[i].layer;
        if (p->states && p->states[i] && l->vt->state_free)
            l->vt->state_free(l, p->be, p->states[i]);
    }
    if (p->tmp)
        for (int k = 0; k < p->max_in; k++)
            ic__free_aligned(p->tmp[k]);
    ic__free(p->tmp);
    ic__free(p->states);
    ic__free(p->act);
    ic__free(p->diff);
    ic__free(p->inptr);
    ic__free(p->inoff);
    ic__free(p->reach);
    ic__free(p->written);
    ic__free_aligned(p->act_arena);
    ic__free_aligned(p->diff_arena);
    ic__free_aligned(p->scratch);
    ic__free(p);
}

static void bind_shape(ic_tensor *t, float *data, int64_t batch, const ic__shape *s)
{
    int64_t shape[IC_MAX_DIMS];
    shape[0] = batch;
    for (int i = 0; i < s->ndim; i++)
        shape[i + 1] = s->d[i];
    ic__tensor_init(t, data, s->ndim + 1, shape);
}

ic_status ic__plan_create(ic_model *m, int64_t batch, const ic__backend *be, ic__plan **out)
{
    *out = NULL;
    if (m->n_nodes == 0 || m->input_node < 0)
        return ic_seterr(IC_ERR_INVALID, "model '%s' has no input or no layers", m->name);
    if (batch < 1)
        return ic_seterr(IC_ERR_INVALID, "batch size %lld must be >= 1", (long long)batch);
    ic__plan *p = ic__calloc(1, sizeof *p);
    if (!p)
        return IC_ERR_NOMEM;
    p->m = m;
    p->batch = batch;
    p->be = be;
    p->n = m->n_nodes;
    int edges = 0;
    for (int i = 0; i < p->n; i++) {
        edges += m->nodes[i].n_in;
        if (m->nodes[i].n_in > p->max_in)
            p->max_in = m->nodes[i].n_in;
    }
    p->act = ic__calloc((size_t)p->n, sizeof *p->act);
    p->diff = ic__calloc((size_t)p->n, sizeof *p->diff);
    p->inptr = ic__calloc((size_t)(edges ? edges : 1), sizeof *p->inptr);
    p->inoff = ic__calloc((size_t)p->n, sizeof *p->inoff);
    p->states = ic__calloc((size_t)p->n, sizeof *p->states);
    p->reach = ic__calloc((size_t)p->n, 1);
    p->written = ic__calloc((size_t)p->n, 1);
    if (!p->act || !p->diff || !p->inptr || !p->inoff || !p->states || !p->reach || !p->written)
        goto nomem;
    /* One arena for all activations (the input node borrows the caller's batch). */
    int64_t total = 0;
    for (int i = 0; i < p->n; i++) {
        int64_t k = node_numel(p, i);
        if (k > p->max_numel)
            p->max_numel = k;
        if (i != m->input_node)
            total += (k + 15) & ~(int64_t)15; /* keep every tensor 64-byte aligned */
    }
    p->act_arena = ic__malloc_aligned((size_t)(total ? total : 1) * sizeof(float));
    if (!p->act_arena)
        goto nomem;
    int64_t off = 0, e = 0;
    for (int i = 0; i < p->n; i++) {
        const ic__node *nd = &m->nodes[i];
        float *d = NULL;
        if (i != m->input_node) {
            d = p->act_arena + off;
            off += (node_numel(p, i) + 15) & ~(int64_t)15;
        }
        bind_shape(&p->act[i], d, batch, &nd->layer->out);
        p->inoff[i] = (int)e;
        for (int k = 0; k < nd->n_in; k++)
            p->inptr[e++] = &p->act[nd->in[k]];
    }
    for (int i = 0; i < p->n; i++) {
        ic_layer *l = m->nodes[i].layer;
        if (l->vt->state_create) {
            ic_status s = l->vt->state_create(l, be, batch, &p->states[i]);
            if (s) {
                ic__errctx(s, "layer '%s' (%s)", l->name, l->vt->class_name);
                ic__plan_free(p);
                return s;
            }
        }
    }
    *out = p;
    return IC_OK;
nomem:
    ic__plan_free(p);
    return IC_ERR_NOMEM;
}

ic_status ic__plan_get(ic_model *m, int64_t batch, ic__plan **out)
{
    const ic__backend *be = ic__backend_with_prec(
        ic__backend_current(), m->precision == IC_PRECISION_BF16 ? IC__PREC_BF16 : IC__PREC_F32);
    for (int i = 0; i < IC__PLAN_CACHE; i++) {
        ic__plan *p = m->plans[i];
        if (p && p->batch == batch && p->be == be) {
            m->plan_lru = 1 - i % 2; /* the other slot is the older one */
            *out = p;
            return IC_OK;
        }
    }
    int slot = -1;
    for (int i = 0; i < IC__PLAN_CACHE && slot < 0; i++)
        if (!m->plans[i])
            slot = i;
    if (slot < 0)
        slot = m->plan_lru;
    ic__plan_free(m->plans[slot]);
    m->plans[slot] = NULL;
    ic_status s = ic__plan_create(m, batch, be, &m->plans[slot]);
    if (s)
        return s;
    m->plan_lru = 1 - slot % 2;
    *out = m->plans[slot];
    return IC_OK;
}

ic_tensor *ic__plan_output(ic__plan *p) { return &p->act[ic__model_out_node(p->m)]; }

ic_tensor *ic__plan_node_output(ic__plan *p, int node)
{
    return node >= 0 && node < p->n ? &p->act[node] : NULL;
}

ic__plan *ic__plan_nested(ic__plan *p, int node)
{
    if (node < 0 || node >= p->n || !p->m->nodes[node].layer->inner)
        return NULL;
    return p->states[node]; /* a nested layer's state is its model's plan (nested.c) */
}

/* Runs nodes first..out of the model (the input node excepted). */
static ic_status run_nodes(ic__plan *p, int first, const ic__run_ctx *rc)
{
    ic_model *m = p->m;
    int out = ic__model_out_node(m);
    for (int i = first; i <= out; i++) {
        if (i == m->input_node)
            continue;
        const ic__node *nd = &m->nodes[i];
        ic_layer *l = nd->layer;
        ic__fwd_args a = {
            .be = p->be,
            .state = p->states[i],
            .n_in = nd->n_in,
            .in = p->inptr + p->inoff[i],
            .out = &p->act[i],
            .training = rc->training,
            .trainable = ic__layer_effective_trainable(l),
            .bn_frozen_batch_stats = rc->bn_frozen_batch_stats,
            .step = rc->step,
        };
        ic_status s = l->vt->forward(l, &a);
        if (s)
            return ic__errctx(s, "forward of layer '%s' (%s)", l->name, l->vt->class_name);
    }
    return IC_OK;
}

ic_status ic__plan_forward(ic__plan *p, const float *x, const ic__run_ctx *rc)
{
    p->act[p->m->input_node].data = (float *)x; /* read only; layers never write inputs */
    return run_nodes(p, 0, rc);
}

ic_status ic__plan_forward_from(ic__plan *p, int from, const float *x_from, const ic__run_ctx *rc)
{
    ic_model *m = p->m;
    int out = ic__model_out_node(m);
    int ok = !rc->training && from > m->input_node && from < out && x_from;
    for (int j = from + 1; ok && j <= out; j++)
        for (int k = 0; k < m->nodes[j].n_in; k++)
            ok &= m->nodes[j].in[k] >= from;
    if (!ok)
        return ic_seterr(IC_ERR_INTERNAL, "model '%s': cannot start %s forward after node %d",
                         m->name, rc->training ? "a training" : "an inference", from);
    ic_tensor *a = &p->act[from];
    if (a->data != x_from)
        memcpy(a->data, x_from, (size_t)ic_tensor_numel(a) * sizeof(float));
    return run_nodes(p, from + 1, rc);
}

/* Does this layer own weights that train now? */
static int has_trainable_weights(const ic_layer *l)
{
    if (!ic__layer_effective_trainable(l))
        return 0;
    if (l->inner)
        return ic__model_collect(l->inner, 1, NULL, NULL, 0) > 0;
    for (int i = 0; i < l->n_params; i++)
        if (!l->params[i]->always_frozen)
            return 1;
    return 0;
}

static ic_status ensure_grads(ic_layer *l)
{
    for (int i = 0; i < l->n_params; i++) {
        ic__param *q = l->params[i];
        if (!q->grad && !q->always_frozen) {
            size_t n = (size_t)ic_tensor_numel(&q->value);
            q->grad = ic__malloc_aligned(n * sizeof(float));
            if (!q->grad)
                return IC_ERR_NOMEM;
            memset(q->grad, 0, n * sizeof(float));
        }
    }
    return IC_OK;
}

static ic_status alloc_backward(ic__plan *p)
{
    if (p->diff_arena)
        return IC_OK;
    int64_t total = 0;
    for (int i = 0; i < p->n; i++)
        total += (node_numel(p, i) + 15) & ~(int64_t)15;
    p->diff_arena = ic__malloc_aligned((size_t)total * sizeof(float));
    p->scratch = ic__malloc_aligned((size_t)p->max_numel * sizeof(float));
    if (!p->diff_arena || !p->scratch)
        return IC_ERR_NOMEM;
    int64_t off = 0;
    for (int i = 0; i < p->n; i++) {
        bind_shape(&p->diff[i], p->diff_arena + off, p->batch, &p->m->nodes[i].layer->out);
        off += (node_numel(p, i) + 15) & ~(int64_t)15;
    }
    return IC_OK;
}

static float *tmp_buffer(ic__plan *p, int k)
{
    if (!p->tmp) {
        p->tmp = ic__calloc((size_t)p->max_in, sizeof *p->tmp);
        if (!p->tmp)
            return NULL;
    }
    if (!p->tmp[k])
        p->tmp[k] = ic__malloc_aligned((size_t)p->max_numel * sizeof(float));
    return p->tmp[k];
}

ic_status ic__plan_backward(ic__plan *p, const float *diff_out, float *diff_x)
{
    ic_model *m = p->m;
    int out = ic__model_out_node(m);
    ic_status s = alloc_backward(p);
    if (s)
        return s;
    for (int i = 0; i <= out; i++) {
        const ic__node *nd = &m->nodes[i];
        int r = i == m->input_node ? diff_x != NULL : has_trainable_weights(nd->layer);
        for (int k = 0; k < nd->n_in && !r; k++)
            r = p->reach[nd->in[k]];
        p->reach[i] = (unsigned char)r;
        p->written[i] = 0;
        if (i != m->input_node && has_trainable_weights(nd->layer) &&
            (s = ensure_grads(nd->layer)) != IC_OK)
            return s;
    }
    if (p->reach[out]) {
        memcpy(p->diff[out].data, diff_out, (size_t)node_numel(p, out) * sizeof(float));
        p->written[out] = 1;
    }
    ic_tensor tmp_t[16];
    ic_tensor *din[16];
    for (int i = out; i >= 0; i--) {
        const ic__node *nd = &m->nodes[i];
        if (i == m->input_node || !p->reach[i] || !p->written[i])
            continue;
        if (nd->n_in > 16)
            return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s': more than 16 inputs",
                             nd->layer->name);
        /* Route each input's gradient: straight into its buffer the first time, into a
         * temporary to be added when that input already received a gradient (a tensor
         * consumed twice). */
        for (int k = 0; k < nd->n_in; k++) {
            int j = nd->in[k];
            din[k] = NULL;
            if (!p->reach[j])
                continue;
            int taken = p->written[j];
            for (int q = 0; q < k && !taken; q++)
                taken = nd->in[q] == j && din[q] == &p->diff[j];
            if (!taken) {
                din[k] = &p->diff[j];
            } else {
                float *t = tmp_buffer(p, k);
                if (!t)
                    return IC_ERR_NOMEM;
                tmp_t[k] = p->diff[j];
                tmp_t[k].data = t;
                din[k] = &tmp_t[k];
            }
        }
        ic_layer *l = nd->layer;
        ic__bwd_args a = {
            .be = p->be,
            .state = p->states[i],
            .n_in = nd->n_in,
            .in = p->inptr + p->inoff[i],
            .out = &p->act[i],
            .diff_out = &p->diff[i],
            .diff_in = din,
            .weight_grads = has_trainable_weights(l),
            .scratch = p->scratch,
        };
        s = l->vt->backward(l, &a);
        if (s)
            return ic__errctx(s, "backward of layer '%s' (%s)", l->name, l->vt->class_name);
        for (int k = 0; k < nd->n_in; k++) {
            int j = nd->in[k];
            if (!din[k])
                continue;
            if (din[k] != &p->diff[j]) {
                float *dst = p->diff[j].data;
                const float *src = din[k]->data;
                int64_t n = node_numel(p, j);
                for (int64_t e = 0; e < n; e++)
                    dst[e] += src[e];
            }
            p->written[j] = 1;
        }
    }
    if (diff_x) {
        int in = m->input_node;
        size_t bytes = (size_t)node_numel(p, in) * sizeof(float);
        if (p->written[in])
            memcpy(diff_x, p->diff[in].data, bytes);
        else
            memset(diff_x, 0, bytes);
    }
    return IC_OK;
}

ic_status ic_model_forward(ic_model *m, const ic_tensor *x, ic_tensor **out)
{
    *out = NULL;
    int64_t in_shape[IC_MAX_DIMS];
    int nd = ic_model_input_shape(m, in_shape);
    if (nd == 0)
        return ic_seterr(IC_ERR_INVALID, "model '%s' has no input", m->name);
    int ok = x->ndim == nd + 1;
    for (int i = 0; ok && i < nd; i++)
        ok = x->shape[i + 1] == in_shape[i];
    if (!ok) {
        char a[80], b[80];
        return ic_seterr(IC_ERR_SHAPE, "model '%s' expects input %s, got %s", m->name,
                         ic__shape_str(a, sizeof a, nd, in_shape, 1),
                         ic_tensor_shape_str(x, b, sizeof b));
    }
    ic__plan *p;
    ic_status s = ic__plan_get(m, x->shape[0], &p);
    if (s)
        return s;
    ic__run_ctx rc = {0, 0, 0};
    if ((s = ic__plan_forward(p, x->data, &rc)))
        return s;
    return ic_tensor_clone(out, ic__plan_output(p));
}
