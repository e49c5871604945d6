/* keras_model.c - models saved by Keras itself: ic_keras_model_load, ic_model_file_is_keras.
 *
 * A full-model file (Keras 2.0 - 2.3, tf.keras 2.x, Keras 3 legacy .h5) has the root
 * attribute model_config (JSON) and the save_weights layout in group model_weights; a
 * weights-only file (save_weights) comes with the architecture from model.to_json().
 * model_config.c builds the network (Sequential as a list or {"name", "layers"}, Functional
 * with Keras 2 or Keras 3 inbound nodes, channels_first converted to our layout);
 * keras_h5.c reads the weights by layer name (tf.keras 2.4+ leaves the InputLayer out of
 * layer_names, so positions do not line up), after checking here that every layer with
 * weights has a group in the file. top_level_model_weights and optimizer_weights are not
 * read. Dense layers after a channels-first-ordered Flatten get their kernel rows
 * permuted from (C, H, W) to (H, W, C) order.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "io_impl.h"
#include "layers/layer_impl.h"

#define IC_KERAS_JSON_MAX (64 << 20)

/* The whole of a text file (the model.to_json() architecture). */
static ic_status read_text(const char *path, char **out)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ic_seterr(IC_ERR_NOT_FOUND, "%s: cannot open the model JSON", path);
    ic_status s = IC_OK;
    char *buf = NULL;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        n = ftell(fp);
    if (n < 0 || fseek(fp, 0, SEEK_SET) != 0)
        s = ic_seterr(IC_ERR_IO, "%s: cannot read the model JSON", path);
    else if (n > IC_KERAS_JSON_MAX)
        s = ic_seterr(IC_ERR_FORMAT, "%s: %ld bytes is too large for a model JSON", path, n);
    else if (!(buf = ic__malloc((size_t)n + 1)))
        s = IC_ERR_NOMEM;
    else if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
        s = ic_seterr(IC_ERR_IO, "%s: reading the model JSON failed", path);
    fclose(fp);
    if (s) {
        ic__free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    return IC_OK;
}

/* Every top-level layer with weights must have a group listed in layer_names of g. */
static ic_status check_coverage(hid_t g, const ic_model *m, const char *file)
{
    char **names = NULL;
    int n = 0;
    ic_status s = ic__h5_read_str_array_attr(g, "layer_names", file, &names, &n);
    if (s == IC_ERR_NOT_FOUND)
        return ic_seterr(IC_ERR_FORMAT,
                         "%s: no 'layer_names' attribute (not a Keras weights file / model "
                         "file)",
                         file);
    if (s)
        return s;
    for (int i = 0; !s && i < ic_model_num_layers(m); i++) {
        const ic_layer *l = ic_model_layer(m, i);
        if (ic_layer_num_weights(l) == 0)
            continue;
        int k = 0;
        while (k < n && strcmp(names[k], l->name))
            k++;
        if (k == n)
            s = ic_seterr(IC_ERR_FORMAT,
                          "%s: layer '%s' (%s) has %d weights but the file has no weights for "
                          "a layer of that name",
                          file, l->name, ic_layer_class_name(l), ic_layer_num_weights(l));
    }
    ic__free(names);
    return s;
}

/* Dense kernel rows: Keras's (C, H, W) flatten order -> ours (H, W, C). */
static ic_status apply_fix(ic_model *m, const ic__keras_fix *f, const char *file)
{
    ic_layer *l = ic_model_get_layer(m, f->layer);
    ic__param *k = NULL;
    for (int i = 0; l && i < l->n_params; i++)
        if (!strcmp(l->params[i]->name, "kernel"))
            k = l->params[i];
    int64_t rows = f->c * f->h * f->w;
    if (!k || k->value.ndim != 2 || k->value.shape[0] != rows)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "%s: layer '%s': cannot reorder its kernel for the channels_first "
                         "Flatten before it",
                         file, f->layer);
    int64_t cols = k->value.shape[1];
    float *tmp = ic__malloc((size_t)(rows * cols) * sizeof *tmp);
    if (!tmp)
        return IC_ERR_NOMEM;
    float *w = k->value.data;
    for (int64_t c = 0; c < f->c; c++)
        for (int64_t y = 0; y < f->h; y++)
            for (int64_t x = 0; x < f->w; x++) {
                int64_t from = (c * f->h + y) * f->w + x, to = (y * f->w + x) * f->c + c;
                memcpy(tmp + to * cols, w + from * cols, (size_t)cols * sizeof *w);
            }
    memcpy(w, tmp, (size_t)(rows * cols) * sizeof *w);
    ic__free(tmp);
    k->version = ic__next_version();
    return IC_OK;
}

ic_status ic_model_file_is_keras(const char *path, int *is_keras)
{
    if (!is_keras || !path)
        return ic_seterr(IC_ERR_INVALID, "ic_model_file_is_keras: NULL argument");
    *is_keras = 0;
    hid_t f;
    ic_status s = ic__h5_open_read(path, &f);
    if (s)
        return s;
    *is_keras = H5Aexists(f, "model_config") > 0 && H5Aexists(f, "imgclass_meta") <= 0;
    H5Fclose(f);
    return IC_OK;
}

ic_status ic_keras_model_load(ic_model **out, const char *path, const char *config_json_path)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_keras_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return ic_seterr(IC_ERR_INVALID, "ic_keras_model_load: path is NULL");
    ic__h5_quiet();
    char *cfg = NULL;
    ic_status s = IC_OK;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    ic_model *m = NULL;
    ic__keras_build kb;
    memset(&kb, 0, sizeof kb);
    if (config_json_path) {
        s = read_text(config_json_path, &cfg);
        if (!s)
            s = ic__model_from_keras_config(cfg, config_json_path, &kb, &m);
        if (!s)
            s = ic__h5_open_read(path, &f);
    } else {
        s = ic__h5_open_read(path, &f);
        if (!s) {
            s = ic__h5_read_str_attr(f, "model_config", path, &cfg);
            if (s == IC_ERR_NOT_FOUND)
                s = ic_seterr(IC_ERR_FORMAT,
                              "%s: no model_config attribute: a weights-only file (give the "
                              "architecture from model.to_json() as well)",
                              path);
        }
        if (!s)
            s = ic__model_from_keras_config(cfg, path, &kb, &m);
    }
    if (!s) {
        int mw = H5Aexists(f, "layer_names") <= 0 && H5Aexists(f, "layer_names0") <= 0 &&
                 H5Lexists(f, "model_weights", H5P_DEFAULT) > 0;
        g = mw ? H5Gopen2(f, "model_weights", H5P_DEFAULT) : H5Gopen2(f, "/", H5P_DEFAULT);
        if (g < 0)
            s = ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot open the weights group", path);
    }
    if (!s)
        s = check_coverage(g, m, path);
    if (!s) {
        ic_load_weights_opts o = ic_load_weights_opts_default();
        o.by_name = 1;
        s = ic__h5_read_weights(g, m, &o, path);
    }
    for (int i = 0; !s && i < kb.n_fix; i++)
        s = apply_fix(m, &kb.fix[i], path);
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    ic__free(cfg);
    ic__keras_build_free(&kb);
    if (s) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}
