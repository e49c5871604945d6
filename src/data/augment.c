/* augment.c - Keras's ImageDataGenerator (keras-preprocessing 1.0.x-1.1.2): the random
 * draws of get_random_transform, the affine matrix of apply_affine_transform, the warp
 * as scipy.ndimage.affine_transform (order 1) computes it, flips, and rescale.
 *
 * Exactness (../shared/augment/README.md): the warp runs in double precision in scipy's
 * operation order, pr = (M[0][2] + r*M[0][0]) + c*M[0][1], border rule, r0 = floor(pr),
 * wr0 = 1 - (pr - r0), wr1 = 1 - wr0, t = (v00*wr0)*wc0 + (v01*wr0)*wc1 + (v10*wr1)*wc0
 * + (v11*wr1)*wc1 summed left to right, then (float)t. This reproduces every stored
 * golden output bit for bit, so the code must not be reassociated: no -ffast-math and no
 * FMA contraction here. Row terms (M[0][2] + r*M[0][0]) and column terms c*M[0][1] are
 * precomputed; that changes nothing, as the same operations happen on the same values.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/core.h"
#include "imgclass/apps.h"
#include "imgclass/data.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* Warps with more values than this use an OpenMP loop over rows (results are identical:
 * every output pixel is computed independently). Smaller images, like the loader's
 * per-sample 150x150x3 warps on its own worker threads, stay serial. */
#define PARALLEL_MIN_VALUES (1 << 20)

ic_image_data_generator ic_image_data_generator_default(void)
{
    ic_image_data_generator g;
    memset(&g, 0, sizeof g);
    g.zoom_lo = 1.0f;
    g.zoom_hi = 1.0f;
    g.fill_mode = IC_FILL_NEAREST;
    return g;
}

ic_image_data_generator ic_image_data_generator_book(void)
{
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = (float)(1.0 / 255.0);
    g.rotation_range = 40.0f;
    g.width_shift_range = 0.2f;
    g.height_shift_range = 0.2f;
    g.shear_range = 0.2f;
    g.zoom_lo = 1.0f - 0.2f;
    g.zoom_hi = 1.0f + 0.2f;
    g.horizontal_flip = 1;
    return g;
}

ic_status ic_fill_mode_parse(const char *name, ic_fill_mode *out)
{
    static const char *const names[] = {"nearest", "constant", "reflect", "wrap"};
    for (int i = 0; name && i < 4; i++) {
        if (!strcmp(name, names[i])) {
            *out = (ic_fill_mode)i;
            return IC_OK;
        }
    }
    return ic_seterr(IC_ERR_INVALID,
                     "unknown fill_mode '%s' (expected nearest, constant, reflect or wrap)",
                     name ? name : "(null)");
}

/* ---- Random draws ---- */

/* The options are floats, Keras's are Python doubles: 0.2f must act as the double 0.2,
 * or every draw is off by ~1e-8. Returns the double of the shortest decimal that
 * rounds to f (0.2f -> 0.2, 40.0f -> 40.0), which is what a user wrote. */
static double widen(float f)
{
    if (!isfinite(f) || f == 0.0f || f == (float)(int)f)
        return (double)f;
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return (double)f;
}

/* np.random.uniform(low, high): low + (high - low) * random_sample(). */
static double uniform(ic_np_random *r, double low, double high)
{
    double range = high - low;
    return low + range * ic_np_random_sample(r);
}

void ic_augment_random_transform(const ic_image_data_generator *g, int64_t h, int64_t w,
                                 ic_np_random *r, ic_transform *t)
{
    memset(t, 0, sizeof *t);
    t->zx = t->zy = 1.0;
    double rot = widen(g->rotation_range);
    if (rot != 0)
        t->theta = uniform(r, -rot, rot);
    /* Float ranges only: uniform(-s, s), times the size when s < 1 (np.max(s) < 1). */
    double hs = widen(g->height_shift_range);
    if (hs != 0) {
        t->tx = uniform(r, -hs, hs);
        if (hs < 1)
            t->tx *= (double)h;
    }
    double ws = widen(g->width_shift_range);
    if (ws != 0) {
        t->ty = uniform(r, -ws, ws);
        if (ws < 1)
            t->ty *= (double)w;
    }
    double sh = widen(g->shear_range);
    if (sh != 0)
        t->shear = uniform(r, -sh, sh);
    double zlo = widen(g->zoom_lo), zhi = widen(g->zoom_hi);
    if (!(zlo == 1 && zhi == 1)) {
        t->zx = uniform(r, zlo, zhi); /* uniform(lo, hi, 2): two consecutive draws */
        t->zy = uniform(r, zlo, zhi);
    }
    /* Both flips are always drawn (keras-preprocessing), then multiplied by the flag. */
    int fh = ic_np_random_sample(r) < 0.5;
    int fv = ic_np_random_sample(r) < 0.5;
    t->flip_horizontal = fh && g->horizontal_flip;
    t->flip_vertical = fv && g->vertical_flip;
}

/* ---- Matrix ---- */

static int needs_warp(const ic_transform *t)
{
    return t->theta != 0 || t->tx != 0 || t->ty != 0 || t->shear != 0 || t->zx != 1 || t->zy != 1;
}

static void matmul3(double out[3][3], double a[3][3], double b[3][3])
{
    double o[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            o[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(out, o, sizeof o);
}

static void set3(double m[3][3], double a, double b, double c, double d, double e, double f)
{
    m[0][0] = a, m[0][1] = b, m[0][2] = c;
    m[1][0] = d, m[1][1] = e, m[1][2] = f;
    m[2][0] = 0, m[2][1] = 0, m[2][2] = 1;
}

void ic_augment_matrix(const ic_transform *t, int64_t h, int64_t w, double m[3][3])
{
    const double deg2rad = 3.14159265358979323846 / 180.0; /* numpy's x * (pi / 180) */
    double f[3][3];
    set3(m, 1, 0, 0, 0, 1, 0);
    if (!needs_warp(t))
        return;
    if (t->theta != 0) {
        double th = t->theta * deg2rad, c = cos(th), s = sin(th);
        set3(f, c, -s, 0, s, c, 0);
        matmul3(m, m, f);
    }
    if (t->tx != 0 || t->ty != 0) {
        set3(f, 1, 0, t->tx, 0, 1, t->ty);
        matmul3(m, m, f);
    }
    if (t->shear != 0) {
        double s = t->shear * deg2rad;
        set3(f, 1, -sin(s), 0, 0, cos(s), 0);
        matmul3(m, m, f);
    }
    if (t->zx != 1 || t->zy != 1) {
        set3(f, t->zx, 0, 0, 0, t->zy, 0);
        matmul3(m, m, f);
    }
    /* transform_matrix_offset_center: offset . M . reset, o = size / 2 + 0.5. */
    double orow = (double)h / 2 + 0.5, ocol = (double)w / 2 + 0.5;
    set3(f, 1, 0, orow, 0, 1, ocol);
    matmul3(m, f, m);
    set3(f, 1, 0, -orow, 0, 1, -ocol);
    matmul3(m, m, f);
}

/* ---- Warp ---- */

/* One axis of one sample: taps i0, i1 with weights w0, w1, or outside (constant fill). */
typedef struct axis_taps {
    int64_t i0, i1;
    double w0, w1;
    int outside;
} axis_taps;

/* Reflect index map (d c b a | a b c d | d c b a), period 2n, on a floor()ed double so
 * that far-away positions cannot overflow an integer conversion. */
static int64_t reflect_index(double i, int64_t n)
{
    double nd = (double)n;
    if (i >= -nd && i < 2.0 * nd) { /* within one mirror: no fmod */
        int64_t k = (int64_t)i;
        return k < 0 ? -k - 1 : k < n ? k : 2 * n - 1 - k;
    }
    double p = 2.0 * (double)n, m = fmod(i, p);
    if (m < 0)
        m += p;
    int64_t k = (int64_t)m;
    if (k >= 2 * n) /* fmod rounding at the period's edge */
        k -= 2 * n;
    return k < n ? k : 2 * n - 1 - k;
}

/* floor() without the libm call: exact (a double with |p| < 2^52 converts losslessly). */
static inline double fast_floor(double p)
{
    if (fabs(p) < 4503599627370496.0) {
        double t = (double)(int64_t)p;
        return t > p ? t - 1.0 : t;
    }
    return floor(p);
}

/* Border rule, floor and weights for one axis (mode is a constant after inlining). */
static inline __attribute__((always_inline)) void axis(double p, int64_t n, ic_fill_mode mode,
                                                       axis_taps *a)
{
    double last = (double)(n - 1);
    a->outside = 0;
    a->i0 = a->i1 = 0;
    a->w0 = 1.0, a->w1 = 0.0;
    switch (mode) {
    case IC_FILL_NEAREST:
        if (p < 0)
            p = 0;
        else if (p > last)
            p = last;
        break;
    case IC_FILL_CONSTANT:
        if (p < 0 || p > last) {
            a->outside = 1;
            return;
        }
        break;
    case IC_FILL_WRAP:
        if (n <= 1)
            p = 0;
        else if (p < 0)
            p += last * (trunc(-p / last) + 1);
        else if (p > last)
            p -= last * trunc(p / last);
        break;
    case IC_FILL_REFLECT: break;
    }
    double f = fast_floor(p);
    a->w0 = 1.0 - (p - f);
    a->w1 = 1.0 - a->w0;
    if (mode == IC_FILL_REFLECT) {
        a->i0 = reflect_index(f, n);
        a->i1 = reflect_index(f + 1.0, n);
    } else {
        /* p is in [0, n-1] here (up to rounding in wrap's fold); tap n only occurs with
         * weight 0, so clamping the indices is enough. */
        int64_t i = (int64_t)f;
        if (i > n - 1)
            i = n - 1;
        if (i < 0)
            i = 0;
        a->i0 = i;
        a->i1 = i + 1 < n ? i + 1 : n - 1;
    }
}

typedef struct warp_job {
    const float *src;
    float *dst;
    int64_t h, w;
    int c;
    double m[3][3];
    const double *col_r, *col_c; /* c * M[0][1], c * M[1][1] */
    ic_fill_mode mode;
    float cval;
} warp_job;

/* One output row; the taps are summed left to right in double, then rounded to float. */
static inline __attribute__((always_inline)) void warp_row_mode(const warp_job *j, int64_t r,
                                                                ic_fill_mode mode, int c)
{
    const int64_t w = j->w;
    const double base_r = j->m[0][2] + (double)r * j->m[0][0];
    const double base_c = j->m[1][2] + (double)r * j->m[1][0];
    const float *src = j->src;
    float *out = j->dst + r * w * c;
    for (int64_t x = 0; x < w; x++, out += c) {
        axis_taps ar, ac;
        axis(base_r + j->col_r[x], j->h, mode, &ar);
        axis(base_c + j->col_c[x], w, mode, &ac);
        if (mode == IC_FILL_CONSTANT && (ar.outside || ac.outside)) {
            for (int k = 0; k < c; k++)
                out[k] = j->cval;
            continue;
        }
        const float *p00 = src + (ar.i0 * w + ac.i0) * c;
        const float *p01 = src + (ar.i0 * w + ac.i1) * c;
        const float *p10 = src + (ar.i1 * w + ac.i0) * c;
        const float *p11 = src + (ar.i1 * w + ac.i1) * c;
        const double wr0 = ar.w0, wr1 = ar.w1, wc0 = ac.w0, wc1 = ac.w1;
        for (int k = 0; k < c; k++) {
            double t = ((double)p00[k] * wr0) * wc0;
            t = t + ((double)p01[k] * wr0) * wc1;
            t = t + ((double)p10[k] * wr1) * wc0;
            t = t + ((double)p11[k] * wr1) * wc1;
            out[k] = (float)t;
        }
    }
}

/* Instantiated per fill mode, and for 3 channels (RGB) apart from the general case. */
#define WARP_ROW_FN(name, mode)                                                                    \
    static void name(const warp_job *j, int64_t r)                                                 \
    {                                                                                              \
        if (j->c == 3)                                                                             \
            warp_row_mode(j, r, mode, 3);                                                          \
        else                                                                                       \
            warp_row_mode(j, r, mode, j->c);                                                       \
    }
WARP_ROW_FN(warp_row_nearest, IC_FILL_NEAREST)
WARP_ROW_FN(warp_row_constant, IC_FILL_CONSTANT)
WARP_ROW_FN(warp_row_reflect, IC_FILL_REFLECT)
WARP_ROW_FN(warp_row_wrap, IC_FILL_WRAP)

static void warp_row(const warp_job *j, int64_t r)
{
    switch (j->mode) {
    case IC_FILL_NEAREST: warp_row_nearest(j, r); break;
    case IC_FILL_CONSTANT: warp_row_constant(j, r); break;
    case IC_FILL_REFLECT: warp_row_reflect(j, r); break;
    case IC_FILL_WRAP: warp_row_wrap(j, r); break;
    }
}

static ic_status warp(const ic_transform *t, const ic_image_data_generator *g, const float *src,
                      int64_t h, int64_t w, int c, float *dst)
{
    warp_job j;
    j.src = src, j.dst = dst, j.h = h, j.w = w, j.c = c;
    j.mode = g->fill_mode, j.cval = g->cval;
    ic_augment_matrix(t, h, w, j.m);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            if (!isfinite(j.m[a][b]))
                return ic_seterr(IC_ERR_INVALID,
                                 "augment: transform gives a non-finite matrix (theta %g, tx %g, "
                                 "ty %g, shear %g, zx %g, zy %g)",
                                 t->theta, t->tx, t->ty, t->shear, t->zx, t->zy);
    double *cols = ic__malloc(2 * (size_t)w * sizeof *cols);
    if (!cols)
        return IC_ERR_NOMEM;
    for (int64_t x = 0; x < w; x++) {
        cols[x] = (double)x * j.m[0][1];
        cols[w + x] = (double)x * j.m[1][1];
    }
    j.col_r = cols, j.col_c = cols + w;
#ifdef _OPENMP
    int par = h * w * c >= PARALLEL_MIN_VALUES && h > 1 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (par) num_threads(ic__threads())
#endif
    for (int64_t r = 0; r < h; r++)
        warp_row(&j, r);
    ic__free(cols);
    return IC_OK;
}

ic_status ic_augment_apply(const ic_image_data_generator *g, const ic_transform *t,
                           const float *src, int64_t h, int64_t w, int c, float *dst)
{
    if (!g || !t || !src || !dst)
        return ic_seterr(IC_ERR_INVALID, "augment: NULL argument");
    if (h < 1 || w < 1 || c < 1 || h > INT64_MAX / w / c)
        return ic_seterr(IC_ERR_INVALID, "augment: bad image size %lldx%lldx%d", (long long)h,
                         (long long)w, c);
    if ((unsigned)g->fill_mode > IC_FILL_WRAP)
        return ic_seterr(IC_ERR_INVALID, "augment: unknown fill_mode %d", (int)g->fill_mode);
    size_t n = (size_t)(h * w * c);
    uintptr_t s0 = (uintptr_t)src, d0 = (uintptr_t)dst, bytes = n * sizeof(float);
    if (s0 < d0 + bytes && d0 < s0 + bytes)
        return ic_seterr(IC_ERR_INVALID, "augment: dst may not alias src");
    if (needs_warp(t)) {
        ic_status s = warp(t, g, src, h, w, c, dst);
        if (s)
            return s;
    } else {
        memcpy(dst, src, n * sizeof *dst);
    }
    if (t->flip_horizontal) {
        for (int64_t r = 0; r < h; r++) {
            float *row = dst + r * w * c;
            for (int64_t a = 0, b = w - 1; a < b; a++, b--)
                for (int k = 0; k < c; k++) {
                    float v = row[a * c + k];
                    row[a * c + k] = row[b * c + k];
                    row[b * c + k] = v;
                }
        }
    }
    if (t->flip_vertical) {
        size_t rl = (size_t)w * (size_t)c;
        for (int64_t a = 0, b = h - 1; a < b; a++, b--) {
            float *ra = dst + a * (int64_t)rl, *rb = dst + b * (int64_t)rl;
            for (size_t k = 0; k < rl; k++) {
                float v = ra[k];
                ra[k] = rb[k];
                rb[k] = v;
            }
        }
    }
    /* Keras standardize(): preprocessing_function first, then rescale. */
    if (g->preprocess != IC_PREPROCESS_NONE) {
        ic_status ps = ic_preprocess_apply(g->preprocess, dst, h * w, c);
        if (ps)
            return ps;
    }
    if (g->rescale != 0) {
        const float s = g->rescale; /* float32 multiply, as numpy's x *= rescale */
        for (size_t i = 0; i < n; i++)
            dst[i] *= s;
    }
    return IC_OK;
}
