/* cuda_common.h - shared pieces of the cuda backend (private to src/backend/cuda/).
 *
 * The backend sits behind the host-pointer interface of backend.h: every call uploads its
 * inputs into device buffers the op owns (sized by the desc, allocated at create, the
 * backward buffers on first use), computes with cuDNN, cuBLAS or the kernels of
 * cuda_kernels.cu, and downloads its outputs before returning. Converted weights stay on
 * the device, cached by (pointer, weights_version) as in the cpu backend.
 *
 * One cuDNN handle and one cuBLAS handle for the process, on the default stream, and one
 * mutex: calls from several threads run one after the other (the handles are not meant to
 * be shared by concurrent calls, and each call is synchronous anyway).
 *
 * fp32 only: the table has no bf16 twin (with_prec(BF16) is NULL, prec_native(BF16) 0), so
 * a bf16 model falls back to f32 on this backend. Tensor-core math (TF32) is off unless
 * IC_CUDA_TF32=1, so results match the reference backend within fp32 tolerances.
 *
 * Every op struct starts with `ic__op` (below) so op_free can dispatch. */
#ifndef IC_CUDA_COMMON_H
#define IC_CUDA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_dl.h" /* cuDNN and cuBLAS, opened on first use */

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "core/core.h"

typedef enum ic__cuda_kind {
    IC__CUDA_CONV = 1,
    IC__CUDA_POOL,
    IC__CUDA_DENSE,
    IC__CUDA_ELTWISE,
    IC__CUDA_SOFTMAX,
    IC__CUDA_BN
} ic__cuda_kind;

/* Common header, the first member of every cuda op. */
struct ic__op {
    ic__cuda_kind kind;
    char what[160]; /* the op and its shapes, for error messages */
};

/* The process's handles (created by ic__cuda_init). */
typedef struct ic__cuda_ctx {
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    int tf32; /* IC_CUDA_TF32=1: tensor-op math allowed in cuDNN and cuBLAS */
} ic__cuda_ctx;

/* Checks for a usable GPU and creates the handles, once; later calls return the first
 * call's outcome (and its message again). */
ic_status ic__cuda_init(ic__cuda_ctx **ctx);

/* The call lock (see above). */
void ic__cuda_lock(void);
void ic__cuda_unlock(void);

/* Failed calls, translated into IC_ERR_BACKEND naming the call and op->what (op may be
 * NULL). A failed allocation is IC_ERR_NOMEM. */
ic_status ic__cuda_fail_rt(const ic__op *op, const char *call, cudaError_t e);
ic_status ic__cuda_fail_dnn(const ic__op *op, const char *call, cudnnStatus_t s);
ic_status ic__cuda_fail_blas(const ic__op *op, const char *call, cublasStatus_t s);

#define IC__CU(op, call)                                                                           \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return ic__cuda_fail_rt((op), #call, e_);                                              \
    } while (0)
#define IC__DNN(op, call)                                                                          \
    do {                                                                                           \
        cudnnStatus_t s_ = (call);                                                                 \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                            \
            return ic__cuda_fail_dnn((op), #call, s_);                                             \
    } while (0)
#define IC__BLAS(op, call)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return ic__cuda_fail_blas((op), #call, s_);                                            \
    } while (0)
/* A kernel launcher of cuda_kernels.cu (returns cudaGetLastError()). */
#define IC__KER(op, call) IC__CU(op, (cudaError_t)(call))
#define IC__TRY(call)                                                                              \
    do {                                                                                           \
        ic_status st_ = (call);                                                                    \
        if (st_ != IC_OK)                                                                          \
            return st_;                                                                            \
    } while (0)

/* Allocates and initialises an op of `size` bytes (zeroed) after ic__cuda_init. */
ic_status ic__cuda_op_alloc(ic__op **op, size_t size, ic__cuda_kind kind, ic__cuda_ctx **ctx);
/* Checks that op is non-NULL and of the given kind. */
ic_status ic__cuda_op_check(const ic__op *op, ic__cuda_kind kind, const char *fn);

/* Device buffers of floats: *p = NULL when n <= 0 is asked for (nothing to allocate). */
ic_status ic__cuda_alloc(const ic__op *op, void **p, size_t bytes);
void ic__cuda_free_buf(void *p);
#define IC__FLOATS(n) ((size_t)(n) * sizeof(float))
ic_status ic__cuda_upload(const ic__op *op, void *dev, const void *host, size_t bytes);
ic_status ic__cuda_download(const ic__op *op, void *host, const void *dev, size_t bytes);

/* Device copy of host weights, keyed by (pointer, version); version 0 is never reused. */
typedef struct ic__cuda_wcache {
    const float *ptr;
    uint64_t version;
} ic__cuda_wcache;
/* 1 when the cache holds (w, version). */
static inline int ic__cuda_wcache_hit(const ic__cuda_wcache *c, const float *w, uint64_t version)
{
    return version != 0 && c->ptr == w && c->version == version;
}
static inline void ic__cuda_wcache_set(ic__cuda_wcache *c, const float *w, uint64_t version)
{
    c->ptr = w;
    c->version = version;
}

/* Per-family creators, calls and destructors (cuda_conv.c, cuda_dense.c, cuda_misc.c).
 * Every public entry takes the call lock itself; the destructors run under it. */
void ic__cuda_conv_free(ic__op *op);
void ic__cuda_dense_free(ic__op *op);
void ic__cuda_pool_free(ic__op *op);
void ic__cuda_misc_free(ic__op *op);

ic_status ic__cuda_conv_create(ic__op **op, const ic__conv_desc *d);
ic_status ic__cuda_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias);
ic_status ic__cuda_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version);
ic_status ic__cuda_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst);
/* The cuDNN algorithms and layout the op chose (bench and test output). */
const char *ic__cuda_conv_algos(const ic__op *op);

ic_status ic__cuda_pool_create(ic__op **op, const ic__pool_desc *d);
ic_status ic__cuda_pool_fwd(ic__op *op, float *dst, const float *src, int training);
ic_status ic__cuda_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *src);

ic_status ic__cuda_dense_create(ic__op **op, const ic__dense_desc *d);
ic_status ic__cuda_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                             uint64_t weights_version, const float *bias);
ic_status ic__cuda_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                  const float *weights, uint64_t weights_version);
ic_status ic__cuda_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                     const float *src, const float *diff_dst);

ic_status ic__cuda_eltwise_create(ic__op **op, const ic__eltwise_desc *d);
ic_status ic__cuda_eltwise_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__cuda_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                               const float *dst);

ic_status ic__cuda_softmax_create(ic__op **op, const ic__softmax_desc *d);
ic_status ic__cuda_softmax_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__cuda_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                               const float *dst);

ic_status ic__cuda_bn_create(ic__op **op, const ic__bn_desc *d);
ic_status ic__cuda_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var,
                                   const float *src, const float *gamma, const float *beta);
ic_status ic__cuda_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                    const float *beta, const float *mean, const float *var);
ic_status ic__cuda_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                          const float *diff_dst, const float *src, const float *mean,
                          const float *var, const float *gamma, int global_stats);

#endif
