/* head.c - a model's head as a model of its own (fit.h: ic_model_head).
 *
 * The layers are rebuilt from the model's own config (io/model_config_write.c writes it,
 * io/model_config.c reads a layer back through the public constructors), so any head the
 * library can load works: the one `imgclass train --base` adds, or a Keras Sequential
 * model's, with a Dropout or a pooling layer in it. Copying by weight name rather than by
 * position, because model.weights lists trainable weights first (Keras's order), so a
 * frozen base's weights come after the head's. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "engine_impl.h"
#include "io/io_impl.h"

struct ic_model_head {
    ic_model *model; /* the head (owned; not compiled) */
    ic_model *base;  /* the model's nested base (borrowed) */
    ic_model *owner; /* the model (borrowed) */
    int n;           /* the head's weights: weight i is the owner's weight mi[i] */
    int *mi;
};

void ic_model_head_free(ic_model_head *h)
{
    if (!h)
        return;
    ic_model_free(h->model);
    free(h->mi);
    free(h);
}

ic_model *ic_model_head_model(const ic_model_head *h) { return h ? h->model : NULL; }
ic_model *ic_model_head_base(const ic_model_head *h) { return h ? h->base : NULL; }

/* Adds the layers of m's Sequential config after the first (the base) to head. */
static ic_status add_layers(ic_model *m, ic_model *head)
{
    char *json = NULL;
    ic_status s = ic__model_to_config(m, &json);
    if (s)
        return s;
    cJSON *root = cJSON_Parse(json);
    ic__free(json);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
    if (!root)
        s = ic_seterr(IC_ERR_NOMEM, "out of memory reading the model config");
    else if (!cJSON_IsString(cls) || strcmp(cls->valuestring, "Sequential"))
        s = ic_seterr(IC_ERR_UNSUPPORTED, "model '%s' is not Sequential", ic_model_name(m));
    else if (cJSON_GetArraySize(layers) != ic_model_num_layers(m))
        s = ic_seterr(IC_ERR_INTERNAL, "model '%s': its config lists %d layers, the model %d",
                      ic_model_name(m), cJSON_GetArraySize(layers), ic_model_num_layers(m));
    for (int i = 1; !s && i < cJSON_GetArraySize(layers); i++) {
        const cJSON *e = cJSON_GetArrayItem(layers, i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class_name");
        ic_layer *l;
        s = ic__layer_from_config(cJSON_IsString(c) ? c->valuestring : NULL,
                                  cJSON_GetObjectItemCaseSensitive(e, "config"), &l);
        if (!s)
            s = ic_model_add(head, l);
    }
    cJSON_Delete(root);
    return s;
}

/* The index of m's weight named name, when exactly one has that name; else -1. */
static int weight_named(const ic_model *m, const char *name)
{
    int found = -1, count = 0;
    for (int k = 0; k < ic_model_num_weights(m); k++) {
        const char *n;
        ic_model_weight(m, k, &n);
        if (!strcmp(n, name)) {
            found = k;
            count++;
        }
    }
    return count == 1 ? found : -1;
}

ic_status ic_model_head_create(ic_model *m, ic_model_head **headp)
{
    if (!headp || !m)
        return ic_seterr(IC_ERR_INVALID, "ic_model_head_create: model and out are required");
    *headp = NULL;
    ic_model_head *out = calloc(1, sizeof *out);
    if (!out)
        return ic_seterr(IC_ERR_NOMEM, "out of memory");
    ic_layer *first = ic_model_num_layers(m) > 1 ? ic_model_layer(m, 0) : NULL;
    ic_model *base = first ? ic_layer_inner_model(first) : NULL;
    if (!base) {
        free(out);
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "model '%s': its first layer is not a nested model, or nothing follows",
                         ic_model_name(m));
    }
    int64_t shape[IC_MAX_DIMS];
    int nd = ic_model_output_shape(base, shape), node;
    /* an explicit input name: an automatic one would advance the global "input" counter */
    ic_status s = ic_model_create(&out->model, "head", 1);
    if (!s)
        s = ic_model_input(out->model, nd, shape, "head_input", &node);
    if (!s)
        s = add_layers(m, out->model);
    int n = s ? 0 : ic_model_num_weights(out->model);
    if (!s && !(out->mi = calloc((size_t)n + 1, sizeof *out->mi)))
        s = ic_seterr(IC_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < n; i++) {
        const char *nm;
        char name[320]; /* ic_model_weight's name buffer is reused by the next call */
        ic_model_weight(out->model, i, &nm);
        snprintf(name, sizeof name, "%s", nm);
        if ((out->mi[i] = weight_named(m, name)) < 0)
            s = ic_seterr(IC_ERR_UNSUPPORTED, "model '%s': no single weight named %s",
                          ic_model_name(m), name);
    }
    if (s) {
        ic_model_head_free(out);
        return s;
    }
    out->base = base;
    out->owner = m;
    out->n = n;
    *headp = out;
    return IC_OK;
}

ic_status ic_model_head_sync(ic_model_head *h, int to_model)
{
    /* Tensors are fetched again for every copy: ic_model_weight_mut marks the weight it
     * hands out as changed, so the destination's backends drop converted copies of old
     * values; the source is only read and keeps its version. */
    for (int i = 0; i < h->n; i++) {
        ic_model *dm = to_model ? h->owner : h->model, *sm = to_model ? h->model : h->owner;
        int di = to_model ? h->mi[i] : i, si = to_model ? i : h->mi[i];
        ic_tensor *dw = ic_model_weight_mut(dm, di, NULL);
        const ic_tensor *sw = ic_model_weight(sm, si, NULL);
        ic_status s = !dw || !sw ? ic_seterr(IC_ERR_INTERNAL, "head weight %d vanished", i)
                                 : ic_tensor_copy(dw, sw);
        if (s)
            return s;
    }
    return IC_OK;
}

ic_status ic_model_extract_features(ic_model *base, ic_batch_source *src, int64_t steps,
                                    ic_tensor **features, ic_tensor **labels)
{
    if (!features || !labels)
        return ic_seterr(IC_ERR_INVALID, "extract features: features and labels are required");
    *features = *labels = NULL;
    if (!base || !src || !src->ops || !src->ops->next)
        return ic_seterr(IC_ERR_INVALID, "extract features: a model and a batch source are "
                                         "required");
    if (steps <= 0 && (!src->ops->length || (steps = src->ops->length(src->self)) < 1))
        return ic_seterr(IC_ERR_INVALID, "extract features: steps is 0 and the source reports "
                                         "no length");
    int64_t fshape[IC_MAX_DIMS + 1], row = 1, ylen = 0, n = 0, cap = 0;
    int nd = ic_model_output_shape(base, fshape + 1);
    for (int i = 1; i <= nd; i++)
        row *= fshape[i];
    float *fbuf = NULL, *ybuf = NULL;
    ic_status s = IC_OK;
    for (int64_t st = 0; !s && st < steps; st++) {
        const ic_tensor *x, *y;
        ic_tensor *f = NULL;
        if ((s = src->ops->next(src->self, &x, &y))) {
            ic__errctx(s, "extract features: batch %lld", (long long)st + 1);
            break;
        }
        if ((s = ic_model_forward(base, x, &f)))
            break;
        int64_t b = ic_tensor_dim(x, 0);
        if (!ylen)
            ylen = ic_tensor_dim(y, 1) > 0 ? ic_tensor_dim(y, 1) : 1;
        if (n + b > cap) {
            int64_t nc = cap ? 2 * cap : b * steps;
            if (nc < n + b)
                nc = n + b;
            float *nf = realloc(fbuf, (size_t)(nc * row) * sizeof(float));
            if (nf)
                fbuf = nf;
            float *ny = nf ? realloc(ybuf, (size_t)(nc * ylen) * sizeof(float)) : NULL;
            if (ny)
                ybuf = ny;
            if (!ny) {
                ic_tensor_free(f);
                s = ic_seterr(IC_ERR_NOMEM, "extract features: out of memory for %lld images",
                              (long long)nc);
                break;
            }
            cap = nc;
        }
        memcpy(fbuf + n * row, ic_tensor_cdata(f), (size_t)(b * row) * sizeof(float));
        memcpy(ybuf + n * ylen, ic_tensor_cdata(y), (size_t)(b * ylen) * sizeof(float));
        n += b;
        ic_tensor_free(f);
    }
    int64_t ys[2] = {n, ylen};
    fshape[0] = n;
    if (!s && !(s = ic_tensor_create(features, nd + 1, fshape)) &&
        !(s = ic_tensor_create(labels, 2, ys))) {
        memcpy(ic_tensor_data(*features), fbuf, (size_t)(n * row) * sizeof(float));
        memcpy(ic_tensor_data(*labels), ybuf, (size_t)(n * ylen) * sizeof(float));
    }
    if (s) {
        ic_tensor_free(*features);
        ic_tensor_free(*labels);
        *features = *labels = NULL;
    }
    free(fbuf);
    free(ybuf);
    return s;
}
