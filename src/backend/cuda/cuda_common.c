/* cuda_common.c - the cuda backend's process state (GPU check, cuDNN and cuBLAS handles,
 * the call lock), error translation, device buffers and op headers. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_common.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init_done;
static ic_status g_init_status;
static char g_init_msg[512];
static ic__cuda_ctx g_ctx;

void ic__cuda_lock(void) { pthread_mutex_lock(&g_lock); }
void ic__cuda_unlock(void) { pthread_mutex_unlock(&g_lock); }

static ic_status init_fail(const char *fmt, ...) IC__PRINTF(1, 2);
static ic_status init_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_init_msg, sizeof g_init_msg, fmt, ap);
    va_end(ap);
    g_init_status = IC_ERR_BACKEND;
    return g_init_status;
}

static ic_status init_once(void)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return init_fail("no CUDA GPU (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
    if (count <= 0)
        return init_fail("no CUDA GPU (cudaGetDeviceCount: 0 devices)");
    if ((e = cudaSetDevice(0)) != cudaSuccess)
        return init_fail("cuda backend: cudaSetDevice(0): %s", cudaGetErrorString(e));
    /* only now, with a GPU there, are cuDNN and cuBLAS opened (cuda_dl.h) */
    char dlmsg[512];
    if (ic__cuda_dl_load(dlmsg, sizeof dlmsg) != IC_OK)
        return init_fail("%s", dlmsg);
    cudnnStatus_t ds = cudnnCreate(&g_ctx.dnn);
    if (ds != CUDNN_STATUS_SUCCESS)
        return init_fail("cuda backend: cudnnCreate: %s (cuDNN %zu loaded, built with %d)",
                         cudnnGetErrorString(ds), cudnnGetVersion(), CUDNN_VERSION);
    cublasStatus_t bs = cublasCreate(&g_ctx.blas);
    if (bs != CUBLAS_STATUS_SUCCESS)
        return init_fail("cuda backend: cublasCreate: %s", cublasGetStatusString(bs));
    const char *t = getenv("IC_CUDA_TF32");
    g_ctx.tf32 = t && !strcmp(t, "1");
    /* CUBLAS_DEFAULT_MATH never uses TF32 tensor cores for sgemm (unless the
     * NVIDIA_TF32_OVERRIDE variable forces it); CUBLAS_TF32_TENSOR_OP_MATH allows them. */
    bs = cublasSetMathMode(g_ctx.blas, g_ctx.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                  : CUBLAS_DEFAULT_MATH);
    if (bs != CUBLAS_STATUS_SUCCESS)
        return init_fail("cuda backend: cublasSetMathMode: %s", cublasGetStatusString(bs));
    g_init_status = IC_OK;
    return IC_OK;
}

ic_status ic__cuda_init(ic__cuda_ctx **ctx)
{
    pthread_mutex_lock(&g_init_lock);
    if (!g_init_done) {
        init_once();
        g_init_done = 1;
    }
    ic_status s = g_init_status;
    pthread_mutex_unlock(&g_init_lock);
    if (s != IC_OK)
        return ic_seterr(s, "%s", g_init_msg);
    *ctx = &g_ctx;
    return IC_OK;
}

/* The registry's entry (backend.h): the table only when a GPU is usable. */
const ic__backend *ic__cuda_table(void);
ic_status ic__backend_cuda(const ic__backend **out)
{
    ic__cuda_ctx *ctx;
    IC__TRY(ic__cuda_init(&ctx));
    *out = ic__cuda_table();
    return IC_OK;
}

ic_status ic__cuda_fail_rt(const ic__op *op, const char *call, cudaError_t e)
{
    cudaGetLastError(); /* clear a sticky launch error so the next call starts clean */
    return ic_seterr(e == cudaErrorMemoryAllocation ? IC_ERR_NOMEM : IC_ERR_BACKEND,
                     "cuda backend: %s: %s failed: %s", op ? op->what : "", call,
                     cudaGetErrorString(e));
}

ic_status ic__cuda_fail_dnn(const ic__op *op, const char *call, cudnnStatus_t s)
{
    return ic_seterr(s == CUDNN_STATUS_ALLOC_FAILED ? IC_ERR_NOMEM : IC_ERR_BACKEND,
                     "cuda backend: %s: %s failed: %s", op ? op->what : "", call,
                     cudnnGetErrorString(s));
}

ic_status ic__cuda_fail_blas(const ic__op *op, const char *call, cublasStatus_t s)
{
    return ic_seterr(s == CUBLAS_STATUS_ALLOC_FAILED ? IC_ERR_NOMEM : IC_ERR_BACKEND,
                     "cuda backend: %s: %s failed: %s", op ? op->what : "", call,
                     cublasGetStatusString(s));
}

ic_status ic__cuda_op_alloc(ic__op **op, size_t size, ic__cuda_kind kind, ic__cuda_ctx **ctx)
{
    *op = NULL;
    IC__TRY(ic__cuda_init(ctx));
    ic__op *o = ic__calloc(1, size);
    if (!o)
        return IC_ERR_NOMEM;
    o->kind = kind;
    *op = o;
    return IC_OK;
}

ic_status ic__cuda_op_check(const ic__op *op, ic__cuda_kind kind, const char *fn)
{
    if (!op)
        return ic_seterr(IC_ERR_INVALID, "cuda backend: %s: op is NULL", fn);
    if (op->kind != kind)
        return ic_seterr(IC_ERR_INVALID, "cuda backend: %s: op of the wrong kind (%d, want %d)",
                         fn, (int)op->kind, (int)kind);
    return IC_OK;
}

ic_status ic__cuda_alloc(const ic__op *op, void **p, size_t bytes)
{
    *p = NULL;
    if (!bytes)
        return IC_OK;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = NULL;
        cudaGetLastError();
        return ic_seterr(IC_ERR_NOMEM, "cuda backend: %s: cudaMalloc of %zu bytes failed: %s",
                         op ? op->what : "", bytes, cudaGetErrorString(e));
    }
    return IC_OK;
}

void ic__cuda_free_buf(void *p)
{
    if (p)
        cudaFree(p);
}

ic_status ic__cuda_upload(const ic__op *op, void *dev, const void *host, size_t bytes)
{
    if (bytes)
        IC__CU(op, cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice));
    return IC_OK;
}

/* The copy back waits for the kernels before it on the default stream; an error of
 * theirs (an illegal address) shows up here. */
ic_status ic__cuda_download(const ic__op *op, void *host, const void *dev, size_t bytes)
{
    if (bytes)
        IC__CU(op, cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
    return IC_OK;
}
