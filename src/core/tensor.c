/* tensor.c - float32 tensors: owned storage, wrappers over caller memory, row views. */
#include <stdio.h>
#include <string.h>

#include "core.h"

int64_t ic__numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

void ic__tensor_init(ic_tensor *t, float *data, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = data;
}

static ic_status check_shape(int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > IC_MAX_DIMS)
        return ic_seterr(IC_ERR_INVALID, "tensor rank %d is outside 1..%d", ndim, IC_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return ic_seterr(IC_ERR_SHAPE, "tensor dimension %d is %lld (must be >= 1)", i,
                             (long long)shape[i]);
        if (n > INT64_MAX / 4 / shape[i])
            return ic_seterr(IC_ERR_SHAPE, "tensor shape overflows");
        n *= shape[i];
    }
    return IC_OK;
}

ic_status ic_tensor_create(ic_tensor **out, int ndim, const int64_t *shape)
{
    *out = NULL;
    ic_status s = check_shape(ndim, shape);
    if (s)
        return s;
    ic_tensor *t = ic__malloc(sizeof *t);
    if (!t)
        return IC_ERR_NOMEM;
    int64_t n = ic__numel(ndim, shape);
    float *d = ic__malloc_aligned((size_t)n * sizeof(float));
    if (!d) {
        ic__free(t);
        return IC_ERR_NOMEM;
    }
    memset(d, 0, (size_t)n * sizeof(float));
    ic__tensor_init(t, d, ndim, shape);
    t->owns = 1;
    *out = t;
    return IC_OK;
}

ic_status ic_tensor_wrap(ic_tensor **out, float *data, int ndim, const int64_t *shape)
{
    *out = NULL;
    ic_status s = check_shape(ndim, shape);
    if (s)
        return s;
    if (!data)
        return ic_seterr(IC_ERR_INVALID, "ic_tensor_wrap: data is NULL");
    ic_tensor *t = ic__malloc(sizeof *t);
    if (!t)
        return IC_ERR_NOMEM;
    ic__tensor_init(t, data, ndim, shape);
    *out = t;
    return IC_OK;
}

ic_status ic_tensor_view(ic_tensor **out, const ic_tensor *src, int64_t start, int64_t count)
{
    *out = NULL;
    if (start < 0 || count < 1 || start + count > src->shape[0])
        return ic_seterr(IC_ERR_INVALID, "view rows [%lld, %lld) outside 0..%lld",
                         (long long)start, (long long)(start + count), (long long)src->shape[0]);
    int64_t row = ic__numel(src->ndim - 1, src->shape + 1);
    int64_t shape[IC_MAX_DIMS];
    memcpy(shape, src->shape, sizeof shape);
    shape[0] = count;
    return ic_tensor_wrap(out, src->data + start * row, src->ndim, shape);
}

ic_status ic_tensor_clone(ic_tensor **out, const ic_tensor *src)
{
    ic_status s = ic_tensor_create(out, src->ndim, src->shape);
    if (s)
        return s;
    memcpy((*out)->data, src->data, (size_t)ic_tensor_numel(src) * sizeof(float));
    return IC_OK;
}

void ic_tensor_free(ic_tensor *t)
{
    if (!t)
        return;
    if (t->owns)
        ic__free_aligned(t->data);
    ic__free(t);
}

int ic_tensor_ndim(const ic_tensor *t) { return t->ndim; }

int64_t ic_tensor_dim(const ic_tensor *t, int i)
{
    if (i < 0)
        i += t->ndim;
    return (i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}

int64_t ic_tensor_numel(const ic_tensor *t) { return ic__numel(t->ndim, t->shape); }
float *ic_tensor_data(ic_tensor *t) { return t->data; }
const float *ic_tensor_cdata(const ic_tensor *t) { return t->data; }

char *ic__shape_str(char *buf, size_t size, int ndim, const int64_t *shape, int with_batch)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, size - k, "(%s", with_batch ? "None" : "");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", (i || with_batch) ? ", " : "",
                              (long long)shape[i]);
    /* Python prints a 1-tuple as "(5,)" */
    if (k < size && !with_batch && ndim == 1)
        k += (size_t)snprintf(buf + k, size - k, ",");
    if (k < size)
        snprintf(buf + k, size - k, ")");
    return buf;
}

char *ic_tensor_shape_str(const ic_tensor *t, char *buf, size_t size)
{
    return ic__shape_str(buf, size, t->ndim, t->shape, 0);
}

void ic_tensor_fill(ic_tensor *t, float v)
{
    int64_t n = ic_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        t->data[i] = v;
}

ic_status ic_tensor_copy(ic_tensor *dst, const ic_tensor *src)
{
    if (ic_tensor_numel(dst) != ic_tensor_numel(src)) {
        char a[64], b[64];
        return ic_seterr(IC_ERR_SHAPE, "cannot copy a %s tensor into a %s tensor",
                         ic_tensor_shape_str(src, a, sizeof a), ic_tensor_shape_str(dst, b, sizeof b));
    }
    memmove(dst->data, src->data, (size_t)ic_tensor_numel(src) * sizeof(float));
    return IC_OK;
}
