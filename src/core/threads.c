/* threads.c - one thread count for oneDNN (OpenMP runtime) and our own OpenMP loops.
 * IC_NUM_THREADS sets the default; otherwise all online cores. */
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"

static int g_threads;

static int default_threads(void)
{
    const char *e = getenv("IC_NUM_THREADS");
    if (e && atoi(e) > 0)
        return atoi(e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void ic_set_num_threads(int n)
{
    g_threads = n > 0 ? n : default_threads();
#ifdef _OPENMP
    omp_set_num_threads(g_threads);
#endif
}

void ic__threads_init(void)
{
    if (!g_threads)
        ic_set_num_threads(0);
}

int ic__threads(void)
{
    ic__threads_init();
    return g_threads;
}

int ic_num_threads(void) { return ic__threads(); }
