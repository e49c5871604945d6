/* keras_h5.c - Keras's save_weights HDF5 layout, written and read on an open group (the
 * root of a weights file or the model_weights group of a model file).
 *
 * Layout (Keras 2.2.4 saving.py): root attributes layer_names (every layer of
 * model.layers, weightless ones included), backend, keras_version; one group per layer
 * with attribute weight_names ("<layer>/<weight>:0", in layer.weights order); one float32
 * dataset per weight at <group>/<weight name> (the '/' nests groups, as h5py does). A
 * nested model is one group holding all its tensors in that model's weights order.
 *
 * Reading follows load_weights: by order (file layers with weights paired by position
 * with model layers with weights, tensors by position) or by name. Tensors are located by
 * following their weight_names string as a path below the layer group, which also covers
 * the legacy VGG16 download (block1_conv1_W_1:0 directly in the group) and Keras 3 names
 * without ":0". All or nothing: everything is read and checked into temporary buffers
 * before any parameter changes.
 */
#include <string.h>

#include "io_impl.h"

#define WNAME_MAX 300 /* "<layer>/<param>:0" */

/* ---- Model side ---- */

/* Keras layer.weights of one layer (trainable first; a nested model's weights list).
 * Fills ps/ls up to cap; returns the count. */
static int layer_weights(ic_layer *l, ic__param **ps, ic_layer **ls, int cap)
{
    if (l->inner)
        return ic__model_collect(l->inner, 0, ps, ls, cap);
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < l->n_params; i++)
            if ((l->params[i]->always_frozen != 0) == pass) {
                if (k < cap) {
                    if (ps)
                        ps[k] = l->params[i];
                    if (ls)
                        ls[k] = l;
                }
                k++;
            }
    return k;
}

/* Python's tuple repr of a shape: "(3, 3, 3, 64)", "(64,)". */
static char *shape_str(char *buf, size_t size, int ndim, const hsize_t *d)
{
    size_t o = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (o < size)
        snprintf(buf + o, size - o, ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- Writing ---- */

static ic_status write_dataset(hid_t lg, const char *lname, const char *wname, const ic__param *p,
                               hid_t lcpl, const char *file)
{
    hsize_t dims[IC_MAX_DIMS];
    const ic_tensor *t = &p->value;
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (hsize_t)t->shape[i];
    hid_t sp = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = sp < 0 ? H5I_INVALID_HID
                     : H5Dcreate2(lg, wname, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ic_status s = IC_OK;
    if (d < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: layer '%s': cannot create dataset '%s'", file, lname,
                          wname);
    else if (H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: layer '%s': writing dataset '%s' failed", file, lname,
                          wname);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    return s;
}

static ic_status write_layer(hid_t g, ic_layer *l, hid_t lcpl, const char *file)
{
    int n = layer_weights(l, NULL, NULL, 0);
    size_t cnt = (size_t)(n ? n : 1);
    ic__param **ps = ic__malloc(cnt * sizeof *ps);
    ic_layer **ls = ic__malloc(cnt * sizeof *ls);
    char *names = ic__malloc(cnt * WNAME_MAX);
    const char **np = ic__malloc(cnt * sizeof *np);
    ic_status s = IC_OK;
    hid_t lg = H5I_INVALID_HID;
    if (!ps || !ls || !names || !np) {
        s = IC_ERR_NOMEM;
        goto done;
    }
    layer_weights(l, ps, ls, n);
    for (int i = 0; i < n; i++) {
        char *w = names + (size_t)i * WNAME_MAX;
        snprintf(w, WNAME_MAX, "%s/%s:0", ls[i]->name, ps[i]->name);
        np[i] = w;
    }
    lg = H5Gcreate2(g, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (lg < 0) {
        s = ic__h5_seterr(IC_ERR_IO, "%s: cannot create group '%s' (layer names must be unique "
                          "and contain no '/')", file, l->name);
        goto done;
    }
    s = ic__h5_write_str_array_attr(lg, "weight_names", np, n, file);
    for (int i = 0; i < n && !s; i++)
        s = write_dataset(lg, l->name, np[i], ps[i], lcpl, file);
done:
    if (lg >= 0)
        H5Gclose(lg);
    ic__free(ps);
    ic__free(ls);
    ic__free(names);
    ic__free(np);
    return s;
}

ic_status ic__h5_write_weights(hid_t g, const ic_model *m, const char *file)
{
    ic__h5_quiet();
    int n = ic_model_num_layers(m);
    const char **names = ic__malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names)
        return IC_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        names[i] = ic_model_layer(m, i)->name;
    ic_status s = ic__h5_write_str_array_attr(g, "layer_names", names, n, file);
    ic__free(names);
    if (!s)
        s = ic__h5_write_str_attr(g, "backend", "tensorflow", file);
    if (!s)
        s = ic__h5_write_str_attr(g, "keras_version", "2.2.4", file);
    if (s)
        return s;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: H5Pcreate failed", file);
    for (int i = 0; i < n && !s; i++)
        s = write_layer(g, ic_model_layer(m, i), lcpl, file);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return s;
}

/* ---- Reading ---- */

typedef struct {
    const char *name; /* into the layer_names block */
    char **wn;        /* weight_names block */
    int nw;
} flayer;

typedef struct {
    ic__param *p;
    float *buf; /* numel floats, read from the file */
} pending;

typedef struct {
    const char *file;
    int theano; /* the file's backend attribute says theano: flip Conv2D kernels */
    pending *pend;
    int npend, cap;
} reader;

static const char *dtype_str(hid_t t, char *buf, size_t size)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_FLOAT)
        snprintf(buf, size, "float%zu", sz * 8);
    else if (c == H5T_INTEGER)
        snprintf(buf, size, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", sz * 8);
    else if (c == H5T_STRING)
        snprintf(buf, size, "a string");
    else
        snprintf(buf, size, "of HDF5 type class %d", (int)c);
    return buf;
}

/* Flips the spatial axes of an HWIO kernel (Keras conv_utils.convert_kernel). */
static void flip_kernel(float *k, const int64_t *s)
{
    int64_t h = s[0], w = s[1], io = s[2] * s[3];
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            int64_t y2 = h - 1 - y, x2 = w - 1 - x;
            if (y * w + x >= y2 * w + x2)
                continue;
            float *a = k + (y * w + x) * io, *b = k + (y2 * w + x2) * io;
            for (int64_t i = 0; i < io; i++) {
                float t = a[i];
                a[i] = b[i];
                b[i] = t;
            }
        }
}

/* Reads tensor i of a layer pair into a new pending buffer after checking it. */
static ic_status read_tensor(reader *r, hid_t lg, const char *lname, int i, const char *wname,
                             ic__param *p, ic_layer *leaf)
{
    char a[128], b[128], ts[64];
    ic_status s = IC_OK;
    hid_t d = H5Dopen2(lg, wname, H5P_DEFAULT);
    if (d < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: %s: dataset '%s' not found", r->file,
                             lname, wname);
    hid_t t = H5Dget_type(d);
    hid_t sp = H5Dget_space(d);
    float *buf = NULL;
    if (t < 0 || sp < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: %s: dataset '%s' is damaged", r->file,
                          lname, wname);
        goto done;
    }
    if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4) {
        s = ic_seterr(IC_ERR_FORMAT, "%s: %s: dataset '%s' is %s, expected float32",
                      r->file, lname, wname, dtype_str(t, ts, sizeof ts));
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(sp);
    H5S_class_t sc = H5Sget_simple_extent_type(sp);
    if (rank < 0 || rank > IC_MAX_DIMS || (sc != H5S_SIMPLE && sc != H5S_SCALAR)) {
        s = ic_seterr(IC_ERR_FORMAT, "%s: %s: dataset '%s' has rank %d (at most %d)",
                      r->file, lname, wname, rank, IC_MAX_DIMS);
        goto done;
    }
    hsize_t fd[IC_MAX_DIMS], md[IC_MAX_DIMS];
    if (rank > 0 && H5Sget_simple_extent_dims(sp, fd, NULL) < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: %s: dataset '%s' is damaged", r->file,
                          lname, wname);
        goto done;
    }
    const ic_tensor *v = &p->value;
    int same = rank == v->ndim;
    for (int k = 0; k < v->ndim; k++) {
        md[k] = (hsize_t)v->shape[k];
        if (same && fd[k] != md[k])
            same = 0;
    }
    if (!same) {
        s = ic_seterr(IC_ERR_SHAPE,
                      "%s: %s: weight %d has shape %s in the file, %s in the model "
                      "(dataset '%s')",
                      r->file, lname, i, shape_str(a, sizeof a, rank, fd),
                      shape_str(b, sizeof b, v->ndim, md), wname);
        goto done;
    }
    int64_t numel = ic__numel(v->ndim, v->shape);
    buf = ic__malloc((size_t)(numel ? numel : 1) * sizeof(float));
    if (!buf) {
        s = IC_ERR_NOMEM;
        goto done;
    }
    if (numel && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        s = ic__h5_seterr(IC_ERR_IO, "%s: %s: reading dataset '%s' failed", r->file,
                          lname, wname);
        goto done;
    }
    if (r->theano && v->ndim == 4 && !strcmp(p->name, "kernel") &&
        !strcmp(leaf->vt->class_name, "Conv2D"))
        flip_kernel(buf, v->shape);
    r->pend[r->npend++] = (pending){p, buf};
    buf = NULL;
done:
    ic__free(buf);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
    return s;
}

/* Reads every tensor of a (model layer, file layer) pair into r->pend. On failure, the
 * pair's buffers are dropped again. */
static ic_status read_pair(reader *r, hid_t g, ic_layer *ml, const flayer *fl)
{
    char lname[400];
    if (strcmp(ml->name, fl->name))
        snprintf(lname, sizeof lname, "layer '%s' (file layer '%s')", ml->name, fl->name);
    else
        snprintf(lname, sizeof lname, "layer '%s'", ml->name);
    int n = layer_weights(ml, NULL, NULL, 0);
    if (r->npend + n > r->cap)
        return ic_seterr(IC_ERR_FORMAT, "%s: layer '%s' is listed more than once in layer_names",
                         r->file, fl->name);
    if (n != fl->nw)
        return ic_seterr(IC_ERR_SHAPE, "%s: %s has %d weights in the file, %d in the model",
                         r->file, lname, fl->nw, n);
    ic__param **ps = ic__malloc((size_t)(n ? n : 1) * sizeof *ps);
    ic_layer **ls = ic__malloc((size_t)(n ? n : 1) * sizeof *ls);
    ic_status s = IC_OK;
    hid_t lg = H5I_INVALID_HID;
    if (!ps || !ls) {
        s = IC_ERR_NOMEM;
        goto done;
    }
    layer_weights(ml, ps, ls, n);
    lg = H5Gopen2(g, fl->name, H5P_DEFAULT);
    if (lg < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: layer '%s' has no group", r->file, fl->name);
        goto done;
    }
    int first = r->npend;
    for (int i = 0; i < n && !s; i++)
        s = read_tensor(r, lg, lname, i, fl->wn[i], ps[i], ls[i]);
    if (s) {
        while (r->npend > first)
            ic__free(r->pend[--r->npend].buf);
    }
done:
    if (lg >= 0)
        H5Gclose(lg);
    ic__free(ps);
    ic__free(ls);
    return s;
}

static int has_attr(hid_t g, const char *name)
{
    return H5Aexists(g, name) > 0;
}

/* Reads layer_names and every listed layer's weight_names. */
static ic_status read_file_layers(hid_t g, const char *file, char ***names, flayer **out,
                                  int *n)
{
    *out = NULL;
    ic_status s = ic__h5_read_str_array_attr(g, "layer_names", file, names, n);
    if (s == IC_ERR_NOT_FOUND)
        return ic_seterr(IC_ERR_FORMAT, "%s: not a Keras weights file (no 'layer_names' "
                         "attribute)", file);
    if (s)
        return s;
    flayer *fl = ic__calloc((size_t)(*n ? *n : 1), sizeof *fl);
    if (!fl)
        return IC_ERR_NOMEM;
    for (int i = 0; i < *n && !s; i++) {
        fl[i].name = (*names)[i];
        htri_t ex = fl[i].name[0] ? H5Lexists(g, fl[i].name, H5P_DEFAULT) : 0;
        hid_t lg = ex > 0 ? H5Gopen2(g, fl[i].name, H5P_DEFAULT) : H5I_INVALID_HID;
        if (lg < 0) {
            s = ic_seterr(IC_ERR_FORMAT, "%s: layer '%s' is listed in layer_names but has no "
                          "group", file, fl[i].name);
            break;
        }
        s = ic__h5_read_str_array_attr(lg, "weight_names", file, &fl[i].wn, &fl[i].nw);
        if (s == IC_ERR_NOT_FOUND)
            s = ic_seterr(IC_ERR_FORMAT, "%s: layer group '%s' has no 'weight_names' attribute",
                          file, fl[i].name);
        H5Gclose(lg);
    }
    *out = fl;
    return s;
}

static ic_status by_order(reader *r, hid_t g, ic_model *m, const flayer *fl, int nf)
{
    int nm = ic_model_num_layers(m), fw = 0, mw = 0;
    for (int i = 0; i < nf; i++)
        fw += fl[i].nw > 0;
    for (int i = 0; i < nm; i++)
        mw += layer_weights(ic_model_layer(m, i), NULL, NULL, 0) > 0;
    if (fw != mw)
        return ic_seterr(IC_ERR_SHAPE, "%s: file has %d layers with weights, model '%s' has %d",
                         r->file, fw, m->name, mw);
    int j = 0;
    for (int i = 0; i < nm; i++) {
        ic_layer *l = ic_model_layer(m, i);
        if (layer_weights(l, NULL, NULL, 0) == 0)
            continue;
        while (fl[j].nw == 0)
            j++;
        ic_status s = read_pair(r, g, l, &fl[j++]);
        if (s)
            return s;
    }
    return IC_OK;
}

static ic_status by_name(reader *r, hid_t g, ic_model *m, const flayer *fl, int nf, int skip)
{
    int nm = ic_model_num_layers(m), unmatched = 0;
    for (int i = 0; i < nf; i++) {
        ic_layer *l = NULL;
        for (int k = 0; k < nm && !l; k++)
            if (!strcmp(ic_model_layer(m, k)->name, fl[i].name))
                l = ic_model_layer(m, k);
        if (!l) {
            unmatched += fl[i].nw > 0;
            continue;
        }
        if (fl[i].nw == 0 && layer_weights(l, NULL, NULL, 0) == 0)
            continue;
        ic_status s = read_pair(r, g, l, &fl[i]);
        if (s == IC_ERR_SHAPE && skip) {
            ic__log(2, "skipping layer '%s': %s", l->name, ic_errmsg());
            continue;
        }
        if (s)
            return s;
    }
    if (unmatched)
        ic__log(1, "%s: %d layers with weights in the file have no layer of that name in "
                "model '%s'", r->file, unmatched, m->name);
    return IC_OK;
}

ic_status ic__h5_read_weights(hid_t g, ic_model *m, const ic_load_weights_opts *o,
                              const char *file)
{
    ic__h5_quiet();
    ic_load_weights_opts def = ic_load_weights_opts_default();
    if (!o)
        o = &def;
    if (!has_attr(g, "layer_names") && !has_attr(g, "layer_names0") &&
        H5Lexists(g, "model_weights", H5P_DEFAULT) > 0) {
        hid_t mw = H5Gopen2(g, "model_weights", H5P_DEFAULT);
        if (mw < 0)
            return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot open group 'model_weights'", file);
        ic_status s = ic__h5_read_weights(mw, m, o, file);
        H5Gclose(mw);
        return s;
    }
    reader r = {file, 0, NULL, 0, 0};
    char *backend = NULL;
    ic_status s = ic__h5_read_str_attr(g, "backend", file, &backend);
    if (s == IC_ERR_NOT_FOUND)
        s = IC_OK;
    if (s)
        return s;
    r.theano = backend && !strcmp(backend, "theano");
    ic__free(backend);

    char **names = NULL;
    flayer *fl = NULL;
    int nf = 0;
    s = read_file_layers(g, file, &names, &fl, &nf);
    if (!s) {
        r.cap = ic_model_num_weights(m);
        r.pend = ic__malloc((size_t)(r.cap ? r.cap : 1) * sizeof *r.pend);
        if (!r.pend)
            s = IC_ERR_NOMEM;
    }
    if (!s)
        s = o->by_name ? by_name(&r, g, m, fl, nf, o->skip_mismatch) : by_order(&r, g, m, fl, nf);
    if (!s) { /* everything checked: commit */
        for (int i = 0; i < r.npend; i++) {
            ic__param *p = r.pend[i].p;
            memcpy(p->value.data, r.pend[i].buf,
                   (size_t)ic__numel(p->value.ndim, p->value.shape) * sizeof(float));
            p->version = ic__next_version();
        }
    }
    for (int i = 0; i < r.npend; i++)
        ic__free(r.pend[i].buf);
    ic__free(r.pend);
    if (fl)
        for (int i = 0; i < nf; i++)
            ic__free(fl[i].wn);
    ic__free(fl);
    ic__free(names);
    return s;
}
