/* plot_impl.h - private pieces of src/plot shared with the tests.
 *
 * loess.c  : local polynomial regression (R's loess, surface = "direct").
 * breaks.c : axis breaks as ggplot2 computes them (labeling::extended for continuous
 *            scales, R's pretty() for the integer epoch axis) and their labels.
 */
#ifndef IC_PLOT_IMPL_H
#define IC_PLOT_IMPL_H

#include "core/core.h"
#include "imgclass/plot.h"

/* Local regression of y on x as R's loess(y ~ x, span = span, degree = degree,
 * surface = "direct"): at every xo[i], the q = floor(n * span) nearest points (all of
 * them, with the bandwidth stretched by span, when span > 1) get tricube weights
 * (1 - (d / h)^3)^3, h the q-th smallest distance, and a weighted least-squares
 * polynomial of the given degree (0, 1 or 2) in (x - xo[i]) is evaluated at xo[i]. A
 * degree the neighbourhood cannot support (too few distinct x) falls back to a lower one.
 * x need not be sorted; non-finite pairs must have been removed. Results go to yo[0..m).
 * IC_ERR_INVALID for n < 1, bad span or degree; IC_ERR_NOMEM. */
ic_status ic__loess(const double *x, const double *y, int n, double span, int degree,
                    const double *xo, double *yo, int m);

/* labeling::extended(dmin, dmax, m) with Q = (1, 5, 2, 2.5, 4, 3), w = (.25, .2, .5, .05),
 * as scales::extended_breaks() calls it. Writes at most max breaks to out; returns the
 * count (1 break, dmin, when dmin == dmax; 0 for non-finite input). */
int ic__extended_breaks(double dmin, double dmax, int m, double *out, int max);
/* R's pretty(c(lo, hi), n) (high.u.bias 1.5, u5.bias .5 + 1.5 * 1.5). Writes at most max
 * values; returns the count. */
int ic__pretty(double lo, double hi, int n, double *out, int max);
/* Formats breaks as R's format() does for a vector: the fewest decimals (up to 15) that
 * show every value to 7 significant digits, the same for all (scientific notation for
 * very large or small values). */
void ic__format_breaks(const double *b, int n, char (*labels)[32]);

#endif
