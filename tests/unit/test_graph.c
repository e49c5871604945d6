/* test_graph.c - the execution plan: gradient pruning (frozen layers compute no weight
 * gradients; nothing below the lowest trainable layer computes an input gradient),
 * gradients through a diamond (one tensor consumed twice), through Add(x, x), and through
 * a model nested as a layer, all against central finite differences; a forward started
 * part-way against the whole one; bad input; reading a weight keeps its version, writing
 * (ic_model_weight_mut) bumps it and the next forward of the oneDNN backend (which caches
 * converted weights per version) uses the new values. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"

/* A backend that forwards to the reference kernels and counts backward calls. */
static ic__backend g_count;
static int n_bwd_data, n_bwd_weights;
static ic_status count_bwd_data(ic__op *op, float *ds, const float *dd, const float *w, uint64_t v)
{
    n_bwd_data++;
    return ic__backend_ref()->conv_bwd_data(op, ds, dd, w, v);
}
static ic_status count_bwd_weights(ic__op *op, float *dw, float *db, const float *s,
                                   const float *dd)
{
    n_bwd_weights++;
    return ic__backend_ref()->conv_bwd_weights(op, dw, db, s, dd);
}

static int conv(ic_model *m, int x, int filters, const char *name)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(filters, 3, 3);
    o.padding = IC_PAD_SAME;
    o.activation = IC_ACT_TANH; /* smooth: finite differences stay accurate */
    o.name = name;
    ic_layer *l;
    OK(ic_layer_conv2d(&l, &o));
    OK(ic_model_apply(m, l, 1, &x, &x));
    return x;
}

/* L = sum(R * model(x)); returns L in double. */
static double loss_of(ic_model *m, const float *x, const float *r, int64_t batch)
{
    ic__plan *p;
    OK(ic__plan_get(m, batch, &p));
    ic__run_ctx rc = {0, 0, 0};
    OK(ic__plan_forward(p, x, &rc));
    ic_tensor *out = ic__plan_output(p);
    double l = 0;
    for (int64_t i = 0; i < ic_tensor_numel(out); i++)
        l += (double)r[i] * out->data[i];
    return l;
}

/* Checks d/dx and d/dweights of L against central differences on a sample of entries. */
static void grad_check(const char *what, ic_model *m, int64_t batch)
{
    int64_t is[4], os[4];
    int ni = ic_model_input_shape(m, is), no = ic_model_output_shape(m, os);
    int64_t nx = batch * ic__numel(ni, is), ny = batch * ic__numel(no, os);
    float *x = malloc(sizeof(float) * nx), *dx = malloc(sizeof(float) * nx);
    float *r = malloc(sizeof(float) * ny);
    t_fill_uniform(x, nx, 1, -1, 1);
    t_fill_uniform(r, ny, 2, -1, 1);
    ic__plan *p;
    OK(ic__plan_get(m, batch, &p));
    ic__run_ctx rc = {1, 0, 1};
    OK(ic__plan_forward(p, x, &rc));
    OK(ic__plan_backward(p, r, dx));
    const float eps = 1e-2f;
    for (int64_t i = 0; i < nx; i += 1 + nx / 23) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = loss_of(m, x, r, batch);
        x[i] = keep - eps;
        double lm = loss_of(m, x, r, batch);
        x[i] = keep;
        float fd = (float)((lp - lm) / (2 * eps));
        char buf[128];
        snprintf(buf, sizeof buf, "%s: d/dx[%lld]", what, (long long)i);
        t_allclose(buf, &dx[i], &fd, 1, 2e-2, 2e-3);
    }
    int nw = ic__model_collect(m, 1, NULL, NULL, 0);
    ic__param *ps[64];
    ic_layer *ls[64];
    ic__model_collect(m, 1, ps, ls, 64);
    for (int k = 0; k < nw && k < 64; k++) {
        ic__param *q = ps[k];
        int64_t n = ic_tensor_numel(&q->value);
        for (int64_t i = 0; i < n; i += 1 + n / 7) {
            float keep = q->value.data[i];
            q->value.data[i] = keep + eps;
            q->version = ic__next_version();
            double lp = loss_of(m, x, r, batch);
            q->value.data[i] = keep - eps;
            q->version = ic__next_version();
            double lm = loss_of(m, x, r, batch);
            q->value.data[i] = keep;
            q->version = ic__next_version();
            float fd = (float)((lp - lm) / (2 * eps));
            char buf[320];
            snprintf(buf, sizeof buf, "%s: d/d %s/%s[%lld]", what, ls[k]->name, q->name,
                     (long long)i);
            t_allclose(buf, &q->grad[i], &fd, 1, 2e-2, 2e-3);
        }
    }
    free(x);
    free(dx);
    free(r);
}

static void test_pruning(void)
{
    ic_model *m;
    int x;
    int64_t shape[3] = {6, 5, 2};
    OK(ic_model_create(&m, NULL, 0));
    OK(ic_model_input(m, 3, shape, NULL, &x));
    x = conv(m, x, 3, "c1");
    x = conv(m, x, 3, "c2");
    x = conv(m, x, 2, "c3");
    float xin[2 * 6 * 5 * 2], r[2 * 6 * 5 * 2];
    t_fill_uniform(xin, 120, 3, -1, 1);
    t_fill_uniform(r, 120, 4, -1, 1);
    ic__plan *p;
    ic__run_ctx rc = {1, 0, 1};

    /* All trainable: 3 weight gradients, input gradients for c3 and c2 only. */
    n_bwd_data = n_bwd_weights = 0;
    OK(ic__plan_get(m, 2, &p));
    OK(ic__plan_forward(p, xin, &rc));
    OK(ic__plan_backward(p, r, NULL));
    CHECKF(n_bwd_weights == 3 && n_bwd_data == 2, "all trainable: %d weights, %d data",
           n_bwd_weights, n_bwd_data);

    /* c1 frozen: no weight gradient for c1, and nothing flows below c2. */
    ic_layer_set_trainable(ic_model_get_layer(m, "c1"), 0);
    n_bwd_data = n_bwd_weights = 0;
    OK(ic__plan_forward(p, xin, &rc));
    OK(ic__plan_backward(p, r, NULL));
    CHECKF(n_bwd_weights == 2 && n_bwd_data == 1, "c1 frozen: %d weights, %d data",
           n_bwd_weights, n_bwd_data);

    /* unfreeze_weights(from = "c3"): only c3 works. */
    OK(ic_model_unfreeze_range(m, "c3", NULL));
    n_bwd_data = n_bwd_weights = 0;
    OK(ic__plan_forward(p, xin, &rc));
    OK(ic__plan_backward(p, r, NULL));
    CHECKF(n_bwd_weights == 1 && n_bwd_data == 0, "from c3: %d weights, %d data",
           n_bwd_weights, n_bwd_data);

    /* Asking for the input gradient makes it flow through frozen layers too. */
    float dx[120];
    n_bwd_data = n_bwd_weights = 0;
    OK(ic__plan_forward(p, xin, &rc));
    OK(ic__plan_backward(p, r, dx));
    CHECKF(n_bwd_weights == 1 && n_bwd_data == 3, "dx wanted: %d weights, %d data",
           n_bwd_weights, n_bwd_data);

    /* Everything frozen: no backward work at all. */
    ic_model_set_trainable(m, 0);
    n_bwd_data = n_bwd_weights = 0;
    OK(ic__plan_forward(p, xin, &rc));
    OK(ic__plan_backward(p, r, NULL));
    CHECK(n_bwd_weights == 0 && n_bwd_data == 0);
    ic_model_free(m);
}

static void test_diamond(void)
{
    ic_model *m;
    int x, a, b, s;
    int64_t shape[3] = {5, 4, 2};
    OK(ic_model_create(&m, NULL, 0));
    OK(ic_model_input(m, 3, shape, NULL, &x));
    a = conv(m, x, 2, NULL);
    b = conv(m, a, 2, NULL);
    int ab[2] = {a, b}; /* a feeds both b and the Add */
    ic_layer *l;
    OK(ic_layer_add(&l, NULL));
    OK(ic_model_apply(m, l, 2, ab, &s));
    int ss[2] = {s, s}; /* Add(s, s): the same tensor twice */
    OK(ic_layer_add(&l, NULL));
    OK(ic_model_apply(m, l, 2, ss, &s));
    s = conv(m, s, 3, NULL);
    grad_check("diamond", m, 2);
    ic_model_free(m);
}

static void test_nested(void)
{
    ic_model *inner, *outer;
    int x;
    int64_t shape[3] = {6, 6, 2};
    OK(ic_model_create(&inner, "base", 0));
    OK(ic_model_input(inner, 3, shape, NULL, &x));
    x = conv(inner, x, 3, "b1");
    x = conv(inner, x, 2, "b2");
    OK(ic_model_create(&outer, NULL, 1));
    ic_layer *l;
    OK(ic_layer_from_model(&l, inner));
    OK(ic_model_add(outer, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(outer, l));
    OK(ic_layer_dense(&l, 3, IC_ACT_TANH, 1, NULL));
    OK(ic_model_add(outer, l));
    CHECK(ic_model_num_trainable_weights(outer) == 6);
    grad_check("nested, all trainable", outer, 2);
    OK(ic_model_unfreeze_range(inner, "b2", NULL));
    CHECK(ic_model_num_trainable_weights(outer) == 4);
    grad_check("nested, from b2", outer, 3);
    ic_model_free(outer);
}

/* A forward started part-way from a node's activations of an earlier forward gives the
 * whole forward's output bit for bit: the nested base from its node b1, then the outer
 * model from the base's node (as the validation cache runs them). Refused where it cannot
 * hold: a training forward, the input or output node, a node that a later one skips. */
static void test_forward_from(void)
{
    ic_model *inner, *outer;
    int x, a, b, s;
    int64_t shape[3] = {5, 5, 2};
    OK(ic_model_create(&inner, "base", 0));
    OK(ic_model_input(inner, 3, shape, NULL, &x));
    int b1 = x = conv(inner, x, 3, "b1");
    a = conv(inner, x, 2, "b2");
    b = conv(inner, a, 2, "b3");
    int ab[2] = {a, b}; /* b2 feeds both b3 and the Add: nothing can start after b3 */
    ic_layer *l;
    OK(ic_layer_add(&l, NULL));
    OK(ic_model_apply(inner, l, 2, ab, &s));
    conv(inner, s, 2, "b4");
    OK(ic_model_create(&outer, NULL, 1));
    OK(ic_layer_from_model(&l, inner));
    OK(ic_model_add(outer, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(outer, l));
    OK(ic_layer_dense(&l, 3, IC_ACT_TANH, 1, NULL));
    OK(ic_model_add(outer, l));
    int node = -1;
    for (int i = 0; i < outer->n_nodes; i++)
        if (outer->nodes[i].layer->inner == inner)
            node = i;
    CHECK(node > outer->input_node);

    enum { B = 3, NX = B * 5 * 5 * 2, NB1 = B * 5 * 5 * 3, NY = B * 3 };
    float xin[NX], act[NB1], want[NY];
    t_fill_uniform(xin, NX, 5, -1, 1);
    ic__plan *p, *ip;
    ic__run_ctx rc = {0, 0, 0};
    OK(ic__plan_get(outer, B, &p));
    OK(ic__plan_forward(p, xin, &rc));
    CHECK((ip = ic__plan_nested(p, node)) != NULL);
    CHECK(ic_tensor_numel(ic__plan_node_output(ip, b1)) == NB1);
    memcpy(act, ic_tensor_cdata(ic__plan_node_output(ip, b1)), sizeof act);
    memcpy(want, ic_tensor_cdata(ic__plan_output(p)), sizeof want);

    /* overwrite every activation with another batch's, then start from the stored b1 */
    float other[NX];
    t_fill_uniform(other, NX, 6, -1, 1);
    OK(ic__plan_forward(p, other, &rc));
    OK(ic__plan_forward_from(ip, b1, act, &rc));
    OK(ic__plan_forward_from(p, node, ic_tensor_cdata(ic__plan_output(ip)), &rc));
    CHECK(!memcmp(ic_tensor_cdata(ic__plan_output(p)), want, sizeof want));
    /* from the plan's own activation (nothing to copy) */
    OK(ic__plan_forward_from(ip, b1, ic_tensor_cdata(ic__plan_node_output(ip, b1)), &rc));
    OK(ic__plan_forward_from(p, node, ic_tensor_cdata(ic__plan_output(ip)), &rc));
    CHECK(!memcmp(ic_tensor_cdata(ic__plan_output(p)), want, sizeof want));

    ic__run_ctx train = {1, 0, 1};
    EXPECT_ERR(ic__plan_forward_from(ip, b1, act, &train), IC_ERR_INTERNAL,
               "cannot start a training forward after node");
    EXPECT_ERR(ic__plan_forward_from(ip, inner->input_node, act, &rc), IC_ERR_INTERNAL,
               "cannot start an inference forward");
    EXPECT_ERR(ic__plan_forward_from(ip, ic__model_out_node(inner), act, &rc), IC_ERR_INTERNAL,
               "cannot start an inference forward");
    EXPECT_ERR(ic__plan_forward_from(ip, b, act, &rc), IC_ERR_INTERNAL,
               "cannot start an inference forward");
    ic_model_free(outer);
}

static void test_errors(void)
{
    ic_model *m;
    int x;
    int64_t shape[3] = {8, 8, 3};
    OK(ic_model_create(&m, "errs", 0));
    OK(ic_model_input(m, 3, shape, NULL, &x));
    ic_layer *l;
    ic_conv2d_opts o = ic_conv2d_opts_default(4, 9, 9);
    OK(ic_layer_conv2d(&l, &o));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, &x), IC_ERR_SHAPE, "does not fit input (None, 8, 8, 3)");
    o = ic_conv2d_opts_default(4, 3, 3);
    o.name = "dup";
    OK(ic_layer_conv2d(&l, &o));
    OK(ic_model_apply(m, l, 1, &x, &x));
    OK(ic_layer_conv2d(&l, &o));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, &x), IC_ERR_INVALID, "already exists");
    int bad = 42;
    OK(ic_layer_flatten(&l, NULL));
    EXPECT_ERR(ic_model_apply(m, l, 1, &bad, &x), IC_ERR_INVALID, "input node 42 does not exist");
    int64_t wrong[4] = {2, 7, 8, 3};
    ic_tensor *t, *out;
    OK(ic_tensor_create(&t, 4, wrong));
    EXPECT_ERR(ic_model_forward(m, t, &out), IC_ERR_SHAPE,
               "expects input (None, 8, 8, 3), got (2, 7, 8, 3)");
    ic_tensor_free(t);
    ic_model_free(m);
}

/* Versions of every weight of m, in Keras order (up to 16). */
static int versions(ic_model *m, uint64_t *v, ic__param **ps)
{
    ic_layer *ls[16];
    int n = ic__model_collect(m, 0, ps, ls, 16);
    for (int i = 0; i < n && i < 16; i++)
        v[i] = ps[i]->version;
    return n;
}

static void test_weight_versions(void)
{
    ic__backend_set(ic__backend_cpu());
    ic_model *inner, *m;
    int x;
    int64_t shape[3] = {4, 4, 2};
    OK(ic_model_create(&inner, "base", 0));
    OK(ic_model_input(inner, 3, shape, NULL, &x));
    x = conv(inner, x, 3, "c1");
    OK(ic_model_create(&m, NULL, 1));
    ic_layer *l;
    OK(ic_layer_from_model(&l, inner));
    OK(ic_model_add(m, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 2, IC_ACT_TANH, 1, "fc"));
    OK(ic_model_add(m, l));

    int64_t xs[4] = {3, 4, 4, 2};
    ic_tensor *in, *out;
    OK(ic_tensor_create(&in, 4, xs));
    t_fill_uniform(ic_tensor_data(in), ic_tensor_numel(in), 7, -1, 1);
    OK(ic_model_forward(m, in, &out)); /* the backend converts and caches the weights */
    ic_tensor_free(out);

    uint64_t v0[16], v1[16];
    ic__param *ps[16];
    int n = versions(m, v0, ps);
    CHECK(n == 4 && ic_model_num_weights(m) == 4);
    static const char *names[4] = {"c1/kernel:0", "c1/bias:0", "fc/kernel:0", "fc/bias:0"};
    for (int i = 0; i < n; i++) { /* reading: same tensor, name, no new version */
        const char *name = NULL;
        const ic_tensor *t = ic_model_weight(m, i, &name);
        CHECKF(t == &ps[i]->value && name && !strcmp(name, names[i]), "weight %d: %s", i,
               name ? name : "(none)");
    }
    CHECK(!ic_model_weight(m, -1, NULL) && !ic_model_weight(m, n, NULL));
    CHECK(!ic_model_weight_mut(m, -1, NULL) && !ic_model_weight_mut(m, n, NULL));
    versions(m, v1, ps);
    for (int i = 0; i < n; i++)
        CHECKF(v1[i] == v0[i], "reading weight %d changed its version", i);

    /* writing: only the weight handed out gets a new (larger) version */
    const char *name = NULL;
    ic_tensor *k = ic_model_weight_mut(m, 2, &name);
    CHECK(k == &ps[2]->value && name && !strcmp(name, "fc/kernel:0"));
    ic_tensor_fill(k, 0.f);
    ic_tensor_fill(ic_model_weight_mut(m, 3, NULL), 0.5f);
    versions(m, v1, ps);
    CHECK(v1[0] == v0[0] && v1[1] == v0[1] && v1[2] > v0[2] && v1[3] > v0[3]);
    /* the forward sees the new values: every output is tanh(0 . x + 0.5) */
    OK(ic_model_forward(m, in, &out));
    float want[6];
    for (int i = 0; i < 6; i++)
        want[i] = tanhf(0.5f);
    CHECK(ic_tensor_numel(out) == 6);
    t_allclose("after ic_model_weight_mut", ic_tensor_cdata(out), want, 6, 1e-6, 1e-6);
    ic_tensor_free(out);
    ic_tensor_free(in);
    ic_model_free(m);
    ic__backend_set(ic__backend_ref());
}

int main(void)
{
    g_count = *ic__backend_ref();
    g_count.conv_bwd_data = count_bwd_data;
    g_count.conv_bwd_weights = count_bwd_weights;
    ic__backend_set(&g_count);
    test_pruning();
    ic__backend_set(ic__backend_ref());
    test_diamond();
    test_nested();
    test_forward_from();
    test_errors();
    test_weight_versions();
    return t_finish();
}
