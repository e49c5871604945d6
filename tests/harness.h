/* harness.h - the tiny shared test harness: checks that count failures, allclose with
 * a report of the worst element, skip (exit 77), the ../shared lookup, and status
 * checks that print ic_errmsg(). Header-only; every test is one executable. */
#ifndef IC_TEST_HARNESS_H
#define IC_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "imgclass/imgclass.h"

static int t_failures;
static int t_checks;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        t_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            t_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                  \
    } while (0)

#define CHECKF(cond, ...)                                                                  \
    do {                                                                                   \
        t_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            t_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
        }                                                                                  \
    } while (0)

/* Calls an ic_status function; on failure reports the message and returns from main. */
#define OK(call)                                                                           \
    do {                                                                                   \
        ic_status s_ = (call);                                                             \
        if (s_ != IC_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,        \
                    ic_status_str(s_), ic_errmsg());                                       \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* Builds a layer into l_ (ctor is a call like ic_layer_dense(&l_, ...)), checks its
 * status, then adds the layer to model m. */
#define ADD(m, ctor)                                                                       \
    do {                                                                                   \
        ic_layer *l_;                                                                      \
        OK(ctor);                                                                          \
        OK(ic_model_add((m), l_));                                                         \
    } while (0)

/* Expects a given failure status and a substring of the message. */
#define EXPECT_ERR(call, status, substr)                                                   \
    do {                                                                                   \
        ic_clear_error();                                                                  \
        ic_status s_ = (call);                                                             \
        t_checks++;                                                                        \
        if (s_ != (status) || !strstr(ic_errmsg(), (substr))) {                            \
            t_failures++;                                                                  \
            fprintf(stderr, "%s:%d: %s: expected %s with \"%s\", got %s: \"%s\"\n",        \
                    __FILE__, __LINE__, #call, ic_status_str(status), (substr),            \
                    ic_status_str(s_), ic_errmsg());                                       \
        }                                                                                  \
    } while (0)

/* |a - b| <= atol + rtol * |b| element-wise; reports the worst element. */
static inline int t_allclose(const char *what, const float *a, const float *b, long n, double rtol,
                             double atol)
{
    long worst = -1;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (worst < 0 || d - lim > worst_excess)) {
            worst = i;
            worst_excess = isnan(d) ? INFINITY : d - lim;
        }
    }
    t_checks++;
    if (worst >= 0) {
        t_failures++;
        fprintf(stderr, "allclose failed: %s: element %ld: %.9g vs %.9g (rtol %g atol %g, n %ld)\n",
                what, worst, a[worst], b[worst], rtol, atol, n);
        return 0;
    }
    return 1;
}

static inline int t_finish(void)
{
    if (t_failures) {
        fprintf(stderr, "%d of %d checks failed\n", t_failures, t_checks);
        return 1;
    }
    printf("all %d checks passed\n", t_checks);
    return 0;
}

static inline void t_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    exit(77);
}

/* ../shared next to the checkout (IC_SHARED_DIR overrides). Skips the test if absent. */
static inline const char *t_shared_dir(void)
{
    static char path[4096];
    const char *e = getenv("IC_SHARED_DIR");
    if (e && *e)
        snprintf(path, sizeof path, "%s", e);
    else
        snprintf(path, sizeof path, "%s/../shared", IC_SOURCE_DIR);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        char why[4200];
        snprintf(why, sizeof why, "shared data folder %s not found (set IC_SHARED_DIR)", path);
        t_skip(why);
    }
    return path;
}

/* Deterministic uniform values in [lo, hi). */
static inline void t_fill_uniform(float *x, long n, unsigned seed, float lo, float hi)
{
    unsigned long long s = seed * 2654435761ull + 12345;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

#endif
