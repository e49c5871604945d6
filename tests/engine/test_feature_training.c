/* test_feature_training.c - ic_feature_training_init (fit.h): the head trained on features
 * starts as the full model: evaluated on the base's features it gives the loss and accuracy
 * that the full model gives on the raw inputs; the training source reshuffles and covers the
 * features, validation runs in order; after a step of the head, syncing copies its weights
 * into the full model, which then agrees with the head again; the base is taken even when
 * the setup fails, with the classifier's message. */
#include "harness.h"

#define N 10
#define D 6

static ic_model *base_model(void)
{
    ic_model *m;
    OK(ic_model_create(&m, "conv_base", 1));
    int64_t shape[1] = {D};
    int node;
    OK(ic_model_input(m, 1, shape, NULL, &node));
    ADD(m, ic_layer_dense(&l_, 5, IC_ACT_RELU, 1, "feat"));
    ic_model_set_trainable(m, 0);
    return m;
}

static void eval(ic_model *m, const ic_tensor *x, const ic_tensor *y, double *loss, double *acc)
{
    ic_batch_source src;
    OK(ic_batch_source_tensors(&src, x, y, 4, 0, 0));
    OK(ic_model_evaluate(m, &src, 0, loss, acc));
    ic_batch_source_free(&src);
}

int main(void)
{
    ic_set_random_seed(5);
    int64_t xs[2] = {N, D}, ys[2] = {N, 1};
    ic_tensor *x, *y, *feat;
    OK(ic_tensor_create(&x, 2, xs));
    OK(ic_tensor_create(&y, 2, ys));
    for (int i = 0; i < N * D; i++)
        ic_tensor_data(x)[i] = (float)((i * 7) % 11) / 11 - 0.3f;
    for (int i = 0; i < N; i++)
        ic_tensor_data(y)[i] = (float)(i % 2);
    ic_model *base = base_model();
    OK(ic_model_forward(base, x, &feat));

    ic_compile_opts co = ic_compile_opts_default();
    ic_feature_training t;
    OK(ic_feature_training_init(&t, base, 3, 2, &co, feat, y, feat, y, 4, 9));
    ic_model *head = ic_model_head_model(t.head);
    CHECK(ic_model_head_base(t.head) == base);
    CHECK(ic_model_count_params(t.full) == (D * 5 + 5) + (5 * 3 + 3) + (3 + 1));
    CHECK(ic_model_count_params(head) == (5 * 3 + 3) + (3 + 1));
    CHECK(t.train.ops->length(t.train.self) == 3 && t.val.ops->length(t.val.self) == 3);

    /* the head on features is the full model on images */
    double lh, ah, lf, af;
    OK(ic_model_evaluate(head, &t.val, 0, &lh, &ah));
    eval(t.full, x, y, &lf, &af);
    CHECKF(fabs(lh - lf) < 1e-6 && ah == af, "head %g %g, full %g %g", lh, ah, lf, af);

    /* validation in order: its first batch is the first 4 rows */
    const ic_tensor *bx, *by;
    OK(t.val.ops->seek(t.val.self, 0));
    OK(t.val.ops->next(t.val.self, &bx, &by));
    CHECK(ic_tensor_dim(bx, 0) == 4 &&
          !memcmp(ic_tensor_cdata(bx), ic_tensor_cdata(feat), 4 * 5 * sizeof(float)));
    /* training covers every row once per pass, shuffled */
    int seen[N] = {0}, in_order = 1;
    for (int b = 0; b < 3; b++) {
        OK(t.train.ops->next(t.train.self, &bx, &by));
        for (int64_t r = 0; r < ic_tensor_dim(bx, 0); r++)
            for (int i = 0; i < N; i++)
                if (!memcmp(ic_tensor_cdata(bx) + r * 5, ic_tensor_cdata(feat) + i * 5,
                            5 * sizeof(float))) {
                    seen[i]++;
                    in_order &= i == b * 4 + r;
                    break;
                }
    }
    int all = 1;
    for (int i = 0; i < N; i++)
        all &= seen[i] >= 1;
    CHECK(all && !in_order);

    /* a step of the head, then synced into the full model: they agree again */
    OK(t.train.ops->next(t.train.self, &bx, &by));
    double l1, a1;
    OK(ic_model_train_on_batch(head, bx, by, &l1, &a1));
    OK(ic_model_head_sync(t.head, 1));
    OK(ic_model_evaluate(head, &t.val, 0, &lh, &ah));
    eval(t.full, x, y, &lf, &af);
    CHECKF(fabs(lh - lf) < 1e-6, "after a step: head %g, full %g", lh, lf);
    ic_feature_training_free(&t);
    CHECK(t.full == NULL && t.head == NULL && t.train.ops == NULL);

    EXPECT_ERR(ic_feature_training_init(&t, base_model(), 3, 1, &co, feat, y, feat, y, 4, 9),
               IC_ERR_INVALID, "classes >= 2 are required");
    CHECK(t.full == NULL && t.head == NULL);
    EXPECT_ERR(ic_feature_training_init(&t, base_model(), 3, 2, &co, NULL, y, feat, y, 4, 9),
               IC_ERR_INVALID, "NULL base, options, features or labels");
    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_tensor_free(feat);
    return t_finish();
}
