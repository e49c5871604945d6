/* merge.c - Add (element-wise sum of 2+ inputs of identical shape, no broadcasting) and
 * Concatenate (along the last, channel, axis; all other dimensions equal). Plain C. */
#include <cjson/cJSON.h>
#include <string.h>

#include "layer_impl.h"

#define PAR_MIN 32768 /* values below which a loop stays single-threaded */

static ic_status expect_several(const ic_layer *l, int n_in)
{
    if (n_in < 2)
        return ic_seterr(IC_ERR_INVALID,
                         "layer '%s' (%s) should be called on a list of at least 2 inputs, got "
                         "%d",
                         l->name, l->vt->class_name, n_in);
    return IC_OK;
}

/* ---- Add ---- */

static ic_status add_build(ic_layer *l, int n_in, const ic__shape *in)
{
    ic_status s = expect_several(l, n_in);
    if (s)
        return s;
    for (int k = 1; k < n_in; k++)
        if (!ic__shape_eq(&in[0], &in[k])) {
            char a[64], b[64];
            return ic_seterr(IC_ERR_SHAPE,
                             "layer '%s' (Add): all inputs must have the same shape, but input "
                             "0 is %s and input %d is %s",
                             l->name, ic__shape_fmt(&in[0], a, sizeof a), k,
                             ic__shape_fmt(&in[k], b, sizeof b));
        }
    l->out = in[0];
    return IC_OK;
}

static ic_status add_forward(ic_layer *l, const ic__fwd_args *a)
{
    const int64_t n = ic_tensor_numel(a->out);
    float *y = a->out->data;
    const float *x0 = a->in[0]->data, *x1 = a->in[1]->data;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        y[i] = x0[i] + x1[i];
    for (int k = 2; k < a->n_in; k++) { /* left to right, as Keras sums */
        const float *xk = a->in[k]->data;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            y[i] += xk[i];
    }
    return IC_OK;
}

static ic_status add_backward(ic_layer *l, const ic__bwd_args *a)
{
    const size_t bytes = (size_t)ic_tensor_numel(a->diff_out) * sizeof(float);
    for (int k = 0; k < a->n_in; k++)
        if (a->diff_in[k])
            memcpy(a->diff_in[k]->data, a->diff_out->data, bytes);
    return IC_OK;
}

/* Keras 2.2.4 Add.get_config(): the base Layer fields only. */
static ic_status add_get_config(const ic_layer *l, cJSON *c) { return ic__cfg_base(l, c); }

static const ic__layer_vtbl add_vt = {"Add",       add_build,    NULL, NULL,
                                      add_forward, add_backward, NULL, add_get_config};

ic_status ic_layer_add(ic_layer **out, const char *name)
{
    *out = NULL;
    ic_layer *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    ic__layer_init(l, &add_vt, name, "add");
    *out = l;
    return IC_OK;
}

/* ---- Concatenate (last axis) ---- */

static ic_status concat_build(ic_layer *l, int n_in, const ic__shape *in)
{
    ic_status s = expect_several(l, n_in);
    if (s)
        return s;
    const int nd = in[0].ndim;
    int64_t c = 0;
    for (int k = 0; k < n_in; k++) {
        int ok = in[k].ndim == nd;
        for (int i = 0; ok && i < nd - 1; i++)
            ok = in[k].d[i] == in[0].d[i];
        if (!ok) {
            char a[64], b[64];
            return ic_seterr(IC_ERR_SHAPE,
                             "layer '%s' (Concatenate) requires inputs with matching shapes "
                             "except for the concatenation (last) axis, but input 0 is %s and "
                             "input %d is %s",
                             l->name, ic__shape_fmt(&in[0], a, sizeof a), k,
                             ic__shape_fmt(&in[k], b, sizeof b));
        }
        c += in[k].d[nd - 1];
    }
    l->out = in[0];
    l->out.d[nd - 1] = c;
    return IC_OK;
}

/* Every tensor is (rows, channels) with rows = batch * the other dimensions; output row r
 * is input 0's row r, then input 1's, ... */
static ic_status concat_forward(ic_layer *l, const ic__fwd_args *a)
{
    const ic_tensor *o = a->out;
    const int64_t C = o->shape[o->ndim - 1];
    const int64_t rows = ic_tensor_numel(o) / C;
    float *y = o->data;
    const ic_tensor *const *in = a->in;
    const int k_in = a->n_in;
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * C;
        for (int k = 0; k < k_in; k++) {
            const int64_t ck = in[k]->shape[in[k]->ndim - 1];
            memcpy(yr, in[k]->data + r * ck, (size_t)ck * sizeof *yr);
            yr += ck;
        }
    }
    return IC_OK;
}

static ic_status concat_backward(ic_layer *l, const ic__bwd_args *a)
{
    const ic_tensor *o = a->diff_out;
    const int64_t C = o->shape[o->ndim - 1];
    const int64_t rows = ic_tensor_numel(o) / C;
    const float *dy = o->data;
    ic_tensor *const *din = a->diff_in;
    const ic_tensor *const *in = a->in;
    const int k_in = a->n_in;
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *dr = dy + r * C;
        for (int k = 0; k < k_in; k++) {
            const int64_t ck = in[k]->shape[in[k]->ndim - 1];
            if (din[k])
                memcpy(din[k]->data + r * ck, dr, (size_t)ck * sizeof *dr);
            dr += ck;
        }
    }
    return IC_OK;
}

/* Keras 2.2.4 Concatenate.get_config(): axis -1 always. */
static ic_status concat_get_config(const ic_layer *l, cJSON *c)
{
    return ic__cfg_int(ic__cfg_base(l, c), c, "axis", -1);
}

static const ic__layer_vtbl concat_vt = {"Concatenate",  concat_build,    NULL, NULL,
                                         concat_forward, concat_backward, NULL,
                                         concat_get_config};

ic_status ic_layer_concatenate(ic_layer **out, const char *name)
{
    *out = NULL;
    ic_layer *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    ic__layer_init(l, &concat_vt, name, "concatenate");
    *out = l;
    return IC_OK;
}

/* Keras Add / Concatenate configs -> layers (Concatenate along the last axis only). */
ic_status ic__add_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    return ic_layer_add(out, r->name);
}

ic_status ic__concatenate_from_config(const ic__cfg_rd *r, ic_layer **out)
{
    ic_status s = ic__rd_axis(r);
    return s ? s : ic_layer_concatenate(out, r->name);
}
