/* cuda_dl.h - cuDNN and cuBLAS, opened with dlopen when the cuda backend starts rather than
 * linked. Linked, the loader maps them (about a gigabyte of code) into every process that
 * uses the library, GPU or not: `imgclass --version` took a second and 230 MB. Opened on
 * first use, only a run that selects cuda on a machine with a GPU pays for them.
 *
 * Every cuDNN/cuBLAS function the backend calls is listed once in IC__CUDA_DL_FUNCS; the
 * table holds a pointer of the function's own type (checked by the compiler against the
 * headers), and the macros below send the backend's calls through it, so the call sites
 * read as plain cuDNN/cuBLAS. A function added to the backend must be added here (the build
 * then fails to link if it is not, since the libraries are not linked). */
#ifndef IC_CUDA_DL_H
#define IC_CUDA_DL_H

#include <stddef.h>

#include <cublas_v2.h>
#include <cudnn.h>

#include "imgclass/status.h"

#define IC__CUDNN_FUNCS(X)                                                                 \
    X(cudnnCreate)                                                                         \
    X(cudnnGetVersion)                                                                     \
    X(cudnnGetErrorString)                                                                 \
    X(cudnnCreateTensorDescriptor)                                                         \
    X(cudnnSetTensor4dDescriptor)                                                          \
    X(cudnnDestroyTensorDescriptor)                                                        \
    X(cudnnCreateFilterDescriptor)                                                         \
    X(cudnnSetFilter4dDescriptor)                                                          \
    X(cudnnDestroyFilterDescriptor)                                                        \
    X(cudnnCreateConvolutionDescriptor)                                                    \
    X(cudnnSetConvolution2dDescriptor)                                                     \
    X(cudnnSetConvolutionGroupCount)                                                       \
    X(cudnnSetConvolutionMathType)                                                         \
    X(cudnnDestroyConvolutionDescriptor)                                                   \
    X(cudnnGetConvolution2dForwardOutputDim)                                               \
    X(cudnnGetConvolutionForwardAlgorithm_v7)                                              \
    X(cudnnGetConvolutionBackwardDataAlgorithm_v7)                                         \
    X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                                       \
    X(cudnnGetConvolutionForwardWorkspaceSize)                                             \
    X(cudnnGetConvolutionBackwardDataWorkspaceSize)                                        \
    X(cudnnGetConvolutionBackwardFilterWorkspaceSize)                                      \
    X(cudnnConvolutionForward)                                                             \
    X(cudnnConvolutionBackwardData)                                                        \
    X(cudnnConvolutionBackwardFilter)

/* cublas_v2.h maps cublasCreate, cublasSgemm and cublasSgemv to their _v2 symbols; the
 * table's types and the names looked up follow that mapping. */
#define IC__CUBLAS_FUNCS(X)                                                                \
    X(cublasCreate)                                                                        \
    X(cublasSetMathMode)                                                                   \
    X(cublasGetStatusString)                                                               \
    X(cublasSgemm)                                                                         \
    X(cublasSgemv)

#define IC__CUDA_DL_MEMBER(f) __typeof__(f) *p_##f;
typedef struct ic__cuda_dl {
    IC__CUDNN_FUNCS(IC__CUDA_DL_MEMBER)
    IC__CUBLAS_FUNCS(IC__CUDA_DL_MEMBER)
} ic__cuda_dl;
extern ic__cuda_dl ic__cuda_fn;

/* Opens libcudnn.so.9 and libcublas.so.13 and fills ic__cuda_fn (once; later calls return
 * the first result). On failure, msg says which library or symbol is missing. */
ic_status ic__cuda_dl_load(char *msg, size_t size);

#ifndef IC__CUDA_DL_IMPL
#define cudnnCreate (ic__cuda_fn.p_cudnnCreate)
#define cudnnGetVersion (ic__cuda_fn.p_cudnnGetVersion)
#define cudnnGetErrorString (ic__cuda_fn.p_cudnnGetErrorString)
#define cudnnCreateTensorDescriptor (ic__cuda_fn.p_cudnnCreateTensorDescriptor)
#define cudnnSetTensor4dDescriptor (ic__cuda_fn.p_cudnnSetTensor4dDescriptor)
#define cudnnDestroyTensorDescriptor (ic__cuda_fn.p_cudnnDestroyTensorDescriptor)
#define cudnnCreateFilterDescriptor (ic__cuda_fn.p_cudnnCreateFilterDescriptor)
#define cudnnSetFilter4dDescriptor (ic__cuda_fn.p_cudnnSetFilter4dDescriptor)
#define cudnnDestroyFilterDescriptor (ic__cuda_fn.p_cudnnDestroyFilterDescriptor)
#define cudnnCreateConvolutionDescriptor (ic__cuda_fn.p_cudnnCreateConvolutionDescriptor)
#define cudnnSetConvolution2dDescriptor (ic__cuda_fn.p_cudnnSetConvolution2dDescriptor)
#define cudnnSetConvolutionGroupCount (ic__cuda_fn.p_cudnnSetConvolutionGroupCount)
#define cudnnSetConvolutionMathType (ic__cuda_fn.p_cudnnSetConvolutionMathType)
#define cudnnDestroyConvolutionDescriptor (ic__cuda_fn.p_cudnnDestroyConvolutionDescriptor)
#define cudnnGetConvolution2dForwardOutputDim                                              \
    (ic__cuda_fn.p_cudnnGetConvolution2dForwardOutputDim)
#define cudnnGetConvolutionForwardAlgorithm_v7                                             \
    (ic__cuda_fn.p_cudnnGetConvolutionForwardAlgorithm_v7)
#define cudnnGetConvolutionBackwardDataAlgorithm_v7                                        \
    (ic__cuda_fn.p_cudnnGetConvolutionBackwardDataAlgorithm_v7)
#define cudnnGetConvolutionBackwardFilterAlgorithm_v7                                      \
    (ic__cuda_fn.p_cudnnGetConvolutionBackwardFilterAlgorithm_v7)
#define cudnnGetConvolutionForwardWorkspaceSize                                            \
    (ic__cuda_fn.p_cudnnGetConvolutionForwardWorkspaceSize)
#define cudnnGetConvolutionBackwardDataWorkspaceSize                                       \
    (ic__cuda_fn.p_cudnnGetConvolutionBackwardDataWorkspaceSize)
#define cudnnGetConvolutionBackwardFilterWorkspaceSize                                     \
    (ic__cuda_fn.p_cudnnGetConvolutionBackwardFilterWorkspaceSize)
#define cudnnConvolutionForward (ic__cuda_fn.p_cudnnConvolutionForward)
#define cudnnConvolutionBackwardData (ic__cuda_fn.p_cudnnConvolutionBackwardData)
#define cudnnConvolutionBackwardFilter (ic__cuda_fn.p_cudnnConvolutionBackwardFilter)
#define cublasCreate_v2 (ic__cuda_fn.p_cublasCreate)
#define cublasSetMathMode (ic__cuda_fn.p_cublasSetMathMode)
#define cublasGetStatusString (ic__cuda_fn.p_cublasGetStatusString)
#define cublasSgemm_v2 (ic__cuda_fn.p_cublasSgemm)
#define cublasSgemv_v2 (ic__cuda_fn.p_cublasSgemv)
#endif

#endif
