/* feature_training.c - ic_feature_training_init (fit.h): what training a head on stored
 * features needs besides the features. The full model is built first (it takes the base)
 * and the head is rebuilt from it with the same layer names and copied weights, so that
 * training on features starts exactly where training through the frozen base would. */
#include <string.h>

#include "engine_impl.h"
#include "imgclass/apps.h"

void ic_feature_training_free(ic_feature_training *t)
{
    if (!t)
        return;
    ic_batch_source_free(&t->train);
    ic_batch_source_free(&t->val);
    ic_model_head_free(t->head);
    ic_model_free(t->full);
    memset(t, 0, sizeof *t);
}

ic_status ic_feature_training_init(ic_feature_training *t, ic_model *base, int units, int classes,
                                   const ic_compile_opts *co, const ic_tensor *train_features,
                                   const ic_tensor *train_labels, const ic_tensor *val_features,
                                   const ic_tensor *val_labels, int64_t batch_size,
                                   uint64_t seed)
{
    if (!t) {
        ic_model_free(base);
        return ic_seterr(IC_ERR_INVALID, "ic_feature_training_init: t is NULL");
    }
    memset(t, 0, sizeof *t);
    if (!base || !co || !train_features || !train_labels || !val_features || !val_labels) {
        ic_model_free(base);
        return ic_seterr(IC_ERR_INVALID,
                         "ic_feature_training_init: NULL base, options, features or labels");
    }
    ic_status s = ic_app_classifier(base, units, classes, &t->full);
    if (!s)
        s = ic_model_head_create(t->full, &t->head);
    if (!s)
        s = ic_model_compile(ic_model_head_model(t->head), co);
    if (!s)
        s = ic_model_compile(t->full, co);
    if (!s)
        s = ic_model_head_sync(t->head, 0);
    if (!s)
        s = ic_batch_source_tensors(&t->train, train_features, train_labels, batch_size, 1, seed);
    if (!s)
        s = ic_batch_source_tensors(&t->val, val_features, val_labels, batch_size, 0, 0);
    if (s)
        ic_feature_training_free(t);
    return s;
}
