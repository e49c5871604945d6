/* test_summary.c - model.summary() text, parameter and weight-tensor counts for the
 * book's models, and freezing (R freeze_weights / unfreeze_weights semantics).
 * The golden tables were produced by a re-statement of Keras 2.2.4's print_summary
 * (keras/utils/layer_utils.py) at R's default width of 80 columns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *VGG16_150 =
    "________________________________________________________________________________\n"
    "Layer (type)                        Output Shape                    Param #     \n"
    "================================================================================\n"
    "input_1 (InputLayer)                (None, 150, 150, 3)             0           \n"
    "________________________________________________________________________________\n"
    "block1_conv1 (Conv2D)               (None, 150, 150, 64)            1792        \n"
    "________________________________________________________________________________\n"
    "block1_conv2 (Conv2D)               (None, 150, 150, 64)            36928       \n"
    "________________________________________________________________________________\n"
    "block1_pool (MaxPooling2D)          (None, 75, 75, 64)              0           \n"
    "________________________________________________________________________________\n"
    "block2_conv1 (Conv2D)               (None, 75, 75, 128)             73856       \n"
    "________________________________________________________________________________\n"
    "block2_conv2 (Conv2D)               (None, 75, 75, 128)             147584      \n"
    "________________________________________________________________________________\n"
    "block2_pool (MaxPooling2D)          (None, 37, 37, 128)             0           \n"
    "________________________________________________________________________________\n"
    "block3_conv1 (Conv2D)               (None, 37, 37, 256)             295168      \n"
    "________________________________________________________________________________\n"
    "block3_conv2 (Conv2D)               (None, 37, 37, 256)             590080      \n"
    "________________________________________________________________________________\n"
    "block3_conv3 (Conv2D)               (None, 37, 37, 256)             590080      \n"
    "________________________________________________________________________________\n"
    "block3_pool (MaxPooling2D)          (None, 18, 18, 256)             0           \n"
    "________________________________________________________________________________\n"
    "block4_conv1 (Conv2D)               (None, 18, 18, 512)             1180160     \n"
    "________________________________________________________________________________\n"
    "block4_conv2 (Conv2D)               (None, 18, 18, 512)             2359808     \n"
    "________________________________________________________________________________\n"
    "block4_conv3 (Conv2D)               (None, 18, 18, 512)             2359808     \n"
    "________________________________________________________________________________\n"
    "block4_pool (MaxPooling2D)          (None, 9, 9, 512)               0           \n"
    "________________________________________________________________________________\n"
    "block5_conv1 (Conv2D)               (None, 9, 9, 512)               2359808     \n"
    "________________________________________________________________________________\n"
    "block5_conv2 (Conv2D)               (None, 9, 9, 512)               2359808     \n"
    "________________________________________________________________________________\n"
    "block5_conv3 (Conv2D)               (None, 9, 9, 512)               2359808     \n"
    "________________________________________________________________________________\n"
    "block5_pool (MaxPooling2D)          (None, 4, 4, 512)               0           \n"
    "================================================================================\n"
    "Total params: 14,714,688\n"
    "Trainable params: 14,714,688\n"
    "Non-trainable params: 0\n"
    "________________________________________________________________________________\n";

static const char *BOOK_FROZEN =
    "________________________________________________________________________________\n"
    "Layer (type)                        Output Shape                    Param #     \n"
    "================================================================================\n"
    "vgg16 (Model)                       (None, 4, 4, 512)               14714688    \n"
    "________________________________________________________________________________\n"
    "flatten_1 (Flatten)                 (None, 8192)                    0           \n"
    "________________________________________________________________________________\n"
    "dense_1 (Dense)                     (None, 256)                     2097408     \n"
    "________________________________________________________________________________\n"
    "dense_2 (Dense)                     (None, 1)                       257         \n"
    "================================================================================\n"
    "Total params: 16,812,353\n"
    "Trainable params: 2,097,665\n"
    "Non-trainable params: 14,714,688\n"
    "________________________________________________________________________________\n";

static char *summary_text(ic_model *m, int width)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    OK(ic_model_summary(m, fp, width));
    fclose(fp);
    return buf;
}

static void check_text(const char *what, const char *got, const char *want)
{
    CHECKF(!strcmp(got, want), "%s differs; got:\n%s", what, got);
}

static ic_model *book_model(ic_model *base)
{
    ic_model *m;
    ic_layer *l;
    OK(ic_model_create(&m, NULL, 1));
    OK(ic_layer_from_model(&l, base));
    OK(ic_model_add(m, l));
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 256, IC_ACT_RELU, 1, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    OK(ic_model_add(m, l));
    return m;
}

int main(void)
{
    ic_reset_uids();
    ic_app_opts o = ic_app_opts_default();
    o.input_shape[0] = 150, o.input_shape[1] = 150, o.input_shape[2] = 3;
    ic_model *base;
    OK(ic_app_vgg16(&base, &o));
    char *txt = summary_text(base, 0);
    check_text("VGG16 conv base at 150x150x3", txt, VGG16_150);
    free(txt);
    CHECK(ic_model_count_params(base) == 14714688);
    CHECK(ic_model_num_weights(base) == 26);
    CHECK(!strcmp(ic_model_name(base), "vgg16"));
    int64_t shape[4];
    CHECK(ic_model_output_shape(base, shape) == 3 && shape[0] == 4 && shape[1] == 4 &&
          shape[2] == 512);

    ic_model *m = book_model(base);
    CHECK(ic_model_count_params(m) == 16812353);
    CHECK(ic_model_count_trainable_params(m) == 16812353);
    CHECKF(ic_model_num_trainable_weights(m) == 30, "trainable weights %d",
           ic_model_num_trainable_weights(m));
    CHECK(ic_model_num_layers(m) == 4); /* the Sequential hides its InputLayer */

    /* freeze_weights(conv_base) */
    ic_layer *vl = ic_model_get_layer(m, "vgg16");
    CHECK(vl != NULL && !strcmp(ic_layer_class_name(vl), "Model"));
    ic_model_set_trainable(base, 0);
    CHECK(ic_model_num_trainable_weights(m) == 4);
    CHECK(ic_model_count_trainable_params(m) == 2097665);
    txt = summary_text(m, 0);
    check_text("book model, base frozen", txt, BOOK_FROZEN);
    free(txt);
    /* model.weights order: trainable first (the head), then the frozen base. */
    const char *name;
    CHECK(ic_model_weight(m, 0, &name) != NULL && !strcmp(name, "dense_1/kernel:0"));
    CHECK(ic_model_weight(m, 4, &name) != NULL && !strcmp(name, "block1_conv1/kernel:0"));

    /* unfreeze_weights(conv_base, from = "block5_conv1"): 10 tensors, 9,177,089 params */
    OK(ic_model_unfreeze_range(base, "block5_conv1", NULL));
    CHECKF(ic_model_num_trainable_weights(m) == 10, "got %d", ic_model_num_trainable_weights(m));
    CHECK(ic_model_count_trainable_params(m) == 9177089);
    CHECK(!ic_layer_trainable(ic_model_get_layer(base, "block4_conv3")));
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "block5_conv3")));
    /* The book's fine-tuning: from block3_conv1 on. */
    OK(ic_model_unfreeze_range(base, "block3_conv1", NULL));
    CHECK(ic_model_count_trainable_params(m) == 14714688 - 1792 - 36928 - 73856 - 147584 + 2097665);
    /* freeze_weights(from, to) is the mirror */
    OK(ic_model_freeze_range(base, NULL, "block4_pool"));
    CHECK(ic_model_count_trainable_params(m) == 3 * 2359808 + 2097665);

    EXPECT_ERR(ic_model_unfreeze_range(base, "block9_conv1", NULL), IC_ERR_NOT_FOUND,
               "no layer named 'block9_conv1'");
    EXPECT_ERR(ic_model_freeze_range(base, "block5_conv1", "block1_conv1"), IC_ERR_INVALID,
               "comes after");
    ic_model_free(m);

    /* Keras Python's default width (65): columns at 29/55/65. */
    ic_model *small;
    ic_reset_uids();
    OK(ic_app_smallcnn(&small, 150, 150, 3, 0.5f, 2));
    CHECK(ic_model_count_params(small) == 3453121);
    txt = summary_text(small, 65);
    CHECK(strstr(txt, "conv2d_1 (Conv2D)            (None, 148, 148, 32)      896       \n") != NULL);
    CHECK(strstr(txt, "flatten_1 (Flatten)          (None, 6272)              0         \n") != NULL);
    CHECK(strstr(txt, "Total params: 3,453,121\n") != NULL);
    free(txt);
    ic_model_free(small);

    /* Too-small input is refused with the reason. */
    o.input_shape[0] = 16;
    EXPECT_ERR(ic_app_vgg16(&base, &o), IC_ERR_SHAPE, "too small");
    return t_finish();
}
