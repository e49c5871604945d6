/* head.c - the classifier put on a pretrained base by `imgclass train --base` and shown
 * by `imgclass summary --base`: the seed's Flatten + Dense(256, relu) + output, or, with
 * the base's pooling (--pooling avg), the features as a vector and an optional hidden
 * layer (--head 0: none). */
#include <string.h>

#include "cli.h"

int ic_cli_pooling_arg(const char *cmd, const char *v, ic_pooling *out)
{
    if (v && !strcmp(v, "avg"))
        *out = IC_POOLING_AVG;
    else if (v && !strcmp(v, "max"))
        *out = IC_POOLING_MAX;
    else if (v && !strcmp(v, "none"))
        *out = IC_POOLING_NONE;
    else
        return ic_cli_usage_error(cmd, "--pooling must be none, avg or max, got '%s'",
                                  v ? v : "nothing");
    return 0;
}

static ic_status add_head(ic_model *m, long units, int classes)
{
    int64_t shape[IC_MAX_DIMS];
    ic_layer *l;
    ic_status s = IC_OK;
    /* per-sample shape: a pooled base already gives a vector */
    if (ic_model_output_shape(m, shape) > 1 &&
        !(s = ic_layer_flatten(&l, NULL)))
        s = ic_model_add(m, l);
    if (!s && units > 0 &&
        !(s = ic_layer_dense(&l, (int)units, IC_ACT_RELU, 1, NULL)))
        s = ic_model_add(m, l);
    if (!s) {
        s = classes > 2 ? ic_layer_dense(&l, classes, IC_ACT_SOFTMAX, 1, NULL)
                        : ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL);
        if (!s)
            s = ic_model_add(m, l);
    }
    return s;
}

ic_status ic_cli_stack_head(ic_model *base, long units, int classes, ic_model **out)
{
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
