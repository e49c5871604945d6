/* test_apps.c - keras.applications architectures: MobileNetV2 layer names and order
 * (against the layer_names of ../shared/weights/mobilenet_v2_*_no_top.h5 when present),
 * parameter counts published by Keras (MobileNetV2, ResNet50, VGG19), output shapes at
 * 224 / 161 / 160 / 150, correct_pad on odd sizes, error cases, the ResNet50 layer
 * order Keras uses for by-order weight loading, preprocess_input values computed by
 * hand for one pixel per mode, and the registry. */
#include <hdf5.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"

static ic_app_opts opts(int top, int64_t h, int64_t w)
{
    ic_app_opts o = ic_app_opts_default();
    o.include_top = top;
    o.input_shape[0] = h;
    o.input_shape[1] = w;
    return o;
}

static void out_shape_is(ic_model *m, int64_t a, int64_t b, int64_t c, int nd)
{
    int64_t s[4] = {0};
    int n = ic_model_output_shape(m, s);
    CHECKF(n == nd && s[0] == a && (nd < 2 || (s[1] == b && s[2] == c)),
           "%s: output (%lld, %lld, %lld) ndim %d", ic_model_name(m), (long long)s[0],
           (long long)s[1], (long long)s[2], n);
}

static const ic__shape *layer_out(ic_model *m, const char *name)
{
    ic_layer *l = ic_model_get_layer(m, name);
    CHECKF(l != NULL, "no layer %s", name);
    static ic__shape none = {0};
    return l ? &l->out : &none;
}

/* Reads the root attribute layer_names (fixed-length strings) of a Keras weights file.
 * Returns the count (0 on failure); names is n*width chars, caller frees. */
static int read_layer_names(const char *path, char **names, size_t *width)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *names = NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0;
    hid_t a = H5Aopen(f, "layer_names", H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int n = (int)H5Sget_simple_extent_npoints(sp);
    *width = H5Tget_size(t);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, *width);
    H5Tset_strpad(mt, H5T_STR_NULLPAD);
    *names = calloc((size_t)n, *width);
    if (H5Tis_variable_str(t) > 0 || H5Aread(a, mt, *names) < 0)
        n = 0;
    H5Tclose(mt);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
    return n;
}

static void compare_names(ic_model *m, const char *file)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/../shared/weights/%s", IC_SOURCE_DIR, file);
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("note: %s absent, layer list not compared\n", path);
        return;
    }
    char *names = NULL;
    size_t w = 0;
    int n = read_layer_names(path, &names, &w);
    CHECKF(n == 155, "%s: %d layer_names", file, n);
    CHECK(ic_model_num_layers(m) == n);
    int bad = 0;
    for (int i = 0; i < n && i < ic_model_num_layers(m); i++) {
        char ref[256] = {0};
        memcpy(ref, names + (size_t)i * w, w < 255 ? w : 255);
        const char *mine = ic_layer_name(ic_model_layer(m, i));
        if (strcmp(ref, mine) && bad++ < 5)
            fprintf(stderr, "%s: layer %d is %s, file has %s\n", file, i, mine, ref);
    }
    CHECKF(bad == 0, "%s: %d names differ", file, bad);
    free(names);
}

static void test_mobilenet_v2(void)
{
    ic_model *m;
    ic_reset_uids();
    ic_app_opts o = opts(0, 0, 0);
    OK(ic_app_mobilenet_v2(&m, 1.0f, &o));
    CHECK(!strcmp(ic_model_name(m), "mobilenetv2_1.00_224"));
    CHECK(ic_model_num_layers(m) == 155);
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 0)), "input_1"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 1)), "Conv1_pad"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 5)), "expanded_conv_depthwise"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 154)), "out_relu"));
    CHECK(!strcmp(ic_layer_class_name(ic_model_get_layer(m, "block_1_pad")), "ZeroPadding2D"));
    CHECK(!strcmp(ic_layer_class_name(ic_model_get_layer(m, "block_13_depthwise")),
                  "DepthwiseConv2D"));
    CHECK(!strcmp(ic_layer_class_name(ic_model_get_layer(m, "out_relu")), "ReLU"));
    CHECK(!strcmp(ic_layer_class_name(ic_model_get_layer(m, "block_15_add")), "Add"));
    CHECK(ic_model_get_layer(m, "block_3_add") == NULL);  /* stride 2: no residual */
    CHECK(ic_model_get_layer(m, "block_16_add") == NULL); /* 160 -> 320 channels */
    CHECK(ic_model_get_layer(m, "block_15_add") != NULL);
    CHECK(ic_model_get_layer(m, "block_2_pad") == NULL);
    CHECKF(ic_model_count_params(m) == 2257984, "%lld", (long long)ic_model_count_params(m));
    CHECK(ic_model_num_weights(m) == 260);
    out_shape_is(m, 7, 7, 1280, 3);
    /* correct_pad on an even size: ((0, 1), (0, 1)); Conv1 halves 225 -> 112. */
    CHECK(layer_out(m, "Conv1_pad")->d[0] == 225 && layer_out(m, "Conv1")->d[0] == 112);
    CHECK(layer_out(m, "Conv1")->d[2] == 32);
    CHECK(layer_out(m, "block_16_project_BN")->d[2] == 320);
    compare_names(m, "mobilenet_v2_1.0_224_no_top.h5");
    ic_model_free(m);

    ic_reset_uids();
    OK(ic_app_mobilenet_v2(&m, 0.35f, &o));
    CHECK(!strcmp(ic_model_name(m), "mobilenetv2_0.35_224"));
    CHECKF(ic_model_count_params(m) == 410208, "%lld", (long long)ic_model_count_params(m));
    CHECK(layer_out(m, "Conv1")->d[2] == 16); /* _make_divisible(11.2, 8) = 16 */
    CHECK(layer_out(m, "expanded_conv_project")->d[2] == 8);
    out_shape_is(m, 7, 7, 1280, 3);
    compare_names(m, "mobilenet_v2_0.35_224_no_top.h5");
    ic_model_free(m);

    /* With the classifier: GAP + Dense "Logits" (1280*1000 + 1000 more). */
    ic_reset_uids();
    o = opts(1, 0, 0);
    OK(ic_app_mobilenet_v2(&m, 1.0f, &o));
    CHECKF(ic_model_count_params(m) == 3538984, "%lld", (long long)ic_model_count_params(m));
    CHECK(ic_model_num_layers(m) == 157);
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 155)), "global_average_pooling2d_1"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 156)), "Logits"));
    out_shape_is(m, 1000, 0, 0, 1);
    ic_model_free(m);

    /* alpha > 1: last conv widened to _make_divisible(1280 * 1.4, 8) = 1792. */
    o = opts(0, 0, 0);
    o.pooling = IC_POOLING_AVG;
    OK(ic_app_mobilenet_v2(&m, 1.4f, &o));
    CHECK(!strcmp(ic_model_name(m), "mobilenetv2_1.40_224"));
    out_shape_is(m, 1792, 0, 0, 1);
    CHECK(layer_out(m, "Conv1")->d[2] == 48);
    ic_model_free(m);

    /* Other sizes: Keras gives 5x5x1280 at 150 and 160; at 161 (odd) correct_pad is
     * ((1, 1), (1, 1)): 161 -> 163 -> 81. */
    int64_t sizes[3][2] = {{150, 5}, {160, 5}, {161, 6}};
    for (int i = 0; i < 3; i++) {
        o = opts(0, sizes[i][0], sizes[i][0]);
        OK(ic_app_mobilenet_v2(&m, 0.5f, &o));
        out_shape_is(m, sizes[i][1], sizes[i][1], 1280, 3);
        ic_model_free(m);
    }
    o = opts(0, 161, 160);
    o.pooling = IC_POOLING_MAX;
    OK(ic_app_mobilenet_v2(&m, 0.75f, &o));
    CHECK(!strcmp(ic_model_name(m), "mobilenetv2_0.75_161"));
    CHECK(layer_out(m, "Conv1_pad")->d[0] == 163 && layer_out(m, "Conv1_pad")->d[1] == 161);
    CHECK(layer_out(m, "Conv1")->d[0] == 81 && layer_out(m, "Conv1")->d[1] == 80);
    CHECK(layer_out(m, "block_1_pad")->d[0] == 83 && layer_out(m, "block_1_pad")->d[1] == 81);
    out_shape_is(m, 1280, 0, 0, 1);
    ic_model_free(m);

    /* Errors. */
    o = opts(0, 31, 224);
    EXPECT_ERR(ic_app_mobilenet_v2(&m, 1.0f, &o), IC_ERR_SHAPE, "at least 32x32");
    CHECK(m == NULL);
    o = opts(0, 0, 0);
    EXPECT_ERR(ic_app_mobilenet_v2(&m, 0.6f, &o), IC_ERR_INVALID, "0.35, 0.5, 0.75, 1.0, 1.3, 1.4");
    o = opts(1, 0, 0);
    o.classes = 0;
    EXPECT_ERR(ic_app_mobilenet_v2(&m, 1.0f, &o), IC_ERR_INVALID, "classes");
}

static void test_resnet50(void)
{
    ic_model *m;
    ic_reset_uids();
    ic_app_opts o = opts(0, 0, 0);
    OK(ic_app_resnet50(&m, &o));
    CHECK(!strcmp(ic_model_name(m), "resnet50"));
    CHECKF(ic_model_count_params(m) == 23587712, "%lld", (long long)ic_model_count_params(m));
    CHECKF(ic_model_num_layers(m) == 175, "%d", ic_model_num_layers(m));
    CHECK(ic_model_num_weights(m) == 318);
    out_shape_is(m, 7, 7, 2048, 3);
    static const char *head[] = {
        "input_1",        "conv1_pad",       "conv1",          "bn_conv1",       "activation_1",
        "pool1_pad",      "max_pooling2d_1", "res2a_branch2a", "bn2a_branch2a",  "activation_2",
        "res2a_branch2b", "bn2a_branch2b",   "activation_3",   "res2a_branch2c", "res2a_branch1",
        "bn2a_branch2c",  "bn2a_branch1",    "add_1",          "activation_4",   "res2b_branch2a"};
    for (int i = 0; i < (int)(sizeof head / sizeof head[0]); i++)
        CHECKF(!strcmp(ic_layer_name(ic_model_layer(m, i)), head[i]), "layer %d: %s, want %s", i,
               ic_layer_name(ic_model_layer(m, i)), head[i]);
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 174)), "activation_49"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 173)), "add_16"));
    CHECK(layer_out(m, "max_pooling2d_1")->d[0] == 56);
    CHECK(layer_out(m, "res3a_branch1")->d[0] == 28);
    ic_model_free(m);

    ic_reset_uids();
    o = opts(1, 0, 0);
    OK(ic_app_resnet50(&m, &o));
    CHECKF(ic_model_count_params(m) == 25636712, "%lld", (long long)ic_model_count_params(m));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 175)), "avg_pool"));
    CHECK(!strcmp(ic_layer_name(ic_model_layer(m, 176)), "fc1000"));
    out_shape_is(m, 1000, 0, 0, 1);
    ic_model_free(m);

    ic_reset_uids();
    o = opts(0, 150, 150);
    o.pooling = IC_POOLING_AVG;
    OK(ic_app_resnet50(&m, &o));
    out_shape_is(m, 2048, 0, 0, 1);
    CHECK(layer_out(m, "activation_49")->d[0] == 5); /* 150->75->38->19->10->5 */
    ic_model_free(m);

    o = opts(0, 224, 20);
    EXPECT_ERR(ic_app_resnet50(&m, &o), IC_ERR_SHAPE, "at least 32x32");
    CHECK(m == NULL);
}

static void test_vgg_and_registry(void)
{
    ic_model *m;
    ic_app_opts o = opts(0, 0, 0);
    OK(ic_app_by_name("vgg19", 0, &o, &m));
    CHECKF(ic_model_count_params(m) == 20024384, "%lld", (long long)ic_model_count_params(m));
    CHECK(!strcmp(ic_model_name(m), "vgg19"));
    ic_model_free(m);
    OK(ic_app_by_name("vgg16", 0, NULL, &m));
    CHECK(ic_model_count_params(m) == 14714688);
    ic_model_free(m);
    OK(ic_app_by_name("mobilenet_v2", 0.35f, NULL, &m));
    CHECK(ic_model_count_params(m) == 410208);
    ic_model_free(m);
    OK(ic_app_by_name("mobilenet_v2", 0, NULL, &m)); /* alpha 0: 1.0 */
    CHECK(!strcmp(ic_model_name(m), "mobilenetv2_1.00_224"));
    ic_model_free(m);
    OK(ic_app_by_name("resnet50", 0, NULL, &m));
    CHECK(!strcmp(ic_model_name(m), "resnet50"));
    ic_model_free(m);
    EXPECT_ERR(ic_app_by_name("xception", 0, NULL, &m), IC_ERR_NOT_FOUND,
               "vgg16, vgg19, mobilenet_v2, resnet50");
    CHECK(m == NULL);
    EXPECT_ERR(ic_app_by_name(NULL, 0, NULL, &m), IC_ERR_NOT_FOUND, "known");
}

static void test_preprocess(void)
{
    /* One RGB pixel (R, G, B) = (10, 128, 255), expected values by hand. */
    float x[3] = {10, 128, 255};
    OK(ic_preprocess_apply(IC_PREPROCESS_CAFFE, x, 1, 3));
    float caffe[3] = {255 - 103.939f, 128 - 116.779f, 10 - 123.68f}; /* B, G, R */
    t_allclose("caffe", x, caffe, 3, 0, 1e-5);

    float y[3] = {10, 128, 255};
    OK(ic_preprocess_apply(IC_PREPROCESS_TF, y, 1, 3));
    float tf[3] = {10 / 127.5f - 1, 128 / 127.5f - 1, 1.0f};
    t_allclose("tf", y, tf, 3, 0, 1e-6);

    float z[3] = {10, 128, 255};
    OK(ic_preprocess_apply(IC_PREPROCESS_TORCH, z, 1, 3));
    float torch[3] = {(10 / 255.f - 0.485f) / 0.229f, (128 / 255.f - 0.456f) / 0.224f,
                      (1.0f - 0.406f) / 0.225f}; /* -1.94654, 0.2052, 2.64 */
    t_allclose("torch", z, torch, 3, 0, 1e-5);
    CHECK(fabsf(z[2] - 2.64f) < 1e-5f);

    float w[3] = {10, 128, 255};
    OK(ic_preprocess_apply(IC_PREPROCESS_NONE, w, 1, 3));
    CHECK(w[0] == 10 && w[1] == 128 && w[2] == 255);
    /* tf works on any channel count; caffe/torch need RGB. */
    float g[2] = {0, 255};
    OK(ic_preprocess_apply(IC_PREPROCESS_TF, g, 2, 1));
    CHECK(g[0] == -1 && g[1] == 1);
    EXPECT_ERR(ic_preprocess_apply(IC_PREPROCESS_CAFFE, g, 2, 1), IC_ERR_SHAPE, "3 channels");
    EXPECT_ERR(ic_preprocess_apply(IC_PREPROCESS_TORCH, g, 2, 1), IC_ERR_SHAPE, "3 channels");
    EXPECT_ERR(ic_preprocess_apply((ic_preprocess)9, g, 2, 1), IC_ERR_INVALID, "mode");

    CHECK(ic_app_preprocess_mode("vgg16") == IC_PREPROCESS_CAFFE);
    CHECK(ic_app_preprocess_mode("vgg19") == IC_PREPROCESS_CAFFE);
    CHECK(ic_app_preprocess_mode("resnet50") == IC_PREPROCESS_CAFFE);
    CHECK(ic_app_preprocess_mode("mobilenet_v2") == IC_PREPROCESS_TF);
    CHECK(ic_app_preprocess_mode("smallcnn") == IC_PREPROCESS_NONE);
    CHECK(ic_app_preprocess_mode(NULL) == IC_PREPROCESS_NONE);
    ic_preprocess p;
    OK(ic_preprocess_parse("torch", &p));
    CHECK(p == IC_PREPROCESS_TORCH);
    OK(ic_preprocess_parse("none", &p));
    CHECK(p == IC_PREPROCESS_NONE);
    OK(ic_preprocess_parse("caffe", &p));
    CHECK(p == IC_PREPROCESS_CAFFE);
    OK(ic_preprocess_parse("tf", &p));
    CHECK(p == IC_PREPROCESS_TF);
    EXPECT_ERR(ic_preprocess_parse("inception", &p), IC_ERR_INVALID, "none, caffe, tf or torch");
    /* the names round-trip through the parser */
    for (int m = IC_PREPROCESS_NONE; m <= IC_PREPROCESS_TORCH; m++) {
        OK(ic_preprocess_parse(ic_preprocess_name((ic_preprocess)m), &p));
        CHECK(p == (ic_preprocess)m);
    }
    CHECK(!strcmp(ic_preprocess_name((ic_preprocess)42), "?"));
}

int main(void)
{
    test_mobilenet_v2();
    test_resnet50();
    test_vgg_and_registry();
    test_preprocess();
    return t_finish();
}
