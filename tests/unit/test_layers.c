/* test_layers.c - the layer families outside the gradient check:
 *   - shape inference (VGG16 conv base at 150x150 -> (4, 4, 512), 'same' with stride 2 on
 *     odd sizes = ceil(L/s), pools, padding, global pooling, Flatten, Concatenate);
 *   - parameter counts (Conv2D 3x3 3->64 = 1792, Dense 8192->256 = 2,097,408, the book's
 *     VGG16 + Dense 256 + Dense 1 = 16,812,353; BN 4 tensors, 4C params, 2C trainable,
 *     weight names and order);
 *   - Keras automatic names and class names;
 *   - bad inputs and bad arguments, checked by status and message;
 *   - forward values by hand (pools with 'same' padding, ZeroPadding2D, Flatten order,
 *     Dense, softmax over channels, Add, Concatenate);
 *   - Dropout: identity at inference, mean-preserving scale and keep rate in training,
 *     masks fixed by (seed, layer name, step) and independent of the thread count;
 *   - BatchNormalization: moving-average update values by hand (unbiased variance),
 *     inference mode, frozen BN (inference mode in training, also when the enclosing
 *     model is frozen), bn_frozen_batch_stats (batch stats, no update);
 * the value tests run on both the ref and the cpu backend. */
#include <stdint.h>

#include "graph/graph.h"
#include "harness.h"

static int ap(ic_model *m, ic_layer *l, int in)
{
    int node;
    OK(ic_model_apply(m, l, 1, &in, &node));
    return node;
}

static int conv3(ic_model *m, int in, int filters, ic_padding pad, int stride, const char *name)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(filters, 3, 3);
    o.padding = pad;
    o.stride_h = o.stride_w = stride;
    o.activation = IC_ACT_RELU;
    o.name = name;
    ic_layer *l;
    OK(ic_layer_conv2d(&l, &o));
    return ap(m, l, in);
}

static int maxpool(ic_model *m, int in)
{
    ic_layer *l;
    OK(ic_layer_max_pooling2d(&l, NULL));
    return ap(m, l, in);
}

static void expect_shape(ic_model *m, int node, int ndim, int64_t a, int64_t b, int64_t c,
                         const char *what)
{
    const ic__shape *s = &m->nodes[node].layer->out;
    int64_t want[3] = {a, b, c};
    int ok = s->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = s->d[i] == want[i];
    char buf[64];
    CHECKF(ok, "%s: shape %s", what, ic__shape_fmt(s, buf, sizeof buf));
}

/* ---------------- shapes and parameter counts ---------------- */

static void test_vgg_shapes_and_counts(void)
{
    ic_model *m;
    OK(ic_model_create(&m, "vgg_like", 0));
    int64_t in[3] = {150, 150, 3};
    int x;
    OK(ic_model_input(m, 3, in, NULL, &x));
    static const int filters[5] = {64, 128, 256, 512, 512};
    static const int convs[5] = {2, 2, 3, 3, 3};
    static const int64_t after_pool[5] = {75, 37, 18, 9, 4};
    int node = x;
    for (int b = 0; b < 5; b++) {
        for (int k = 0; k < convs[b]; k++) {
            char name[32];
            snprintf(name, sizeof name, "block%d_conv%d", b + 1, k + 1);
            node = conv3(m, node, filters[b], IC_PAD_SAME, 1, name);
        }
        node = maxpool(m, node);
        char what[32];
        snprintf(what, sizeof what, "block%d_pool", b + 1);
        expect_shape(m, node, 3, after_pool[b], after_pool[b], filters[b], what);
    }
    CHECK(ic_layer_count_params(ic_model_get_layer(m, "block1_conv1")) == 1792);
    CHECK(ic_model_count_params(m) == 14714688);
    ic_layer *fl, *d1, *d2;
    OK(ic_layer_flatten(&fl, NULL));
    node = ap(m, fl, node);
    expect_shape(m, node, 1, 8192, 0, 0, "flatten");
    OK(ic_layer_dense(&d1, 256, IC_ACT_RELU, 1, NULL));
    node = ap(m, d1, node);
    CHECK(ic_layer_count_params(d1) == 2097408);
    CHECK(ic_layer_num_weights(d1) == 2);
    OK(ic_layer_dense(&d2, 1, IC_ACT_SIGMOID, 1, NULL));
    ap(m, d2, node);
    CHECK(ic_model_count_params(m) == 16812353);
    CHECK(ic_model_count_trainable_params(m) == 16812353);
    CHECK(ic_model_num_weights(m) == 30);
    /* glorot_uniform kernel within its limit, zero bias */
    const ic_tensor *k = ic_model_weight(m, 26, NULL), *bias = ic_model_weight(m, 27, NULL);
    const char *name;
    ic_model_weight(m, 26, &name);
    char want_name[160];
    snprintf(want_name, sizeof want_name, "%s/kernel:0", ic_layer_name(d1));
    CHECKF(!strcmp(name, want_name), "weight 26 is %s", name);
    float lim = sqrtf(6.f / (8192 + 256)), mx = 0;
    for (int64_t i = 0; i < ic_tensor_numel(k); i++)
        mx = fabsf(ic_tensor_cdata(k)[i]) > mx ? fabsf(ic_tensor_cdata(k)[i]) : mx;
    CHECKF(mx <= lim && mx > 0.9f * lim, "dense kernel max %g, limit %g", mx, lim);
    CHECK(ic_tensor_dim(k, 0) == 8192 && ic_tensor_dim(k, 1) == 256);
    int zero = 1;
    for (int64_t i = 0; i < ic_tensor_numel(bias); i++)
        zero &= ic_tensor_cdata(bias)[i] == 0.f;
    CHECK(zero);
    ic_model_free(m);
}

static void test_odd_shapes(void)
{
    ic_model *m;
    OK(ic_model_create(&m, NULL, 0));
    int64_t in[3] = {7, 5, 3};
    int x;
    OK(ic_model_input(m, 3, in, NULL, &x));
    expect_shape(m, conv3(m, x, 4, IC_PAD_SAME, 2, NULL), 3, 4, 3, 4, "conv same s2 7x5");
    expect_shape(m, conv3(m, x, 4, IC_PAD_VALID, 2, NULL), 3, 3, 2, 4, "conv valid s2 7x5");
    expect_shape(m, maxpool(m, x), 3, 3, 2, 3, "maxpool default 7x5");
    ic_pool2d_opts po = ic_pool2d_opts_default();
    po.pool_h = po.pool_w = 3;
    po.stride_h = po.stride_w = 2;
    po.padding = IC_PAD_SAME;
    ic_layer *l;
    OK(ic_layer_average_pooling2d(&l, &po));
    expect_shape(m, ap(m, l, x), 3, 4, 3, 3, "avgpool 3x3 s2 same 7x5");
    po = ic_pool2d_opts_default(); /* strides default to the pool size */
    po.pool_h = 3;
    po.pool_w = 2;
    OK(ic_layer_max_pooling2d(&l, &po));
    expect_shape(m, ap(m, l, x), 3, 2, 2, 3, "maxpool 3x2 default strides 7x5");
    OK(ic_layer_zero_padding2d(&l, 1, 2, 0, 3, NULL));
    expect_shape(m, ap(m, l, x), 3, 10, 8, 3, "zero padding");
    OK(ic_layer_global_average_pooling2d(&l, NULL));
    expect_shape(m, ap(m, l, x), 1, 3, 0, 0, "gap");
    OK(ic_layer_global_max_pooling2d(&l, NULL));
    int g = ap(m, l, x);
    expect_shape(m, g, 1, 3, 0, 0, "gmp");
    ic_conv2d_opts dw = ic_conv2d_opts_default(0, 3, 3);
    dw.depth_multiplier = 2;
    dw.padding = IC_PAD_SAME;
    dw.stride_h = dw.stride_w = 2;
    OK(ic_layer_depthwise_conv2d(&l, &dw));
    expect_shape(m, ap(m, l, x), 3, 4, 3, 6, "depthwise same s2 x2");
    CHECK(ic_layer_count_params(l) == 3 * 3 * 3 * 2 + 6);
    int c2 = conv3(m, x, 2, IC_PAD_SAME, 1, NULL);
    int cin[3] = {x, c2, x};
    OK(ic_layer_concatenate(&l, NULL));
    int cc;
    OK(ic_model_apply(m, l, 3, cin, &cc));
    expect_shape(m, cc, 3, 7, 5, 8, "concatenate");
    OK(ic_layer_dropout(&l, 0.5f, NULL));
    expect_shape(m, ap(m, l, cc), 3, 7, 5, 8, "dropout");
    OK(ic_layer_batch_normalization(&l, NULL));
    expect_shape(m, ap(m, l, g), 1, 3, 0, 0, "bn 1-D");
    OK(ic_layer_activation(&l, IC_ACT_SOFTMAX, NULL));
    expect_shape(m, ap(m, l, x), 3, 7, 5, 3, "activation");
    ic_model_free(m);
}

static void test_bn_params(void)
{
    ic_reset_uids();
    ic_model *m;
    OK(ic_model_create(&m, NULL, 0));
    int64_t in[3] = {4, 4, 32};
    int x;
    OK(ic_model_input(m, 3, in, NULL, &x));
    ic_layer *b;
    OK(ic_layer_batch_normalization(&b, NULL));
    ap(m, b, x);
    CHECK(ic_layer_num_weights(b) == 4);
    CHECK(ic_layer_count_params(b) == 128);
    CHECK(ic_model_count_params(m) == 128);
    CHECK(ic_model_count_trainable_params(m) == 64);
    CHECK(ic_model_num_trainable_weights(m) == 2);
    static const char *names[4] = {"batch_normalization_1/gamma:0", "batch_normalization_1/beta:0",
                                   "batch_normalization_1/moving_mean:0",
                                   "batch_normalization_1/moving_variance:0"};
    static const float init[4] = {1, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        const char *name;
        const ic_tensor *t = ic_model_weight(m, i, &name);
        CHECKF(t && !strcmp(name, names[i]), "weight %d: %s", i, t ? name : "(none)");
        CHECK(t && ic_tensor_numel(t) == 32 && ic_tensor_cdata(t)[5] == init[i]);
    }
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    CHECK(o.momentum == 0.99f && o.epsilon == 1e-3f && o.center && o.scale);
    o.center = 0;
    OK(ic_layer_batch_normalization(&b, &o));
    ap(m, b, x);
    CHECK(ic_layer_num_weights(b) == 3 && ic_layer_count_params(b) == 96);
    o.center = 1;
    o.scale = 0;
    OK(ic_layer_batch_normalization(&b, &o));
    ap(m, b, x);
    CHECK(ic_layer_num_weights(b) == 3);
    CHECK(ic_model_count_trainable_params(m) == 64 + 32 + 32);
    ic_layer_set_trainable(b, 0);
    CHECK(ic_model_count_trainable_params(m) == 64 + 32);
    ic_model_free(m);
}

/* ---------------- names ---------------- */

static void test_names(void)
{
    ic_reset_uids();
    ic_layer *l;
    ic_pool2d_opts po = ic_pool2d_opts_default();
#define NAMED(call, nm, cl)                                                                        \
    do {                                                                                           \
        l = NULL;                                                                                  \
        ic_status s_ = (call);                                                                     \
        CHECKF(s_ == IC_OK && l && !strcmp(ic_layer_name(l), nm) &&                                \
                   !strcmp(ic_layer_class_name(l), cl),                                            \
               "%s: got %s / %s", nm, l ? ic_layer_name(l) : "-",                                  \
               l ? ic_layer_class_name(l) : "-");                                                  \
        ic_layer_free(l);                                                                          \
    } while (0)
    NAMED(ic_layer_max_pooling2d(&l, &po), "max_pooling2d_1", "MaxPooling2D");
    NAMED(ic_layer_max_pooling2d(&l, NULL), "max_pooling2d_2", "MaxPooling2D");
    NAMED(ic_layer_average_pooling2d(&l, NULL), "average_pooling2d_1", "AveragePooling2D");
    NAMED(ic_layer_global_average_pooling2d(&l, NULL), "global_average_pooling2d_1",
          "GlobalAveragePooling2D");
    NAMED(ic_layer_global_max_pooling2d(&l, ""), "global_max_pooling2d_1", "GlobalMaxPooling2D");
    NAMED(ic_layer_dense(&l, 3, IC_ACT_RELU, 1, NULL), "dense_1", "Dense");
    NAMED(ic_layer_dense(&l, 3, IC_ACT_RELU, 1, NULL), "dense_2", "Dense");
    NAMED(ic_layer_flatten(&l, NULL), "flatten_1", "Flatten");
    NAMED(ic_layer_dropout(&l, 0.5f, NULL), "dropout_1", "Dropout");
    NAMED(ic_layer_activation(&l, IC_ACT_TANH, NULL), "activation_1", "Activation");
    NAMED(ic_layer_relu(&l, 6.f, NULL), "re_lu_1", "ReLU");
    NAMED(ic_layer_zero_padding2d(&l, 1, 1, 1, 1, NULL), "zero_padding2d_1", "ZeroPadding2D");
    NAMED(ic_layer_batch_normalization(&l, NULL), "batch_normalization_1", "BatchNormalization");
    NAMED(ic_layer_add(&l, NULL), "add_1", "Add");
    NAMED(ic_layer_concatenate(&l, NULL), "concatenate_1", "Concatenate");
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.name = "bn_conv1";
    NAMED(ic_layer_batch_normalization(&l, &bo), "bn_conv1", "BatchNormalization");
    NAMED(ic_layer_dense(&l, 2, IC_ACT_LINEAR, 0, "fc"), "fc", "Dense");
#undef NAMED
}

/* ---------------- errors ---------------- */

static void test_errors(void)
{
    ic_model *m;
    OK(ic_model_create(&m, "errs", 0));
    int64_t in[3] = {2, 2, 4};
    int x;
    OK(ic_model_input(m, 3, in, NULL, &x));
    ic_layer *l;

    OK(ic_layer_dense(&l, 8, IC_ACT_RELU, 1, "fc"));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, NULL), IC_ERR_SHAPE, "Flatten");
    OK(ic_layer_dense(&l, 8, IC_ACT_RELU, 1, "fc"));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, NULL), IC_ERR_SHAPE, "(None, 2, 2, 4)");

    ic_pool2d_opts po = ic_pool2d_opts_default();
    po.pool_h = po.pool_w = 3;
    OK(ic_layer_max_pooling2d(&l, &po));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, NULL), IC_ERR_SHAPE, "3x3 pool does not fit");
    po.padding = IC_PAD_SAME; /* 'same' always fits */
    OK(ic_layer_max_pooling2d(&l, &po));
    int pn;
    OK(ic_model_apply(m, l, 1, &x, &pn));
    expect_shape(m, pn, 3, 1, 1, 4, "maxpool 3x3 same on 2x2");
    po = ic_pool2d_opts_default();
    po.pool_h = 0;
    EXPECT_ERR(ic_layer_max_pooling2d(&l, &po), IC_ERR_INVALID, "pool size");

    int cin[2] = {x, 0};
    OK(ic_layer_zero_padding2d(&l, 1, 0, 0, 0, NULL));
    cin[1] = ap(m, l, x);
    OK(ic_layer_add(&l, "bad_add"));
    EXPECT_ERR(ic_model_apply(m, l, 2, cin, NULL), IC_ERR_SHAPE, "same shape");
    OK(ic_layer_add(&l, "bad_add"));
    EXPECT_ERR(ic_model_apply(m, l, 2, cin, NULL), IC_ERR_SHAPE, "(None, 3, 2, 4)");
    OK(ic_layer_add(&l, "one_add"));
    EXPECT_ERR(ic_model_apply(m, l, 1, &x, NULL), IC_ERR_INVALID, "at least 2 inputs");
    OK(ic_layer_concatenate(&l, "bad_cat"));
    EXPECT_ERR(ic_model_apply(m, l, 2, cin, NULL), IC_ERR_SHAPE, "except for the concatenation");

    ic_layer *gap;
    OK(ic_layer_global_average_pooling2d(&gap, NULL));
    int g = ap(m, gap, x);
    OK(ic_layer_max_pooling2d(&l, NULL));
    EXPECT_ERR(ic_model_apply(m, l, 1, &g, NULL), IC_ERR_SHAPE, "(None, H, W, C)");
    OK(ic_layer_flatten(&l, NULL));
    int two[2] = {x, x};
    EXPECT_ERR(ic_model_apply(m, l, 2, two, NULL), IC_ERR_INVALID, "takes 1 input");

    EXPECT_ERR(ic_layer_dropout(&l, 1.f, "d"), IC_ERR_INVALID, "rate must be in [0, 1)");
    EXPECT_ERR(ic_layer_dropout(&l, -0.1f, "d"), IC_ERR_INVALID, "rate");
    EXPECT_ERR(ic_layer_dropout(&l, NAN, "d"), IC_ERR_INVALID, "rate");
    CHECK(l == NULL);
    EXPECT_ERR(ic_layer_dense(&l, 0, IC_ACT_RELU, 1, "d"), IC_ERR_INVALID, "units must be >= 1");
    EXPECT_ERR(ic_layer_relu(&l, 3.f, "r"), IC_ERR_UNSUPPORTED, "max_value 3");
    EXPECT_ERR(ic_layer_zero_padding2d(&l, -1, 0, 0, 0, "z"), IC_ERR_INVALID, ">= 0");
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.momentum = 1.5f;
    EXPECT_ERR(ic_layer_batch_normalization(&l, &bo), IC_ERR_INVALID, "momentum");
    bo = ic_batchnorm_opts_default();
    bo.epsilon = 0.f;
    EXPECT_ERR(ic_layer_batch_normalization(&l, &bo), IC_ERR_INVALID, "epsilon");
    EXPECT_ERR(ic_layer_activation(&l, (ic_activation)42, "a"), IC_ERR_INVALID, "activation");
    ic_model_free(m);
}

/* ---------------- forward values ---------------- */

/* A model plus a plan on the current backend. */
typedef struct net {
    ic_model *m;
    ic__plan *p;
    int64_t batch;
} net;

static const float *fwd(net *n, const float *x, int training, int frozen_bs, uint64_t step)
{
    if (!n->p)
        OK(ic__plan_get(n->m, n->batch, &n->p));
    ic__run_ctx rc = {training, frozen_bs, step};
    OK(ic__plan_forward(n->p, x, &rc));
    return ic__plan_output(n->p)->data;
}

static net net1(int ndim, int64_t a, int64_t b, int64_t c, int64_t batch, ic_layer *l)
{
    net n = {0};
    OK(ic_model_create(&n.m, NULL, 0));
    int64_t in[3] = {a, b, c};
    int x;
    OK(ic_model_input(n.m, ndim, in, NULL, &x));
    ap(n.m, l, x);
    n.batch = batch;
    return n;
}

static void test_values(const char *be)
{
    char what[128];
    /* 3x3x1 image 1..9, pool 2x2 stride 2 'same': windows clipped at the bottom/right */
    float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ic_pool2d_opts po = ic_pool2d_opts_default();
    po.padding = IC_PAD_SAME;
    ic_layer *l;
    OK(ic_layer_average_pooling2d(&l, &po));
    net n = net1(3, 3, 3, 1, 1, l);
    const float *y = fwd(&n, img, 0, 0, 0);
    float want_avg[4] = {3, 4.5f, 7.5f, 9};
    snprintf(what, sizeof what, "%s: avg pool same excludes padding", be);
    t_allclose(what, y, want_avg, 4, 1e-6, 1e-6);
    ic_model_free(n.m);
    OK(ic_layer_max_pooling2d(&l, &po));
    n = net1(3, 3, 3, 1, 1, l);
    y = fwd(&n, img, 0, 0, 0);
    float want_max[4] = {5, 6, 8, 9};
    snprintf(what, sizeof what, "%s: max pool same", be);
    t_allclose(what, y, want_max, 4, 0, 0);
    ic_model_free(n.m);

    /* global pools over a 2x2x2 input: channels interleaved (NHWC) */
    float g_in[8] = {1, -1, 2, -2, 3, -3, 6, -6};
    OK(ic_layer_global_average_pooling2d(&l, NULL));
    n = net1(3, 2, 2, 2, 1, l);
    y = fwd(&n, g_in, 0, 0, 0);
    float want_gap[2] = {3, -3};
    snprintf(what, sizeof what, "%s: global average pooling", be);
    t_allclose(what, y, want_gap, 2, 1e-6, 1e-6);
    ic_model_free(n.m);
    OK(ic_layer_global_max_pooling2d(&l, NULL));
    n = net1(3, 2, 2, 2, 1, l);
    y = fwd(&n, g_in, 0, 0, 0);
    float want_gmp[2] = {6, -1};
    snprintf(what, sizeof what, "%s: global max pooling", be);
    t_allclose(what, y, want_gmp, 2, 0, 0);
    ic_model_free(n.m);

    /* ZeroPadding2D (1, 0, 0, 1) on a 2x2x1 image */
    float z_in[4] = {1, 2, 3, 4};
    OK(ic_layer_zero_padding2d(&l, 1, 0, 0, 1, NULL));
    n = net1(3, 2, 2, 1, 1, l);
    y = fwd(&n, z_in, 0, 0, 0);
    float want_z[9] = {0, 0, 0, 1, 2, 0, 3, 4, 0};
    snprintf(what, sizeof what, "%s: zero padding", be);
    t_allclose(what, y, want_z, 9, 0, 0);
    ic_model_free(n.m);

    /* Flatten: (h*W + w)*C + c, a plain copy of NHWC */
    float f_in[12];
    for (int i = 0; i < 12; i++)
        f_in[i] = (float)i;
    OK(ic_layer_flatten(&l, NULL));
    n = net1(3, 2, 2, 3, 1, l);
    y = fwd(&n, f_in, 0, 0, 0);
    snprintf(what, sizeof what, "%s: flatten order", be);
    t_allclose(what, y, f_in, 12, 0, 0);
    ic_model_free(n.m);

    /* Dense 2 -> 3 with a known kernel (in, out) and bias, relu */
    OK(ic_layer_dense(&l, 3, IC_ACT_RELU, 1, NULL));
    n = net1(1, 2, 0, 0, 2, l);
    float kern[6] = {1, 2, -3, 4, 5, 6}; /* W[i][o] */
    float bias[3] = {0.5f, -100, 0};
    memcpy(l->params[0]->value.data, kern, sizeof kern);
    memcpy(l->params[1]->value.data, bias, sizeof bias);
    l->params[0]->version = ic__next_version();
    l->params[1]->version = ic__next_version();
    float d_in[4] = {1, 1, 2, -1};
    y = fwd(&n, d_in, 0, 0, 0);
    float want_d[6] = {5.5f, 0, 3, 0, 0, 0}; /* row 2: (2-4+.5, 4-5-100, -6-6) -> relu */
    snprintf(what, sizeof what, "%s: dense relu", be);
    t_allclose(what, y, want_d, 6, 1e-6, 1e-6);
    ic_model_free(n.m);

    /* Softmax over channels of a 1x2x3 input sums to one per pixel */
    OK(ic_layer_activation(&l, IC_ACT_SOFTMAX, NULL));
    n = net1(3, 1, 2, 3, 1, l);
    float s_in[6] = {0, 1, 2, 5, 5, 5};
    y = fwd(&n, s_in, 0, 0, 0);
    double e0 = 1 + exp(1) + exp(2);
    float want_s[6] = {
        (float)(1 / e0), (float)(exp(1) / e0), (float)(exp(2) / e0), 1.f / 3, 1.f / 3, 1.f / 3};
    snprintf(what, sizeof what, "%s: softmax over channels", be);
    t_allclose(what, y, want_s, 6, 1e-5, 1e-6);
    ic_model_free(n.m);

    /* ReLU(6) and Add / Concatenate */
    OK(ic_layer_relu(&l, 6.f, NULL));
    n = net1(1, 4, 0, 0, 1, l);
    float r_in[4] = {-1, 3, 6.5f, 100};
    float want_r[4] = {0, 3, 6, 6};
    y = fwd(&n, r_in, 0, 0, 0);
    snprintf(what, sizeof what, "%s: relu6 layer", be);
    t_allclose(what, y, want_r, 4, 0, 0);
    ic_model_free(n.m);

    net mn = {0};
    OK(ic_model_create(&mn.m, NULL, 0));
    int64_t in[3] = {1, 2, 2};
    int x;
    OK(ic_model_input(mn.m, 3, in, NULL, &x));
    OK(ic_layer_zero_padding2d(&l, 0, 0, 0, 0, NULL));
    int zx = ap(mn.m, l, x);
    int ins[3] = {x, zx, x};
    OK(ic_layer_add(&l, NULL));
    int ad;
    OK(ic_model_apply(mn.m, l, 3, ins, &ad));
    int cat_in[2] = {ad, x};
    OK(ic_layer_concatenate(&l, NULL));
    OK(ic_model_apply(mn.m, l, 2, cat_in, NULL));
    mn.batch = 1;
    float m_in[4] = {1, 2, 3, 4};
    y = fwd(&mn, m_in, 0, 0, 0);
    float want_m[8] = {3, 6, 1, 2, 9, 12, 3, 4};
    snprintf(what, sizeof what, "%s: add 3 + concatenate", be);
    t_allclose(what, y, want_m, 8, 0, 0);
    ic_model_free(mn.m);
}

/* ---------------- Dropout ---------------- */

static void test_dropout(const char *be)
{
    enum { N = 4, F = 25000 };
    const float rate = 0.3f;
    float *x = malloc(sizeof(float) * N * F);
    float *y1 = malloc(sizeof(float) * N * F);
    for (int i = 0; i < N * F; i++)
        x[i] = 1.f + (float)(i % 7);
    ic_layer *l;
    OK(ic_layer_dropout(&l, rate, "drop"));
    net n = net1(1, F, 0, 0, N, l);
    const float *y = fwd(&n, x, 0, 0, 5);
    CHECKF(!memcmp(y, x, sizeof(float) * N * F), "%s: dropout identity at inference", be);
    y = fwd(&n, x, 1, 0, 5);
    int64_t kept = 0, bad = 0;
    double sx = 0, sy = 0;
    for (int i = 0; i < N * F; i++) {
        sx += x[i];
        sy += y[i];
        if (y[i] != 0.f) {
            kept++;
            bad += fabsf(y[i] - x[i] / (1.f - rate)) > 1e-5f * y[i];
        }
    }
    double keep = (double)kept / (N * F);
    CHECKF(fabs(keep - (1 - rate)) < 0.01, "%s: keep fraction %g", be, keep);
    CHECKF(bad == 0, "%s: %lld kept units not scaled by 1/(1-rate)", be, (long long)bad);
    CHECKF(fabs(sy / sx - 1) < 0.02, "%s: dropout mean ratio %g", be, sy / sx);
    memcpy(y1, y, sizeof(float) * N * F);
    /* the same step gives the same mask, also with one thread; another step does not */
    int threads = ic_num_threads();
    ic_set_num_threads(1);
    y = fwd(&n, x, 1, 0, 5);
    CHECKF(!memcmp(y, y1, sizeof(float) * N * F), "%s: mask depends on the thread count", be);
    ic_set_num_threads(threads);
    y = fwd(&n, x, 1, 0, 6);
    CHECKF(memcmp(y, y1, sizeof(float) * N * F) != 0, "%s: same mask at another step", be);
    /* and another seed gives another mask, the same seed the same one */
    ic_set_random_seed(7);
    y = fwd(&n, x, 1, 0, 5);
    CHECKF(memcmp(y, y1, sizeof(float) * N * F) != 0, "%s: same mask with another seed", be);
    ic_set_random_seed(42);
    y = fwd(&n, x, 1, 0, 5);
    CHECKF(!memcmp(y, y1, sizeof(float) * N * F), "%s: seed 42 mask not reproduced", be);
    /* backward: the gradient goes through the same mask */
    float *dy = malloc(sizeof(float) * N * F), *dx = malloc(sizeof(float) * N * F);
    for (int i = 0; i < N * F; i++)
        dy[i] = 1.f;
    OK(ic__plan_backward(n.p, dy, dx));
    int64_t mism = 0;
    for (int i = 0; i < N * F; i++)
        mism += fabsf(dx[i] * x[i] - y1[i]) > 1e-5f * fabsf(y1[i]);
    CHECKF(mism == 0, "%s: dropout backward mask differs in %lld places", be, (long long)mism);
    ic_model_free(n.m);
    /* rate 0: identity even in training */
    OK(ic_layer_dropout(&l, 0.f, NULL));
    n = net1(1, F, 0, 0, 1, l);
    y = fwd(&n, x, 1, 0, 1);
    CHECKF(!memcmp(y, x, sizeof(float) * F), "%s: rate 0 changed values", be);
    ic_model_free(n.m);
    free(x);
    free(y1);
    free(dy);
    free(dx);
}

/* ---------------- BatchNormalization ---------------- */

static ic__param *param(ic_layer *l, const char *name)
{
    for (int i = 0; i < l->n_params; i++)
        if (!strcmp(l->params[i]->name, name))
            return l->params[i];
    return NULL;
}

/* y = gamma (x - mean) / sqrt(var + eps) + beta for a batch of 4 samples, 2 channels */
static void bn_expect(const char *what, const float *y, const float *x, const double *mean,
                      const double *var, const float *gamma, const float *beta, double eps)
{
    float want[8];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 2; c++)
            want[r * 2 + c] =
                (float)(gamma[c] * (x[r * 2 + c] - mean[c]) / sqrt(var[c] + eps) + beta[c]);
    t_allclose(what, y, want, 8, 1e-4, 1e-5);
}

static void test_batchnorm(const char *be)
{
    char what[160];
    const float x[8] = {1, 10, 2, 20, 4, 30, 5, 60}; /* (4 samples, 2 channels) */
    /* batch mean (3, 30), biased var (2.5, 350), unbiased (10/3, 1400/3) */
    const double bmean[2] = {3, 30}, bvar[2] = {2.5, 350};
    const float gamma[2] = {2, 0.5f}, beta[2] = {1, -1};
    const float mm0[2] = {0.5f, -2}, mv0[2] = {2, 3};
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    o.momentum = 0.9f;
    for (int mode = 0; mode < 5; mode++) {
        /* 0 trainable training, 1 trainable inference, 2 frozen training,
         * 3 frozen + bn_frozen_batch_stats, 4 trainable layer in a frozen model */
        ic_layer *l;
        OK(ic_layer_batch_normalization(&l, &o));
        net n = net1(1, 2, 0, 0, 4, l);
        if (mode == 2 || mode == 3)
            ic_layer_set_trainable(l, 0);
        if (mode == 4)
            ic_model_set_trainable(n.m, 0);
        ic__param *pg = param(l, "gamma"), *pb = param(l, "beta");
        ic__param *pm = param(l, "moving_mean"), *pv = param(l, "moving_variance");
        memcpy(pg->value.data, gamma, sizeof gamma);
        memcpy(pb->value.data, beta, sizeof beta);
        memcpy(pm->value.data, mm0, sizeof mm0);
        memcpy(pv->value.data, mv0, sizeof mv0);
        uint64_t vm = pm->version, vv = pv->version;
        int training = mode != 1;
        const float *y = fwd(&n, x, training, mode == 3, 1);
        const double mmd[2] = {mm0[0], mm0[1]}, mvd[2] = {mv0[0], mv0[1]};
        int batch_stats = mode == 0 || mode == 3;
        snprintf(what, sizeof what, "%s: bn mode %d output (%s stats)", be, mode,
                 batch_stats ? "batch" : "moving");
        bn_expect(what, y, x, batch_stats ? bmean : mmd, batch_stats ? bvar : mvd, gamma, beta,
                  1e-3);
        if (mode == 0) {
            /* moving = moving * 0.9 + batch * 0.1, with the unbiased variance (m = 4) */
            float want_m[2] = {0.5f * 0.9f + 0.3f, -2 * 0.9f + 3.f};
            float want_v[2] = {(float)(2 * 0.9 + 0.1 * 10.0 / 3),
                               (float)(3 * 0.9 + 0.1 * 1400.0 / 3)};
            snprintf(what, sizeof what, "%s: bn moving_mean after 1 step", be);
            t_allclose(what, pm->value.data, want_m, 2, 1e-6, 1e-6);
            snprintf(what, sizeof what, "%s: bn moving_variance after 1 step", be);
            t_allclose(what, pv->value.data, want_v, 2, 1e-6, 1e-6);
            CHECKF(pm->version != vm && pv->version != vv, "%s: bn versions not bumped", be);
            /* a second step compounds */
            fwd(&n, x, 1, 0, 2);
            float want_m2[2] = {want_m[0] * 0.9f + 0.3f, want_m[1] * 0.9f + 3.f};
            float want_v2[2] = {(float)(want_v[0] * 0.9 + 0.1 * 10.0 / 3),
                                (float)(want_v[1] * 0.9 + 0.1 * 1400.0 / 3)};
            snprintf(what, sizeof what, "%s: bn moving stats after 2 steps", be);
            t_allclose(what, pm->value.data, want_m2, 2, 1e-6, 1e-6);
            t_allclose(what, pv->value.data, want_v2, 2, 1e-6, 1e-6);
            /* inference now uses the updated moving statistics */
            y = fwd(&n, x, 0, 0, 0);
            const double m2[2] = {want_m2[0], want_m2[1]}, v2[2] = {want_v2[0], want_v2[1]};
            snprintf(what, sizeof what, "%s: bn inference after training", be);
            bn_expect(what, y, x, m2, v2, gamma, beta, 1e-3);
        } else {
            CHECKF(!memcmp(pm->value.data, mm0, sizeof mm0) &&
                       !memcmp(pv->value.data, mv0, sizeof mv0) && pm->version == vm &&
                       pv->version == vv,
                   "%s: bn mode %d changed the moving statistics", be, mode);
        }
        ic_model_free(n.m);
    }
    /* Keras default momentum 0.99 on a 3-D input (m = batch * H * W) */
    ic_layer *l;
    OK(ic_layer_batch_normalization(&l, NULL));
    net n = net1(3, 2, 1, 1, 2, l); /* 2 samples of 2x1x1: m = 4 */
    float x4[4] = {1, 2, 4, 5};
    fwd(&n, x4, 1, 0, 0);
    float wm = 0.01f * 3, wv = (float)(0.99 + 0.01 * 10.0 / 3);
    snprintf(what, sizeof what, "%s: bn default momentum", be);
    t_allclose(what, param(l, "moving_mean")->value.data, &wm, 1, 1e-6, 1e-7);
    t_allclose(what, param(l, "moving_variance")->value.data, &wv, 1, 1e-6, 1e-7);
    ic_model_free(n.m);
}

int main(void)
{
    ic_set_random_seed(42);
    test_vgg_shapes_and_counts();
    test_odd_shapes();
    test_bn_params();
    test_names();
    test_errors();
    static const char *backends[2] = {"ref", "cpu"};
    for (int b = 0; b < 2; b++) {
        OK(ic_set_backend(backends[b]));
        test_values(backends[b]);
        test_dropout(backends[b]);
        test_batchnorm(backends[b]);
    }
    return t_finish();
}
