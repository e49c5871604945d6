/* loess.c - local polynomial regression, the smoother of geom_smooth(method = "loess").
 *
 * R's loess(y ~ x) with one predictor: span 0.75, degree 2, tricube weights over the q
 * nearest neighbours. R interpolates the fit from a k-d tree of vertices by default
 * (surface = "interpolate"); this is the exact computation (surface = "direct"), which
 * differs from it only in the last digits on smooth data.
 */
#include <math.h>
#include <stdlib.h>

#include "plot_impl.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Solves the (p x p) system a * b = r in place by Gaussian elimination with partial
 * pivoting; returns -1 if a pivot is negligible relative to scale. */
static int solve(double a[3][3], double r[3], int p, double scale)
{
    for (int c = 0; c < p; c++) {
        int piv = c;
        for (int i = c + 1; i < p; i++)
            if (fabs(a[i][c]) > fabs(a[piv][c]))
                piv = i;
        if (!(fabs(a[piv][c]) > 1e-10 * scale))
            return -1;
        if (piv != c) {
            for (int k = 0; k < p; k++) {
                double t = a[c][k];
                a[c][k] = a[piv][k];
                a[piv][k] = t;
            }
            double t = r[c];
            r[c] = r[piv];
            r[piv] = t;
        }
        for (int i = c + 1; i < p; i++) {
            double f = a[i][c] / a[c][c];
            for (int k = c; k < p; k++)
                a[i][k] -= f * a[c][k];
            r[i] -= f * r[c];
        }
    }
    for (int c = p - 1; c >= 0; c--) {
        double s = r[c];
        for (int k = c + 1; k < p; k++)
            s -= a[c][k] * r[k];
        r[c] = s / a[c][c];
    }
    return 0;
}

ic_status ic__loess(const double *x, const double *y, int n, double span, int degree,
                    const double *xo, double *yo, int m)
{
    if (n < 1 || !(span > 0) || !isfinite(span) || degree < 0 || degree > 2 || m < 0)
        return ic_seterr(IC_ERR_INVALID,
                         "loess: need n >= 1 (got %d), span > 0 (got %g) and "
                         "degree 0..2 (got %d)",
                         n, span, degree);
    double *d = ic__malloc((size_t)n * sizeof(double));
    if (!d)
        return IC_ERR_NOMEM;
    int q = (int)floor(n * span + 1e-5); /* R: floor(n * span + 1e-5) */
    if (q > n)
        q = n;
    if (q < degree + 1)
        q = degree + 1 < n ? degree + 1 : n;
    for (int o = 0; o < m; o++) {
        double x0 = xo[o];
        for (int i = 0; i < n; i++)
            d[i] = fabs(x[i] - x0);
        qsort(d, (size_t)n, sizeof(double), cmp_double);
        double h = d[q - 1];
        if (span > 1)
            h = d[n - 1] * span; /* one predictor: span^(1/1) */
        /* Weighted sums of t^k and t^k * y, t = (x - x0) / h (scaled for conditioning). */
        double sw[5] = {0}, swy[3] = {0};
        double hs = h > 0 ? h : 1;
        for (int i = 0; i < n; i++) {
            double di = fabs(x[i] - x0), w;
            if (h > 0) {
                if (di >= h)
                    continue;
                double u = di / h;
                u = 1 - u * u * u;
                w = u * u * u;
            } else {
                if (di > 0)
                    continue;
                w = 1;
            }
            double t = (x[i] - x0) / hs, tk = 1;
            for (int k = 0; k < 5; k++, tk *= t) {
                sw[k] += w * tk;
                if (k < 3)
                    swy[k] += w * tk * y[i];
            }
        }
        double fit = NAN;
        for (int p = degree + 1; p >= 1; p--) {
            double a[3][3], r[3];
            for (int i = 0; i < p; i++) {
                for (int k = 0; k < p; k++)
                    a[i][k] = sw[i + k];
                r[i] = swy[i];
            }
            if (solve(a, r, p, sw[0]) == 0) {
                fit = r[0];
                break;
            }
        }
        yo[o] = fit;
    }
    ic__free(d);
    return IC_OK;
}
