/* make_model.c - ic_make_model: a fixture for the evaluate/predict CLI tests, built without
 * the train command. Writes OUT/data/{train,test}/<class>/img_NNN.png (32x32 RGB images whose
 * classes differ in brightness: "dark", "light", and "grey" between them with --classes 3),
 * trains a tiny convnet on OUT/data/train for a few steps through the directory iterator
 * and saves OUT/model.h5 with its meta (class names, 32x32 RGB, rescale 1/255), plus
 * OUT/nometa.h5 (the same model without meta) and OUT/weights.h5 (save_weights only).
 *
 * usage: ic_make_model OUT [--classes 2|3] [--train N] [--test N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "imgclass/imgclass.h"

#define SIZE 32

static int fail(const char *what, ic_status s)
{
    fprintf(stderr, "ic_make_model: %s: %s: %s\n", what, ic_status_str(s), ic_errmsg());
    return 1;
}

/* Creates a, a/b and a/b/c (existing ones are fine); the last path goes to out. */
static void mkdirs(const char *a, const char *b, const char *c, char *out, size_t size)
{
    mkdir(a, 0777);
    if (snprintf(out, size, "%s/%s", a, b) < (int)size)
        mkdir(out, 0777);
    if (snprintf(out, size, "%s/%s/%s", a, b, c) < (int)size)
        mkdir(out, 0777);
}

/* Images of class k of K: brightness around (k + 0.5) / K with per-pixel noise. */
static ic_status write_images(const char *dir, int k, int K, int n, unsigned seed)
{
    uint8_t buf[SIZE * SIZE * 3];
    ic_image img = {SIZE, SIZE, 3, buf};
    unsigned long long r = seed * 2654435761ull + 99;
    for (int i = 0; i < n; i++) {
        double base = 255.0 * (k + 0.5) / K;
        for (int p = 0; p < SIZE * SIZE * 3; p++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            double v = base + ((double)(r >> 40) / 16777216.0 - 0.5) * (160.0 / K);
            buf[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        char path[4096];
        if (snprintf(path, sizeof path, "%s/img_%03d.png", dir, i) >= (int)sizeof path)
            return IC_ERR_INVALID;
        ic_status s = ic_image_save_png(&img, path);
        if (s)
            return s;
    }
    return IC_OK;
}

#define ADD(ctor)                                                                          \
    do {                                                                                   \
        ic_layer *l_ = NULL;                                                               \
        if (!s)                                                                            \
            s = (ctor);                                                                    \
        if (!s)                                                                            \
            s = ic_model_add(m, l_);                                                       \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ic_make_model OUT [--classes 2|3] [--train N] [--test N]\n");
        return 2;
    }
    const char *out = argv[1];
    int K = 2, ntrain = 12, ntest = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--classes"))
            K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train"))
            ntrain = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--test"))
            ntest = atoi(argv[i + 1]);
    }
    if (K != 2 && K != 3) {
        fprintf(stderr, "ic_make_model: --classes must be 2 or 3\n");
        return 2;
    }
    const char *names2[] = {"dark", "light"}, *names3[] = {"dark", "grey", "light"};
    const char **names = K == 2 ? names2 : names3;
    char data[4096], dir[4096];
    if (strlen(out) > 2000) {
        fprintf(stderr, "ic_make_model: output path too long\n");
        return 2;
    }
    mkdir(out, 0777);
    snprintf(data, sizeof data, "%s/data", out);
    ic_status s = IC_OK;
    for (int k = 0; k < K && !s; k++) {
        mkdirs(data, "train", names[k], dir, sizeof dir);
        s = write_images(dir, k, K, ntrain, 100u + (unsigned)k);
        mkdirs(data, "test", names[k], dir, sizeof dir);
        if (!s)
            s = write_images(dir, k, K, ntest, 200u + (unsigned)k);
    }
    if (s)
        return fail("writing images", s);

    ic_set_random_seed(7);
    ic_set_num_threads(1); /* tiny tensors: threads only add synchronisation */
    ic_model *m = NULL;
    if ((s = ic_model_create(&m, NULL, 1)))
        return fail("model", s);
    int64_t in[3] = {SIZE, SIZE, 3};
    s = ic_model_input(m, 3, in, NULL, NULL);
    ic_conv2d_opts c = ic_conv2d_opts_default(4, 3, 3);
    c.activation = IC_ACT_RELU;
    ADD(ic_layer_conv2d(&l_, &c));
    ADD(ic_layer_max_pooling2d(&l_, NULL));
    ADD(ic_layer_global_average_pooling2d(&l_, NULL));
    if (K == 2)
        ADD(ic_layer_dense(&l_, 1, IC_ACT_SIGMOID, 1, NULL));
    else
        ADD(ic_layer_dense(&l_, K, IC_ACT_SOFTMAX, 1, NULL));
    ic_compile_opts co = ic_compile_opts_default();
    co.loss = K == 2 ? IC_LOSS_BINARY_CROSSENTROPY : IC_LOSS_CATEGORICAL_CROSSENTROPY;
    co.metric_accuracy = 1;
    co.optimizer.lr = 0.02f;
    if (!s)
        s = ic_model_compile(m, &co);
    if (s) {
        ic_model_free(m);
        return fail("building the model", s);
    }

    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = 1.0f / 255.0f;
    ic_flow_opts fo = ic_flow_opts_default();
    fo.target_h = fo.target_w = SIZE;
    fo.class_mode = K == 2 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    fo.batch_size = 8;
    fo.has_seed = 1;
    fo.seed = 3;
    fo.threads = 1;
    if (snprintf(dir, sizeof dir, "%s/train", data) >= (int)sizeof dir) {
        ic_model_free(m);
        return 2;
    }
    ic_dir_iterator *it = NULL;
    if ((s = ic_flow_from_directory(&it, dir, &g, &fo))) {
        ic_model_free(m);
        return fail("flow_from_directory", s);
    }
    ic_batch_source src = ic_dir_iterator_source(it);
    ic_fit_opts fit = ic_fit_opts_default();
    fit.epochs = 15;
    ic_history *h = NULL;
    s = ic_model_fit(m, &fit, &src, NULL, &h);
    ic_dir_iterator_free(it);
    if (!s && h) {
        int e = ic_history_epochs(h);
        const double *acc = ic_history_metric(h, "acc"), *loss = ic_history_metric(h, "loss");
        printf("trained %d epochs: loss %.4f acc %.4f\n", e, loss ? loss[e - 1] : -1.0,
               acc ? acc[e - 1] : -1.0);
    }
    ic_history_free(h);
    if (s) {
        ic_model_free(m);
        return fail("fit", s);
    }

    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.n_classes = K;
    meta.class_names = (char **)names;
    meta.target_h = meta.target_w = SIZE;
    meta.rescale = 1.0f / 255.0f;
    meta.preprocess = IC_PREPROCESS_NONE;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/model.h5", out) >= (int)sizeof path) {
        ic_model_free(m);
        return 2;
    }
    s = ic_model_save(m, path, &meta, 1);
    /* The same model without meta (as a plain Keras file would be), and its weights only. */
    if (!s && snprintf(path, sizeof path, "%s/nometa.h5", out) < (int)sizeof path)
        s = ic_model_save(m, path, NULL, 0);
    if (!s && snprintf(path, sizeof path, "%s/weights.h5", out) < (int)sizeof path)
        s = ic_model_save_weights(m, path);
    ic_model_free(m);
    if (s)
        return fail("saving the model", s);
    printf("wrote %s/model.h5, nometa.h5, weights.h5 and %s/{train,test}\n", out, data);
    return 0;
}
