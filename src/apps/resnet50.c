/* resnet50.c - ResNet50 as keras-applications 1.0.8 resnet50.py builds it (Keras 2.2.4
 * layer names: conv1_pad, conv1, bn_conv1, pool1_pad, res2a_branch2a, bn2a_branch2a, ...,
 * avg_pool + fc1000 with include_top). Unnamed Keras layers (Activation, Add,
 * MaxPooling2D) get imgclass's automatic names (activation_N, add_N, max_pooling2d_N).
 *
 * Layer order is Keras's model.layers order, which is what by-order weight loading
 * pairs: within a conv block Keras sorts layers by depth, so the shortcut conv and BN
 * (res2a_branch1, bn2a_branch1) come right after their main-branch peers
 * (res2a_branch2c, bn2a_branch2c), not after the whole block.
 * Kernels use imgclass's default initialiser (glorot uniform), not Keras's he_normal. */
#include <stdio.h>

#include "core/core.h"
#include "imgclass/apps.h"

static ic_status apply1(ic_model *m, ic_layer *l, ic_status s, int in, int *out)
{
    return s ? s : ic_model_apply(m, l, 1, &in, out);
}

static ic_status conv(ic_model *m, int in, int *out, int filters, int k, int stride, ic_padding pad,
                      const char *name)
{
    ic_conv2d_opts c = ic_conv2d_opts_default(filters, k, k);
    c.stride_h = c.stride_w = stride;
    c.padding = pad;
    c.name = name;
    ic_layer *l;
    ic_status s = ic_layer_conv2d(&l, &c);
    return apply1(m, l, s, in, out);
}

static ic_status bn(ic_model *m, int in, int *out, const char *name)
{
    ic_batchnorm_opts o = ic_batchnorm_opts_default(); /* Keras defaults: 0.99, 1e-3 */
    o.name = name;
    ic_layer *l;
    ic_status s = ic_layer_batch_normalization(&l, &o);
    return apply1(m, l, s, in, out);
}

static ic_status relu(ic_model *m, int in, int *out)
{
    ic_layer *l;
    ic_status s = ic_layer_activation(&l, IC_ACT_RELU, NULL);
    return apply1(m, l, s, in, out);
}

static ic_status add2(ic_model *m, int a, int b, int *out)
{
    ic_layer *l;
    ic_status s = ic_layer_add(&l, NULL);
    int ins[2] = {a, b};
    return s ? s : ic_model_apply(m, l, 2, ins, out);
}

/* conv_block (shortcut = 1x1 conv + BN, strided) when stride > 0, else identity_block. */
static ic_status block(ic_model *m, int *x, const int *f, int stage, char blk, int stride)
{
    char cb[32], bb[32], n[48];
    snprintf(cb, sizeof cb, "res%d%c_branch", stage, blk);
    snprintf(bb, sizeof bb, "bn%d%c_branch", stage, blk);
    int in = *x, y, sc = in;
    int st = stride > 0 ? stride : 1;
    ic_status s;
    snprintf(n, sizeof n, "%s2a", cb);
    s = conv(m, in, &y, f[0], 1, st, IC_PAD_VALID, n);
    snprintf(n, sizeof n, "%s2a", bb);
    if (!s)
        s = bn(m, y, &y, n);
    if (!s)
        s = relu(m, y, &y);
    snprintf(n, sizeof n, "%s2b", cb);
    if (!s)
        s = conv(m, y, &y, f[1], 3, 1, IC_PAD_SAME, n);
    snprintf(n, sizeof n, "%s2b", bb);
    if (!s)
        s = bn(m, y, &y, n);
    if (!s)
        s = relu(m, y, &y);
    snprintf(n, sizeof n, "%s2c", cb);
    if (!s)
        s = conv(m, y, &y, f[2], 1, 1, IC_PAD_VALID, n);
    if (stride > 0) { /* Keras order: res..2c, res..1, bn..2c, bn..1 */
        snprintf(n, sizeof n, "%s1", cb);
        if (!s)
            s = conv(m, in, &sc, f[2], 1, st, IC_PAD_VALID, n);
    }
    snprintf(n, sizeof n, "%s2c", bb);
    if (!s)
        s = bn(m, y, &y, n);
    if (stride > 0) {
        snprintf(n, sizeof n, "%s1", bb);
        if (!s)
            s = bn(m, sc, &sc, n);
    }
    if (!s)
        s = add2(m, y, sc, &y); /* layers.add([x, shortcut]) */
    if (!s)
        s = relu(m, y, &y);
    *x = y;
    return s;
}

static ic_status build(ic_model *m, const ic_app_opts *o, const int64_t *shape)
{
    static const struct {
        int f[3], n;
    } stages[4] = {
        {{64, 64, 256}, 3}, {{128, 128, 512}, 4}, {{256, 256, 1024}, 6}, {{512, 512, 2048}, 3}};
    int x;
    ic_layer *l;
    ic_status s = ic_model_input(m, 3, shape, NULL, &x);
    if (!s) {
        s = ic_layer_zero_padding2d(&l, 3, 3, 3, 3, "conv1_pad");
        s = apply1(m, l, s, x, &x);
    }
    if (!s)
        s = conv(m, x, &x, 64, 7, 2, IC_PAD_VALID, "conv1");
    if (!s)
        s = bn(m, x, &x, "bn_conv1");
    if (!s)
        s = relu(m, x, &x);
    if (!s) {
        s = ic_layer_zero_padding2d(&l, 1, 1, 1, 1, "pool1_pad");
        s = apply1(m, l, s, x, &x);
    }
    if (!s) {
        ic_pool2d_opts p = ic_pool2d_opts_default();
        p.pool_h = p.pool_w = 3;
        p.stride_h = p.stride_w = 2;
        s = ic_layer_max_pooling2d(&l, &p);
        s = apply1(m, l, s, x, &x);
    }
    for (int st = 0; !s && st < 4; st++)
        for (int b = 0; !s && b < stages[st].n; b++)
            s = block(m, &x, stages[st].f, st + 2, (char)('a' + b), b ? 0 : (st ? 2 : 1));
    if (s)
        return s;
    if (o->include_top) {
        if (!(s = ic_layer_global_average_pooling2d(&l, "avg_pool")) &&
            !(s = apply1(m, l, s, x, &x)) &&
            !(s = ic_layer_dense(&l, o->classes, IC_ACT_SOFTMAX, 1, "fc1000")))
            s = apply1(m, l, s, x, &x);
    } else if (o->pooling == IC_POOLING_AVG) {
        s = ic_layer_global_average_pooling2d(&l, NULL);
        s = apply1(m, l, s, x, &x);
    } else if (o->pooling == IC_POOLING_MAX) {
        s = ic_layer_global_max_pooling2d(&l, NULL);
        s = apply1(m, l, s, x, &x);
    }
    return s;
}

ic_status ic_app_resnet50(ic_model **out, const ic_app_opts *opts)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "resnet50: out is NULL");
    *out = NULL;
    ic_app_opts o = opts ? *opts : ic_app_opts_default();
    int64_t shape[3];
    shape[0] = o.input_shape[0] ? o.input_shape[0] : 224;
    shape[1] = o.input_shape[1] ? o.input_shape[1] : 224;
    shape[2] = o.input_shape[2] ? o.input_shape[2] : 3;
    if (shape[0] < 32 || shape[1] < 32 || shape[2] < 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "resnet50: input shape %lldx%lldx%lld is too small (at least 32x32x1)",
                         (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    if (o.include_top && o.classes < 1)
        return ic_seterr(IC_ERR_INVALID, "resnet50: classes must be >= 1");
    ic_model *m;
    ic_status s = ic_model_create(&m, "resnet50", 0);
    if (s)
        return s;
    if ((s = build(m, &o, shape))) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}
