/* smallcnn.c - the book's convnet trained from scratch on Dogs vs Cats (Chollet &
 * Allaire, listing 5.x): four 3x3 relu convs (32, 64, 128, 128) each followed by 2x2
 * max pooling, flatten, dropout, dense 512 relu, and a sigmoid (or softmax) output. */
#include "core/core.h"
#include "imgclass/apps.h"

/* Adds the layer a constructor just made (l is NULL when it failed). */
static ic_status add(ic_model *m, ic_status made, ic_layer *l)
{
    return made ? made : ic_model_add(m, l);
}

static ic_status build(ic_model *m, int64_t h, int64_t w, int64_t c, float dropout, int classes)
{
    int64_t shape[3] = {h, w, c};
    ic_status s = ic_model_input(m, 3, shape, NULL, NULL);
    static const int filters[4] = {32, 64, 128, 128};
    ic_layer *l = NULL;
    for (int i = 0; !s && i < 4; i++) {
        ic_conv2d_opts co = ic_conv2d_opts_default(filters[i], 3, 3);
        co.activation = IC_ACT_RELU;
        s = ic_layer_conv2d(&l, &co);
        s = add(m, s, l);
        ic_pool2d_opts po = ic_pool2d_opts_default();
        if (!s) {
            s = ic_layer_max_pooling2d(&l, &po);
            s = add(m, s, l);
        }
    }
    if (!s) {
        s = ic_layer_flatten(&l, NULL);
        s = add(m, s, l);
    }
    if (!s && dropout > 0) {
        s = ic_layer_dropout(&l, dropout, NULL);
        s = add(m, s, l);
    }
    if (!s) {
        s = ic_layer_dense(&l, 512, IC_ACT_RELU, 1, NULL);
        s = add(m, s, l);
    }
    if (!s) {
        s = classes == 2 ? ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL)
                         : ic_layer_dense(&l, classes, IC_ACT_SOFTMAX, 1, NULL);
        s = add(m, s, l);
    }
    return s;
}

ic_status ic_app_smallcnn(ic_model **out, int64_t h, int64_t w, int64_t c, float dropout,
                          int classes)
{
    *out = NULL;
    if (classes < 2)
        return ic_seterr(IC_ERR_INVALID, "smallcnn: classes must be >= 2, got %d", classes);
    ic_model *m;
    ic_status s = ic_model_create(&m, NULL, 1);
    if (s)
        return s;
    if ((s = build(m, h, w, c, dropout, classes))) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}
