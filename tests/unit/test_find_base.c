/* test_find_base.c - the transfer-learning helpers of model.h: ic_model_find_base (the first
 * nested model, or the one named; errors for a missing layer, a layer that is not a model
 * and a model without a base) and ic_model_freeze_batchnorm (after an unfreeze, only the
 * trainable BN layers are frozen, the others keep their flags; freeze 0 only counts). */
#include "harness.h"

/* input (8) -> dense d1 -> BN bn1 -> dense d2 -> BN bn2 */
static ic_model *base_model(const char *name)
{
    ic_model *m;
    OK(ic_model_create(&m, name, 1));
    int64_t shape[1] = {8};
    int node;
    OK(ic_model_input(m, 1, shape, NULL, &node));
    ADD(m, ic_layer_dense(&l_, 4, IC_ACT_RELU, 1, "d1"));
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.name = "bn1";
    ADD(m, ic_layer_batch_normalization(&l_, &bo));
    ADD(m, ic_layer_dense(&l_, 4, IC_ACT_RELU, 1, "d2"));
    bo.name = "bn2";
    ADD(m, ic_layer_batch_normalization(&l_, &bo));
    return m;
}

int main(void)
{
    ic_model *outer, *base = base_model("conv_base"), *found;
    OK(ic_model_create(&outer, "outer", 1));
    int64_t shape[1] = {8};
    int node;
    OK(ic_model_input(outer, 1, shape, NULL, &node));
    ADD(outer, ic_layer_from_model(&l_, base));
    ADD(outer, ic_layer_dense(&l_, 1, IC_ACT_SIGMOID, 1, "head"));

    OK(ic_model_find_base(outer, NULL, &found));
    CHECK(found == base);
    OK(ic_model_find_base(outer, "conv_base", &found));
    CHECK(found == base);
    EXPECT_ERR(ic_model_find_base(outer, "nope", &found), IC_ERR_NOT_FOUND,
               "model 'outer' has no layer 'nope'");
    CHECK(found == NULL);
    EXPECT_ERR(ic_model_find_base(outer, "head", &found), IC_ERR_INVALID,
               "layer 'head' is a Dense, not a nested model");
    EXPECT_ERR(ic_model_find_base(base, NULL, &found), IC_ERR_NOT_FOUND,
               "model 'conv_base' has no nested base model");
    EXPECT_ERR(ic_model_find_base(NULL, NULL, &found), IC_ERR_INVALID, "NULL model");

    /* unfrozen from d2 on: bn2 is trainable, bn1 frozen already */
    OK(ic_model_unfreeze_range(base, "d2", NULL));
    int n_bn = -1;
    CHECK(ic_model_freeze_batchnorm(base, 0, &n_bn) == 0 && n_bn == 2);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "bn2")) == 1);
    CHECK(ic_model_freeze_batchnorm(base, 1, &n_bn) == 1 && n_bn == 2);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "bn2")) == 0);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "bn1")) == 0);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "d2")) == 1);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "d1")) == 0);
    /* all unfrozen: both BN layers frozen again, the dense layers stay trainable */
    OK(ic_model_unfreeze_range(base, NULL, NULL));
    CHECK(ic_model_freeze_batchnorm(base, 1, NULL) == 2);
    CHECK(ic_layer_trainable(ic_model_get_layer(base, "d1")) == 1);
    CHECK(ic_model_count_trainable_params(base) == 8 * 4 + 4 + 4 * 4 + 4);
    /* the outer model's layers hold no BN of their own */
    CHECK(ic_model_freeze_batchnorm(outer, 1, &n_bn) == 0 && n_bn == 0);
    ic_model_free(outer);
    return t_finish();
}
