/* test_smallcnn.c - the book's small convnet (cats vs dogs from scratch), built layer by
 * layer: 3,453,121 parameters; forward and backward run on the cpu backend, and the
 * training loss of a fixed batch of 4 random 150x150x3 images falls over 10 RMSprop
 * steps at lr 1e-4 (binary cross-entropy, as the book compiles it). */
#include <time.h>

#include "harness.h"

#define B 4
static const float labels[B] = {0, 1, 0, 1};
#ifndef NSTEPS
#define NSTEPS 10
#endif


static ic_model *small_convnet(void)
{
    ic_model *m;
    OK(ic_model_create(&m, NULL, 1));
    int64_t in[3] = {150, 150, 3};
    OK(ic_model_input(m, 3, in, NULL, NULL));
    const int filters[4] = {32, 64, 128, 128};
    for (int i = 0; i < 4; i++) {
        ic_conv2d_opts c = ic_conv2d_opts_default(filters[i], 3, 3);
        c.activation = IC_ACT_RELU;
        ADD(m, ic_layer_conv2d(&l_, &c));
        ic_pool2d_opts p = ic_pool2d_opts_default();
        ADD(m, ic_layer_max_pooling2d(&l_, &p));
    }
    ADD(m, ic_layer_flatten(&l_, NULL));
    ADD(m, ic_layer_dropout(&l_, 0.5f, NULL));
    ADD(m, ic_layer_dense(&l_, 512, IC_ACT_RELU, 1, NULL));
    ADD(m, ic_layer_dense(&l_, 1, IC_ACT_SIGMOID, 1, NULL));
    return m;
}

int main(void)
{
    OK(ic_set_backend("cpu"));
    ic_set_random_seed(1337);
    ic_model *m = small_convnet();
    CHECKF(ic_model_count_params(m) == 3453121, "params %lld", (long long)ic_model_count_params(m));
    CHECK(ic_model_count_trainable_params(m) == 3453121);
    CHECK(ic_model_num_layers(m) == 12);

    int64_t xs[4] = {B, 150, 150, 3}, ys[2] = {B, 1};
    ic_tensor *x, *y;
    OK(ic_tensor_create(&x, 4, xs));
    OK(ic_tensor_create(&y, 2, ys));
    t_fill_uniform(ic_tensor_data(x), ic_tensor_numel(x), 11, 0.0f, 1.0f);
    memcpy(ic_tensor_data(y), labels, sizeof labels);

    ic_tensor *p;
    OK(ic_model_forward(m, x, &p));
    CHECK(ic_tensor_ndim(p) == 2 && ic_tensor_dim(p, 0) == B && ic_tensor_dim(p, 1) == 1);
    double before = 0; /* inference loss of the initial weights */
    for (int i = 0; i < B; i++) {
        double pi = ic_tensor_cdata(p)[i];
        CHECK(pi > 0 && pi < 1);
        before -= (labels[i] * log(pi) + (1 - labels[i]) * log(1 - pi)) / B;
    }
    ic_tensor_free(p);

    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer.lr = 1e-4f;
    OK(ic_model_compile(m, &c));
    double loss[NSTEPS], acc;
    clock_t t0 = clock();
    for (int s = 0; s < NSTEPS; s++)
        OK(ic_model_train_on_batch(m, x, y, &loss[s], &acc));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("loss per step:");
    for (int s = 0; s < NSTEPS; s++)
        printf(" %.4f", loss[s]);
    printf("\n(%d steps, %.1f s CPU time)\n", NSTEPS, secs);
    for (int s = 0; s < 10; s++)
        CHECK(isfinite(loss[s]));
    /* Dropout 0.5 makes single training losses noisy (Keras's are too): compare the
     * means of the first and last three steps, and the inference loss (no dropout)
     * before and after. Seen here: 0.696 -> 0.678 and 0.691 -> 0.653; without the
     * dropout the training loss falls 0.691 -> 0.579 over the same 10 steps. */
    double first3 = (loss[0] + loss[1] + loss[2]) / 3;
    double last3 = (loss[NSTEPS - 3] + loss[NSTEPS - 2] + loss[NSTEPS - 1]) / 3;
    CHECKF(last3 < first3, "training loss mean %g -> %g", first3, last3);
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, x, y, B, 0, 0));
    double el, ea;
    OK(ic_model_evaluate(m, &src, 1, &el, &ea));
    printf("inference loss before %.4f, after %d steps %.4f (acc %.2f)\n", before, NSTEPS, el, ea);
    CHECKF(el < before - 0.02, "inference loss %g -> %g", before, el);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(x);
    ic_tensor_free(y);
    return t_finish();
}
