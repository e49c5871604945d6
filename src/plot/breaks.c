/* breaks.c - axis breaks and labels as ggplot2 makes them.
 *
 * Continuous y scales use scales::extended_breaks(), i.e. labeling::extended() (Talbot,
 * Lin and Hanrahan's extension of Wilkinson's algorithm); R keras's history plot uses
 * pretty() for the epoch axis and keeps the whole numbers. Labels follow R's format() of
 * the break vector: one number of decimals for all.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_impl.h"

static const double g_Q[] = {1, 5, 2, 2.5, 4, 3};
enum { NQ = 6 };
static const double g_w[4] = {0.25, 0.2, 0.5, 0.05};

static double simplicity(int i, int j, double lmin, double lmax, double lstep)
{
    double eps = DBL_EPSILON * 100;
    double r = fmod(lmin, lstep);
    if (r < 0)
        r += lstep; /* R's %% has the sign of the divisor */
    int v = (r < eps || lstep - r < eps) && lmin <= 0 && lmax >= 0;
    return 1 - (double)i / (NQ - 1) - j + v;
}

static double simplicity_max(int i, int j)
{
    return 1 - (double)i / (NQ - 1) - j + 1;
}

static double coverage(double dmin, double dmax, double lmin, double lmax)
{
    double range = dmax - dmin;
    return 1 - 0.5 * ((dmax - lmax) * (dmax - lmax) + (dmin - lmin) * (dmin - lmin)) /
                   ((0.1 * range) * (0.1 * range));
}

static double coverage_max(double dmin, double dmax, double span)
{
    double range = dmax - dmin;
    if (span > range) {
        double half = (span - range) / 2;
        return 1 - 0.5 * (2 * half * half) / ((0.1 * range) * (0.1 * range));
    }
    return 1;
}

static double density(int k, int m, double dmin, double dmax, double lmin, double lmax)
{
    double r = (k - 1) / (lmax - lmin);
    double rt = (m - 1) / (fmax(lmax, dmax) - fmin(dmin, lmin));
    return 2 - fmax(r / rt, rt / r);
}

static double density_max(int k, int m)
{
    return k >= m ? 2 - (double)(k - 1) / (m - 1) : 1;
}

int ic__extended_breaks(double dmin, double dmax, int m, double *out, int max)
{
    if (!isfinite(dmin) || !isfinite(dmax) || max < 1)
        return 0;
    if (dmin > dmax) {
        double t = dmin;
        dmin = dmax;
        dmax = t;
    }
    if (dmax - dmin < 1e-10 * fmax(1, fmax(fabs(dmin), fabs(dmax)))) {
        out[0] = dmin; /* scales::zero_range: a single break */
        return 1;
    }
    if (m < 2)
        m = 2;
    double best_score = -2, best_lmin = dmin, best_lmax = dmax, best_step = dmax - dmin;
    int found = 0;
    for (int j = 1; j < 1000; j++) {
        int stop = 0;
        for (int qi = 0; qi < NQ && !stop; qi++) {
            double q = g_Q[qi];
            double sm = simplicity_max(qi, j);
            if (g_w[0] * sm + g_w[1] + g_w[2] + g_w[3] < best_score) {
                stop = 1;
                break;
            }
            for (int k = 2; k < 1000; k++) {
                double dm = density_max(k, m);
                if (g_w[0] * sm + g_w[1] + g_w[2] * dm + g_w[3] < best_score)
                    break;
                double delta = (dmax - dmin) / (k + 1) / j / q;
                for (int z = (int)ceil(log10(delta)); z < 400; z++) {
                    double step = j * q * pow(10, z);
                    double cm = coverage_max(dmin, dmax, step * (k - 1));
                    if (g_w[0] * sm + g_w[1] * cm + g_w[2] * dm + g_w[3] < best_score)
                        break;
                    double min_start = floor(dmax / step) * j - (k - 1) * j;
                    double max_start = ceil(dmin / step) * j;
                    if (min_start > max_start)
                        continue;
                    for (double start = min_start; start <= max_start; start++) {
                        double lmin = start * (step / j);
                        double lmax = lmin + step * (k - 1);
                        double s = simplicity(qi, j, lmin, lmax, step);
                        double c = coverage(dmin, dmax, lmin, lmax);
                        double g = density(k, m, dmin, dmax, lmin, lmax);
                        double score = g_w[0] * s + g_w[1] * c + g_w[2] * g + g_w[3];
                        if (score > best_score) {
                            best_score = score;
                            best_lmin = lmin, best_lmax = lmax, best_step = step;
                            found = 1;
                        }
                    }
                }
            }
        }
        if (stop)
            break;
    }
    if (!found) {
        out[0] = dmin;
        return 1;
    }
    /* seq(lmin, lmax, by = lstep) */
    int n = 0;
    double count = floor((best_lmax - best_lmin) / best_step + 1e-10);
    for (int i = 0; i <= (int)count && n < max; i++)
        out[n++] = best_lmin + i * best_step;
    return n;
}

int ic__pretty(double lo, double hi, int ndiv, double *out, int max)
{
    const double h = 1.5, h5 = 0.5 + 1.5 * h, rounding_eps = 1e-10;
    if (!isfinite(lo) || !isfinite(hi) || max < 1)
        return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    int min_n = ndiv / 3;
    double dx = hi - lo, cell;
    int i_small;
    if (dx == 0 && hi == 0) {
        cell = 1;
        i_small = 1;
    } else {
        cell = fmax(fabs(lo), fabs(hi));
        double U = 1 + ((h5 >= 1.5 * h + 0.5) ? 1 / (1 + h) : 1.5 / (1 + h5));
        U *= (ndiv > 1 ? ndiv : 1) * DBL_EPSILON;
        i_small = dx < cell * U * 3;
    }
    if (i_small) {
        if (cell > 10)
            cell = 9 + cell / 10;
        cell *= 0.75;
        if (min_n > 1)
            cell /= min_n;
    } else {
        cell = dx;
        if (ndiv > 1)
            cell /= ndiv;
    }
    if (cell < 20 * DBL_MIN)
        cell = 20 * DBL_MIN;
    double base = pow(10, floor(log10(cell))), unit = base, ns;
    if ((ns = 2 * base) - cell < h * (cell - unit)) {
        unit = ns;
        if ((ns = 5 * base) - cell < h5 * (cell - unit)) {
            unit = ns;
            if ((ns = 10 * base) - cell < h * (cell - unit))
                unit = ns;
        }
    }
    double nsd = floor(lo / unit + 1e-7), nud = ceil(hi / unit - 1e-7);
    while (nsd * unit > lo + rounding_eps * unit)
        nsd--;
    while (nud * unit < hi - rounding_eps * unit)
        nud++;
    int k = (int)(0.5 + nud - nsd);
    if (k < min_n) {
        k = min_n - k;
        if (nsd >= 0) {
            nud += k / 2;
            nsd -= k / 2 + k % 2;
        } else {
            nsd -= k / 2;
            nud += k / 2 + k % 2;
        }
    }
    int n = 0;
    for (double i = nsd; i <= nud + 0.5 && n < max; i++)
        out[n++] = i * unit;
    return n;
}

void ic__format_breaks(const double *b, int n, char (*labels)[32])
{
    double amax = 0;
    for (int i = 0; i < n; i++)
        amax = fmax(amax, fabs(b[i]));
    /* Scientific notation where fixed would be unreadable (R switches on width). */
    int sci = amax >= 1e15 || (amax > 0 && amax < 1e-4);
    int best = 15;
    for (int d = 0; d <= 15; d++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            char buf[64];
            double v = b[i];
            /* 7 significant digits of the value, as R's default digits option. */
            double want = v == 0 ? 0 : strtod((snprintf(buf, sizeof buf, "%.6e", v), buf), NULL);
            snprintf(buf, sizeof buf, sci ? "%.*e" : "%.*f", d, want);
            double got = strtod(buf, NULL);
            ok = fabs(got - want) <= 1e-12 * fmax(fabs(want), 1e-300);
        }
        if (ok) {
            best = d;
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        double v = b[i];
        if (fabs(v) < 1e-12 * amax)
            v = 0; /* no "-0.00" or 1e-17 for a zero break */
        snprintf(labels[i], 32, sci ? "%.*e" : "%.*f", best, v);
        if (!strncmp(labels[i], "-0", 2) && strtod(labels[i], NULL) == 0)
            memmove(labels[i], labels[i] + 1, strlen(labels[i]));
    }
}
