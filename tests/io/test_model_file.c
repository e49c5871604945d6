/* test_model_file.c - imgclass model files (ic_model_save / ic_model_load) and the Keras
 * model_config JSON behind them.
 *
 * - Round trips of the book's model (VGG16 base nested and frozen + dense head), the small
 *   convnet and a functional model with Add, Concatenate, BatchNormalization,
 *   DepthwiseConv2D, ZeroPadding2D, Dropout, ReLU(6) and a nested Sequential: the same
 *   summary text, weight names and values, trainable counts and bit-identical outputs.
 * - model_config holds Keras 2.2.4's fields (Conv2D filters / kernel_size / padding,
 *   batch_input_shape on a Sequential's first layer, inbound_nodes, ...), the file has
 *   Keras's root attributes and model_weights group.
 * - Meta round trip (UTF-8 class names with spaces).
 * - Exact resume: 3 steps, save, load, 2 steps == 5 steps, bit for bit (ref backend, one
 *   thread, Dropout in the model), for RMSprop, Adam (amsgrad) and SGD (Nesterov).
 * - Errors: not HDF5, no model_config, corrupt JSON, unknown layer class, a bad field, a
 *   newer format, a truncated file.
 * - Fault injection: a save that fails (any allocation) leaves the old file loadable and
 *   no temporary file; a load that fails leaks nothing.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "io/io_impl.h"
#include "train/train_impl.h"

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* ---- Helpers ---- */

static char *summary_of(const ic_model *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    OK(ic_model_summary(m, fp, 0));
    fclose(fp);
    return buf;
}

/* Same weight names, shapes and bits, in Keras order. */
static int same_weights(const ic_model *a, const ic_model *b)
{
    int n = ic_model_num_weights(a);
    if (n != ic_model_num_weights(b))
        return 0;
    for (int i = 0; i < n; i++) {
        const char *na;
        char nm[300];
        const ic_tensor *ta = ic_model_weight(a, i, &na);
        snprintf(nm, sizeof nm, "%s", na);
        const char *nb;
        const ic_tensor *tb = ic_model_weight(b, i, &nb);
        if (strcmp(nm, nb) || ic_tensor_numel(ta) != ic_tensor_numel(tb) ||
            memcmp(ic_tensor_cdata(ta), ic_tensor_cdata(tb),
                   (size_t)ic_tensor_numel(ta) * sizeof(float))) {
            fprintf(stderr, "weight %d differs: %s vs %s\n", i, nm, nb);
            return 0;
        }
    }
    return 1;
}

static ic_tensor *random_input(const ic_model *m, int64_t batch, unsigned seed)
{
    int64_t s[5] = {batch};
    int nd = ic_model_input_shape(m, s + 1);
    ic_tensor *x;
    OK(ic_tensor_create(&x, nd + 1, s));
    t_fill_uniform(ic_tensor_data(x), (long)ic_tensor_numel(x), seed, 0, 1);
    return x;
}

/* Same outputs, bit for bit, on a random input. */
static int same_outputs(ic_model *a, ic_model *b, int64_t batch)
{
    ic_tensor *x = random_input(a, batch, 7), *ya, *yb;
    OK(ic_model_forward(a, x, &ya));
    OK(ic_model_forward(b, x, &yb));
    int same = ic_tensor_numel(ya) == ic_tensor_numel(yb) &&
               !memcmp(ic_tensor_data(ya), ic_tensor_data(yb),
                       (size_t)ic_tensor_numel(ya) * sizeof(float));
    ic_tensor_free(x);
    ic_tensor_free(ya);
    ic_tensor_free(yb);
    return same;
}

/* Saves m, loads it back and compares everything; returns the loaded model. */
static ic_model *round_trip(ic_model *m, const char *file, int64_t batch)
{
    OK(ic_model_save(m, tpath(file), NULL, 1));
    ic_model *r;
    OK(ic_model_load(&r, tpath(file), NULL));
    char *sa = summary_of(m), *sb = summary_of(r);
    CHECKF(!strcmp(sa, sb), "%s: summaries differ:\n%s\nvs\n%s", file, sa, sb);
    free(sa);
    free(sb);
    CHECK(!strcmp(ic_model_name(m), ic_model_name(r)));
    CHECK(ic_model_count_params(m) == ic_model_count_params(r));
    CHECK(ic_model_count_trainable_params(m) == ic_model_count_trainable_params(r));
    CHECK(ic_model_num_trainable_weights(m) == ic_model_num_trainable_weights(r));
    CHECK(ic_model_trainable(m) == ic_model_trainable(r));
    CHECK(ic_model_num_layers(m) == ic_model_num_layers(r));
    for (int i = 0; i < ic_model_num_layers(m) && i < ic_model_num_layers(r); i++) {
        ic_layer *la = ic_model_layer(m, i), *lb = ic_model_layer(r, i);
        CHECK(!strcmp(ic_layer_name(la), ic_layer_name(lb)));
        CHECK(!strcmp(ic_layer_class_name(la), ic_layer_class_name(lb)));
        CHECK(ic_layer_trainable(la) == ic_layer_trainable(lb));
    }
    CHECKF(same_weights(m, r), "%s: weights differ", file);
    char *ca, *cb;
    OK(ic__model_to_config(m, &ca));
    OK(ic__model_to_config(r, &cb));
    CHECKF(!strcmp(ca, cb), "%s: model_config differs after the round trip", file);
    ic__free(ca);
    ic__free(cb);
    CHECKF(same_outputs(m, r, batch), "%s: outputs differ", file);
    return r;
}

static cJSON *config_of(const ic_model *m)
{
    char *json;
    OK(ic__model_to_config(m, &json));
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL);
    ic__free(json);
    return root;
}

/* The entry of "layers" whose config (or entry) is named name. */
static const cJSON *find_layer(const cJSON *model_cfg, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(model_cfg, "layers"))
    {
        const cJSON *c = cJSON_GetObjectItem(e, "config");
        const cJSON *n = cJSON_GetObjectItem(c, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return e;
    }
    return NULL;
}

static int json_is(const cJSON *v, const char *text)
{
    char *t = cJSON_PrintUnformatted(v);
    int same = t && !strcmp(t, text);
    if (!same)
        fprintf(stderr, "json: got %s, expected %s\n", t ? t : "(nothing)", text);
    cJSON_free(t);
    return same;
}

/* ---- Models ---- */

static ic_model *book_model(void)
{
    ic_app_opts ao = ic_app_opts_default();
    ao.input_shape[0] = ao.input_shape[1] = 150;
    ic_model *base, *m;
    OK(ic_app_vgg16(&base, &ao));
    OK(ic_model_create(&m, NULL, 1));
    ic_layer *l;
    OK(ic_layer_from_model(&l, base));
    OK(ic_model_add(m, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 256, IC_ACT_RELU, 1, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    OK(ic_model_add(m, l));
    ic_model_set_trainable(base, 0); /* freeze_weights(conv_base) */
    ic_compile_opts co = ic_compile_opts_default();
    co.optimizer.lr = 2e-5f;
    OK(ic_model_compile(m, &co));
    return m;
}

static int apply(ic_model *m, ic_layer *l, int n, const int *in)
{
    int node;
    OK(ic_model_apply(m, l, n, in, &node));
    return node;
}

/* A functional model exercising every other layer class. */
static ic_model *functional_model(void)
{
    ic_model *m, *inner;
    ic_layer *l;
    int64_t shape[3] = {9, 9, 3};
    int x, a, b, c;
    OK(ic_model_create(&m, "func", 0));
    OK(ic_model_input(m, 3, shape, "img", &x));
    OK(ic_layer_zero_padding2d(&l, 1, 2, 0, 1, NULL));
    x = apply(m, l, 1, &x); /* 12 x 10 x 3 */
    ic_conv2d_opts co = ic_conv2d_opts_default(8, 3, 3);
    co.activation = IC_ACT_RELU;
    co.stride_w = 2;
    OK(ic_layer_conv2d(&l, &co));
    x = apply(m, l, 1, &x); /* 10 x 4 x 8 */
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.momentum = 0.95f;
    bo.epsilon = 2e-3f;
    OK(ic_layer_batch_normalization(&l, &bo));
    x = apply(m, l, 1, &x);
    OK(ic_layer_relu(&l, 6.f, "relu6"));
    a = apply(m, l, 1, &x);
    co = ic_conv2d_opts_default(0, 3, 3);
    co.padding = IC_PAD_SAME;
    co.use_bias = 0;
    OK(ic_layer_depthwise_conv2d(&l, &co));
    b = apply(m, l, 1, &a);
    bo = ic_batchnorm_opts_default();
    bo.center = 0;
    OK(ic_layer_batch_normalization(&l, &bo));
    b = apply(m, l, 1, &b);
    OK(ic_layer_relu(&l, 0.f, NULL));
    b = apply(m, l, 1, &b);
    int ab[2] = {a, b};
    OK(ic_layer_add(&l, NULL));
    x = apply(m, l, 2, ab);
    co = ic_conv2d_opts_default(4, 1, 1);
    co.name = "frozen_1x1";
    OK(ic_layer_conv2d(&l, &co));
    ic_layer_set_trainable(l, 0);
    c = apply(m, l, 1, &x);
    int xc[2] = {x, c};
    OK(ic_layer_concatenate(&l, NULL));
    x = apply(m, l, 2, xc); /* 10 x 4 x 12 */
    ic_pool2d_opts po = ic_pool2d_opts_default();
    po.pool_h = po.pool_w = 3;
    po.stride_h = po.stride_w = 2;
    po.padding = IC_PAD_SAME;
    OK(ic_layer_max_pooling2d(&l, &po));
    x = apply(m, l, 1, &x); /* 5 x 2 x 12 */
    po = ic_pool2d_opts_default();
    po.pool_w = 1;
    OK(ic_layer_average_pooling2d(&l, &po));
    x = apply(m, l, 1, &x); /* 2 x 2 x 12 */
    /* A nested Sequential with a frozen layer inside. */
    int64_t ishape[3] = {2, 2, 12};
    OK(ic_model_create(&inner, "inner_seq", 1));
    OK(ic_model_input(inner, 3, ishape, NULL, NULL));
    co = ic_conv2d_opts_default(6, 3, 3);
    co.padding = IC_PAD_SAME;
    co.activation = IC_ACT_TANH;
    OK(ic_layer_conv2d(&l, &co));
    OK(ic_model_add(inner, l));
    OK(ic_layer_batch_normalization(&l, NULL));
    ic_layer_set_trainable(l, 0);
    OK(ic_model_add(inner, l));
    OK(ic_layer_from_model(&l, inner));
    x = apply(m, l, 1, &x);
    OK(ic_layer_global_average_pooling2d(&l, NULL));
    a = apply(m, l, 1, &x);
    OK(ic_layer_global_max_pooling2d(&l, NULL));
    b = apply(m, l, 1, &x);
    int gg[2] = {a, b};
    OK(ic_layer_concatenate(&l, NULL));
    x = apply(m, l, 2, gg);
    OK(ic_layer_dropout(&l, 0.3f, NULL));
    x = apply(m, l, 1, &x);
    OK(ic_layer_dense(&l, 3, IC_ACT_LINEAR, 1, NULL));
    x = apply(m, l, 1, &x);
    OK(ic_layer_activation(&l, IC_ACT_SOFTMAX, "probs"));
    x = apply(m, l, 1, &x);
    /* A last layer that is not the output. */
    OK(ic_layer_activation(&l, IC_ACT_TANH, "unused_tail"));
    apply(m, l, 1, &x);
    OK(ic_model_set_output(m, x));
    return m;
}

/* The exact-resume model: conv, pool, flatten, dropout, BN, dense. */
static ic_model *resume_model(ic_optimizer_kind kind)
{
    ic_reset_uids();
    ic_set_random_seed(99);
    ic_model *m;
    ic_layer *l;
    int64_t shape[3] = {6, 6, 2};
    OK(ic_model_create(&m, NULL, 1));
    OK(ic_model_input(m, 3, shape, NULL, NULL));
    ic_conv2d_opts co = ic_conv2d_opts_default(4, 3, 3);
    co.activation = IC_ACT_RELU;
    OK(ic_layer_conv2d(&l, &co));
    OK(ic_model_add(m, l));
    OK(ic_layer_max_pooling2d(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dropout(&l, 0.5f, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 8, IC_ACT_RELU, 1, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_batch_normalization(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    OK(ic_model_add(m, l));
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer = ic_optimizer_opts_default(kind);
    c.optimizer.decay = 0.01f;
    if (kind == IC_OPT_ADAM)
        c.optimizer.amsgrad = 1;
    if (kind == IC_OPT_SGD) {
        c.optimizer.momentum = 0.9f;
        c.optimizer.nesterov = 1;
    }
    OK(ic_model_compile(m, &c));
    return m;
}

/* ---- Tests ---- */

static void test_book_model(void)
{
    ic_model *m = book_model();
    CHECK(ic_model_count_trainable_params(m) == 2097665); /* KERAS_REFERENCE 6 (150x150) */
    /* model_config content */
    cJSON *root = config_of(m);
    const cJSON *cfg = cJSON_GetObjectItem(root, "config");
    CHECK(json_is(cJSON_GetObjectItem(root, "class_name"), "\"Sequential\""));
    const cJSON *vgg = find_layer(cfg, "vgg16");
    CHECK(vgg && json_is(cJSON_GetObjectItem(vgg, "class_name"), "\"Model\""));
    const cJSON *vcfg = cJSON_GetObjectItem(vgg, "config");
    CHECK(json_is(cJSON_GetObjectItem(vcfg, "trainable"), "false"));
    const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(vcfg, "layers"), 0);
    const cJSON *iref = cJSON_GetArrayItem(cJSON_GetObjectItem(vcfg, "input_layers"), 0);
    CHECK(json_is(cJSON_GetObjectItem(in0, "class_name"), "\"InputLayer\""));
    CHECK(json_is(cJSON_GetObjectItem(in0, "inbound_nodes"), "[]"));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(vcfg, "input_layers")) == 1 &&
          !strcmp(cJSON_GetArrayItem(iref, 0)->valuestring,
                  cJSON_GetObjectItem(in0, "name")->valuestring));
    CHECK(json_is(cJSON_GetObjectItem(vcfg, "output_layers"), "[[\"block5_pool\",0,0]]"));
    const cJSON *conv = find_layer(vcfg, "block1_conv2");
    const cJSON *cc = cJSON_GetObjectItem(conv, "config");
    CHECK(json_is(cJSON_GetObjectItem(conv, "class_name"), "\"Conv2D\""));
    CHECK(json_is(cJSON_GetObjectItem(cc, "filters"), "64"));
    CHECK(json_is(cJSON_GetObjectItem(cc, "kernel_size"), "[3,3]"));
    CHECK(json_is(cJSON_GetObjectItem(cc, "strides"), "[1,1]"));
    CHECK(json_is(cJSON_GetObjectItem(cc, "padding"), "\"same\""));
    CHECK(json_is(cJSON_GetObjectItem(cc, "data_format"), "\"channels_last\""));
    CHECK(json_is(cJSON_GetObjectItem(cc, "activation"), "\"relu\""));
    CHECK(json_is(cJSON_GetObjectItem(cc, "kernel_initializer"),
                  "{\"class_name\":\"VarianceScaling\",\"config\":{\"scale\":1,\"mode\":"
                  "\"fan_avg\",\"distribution\":\"uniform\",\"seed\":null}}"));
    CHECK(json_is(cJSON_GetObjectItem(cc, "kernel_regularizer"), "null"));
    CHECK(json_is(cJSON_GetObjectItem(conv, "inbound_nodes"), "[[[\"block1_conv1\",0,0,{}]]]"));
    const cJSON *pool = cJSON_GetObjectItem(find_layer(vcfg, "block5_pool"), "config");
    CHECK(json_is(cJSON_GetObjectItem(pool, "pool_size"), "[2,2]"));
    CHECK(json_is(cJSON_GetObjectItem(pool, "strides"), "[2,2]"));
    CHECK(json_is(cJSON_GetObjectItem(pool, "padding"), "\"valid\""));
    const cJSON *inl =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(vcfg, "layers"), 0), "config");
    CHECK(json_is(cJSON_GetObjectItem(inl, "batch_input_shape"), "[null,150,150,3]"));
    CHECK(json_is(cJSON_GetObjectItem(inl, "dtype"), "\"float32\""));
    /* The first layer of the Sequential is the nested model: no batch_input_shape. */
    CHECK(!cJSON_GetObjectItem(vcfg, "batch_input_shape"));
    const cJSON *dense =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "layers"), 2), "config");
    CHECK(json_is(cJSON_GetObjectItem(dense, "units"), "256"));
    CHECK(json_is(cJSON_GetObjectItem(dense, "trainable"), "true"));
    cJSON_Delete(root);

    ic_model *r = round_trip(m, "book.h5", 1);
    CHECK(ic_model_count_trainable_params(r) == 2097665);
    CHECK(!ic_layer_trainable(ic_model_layer(r, 0)));
    CHECK(r->train && r->train->opts.optimizer.lr == 2e-5f);
    CHECK(r->train && r->train->opts.loss == IC_LOSS_BINARY_CROSSENTROPY);

    /* Keras's root attributes and the model_weights group. */
    hid_t f;
    OK(ic__h5_open_read(tpath("book.h5"), &f));
    char *v;
    OK(ic__h5_read_str_attr(f, "keras_version", "book.h5", &v));
    CHECK(!strcmp(v, "2.2.4"));
    ic__free(v);
    OK(ic__h5_read_str_attr(f, "backend", "book.h5", &v));
    CHECK(!strcmp(v, "tensorflow"));
    ic__free(v);
    OK(ic__h5_read_str_attr(f, "training_config", "book.h5", &v));
    cJSON *tc = cJSON_Parse(v);
    CHECK(json_is(cJSON_GetObjectItem(tc, "optimizer_config"),
                  "{\"class_name\":\"RMSprop\",\"config\":{\"lr\":2e-05,\"rho\":0.9,\"decay\":0,"
                  "\"epsilon\":1e-07}}"));
    CHECK(json_is(cJSON_GetObjectItem(tc, "loss"), "\"binary_crossentropy\""));
    CHECK(json_is(cJSON_GetObjectItem(tc, "metrics"), "[\"acc\"]"));
    cJSON_Delete(tc);
    ic__free(v);
    hid_t g = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    char **names;
    int n;
    OK(ic__h5_read_str_array_attr(g, "layer_names", "book.h5", &names, &n));
    CHECK(n == 4 && !strcmp(names[0], "vgg16"));
    ic__free(names);
    H5Gclose(g);
    H5Fclose(f);
    /* The loaded file's weights also load into the original model (Keras layout). */
    OK(ic_model_load_weights(m, tpath("book.h5"), NULL));
    ic_model_free(r);
    ic_model_free(m);
}

static void test_smallcnn(void)
{
    ic_model *m;
    OK(ic_app_smallcnn(&m, 150, 150, 3, 0.5f, 2));
    cJSON *root = config_of(m);
    const cJSON *first = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "config"), "layers"), 0),
        "config");
    CHECK(json_is(cJSON_GetObjectItem(first, "batch_input_shape"), "[null,150,150,3]"));
    CHECK(json_is(cJSON_GetObjectItem(first, "dtype"), "\"float32\""));
    CHECK(json_is(cJSON_GetObjectItem(first, "padding"), "\"valid\""));
    /* Keras's key order: name, trainable, batch_input_shape, dtype, filters, ... */
    const char *order[] = {"name", "trainable", "batch_input_shape", "dtype", "filters"};
    const cJSON *it = first->child;
    for (int i = 0; i < 5; i++, it = it ? it->next : NULL)
        CHECK(it && !strcmp(it->string, order[i]));
    cJSON_Delete(root);
    ic_model *r = round_trip(m, "smallcnn.h5", 2);
    ic_model_free(r);
    ic_model_free(m);
}

static void test_functional(void)
{
    ic_model *m = functional_model();
    /* Train a little so BN statistics and optimizer state are not trivial. */
    ic_compile_opts co = ic_compile_opts_default();
    co.loss = IC_LOSS_CATEGORICAL_CROSSENTROPY;
    co.optimizer = ic_optimizer_opts_default(IC_OPT_ADAM);
    co.frozen_bn_uses_batch_stats = 1;
    OK(ic_model_compile(m, &co));
    ic_tensor *x = random_input(m, 4, 3), *y;
    int64_t ys[2] = {4, 3};
    OK(ic_tensor_create(&y, 2, ys));
    float *yd = ic_tensor_data(y);
    memset(yd, 0, 12 * sizeof(float));
    for (int i = 0; i < 4; i++)
        yd[i * 3 + i % 3] = 1;
    for (int i = 0; i < 2; i++)
        OK(ic_model_train_on_batch(m, x, y, NULL, NULL));
    cJSON *root = config_of(m);
    const cJSON *cfg = cJSON_GetObjectItem(root, "config");
    CHECK(json_is(cJSON_GetObjectItem(root, "class_name"), "\"Model\""));
    CHECK(json_is(cJSON_GetObjectItem(cfg, "input_layers"), "[[\"img\",0,0]]"));
    CHECK(json_is(cJSON_GetObjectItem(cfg, "output_layers"), "[[\"probs\",0,0]]"));
    const cJSON *img = find_layer(cfg, "img");
    CHECK(json_is(img, "{\"name\":\"img\",\"class_name\":\"InputLayer\",\"config\":{"
                       "\"batch_input_shape\":[null,9,9,3],\"dtype\":\"float32\",\"sparse\":"
                       "false,\"name\":\"img\"},\"inbound_nodes\":[]}"));
    const cJSON *r6 = cJSON_GetObjectItem(find_layer(cfg, "relu6"), "config");
    CHECK(json_is(cJSON_GetObjectItem(r6, "max_value"), "6"));
    const cJSON *fz = cJSON_GetObjectItem(find_layer(cfg, "frozen_1x1"), "config");
    CHECK(json_is(cJSON_GetObjectItem(fz, "trainable"), "false"));
    const cJSON *e;
    int saw_bn = 0, saw_zp = 0, saw_add = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(cfg, "layers"))
    {
        const char *cls = cJSON_GetObjectItem(e, "class_name")->valuestring;
        const cJSON *c = cJSON_GetObjectItem(e, "config");
        if (!strcmp(cls, "BatchNormalization") && !saw_bn++) {
            CHECK(json_is(cJSON_GetObjectItem(c, "momentum"), "0.95"));
            CHECK(json_is(cJSON_GetObjectItem(c, "epsilon"), "0.002"));
            CHECK(json_is(cJSON_GetObjectItem(c, "axis"), "-1"));
        }
        if (!strcmp(cls, "ZeroPadding2D") && !saw_zp++)
            CHECK(json_is(cJSON_GetObjectItem(c, "padding"), "[[1,2],[0,1]]"));
        if (!strcmp(cls, "Add") && !saw_add++) {
            const cJSON *call = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "inbound_nodes"), 0);
            CHECK(cJSON_GetArraySize(call) == 2);
            CHECK(json_is(cJSON_GetArrayItem(call, 0), "[\"relu6\",0,0,{}]"));
        }
    }
    CHECK(saw_bn && saw_zp && saw_add);
    cJSON_Delete(root);

    ic_model *r = round_trip(m, "func.h5", 3);
    CHECK(!ic_layer_trainable(ic_model_get_layer(r, "frozen_1x1")));
    ic_layer *inner = ic_model_get_layer(r, "inner_seq");
    CHECK(inner && !strcmp(ic_layer_class_name(inner), "Sequential"));
    /* Training continues identically on both (Adam state restored). */
    double la, lb;
    OK(ic_model_train_on_batch(m, x, y, &la, NULL));
    OK(ic_model_train_on_batch(r, x, y, &lb, NULL));
    CHECK(la == lb);
    CHECK(r->train && r->train->opts.frozen_bn_uses_batch_stats == 1);
    CHECK(same_weights(m, r));
    ic_model_free(r);

    /* Without the optimizer: compiled, fresh state. */
    OK(ic_model_save(m, tpath("func_noopt.h5"), NULL, 0));
    OK(ic_model_load(&r, tpath("func_noopt.h5"), NULL));
    CHECK(r->train && r->train->opt.iterations == 0 && r->train->opt.n_slots == 0);
    ic_model_free(r);
    /* Uncompiled models save and load uncompiled. */
    ic_model *fresh = functional_model();
    OK(ic_model_save(fresh, tpath("func_raw.h5"), NULL, 1));
    OK(ic_model_load(&r, tpath("func_raw.h5"), NULL));
    CHECK(r->train == NULL);
    ic_model_free(r);
    ic_model_free(fresh);
    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_model_free(m);
}

static void test_meta(void)
{
    ic_model *m;
    OK(ic_app_smallcnn(&m, 64, 64, 1, 0.f, 3));
    char *names[3] = {"chat noir", "Hund \xc3\xbc", "\xe7\x8c\xab cat"};
    ic_model_meta meta = {0};
    meta.n_classes = 3;
    meta.class_names = names;
    meta.target_h = 32;
    meta.target_w = 48;
    meta.grayscale = 1;
    meta.rescale = 1.f / 255.f;
    meta.preprocess = IC_PREPROCESS_CAFFE;
    snprintf(meta.base_name, sizeof meta.base_name, "vgg16");
    OK(ic_model_save(m, tpath("meta.h5"), &meta, 1));
    ic_model *r;
    ic_model_meta got;
    OK(ic_model_load(&r, tpath("meta.h5"), &got));
    CHECK(got.n_classes == 3);
    for (int i = 0; i < 3 && i < got.n_classes; i++)
        CHECKF(!strcmp(got.class_names[i], names[i]), "class %d: '%s'", i, got.class_names[i]);
    CHECK(got.target_h == 32 && got.target_w == 48);
    CHECK(got.grayscale == 1);
    CHECK(got.rescale == 1.f / 255.f);
    CHECK(got.preprocess == IC_PREPROCESS_CAFFE);
    CHECK(!strcmp(got.base_name, "vgg16"));
    ic_model_meta_free(&got);
    CHECK(got.class_names == NULL && got.n_classes == 0);
    ic_model_meta_free(NULL);
    ic_model_free(r);
    /* NULL meta: loads as an empty meta. */
    OK(ic_model_save(m, tpath("meta0.h5"), NULL, 0));
    OK(ic_model_load(&r, tpath("meta0.h5"), &got));
    CHECK(got.n_classes == 0 && got.class_names == NULL && got.target_h == 0);
    ic_model_meta_free(&got);
    ic_model_free(r);
    ic_model_free(m);
}

/* A model_config far above HDF5's 64 KiB object-header limit (a variable-length string
 * attribute lives on the global heap). */
static void test_big_config(void)
{
    ic_model *m;
    ic_layer *l;
    int64_t in[1] = {4};
    OK(ic_model_create(&m, "deep", 1));
    OK(ic_model_input(m, 1, in, NULL, NULL));
    for (int i = 0; i < 400; i++) {
        OK(ic_layer_dense(&l, 4, IC_ACT_TANH, 1, NULL));
        OK(ic_model_add(m, l));
    }
    char *json;
    OK(ic__model_to_config(m, &json));
    CHECKF(strlen(json) > 100000, "config is %zu bytes", strlen(json));
    ic__free(json);
    ic_model *r = round_trip(m, "deep.h5", 2);
    ic_model_free(r);
    ic_model_free(m);
}

static void batch(int k, ic_tensor **x, ic_tensor **y)
{
    int64_t xs[4] = {5, 6, 6, 2}, ys[2] = {5, 1};
    OK(ic_tensor_create(x, 4, xs));
    OK(ic_tensor_create(y, 2, ys));
    t_fill_uniform(ic_tensor_data(*x), 5 * 72, 100 + (unsigned)k, -1, 1);
    for (int i = 0; i < 5; i++)
        ic_tensor_data(*y)[i] = (float)((i + k) % 2);
}

static void train_steps(ic_model *m, int from, int to, double *losses)
{
    for (int k = from; k < to; k++) {
        ic_tensor *x, *y;
        batch(k, &x, &y);
        OK(ic_model_train_on_batch(m, x, y, &losses[k], NULL));
        ic_tensor_free(x);
        ic_tensor_free(y);
    }
}

static void test_exact_resume(void)
{
    OK(ic_set_backend("ref"));
    ic_set_num_threads(1);
    const ic_optimizer_kind kinds[3] = {IC_OPT_RMSPROP, IC_OPT_ADAM, IC_OPT_SGD};
    for (int k = 0; k < 3; k++) {
        double la[5], lb[5];
        ic_model *a = resume_model(kinds[k]);
        train_steps(a, 0, 5, la);
        ic_model *b = resume_model(kinds[k]);
        train_steps(b, 0, 3, lb);
        OK(ic_model_save(b, tpath("resume.h5"), NULL, 1));
        ic_model_free(b);
        ic_set_random_seed(12345); /* loading must not depend on the init stream */
        ic_model *c;
        OK(ic_model_load(&c, tpath("resume.h5"), NULL));
        CHECK(c->train && c->train->opt.iterations == 3 && c->train->step == 3);
        ic_set_random_seed(99); /* dropout masks derive from the process seed */
        train_steps(c, 3, 5, lb);
        for (int i = 0; i < 5; i++)
            CHECKF(la[i] == lb[i], "optimizer %d step %d: loss %.17g vs %.17g", k, i, la[i], lb[i]);
        CHECKF(same_weights(a, c), "optimizer %d: weights after 5 steps differ", k);
        CHECK(c->train->opt.iterations == 5);
        if (k == 0) { /* the restored dropout step matters: without it the run differs */
            ic_model *d;
            OK(ic_model_load(&d, tpath("resume.h5"), NULL));
            d->train->step = 0;
            ic_set_random_seed(99);
            train_steps(d, 3, 5, lb);
            CHECK(lb[3] != la[3] || lb[4] != la[4]);
            ic_model_free(d);
        }
        ic_model_free(a);
        ic_model_free(c);
    }
    ic_set_num_threads(0);
    OK(ic_set_backend("cpu"));
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    fputs(text, fp);
    fclose(fp);
}

/* Replaces a root string attribute of an existing file. */
static void set_attr(const char *path, const char *name, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0);
    OK(ic__h5_write_str_attr(f, name, value, path));
    H5Fclose(f);
}

static void copy_file(const char *from, const char *to, long limit)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    long done = 0;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0 && (limit < 0 || done < limit)) {
        if (limit >= 0 && done + (long)n > limit)
            n = (size_t)(limit - done);
        fwrite(buf, 1, n, b);
        done += (long)n;
    }
    fclose(a);
    fclose(b);
}

static char *read_model_config(const char *path)
{
    hid_t f;
    OK(ic__h5_open_read(path, &f));
    char *v;
    OK(ic__h5_read_str_attr(f, "model_config", path, &v));
    H5Fclose(f);
    return v;
}

/* Replaces the first occurrence of a by b in s (new string). */
static char *replace(const char *s, const char *a, const char *b)
{
    const char *p = strstr(s, a);
    CHECK(p != NULL);
    if (!p)
        return strdup(s);
    size_t n = strlen(s) - strlen(a) + strlen(b) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(p - s), s, b, p + strlen(a));
    return r;
}

static void test_errors(void)
{
    ic_model *m, *r = NULL;
    OK(ic_app_smallcnn(&m, 64, 64, 3, 0.5f, 2));
    OK(ic_model_save(m, tpath("good.h5"), NULL, 1));

    write_text(tpath("text.h5"), "this is not an HDF5 file\n");
    EXPECT_ERR(ic_model_load(&r, tpath("text.h5"), NULL), IC_ERR_FORMAT, "not an HDF5 file");
    CHECK(r == NULL);
    EXPECT_ERR(ic_model_load(&r, tpath("missing.h5"), NULL), IC_ERR_NOT_FOUND, "missing.h5");

    OK(ic_model_save_weights(m, tpath("weights.h5")));
    EXPECT_ERR(ic_model_load(&r, tpath("weights.h5"), NULL), IC_ERR_FORMAT, "no model_config");
    CHECK(strstr(ic_errmsg(), "weights.h5") != NULL);

    copy_file(tpath("good.h5"), tpath("badjson.h5"), -1);
    set_attr(tpath("badjson.h5"), "model_config", "{\"class_name\": \"Sequential\", \"config\": {");
    EXPECT_ERR(ic_model_load(&r, tpath("badjson.h5"), NULL), IC_ERR_FORMAT, "not valid JSON");
    CHECK(strstr(ic_errmsg(), "badjson.h5") != NULL);

    char *cfg = read_model_config(tpath("good.h5"));
    char *lstm = replace(cfg, "\"class_name\":\"Dense\"", "\"class_name\":\"LSTM\"");
    copy_file(tpath("good.h5"), tpath("lstm.h5"), -1);
    set_attr(tpath("lstm.h5"), "model_config", lstm);
    EXPECT_ERR(ic_model_load(&r, tpath("lstm.h5"), NULL), IC_ERR_UNSUPPORTED,
               "class 'LSTM' is not supported");
    CHECK(strstr(ic_errmsg(), "layer 'dense_") != NULL);
    CHECK(strstr(ic_errmsg(), "lstm.h5") != NULL);
    ic_model *direct = NULL;
    EXPECT_ERR(ic__model_from_config(lstm, NULL, &direct), IC_ERR_UNSUPPORTED, "class 'LSTM'");
    CHECK(direct == NULL);

    char *pad = replace(cfg, "\"padding\":\"valid\"", "\"padding\":\"full\"");
    EXPECT_ERR(ic__model_from_config(pad, "x.h5", &direct), IC_ERR_FORMAT,
               "field 'padding' must be \"valid\" or \"same\", got \"full\"");
    char *ks = replace(cfg, "\"kernel_size\":[3,3]", "\"kernel_size\":\"3\"");
    EXPECT_ERR(ic__model_from_config(ks, "x.h5", &direct), IC_ERR_FORMAT, "kernel_size");
    char *act = replace(cfg, "\"activation\":\"relu\"", "\"activation\":\"elu\"");
    EXPECT_ERR(ic__model_from_config(act, "x.h5", &direct), IC_ERR_UNSUPPORTED, "'elu'");
    char *dil = replace(cfg, "\"dilation_rate\":[1,1]", "\"dilation_rate\":[2,2]");
    EXPECT_ERR(ic__model_from_config(dil, "x.h5", &direct), IC_ERR_UNSUPPORTED, "dilation_rate");
    EXPECT_ERR(ic__model_from_config("[1, 2]", "x.h5", &direct), IC_ERR_FORMAT, "class_name");
    EXPECT_ERR(ic__model_from_config("{\"class_name\":\"Bogus\",\"config\":{}}", "x.h5", &direct),
               IC_ERR_UNSUPPORTED, "model class 'Bogus'");
    CHECK(direct == NULL);
    free(pad);
    free(ks);
    free(act);
    free(dil);
    free(lstm);
    ic__free(cfg);

    copy_file(tpath("good.h5"), tpath("future.h5"), -1);
    set_attr(tpath("future.h5"), "imgclass_meta", "{\"format\": 2}");
    EXPECT_ERR(ic_model_load(&r, tpath("future.h5"), NULL), IC_ERR_UNSUPPORTED, "format 2");

    struct stat st;
    stat(tpath("good.h5"), &st);
    copy_file(tpath("good.h5"), tpath("trunc.h5"), (long)st.st_size / 2);
    ic_status s = ic_model_load(&r, tpath("trunc.h5"), NULL);
    CHECKF(s == IC_ERR_FORMAT && strstr(ic_errmsg(), "trunc.h5"), "truncated: %s: %s",
           ic_status_str(s), ic_errmsg());
    copy_file(tpath("good.h5"), tpath("trunc2.h5"), 1000);
    s = ic_model_load(&r, tpath("trunc2.h5"), NULL);
    CHECKF(s == IC_ERR_FORMAT && strstr(ic_errmsg(), "trunc2.h5"), "truncated: %s: %s",
           ic_status_str(s), ic_errmsg());
    CHECK(r == NULL);
    ic_model_free(m);
}

/* ---- Fault injection ---- */

static long g_count, g_fail_at;
static void *f_malloc(size_t n, void *u)
{
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *u)
{
    free(p);
}

static void hooks_on(long fail_at)
{
    g_count = 0;
    g_fail_at = fail_at;
    ic_alloc_hooks h = {f_malloc, f_realloc, f_free, NULL};
    ic_set_alloc_hooks(&h);
}

static int temp_files_left(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_faults(void)
{
    ic_model *old = resume_model(IC_OPT_SGD), *neu = resume_model(IC_OPT_ADAM);
    ic_tensor *x, *y;
    batch(0, &x, &y);
    OK(ic_model_train_on_batch(neu, x, y, NULL, NULL)); /* weights differ, Adam state */
    char *names[2] = {"a", "b"};
    ic_model_meta meta = {0};
    meta.n_classes = 2;
    meta.class_names = names;

    const char *path = tpath("faults.h5");
    OK(ic_model_save(old, path, NULL, 1));
    int done = 0, bad = 0;
    long n;
    for (n = 1; n < 5000 && !done; n++) {
        hooks_on(n);
        ic_status s = ic_model_save(neu, path, &meta, 1);
        ic_set_alloc_hooks(NULL);
        if (s == IC_OK) {
            done = 1;
            break;
        }
        if (s != IC_ERR_NOMEM && !bad++)
            fprintf(stderr, "save fail_at %ld: %s: %s\n", n, ic_status_str(s), ic_errmsg());
        ic_model *back;
        OK(ic_model_load(&back, path, NULL));
        if (!same_weights(old, back) && !bad++)
            fprintf(stderr, "save fail_at %ld: the old file changed\n", n);
        ic_model_free(back);
        if (temp_files_left() && !bad++)
            fprintf(stderr, "save fail_at %ld: a temporary file was left\n", n);
    }
    CHECKF(done && bad == 0, "save faults: done %d, bad %d, %ld allocations", done, bad, n);
    CHECK(temp_files_left() == 0);
    ic_model *back;
    OK(ic_model_load(&back, path, NULL));
    CHECK(same_weights(neu, back));
    ic_model_free(back);

    /* Loading under failing allocations: IC_OK or IC_ERR_NOMEM, nothing leaks. */
    done = bad = 0;
    for (n = 1; n < 20000 && !done; n++) {
        ic_model_meta got;
        hooks_on(n);
        ic_status s = ic_model_load(&back, path, &got);
        ic_set_alloc_hooks(NULL);
        if (s == IC_OK) {
            done = 1;
            CHECK(got.n_classes == 2 && same_weights(neu, back));
            ic_model_meta_free(&got);
            ic_model_free(back);
            break;
        }
        CHECK(back == NULL && got.class_names == NULL);
        if (s != IC_ERR_NOMEM && !bad++)
            fprintf(stderr, "load fail_at %ld: %s: %s\n", n, ic_status_str(s), ic_errmsg());
    }
    CHECKF(done && bad == 0, "load faults: done %d, bad %d, %ld allocations", done, bad, n);
    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_model_free(old);
    ic_model_free(neu);
}

static void rm_dir(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(g_dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_model_file_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {{"meta", test_meta},
                 {"errors", test_errors},
                 {"smallcnn", test_smallcnn},
                 {"functional", test_functional},
                 {"resume", test_exact_resume},
                 {"faults", test_faults},
                 {"big_config", test_big_config},
                 {"book", test_book_model}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%-12s %.2f s\n", tests[i].name,
               (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec));
    }
    rm_dir();
    return t_finish();
}
