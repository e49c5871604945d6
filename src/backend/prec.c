/* prec.c - which precision a convolution computes in when its model asks for bf16.
 *
 * A bf16 convolution converts its f32 inputs to bf16 (an extra pass over memory: the
 * activations stay f32 between layers) to run the multiplications at twice the rate.
 * Depthwise and grouped convolutions do a few multiplications per value they read: they
 * are bound by memory, and the conversion makes them slower. They compute in f32 in a
 * bf16 model (faster, and more accurate). Measured per pass on the Zen 5 of
 * docs/performance.md (2 threads, MobileNetV2 1.0 at 224, batch 20; bf16 time / f32 time,
 * fwd, bwd_data, bwd_weights):
 *
 *   depthwise 3x3 112x112x32       2.16  1.26  1.03
 *   depthwise 3x3 s2 112x112x96    2.81  1.07  0.41
 *   depthwise 3x3 56x56x144        1.16  1.08  0.79
 *   depthwise 3x3 28x28x192        2.22  2.12  1.07
 *   depthwise 3x3 14x14x576        2.25  1.94  0.86
 *   depthwise 3x3 7x7x960          2.13  1.50  0.97
 *   1x1 56x56 24->144              0.94  0.85  0.40
 *   1x1 28x28 192->32              1.39  0.70  0.57
 *   1x1 14x14 96->576              0.54  1.05  0.48
 *   1x1 7x7 320->1280              0.68  0.75  0.79
 *   3x3 s2 224x224 3->32 (Conv1)   1.23  0.75  0.79
 *
 * A depthwise layer's three passes together run 1.2-2x slower in bf16; the 1x1 layers,
 * even narrow ones, and the first layer are as fast or faster in bf16 overall, so they
 * keep it. Both backends' bf16 tables apply this (backend.h's IC__PREC_CREATOR), so the
 * reference backend emulates exactly what the oneDNN backend computes. */
#include <stdint.h>
#include <string.h>

#include "backend.h"

ic__prec ic__conv_prec(const ic__conv_desc *d, ic__prec p)
{
    if (p == IC__PREC_BF16 && d->groups > 1)
        return IC__PREC_F32;
    return p;
}

/* Shared by the reference backend's bf16 emulation and the backend tests, so the
 * reference kernels need nothing from the registry. */
float ic__bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
        return x; /* NaN: rounding could carry it into infinity */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}
