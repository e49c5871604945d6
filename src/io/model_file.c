/* model_file.c - imgclass model files: ic_model_save / ic_model_load.
 *
 * A Keras 2.2.4 full-model HDF5 file (keras.engine.saving.save_model), written atomically
 * (temporary file in the same directory, renamed into place):
 *   root attrs  keras_version "2.2.4", backend "tensorflow",
 *               model_config   JSON {"class_name", "config"} (model_config_write.c),
 *               training_config JSON (compiled models): {"optimizer_config": {"class_name":
 *                 "RMSprop", "config": {"lr", "rho", "decay", "epsilon"}}, "loss",
 *                 "metrics": ["acc"], "sample_weight_mode": null, "loss_weights": null,
 *                 "imgclass": {"frozen_bn_uses_batch_stats": false}}
 *               imgclass_meta  JSON {"format": 1, "class_names", "target_size": [h, w],
 *                 "grayscale", "rescale", "preprocess", "interpolation", "base_name"}
 *                (imgclass only)
 *   model_weights      the save_weights layout (keras_h5.c)
 *   optimizer_weights  (include_optimizer, compiled) attr weight_names and datasets
 *       "iterations:0"     int64 scalar, optimizer steps applied (Keras's name)
 *       "imgclass/step:0"  int64 scalar, training forward passes run (dropout masks)
 *       "<path>:0/<slot>"  float32, the weight's shape: the state of weight <path>
 *                          ("vgg16/block5_conv1/kernel", "dense_1/bias": enclosing nested
 *                          models, layer, weight) for slot accumulator (RMSprop), m, v,
 *                          vhat (Adam), moment (SGD). Weights not yet updated have none.
 *   Keras's own names ("training/RMSprop/Variable:0") are not used; Keras can still load
 *   the model and weights (it warns and skips an optimizer state it cannot match).
 *
 * Loading rebuilds the model from model_config, reads model_weights, compiles it from
 * training_config and restores the optimizer state and the step counters, so training
 * continues exactly as if uninterrupted (same process seed: dropout masks derive from
 * ic_set_random_seed's seed, which is not stored).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "io_impl.h"
#include "train/train_impl.h"

#define IC_MODEL_FORMAT 1

static ic_status nomem_json(void)
{
    return ic_seterr(IC_ERR_NOMEM, "out of memory writing a model file's JSON");
}

/* cJSON text copied into an ic__malloc string. */
static ic_status print_json(cJSON *root, char **out)
{
    char *t = cJSON_PrintUnformatted(root);
    if (!t)
        return nomem_json();
    *out = ic__strdup(t);
    cJSON_free(t);
    return *out ? IC_OK : IC_ERR_NOMEM;
}

/* ---- preprocess names ---- */

static const char *const g_pre_names[] = {"none", "caffe", "tf", "torch"};
/* Keras's interpolation names (load_img / flow_from_directory); "area" is imgclass's */
static const char *const g_interp_names[] = {"nearest", "bilinear", "area"};

static const char *enum_name(int v, const char *const *names, int n)
{
    return v >= 0 && v < n ? names[v] : names[0];
}

/* The index of meta's string field key in names; absent: *out stays (the default). */
static ic_status enum_field(ic_status s, const cJSON *root, const char *key,
                            const char *const *names, int n, int *out, const char *file)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (s || !cJSON_IsString(v))
        return s;
    for (int i = 0; i < n; i++)
        if (!strcmp(v->valuestring, names[i])) {
            *out = i;
            return IC_OK;
        }
    return ic_seterr(IC_ERR_UNSUPPORTED, "%s: imgclass_meta: unknown %s '%s'", file, key,
                     v->valuestring);
}

/* ================================================================================== */
/* Saving                                                                              */
/* ================================================================================== */

static ic_status training_config_json(const ic__train_state *t, char **out)
{
    const ic_optimizer_opts *o = &t->opts.optimizer;
    cJSON *root = cJSON_CreateObject();
    cJSON *oc = root ? cJSON_AddObjectToObject(root, "optimizer_config") : NULL;
    cJSON *c = NULL;
    const char *cls = o->kind == IC_OPT_ADAM ? "Adam" : o->kind == IC_OPT_SGD ? "SGD" : "RMSprop";
    ic_status s = IC_OK;
    if (!oc || !cJSON_AddStringToObject(oc, "class_name", cls) ||
        !(c = cJSON_AddObjectToObject(oc, "config")))
        s = nomem_json();
    /* Keras 2.2.4 get_config() of each optimizer, in its order. */
    s = ic__cfg_float(s, c, "lr", o->lr);
    switch (o->kind) {
    case IC_OPT_RMSPROP:
        s = ic__cfg_float(s, c, "rho", o->rho);
        s = ic__cfg_float(s, c, "decay", o->decay);
        s = ic__cfg_float(s, c, "epsilon", o->epsilon);
        break;
    case IC_OPT_ADAM:
        s = ic__cfg_float(s, c, "beta_1", o->beta_1);
        s = ic__cfg_float(s, c, "beta_2", o->beta_2);
        s = ic__cfg_float(s, c, "decay", o->decay);
        s = ic__cfg_float(s, c, "epsilon", o->epsilon);
        s = ic__cfg_bool(s, c, "amsgrad", o->amsgrad);
        break;
    case IC_OPT_SGD:
        s = ic__cfg_float(s, c, "momentum", o->momentum);
        s = ic__cfg_float(s, c, "decay", o->decay);
        s = ic__cfg_bool(s, c, "nesterov", o->nesterov);
        break;
    }
    s = ic__cfg_str(s, root, "loss", ic__loss_name(t->opts.loss));
    if (!s) {
        cJSON *metrics = cJSON_AddArrayToObject(root, "metrics");
        cJSON *acc = t->opts.metric_accuracy ? cJSON_CreateString("acc") : NULL;
        if (!metrics || (t->opts.metric_accuracy && !cJSON_AddItemToArray(metrics, acc))) {
            cJSON_Delete(acc);
            s = nomem_json();
        }
    }
    s = ic__cfg_null(s, root, "sample_weight_mode");
    s = ic__cfg_null(s, root, "loss_weights");
    if (!s) {
        cJSON *ext = cJSON_AddObjectToObject(root, "imgclass");
        s = ext ? ic__cfg_bool(s, ext, "frozen_bn_uses_batch_stats",
                               t->opts.frozen_bn_uses_batch_stats)
                : nomem_json();
    }
    if (!s)
        s = print_json(root, out);
    cJSON_Delete(root);
    return s;
}

static ic_status meta_json(const ic_model_meta *meta, char **out)
{
    cJSON *root = cJSON_CreateObject();
    ic_status s = root ? ic__cfg_int(IC_OK, root, "format", IC_MODEL_FORMAT) : nomem_json();
    if (!s && meta) {
        cJSON *names = cJSON_AddArrayToObject(root, "class_names");
        if (!names)
            s = nomem_json();
        for (int i = 0; !s && i < meta->n_classes; i++) {
            cJSON *n = cJSON_CreateString(
                meta->class_names && meta->class_names[i] ? meta->class_names[i] : "");
            if (!n || !cJSON_AddItemToArray(names, n)) {
                cJSON_Delete(n);
                s = nomem_json();
            }
        }
        s = ic__cfg_pair(s, root, "target_size", meta->target_h, meta->target_w);
        s = ic__cfg_bool(s, root, "grayscale", meta->grayscale);
        s = ic__cfg_float(s, root, "rescale", meta->rescale);
        s = ic__cfg_str(s, root, "preprocess", enum_name((int)meta->preprocess, g_pre_names, 4));
        s = ic__cfg_str(s, root, "interpolation",
                        enum_name((int)meta->interpolation, g_interp_names, 3));
        char base[sizeof meta->base_name + 1];
        snprintf(base, sizeof base, "%.*s", (int)sizeof meta->base_name, meta->base_name);
        s = ic__cfg_str(s, root, "base_name", base);
    }
    if (!s)
        s = print_json(root, out);
    cJSON_Delete(root);
    return s;
}

/* "vgg16/block5_conv1/kernel": the wrappers of the nested models holding l (below top),
 * l's name, the weight's name. */
static void weight_path(const ic_model *top, const ic_layer *l, const ic__param *p, char *buf,
                        size_t size)
{
    const ic_layer *chain[16];
    int n = 0;
    for (const ic_layer *x = l; x && n < 16; n++) {
        chain[n] = x;
        const ic_model *owner = x->owner;
        x = owner && owner != top ? owner->wrapper : NULL;
    }
    size_t o = 0;
    buf[0] = '\0';
    for (int i = n - 1; i >= 0 && o < size; i--)
        o += (size_t)snprintf(buf + o, size - o, "%s/", chain[i]->name);
    if (o < size)
        snprintf(buf + o, size - o, "%s", p->name);
}

static ic_status write_i64(hid_t g, const char *name, int64_t v, hid_t lcpl, const char *file)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = sp < 0 ? H5I_INVALID_HID
                     : H5Dcreate2(g, name, H5T_STD_I64LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ic_status s = IC_OK;
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing optimizer_weights/%s failed", file, name);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    return s;
}

static ic_status write_f32(hid_t g, const char *name, const float *v, const ic_tensor *like,
                           hid_t lcpl, const char *file)
{
    hsize_t dims[IC_MAX_DIMS];
    for (int i = 0; i < like->ndim; i++)
        dims[i] = (hsize_t)like->shape[i];
    hid_t sp = H5Screate_simple(like->ndim, dims, NULL);
    hid_t d = sp < 0 ? H5I_INVALID_HID
                     : H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ic_status s = IC_OK;
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing optimizer_weights/%s failed", file, name);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    return s;
}

#define ONAME_MAX 640

/* The optimizer_weights group (layout in the file comment). */
static ic_status write_optimizer(hid_t f, const ic_model *m, const char *file)
{
    const ic__train_state *t = m->train;
    const ic__optimizer *opt = &t->opt;
    int ns = ic__opt_num_slots(opt);
    int n = ic__model_collect(m, 0, NULL, NULL, 0);
    size_t cnt = (size_t)(n ? n : 1);
    size_t max_names = 2 + cnt * (size_t)ns;
    ic__param **ps = ic__malloc(cnt * sizeof *ps);
    ic_layer **ls = ic__malloc(cnt * sizeof *ls);
    char *names = ic__malloc(max_names * ONAME_MAX);
    const char **np = ic__malloc(max_names * sizeof *np);
    hid_t g = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    ic_status s = IC_OK;
    if (!ps || !ls || !names || !np) {
        s = IC_ERR_NOMEM;
        goto done;
    }
    ic__model_collect(m, 0, ps, ls, n);
    g = H5Gcreate2(f, "optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (g < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        s = ic__h5_seterr(IC_ERR_IO, "%s: cannot create group 'optimizer_weights'", file);
        goto done;
    }
    int k = 0;
    np[k++] = "iterations:0";
    np[k++] = "imgclass/step:0";
    s = write_i64(g, np[0], (int64_t)opt->iterations, lcpl, file);
    if (!s)
        s = write_i64(g, np[1], (int64_t)t->step, lcpl, file);
    for (int i = 0; !s && i < n; i++) {
        if (!ic__opt_export(opt, ps[i], 0))
            continue; /* no state yet */
        char path[ONAME_MAX - 32];
        weight_path(m, ls[i], ps[i], path, sizeof path);
        for (int j = 0; !s && j < ns; j++) {
            char *w = names + (size_t)k * ONAME_MAX;
            snprintf(w, ONAME_MAX, "%s:0/%s", path, ic__opt_slot_name(opt, j));
            np[k++] = w;
            s = write_f32(g, w, ic__opt_export(opt, ps[i], j), &ps[i]->value, lcpl, file);
        }
    }
    if (!s)
        s = ic__h5_write_str_array_attr(g, "weight_names", np, k, file);
done:
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (g >= 0)
        H5Gclose(g);
    ic__free(ps);
    ic__free(ls);
    ic__free(names);
    ic__free(np);
    return s;
}

/* Everything inside the open temporary file. */
static ic_status write_file(hid_t f, const ic_model *m, const char *path, const char *model_cfg,
                            const char *train_cfg, const char *meta, int include_optimizer)
{
    ic_status s = ic__h5_write_str_attr(f, "keras_version", "2.2.4", path);
    if (!s)
        s = ic__h5_write_str_attr(f, "backend", "tensorflow", path);
    if (!s)
        s = ic__h5_write_str_attr(f, "model_config", model_cfg, path);
    if (!s && train_cfg)
        s = ic__h5_write_str_attr(f, "training_config", train_cfg, path);
    if (!s)
        s = ic__h5_write_str_attr(f, "imgclass_meta", meta, path);
    if (s)
        return s;
    hid_t g = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return ic__h5_seterr(IC_ERR_IO, "%s: cannot create group 'model_weights'", path);
    s = ic__h5_write_weights(g, m, path);
    H5Gclose(g);
    if (!s && include_optimizer && m->train)
        s = write_optimizer(f, m, path);
    return s;
}

ic_status ic_model_save(const ic_model *m, const char *path, const ic_model_meta *meta,
                        int include_optimizer)
{
    if (!m || !path || !*path)
        return ic_seterr(IC_ERR_INVALID, "ic_model_save: NULL model or empty path");
    ic__h5_quiet();
    char *model_cfg = NULL, *train_cfg = NULL, *meta_str = NULL;
    ic_status s = ic__model_to_config(m, &model_cfg);
    if (!s && m->train)
        s = training_config_json(m->train, &train_cfg);
    if (!s)
        s = meta_json(meta, &meta_str);
    ic__atomic_file af;
    int begun = 0;
    if (!s && !(s = ic__atomic_begin(&af, path, 0)))
        begun = 1;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
    if (!s) {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
            s = ic__h5_seterr(IC_ERR_IO, "%s: H5Pcreate failed", path);
        else if ((f = H5Fcreate(af.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
            s = ic__h5_seterr(IC_ERR_IO, "%s: cannot create the file", path);
    }
    if (!s)
        s = write_file(f, m, path, model_cfg, train_cfg, meta_str, include_optimizer);
    if (f >= 0 && H5Fclose(f) < 0 && !s)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing the file failed", path);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (begun) {
        if (s)
            ic__atomic_abort(&af);
        else
            s = ic__atomic_commit(&af);
    }
    ic__free(model_cfg);
    ic__free(train_cfg);
    ic__free(meta_str);
    if (s && s != IC_ERR_NOMEM && !strstr(ic_errmsg(), path))
        ic__errctx(s, "saving '%s'", path);
    return s;
}

/* ================================================================================== */
/* Loading                                                                             */
/* ================================================================================== */

void ic_model_meta_free(ic_model_meta *meta)
{
    if (!meta)
        return;
    if (meta->class_names) {
        for (int i = 0; i < meta->n_classes; i++)
            ic__free(meta->class_names[i]);
        ic__free(meta->class_names);
    }
    meta->class_names = NULL;
    meta->n_classes = 0;
}

/* Parses imgclass_meta into *meta (fields absent stay zero). */
static ic_status parse_meta(const char *json, const char *file, ic_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    cJSON *root;
    if (ic__json_parse(json, NULL, 0, &root) == IC_ERR_NOMEM)
        return ic__errctx(IC_ERR_NOMEM, "%s: reading imgclass_meta", file);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ic_seterr(IC_ERR_FORMAT, "%s: imgclass_meta is not valid JSON", file);
    }
    ic_status s = IC_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsNumber(fmt) || fmt->valuedouble < 1)
        s = ic_seterr(IC_ERR_FORMAT, "%s: imgclass_meta has no valid \"format\" number", file);
    else if (fmt->valuedouble > IC_MODEL_FORMAT)
        s = ic_seterr(IC_ERR_UNSUPPORTED,
                      "%s: imgclass model file format %g is newer than this version of imgclass "
                      "reads (%d)",
                      file, fmt->valuedouble, IC_MODEL_FORMAT);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "class_names");
    if (!s && names) {
        int n = cJSON_GetArraySize(names);
        if (!cJSON_IsArray(names))
            s = ic_seterr(IC_ERR_FORMAT, "%s: imgclass_meta: class_names is not a list", file);
        else if (n > 0 && !(meta->class_names = ic__calloc((size_t)n, sizeof(char *))))
            s = IC_ERR_NOMEM;
        for (int i = 0; !s && i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(names, i);
            if (!cJSON_IsString(e))
                s = ic_seterr(IC_ERR_FORMAT, "%s: imgclass_meta: class name %d is not a string",
                              file, i);
            else if (!(meta->class_names[i] = ic__strdup(e->valuestring)))
                s = IC_ERR_NOMEM;
            else
                meta->n_classes = i + 1;
        }
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "target_size");
    if (!s && ts) {
        const cJSON *h = cJSON_GetArrayItem(ts, 0), *w = cJSON_GetArrayItem(ts, 1);
        if (!cJSON_IsNumber(h) || !cJSON_IsNumber(w))
            s = ic_seterr(IC_ERR_FORMAT, "%s: imgclass_meta: bad target_size", file);
        else {
            meta->target_h = (int64_t)h->valuedouble;
            meta->target_w = (int64_t)w->valuedouble;
        }
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "grayscale");
    meta->grayscale = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(root, "rescale");
    if (cJSON_IsNumber(v))
        meta->rescale = (float)v->valuedouble;
    int e = (int)meta->preprocess;
    s = enum_field(s, root, "preprocess", g_pre_names, 4, &e, file);
    meta->preprocess = (ic_preprocess)e;
    /* files written before the field existed: nearest, what they were trained with */
    s = enum_field(s, root, "interpolation", g_interp_names, 3, &meta->interpolation, file);
    v = cJSON_GetObjectItemCaseSensitive(root, "base_name");
    if (cJSON_IsString(v))
        snprintf(meta->base_name, sizeof meta->base_name, "%s", v->valuestring);
    cJSON_Delete(root);
    if (s)
        ic_model_meta_free(meta);
    return s;
}

static float num_or(const cJSON *obj, const char *key, float def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (float)v->valuedouble : def;
}

static int bool_or(const cJSON *obj, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* training_config -> compile options. IC_ERR_UNSUPPORTED (with a message) for an
 * optimizer or loss imgclass does not have; IC_ERR_FORMAT for malformed JSON. */
static ic_status parse_training_config(const char *json, const char *file, ic_compile_opts *o)
{
    *o = ic_compile_opts_default();
    cJSON *root;
    if (ic__json_parse(json, NULL, 0, &root) == IC_ERR_NOMEM)
        return ic__errctx(IC_ERR_NOMEM, "%s: reading training_config", file);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ic_seterr(IC_ERR_FORMAT, "%s: training_config is not valid JSON", file);
    }
    ic_status s = IC_OK;
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(root, "optimizer_config");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(oc, "class_name");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(oc, "config");
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(root, "loss");
    ic_optimizer_kind kind = IC_OPT_RMSPROP;
    if (!cJSON_IsString(cls) || !cJSON_IsObject(c))
        s = ic_seterr(IC_ERR_FORMAT, "%s: training_config has no optimizer_config", file);
    else if (ic_optimizer_parse(cls->valuestring, &kind))
        s = ic_seterr(IC_ERR_UNSUPPORTED, "%s: optimizer '%s' is not supported", file,
                      cls->valuestring);
    if (!s) {
        ic_optimizer_opts d = ic_optimizer_opts_default(kind);
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(c, "lr");
        if (!lr)
            lr = cJSON_GetObjectItemCaseSensitive(c, "learning_rate");
        d.lr = cJSON_IsNumber(lr) ? (float)lr->valuedouble : d.lr;
        d.rho = num_or(c, "rho", d.rho);
        d.beta_1 = num_or(c, "beta_1", d.beta_1);
        d.beta_2 = num_or(c, "beta_2", d.beta_2);
        d.epsilon = num_or(c, "epsilon", d.epsilon);
        d.momentum = num_or(c, "momentum", d.momentum);
        d.decay = num_or(c, "decay", d.decay);
        d.nesterov = bool_or(c, "nesterov", d.nesterov);
        d.amsgrad = bool_or(c, "amsgrad", d.amsgrad);
        o->optimizer = d;
    }
    if (!s) {
        int found = 0;
        for (int i = 0; cJSON_IsString(loss) && i < 3; i++)
            if (!strcmp(loss->valuestring, ic__loss_name((ic_loss)i))) {
                o->loss = (ic_loss)i;
                found = 1;
            }
        if (!found)
            s = ic_seterr(cJSON_IsString(loss) ? IC_ERR_UNSUPPORTED : IC_ERR_FORMAT,
                          "%s: training_config: loss %s is not supported", file,
                          cJSON_IsString(loss) ? loss->valuestring : "(missing)");
    }
    if (!s) {
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
        const cJSON *e;
        o->metric_accuracy = 0;
        cJSON_ArrayForEach(e, metrics)
        {
            if (cJSON_IsString(e) &&
                (!strcmp(e->valuestring, "acc") || !strcmp(e->valuestring, "accuracy")))
                o->metric_accuracy = 1;
        }
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(root, "imgclass");
        o->frozen_bn_uses_batch_stats = bool_or(ext, "frozen_bn_uses_batch_stats", 0);
    }
    cJSON_Delete(root);
    return s;
}

/* A scalar integer dataset of group g. */
static ic_status read_i64(hid_t g, const char *name, const char *file, int64_t *v)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    ic_status s = IC_OK;
    if (d < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: optimizer_weights/%s is missing", file, name);
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    if (sp < 0 || t < 0 || H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_npoints(sp) != 1)
        s = ic_seterr(IC_ERR_FORMAT, "%s: optimizer_weights/%s is not an integer scalar", file,
                      name);
    else if (H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading optimizer_weights/%s failed", file, name);
    else if (*v < 0)
        s = ic_seterr(IC_ERR_FORMAT, "%s: optimizer_weights/%s is negative", file, name);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return s;
}

/* A float dataset of exactly like's shape into buf. */
static ic_status read_f32(hid_t g, const char *name, const ic_tensor *like, const char *file,
                          float *buf)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: optimizer_weights/%s is missing", file, name);
    ic_status s = IC_OK;
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[IC_MAX_DIMS + 1];
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    int ok = t >= 0 && H5Tget_class(t) == H5T_FLOAT && nd == like->ndim;
    if (ok && nd > 0 && H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        ok = 0;
    for (int i = 0; ok && i < nd; i++)
        ok = dims[i] == (hsize_t)like->shape[i];
    if (!ok) {
        char b[64];
        s = ic_seterr(IC_ERR_FORMAT,
                      "%s: optimizer_weights/%s is not a float tensor of the weight's shape %s",
                      file, name, ic_tensor_shape_str(like, b, sizeof b));
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading optimizer_weights/%s failed", file, name);
    }
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return s;
}

static int listed(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

/* Restores iterations, the step counter and per-weight state (layout in the file comment).
 * m is compiled and has fresh optimizer state. */
static ic_status read_optimizer(hid_t g, ic_model *m, const char *file)
{
    ic__train_state *t = m->train;
    ic__optimizer *opt = &t->opt;
    char **wn = NULL;
    int nwn = 0;
    ic_status s = ic__h5_read_str_array_attr(g, "weight_names", file, &wn, &nwn);
    if (s)
        return s;
    int64_t it = 0, step = 0;
    if (!listed(wn, nwn, "iterations:0") || (s = read_i64(g, "iterations:0", file, &it))) {
        ic__free(wn);
        return s ? s : ic_seterr(IC_ERR_FORMAT, "%s: optimizer_weights has no iterations:0", file);
    }
    if (listed(wn, nwn, "imgclass/step:0") && (s = read_i64(g, "imgclass/step:0", file, &step))) {
        ic__free(wn);
        return s;
    }
    int ns = ic__opt_num_slots(opt);
    int n = ic__model_collect(m, 0, NULL, NULL, 0);
    size_t cnt = (size_t)(n ? n : 1);
    ic__param **ps = ic__malloc(cnt * sizeof *ps);
    ic_layer **ls = ic__malloc(cnt * sizeof *ls);
    float *bufs[3] = {NULL, NULL, NULL};
    if (!ps || !ls)
        s = IC_ERR_NOMEM;
    else
        ic__model_collect(m, 0, ps, ls, n);
    for (int i = 0; !s && i < n; i++) {
        char path[ONAME_MAX - 32], name[ONAME_MAX];
        weight_path(m, ls[i], ps[i], path, sizeof path);
        int have = 0;
        for (int j = 0; j < ns; j++) {
            snprintf(name, sizeof name, "%s:0/%s", path, ic__opt_slot_name(opt, j));
            have += listed(wn, nwn, name);
        }
        if (have == 0)
            continue; /* not updated yet when saved */
        if (have != ns) {
            s = ic_seterr(IC_ERR_FORMAT,
                          "%s: optimizer_weights: weight '%s' has %d of the %d state tensors "
                          "the optimizer needs",
                          file, path, have, ns);
            break;
        }
        size_t bytes = (size_t)ic_tensor_numel(&ps[i]->value) * sizeof(float);
        for (int j = 0; !s && j < ns; j++) {
            ic__free(bufs[j]);
            if (!(bufs[j] = ic__malloc(bytes ? bytes : 1))) {
                s = IC_ERR_NOMEM;
                break;
            }
            snprintf(name, sizeof name, "%s:0/%s", path, ic__opt_slot_name(opt, j));
            s = read_f32(g, name, &ps[i]->value, file, bufs[j]);
        }
        if (!s)
            s = ic__opt_import(opt, ps[i], (const float *const *)bufs);
    }
    if (!s) {
        opt->iterations = (uint64_t)it;
        t->step = (uint64_t)step;
    }
    for (int j = 0; j < 3; j++)
        ic__free(bufs[j]);
    ic__free(ps);
    ic__free(ls);
    ic__free(wn);
    return s;
}

/* Compiles m from training_config and restores the optimizer state. */
static ic_status restore_training(hid_t f, ic_model *m, const char *path)
{
    char *tc = NULL;
    ic_status s = ic__h5_read_str_attr(f, "training_config", path, &tc);
    if (s == IC_ERR_NOT_FOUND)
        return IC_OK; /* saved uncompiled */
    if (s)
        return s;
    ic_compile_opts co;
    s = parse_training_config(tc, path, &co);
    ic__free(tc);
    if (s == IC_ERR_UNSUPPORTED) { /* the model itself is fine: load it uncompiled */
        ic__log(2, "%s; the model is loaded without its compile state", ic_errmsg());
        return IC_OK;
    }
    if (!s && (s = ic_model_compile(m, &co)))
        ic__errctx(s, "%s: training_config", path);
    if (s)
        return s;
    htri_t ex = H5Lexists(f, "optimizer_weights", H5P_DEFAULT);
    if (ex <= 0)
        return IC_OK;
    hid_t g = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
    if (g < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot open group 'optimizer_weights'", path);
    s = read_optimizer(g, m, path);
    H5Gclose(g);
    return s;
}

ic_status ic_model_load(ic_model **out, const char *path, ic_model_meta *meta)
{
    if (meta)
        memset(meta, 0, sizeof *meta);
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return ic_seterr(IC_ERR_INVALID, "ic_model_load: path is NULL");
    hid_t f;
    ic_status s = ic__h5_open_read(path, &f);
    if (s)
        return s;
    char *cfg = NULL, *mj = NULL;
    ic_model *m = NULL;
    ic_model_meta md;
    memset(&md, 0, sizeof md);
    s = ic__h5_read_str_attr(f, "model_config", path, &cfg);
    if (s == IC_ERR_NOT_FOUND) {
        int weights = H5Aexists(f, "layer_names") > 0 || H5Aexists(f, "layer_names0") > 0;
        s = ic_seterr(IC_ERR_FORMAT,
                      "%s: not an imgclass/Keras model file (no model_config attribute)%s", path,
                      weights ? "; it holds only weights: use ic_model_load_weights" : "");
    }
    if (!s) {
        s = ic__h5_read_str_attr(f, "imgclass_meta", path, &mj);
        if (s == IC_ERR_NOT_FOUND)
            s = IC_OK; /* a Keras file */
        else if (!s)
            s = parse_meta(mj, path, &md);
    }
    if (!s)
        s = ic__model_from_config(cfg, path, &m);
    if (!s) {
        if (H5Lexists(f, "model_weights", H5P_DEFAULT) <= 0) {
            s = ic_seterr(IC_ERR_FORMAT, "%s: no model_weights group", path);
        } else {
            hid_t g = H5Gopen2(f, "model_weights", H5P_DEFAULT);
            if (g < 0) {
                s = ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot open group 'model_weights'", path);
            } else {
                ic_load_weights_opts wo = ic_load_weights_opts_default();
                s = ic__h5_read_weights(g, m, &wo, path);
                H5Gclose(g);
            }
        }
    }
    if (!s)
        s = restore_training(f, m, path);
    H5Fclose(f);
    ic__free(cfg);
    ic__free(mj);
    if (s) {
        ic_model_free(m);
        ic_model_meta_free(&md);
        return s;
    }
    *out = m;
    if (meta)
        *meta = md;
    else
        ic_model_meta_free(&md);
    return IC_OK;
}
