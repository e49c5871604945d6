/* test_fit_faults.c - fault injection on the training path: fail the Nth allocation of
 * build + compile + fit (with validation, Adam amsgrad) + evaluate + train_on_batch for
 * every N until the run completes. Every call must return IC_OK or IC_ERR_NOMEM, never
 * crash, and (under AddressSanitizer) nothing may leak. Runs on both backends. */
#include "harness.h"

static long g_count, g_fail_at;

static void *f_malloc(size_t n, void *u)
{
    if (++g_count == g_fail_at)
        return NULL;
    return malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    if (++g_count == g_fail_at)
        return NULL;
    return realloc(p, n);
}
static void f_free(void *p, void *u)
{
    free(p);
}

static int bad_status;

#define STEP(call)                                                                                 \
    do {                                                                                           \
        s = (call);                                                                                \
        if (s) {                                                                                   \
            if (s != IC_ERR_NOMEM) {                                                               \
                bad_status++;                                                                      \
                fprintf(stderr, "fail_at %ld: %s: %s: %s\n", g_fail_at, #call, ic_status_str(s),   \
                        ic_errmsg());                                                              \
            }                                                                                      \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static ic_status scenario(const float *x, const float *y)
{
    ic_status s = IC_OK;
    ic_tensor *tx = NULL, *ty = NULL;
    ic_model *m = NULL;
    ic_batch_source src = {0}, val = {0};
    ic_history *h = NULL;
    ic_layer *l;
    int64_t xs[2] = {20, 2}, ys[2] = {20, 1}, in[1] = {2};
    STEP(ic_tensor_create(&tx, 2, xs));
    STEP(ic_tensor_create(&ty, 2, ys));
    memcpy(ic_tensor_data(tx), x, 40 * sizeof(float));
    memcpy(ic_tensor_data(ty), y, 20 * sizeof(float));
    STEP(ic_model_create(&m, "faults", 1));
    STEP(ic_model_input(m, 1, in, NULL, NULL));
    STEP(ic_layer_dense(&l, 8, IC_ACT_RELU, 1, NULL));
    STEP(ic_model_add(m, l));
    STEP(ic_layer_dropout(&l, 0.2f, NULL));
    STEP(ic_model_add(m, l));
    STEP(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    STEP(ic_model_add(m, l));
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer = ic_optimizer_opts_default(IC_OPT_ADAM);
    c.optimizer.amsgrad = 1;
    STEP(ic_model_compile(m, &c));
    STEP(ic_batch_source_tensors(&src, tx, ty, 8, 1, 3));
    STEP(ic_batch_source_tensors(&val, tx, ty, 6, 0, 0));
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 2;
    s = ic_model_fit(m, &fo, &src, &val, &h);
    ic_history_free(h); /* handed back also on failure */
    h = NULL;
    STEP(s);
    double loss, acc;
    STEP(ic_model_evaluate(m, &val, 0, &loss, &acc));
    STEP(ic_model_train_on_batch(m, tx, ty, &loss, &acc));
    c.optimizer = ic_optimizer_opts_default(IC_OPT_SGD);
    c.optimizer.momentum = 0.9f;
    STEP(ic_model_compile(m, &c));
    STEP(ic_model_train_on_batch(m, tx, ty, &loss, &acc));
done:
    ic_history_free(h);
    ic_batch_source_free(&val);
    ic_batch_source_free(&src);
    ic_model_free(m);
    ic_tensor_free(tx);
    ic_tensor_free(ty);
    return s;
}

int main(void)
{
    float x[40], y[20];
    t_fill_uniform(x, 40, 3, -1, 1);
    for (int i = 0; i < 20; i++)
        y[i] = x[2 * i] * x[2 * i + 1] > 0;
    const char *backends[2] = {"ref", "cpu"};
    for (int b = 0; b < 2; b++) {
        OK(ic_set_backend(backends[b]));
        ic_alloc_hooks hk = {f_malloc, f_realloc, f_free, NULL};
        long n;
        int done = 0;
        for (n = 1; n < 20000 && !done; n++) {
            g_count = 0;
            g_fail_at = n;
            ic_set_alloc_hooks(&hk);
            ic_status s = scenario(x, y);
            ic_set_alloc_hooks(NULL);
            if (g_count < n) { /* the run never reached the failure: complete */
                CHECKF(s == IC_OK, "clean run failed: %s: %s", ic_status_str(s), ic_errmsg());
                done = 1;
            }
        }
        CHECK(done);
        printf("%s: %ld allocation failure points survived\n", backends[b], n - 2);
    }
    CHECK(bad_status == 0);
    return t_finish();
}
