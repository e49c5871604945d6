/* vgg.c - VGG16 and VGG19 as keras.applications builds them: same layer names, order
 * and shapes, so Keras weight files map onto them one to one. */
#include <stdio.h>

#include "core/core.h"
#include "imgclass/apps.h"

ic_app_opts ic_app_opts_default(void)
{
    ic_app_opts o = {0};
    o.include_top = 0;
    o.pooling = IC_POOLING_NONE;
    o.classes = 1000;
    return o;
}

/* Resolves the input shape (default 224x224x3) and checks Keras's limits. */
static ic_status input_shape(const char *model, const ic_app_opts *o, int64_t min, int64_t *s)
{
    s[0] = o->input_shape[0] ? o->input_shape[0] : 224;
    s[1] = o->input_shape[1] ? o->input_shape[1] : 224;
    s[2] = o->input_shape[2] ? o->input_shape[2] : 3;
    if (s[0] < min || s[1] < min || s[2] < 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "%s: input shape %lldx%lldx%lld is too small (at least %lldx%lldx1)",
                         model, (long long)s[0], (long long)s[1], (long long)s[2], (long long)min,
                         (long long)min);
    if (o->include_top && o->classes < 1)
        return ic_seterr(IC_ERR_INVALID, "%s: classes must be >= 1", model);
    return IC_OK;
}

static ic_status add_conv(ic_model *m, int *x, int filters, const char *name)
{
    ic_conv2d_opts c = ic_conv2d_opts_default(filters, 3, 3);
    c.padding = IC_PAD_SAME;
    c.activation = IC_ACT_RELU;
    c.name = name;
    ic_layer *l;
    ic_status s = ic_layer_conv2d(&l, &c);
    return s ? s : ic_model_apply(m, l, 1, x, x);
}

static ic_status add_pool(ic_model *m, int *x, const char *name)
{
    ic_pool2d_opts p = ic_pool2d_opts_default();
    p.name = name;
    ic_layer *l;
    ic_status s = ic_layer_max_pooling2d(&l, &p);
    return s ? s : ic_model_apply(m, l, 1, x, x);
}

static ic_status add_dense(ic_model *m, int *x, int units, ic_activation act, const char *name)
{
    ic_layer *l;
    ic_status s = ic_layer_dense(&l, units, act, 1, name);
    return s ? s : ic_model_apply(m, l, 1, x, x);
}

static ic_status build_vgg(ic_model *m, const int *convs_per_block, const ic_app_opts *o,
                           const int64_t *shape)
{
    static const int filters[5] = {64, 128, 256, 512, 512};
    int x;
    ic_status s = ic_model_input(m, 3, shape, NULL, &x);
    for (int b = 0; !s && b < 5; b++) {
        char name[32];
        for (int c = 0; !s && c < convs_per_block[b]; c++) {
            snprintf(name, sizeof name, "block%d_conv%d", b + 1, c + 1);
            s = add_conv(m, &x, filters[b], name);
        }
        snprintf(name, sizeof name, "block%d_pool", b + 1);
        if (!s)
            s = add_pool(m, &x, name);
    }
    if (s)
        return s;
    ic_layer *l;
    if (o->include_top) {
        if (!(s = ic_layer_flatten(&l, "flatten")) && !(s = ic_model_apply(m, l, 1, &x, &x)) &&
            !(s = add_dense(m, &x, 4096, IC_ACT_RELU, "fc1")) &&
            !(s = add_dense(m, &x, 4096, IC_ACT_RELU, "fc2")))
            s = add_dense(m, &x, o->classes, IC_ACT_SOFTMAX, "predictions");
    } else if (o->pooling == IC_POOLING_AVG) {
        if (!(s = ic_layer_global_average_pooling2d(&l, NULL)))
            s = ic_model_apply(m, l, 1, &x, &x);
    } else if (o->pooling == IC_POOLING_MAX) {
        if (!(s = ic_layer_global_max_pooling2d(&l, NULL)))
            s = ic_model_apply(m, l, 1, &x, &x);
    }
    return s;
}

static ic_status make_vgg(ic_model **out, const char *name, const int *blocks,
                          const ic_app_opts *opts)
{
    *out = NULL;
    ic_app_opts o = opts ? *opts : ic_app_opts_default();
    int64_t shape[3];
    ic_status s = input_shape(name, &o, 32, shape);
    if (s)
        return s;
    ic_model *m;
    if ((s = ic_model_create(&m, name, 0)))
        return s;
    if ((s = build_vgg(m, blocks, &o, shape))) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}

ic_status ic_app_vgg16(ic_model **out, const ic_app_opts *o)
{
    static const int blocks[5] = {2, 2, 3, 3, 3};
    return make_vgg(out, "vgg16", blocks, o);
}

ic_status ic_app_vgg19(ic_model **out, const ic_app_opts *o)
{
    static const int blocks[5] = {2, 2, 4, 4, 4};
    return make_vgg(out, "vgg19", blocks, o);
}
