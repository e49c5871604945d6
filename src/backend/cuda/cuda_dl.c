/* cuda_dl.c - opening cuDNN and cuBLAS on first use (cuda_dl.h says why). */
#define IC__CUDA_DL_IMPL
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "backend/cuda/cuda_dl.h"

ic__cuda_dl ic__cuda_fn;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static ic_status g_status;
static char g_msg[512];

#define IC__STR_(x) #x
#define IC__STR(x) IC__STR_(x) /* after expansion: cublasCreate -> "cublasCreate_v2" */

/* Opens lib (RTLD_LOCAL: its symbols stay out of the process's namespace). */
static void *open_lib(const char *lib, const char *what)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h && g_status == IC_OK) {
        g_status = IC_ERR_BACKEND;
        snprintf(g_msg, sizeof g_msg,
                 "cuda backend: cannot open %s (%s): %s; install it or add its folder to "
                 "LD_LIBRARY_PATH",
                 lib, what, dlerror());
    }
    return h;
}

static void sym(void *h, const char *name, void **dst)
{
    if (!h || g_status != IC_OK)
        return;
    *dst = dlsym(h, name);
    if (!*dst) {
        g_status = IC_ERR_BACKEND;
        snprintf(g_msg, sizeof g_msg, "cuda backend: %s is missing from the loaded library: %s",
                 name, dlerror());
    }
}

static void load(void)
{
    g_status = IC_OK;
    void *dnn = open_lib("libcudnn.so.9", "cuDNN 9");
    void *blas = open_lib("libcublas.so.13", "cuBLAS 13");
#define IC__CUDNN_SYM(f) sym(dnn, IC__STR(f), (void **)&ic__cuda_fn.p_##f);
#define IC__CUBLAS_SYM(f) sym(blas, IC__STR(f), (void **)&ic__cuda_fn.p_##f);
    IC__CUDNN_FUNCS(IC__CUDNN_SYM)
    IC__CUBLAS_FUNCS(IC__CUBLAS_SYM)
}

ic_status ic__cuda_dl_load(char *msg, size_t size)
{
    pthread_once(&g_once, load);
    if (g_status != IC_OK && msg && size)
        snprintf(msg, size, "%s", g_msg);
    return g_status;
}
