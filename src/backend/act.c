/* act.c - activations in plain C: forward in place and derivative from the output. */
#include <math.h>

#include "backend.h"

void ic__act_fwd_inplace(ic__act act, float *x, int64_t n)
{
    switch (act) {
    case IC__ACT_NONE:
        break;
    case IC__ACT_RELU:
        /* written so NaN passes through, as in oneDNN and TF (a diverging run must
         * show up as a NaN loss on every backend) */
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] < 0.f ? 0.f : x[i];
        break;
    case IC__ACT_RELU6:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] < 0.f ? 0.f : (x[i] > 6.f ? 6.f : x[i]);
        break;
    case IC__ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            x[i] = 1.f / (1.f + expf(-x[i]));
        break;
    case IC__ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            x[i] = tanhf(x[i]);
        break;
    }
}

/* Derivatives expressed through y = act(x). At the kinks (relu at 0, relu6 at 0 and 6)
 * the gradient is 0, as TF's ReluGrad/Relu6Grad give. */
void ic__act_bwd_from_dst(ic__act act, float *diff_src, const float *diff_dst, const float *dst,
                          int64_t n)
{
    switch (act) {
    case IC__ACT_NONE:
        for (int64_t i = 0; i < n; i++)
            diff_src[i] = diff_dst[i];
        break;
    case IC__ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            diff_src[i] = dst[i] > 0.f ? diff_dst[i] : 0.f;
        break;
    case IC__ACT_RELU6:
        for (int64_t i = 0; i < n; i++)
            diff_src[i] = (dst[i] > 0.f && dst[i] < 6.f) ? diff_dst[i] : 0.f;
        break;
    case IC__ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            diff_src[i] = diff_dst[i] * dst[i] * (1.f - dst[i]);
        break;
    case IC__ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            diff_src[i] = diff_dst[i] * (1.f - dst[i] * dst[i]);
        break;
    }
}
