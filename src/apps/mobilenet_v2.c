/* mobilenet_v2.c - MobileNetV2 as keras.applications.mobilenet_v2 (keras-applications
 * 1.0.8) builds it: same layer names, order, shapes and options (BN epsilon 1e-3,
 * momentum 0.999, ReLU(6.), no conv biases, correct_pad before stride-2 convs), so the
 * Keras weight files load by layer order or by name. */
#include <math.h>
#include <stdio.h>

#include "core/core.h"
#include "imgclass/apps.h"

/* The alphas Keras publishes weights for; Keras's arithmetic runs on these doubles. */
static const double k_alphas[] = {0.35, 0.5, 0.75, 1.0, 1.3, 1.4};

/* keras-applications _make_divisible(v, divisor): nearest multiple, at least divisor,
 * never more than 10 % below v. */
static int make_divisible(double v, int divisor)
{
    int nv = (int)(v + divisor / 2.0) / divisor * divisor;
    if (nv < divisor)
        nv = divisor;
    if (nv < 0.9 * v)
        nv += divisor;
    return nv;
}

typedef struct mb {
    ic_model *m;
    int x;        /* current node */
    int64_t h, w; /* spatial size of the current node */
    int c;        /* channels of the current node */
} mb;

static ic_status apply(mb *b, ic_layer *l, ic_status s)
{
    return s ? s : ic_model_apply(b->m, l, 1, &b->x, &b->x);
}

/* correct_pad(backend, x, 3) + ZeroPadding2D: ((0,1),(0,1)) on even sizes, ((1,1),(1,1))
 * on odd ones (per axis). */
static ic_status add_correct_pad(mb *b, const char *name)
{
    int adj_h = 1 - (int)(b->h % 2), adj_w = 1 - (int)(b->w % 2);
    ic_layer *l;
    ic_status s = ic_layer_zero_padding2d(&l, 1 - adj_h, 1, 1 - adj_w, 1, name);
    if (!s) {
        b->h += 2 - adj_h;
        b->w += 2 - adj_w;
    }
    return apply(b, l, s);
}

static ic_status add_conv(mb *b, int filters, int k, int stride, int depthwise, ic_padding pad,
                          const char *name)
{
    ic_conv2d_opts c = ic_conv2d_opts_default(filters, k, k);
    c.stride_h = c.stride_w = stride;
    c.padding = pad;
    c.use_bias = 0;
    c.name = name;
    ic_layer *l;
    ic_status s = depthwise ? ic_layer_depthwise_conv2d(&l, &c) : ic_layer_conv2d(&l, &c);
    if (!s) {
        if (!depthwise)
            b->c = filters;
        if (pad == IC_PAD_VALID) {
            b->h = (b->h - k) / stride + 1;
            b->w = (b->w - k) / stride + 1;
        } else {
            b->h = (b->h + stride - 1) / stride;
            b->w = (b->w + stride - 1) / stride;
        }
    }
    return apply(b, l, s);
}

static ic_status add_bn(mb *b, const char *name)
{
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    o.epsilon = 1e-3f;
    o.momentum = 0.999f;
    o.name = name;
    ic_layer *l;
    ic_status s = ic_layer_batch_normalization(&l, &o);
    return apply(b, l, s);
}

static ic_status add_relu6(mb *b, const char *name)
{
    ic_layer *l;
    ic_status s = ic_layer_relu(&l, 6.f, name);
    return apply(b, l, s);
}

/* _inverted_res_block(x, expansion, stride, alpha, filters, block_id). */
static ic_status inverted_res_block(mb *b, int expansion, int stride, double alpha, int filters,
                                    int block_id)
{
    int in_node = b->x, in_channels = b->c;
    int pointwise_filters = make_divisible((double)(int)(filters * alpha), 8);
    char prefix[32], name[64];
    ic_status s = IC_OK;
    if (block_id) {
        snprintf(prefix, sizeof prefix, "block_%d_", block_id);
        snprintf(name, sizeof name, "%sexpand", prefix);
        s = add_conv(b, expansion * in_channels, 1, 1, 0, IC_PAD_SAME, name);
        snprintf(name, sizeof name, "%sexpand_BN", prefix);
        if (!s)
            s = add_bn(b, name);
        snprintf(name, sizeof name, "%sexpand_relu", prefix);
        if (!s)
            s = add_relu6(b, name);
    } else {
        snprintf(prefix, sizeof prefix, "expanded_conv_");
    }
    if (!s && stride == 2) {
        snprintf(name, sizeof name, "%spad", prefix);
        s = add_correct_pad(b, name);
    }
    snprintf(name, sizeof name, "%sdepthwise", prefix);
    if (!s)
        s = add_conv(b, 0, 3, stride, 1, stride == 1 ? IC_PAD_SAME : IC_PAD_VALID, name);
    snprintf(name, sizeof name, "%sdepthwise_BN", prefix);
    if (!s)
        s = add_bn(b, name);
    snprintf(name, sizeof name, "%sdepthwise_relu", prefix);
    if (!s)
        s = add_relu6(b, name);
    snprintf(name, sizeof name, "%sproject", prefix);
    if (!s)
        s = add_conv(b, pointwise_filters, 1, 1, 0, IC_PAD_SAME, name);
    snprintf(name, sizeof name, "%sproject_BN", prefix);
    if (!s)
        s = add_bn(b, name);
    if (!s && in_channels == pointwise_filters && stride == 1) {
        snprintf(name, sizeof name, "%sadd", prefix);
        ic_layer *l;
        if (!(s = ic_layer_add(&l, name))) {
            int ins[2] = {in_node, b->x}; /* Add(name)([inputs, x]) */
            s = ic_model_apply(b->m, l, 2, ins, &b->x);
        }
    }
    return s;
}

static ic_status build(mb *b, double alpha, const ic_app_opts *o, const int64_t *shape)
{
    static const struct {
        int filters, stride, expansion;
    } blocks[17] = {{16, 1, 1}, {24, 2, 6},  {24, 1, 6},  {32, 2, 6},  {32, 1, 6}, {32, 1, 6},
                    {64, 2, 6}, {64, 1, 6},  {64, 1, 6},  {64, 1, 6},  {96, 1, 6}, {96, 1, 6},
                    {96, 1, 6}, {160, 2, 6}, {160, 1, 6}, {160, 1, 6}, {320, 1, 6}};
    ic_status s = ic_model_input(b->m, 3, shape, NULL, &b->x);
    b->h = shape[0];
    b->w = shape[1];
    b->c = (int)shape[2];
    if (!s)
        s = add_correct_pad(b, "Conv1_pad");
    if (!s)
        s = add_conv(b, make_divisible(32 * alpha, 8), 3, 2, 0, IC_PAD_VALID, "Conv1");
    if (!s)
        s = add_bn(b, "bn_Conv1");
    if (!s)
        s = add_relu6(b, "Conv1_relu");
    for (int i = 0; !s && i < 17; i++)
        s = inverted_res_block(b, blocks[i].expansion, blocks[i].stride, alpha, blocks[i].filters,
                               i);
    int last = alpha > 1.0 ? make_divisible(1280 * alpha, 8) : 1280;
    if (!s)
        s = add_conv(b, last, 1, 1, 0, IC_PAD_VALID, "Conv_1");
    if (!s)
        s = add_bn(b, "Conv_1_bn");
    if (!s)
        s = add_relu6(b, "out_relu");
    if (s)
        return s;
    ic_layer *l;
    if (o->include_top) {
        if (!(s = ic_layer_global_average_pooling2d(&l, NULL)) &&
            !(s = ic_model_apply(b->m, l, 1, &b->x, &b->x)) &&
            !(s = ic_layer_dense(&l, o->classes, IC_ACT_SOFTMAX, 1, "Logits")))
            s = ic_model_apply(b->m, l, 1, &b->x, &b->x);
    } else if (o->pooling == IC_POOLING_AVG) {
        if (!(s = ic_layer_global_average_pooling2d(&l, NULL)))
            s = ic_model_apply(b->m, l, 1, &b->x, &b->x);
    } else if (o->pooling == IC_POOLING_MAX) {
        if (!(s = ic_layer_global_max_pooling2d(&l, NULL)))
            s = ic_model_apply(b->m, l, 1, &b->x, &b->x);
    }
    return s;
}

ic_status ic_app_mobilenet_v2(ic_model **out, float alpha, const ic_app_opts *opts)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "mobilenet_v2: out is NULL");
    *out = NULL;
    double a = 0;
    for (size_t i = 0; i < sizeof k_alphas / sizeof k_alphas[0]; i++)
        if (fabs((double)alpha - k_alphas[i]) < 1e-6)
            a = k_alphas[i];
    if (a == 0)
        return ic_seterr(IC_ERR_INVALID,
                         "mobilenet_v2: alpha %g is not one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4",
                         (double)alpha);
    ic_app_opts o = opts ? *opts : ic_app_opts_default();
    int64_t shape[3];
    shape[0] = o.input_shape[0] ? o.input_shape[0] : 224;
    shape[1] = o.input_shape[1] ? o.input_shape[1] : 224;
    shape[2] = o.input_shape[2] ? o.input_shape[2] : 3;
    if (shape[0] < 32 || shape[1] < 32 || shape[2] < 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "mobilenet_v2: input shape %lldx%lldx%lld is too small (at least 32x32x1)",
                         (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    if (o.include_top && o.classes < 1)
        return ic_seterr(IC_ERR_INVALID, "mobilenet_v2: classes must be >= 1");
    if (!o.include_top && (int)o.pooling != IC_POOLING_NONE && o.pooling != IC_POOLING_AVG &&
        o.pooling != IC_POOLING_MAX)
        return ic_seterr(IC_ERR_INVALID, "mobilenet_v2: unknown pooling %d", (int)o.pooling);
    char name[64];
    snprintf(name, sizeof name, "mobilenetv2_%0.2f_%lld", a, (long long)shape[0]);
    mb b = {0};
    ic_status s = ic_model_create(&b.m, name, 0);
    if (s)
        return s;
    if ((s = build(&b, a, &o, shape))) {
        ic_model_free(b.m);
        return s;
    }
    *out = b.m;
    return IC_OK;
}
