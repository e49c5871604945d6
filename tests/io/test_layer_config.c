/* test_layer_config.c - every layer class of the registry (src/layers/layer_registry.c)
 * through get_config -> JSON text -> from_config.
 *
 * - Round trip: a layer built with options other than the defaults (and once frozen) is
 *   written, the text parsed back through ic__layer_from_config under the class's name and
 *   under each alias, and the new layer, built on the same input, writes the same JSON and
 *   has the same weights (names and shapes). A registered class this test does not know
 *   fails the test, so a new layer gets its round trip here.
 * - Bad configs: a wrong field of every class gives an error naming the layer, the class
 *   and the field; the common fields (name, trainable, dtype) and an unknown class too.
 */
#include <cjson/cJSON.h>

#include "harness.h"
#include "io/io_impl.h"

/* How to make a layer of one class, and what it is applied to. */
typedef struct maker {
    const char *cls;
    int n_in; /* inputs (the same input node used n_in times) */
    int nd;   /* per-sample input rank */
    int64_t shape[3];
    ic_status (*make)(ic_layer **out, const char *name);
} maker;

static ic_status mk_conv(ic_layer **out, const char *name)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(5, 3, 2);
    o.stride_h = 2;
    o.padding = IC_PAD_SAME;
    o.activation = IC_ACT_RELU;
    o.use_bias = 0;
    o.name = name;
    return ic_layer_conv2d(out, &o);
}

static ic_status mk_dwconv(ic_layer **out, const char *name)
{
    ic_conv2d_opts o = ic_conv2d_opts_default(0, 3, 3);
    o.depth_multiplier = 2;
    o.stride_w = 2;
    o.activation = IC_ACT_RELU6;
    o.name = name;
    return ic_layer_depthwise_conv2d(out, &o);
}

static ic_status mk_maxpool(ic_layer **out, const char *name)
{
    ic_pool2d_opts o = ic_pool2d_opts_default();
    o.pool_h = 3;
    o.stride_h = 1;
    o.stride_w = 2;
    o.padding = IC_PAD_SAME;
    o.name = name;
    return ic_layer_max_pooling2d(out, &o);
}

static ic_status mk_avgpool(ic_layer **out, const char *name)
{
    ic_pool2d_opts o = ic_pool2d_opts_default();
    o.pool_w = 3;
    o.name = name;
    return ic_layer_average_pooling2d(out, &o);
}

static ic_status mk_gap(ic_layer **out, const char *name)
{
    return ic_layer_global_average_pooling2d(out, name);
}

static ic_status mk_gmp(ic_layer **out, const char *name)
{
    return ic_layer_global_max_pooling2d(out, name);
}

static ic_status mk_flatten(ic_layer **out, const char *name)
{
    return ic_layer_flatten(out, name);
}

static ic_status mk_dense(ic_layer **out, const char *name)
{
    return ic_layer_dense(out, 7, IC_ACT_SOFTMAX, 1, name);
}

static ic_status mk_dropout(ic_layer **out, const char *name)
{
    return ic_layer_dropout(out, 0.3f, name);
}

static ic_status mk_activation(ic_layer **out, const char *name)
{
    return ic_layer_activation(out, IC_ACT_SIGMOID, name);
}

static ic_status mk_relu(ic_layer **out, const char *name)
{
    return ic_layer_relu(out, 6.f, name);
}

static ic_status mk_zpad(ic_layer **out, const char *name)
{
    return ic_layer_zero_padding2d(out, 1, 2, 0, 3, name);
}

static ic_status mk_bn(ic_layer **out, const char *name)
{
    ic_batchnorm_opts o = ic_batchnorm_opts_default();
    o.momentum = 0.9f;
    o.epsilon = 1e-5f;
    o.center = 0;
    o.name = name;
    return ic_layer_batch_normalization(out, &o);
}

static ic_status mk_add(ic_layer **out, const char *name)
{
    return ic_layer_add(out, name);
}

static ic_status mk_concat(ic_layer **out, const char *name)
{
    return ic_layer_concatenate(out, name);
}

static const maker g_makers[] = {
    {"Conv2D", 1, 3, {9, 8, 4}, mk_conv},
    {"DepthwiseConv2D", 1, 3, {9, 8, 4}, mk_dwconv},
    {"MaxPooling2D", 1, 3, {9, 8, 4}, mk_maxpool},
    {"AveragePooling2D", 1, 3, {9, 8, 4}, mk_avgpool},
    {"GlobalAveragePooling2D", 1, 3, {9, 8, 4}, mk_gap},
    {"GlobalMaxPooling2D", 1, 3, {9, 8, 4}, mk_gmp},
    {"Flatten", 1, 3, {9, 8, 4}, mk_flatten},
    {"Dense", 1, 1, {12}, mk_dense},
    {"Dropout", 1, 3, {9, 8, 4}, mk_dropout},
    {"Activation", 1, 1, {12}, mk_activation},
    {"ReLU", 1, 3, {9, 8, 4}, mk_relu},
    {"ZeroPadding2D", 1, 3, {9, 8, 4}, mk_zpad},
    {"BatchNormalization", 1, 3, {9, 8, 4}, mk_bn},
    {"Add", 2, 3, {9, 8, 4}, mk_add},
    {"Concatenate", 3, 3, {9, 8, 4}, mk_concat},
};

static const maker *maker_of(const char *cls)
{
    for (size_t i = 0; i < sizeof g_makers / sizeof g_makers[0]; i++)
        if (!strcmp(g_makers[i].cls, cls))
            return &g_makers[i];
    return NULL;
}

/* Applies l to mk's input in a new functional model (which owns l afterwards). */
static ic_model *model_around(const maker *mk, ic_layer *l)
{
    ic_model *m;
    int in, node, ins[3];
    OK(ic_model_create(&m, "m", 0));
    OK(ic_model_input(m, mk->nd, mk->shape, "in", &in));
    for (int i = 0; i < mk->n_in; i++)
        ins[i] = in;
    OK(ic_model_apply(m, l, mk->n_in, ins, &node));
    return m;
}

/* The layer's config as JSON text (caller frees with cJSON_free). */
static char *config_text(const ic_layer *l)
{
    cJSON *c = cJSON_CreateObject();
    OK(l->vt->get_config(l, c));
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return text;
}

/* Same weights: names and shapes. */
static int same_params(const ic_layer *a, const ic_layer *b)
{
    if (a->n_params != b->n_params)
        return 0;
    for (int i = 0; i < a->n_params; i++) {
        const ic_tensor *ta = &a->params[i]->value, *tb = &b->params[i]->value;
        if (strcmp(a->params[i]->name, b->params[i]->name) || ta->ndim != tb->ndim)
            return 0;
        for (int d = 0; d < ta->ndim; d++)
            if (ta->shape[d] != tb->shape[d])
                return 0;
    }
    return 1;
}

/* l (built in a model) -> JSON -> a layer of class cls -> JSON again. */
static void round_trip(const maker *mk, const char *cls, int trainable)
{
    ic_layer *l;
    OK(mk->make(&l, "lay_1"));
    ic_layer_set_trainable(l, trainable);
    ic_model *m = model_around(mk, l);
    char *text = config_text(l);
    cJSON *parsed = cJSON_Parse(text);
    CHECKF(parsed != NULL, "%s: get_config wrote bad JSON: %s", cls, text);
    ic_layer *back = NULL;
    ic_status s = ic__layer_from_config(cls, parsed, &back);
    CHECKF(s == IC_OK, "%s: from_config failed: %s (config %s)", cls, ic_errmsg(), text);
    cJSON_Delete(parsed);
    if (s) {
        cJSON_free(text);
        ic_model_free(m);
        return;
    }
    CHECKF(!strcmp(back->vt->class_name, l->vt->class_name), "%s: read back as %s", cls,
           back->vt->class_name);
    CHECKF(!strcmp(back->name, "lay_1"), "%s: name '%s'", cls, back->name);
    CHECKF(back->trainable == trainable, "%s: trainable %d, want %d", cls, back->trainable,
           trainable);
    ic_model *m2 = model_around(mk, back);
    char *again = config_text(back);
    CHECKF(!strcmp(text, again), "%s: config changed:\n  %s\n  %s", cls, text, again);
    CHECKF(same_params(l, back), "%s: weights differ in name or shape", cls);
    CHECKF(back->out.ndim == l->out.ndim && !memcmp(back->out.d, l->out.d, sizeof l->out.d),
           "%s: output shape differs", cls);
    cJSON_free(text);
    cJSON_free(again);
    ic_model_free(m);
    ic_model_free(m2);
}

static void test_round_trips(void)
{
    int n;
    const ic__layer_reader *t = ic__layer_readers(&n);
    CHECK(n >= 15);
    for (int i = 0; i < n; i++) {
        /* An alias is read with the maker of the class it spells. */
        int j = i;
        while (t[j].alias && j > 0)
            j--;
        const maker *mk = maker_of(t[j].cls);
        CHECKF(mk != NULL, "registered class %s has no round trip in this test", t[i].cls);
        if (!mk)
            continue;
        CHECKF(t[i].from_config == t[j].from_config, "alias %s reads as %s", t[i].cls, t[j].cls);
        CHECKF(ic__layer_reader_find(t[i].cls) == &t[i], "%s is not found", t[i].cls);
        round_trip(mk, t[i].cls, 1);
        round_trip(mk, t[i].cls, 0);
    }
    CHECK(ic__layer_reader_find("LSTM") == NULL);
    CHECK(ic__layer_reader_find(NULL) == NULL);
}

/* ---- Bad configs ---- */

typedef struct bad_case {
    const char *cls;
    const char *config;
    ic_status status;
    const char *want; /* a substring of the message */
} bad_case;

static const bad_case g_bad[] = {
    {"Conv2D", "{\"name\":\"c1\",\"filters\":\"x\",\"kernel_size\":3}", IC_ERR_FORMAT,
     "layer 'c1' (Conv2D): field 'filters' must be an integer, got \"x\""},
    {"Conv2D", "{\"name\":\"c1\",\"filters\":4}", IC_ERR_FORMAT,
     "layer 'c1' (Conv2D): field 'kernel_size' must be an integer or a list of 2 integers, got "
     "nothing"},
    {"Conv2D", "{\"name\":\"c1\",\"filters\":4,\"kernel_size\":[3,0]}", IC_ERR_FORMAT,
     "layer 'c1' (Conv2D): field 'kernel_size' must be positive integers"},
    {"Convolution2D", "{\"name\":\"c2\",\"filters\":4,\"kernel_size\":3,\"dilation_rate\":2}",
     IC_ERR_UNSUPPORTED, "layer 'c2' (Convolution2D): dilation_rate (2, 2) is not supported"},
    {"Conv2D", "{\"name\":\"c3\",\"filters\":4,\"kernel_size\":3,\"groups\":2}", IC_ERR_UNSUPPORTED,
     "layer 'c3' (Conv2D): groups 2 is not supported"},
    {"Conv2D", "{\"name\":\"c4\",\"filters\":4,\"kernel_size\":3,\"activation\":\"elu\"}",
     IC_ERR_UNSUPPORTED, "layer 'c4' (Conv2D)"},
    {"DepthwiseConv2D", "{\"name\":\"d1\",\"kernel_size\":3,\"depth_multiplier\":1.5}",
     IC_ERR_FORMAT, "layer 'd1' (DepthwiseConv2D): field 'depth_multiplier' must be an integer"},
    {"MaxPooling2D", "{\"name\":\"p1\",\"pool_size\":[2]}", IC_ERR_FORMAT,
     "layer 'p1' (MaxPooling2D): field 'pool_size' must be an integer or a list of 2"},
    {"AveragePooling2D", "{\"name\":\"p2\",\"padding\":\"full\"}", IC_ERR_FORMAT,
     "layer 'p2' (AveragePooling2D): field 'padding' must be \"valid\" or \"same\", got \"full\""},
    {"GlobalAveragePooling2D", "{\"name\":\"g1\",\"keepdims\":true}", IC_ERR_UNSUPPORTED,
     "layer 'g1' (GlobalAveragePooling2D): keepdims is not supported"},
    {"GlobalMaxPooling2D", "{\"name\":\"g2\",\"data_format\":\"channels_first\"}",
     IC_ERR_UNSUPPORTED,
     "layer 'g2' (GlobalMaxPooling2D): data_format 'channels_first' is not supported"},
    {"Flatten", "{\"name\":\"f1\",\"data_format\":5}", IC_ERR_FORMAT,
     "layer 'f1' (Flatten): field 'data_format' must be \"channels_last\", got 5"},
    {"Dense", "{\"name\":\"fc\",\"activation\":\"relu\"}", IC_ERR_FORMAT,
     "layer 'fc' (Dense): field 'units' must be an integer, got nothing"},
    {"Dense", "{\"name\":\"fc\",\"units\":3,\"use_bias\":\"yes\"}", IC_ERR_FORMAT,
     "layer 'fc' (Dense): field 'use_bias' must be true or false, got \"yes\""},
    {"Dropout", "{\"name\":\"dr\"}", IC_ERR_FORMAT,
     "layer 'dr' (Dropout): field 'rate' must be a number, got nothing"},
    {"Dropout", "{\"name\":\"dr\",\"rate\":0.5,\"noise_shape\":[1,1]}", IC_ERR_UNSUPPORTED,
     "layer 'dr' (Dropout): a non-null 'noise_shape' is not supported"},
    {"Activation", "{\"name\":\"a1\"}", IC_ERR_FORMAT,
     "layer 'a1' (Activation): field 'activation' must be an activation name, got nothing"},
    {"ReLU", "{\"name\":\"r1\",\"negative_slope\":0.1}", IC_ERR_UNSUPPORTED,
     "layer 'r1' (ReLU): negative_slope 0.1 / threshold 0 are not supported"},
    {"ReLU", "{\"name\":\"r1\",\"max_value\":-1}", IC_ERR_FORMAT,
     "layer 'r1' (ReLU): field 'max_value' must be null or a positive number, got -1"},
    {"ZeroPadding2D", "{\"name\":\"z1\",\"padding\":[[1,2],\"x\"]}", IC_ERR_FORMAT,
     "layer 'z1' (ZeroPadding2D): field 'padding' must be an int, (h, w) or ((top, bottom), "
     "(left, right))"},
    {"BatchNormalization", "{\"name\":\"bn\",\"axis\":0}", IC_ERR_UNSUPPORTED,
     "layer 'bn' (BatchNormalization): only the last axis is supported"},
    {"BatchNormalization", "{\"name\":\"bn\",\"momentum\":\"high\"}", IC_ERR_FORMAT,
     "layer 'bn' (BatchNormalization): field 'momentum' must be a number, got \"high\""},
    {"Add", "{\"name\":\"sum\",\"trainable\":\"yes\"}", IC_ERR_FORMAT,
     "layer 'sum' (Add): field 'trainable' must be true or false, got \"yes\""},
    {"Concatenate", "{\"name\":\"cat\",\"axis\":\"x\"}", IC_ERR_UNSUPPORTED,
     "layer 'cat' (Concatenate): only the last axis is supported"},
    /* Common fields and the class itself. */
    {"Dense", "{\"name\":5,\"units\":3}", IC_ERR_FORMAT, "field 'name' must be a string, got 5"},
    {"Dense", "{\"name\":\"fc\",\"units\":3,\"dtype\":\"float16\"}", IC_ERR_FORMAT,
     "layer 'fc' (Dense): field 'dtype' must be \"float32\", got \"float16\""},
    {"Dense", "[1]", IC_ERR_FORMAT, "(Dense): 'config' must be an object"},
    {"LSTM", "{\"name\":\"rnn\"}", IC_ERR_UNSUPPORTED,
     "layer 'rnn': class 'LSTM' is not supported (supported: Conv2D, DepthwiseConv2D, "
     "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, "
     "Dense, Dropout, Activation, ReLU, ZeroPadding2D, BatchNormalization, Add, Concatenate, "
     "Model, Sequential)"},
};

static void test_bad_configs(void)
{
    for (size_t i = 0; i < sizeof g_bad / sizeof g_bad[0]; i++) {
        const bad_case *b = &g_bad[i];
        cJSON *c = cJSON_Parse(b->config);
        CHECKF(c != NULL, "case %zu: bad test JSON", i);
        ic_layer *l = (ic_layer *)1;
        EXPECT_ERR(ic__layer_from_config(b->cls, c, &l), b->status, b->want);
        CHECKF(l == NULL, "case %zu (%s): *out not cleared", i, b->cls);
        cJSON_Delete(c);
    }
    /* Every class has a bad case. */
    int n;
    const ic__layer_reader *t = ic__layer_readers(&n);
    for (int i = 0; i < n; i++) {
        if (t[i].alias)
            continue;
        int found = 0;
        for (size_t k = 0; k < sizeof g_bad / sizeof g_bad[0]; k++)
            found |= !strcmp(g_bad[k].cls, t[i].cls);
        CHECKF(found, "class %s has no bad-config case", t[i].cls);
    }
}

int main(void)
{
    test_round_trips();
    test_bad_configs();
    return t_finish();
}
