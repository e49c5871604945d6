/* classifier.c - the classifier put on a pretrained base (the book's feature extraction
 * model: Sequential(conv_base, Flatten, Dense(256, relu), Dense(1, sigmoid))), and the
 * names of Keras's ImageNet weight files for a base, so that a C program builds the same
 * model `imgclass train --base` builds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "imgclass/apps.h"
#include "imgclass/layer.h"

static ic_status add_head(ic_model *m, int units, int classes)
{
    int64_t shape[IC_MAX_DIMS];
    ic_layer *l;
    ic_status s = IC_OK;
    /* per-sample shape: a pooled base already gives a vector */
    if (ic_model_output_shape(m, shape) > 1 && !(s = ic_layer_flatten(&l, NULL)))
        s = ic_model_add(m, l);
    if (!s && units > 0 && !(s = ic_layer_dense(&l, units, IC_ACT_RELU, 1, NULL)))
        s = ic_model_add(m, l);
    if (!s) {
        s = classes > 2 ? ic_layer_dense(&l, classes, IC_ACT_SOFTMAX, 1, NULL)
                        : ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL);
        if (!s)
            s = ic_model_add(m, l);
    }
    return s;
}

ic_status ic_app_classifier(ic_model *base, int units, int classes, ic_model **out)
{
    if (!base || !out || units < 0 || classes < 2) {
        ic_model_free(base);
        return ic_seterr(IC_ERR_INVALID,
                         "ic_app_classifier: a base, units >= 0 and classes >= 2 are required");
    }
    ic_model *m;
    ic_status s = ic_model_create(&m, NULL, 1);
    if (s) {
        ic_model_free(base);
        return s;
    }
    ic_layer *l;
    if ((s = ic_layer_from_model(&l, base))) {
        ic_model_free(base);
        ic_model_free(m);
        return s;
    }
    if (!(s = ic_model_add(m, l)))
        s = add_head(m, units, classes);
    if (s) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}

ic_status ic_app_weights_name(const char *app, float alpha, int64_t rows, char *buf, size_t size)
{
    if (!app || !buf || !size)
        return ic_seterr(IC_ERR_INVALID, "ic_app_weights_name: app and buf are required");
    if (strcmp(app, "mobilenet_v2")) {
        if (strcmp(app, "vgg16") && strcmp(app, "vgg19") && strcmp(app, "resnet50"))
            return ic_seterr(IC_ERR_NOT_FOUND, "no ImageNet weights known for %s", app);
        snprintf(buf, size, "%s_notop", app);
        return IC_OK;
    }
    static const struct {
        double a;
        const char *s;
    } alphas[] = {{0.35, "0.35"}, {0.5, "0.5"}, {0.75, "0.75"},
                  {1.0, "1.0"},   {1.3, "1.3"}, {1.4, "1.4"}};
    const char *as = NULL;
    double a = alpha > 0 ? alpha : 1.0;
    for (size_t i = 0; i < sizeof alphas / sizeof alphas[0]; i++)
        if (fabs(alphas[i].a - a) < 1e-6)
            as = alphas[i].s;
    if (!as)
        return ic_seterr(IC_ERR_NOT_FOUND,
                         "no ImageNet weights known for mobilenet_v2 (alpha %g; Keras has 0.35, "
                         "0.5, 0.75, 1.0, 1.3 and 1.4)",
                         a);
    /* keras.applications: rows other than 96/128/160/192/224 load the 224 weights */
    int64_t r = rows;
    if (r != 96 && r != 128 && r != 160 && r != 192 && r != 224)
        r = 224;
    snprintf(buf, size, "mobilenet_v2_%s_%lld_notop", as, (long long)r);
    return IC_OK;
}
