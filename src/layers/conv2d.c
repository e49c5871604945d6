/* conv2d.c - Conv2D and DepthwiseConv2D (Keras semantics: HWIO kernels, TF 'same'
 * padding with the extra row/column at the bottom/right, fused activation). */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

typedef struct conv_layer {
    ic_layer base;
    ic_conv2d_opts o;
    int depthwise;
    ic__param *kernel, *bias;
} conv_layer;

typedef struct conv_state {
    ic__op *conv;
    ic__act_ops act; /* activation backward / softmax over channels */
    ic__conv_desc d;
} conv_state;

static ic_status conv_build(ic_layer *l, int n_in, const ic__shape *in)
{
    conv_layer *c = (conv_layer *)l;
    ic_status s = ic__expect_hwc(l, n_in, in);
    if (s)
        return s;
    int64_t h = in[0].d[0], w = in[0].d[1], ch = in[0].d[2];
    int pt, pb, pl, pr;
    int64_t oh = ic__conv_out_len(h, c->o.kernel_h, c->o.stride_h, c->o.padding, &pt, &pb);
    int64_t ow = ic__conv_out_len(w, c->o.kernel_w, c->o.stride_w, c->o.padding, &pl, &pr);
    if (oh < 1 || ow < 1) {
        char b[64];
        return ic_seterr(IC_ERR_SHAPE,
                         "layer '%s' (%s): a %dx%d kernel does not fit input %s with padding "
                         "'%s'",
                         l->name, l->vt->class_name, c->o.kernel_h, c->o.kernel_w,
                         ic__shape_fmt(&in[0], b, sizeof b),
                         c->o.padding == IC_PAD_SAME ? "same" : "valid");
    }
    int64_t oc = c->depthwise ? ch * c->o.depth_multiplier : c->o.filters;
    l->out = (ic__shape){3, {oh, ow, oc}};
    if (l->n_params == 0) {
        int64_t last = c->depthwise ? c->o.depth_multiplier : c->o.filters;
        int64_t kshape[4] = {c->o.kernel_h, c->o.kernel_w, ch, last};
        s = ic__layer_add_param(l, c->depthwise ? "depthwise_kernel" : "kernel", 4, kshape, 0,
                                &c->kernel);
        if (s)
            return s;
        int64_t rf = (int64_t)c->o.kernel_h * c->o.kernel_w;
        ic__init_glorot_uniform(c->kernel, rf * ch, rf * last);
        if (c->o.use_bias && (s = ic__layer_add_param(l, "bias", 1, &oc, 0, &c->bias)))
            return s;
    } else if (c->kernel->value.shape[2] != ch) {
        return ic_seterr(IC_ERR_SHAPE, "layer '%s' was built for %lld input channels, got %lld",
                         l->name, (long long)c->kernel->value.shape[2], (long long)ch);
    }
    return IC_OK;
}

static void conv_state_free(ic_layer *l, const ic__backend *be, void *state)
{
    conv_state *st = state;
    if (!st)
        return;
    be->op_free(st->conv);
    ic__act_ops_free(&st->act, be);
    ic__free(st);
}

static ic_status conv_state_create(ic_layer *l, const ic__backend *be, int64_t batch, void **state)
{
    conv_layer *c = (conv_layer *)l;
    conv_state *st = ic__calloc(1, sizeof *st);
    if (!st)
        return IC_ERR_NOMEM;
    int pt, pb, pl, pr;
    ic__conv_out_len(l->in0.d[0], c->o.kernel_h, c->o.stride_h, c->o.padding, &pt, &pb);
    ic__conv_out_len(l->in0.d[1], c->o.kernel_w, c->o.stride_w, c->o.padding, &pl, &pr);
    ic__act act = ic__act_from_public(c->o.activation);
    st->d = (ic__conv_desc){
        .n = batch, .ih = l->in0.d[0], .iw = l->in0.d[1], .ic = l->in0.d[2],
        .oh = l->out.d[0], .ow = l->out.d[1], .oc = l->out.d[2],
        .kh = c->o.kernel_h, .kw = c->o.kernel_w, .sh = c->o.stride_h, .sw = c->o.stride_w,
        .pt = pt, .pb = pb, .pl = pl, .pr = pr,
        .groups = c->depthwise ? (int)l->in0.d[2] : 1,
        .has_bias = c->bias != NULL, .act = act,
    };
    ic_status s = be->conv_create(&st->conv, &st->d);
    if (!s)
        s = ic__act_ops_create(&st->act, be, c->o.activation,
                               batch * l->out.d[0] * l->out.d[1], l->out.d[2]);
    if (s) {
        conv_state_free(l, be, st);
        return s;
    }
    *state = st;
    return IC_OK;
}

static ic_status conv_forward(ic_layer *l, const ic__fwd_args *a)
{
    conv_layer *c = (conv_layer *)l;
    conv_state *st = a->state;
    ic_status s = a->be->conv_fwd(st->conv, a->out->data, a->in[0]->data, c->kernel->value.data,
                                  c->kernel->version, c->bias ? c->bias->value.data : NULL);
    return s ? s : ic__act_ops_fwd(&st->act, a->be, a->out->data);
}

static ic_status conv_backward(ic_layer *l, const ic__bwd_args *a)
{
    conv_layer *c = (conv_layer *)l;
    conv_state *st = a->state;
    const ic__backend *be = a->be;
    const float *dpre;
    ic_status s = ic__act_ops_bwd(&st->act, be, a->diff_out->data, a->out->data, a->scratch, &dpre);
    if (!s && a->weight_grads)
        s = be->conv_bwd_weights(st->conv, c->kernel->grad, c->bias ? c->bias->grad : NULL,
                                 a->in[0]->data, dpre);
    if (!s && a->diff_in[0])
        s = be->conv_bwd_data(st->conv, a->diff_in[0]->data, dpre, c->kernel->value.data,
                              c->kernel->version);
    return s;
}

/* Keras 2.2.4 Conv2D.get_config() / DepthwiseConv2D.get_config() (which drops filters and
 * the kernel_* entries and adds depth_multiplier and the depthwise_* ones). */
static ic_status conv_get_config(const ic_layer *l, cJSON *c)
{
    const conv_layer *cv = (const conv_layer *)l;
    const int dw = cv->depthwise;
    ic_status s = ic__cfg_base(l, c);
    if (!dw)
        s = ic__cfg_int(s, c, "filters", cv->o.filters);
    s = ic__cfg_pair(s, c, "kernel_size", cv->o.kernel_h, cv->o.kernel_w);
    s = ic__cfg_pair(s, c, "strides", cv->o.stride_h, cv->o.stride_w);
    s = ic__cfg_str(s, c, "padding", cv->o.padding == IC_PAD_SAME ? "same" : "valid");
    s = ic__cfg_str(s, c, "data_format", "channels_last");
    s = ic__cfg_pair(s, c, "dilation_rate", 1, 1);
    s = ic__cfg_str(s, c, "activation", ic_activation_name(cv->o.activation));
    s = ic__cfg_bool(s, c, "use_bias", cv->o.use_bias);
    if (!dw)
        s = ic__cfg_json(s, c, "kernel_initializer", IC__CFG_GLOROT_UNIFORM);
    s = ic__cfg_json(s, c, "bias_initializer", IC__CFG_ZEROS);
    if (!dw)
        s = ic__cfg_null(s, c, "kernel_regularizer");
    s = ic__cfg_null(s, c, "bias_regularizer");
    s = ic__cfg_null(s, c, "activity_regularizer");
    if (!dw)
        s = ic__cfg_null(s, c, "kernel_constraint");
    s = ic__cfg_null(s, c, "bias_constraint");
    if (dw) {
        s = ic__cfg_int(s, c, "depth_multiplier", cv->o.depth_multiplier);
        s = ic__cfg_json(s, c, "depthwise_initializer", IC__CFG_GLOROT_UNIFORM);
        s = ic__cfg_null(s, c, "depthwise_regularizer");
        s = ic__cfg_null(s, c, "depthwise_constraint");
    }
    return s;
}

static const ic__layer_vtbl conv2d_vt = {"Conv2D",        conv_build,     conv_state_create,
                                         conv_state_free, conv_forward,   conv_backward,
                                         NULL,            conv_get_config};
static const ic__layer_vtbl dwconv_vt = {"DepthwiseConv2D", conv_build,     conv_state_create,
                                         conv_state_free,   conv_forward,   conv_backward,
                                         NULL,              conv_get_config};

ic_conv2d_opts ic_conv2d_opts_default(int filters, int kernel_h, int kernel_w)
{
    ic_conv2d_opts o = {0};
    o.filters = filters;
    o.kernel_h = kernel_h;
    o.kernel_w = kernel_w;
    o.stride_h = o.stride_w = 1;
    o.padding = IC_PAD_VALID;
    o.use_bias = 1;
    o.activation = IC_ACT_LINEAR;
    o.depth_multiplier = 1;
    return o;
}

static ic_status make_conv(ic_layer **out, const ic_conv2d_opts *o, int depthwise)
{
    *out = NULL;
    if (o->kernel_h < 1 || o->kernel_w < 1 || o->stride_h < 1 || o->stride_w < 1 ||
        (!depthwise && o->filters < 1) || (depthwise && o->depth_multiplier < 1))
        return ic_seterr(IC_ERR_INVALID,
                         "%s '%s': filters, kernel size, strides and depth_multiplier must be "
                         ">= 1 (got filters %d, kernel %dx%d, strides %dx%d)",
                         depthwise ? "DepthwiseConv2D" : "Conv2D", o->name ? o->name : "",
                         o->filters, o->kernel_h, o->kernel_w, o->stride_h, o->stride_w);
    conv_layer *c = ic__calloc(1, sizeof *c);
    if (!c)
        return IC_ERR_NOMEM;
    ic__layer_init(&c->base, depthwise ? &dwconv_vt : &conv2d_vt, o->name,
                   depthwise ? "depthwise_conv2d" : "conv2d");
    c->o = *o;
    c->o.name = NULL;
    c->depthwise = depthwise;
    *out = &c->base;
    return IC_OK;
}

ic_status ic_layer_conv2d(ic_layer **out, const ic_conv2d_opts *o) { return make_conv(out, o, 0); }

ic_status ic_layer_depthwise_conv2d(ic_layer **out, const ic_conv2d_opts *o)
{
    return make_conv(out, o, 1);
}

/* Keras Conv2D / DepthwiseConv2D config -> layer (the inverse of conv_get_config, plus
 * ints for pairs). Dilation and groups other than 1 are refused. */
static ic_status conv_from_config(const ic__cfg_rd *r, int depthwise, ic_layer **out)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(0, 0, 0);
    int dh, dw;
    ic_status s;
    if ((!depthwise && (s = ic__rd_int(r, "filters", 0, 0, &o.filters))) ||
        (s = ic__rd_pair(r, "kernel_size", 0, 0, &o.kernel_h, &o.kernel_w)) ||
        (s = ic__rd_pair(r, "strides", 1, 1, &o.stride_h, &o.stride_w)) ||
        (s = ic__rd_padding(r, &o.padding)) || (s = ic__rd_channels_last(r)) ||
        (s = ic__rd_pair(r, "dilation_rate", 1, 1, &dh, &dw)) ||
        (s = ic__rd_activation(r, 0, &o.activation)) ||
        (s = ic__rd_bool(r, "use_bias", 1, &o.use_bias)) ||
        (depthwise && (s = ic__rd_int(r, "depth_multiplier", 1, 1, &o.depth_multiplier))))
        return s;
    if (dh != 1 || dw != 1)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): dilation_rate (%d, %d) is not supported (1 only)",
                         r->name, r->cls, dh, dw);
    int groups;
    if ((s = ic__rd_int(r, "groups", 1, 1, &groups)))
        return s;
    if (groups != 1)
        return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): groups %d is not supported (1 only)",
                         r->name, r->cls, groups);
    if (o.kernel_h < 1 || o.kernel_w < 1 || o.stride_h < 1 || o.stride_w < 1)
        return ic__rd_bad(r, o.kernel_h < 1 || o.kernel_w < 1 ? "kernel_size" : "strides",
                          "positive integers");
    ic__rd_warn_ignored(r);
    o.name = r->name;
    return depthwise ? ic_layer_depthwise_conv2d(out, &o) : ic_layer_conv2d(out, &o);
}

ic_status ic__conv2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return conv_from_config(r, 0, out);
}

ic_status ic__depthwise_conv2d_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return conv_from_config(r, 1, out);
}
