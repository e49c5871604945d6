/* registry.c - choosing the compute backend. The only place that knows which backends
 * exist, and the only #ifdef IC_HAVE_CUDA outside src/backend/cuda/: a build without the
 * cuda backend still knows its name, to say why it cannot have it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "core/core.h"
#include "imgclass/model.h"

static const ic__backend *g_current;

ic_status ic__backend_by_name(const char *name, const ic__backend **out)
{
    if (!strcmp(name, "cpu") || !strcmp(name, "onednn"))
        *out = ic__backend_cpu();
    else if (!strcmp(name, "ref"))
        *out = ic__backend_ref();
    else if (!strcmp(name, "cuda"))
#ifdef IC_HAVE_CUDA
        return ic__backend_cuda(out);
#else
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "this build has no CUDA backend (configure with IMGCLASS_CUDA=ON)");
#endif
    else
        return ic_seterr(IC_ERR_INVALID, "unknown backend '%s' (expected cpu, ref or cuda)", name);
    return IC_OK;
}

#ifdef IC_HAVE_CUDA
ic_status ic__cuda_dl_load(char *msg, size_t size); /* backend/cuda/cuda_dl.h */
#endif

ic_status ic__backend_cuda_libs(char *msg, size_t size)
{
#ifdef IC_HAVE_CUDA
    return ic__cuda_dl_load(msg, size);
#else
    snprintf(msg, size, "this build has no CUDA backend");
    return IC_ERR_UNSUPPORTED;
#endif
}

const ic__backend *ic__backend_current(void)
{
    if (!g_current) {
        const char *e = getenv("IC_BACKEND");
        if (e && *e && ic__backend_by_name(e, &g_current) != IC_OK) {
            /* no way to return an error from here: say why, then run on the default */
            ic__log(2, "IC_BACKEND=%s: %s; using cpu", e, ic_errmsg());
            g_current = NULL;
        }
        if (!g_current)
            g_current = ic__backend_cpu();
        ic__threads_init();
    }
    return g_current;
}

ic_status ic_set_backend(const char *name)
{
    const ic__backend *b;
    ic_status s = ic__backend_by_name(name, &b);
    if (s == IC_OK)
        g_current = b;
    return s;
}

void ic__backend_set(const ic__backend *be) { g_current = be; }

const char *ic_backend_name(void) { return ic__backend_current()->name; }

const ic__backend *ic__backend_with_prec(const ic__backend *be, ic__prec p)
{
    if (be->prec == p || !be->with_prec)
        return be;
    const ic__backend *o = be->with_prec(p);
    return o ? o : be;
}

int ic__backend_prec_native(const ic__backend *be, ic__prec p)
{
    if (p == IC__PREC_F32)
        return 1;
    return be->prec_native ? be->prec_native(p) : 0;
}
