/* tensor.h - float32 tensors, up to 4 dimensions, logical NHWC (Keras channels_last).
 *
 * Ownership: ic_tensor_create allocates and owns its storage; ic_tensor_wrap and
 * ic_tensor_view do not own theirs (the caller keeps the memory, or the viewed tensor,
 * alive longer than the view). ic_tensor_free releases the handle and, when owned,
 * the storage. Data is contiguous row-major (the last dimension varies fastest).
 */
#ifndef IMGCLASS_TENSOR_H
#define IMGCLASS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IC_MAX_DIMS 4

typedef struct ic_tensor ic_tensor;

/* New zero-filled tensor of the given shape (1..4 dims, each >= 1). Caller frees. */
ic_status ic_tensor_create(ic_tensor **out, int ndim, const int64_t *shape);
/* A tensor over caller memory (not copied, not freed). Caller frees the handle. */
ic_status ic_tensor_wrap(ic_tensor **out, float *data, int ndim, const int64_t *shape);
/* A view of rows [start, start+count) of the first dimension of src (shares storage). */
ic_status ic_tensor_view(ic_tensor **out, const ic_tensor *src, int64_t start, int64_t count);
/* Deep copy. Caller frees. */
ic_status ic_tensor_clone(ic_tensor **out, const ic_tensor *src);
/* Frees the handle (and storage if owned). NULL is accepted. */
void ic_tensor_free(ic_tensor *t);

int ic_tensor_ndim(const ic_tensor *t);
int64_t ic_tensor_dim(const ic_tensor *t, int i); /* negative i counts from the end */
int64_t ic_tensor_numel(const ic_tensor *t);
float *ic_tensor_data(ic_tensor *t);
const float *ic_tensor_cdata(const ic_tensor *t);
/* Writes "(2, 150, 150, 3)" into buf. Returns buf. */
char *ic_tensor_shape_str(const ic_tensor *t, char *buf, size_t size);

/* Fills with a constant. */
void ic_tensor_fill(ic_tensor *t, float v);
/* Copies src into dst; shapes must have the same element count. */
ic_status ic_tensor_copy(ic_tensor *dst, const ic_tensor *src);

#ifdef __cplusplus
}
#endif
#endif
