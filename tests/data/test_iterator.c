/* test_iterator.c - flow_from_directory on fixture trees built in a temporary folder:
 * class discovery and byte order, explicit class lists, the recursive walk order, extension
 * and content filtering, labels per class_mode, batch shapes and cycling, seeds, bit-identical
 * batches for any thread / prefetch count, bad files at scan and decode time, errors, and
 * freeing mid-epoch. Small images whose pixels encode a sample id tell which file landed
 * where. */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "harness.h"

static char g_root[256];

/* ---- fixtures ---- */

static void path_of(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%.200s/%.700s", g_root, rel);
}

static void mkdirs(const char *rel)
{
    char p[1024];
    path_of(p, sizeof p, rel);
    for (char *q = p + strlen(g_root) + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(p, 0777);
            *q = '/';
        }
    mkdir(p, 0777);
}

static void parent_dirs(const char *rel)
{
    char d[1024];
    snprintf(d, sizeof d, "%s", rel);
    char *s = strrchr(d, '/');
    if (s) {
        *s = 0;
        mkdirs(d);
    }
}

/* Pixel (r, c, k) of image `id`: solid colour (id*5+k) when plain, else a gradient. */
static uint8_t pix(int id, int r, int c, int k, int plain)
{
    return plain ? (uint8_t)(id * 5 + k) : (uint8_t)(r * 7 + c * 3 + k * 50 + id * 11);
}

static void write_png(const char *rel, int h, int w, int id, int plain)
{
    parent_dirs(rel);
    ic_image img = {h, w, 3, malloc((size_t)(h * w * 3))};
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            for (int k = 0; k < 3; k++)
                img.data[(r * w + c) * 3 + k] = pix(id, r, c, k, plain);
    char p[1024];
    path_of(p, sizeof p, rel);
    OK(ic_image_save_png(&img, p));
    free(img.data);
}

/* A real baseline JPEG; returns its size. */
static long write_jpeg(const char *rel, int h, int w, int id)
{
    parent_dirs(rel);
    char p[1024];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    while (ci.next_scanline < ci.image_height) {
        int r = (int)ci.next_scanline;
        for (int c = 0; c < w; c++)
            for (int k = 0; k < 3; k++)
                row[c * 3 + k] = pix(id, r, c, k, 0);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&ci, &rp, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void write_bytes(const char *rel, const void *data, size_t n)
{
    parent_dirs(rel);
    char p[1024];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
}

static void truncate_file(const char *rel, long keep)
{
    char p[1024];
    path_of(p, sizeof p, rel);
    if (truncate(p, keep) != 0)
        perror(p);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[2048];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* ---- log capture (worker threads log too) ---- */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[16384];
static int g_log_lines;

static void capture(int level, const char *msg, void *user)
{
    (void)user;
    pthread_mutex_lock(&g_log_mu);
    size_t l = strlen(g_log);
    snprintf(g_log + l, sizeof g_log - l, "[%d] %s\n", level, msg);
    g_log_lines++;
    pthread_mutex_unlock(&g_log_mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&g_log_mu);
    g_log[0] = 0;
    g_log_lines = 0;
    pthread_mutex_unlock(&g_log_mu);
}

static int log_count(const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&g_log_mu);
    for (const char *p = g_log; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    pthread_mutex_unlock(&g_log_mu);
    return n;
}

/* ---- helpers ---- */

static ic_flow_opts small_opts(int64_t size, int64_t bs)
{
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = size;
    o.batch_size = bs;
    o.shuffle = 0;
    o.has_seed = 1;
    o.seed = 7;
    o.threads = 2;
    return o;
}

static ic_status open_it(ic_dir_iterator **it, const char *rel, const ic_image_data_generator *g,
                         const ic_flow_opts *o)
{
    char p[1024];
    path_of(p, sizeof p, rel);
    return ic_flow_from_directory(it, p, g, o);
}

/* The id encoded in a plain image's first pixel. */
static int id_of(const float *x)
{
    return (int)x[0] / 5;
}

static const char *path_tail(const ic_dir_iterator *it, int64_t i)
{
    const char *p = ic_dir_iterator_path(it, i);
    return p ? p + strlen(g_root) + 1 : "(null)";
}

/* ---- tests ---- */

static void test_discovery(void)
{
    /* Byte order: "B" < "a10" < "a9" < "b" (natural order would put a9 before a10). */
    write_png("disc/b/z.png", 4, 4, 1, 1);
    write_png("disc/b/sub/a.png", 4, 4, 2, 1);
    write_png("disc/b/sub-x/c.png", 4, 4, 3, 1);
    write_png("disc/b/sub/deeper/d.png", 4, 4, 4, 1);
    write_png("disc/B/10.png", 4, 4, 5, 1);
    write_png("disc/B/9.png", 4, 4, 6, 1);
    write_png("disc/a10/x.png", 4, 4, 7, 1);
    write_png("disc/a9/x.png", 4, 4, 8, 1);
    write_bytes("disc/stray.png", "not a class", 11); /* a file in the root is no class */

    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(4, 3);
    OK(open_it(&it, "disc", NULL, &o));
    CHECK(ic_dir_iterator_num_classes(it) == 4);
    const char *want[4] = {"B", "a10", "a9", "b"};
    for (int i = 0; i < 4; i++)
        CHECKF(ic_dir_iterator_class_name(it, i) &&
                   !strcmp(ic_dir_iterator_class_name(it, i), want[i]),
               "class %d is %s, want %s", i, ic_dir_iterator_class_name(it, i), want[i]);
    CHECK(ic_dir_iterator_class_name(it, 4) == NULL);
    CHECK(ic_dir_iterator_samples(it) == 8);
    /* Keras sorts os.walk's directories by full path: b, b/sub, b/sub-x, b/sub/deeper ('-' is
     * 0x2d, '/' 0x2f); file names in byte order ("10.png" < "9.png"). */
    const char *paths[8] = {"disc/B/10.png",      "disc/B/9.png",           "disc/a10/x.png",
                            "disc/a9/x.png",      "disc/b/z.png",           "disc/b/sub/a.png",
                            "disc/b/sub-x/c.png", "disc/b/sub/deeper/d.png"};
    int labels[8] = {0, 0, 1, 2, 3, 3, 3, 3};
    for (int i = 0; i < 8; i++) {
        CHECKF(!strcmp(path_tail(it, i), paths[i]), "sample %d is %s, want %s", i, path_tail(it, i),
               paths[i]);
        CHECKF(ic_dir_iterator_label(it, i) == labels[i], "label %d: %d", i,
               ic_dir_iterator_label(it, i));
    }
    CHECK(ic_dir_iterator_label(it, 8) == -1 && ic_dir_iterator_path(it, -1) == NULL);
    char buf[128];
    CHECK(!strcmp(ic_dir_iterator_found(it, buf, sizeof buf),
                  "Found 8 images belonging to 4 classes."));
    CHECK(ic_dir_iterator_skipped(it) == 0);
    ic_dir_iterator_free(it);

    /* Explicit class list: its order gives the indices; other folders are ignored. */
    const char *cls[2] = {"b", "a9"};
    o.classes = cls;
    o.n_classes = 2;
    OK(open_it(&it, "disc", NULL, &o));
    CHECK(ic_dir_iterator_num_classes(it) == 2 && ic_dir_iterator_samples(it) == 5);
    CHECK(!strcmp(ic_dir_iterator_class_name(it, 0), "b"));
    CHECK(ic_dir_iterator_label(it, 0) == 0 && ic_dir_iterator_label(it, 4) == 1);
    CHECK(!strcmp(path_tail(it, 4), "disc/a9/x.png"));
    ic_dir_iterator_free(it);
    const char *missing[2] = {"b", "zz"};
    o.classes = missing;
    EXPECT_ERR(open_it(&it, "disc", NULL, &o), IC_ERR_NOT_FOUND, "disc/zz");
    const char *twice[2] = {"b", "b"};
    o.classes = twice;
    EXPECT_ERR(open_it(&it, "disc", NULL, &o), IC_ERR_INVALID, "twice");
}

static void test_extensions(void)
{
    write_jpeg("ext/a/upper.JPG", 8, 8, 1);
    write_jpeg("ext/a/long.jpeg", 8, 8, 2);
    write_png("ext/a/p.PnG", 8, 8, 3, 1);
    write_bytes("ext/a/notes.txt", "hello", 5);
    write_bytes("ext/a/pic.bmp", "BM......", 8);
    write_bytes("ext/a/scan.tiff", "II*\0....", 8);
    write_bytes("ext/a/noext", "x", 1);
    log_reset();
    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(8, 2);
    OK(open_it(&it, "ext", NULL, &o));
    CHECK(ic_dir_iterator_samples(it) == 3);
    CHECK(!strcmp(path_tail(it, 0), "ext/a/long.jpeg"));
    CHECK(!strcmp(path_tail(it, 1), "ext/a/p.PnG"));
    CHECK(!strcmp(path_tail(it, 2), "ext/a/upper.JPG"));
    CHECK(ic_dir_iterator_skipped(it) == 2); /* .bmp and .tiff; .txt is not an image */
    CHECKF(g_log_lines == 1 && log_count("[2]") == 1 && log_count("pic.bmp") == 1 &&
               log_count("scan.tiff") == 1 && !log_count("notes.txt"),
           "log: %s", g_log);
    /* The JPEGs decode, and all three fit in one batch. */
    ic_batch_source src = ic_dir_iterator_source(it);
    const ic_tensor *x, *y;
    OK(src.ops->next(src.self, &x, &y));
    CHECK(ic_tensor_dim(x, 0) == 2);
    OK(src.ops->next(src.self, &x, &y));
    CHECK(ic_tensor_dim(x, 0) == 1);
    ic_dir_iterator_free(it);
}

/* Three classes of plain images: ids 0..6 (class 0: 0,1,2; class 1: 3,4; class 2: 5,6). */
static void make_plain3(void)
{
    const char *f[7] = {"p3/c0/a.png", "p3/c0/b.png", "p3/c0/c.png", "p3/c1/a.png",
                        "p3/c1/b.png", "p3/c2/a.png", "p3/c2/b.png"};
    for (int i = 0; i < 7; i++)
        write_png(f[i], 4, 4, i, 1);
}
static const int g_p3_label[7] = {0, 0, 0, 1, 1, 2, 2};

static void test_labels(void)
{
    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(4, 7);
    const ic_tensor *x, *y;
    for (int mode = 0; mode < 4; mode++) {
        o.class_mode = (ic_class_mode)mode;
        OK(open_it(&it, "p3", NULL, &o));
        ic_batch_source src = ic_dir_iterator_source(it);
        CHECK(src.ops->length(src.self) == 1);
        OK(src.ops->next(src.self, &x, &y));
        CHECK(ic_tensor_ndim(x) == 4 && ic_tensor_dim(x, 0) == 7 && ic_tensor_dim(x, 1) == 4 &&
              ic_tensor_dim(x, 2) == 4 && ic_tensor_dim(x, 3) == 3);
        const float *xd = ic_tensor_cdata(x);
        for (int i = 0; i < 7; i++)
            CHECK(id_of(xd + i * 48) == i);
        if (mode == IC_CLASS_NONE) {
            CHECK(y == NULL);
        } else if (mode == IC_CLASS_CATEGORICAL) {
            CHECK(ic_tensor_ndim(y) == 2 && ic_tensor_dim(y, 0) == 7 && ic_tensor_dim(y, 1) == 3);
            const float *yd = ic_tensor_cdata(y);
            for (int i = 0; i < 7; i++)
                for (int k = 0; k < 3; k++)
                    CHECK(yd[i * 3 + k] == (k == g_p3_label[i] ? 1.0f : 0.0f));
        } else if (mode == IC_CLASS_SPARSE) {
            CHECK(ic_tensor_ndim(y) == 2 && ic_tensor_dim(y, 0) == 7 && ic_tensor_dim(y, 1) == 1);
            for (int i = 0; i < 7; i++)
                CHECK(ic_tensor_cdata(y)[i] == (float)g_p3_label[i]);
        }
        ic_dir_iterator_free(it);
        if (mode == IC_CLASS_CATEGORICAL) { /* binary: 3 classes refused */
            o.class_mode = IC_CLASS_BINARY;
            EXPECT_ERR(open_it(&it, "p3", NULL, &o), IC_ERR_INVALID, "exactly 2 classes");
            mode++;
        }
    }
    /* binary with 2 classes: (B, 1) of 0/1. */
    const char *two[2] = {"c2", "c0"};
    o.classes = two;
    o.n_classes = 2;
    o.class_mode = IC_CLASS_BINARY;
    OK(open_it(&it, "p3", NULL, &o));
    ic_batch_source src = ic_dir_iterator_source(it);
    OK(src.ops->next(src.self, &x, &y));
    CHECK(ic_tensor_dim(x, 0) == 5 && ic_tensor_dim(y, 0) == 5 && ic_tensor_dim(y, 1) == 1);
    const float want[5] = {0, 0, 1, 1, 1};
    for (int i = 0; i < 5; i++)
        CHECK(ic_tensor_cdata(y)[i] == want[i]);
    ic_dir_iterator_free(it);

    /* Grayscale: one channel. */
    o = small_opts(4, 7);
    o.color_mode = IC_COLOR_GRAYSCALE;
    OK(open_it(&it, "p3", NULL, &o));
    src = ic_dir_iterator_source(it);
    OK(src.ops->next(src.self, &x, &y));
    CHECK(ic_tensor_dim(x, 3) == 1 && ic_tensor_numel(x) == 7 * 16);
    ic_dir_iterator_free(it);
}

/* Reads `nb` batches; ids[k] = id of each image in order, sizes[b] = batch sizes. */
static void read_ids(ic_dir_iterator *it, int nb, int *ids, int *sizes)
{
    ic_batch_source src = ic_dir_iterator_source(it);
    int k = 0;
    for (int b = 0; b < nb; b++) {
        const ic_tensor *x, *y;
        OK(src.ops->next(src.self, &x, &y));
        sizes[b] = (int)ic_tensor_dim(x, 0);
        for (int i = 0; i < sizes[b]; i++) {
            ids[k] = id_of(ic_tensor_cdata(x) + i * ic_tensor_numel(x) / sizes[b]);
            /* label must follow the image */
            int lab = (int)ic_tensor_cdata(y)[i * 3 + 1] + 2 * (int)ic_tensor_cdata(y)[i * 3 + 2];
            CHECK(lab == g_p3_label[ids[k]]);
            k++;
        }
    }
}

static void test_batching(void)
{
    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(4, 3);
    int ids[64], sizes[16];
    /* No shuffle: 3, 3, 1, then the next pass again in scan order. */
    OK(open_it(&it, "p3", NULL, &o));
    ic_batch_source src = ic_dir_iterator_source(it);
    CHECK(src.ops->length(src.self) == 3);
    read_ids(it, 7, ids, sizes);
    int want_sizes[7] = {3, 3, 1, 3, 3, 1, 3};
    for (int b = 0; b < 7; b++)
        CHECK(sizes[b] == want_sizes[b]);
    for (int k = 0; k < 17; k++)
        CHECKF(ids[k] == k % 7, "position %d: id %d", k, ids[k]);
    ic_dir_iterator_free(it);

    /* batch_size > n: every batch is the whole set. */
    o.batch_size = 10;
    OK(open_it(&it, "p3", NULL, &o));
    read_ids(it, 2, ids, sizes);
    CHECK(sizes[0] == 7 && sizes[1] == 7);
    ic_dir_iterator_free(it);

    /* Shuffle: pass p is np.random.permutation(n) after seed(seed + p). */
    o.batch_size = 3;
    o.shuffle = 1;
    o.seed = 1234;
    OK(open_it(&it, "p3", NULL, &o));
    read_ids(it, 9, ids, sizes);
    ic_dir_iterator_free(it);
    for (int p = 0; p < 3; p++) {
        ic_np_random r;
        int64_t perm[7];
        ic_np_random_seed(&r, (uint32_t)(1234 + p));
        ic_np_random_permutation(&r, 7, perm);
        for (int i = 0; i < 7; i++)
            CHECKF(ids[p * 7 + i] == perm[i], "pass %d position %d: %d vs %lld", p, i,
                   ids[p * 7 + i], (long long)perm[i]);
    }
    /* Same seed, same stream; another seed, another one. */
    int ids2[64];
    OK(open_it(&it, "p3", NULL, &o));
    read_ids(it, 9, ids2, sizes);
    ic_dir_iterator_free(it);
    CHECK(!memcmp(ids, ids2, 21 * sizeof *ids));
    o.seed = 99;
    OK(open_it(&it, "p3", NULL, &o));
    read_ids(it, 9, ids2, sizes);
    ic_dir_iterator_free(it);
    CHECK(memcmp(ids, ids2, 21 * sizeof *ids) != 0);
    /* No seed: still a permutation per pass. */
    o.has_seed = 0;
    OK(open_it(&it, "p3", NULL, &o));
    read_ids(it, 3, ids2, sizes);
    ic_dir_iterator_free(it);
    int seen[7] = {0};
    for (int i = 0; i < 7; i++)
        seen[ids2[i]]++;
    for (int i = 0; i < 7; i++)
        CHECK(seen[i] == 1);
}

/* Augmented, resized batches are the same bits for any threads / prefetch, inline loading
 * (IC_FLOW_INLINE) included, and equal to the documented recipe. */
static void test_threads(void)
{
    for (int i = 0; i < 23; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "aug/%s/%02d.png", i % 2 ? "dogs" : "cats", i);
        write_png(rel, 32, 30, i, 0);
    }
    ic_image_data_generator g = ic_image_data_generator_book();
    ic_flow_opts o = small_opts(24, 5);
    o.shuffle = 1;
    o.seed = 42;
    o.class_mode = IC_CLASS_BINARY;
    o.interpolation = IC_INTERP_BILINEAR;
    const int nb = 11; /* more than two passes of 5 batches */
    const int64_t row = 24 * 24 * 3;
    float *ref = calloc((size_t)(nb * 5 * row), sizeof(float));
    float *refy = calloc((size_t)(nb * 5), sizeof(float));
    int configs[6][2] = {{1, 1}, {4, 8}, {2, 3}, {3, 1}, {IC_FLOW_INLINE, 0}, {IC_FLOW_INLINE, 3}};
    for (int c = 0; c < 6; c++) {
        o.threads = configs[c][0];
        o.prefetch = configs[c][1];
        ic_dir_iterator *it;
        OK(open_it(&it, "aug", &g, &o));
        ic_batch_source src = ic_dir_iterator_source(it);
        int same = 1;
        for (int b = 0; b < nb; b++) {
            const ic_tensor *x, *y;
            OK(src.ops->next(src.self, &x, &y));
            int64_t cnt = ic_tensor_dim(x, 0);
            CHECK(cnt == (b % 5 == 4 ? 3 : 5));
            float *r = ref + (int64_t)b * 5 * row;
            if (c == 0) {
                memcpy(r, ic_tensor_cdata(x), (size_t)(cnt * row) * sizeof(float));
                memcpy(refy + b * 5, ic_tensor_cdata(y), (size_t)cnt * sizeof(float));
            } else {
                same &= !memcmp(r, ic_tensor_cdata(x), (size_t)(cnt * row) * sizeof(float));
                same &= !memcmp(refy + b * 5, ic_tensor_cdata(y), (size_t)cnt * sizeof(float));
            }
        }
        CHECKF(same, "threads %d prefetch %d differ from threads 1 prefetch 1", configs[c][0],
               configs[c][1]);
        /* seeking (what --resume does) lands on the same batch */
        OK(ic_dir_iterator_seek(it, 6));
        const ic_tensor *sx, *sy;
        OK(src.ops->next(src.self, &sx, &sy));
        CHECKF(!memcmp(ref + 6 * 5 * row, ic_tensor_cdata(sx), (size_t)(5 * row) * sizeof(float)),
               "threads %d prefetch %d: batch 6 after a seek differs", configs[c][0],
               configs[c][1]);
        if (c == 0) {
            /* Batch 6 (pass 1, batch 1) by hand: permutation from seed 42 + 1, transforms
             * from seed 42 + 6 in image order, load -> resize -> float -> apply. */
            ic_np_random r;
            int64_t perm[23];
            ic_np_random_seed(&r, 43);
            ic_np_random_permutation(&r, 23, perm);
            ic_np_random_seed(&r, 48);
            float *tmp = malloc((size_t)row * sizeof(float)), *out = malloc((size_t)row * 4);
            int exact = 1;
            for (int i = 0; i < 5; i++) {
                ic_transform t;
                ic_augment_random_transform(&g, 24, 24, &r, &t);
                ic_image img, rs;
                OK(ic_image_load(ic_dir_iterator_path(it, perm[5 + i]), IC_COLOR_RGB, 24, 24,
                                 &img));
                OK(ic_image_resize(&img, 24, 24, IC_INTERP_BILINEAR, &rs));
                for (int64_t k = 0; k < row; k++)
                    tmp[k] = rs.data[k];
                OK(ic_augment_apply(&g, &t, tmp, 24, 24, 3, out));
                exact &= !memcmp(out, ref + (6 * 5 + i) * row, (size_t)row * sizeof(float));
                CHECK(refy[6 * 5 + i] == (float)ic_dir_iterator_label(it, perm[5 + i]));
                ic_image_release(&img);
                ic_image_release(&rs);
            }
            CHECKF(exact, "batch 6 differs from the documented recipe");
            free(tmp);
            free(out);
            /* Values are rescaled (the book's generator has rescale 1/255). */
            float lo = 1e9f, hi = -1e9f;
            for (int64_t k = 0; k < 5 * row; k++) {
                lo = ref[k] < lo ? ref[k] : lo;
                hi = ref[k] > hi ? ref[k] : hi;
            }
            CHECKF(lo >= 0 && hi <= 1.0f && hi > 0.3f, "range %g..%g", lo, hi);
        }
        ic_dir_iterator_free(it);
    }
    free(ref);
    free(refy);
}

static void test_bad_files(void)
{
    write_png("bad/cats/good1.png", 8, 8, 1, 1);
    write_png("bad/cats/good2.png", 8, 8, 2, 1);
    write_bytes("bad/cats/empty.png", "", 0);
    write_bytes("bad/cats/garbage.jpg", "this is not a picture at all", 28);
    long n = write_jpeg("bad/cats/trunc.jpg", 64, 64, 3);
    truncate_file("bad/cats/trunc.jpg", n / 3);
    write_png("bad/dogs/d1.png", 8, 8, 4, 1);
    write_png("bad/dogs/d2.png", 8, 8, 5, 1);
    log_reset();
    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(8, 5);
    o.threads = 3;
    o.class_mode = IC_CLASS_SPARSE;
    OK(open_it(&it, "bad", NULL, &o));
    CHECK(ic_dir_iterator_samples(it) == 5);
    CHECK(ic_dir_iterator_skipped(it) == 2);
    CHECKF(log_count("empty.png: empty file") == 1 && log_count("garbage.jpg") == 1 &&
               g_log_lines == 2,
           "log: %s", g_log);
    CHECK(!strcmp(path_tail(it, 2), "bad/cats/trunc.jpg"));
    log_reset();
    ic_batch_source src = ic_dir_iterator_source(it);
    for (int pass = 0; pass < 2; pass++) {
        const ic_tensor *x, *y;
        OK(src.ops->next(src.self, &x, &y));
        const float *xd = ic_tensor_cdata(x);
        /* trunc.jpg (the last cat) is replaced by the next decodable cat: good1 (wrapping). */
        int want[5] = {1, 2, 1, 4, 5};
        for (int i = 0; i < 5; i++)
            CHECKF(id_of(xd + i * 192) == want[i], "pass %d sample %d: id %d", pass, i,
                   id_of(xd + i * 192));
        CHECK(ic_tensor_cdata(y)[2] == 0.0f);
        CHECK(ic_dir_iterator_take_replaced(it) == 1);
        CHECK(ic_dir_iterator_take_replaced(it) == 0);
    }
    CHECKF(log_count("trunc.jpg") == 1 && g_log_lines == 1, "log: %s", g_log);
    ic_dir_iterator_free(it);

    /* Inline loading replaces the same file by the same one, counts and logs it once. */
    o.threads = IC_FLOW_INLINE;
    OK(open_it(&it, "bad", NULL, &o));
    log_reset();
    src = ic_dir_iterator_source(it);
    for (int pass = 0; pass < 2; pass++) {
        const ic_tensor *x, *y;
        OK(src.ops->next(src.self, &x, &y));
        const float *xd = ic_tensor_cdata(x);
        int want[5] = {1, 2, 1, 4, 5};
        for (int i = 0; i < 5; i++)
            CHECKF(id_of(xd + i * 192) == want[i], "inline: pass %d sample %d: id %d", pass, i,
                   id_of(xd + i * 192));
        CHECK(ic_dir_iterator_take_replaced(it) == 1);
    }
    CHECKF(log_count("trunc.jpg") == 1 && g_log_lines == 1, "inline log: %s", g_log);
    ic_dir_iterator_free(it);

    /* A class none of whose files decodes: the batch fails, and so does every later one. */
    write_png("bad2/ok/a.png", 8, 8, 1, 1);
    write_bytes("bad2/worse/t.jpg", "\xff\xd8\xff\xe0", 4);
    o.threads = 2;
    OK(open_it(&it, "bad2", NULL, &o));
    src = ic_dir_iterator_source(it);
    const ic_tensor *x, *y;
    EXPECT_ERR(src.ops->next(src.self, &x, &y), IC_ERR_FORMAT, "class 'worse'");
    EXPECT_ERR(src.ops->next(src.self, &x, &y), IC_ERR_FORMAT, "class 'worse'");
    ic_dir_iterator_free(it);
    /* the same, loading inline: the error comes from the call that loads */
    o.threads = IC_FLOW_INLINE;
    OK(open_it(&it, "bad2", NULL, &o));
    src = ic_dir_iterator_source(it);
    EXPECT_ERR(src.ops->next(src.self, &x, &y), IC_ERR_FORMAT, "class 'worse'");
    EXPECT_ERR(src.ops->next(src.self, &x, &y), IC_ERR_FORMAT, "class 'worse'");
    ic_dir_iterator_free(it);
    o.threads = 2;

    /* A class whose files are all excluded at scan time. */
    write_bytes("bad3/ok/a.png", "", 0);
    write_png("bad3/ok/b.png", 8, 8, 1, 1);
    write_bytes("bad3/none/e.png", "", 0);
    write_bytes("bad3/none/g.jpg", "GIF89a", 6);
    EXPECT_ERR(open_it(&it, "bad3", NULL, &o), IC_ERR_NOT_FOUND, "bad3/none has no usable");
}

static void test_errors(void)
{
    ic_dir_iterator *it = (ic_dir_iterator *)1;
    ic_flow_opts o = small_opts(8, 4);
    write_png("err1/full/a.png", 8, 8, 1, 1);
    mkdirs("err1/empty");
    write_bytes("err1/empty/readme.txt", "x", 1);
    EXPECT_ERR(open_it(&it, "err1", NULL, &o), IC_ERR_NOT_FOUND, "err1/empty has no images");
    CHECK(it == NULL);
    write_png("err2/a.png", 8, 8, 1, 1);
    EXPECT_ERR(open_it(&it, "err2", NULL, &o), IC_ERR_NOT_FOUND, "no class subfolders in");
    EXPECT_ERR(open_it(&it, "err2", NULL, &o), IC_ERR_NOT_FOUND, "/err2");
    EXPECT_ERR(open_it(&it, "does-not-exist", NULL, &o), IC_ERR_IO, "does-not-exist");
    EXPECT_ERR(open_it(&it, "err2/a.png", NULL, &o), IC_ERR_IO, "a.png is not a directory");
    o.batch_size = 0;
    EXPECT_ERR(open_it(&it, "err1", NULL, &o), IC_ERR_INVALID, "batch_size");
    o.batch_size = 4;
    o.threads = -2;
    EXPECT_ERR(open_it(&it, "err1", NULL, &o), IC_ERR_INVALID, "threads (-2, or IC_FLOW_INLINE)");
    ic_dir_iterator_free(NULL);
}

static void test_links(void)
{
    write_png("lnk/c/own.png", 4, 4, 1, 1);
    write_png("outside/x.png", 4, 4, 2, 1);
    char target[1024], link[1024];
    path_of(target, sizeof target, "outside");
    path_of(link, sizeof link, "lnk/c/linked");
    CHECK(symlink(target, link) == 0);
    path_of(target, sizeof target, "lnk/c");
    path_of(link, sizeof link, "lnk/c/loop");
    CHECK(symlink(target, link) == 0);
    path_of(target, sizeof target, "outside/x.png");
    path_of(link, sizeof link, "lnk/c/filelink.png");
    CHECK(symlink(target, link) == 0);
    ic_dir_iterator *it;
    ic_flow_opts o = small_opts(4, 4);
    OK(open_it(&it, "lnk", NULL, &o));
    CHECK(ic_dir_iterator_samples(it) == 2); /* own.png and the link to a file */
    ic_dir_iterator_free(it);
    o.follow_links = 1;
    OK(open_it(&it, "lnk", NULL, &o)); /* the loop is walked once */
    CHECKF(ic_dir_iterator_samples(it) == 3, "%lld samples",
           (long long)ic_dir_iterator_samples(it));
    ic_dir_iterator_free(it);
}

static void test_free_midway(void)
{
    for (int i = 0; i < 40; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "many/%c/%02d.png", 'a' + i % 3, i);
        write_png(rel, 48, 48, i, 0);
    }
    ic_image_data_generator g = ic_image_data_generator_book();
    ic_flow_opts o = small_opts(40, 4);
    o.shuffle = 1;
    o.threads = 4;
    o.prefetch = 8;
    for (int k = 0; k < 3; k++) {
        ic_dir_iterator *it;
        OK(open_it(&it, "many", &g, &o));
        ic_batch_source src = ic_dir_iterator_source(it);
        const ic_tensor *x, *y;
        for (int b = 0; b < k * 3; b++)
            OK(src.ops->next(src.self, &x, &y));
        ic_dir_iterator_free(it); /* k = 0: never started */
    }
    CHECK(1);
}

/* The iterator plugs into fit. */
static void test_fit(void)
{
    ic_model *m;
    OK(ic_model_create(&m, NULL, 1));
    int64_t shape[3] = {4, 4, 3};
    int node;
    OK(ic_model_input(m, 3, shape, NULL, &node));
    ic_layer *l;
    OK(ic_layer_flatten(&l, NULL));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, 3, IC_ACT_SOFTMAX, 1, NULL));
    OK(ic_model_add(m, l));
    ic_compile_opts co = ic_compile_opts_default();
    co.loss = IC_LOSS_CATEGORICAL_CROSSENTROPY;
    OK(ic_model_compile(m, &co));
    ic_dir_iterator *it;
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = 1.0f / 255;
    ic_flow_opts o = small_opts(4, 3);
    OK(open_it(&it, "p3", &g, &o));
    ic_batch_source src = ic_dir_iterator_source(it);
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 2;
    ic_history *h = NULL;
    OK(ic_model_fit(m, &fo, &src, &src, &h));
    CHECK(h && ic_history_epochs(h) == 2);
    ic_history_free(h);
    ic_batch_source_free(&src); /* borrowed: a no-op */
    ic_dir_iterator_free(it);
    ic_model_free(m);
}

int main(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/ic_iter_XXXXXX");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    ic_set_log(capture, NULL);
    test_discovery();
    test_extensions();
    make_plain3();
    test_labels();
    test_batching();
    test_threads();
    test_bad_files();
    test_errors();
    test_links();
    test_free_midway();
    test_fit();
    ic_set_log(NULL, NULL);
    rm_rf(g_root);
    return t_finish();
}
