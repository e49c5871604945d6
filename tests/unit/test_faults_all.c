/* test_faults_all.c - out-of-memory everywhere: for each stage below, fail the Nth
 * allocation of the library (ic_set_alloc_hooks; cJSON goes through the same hooks) for
 * every N = 1, 2, ... until the stage completes. Every call must return IC_OK or
 * IC_ERR_NOMEM (never crash or abort), a NOMEM message must say how many bytes were
 * requested, a failed save must leave no temporary file behind, and under AddressSanitizer
 * nothing may leak (LeakSanitizer at exit). Stages: smallcnn build + compile, a fit step
 * (train_on_batch x2, fit 1 epoch with validation, evaluate), ic_model_save,
 * ic_model_load, ic_model_save_weights, ic_model_load_weights, ic_image_save_png,
 * ic_image_load (PNG RGB/grayscale, and a JPEG from ../shared when present),
 * ic_flow_from_directory with augmentation + two batches, history CSV/JSON save + load.
 * Complements tests/train/test_fit_faults.c (dense model, both backends). */
#include <dirent.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"

#define H 48 /* smallcnn needs >= 38 pixels (four valid 3x3 convs, three 2x2 pools) */

static atomic_long g_count, g_fail_at;
static atomic_int g_armed;

static void *f_malloc(size_t n, void *u)
{
    (void)u;
    if (atomic_load(&g_armed) && atomic_fetch_add(&g_count, 1) + 1 == atomic_load(&g_fail_at))
        return NULL;
    return malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    (void)u;
    if (atomic_load(&g_armed) && atomic_fetch_add(&g_count, 1) + 1 == atomic_load(&g_fail_at))
        return NULL;
    return realloc(p, n);
}
static void f_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void arm(void)
{
    atomic_store(&g_armed, 1);
}
static void disarm(void)
{
    atomic_store(&g_armed, 0);
}

static char g_dir[4096];
static int g_bad_status, g_no_size, g_stray;

/* Temp files ("*.tmp.*") left in the work directory after a failed save. */
static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", g_dir, name);
}

/* ---- shared fixtures (made unarmed) ---- */

static ic_tensor *g_x, *g_y;

static ic_status build(ic_model **m)
{
    ic_status s = ic_app_smallcnn(m, H, H, 3, 0.5f, 2);
    if (s)
        return s;
    ic_compile_opts c = ic_compile_opts_default();
    s = ic_model_compile(*m, &c);
    if (s) {
        ic_model_free(*m);
        *m = NULL;
    }
    return s;
}

/* ---- stages: each frees everything it made, on success and on failure ---- */

static ic_status st_build(void)
{
    ic_model *m = NULL;
    arm();
    ic_status s = build(&m);
    disarm();
    ic_model_free(m);
    return s;
}

static ic_status st_fit(void)
{
    ic_model *m = NULL;
    ic_batch_source src = {0};
    ic_history *h = NULL;
    ic_status s = build(&m);
    if (s)
        return s; /* unarmed: a real failure */
    double loss, acc;
    arm();
    if ((s = ic_model_train_on_batch(m, g_x, g_y, &loss, &acc)))
        goto done;
    if ((s = ic_model_train_on_batch(m, g_x, g_y, &loss, &acc)))
        goto done;
    if ((s = ic_batch_source_tensors(&src, g_x, g_y, 2, 1, 5)))
        goto done;
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 1;
    s = ic_model_fit(m, &fo, &src, &src, &h);
    if (s)
        goto done;
    s = ic_model_evaluate(m, &src, 0, &loss, &acc);
done:
    disarm();
    ic_history_free(h);
    ic_batch_source_free(&src);
    ic_model_free(m);
    return s;
}

static ic_model *g_trained;
static ic_model_meta g_meta;

static ic_status st_save(void)
{
    char p[4200];
    path_in(p, sizeof p, "saved.h5");
    arm();
    ic_status s = ic_model_save(g_trained, p, &g_meta, 1);
    disarm();
    return s;
}

static ic_status st_load(void)
{
    char p[4200];
    path_in(p, sizeof p, "model.h5");
    ic_model *m = NULL;
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    arm();
    ic_status s = ic_model_load(&m, p, &meta);
    disarm();
    if (!s) {
        CHECK(meta.n_classes == 2 && meta.class_names && !strcmp(meta.class_names[1], "dogs"));
        ic_model_meta_free(&meta);
    }
    ic_model_free(m);
    return s;
}

static ic_status st_save_weights(void)
{
    char p[4200];
    path_in(p, sizeof p, "saved_w.h5");
    arm();
    ic_status s = ic_model_save_weights(g_trained, p);
    disarm();
    return s;
}

static ic_status st_load_weights(void)
{
    char p[4200];
    path_in(p, sizeof p, "weights.h5");
    ic_model *m = NULL;
    ic_status s = ic_app_smallcnn(&m, H, H, 3, 0.5f, 2);
    if (s)
        return s;
    arm();
    s = ic_model_load_weights(m, p, NULL);
    disarm();
    if (!s) { /* the last kernel came through */
        int k = ic_model_num_weights(m) - 2;
        const ic_tensor *a = ic_model_weight(m, k, NULL), *b = ic_model_weight(g_trained, k, NULL);
        CHECK(!memcmp(ic_tensor_cdata(a), ic_tensor_cdata(b),
                      (size_t)ic_tensor_numel(a) * sizeof(float)));
    }
    ic_model_free(m);
    return s;
}

static ic_image g_img;

static ic_status st_save_png(void)
{
    char p[4200];
    path_in(p, sizeof p, "saved.png");
    arm();
    ic_status s = ic_image_save_png(&g_img, p);
    disarm();
    return s;
}

static char g_jpeg[4200];

static ic_status st_image_load(void)
{
    char p[4200];
    path_in(p, sizeof p, "data/cats/0.png");
    ic_image a = {0}, b = {0}, c = {0};
    arm();
    ic_status s = ic_image_load(p, IC_COLOR_RGB, 0, 0, &a);
    if (!s)
        s = ic_image_load(p, IC_COLOR_GRAYSCALE, 0, 0, &b);
    if (!s && g_jpeg[0])
        s = ic_image_load(g_jpeg, IC_COLOR_RGB, 40, 40, &c);
    disarm();
    ic_image_release(&a);
    ic_image_release(&b);
    ic_image_release(&c);
    return s;
}

static int g_flow_threads;

static ic_status st_flow(void)
{
    char p[4200];
    path_in(p, sizeof p, "data");
    ic_dir_iterator *it = NULL;
    ic_image_data_generator g = ic_image_data_generator_book();
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = 24;
    o.class_mode = IC_CLASS_BINARY;
    o.batch_size = 4;
    o.seed = 3;
    o.has_seed = 1;
    o.threads = g_flow_threads;
    o.prefetch = 1;
    arm();
    ic_status s = ic_flow_from_directory(&it, p, &g, &o);
    if (!s) {
        ic_batch_source src = ic_dir_iterator_source(it);
        const ic_tensor *x, *y;
        for (int i = 0; i < 2 && !s; i++)
            s = src.ops->next(src.self, &x, &y);
    }
    disarm();
    ic_dir_iterator_free(it);
    return s;
}

static ic_status st_history(void)
{
    char csv[4200], json[4200];
    path_in(csv, sizeof csv, "h.csv");
    path_in(json, sizeof json, "h.json");
    ic_history *h = NULL, *r1 = NULL, *r2 = NULL;
    arm();
    ic_status s = ic_history_create(&h, 1, 1);
    for (int e = 0; e < 3 && !s; e++)
        s = ic_history_append(h, 0.5 / (e + 1), 0.5 + 0.1 * e, 0.6, 0.55);
    if (!s)
        s = ic_history_save_csv(h, csv);
    if (!s)
        s = ic_history_save_json(h, json);
    if (!s)
        s = ic_history_load(csv, &r1);
    if (!s)
        s = ic_history_load(json, &r2);
    disarm();
    ic_history_free(h);
    ic_history_free(r1);
    ic_history_free(r2);
    return s;
}

/* Fails the Nth allocation for N = 1, 2, ... until the stage runs to completion. */
static void run_stage(const char *name, ic_status (*fn)(void))
{
    ic_alloc_hooks hk = {f_malloc, f_realloc, f_free, NULL};
    long n;
    int done = 0;
    for (n = 1; n < 100000 && !done; n++) {
        atomic_store(&g_count, 0);
        atomic_store(&g_fail_at, n);
        ic_clear_error();
        ic_set_alloc_hooks(&hk);
        ic_status s = fn();
        ic_set_alloc_hooks(NULL);
        if (s && s != IC_ERR_NOMEM) { /* reported once per distinct message */
            static char last[1024];
            if (g_bad_status++ < 200 && strcmp(last, ic_errmsg()))
                fprintf(stderr, "%s: fail_at %ld: %s: %s\n", name, n, ic_status_str(s),
                        ic_errmsg());
            snprintf(last, sizeof last, "%s", ic_errmsg());
        }
        if (s == IC_ERR_NOMEM && !strstr(ic_errmsg(), "bytes")) {
            if (g_no_size++ < 10)
                fprintf(stderr, "%s: fail_at %ld: NOMEM message without a size: %s\n", name,
                        n, ic_errmsg());
        }
        int t = count_temps();
        if (t) {
            if (g_stray++ < 20)
                fprintf(stderr, "%s: fail_at %ld: %d temporary file(s) left behind\n", name, n,
                        t);
            char cmd[8300]; /* clean up so the next point is judged on its own */
            snprintf(cmd, sizeof cmd, "rm -f '%s'/*.tmp* '%s'/.*.tmp*", g_dir, g_dir);
            if (system(cmd) != 0)
                break;
        }
        if (atomic_load(&g_count) < n) { /* the failure point was never reached: done */
            CHECKF(s == IC_OK, "%s: clean run failed: %s: %s", name, ic_status_str(s),
                   ic_errmsg());
            done = 1;
        }
    }
    CHECKF(done, "%s: did not complete", name);
    printf("%-14s %5ld allocation failure points survived\n", name, n - 2);
    fflush(stdout);
}

static void make_png(const char *rel, int seed)
{
    char p[4200];
    path_in(p, sizeof p, rel);
    ic_image img = {30, 36, 3, NULL};
    uint8_t px[30 * 36 * 3];
    for (int i = 0; i < 30 * 36 * 3; i++)
        px[i] = (uint8_t)(i * 7 + seed * 31);
    img.data = px;
    OK(ic_image_save_png(&img, p));
}

static void find_jpeg(void)
{
    const char *e = getenv("IC_SHARED_DIR");
    char d[4096];
    snprintf(d, sizeof d, "%.4000s/data/cats_and_dogs_small/train/cats",
             e && *e ? e : IC_SOURCE_DIR "/../shared");
    DIR *dir = opendir(d);
    struct dirent *ent;
    while (dir && (ent = readdir(dir)))
        if (strstr(ent->d_name, ".jpg")) {
            snprintf(g_jpeg, sizeof g_jpeg, "%.4000s/%.190s", d, ent->d_name);
            break;
        }
    if (dir)
        closedir(dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_faults_all.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    ic_set_random_seed(11);
    OK(ic_set_backend("cpu"));

    /* fixtures: a dataset (2 classes x 3 PNGs), tensors, a trained model and its files */
    char p[4200];
    path_in(p, sizeof p, "data");
    mkdir(p, 0777);
    path_in(p, sizeof p, "data/cats");
    mkdir(p, 0777);
    path_in(p, sizeof p, "data/dogs");
    mkdir(p, 0777);
    make_png("data/cats/0.png", 1);
    make_png("data/cats/1.png", 2);
    make_png("data/cats/2.png", 3);
    make_png("data/dogs/0.png", 4);
    make_png("data/dogs/1.png", 5);
    make_png("data/dogs/2.png", 6);
    find_jpeg();
    int64_t xs[4] = {4, H, H, 3}, ys[2] = {4, 1};
    OK(ic_tensor_create(&g_x, 4, xs));
    OK(ic_tensor_create(&g_y, 2, ys));
    t_fill_uniform(ic_tensor_data(g_x), ic_tensor_numel(g_x), 7, 0, 1);
    float *y = ic_tensor_data(g_y);
    y[0] = 0, y[1] = 1, y[2] = 1, y[3] = 0;
    OK(build(&g_trained));
    double loss, acc;
    OK(ic_model_train_on_batch(g_trained, g_x, g_y, &loss, &acc));
    static char *names[2] = {"cats", "dogs"};
    g_meta.n_classes = 2;
    g_meta.class_names = names;
    g_meta.target_h = g_meta.target_w = H;
    g_meta.rescale = 1.0f / 255;
    path_in(p, sizeof p, "model.h5");
    OK(ic_model_save(g_trained, p, &g_meta, 1));
    path_in(p, sizeof p, "weights.h5");
    OK(ic_model_save_weights(g_trained, p));
    static uint8_t px[20 * 20];
    for (int i = 0; i < 400; i++)
        px[i] = (uint8_t)(i * 3);
    g_img = (ic_image){20, 20, 1, px};

    run_stage("build", st_build);
    run_stage("fit step", st_fit);
    run_stage("model save", st_save);
    run_stage("model load", st_load);
    run_stage("save weights", st_save_weights);
    run_stage("load weights", st_load_weights);
    run_stage("save png", st_save_png);
    run_stage("image load", st_image_load);
    g_flow_threads = 1;
    run_stage("flow 1 thread", st_flow);
    g_flow_threads = 2;
    run_stage("flow 2 threads", st_flow);
    run_stage("history", st_history);

    CHECKF(g_bad_status == 0, "%d calls returned a status other than OK / NOMEM", g_bad_status);
    CHECKF(g_no_size == 0, "%d NOMEM messages did not name the size", g_no_size);
    CHECKF(g_stray == 0, "%d failed saves left temporary files", g_stray);
    ic_model_free(g_trained);
    ic_tensor_free(g_x);
    ic_tensor_free(g_y);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return t_finish();
}
