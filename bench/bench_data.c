/* bench_data.c - throughput of the data pipeline: decode + resize + augmentation (the book's
 * training generator: rescale, rotation 40, shifts 0.2, shear 0.2, zoom 0.2, flips) to
 * 150x150, batches of 20, through the directory iterator's worker threads; once with one
 * worker and once with all threads.
 *
 * usage: bench_data [DIR] [--batches N] [--threads N]
 *   three timed runs of N batches (default 30) per thread count; best and median img/s.
 *   DIR defaults to ../shared/data/cats_and_dogs_small/train ($IC_SHARED_DIR/data/... if
 *   set). Prints one "RESULT data threads=N ... img/s" line per thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "imgclass/imgclass.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define REPS 3

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int run(const char *dir, int threads, int batches)
{
    ic_image_data_generator g = ic_image_data_generator_book();
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = 150;
    o.batch_size = 20;
    o.class_mode = IC_CLASS_BINARY;
    o.has_seed = 1;
    o.seed = 1;
    o.threads = threads;
    ic_dir_iterator *it;
    if (ic_flow_from_directory(&it, dir, &g, &o)) {
        fprintf(stderr, "bench_data: %s\n", ic_errmsg());
        return 1;
    }
    ic_batch_source src = ic_dir_iterator_source(it);
    const ic_tensor *x, *y;
    /* Two warm-up batches, then `reps` timed runs of `batches` batches; the median run. */
    double rate[REPS];
    int64_t images = 0;
    for (int b = -2; b < REPS * batches; b++) {
        if (b >= 0 && b % batches == 0) {
            images = 0;
            rate[b / batches] = now();
        }
        if (src.ops->next(src.self, &x, &y)) {
            fprintf(stderr, "bench_data: %s\n", ic_errmsg());
            ic_dir_iterator_free(it);
            return 1;
        }
        if (b >= 0)
            images += ic_tensor_dim(x, 0);
        if (b >= 0 && b % batches == batches - 1)
            rate[b / batches] = (double)images / (now() - rate[b / batches]);
    }
    qsort(rate, REPS, sizeof *rate, cmpd);
    printf("RESULT data threads=%d batch=20 size=150x150 images=%lld reps=%d  best %8.1f img/s  "
           "med %8.1f img/s\n",
           threads, (long long)images, REPS, rate[REPS - 1], rate[REPS / 2]);
    fflush(stdout);
    ic_dir_iterator_free(it);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int batches = 30, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batches") && i + 1 < argc)
            batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "usage: bench_data [DIR] [--batches N] [--threads N]\n");
            return 2;
        }
    }
    static char def[4096];
    if (!dir) {
        const char *e = getenv("IC_SHARED_DIR");
        snprintf(def, sizeof def, "%s/data/cats_and_dogs_small/train", e && *e ? e : "../shared");
        dir = def;
    }
    if (!is_dir(dir)) {
        fprintf(stderr, "bench_data: %s not found (give a folder with one subfolder per class)\n",
                dir);
        return 1;
    }
    if (batches < 1)
        batches = 1;
    int all = threads > 0 ? threads : ic_num_threads();
    printf("imgclass %s data pipeline: %s, the book's generator, 150x150, batch 20, %d batches\n",
           ic_version(), dir, batches);
    if (run(dir, 1, batches))
        return 1;
    if (all > 1 && run(dir, all, batches))
        return 1;
    return 0;
}
