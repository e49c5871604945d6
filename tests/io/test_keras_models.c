/* test_keras_models.c - models saved by Keras itself: ic_keras_model_load on the
 * fixtures of tests/fixtures/keras (written by make_fixtures.py in each Keras version's
 * encoding, expected outputs from an independent numpy forward pass):
 *   k20_seq      Keras 2.0.6 Sequential as a plain list, fixed-length strings
 *   k224_seq     Keras 2.2.4 Sequential {"name", "layers"}: ZeroPadding2D, DepthwiseConv2D,
 *                BatchNormalization, ReLU(6), tanh Conv2D, GlobalMaxPooling2D
 *   tf210_func   tf.keras 2.10 Functional: residual Add, BN axis [3], Concatenate;
 *                variable-length strings, no InputLayer in layer_names, groups in
 *                another order, top_level_model_weights, optimizer_weights
 *   k3_func      Keras 3: __keras_tensor__ inbound nodes, batch_shape, DTypePolicy,
 *                weight paths without ':0'
 *   wonly        model.to_json() + a weights-only file (one sigmoid unit)
 *   cf_k224 / cf_k20  channels_first models converted at load time (Keras 2.2's Flatten
 *                moves channels last; Keras 2.0's flattens C, H, W: Dense rows permuted)
 * Outputs must match within relative 1e-5, on both backends; parameter totals match
 * Keras's; the malformed and unsupported files give errors naming layer, class and file. */
#include <stdint.h>

#include "graph/graph.h"
#include "harness.h"
#include "io/io_impl.h"

#define FX IC_SOURCE_DIR "/tests/fixtures/keras/"

typedef struct expected {
    int n, h, w, c, k;
    long total, trainable;
    float *x, *y;
} expected;

static int read_expected(const char *name, expected *e)
{
    char path[512];
    snprintf(path, sizeof path, FX "%s.expected.txt", name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    int ok = fscanf(fp, "%d %d %d %d %d %ld %ld", &e->n, &e->h, &e->w, &e->c, &e->k, &e->total,
                    &e->trainable) == 7;
    long nx = (long)e->n * e->h * e->w * e->c, ny = (long)e->n * e->k;
    e->x = ok ? malloc((size_t)nx * sizeof(float)) : NULL;
    e->y = ok ? malloc((size_t)ny * sizeof(float)) : NULL;
    for (long i = 0; ok && i < nx; i++)
        ok = fscanf(fp, "%f", &e->x[i]) == 1;
    for (long i = 0; ok && i < ny; i++)
        ok = fscanf(fp, "%f", &e->y[i]) == 1;
    fclose(fp);
    return ok;
}

static void check_model(const char *name, const char *file, const char *json)
{
    char path[512], jpath[512];
    snprintf(path, sizeof path, FX "%s", file);
    if (json)
        snprintf(jpath, sizeof jpath, FX "%s", json);
    expected e = {0};
    CHECKF(read_expected(name, &e), "%s: cannot read the expected outputs", name);
    ic_model *m = NULL;
    ic_status s = ic_keras_model_load(&m, path, json ? jpath : NULL);
    CHECKF(s == IC_OK, "%s: %s", name, ic_errmsg());
    if (s || !e.x) {
        free(e.x);
        free(e.y);
        ic_model_free(m);
        return;
    }
    int64_t in[IC_MAX_DIMS], out[IC_MAX_DIMS];
    CHECK(ic_model_input_shape(m, in) == 3);
    CHECKF(in[0] == e.h && in[1] == e.w && in[2] == e.c, "%s: input %lld %lld %lld", name,
           (long long)in[0], (long long)in[1], (long long)in[2]);
    CHECK(ic_model_output_shape(m, out) == 1 && out[0] == e.k);
    CHECKF(ic_model_count_params(m) == e.total, "%s: %lld params, Keras %ld", name,
           (long long)ic_model_count_params(m), e.total);
    CHECKF(ic_model_count_trainable_params(m) == e.trainable, "%s: %lld trainable, Keras %ld",
           name, (long long)ic_model_count_trainable_params(m), e.trainable);
    FILE *tmp = tmpfile();
    CHECK(tmp && ic_model_summary(m, tmp, 0) == IC_OK);
    if (tmp)
        fclose(tmp);
    const char *backends[] = {"cpu", "ref"};
    for (int b = 0; b < 2; b++) {
        OK(ic_set_backend(backends[b]));
        int64_t shape[4] = {e.n, e.h, e.w, e.c};
        ic_tensor *x = NULL, *y = NULL;
        OK(ic_tensor_create(&x, 4, shape));
        memcpy(ic_tensor_data(x), e.x, (size_t)(e.n * e.h * e.w * e.c) * sizeof(float));
        s = ic_model_forward(m, x, &y);
        CHECKF(s == IC_OK, "%s: forward: %s", name, ic_errmsg());
        if (!s) {
            char what[128];
            snprintf(what, sizeof what, "%s (%s backend)", name, backends[b]);
            t_allclose(what, ic_tensor_cdata(y), e.y, (long)e.n * e.k, 1e-5, 1e-7);
        }
        ic_tensor_free(x);
        ic_tensor_free(y);
    }
    OK(ic_set_backend("cpu"));
    ic_model_free(m);
    free(e.x);
    free(e.y);
}

static void expect_load_err(const char *file, const char *json, ic_status st, const char *a,
                            const char *b, const char *c)
{
    char path[512], jpath[512];
    snprintf(path, sizeof path, FX "%s", file);
    if (json)
        snprintf(jpath, sizeof jpath, FX "%s", json);
    ic_model *m = (ic_model *)1;
    ic_clear_error();
    ic_status s = ic_keras_model_load(&m, path, json ? jpath : NULL);
    const char *msg = ic_errmsg();
    CHECKF(s == st && m == NULL, "%s/%s: got %s: %s", file, json ? json : "-", ic_status_str(s),
           msg);
    CHECKF(strstr(msg, a) && (!b || strstr(msg, b)) && (!c || strstr(msg, c)),
           "%s/%s: message lacks '%s' / '%s' / '%s': %s", file, json ? json : "-", a,
           b ? b : "", c ? c : "", msg);
    if (s == IC_OK)
        ic_model_free(m);
}

int main(void)
{
    check_model("k20_seq", "k20_seq.h5", NULL);
    check_model("k224_seq", "k224_seq.h5", NULL);
    check_model("tf210_func", "tf210_func.h5", NULL);
    check_model("k3_func", "k3_func.h5", NULL);
    check_model("wonly", "wonly_weights.h5", "wonly.json");
    check_model("cf_k224", "cf_k224.h5", NULL);
    check_model("cf_k20", "cf_k20.h5", NULL);

    /* The conversion is exact: both channels_first files hold the same kind of model. */
    int k = -1;
    OK(ic_model_file_is_keras(FX "k224_seq.h5", &k));
    CHECK(k == 1);
    OK(ic_model_file_is_keras(FX "wonly_weights.h5", &k));
    CHECK(k == 0);
    EXPECT_ERR(ic_model_file_is_keras(FX "nope.h5", &k), IC_ERR_NOT_FOUND, "nope.h5");

    /* Unsupported and malformed. */
    expect_load_err("bad_lstm.h5", NULL, IC_ERR_UNSUPPORTED, "lstm_1", "'LSTM'", "bad_lstm.h5");
    expect_load_err("wonly_weights.h5", "bad_missing_inbound.json", IC_ERR_FORMAT,
                    "no_such_layer", "dense_1", "bad_missing_inbound.json");
    expect_load_err("wonly_weights.h5", "bad_kernel_size.json", IC_ERR_FORMAT, "kernel_size",
                    "conv2d", "bad_kernel_size.json");
    expect_load_err("wonly_weights.h5", "bad_channels_first.json", IC_ERR_UNSUPPORTED,
                    "lstm_1", "channels_first", "BatchNormalization");
    expect_load_err("wonly_weights.h5", NULL, IC_ERR_FORMAT, "weights-only", "wonly_weights.h5",
                    NULL);
    /* Architecture and weights of different models: a layer finds no weights. */
    expect_load_err("k20_seq.h5", "wonly.json", IC_ERR_FORMAT, "conv2d", "has no weights",
                    "k20_seq.h5");
    expect_load_err("missing.h5", "wonly.json", IC_ERR_NOT_FOUND, "missing.h5", NULL, NULL);
    expect_load_err("wonly_weights.h5", "missing.json", IC_ERR_NOT_FOUND, "missing.json", NULL,
                    NULL);
    return t_finish();
}
