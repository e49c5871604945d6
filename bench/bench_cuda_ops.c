/* bench_cuda_ops.c - a crude timing of one convolution through a backend table: VGG16's
 * block3 shape by default (batch 20, 37x37x256 -> 256, 3x3 'same', relu), forward +
 * backward data + backward weights, host copies included (the cuda backend still sits
 * behind the host-pointer interface). Prints ms per pass and per step.
 *
 *   bench_cuda_ops [backend=cuda] [iters=20] [n=20] [hw=37] [c=256]
 * Exits 77 when the backend is not available (no CUDA build or no GPU). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "imgclass/imgclass.h"

extern const char *ic__cuda_conv_algos(const ic__op *op) __attribute__((weak));

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float *fill(long n, unsigned seed)
{
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    unsigned long long s = seed * 2654435761ull + 1;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((s >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f;
    }
    return p;
}

#define CK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != IC_OK) {                                                                     \
            fprintf(stderr, "%s failed: %s\n", #call, ic_errmsg());                                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "cuda";
    int iters = argc > 2 ? atoi(argv[2]) : 20;
    int64_t n = argc > 3 ? atoll(argv[3]) : 20, hw = argc > 4 ? atoll(argv[4]) : 37,
            c = argc > 5 ? atoll(argv[5]) : 256;
    const ic__backend *be;
    if (ic__backend_by_name(name, &be) != IC_OK) {
        printf("SKIP: %s\n", ic_errmsg());
        return 77;
    }
    ic__conv_desc d = {n, hw, hw, c, hw, hw, c, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU,
                       IC__PREC_F32};
    long ns = (long)(n * hw * hw * c), nw = 9L * c * c;
    float *src = fill(ns, 1), *w = fill(nw, 2), *b = fill(c, 3), *dd = fill(ns, 4);
    float *dst = fill(ns, 5), *ds = fill(ns, 6), *dw = fill(nw, 7), *db = fill(c, 8);
    ic__op *op;
    double t0 = now_ms();
    CK(be->conv_create(&op, &d));
    double tc = now_ms() - t0;
    if (ic__cuda_conv_algos && !strcmp(name, "cuda"))
        printf("algorithms: %s\n", ic__cuda_conv_algos(op));
    /* warm-up: lazily created backward passes, cuDNN's first-call costs */
    CK(be->conv_fwd(op, dst, src, w, 1, b));
    CK(be->conv_bwd_data(op, ds, dd, w, 1));
    CK(be->conv_bwd_weights(op, dw, db, src, dd));
    double tf = 0, tbd = 0, tbw = 0;
    for (int i = 0; i < iters; i++) {
        double a = now_ms();
        CK(be->conv_fwd(op, dst, src, w, 1, b)); /* cached weights, as in a frozen base */
        double m1 = now_ms();
        CK(be->conv_bwd_data(op, ds, dd, w, 1));
        double m2 = now_ms();
        CK(be->conv_bwd_weights(op, dw, db, src, dd));
        double m3 = now_ms();
        tf += m1 - a, tbd += m2 - m1, tbw += m3 - m2;
    }
    double gf = 2.0 * n * hw * hw * c * c * 9 / 1e9; /* GFLOP per pass */
    printf("%s conv n%lld %lldx%lldx%lld->%lld 3x3 same relu, %d iters (create %.1f ms)\n", name,
           (long long)n, (long long)hw, (long long)hw, (long long)c, (long long)c, iters, tc);
    printf("  fwd %.3f ms  bwd_data %.3f ms  bwd_weights %.3f ms  step %.3f ms"
           "  (%.1f GFLOP/pass, %.1f MB copied per step)\n",
           tf / iters, tbd / iters, tbw / iters, (tf + tbd + tbw) / iters, gf,
           (ns * 6.0 + nw) * 4 / 1e6); /* 6 activations up/down, dW down */
    be->op_free(op);
    free(src), free(w), free(b), free(dd), free(dst), free(ds), free(dw), free(db);
    return 0;
}
