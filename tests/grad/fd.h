/* fd.h - what the reference-kernel gradient tests (test_grad_ref_*.c) share: the double
 * precision side of their checks. Each test writes an independent forward and its loss
 * L(x) = sum(dy * fwd(x)) in double over double copies of the kernel's inputs; fd_grad
 * differentiates L centrally. Double, so that the rounding of the differences (about
 * 1e-16 |L| / h = 1e-10 |L|) stays far below the 1e-4 tolerances the float kernels are
 * held to. Header-only (static functions): each test is one executable from one file. */
#ifndef IC_TEST_GRAD_FD_H
#define IC_TEST_GRAD_FD_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend/backend.h"

/* The fused activations of the backend, in double. */
static inline double fd_act(ic__act act, double x)
{
    switch (act) {
    case IC__ACT_RELU:
        return x > 0 ? x : 0;
    case IC__ACT_RELU6:
        return x > 0 ? (x < 6 ? x : 6) : 0;
    case IC__ACT_SIGMOID:
        return 1 / (1 + exp(-x));
    case IC__ACT_TANH:
        return tanh(x);
    default:
        return x;
    }
}

/* Central differences (step 1e-6) of f(ctx) with respect to each of the n values x[i],
 * which f reads through ctx; x is restored. */
static inline void fd_grad(double (*f)(void *), void *ctx, double *x, int64_t n, float *g)
{
    const double h = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        double s = x[i];
        x[i] = s + h;
        double lp = f(ctx);
        x[i] = s - h;
        double lm = f(ctx);
        x[i] = s;
        g[i] = (float)((lp - lm) / (2 * h));
    }
}

/* A new double copy of x (free it). */
static inline double *fd_to_double(const float *x, int64_t n)
{
    double *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; y && i < n; i++)
        y[i] = x[i];
    return y;
}

/* The double forward's output rounded to float, for comparing with the kernel's. */
static inline void fd_to_float(float *dst, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)x[i];
}

/* sum(a * b): the loss L = sum(dy * out) of a double forward. */
static inline double fd_dot(const double *a, const double *b, int64_t n)
{
    double l = 0;
    for (int64_t i = 0; i < n; i++)
        l += a[i] * b[i];
    return l;
}

#endif
