/* test_classifier.c - the library's pieces of `imgclass train --base`: ic_app_classifier
 * builds the book's Sequential(base, Flatten, Dense(256, relu), Dense(1, sigmoid)) and its
 * variants (pooled base: no Flatten; units 0: no hidden layer; 3 classes: softmax), the
 * parameter counts Keras prints for them; ic_app_weights_name gives Keras's weight file
 * names; the majority rate of labels and of a directory iterator against counting by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "imgclass/imgclass.h"

static int64_t params(const ic_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < ic_model_num_weights(m); i++)
        n += ic_tensor_numel(ic_model_weight(m, i, NULL));
    return n;
}

/* A stand-in base: Input(4, 4, 8) -> Conv2D(16, 3x3, same) [-> global pooling]. */
static ic_model *small_base(int pooled)
{
    ic_model *b;
    OK(ic_model_create(&b, "base", 1));
    int64_t in[3] = {4, 4, 8};
    OK(ic_model_input(b, 3, in, NULL, NULL));
    ic_conv2d_opts co = ic_conv2d_opts_default(16, 3, 3);
    co.padding = IC_PAD_SAME;
    ic_layer *l;
    OK(ic_layer_conv2d(&l, &co));
    OK(ic_model_add(b, l));
    if (pooled) {
        OK(ic_layer_global_average_pooling2d(&l, NULL));
        OK(ic_model_add(b, l));
    }
    return b;
}

static void check_classes(const ic_model *m, const char *const *want, int n)
{
    CHECK(ic_model_num_layers(m) == n);
    for (int i = 0; i < n && i < ic_model_num_layers(m); i++)
        CHECKF(!strcmp(ic_layer_class_name(ic_model_layer(m, i)), want[i]), "layer %d: %s, want %s",
               i, ic_layer_class_name(ic_model_layer(m, i)), want[i]);
}

static void test_classifier(void)
{
    int64_t base_params = 8 * 9 * 16 + 16, shape[4];
    ic_model *m;
    OK(ic_app_classifier(small_base(0), 256, 2, &m));
    static const char *const book[] = {"Sequential", "Flatten", "Dense", "Dense"};
    check_classes(m, book, 4);
    CHECK(params(m) == base_params + (4 * 4 * 16 + 1) * 256 + 257);
    CHECK(ic_model_output_shape(m, shape) == 1 && shape[0] == 1);
    ic_model_free(m);

    OK(ic_app_classifier(small_base(1), 0, 3, &m));
    static const char *const linear[] = {"Sequential", "Dense"};
    check_classes(m, linear, 2);
    CHECK(params(m) == base_params + 16 * 3 + 3);
    CHECK(ic_model_output_shape(m, shape) == 1 && shape[0] == 3);
    ic_model_free(m);

    EXPECT_ERR(ic_app_classifier(small_base(0), 16, 1, &m), IC_ERR_INVALID, "classes >= 2");
}

static void test_weights_names(void)
{
    char b[96];
    OK(ic_app_weights_name("vgg16", 0, 150, b, sizeof b));
    CHECK(!strcmp(b, "vgg16_notop") && ic_weights_find(b));
    OK(ic_app_weights_name("mobilenet_v2", 0.35f, 160, b, sizeof b));
    CHECK(!strcmp(b, "mobilenet_v2_0.35_160_notop") && ic_weights_find(b));
    OK(ic_app_weights_name("mobilenet_v2", 0, 150, b, sizeof b)); /* alpha 1, rows -> 224 */
    CHECK(!strcmp(b, "mobilenet_v2_1.0_224_notop") && ic_weights_find(b));
    EXPECT_ERR(ic_app_weights_name("mobilenet_v2", 0.6f, 224, b, sizeof b), IC_ERR_NOT_FOUND,
               "alpha 0.6");
    EXPECT_ERR(ic_app_weights_name("smallcnn", 0, 150, b, sizeof b), IC_ERR_NOT_FOUND, "smallcnn");
}

static void test_majority(void)
{
    int64_t s1[2] = {5, 1}, s3[2] = {4, 3};
    ic_tensor *y;
    OK(ic_tensor_create(&y, 2, s1));
    float b[5] = {1, 0, 1, 1, 0};
    memcpy(ic_tensor_data(y), b, sizeof b);
    CHECK(ic_labels_majority_rate(y) == 3.0 / 5);
    ic_tensor_free(y);
    OK(ic_tensor_create(&y, 2, s3));
    float h[12] = {0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0};
    memcpy(ic_tensor_data(y), h, sizeof h);
    CHECK(ic_labels_majority_rate(y) == 0.5);
    ic_tensor_free(y);

    /* a folder of 3 "a" and 5 "b" images */
    char dir[] = "/tmp/ic_test_classifier.XXXXXX", p[128];
    CHECK(mkdtemp(dir) != NULL);
    uint8_t px[4 * 4 * 3] = {0};
    ic_image img = {.data = px, .h = 4, .w = 4, .c = 3};
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, i < 3 ? "a" : "b");
        mkdir(p, 0777);
        snprintf(p, sizeof p, "%s/%s/%d.png", dir, i < 3 ? "a" : "b", i);
        OK(ic_image_save_png(&img, p));
    }
    ic_flow_opts fo = ic_flow_opts_default();
    fo.target_h = fo.target_w = 4;
    ic_dir_iterator *it;
    OK(ic_flow_from_directory(&it, dir, NULL, &fo));
    CHECK(ic_dir_iterator_majority_rate(it) == 5.0 / 8);
    ic_dir_iterator_free(it);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

int main(void)
{
    test_classifier();
    test_weights_names();
    test_majority();
    return t_finish();
}
