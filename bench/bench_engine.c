/* bench_engine.c - images/s of the book's four workloads at batch 20, 150x150x3, with
 * random weights and data, timed the way ../shared/bench/torch_anchor.py times PyTorch
 * (warm-up, then blocks of iterations each timed alone; best and median):
 *   fwd      (a) VGG16 conv base forward, inference
 *   feat     (b) training step: frozen VGG16 base + Flatten + Dense 256 relu + Dense 1
 *                sigmoid, RMSprop, binary cross-entropy
 *   finetune (c) the same model trainable from block3_conv1 on
 *   small    (d) training step of the book's small convnet (dropout 0.5)
 * Usage: bench_engine [--tests fwd,feat,finetune,small] [--iters N] [--reps R]
 *                     [--warmup W] [--batch B] [--precision fp32|bf16]
 * Prints one "RESULT test=..." line per test (scripts/bench.sh compares with PyTorch),
 * with GFLOP/s from the FLOP counts of ../shared/bench/README.md (flops.py) and the
 * process's peak resident memory so far (scripts/bench.sh runs one test per process, so
 * it is that test's peak). */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgclass/imgclass.h"

static int g_batch = 20;
static ic_precision g_prec = IC_PRECISION_FP32;

/* GFLOP per image at 150x150 (../shared/bench/README.md, "Peak and FLOPs"): forward of
 * VGG16's base; a frozen-base step (base forward + head); a fine-tuning step from
 * block3_conv1 (forward + backward-data from block3_conv2 up + backward-weights from
 * block3_conv1 up); the small convnet's training step. */
static double gflop_per_image(const char *test)
{
    return !strcmp(test, "fwd")        ? 13.231
           : !strcmp(test, "feat")     ? 13.24
           : !strcmp(test, "finetune") ? 30.44
           : !strcmp(test, "small")    ? 1.38
                                       : 0;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what, ic_status s)
{
    fprintf(stderr, "bench_engine: %s: %s: %s\n", what, ic_status_str(s), ic_errmsg());
    exit(1);
}
#define TRY(what, call)                                                                    \
    do {                                                                                   \
        ic_status s_ = (call);                                                             \
        if (s_)                                                                            \
            die(what, s_);                                                                 \
    } while (0)

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct workload {
    ic_model *model;   /* what runs */
    ic_tensor *x, *y;
    int train;
} workload;

static ic_model *vgg_base(void)
{
    ic_app_opts o = ic_app_opts_default();
    o.input_shape[0] = 150, o.input_shape[1] = 150, o.input_shape[2] = 3;
    ic_model *m;
    TRY("vgg16", ic_app_vgg16(&m, &o));
    return m;
}

static ic_model *book_model(const char *unfreeze_from)
{
    ic_model *base = vgg_base(), *m;
    ic_layer *l;
    if (unfreeze_from)
        TRY("unfreeze", ic_model_unfreeze_range(base, unfreeze_from, NULL));
    else
        ic_model_set_trainable(base, 0);
    TRY("model", ic_model_create(&m, NULL, 1));
    TRY("nest", ic_layer_from_model(&l, base));
    TRY("add", ic_model_add(m, l));
    TRY("flatten", ic_layer_flatten(&l, NULL));
    TRY("add", ic_model_add(m, l));
    TRY("dense", ic_layer_dense(&l, 256, IC_ACT_RELU, 1, NULL));
    TRY("add", ic_model_add(m, l));
    TRY("dense", ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, NULL));
    TRY("add", ic_model_add(m, l));
    return m;
}

static void make_data(workload *w)
{
    int64_t xs[4] = {g_batch, 150, 150, 3}, ys[2] = {g_batch, 1};
    TRY("x", ic_tensor_create(&w->x, 4, xs));
    TRY("y", ic_tensor_create(&w->y, 2, ys));
    float *x = ic_tensor_data(w->x), *y = ic_tensor_data(w->y);
    unsigned long long s = 42;
    for (int64_t i = 0; i < ic_tensor_numel(w->x); i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (1.0 / 16777216.0));
    }
    for (int i = 0; i < g_batch; i++)
        y[i] = (float)(i % 2);
}

static void setup(const char *test, workload *w)
{
    memset(w, 0, sizeof *w);
    if (!strcmp(test, "fwd")) {
        w->model = vgg_base();
        TRY("precision", ic_model_set_precision(w->model, g_prec));
    } else {
        w->train = 1;
        if (!strcmp(test, "feat"))
            w->model = book_model(NULL);
        else if (!strcmp(test, "finetune"))
            w->model = book_model("block3_conv1");
        else if (!strcmp(test, "small"))
            TRY("smallcnn", ic_app_smallcnn(&w->model, 150, 150, 3, 0.5f, 2));
        else {
            fprintf(stderr, "bench_engine: unknown test '%s'\n", test);
            exit(2);
        }
        ic_compile_opts c = ic_compile_opts_default();
        c.optimizer.lr = 1e-5f;
        c.precision = g_prec;
        TRY("compile", ic_model_compile(w->model, &c));
    }
    make_data(w);
}

static void step(workload *w)
{
    if (w->train) {
        double loss;
        TRY("train step", ic_model_train_on_batch(w->model, w->x, w->y, &loss, NULL));
    } else {
        ic_tensor *out;
        TRY("forward", ic_model_forward(w->model, w->x, &out));
        ic_tensor_free(out);
    }
}

int main(int argc, char **argv)
{
    const char *tests = "fwd,feat,finetune,small";
    int iters = 0, reps = 3, warmup = 2;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--tests"))
            tests = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--iters"))
            iters = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--batch"))
            g_batch = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--precision"))
            TRY("--precision", ic_precision_parse(argv[++i], &g_prec));
        else {
            fprintf(stderr, "usage: bench_engine [--tests fwd,feat,finetune,small] [--iters N] "
                            "[--reps R] [--warmup W] [--batch B] [--precision fp32|bf16]\n");
            return 2;
        }
    }
    if (g_prec == IC_PRECISION_BF16 && !ic_precision_supported(g_prec)) {
        printf("bench_engine: this CPU has no native bf16: nothing to measure in bf16\n");
        return 0;
    }
    printf("imgclass %s, backend %s, %d threads, batch %d, %s\n", ic_version(), ic_backend_name(),
           ic_num_threads(), g_batch, ic_precision_name(g_prec));
    char list[256];
    snprintf(list, sizeof list, "%s", tests);
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        /* Same per-test iteration counts as torch_anchor.py. */
        int n = iters > 0 ? iters : !strcmp(t, "small") ? 10 : !strcmp(t, "finetune") ? 3 : 4;
        workload w;
        setup(t, &w);
        for (int i = 0; i < warmup; i++)
            step(&w);
        if (getenv("BENCH_MARK")) { /* scripts/bench_profile.sh: where the timed steps begin */
            printf("MARK timed steps\n");
            fflush(stdout);
        }
        double *times = malloc(sizeof(double) * (size_t)(n * reps));
        for (int i = 0; i < n * reps; i++) {
            double t0 = now();
            step(&w);
            times[i] = now() - t0;
        }
        qsort(times, (size_t)(n * reps), sizeof *times, cmpd);
        double best = times[0], med = times[(n * reps) / 2];
        if ((n * reps) % 2 == 0)
            med = 0.5 * (times[(n * reps) / 2 - 1] + times[(n * reps) / 2]);
        printf("RESULT test=%-8s prec=%s batch=%d threads=%d n=%d  best %7.2f img/s (%8.1f "
               "ms/batch)  med %7.2f img/s (%8.1f ms/batch)  gflops %6.1f  rss_mib %.0f\n",
               t, ic_precision_name(ic_model_precision(w.model)), g_batch, ic_num_threads(),
               n * reps, g_batch / best, best * 1e3, g_batch / med, med * 1e3,
               gflop_per_image(t) * g_batch / med, peak_rss_mib());
        fflush(stdout);
        free(times);
        ic_model_free(w.model);
        ic_tensor_free(w.x);
        ic_tensor_free(w.y);
    }
    return 0;
}
