/* bench_peak.c - the machine's measured arithmetic peak, the denominator of "% of peak"
 * in docs/performance.md: independent AVX-512 FMA chains (fp32, 2 FLOP per lane) and
 * AVX512_BF16 dot-product chains (vdpbf16ps: 32 bf16 products summed pairwise into 16
 * fp32 lanes, 64 FLOP per instruction), on 1 thread and on N threads at once.
 * A nominal peak from /proc/cpuinfo would be wrong on these guests (the clock runs
 * above nominal and the vector units differ between CPU families), so it is measured.
 * Usage: bench_peak [threads]   (default 2, as the benchmarks) */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 24 /* independent accumulators: more than FMA latency x ports on any AVX-512 core */
#define ITERS 10000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile float g_sink;

__attribute__((target("avx512f"))) static void *fma_loop(void *arg)
{
    (void)arg;
    __m512 acc[CHAINS];
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    /* acc += a * b, the accumulator as the addend, as in a GEMM kernel: on AMD Zen 5 the
     * form acc = acc * a + b runs at half this rate */
    for (long it = 0; it < ITERS; it++)
#pragma GCC unroll 32
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
    float s = 0;
    for (int i = 0; i < CHAINS; i++)
        s += _mm512_reduce_add_ps(acc[i]);
    g_sink = s;
    return NULL;
}

__attribute__((target("avx512f,avx512bf16"))) static void *bf16_loop(void *arg)
{
    (void)arg;
    __m512 acc[CHAINS];
    __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(1e-3f));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
#pragma GCC unroll 32
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    float s = 0;
    for (int i = 0; i < CHAINS; i++)
        s += _mm512_reduce_add_ps(acc[i]);
    g_sink = s;
    return NULL;
}

/* GFLOP/s of `threads` copies of loop running together. */
static double measure(void *(*loop)(void *), int threads, double flop_per_instr)
{
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, loop, NULL)) {
            fprintf(stderr, "bench_peak: pthread_create failed\n");
            exit(1);
        }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double dt = now() - t0;
    return flop_per_instr * (double)CHAINS * (double)ITERS * threads / dt / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "usage: bench_peak [threads 1..64]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        printf("bench_peak: no AVX-512 on this CPU: no peak measured\n");
        return 0;
    }
    printf("PEAK fp32_fma threads=1 gflops %.1f\n", measure(fma_loop, 1, 32));
    printf("PEAK fp32_fma threads=%d gflops %.1f\n", threads, measure(fma_loop, threads, 32));
    if (__builtin_cpu_supports("avx512bf16")) {
        printf("PEAK bf16_dot threads=1 gflops %.1f\n", measure(bf16_loop, 1, 64));
        printf("PEAK bf16_dot threads=%d gflops %.1f\n", threads, measure(bf16_loop, threads, 64));
    } else {
        printf("bench_peak: no AVX512_BF16 on this CPU: no bf16 peak\n");
    }
    return 0;
}
