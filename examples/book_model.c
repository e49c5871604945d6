/* book_model.c - the feature-extraction model of the book (Chollet & Allaire, "Image
 * Classification on Small Datasets with Keras") through the C API: VGG16's convolutional
 * base (random weights here; load ImageNet weights with ic_model_load_weights), frozen,
 * under a small dense head; one training step on an in-memory batch. Built by
 * `make build` and run by the tests, so it stays correct.
 *
 *   cc book_model.c $(pkg-config --cflags --libs imgclass) -o book_model
 */
#include <stdio.h>

#include <imgclass/imgclass.h>

#define TRY(call)                                                                          \
    do {                                                                                   \
        ic_status s_ = (call);                                                             \
        if (s_ != IC_OK) {                                                                 \
            fprintf(stderr, "%s: %s\n", #call, ic_errmsg());                               \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

int main(void)
{
    /* conv_base <- application_vgg16(include_top = FALSE, input_shape = c(150, 150, 3)) */
    ic_app_opts o = ic_app_opts_default();
    o.input_shape[0] = 150, o.input_shape[1] = 150, o.input_shape[2] = 3;
    ic_model *base;
    TRY(ic_app_vgg16(&base, &o));

    /* model <- keras_model_sequential() %>% conv_base %>% layer_flatten() %>%
     *   layer_dense(256, "relu") %>% layer_dense(1, "sigmoid") */
    ic_model *model;
    ic_layer *l;
    TRY(ic_model_create(&model, NULL, 1));
    TRY(ic_layer_from_model(&l, base)); /* the model now owns base */
    TRY(ic_model_add(model, l));
    TRY(ic_layer_flatten(&l, NULL));
    TRY(ic_model_add(model, l));
    TRY(ic_layer_dense(&l, 256, IC_ACT_RELU, 1, NULL));
    TRY(ic_model_add(model, l));
    TRY(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    TRY(ic_model_add(model, l));

    /* freeze_weights(conv_base); compile(optimizer_rmsprop(lr = 2e-5), binary_crossentropy) */
    ic_model_set_trainable(base, 0);
    printf("trainable weight tensors: %d\n", ic_model_num_trainable_weights(model));
    TRY(ic_model_summary(model, stdout, 0));
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer.lr = 2e-5f;
    TRY(ic_model_compile(model, &c));

    /* One step on two images (use ic_flow_from_directory for real photos). */
    int64_t xs[4] = {2, 150, 150, 3}, ys[2] = {2, 1};
    ic_tensor *x, *y;
    TRY(ic_tensor_create(&x, 4, xs));
    TRY(ic_tensor_create(&y, 2, ys));
    float *px = ic_tensor_data(x);
    for (int64_t i = 0; i < ic_tensor_numel(x); i++)
        px[i] = (float)((i * 7919) % 256) / 255.0f;
    ic_tensor_data(y)[1] = 1.0f;
    double loss, acc;
    TRY(ic_model_train_on_batch(model, x, y, &loss, &acc));
    printf("one step: loss %.4f acc %.2f\n", loss, acc);

    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_model_free(model); /* frees the nested base too */
    return 0;
}
