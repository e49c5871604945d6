/* test_predictor.c - the predictor (infer.h) against the directory iterator and the model.
 *
 * - A model saved with its meta (rescale, preprocess_input, interpolation, color mode) and
 *   loaded back: the predictor's tensor for every image of a folder equals, bit for bit,
 *   the tensor of an iterator built by hand the way training built it (ic_flow_from_directory
 *   with the same generator), for RGB + rescale 1/255 + nearest, caffe + bilinear, and
 *   grayscale + tf + area. Images of other sizes than the model's (resized) and, when
 *   ../shared is there, JPEG photos (DCT-scaled decoding).
 * - ic_predictor_predict_files gives ic_model_forward's outputs on those tensors exactly,
 *   with ic_predictor_class's class and probability.
 * - ic_predictor_evaluate against a naive count over the same outputs (confusion matrix,
 *   accuracy, Keras's clipped cross-entropy, ROC AUC by counting pairs).
 * - Errors: a corrupt, a truncated, a missing file and a directory given as an image are
 *   each reported once, naming the file, the others still classified; a meta that does not
 *   fit the model; class folders that are not the model's.
 */
#include <unistd.h>

#include "harness.h"

#define NPNG 5 /* synthetic images per class */

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[8][1280];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* An h x w RGB PNG with a smooth pattern plus noise (so resampling choices show). */
static void write_png(const char *path, int64_t h, int64_t w, unsigned seed)
{
    uint8_t *buf = malloc((size_t)(h * w * 3));
    unsigned long long r = seed * 2654435761ull + 7;
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++)
            for (int c = 0; c < 3; c++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                int v = (int)((i * 255) / h + (j * 97) / w * (c + 1)) % 256;
                v += (int)(r >> 59) - 16;
                buf[(i * w + j) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    ic_image img = {h, w, 3, buf};
    OK(ic_image_save_png(&img, path));
    free(buf);
}

/* data/{cats,dogs}: synthetic PNGs of assorted sizes, plus links to two photos of each class
 * from ../shared when it is there. Returns the number of images. */
static int make_data(void)
{
    static const char *cls[2] = {"cats", "dogs"};
    static const int64_t sizes[NPNG][2] = {{40, 48}, {61, 53}, {20, 30}, {97, 130}, {48, 40}};
    mkdir(tpath("data"), 0777);
    int n = 0;
    const char *shared = getenv("IC_SHARED_DIR");
    char photos[1200];
    snprintf(photos, sizeof photos, "%s/data/cats_and_dogs_small/test",
             shared && *shared ? shared : IC_SOURCE_DIR "/../shared");
    struct stat st;
    int have_photos = stat(photos, &st) == 0 && S_ISDIR(st.st_mode);
    if (!have_photos)
        printf("note: %s not found; synthetic PNGs only\n", photos);
    for (int k = 0; k < 2; k++) {
        char d[600], p[900];
        snprintf(d, sizeof d, "data/%s", cls[k]);
        mkdir(tpath(d), 0777);
        for (int i = 0; i < NPNG; i++) {
            snprintf(p, sizeof p, "%s/img_%d.png", d, i);
            write_png(tpath(p), sizes[i][0], sizes[i][1], (unsigned)(10 * k + i));
            n++;
        }
        for (int i = 0; have_photos && i < 2; i++) {
            char src[1400];
            snprintf(src, sizeof src, "%s/%s/%s.%d.jpg", photos, cls[k], k ? "dog" : "cat",
                     1501 + i);
            snprintf(p, sizeof p, "%s/photo_%d.jpg", d, i);
            if (symlink(src, tpath(p)) == 0)
                n++;
        }
    }
    return n;
}

/* conv 3x3 (4 filters, relu) -> global average pooling -> dense (1 sigmoid or 2 softmax). */
static ic_model *make_model(int64_t h, int64_t w, int c, int units)
{
    ic_model *m = NULL;
    OK(ic_model_create(&m, NULL, 1));
    int64_t in[3] = {h, w, c};
    OK(ic_model_input(m, 3, in, NULL, NULL));
    ic_conv2d_opts co = ic_conv2d_opts_default(4, 3, 3);
    co.activation = IC_ACT_RELU;
    ADD(m, ic_layer_conv2d(&l_, &co));
    ADD(m, ic_layer_global_average_pooling2d(&l_, NULL));
    ADD(m, ic_layer_dense(&l_, units, units == 1 ? IC_ACT_SIGMOID : IC_ACT_SOFTMAX, 1, NULL));
    return m;
}

typedef struct collected {
    int units;
    int64_t n_ok, n_err;
    int64_t order[64];  /* indices in callback order */
    float out[64][2];   /* output rows by index */
    int cls[64];
    double prob[64];
    char err[8][512];
    ic_status err_status[8];
} collected;

static void collect(const ic_prediction *r, void *user)
{
    collected *c = user;
    c->order[c->n_ok + c->n_err] = r->index;
    if (!r->output) {
        CHECK(r->status != IC_OK && r->error);
        if (c->n_err < 8) {
            snprintf(c->err[c->n_err], sizeof c->err[0], "%s", r->error);
            c->err_status[c->n_err] = r->status;
        }
        c->n_err++;
        return;
    }
    CHECK(r->status == IC_OK && !r->error);
    for (int k = 0; k < c->units; k++)
        c->out[r->index][k] = r->output[k];
    c->cls[r->index] = r->class_index;
    c->prob[r->index] = r->prob;
    c->n_ok++;
}

/* Keras's clipped cross-entropy for one sample, written out for the check. */
static double ref_loss(int units, const float *p, int t)
{
    const double lo = 1e-7f, hi = 1.0f - 1e-7f;
    if (units == 1) {
        double q = p[0] < lo ? lo : p[0] > hi ? hi : p[0];
        return t ? -log(q) : -log(1.0 - q);
    }
    double q = p[t] / ((double)p[0] + (double)p[1]);
    q = q < lo ? lo : q > hi ? hi : q;
    return -log(q);
}

/* One configuration: save a model with meta, load it back, and compare the predictor with
 * an iterator made as training made it. */
static void check_config(const char *what, int gray, ic_preprocess pre, float rescale,
                         ic_interpolation interp, int units, int64_t bs, int n_images)
{
    printf("-- %s\n", what);
    const int64_t H = 36, W = 44;
    const int C = gray ? 1 : 3;
    ic_model *m = make_model(H, W, C, units);
    char *names[2] = {"cats", "dogs"};
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.n_classes = 2;
    meta.class_names = names;
    meta.target_h = H;
    meta.target_w = W;
    meta.grayscale = gray;
    meta.rescale = rescale;
    meta.preprocess = pre;
    meta.interpolation = interp;
    OK(ic_model_save(m, tpath("model.h5"), &meta, 0));
    ic_model_free(m);

    ic_model_meta lm;
    OK(ic_model_load(&m, tpath("model.h5"), &lm));
    ic_predictor *p = NULL;
    OK(ic_predictor_create(&p, m, &lm, tpath("model.h5")));
    ic_model_meta_free(&lm);
    const ic_model_meta *pm = ic_predictor_meta(p);
    CHECK(pm->target_h == H && pm->target_w == W && pm->grayscale == gray);
    CHECK(pm->n_classes == 2 && !strcmp(pm->class_names[1], "dogs"));
    CHECK(ic_predictor_outputs(p) == units);
    CHECK(ic_predictor_image_size(p) == H * W * C);

    /* The iterator as training makes it (no augmentation, the generator's preprocessing). */
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = rescale;
    g.preprocess = pre;
    ic_flow_opts fo = ic_flow_opts_default();
    fo.target_h = H;
    fo.target_w = W;
    fo.color_mode = gray ? IC_COLOR_GRAYSCALE : IC_COLOR_RGB;
    fo.class_mode = units == 1 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    fo.batch_size = bs;
    fo.shuffle = 0;
    fo.interpolation = interp;
    fo.threads = 2;
    ic_dir_iterator *it = NULL;
    OK(ic_flow_from_directory(&it, tpath("data"), &g, &fo));
    int64_t n = ic_dir_iterator_samples(it), steps = (n + bs - 1) / bs;
    CHECK(n == n_images);
    ic_batch_source src = ic_dir_iterator_source(it);
    const char *paths[64];
    float *ref_out = calloc((size_t)n * 2, sizeof *ref_out);
    int *labels = calloc((size_t)n, sizeof *labels);
    float *img = malloc((size_t)(H * W * C) * sizeof *img);
    int64_t same = 0;
    for (int64_t st = 0; st < steps; st++) {
        const ic_tensor *x, *y;
        OK(src.ops->next(src.self, &x, &y));
        int64_t B = ic_tensor_dim(x, 0);
        const float *X = ic_tensor_cdata(x);
        for (int64_t b = 0; b < B; b++) {
            int64_t i = st * bs + b;
            paths[i] = ic_dir_iterator_path(it, i);
            labels[i] = ic_dir_iterator_label(it, i);
            OK(ic_predictor_load_image(p, paths[i], img));
            same += !memcmp(img, X + b * H * W * C, (size_t)(H * W * C) * sizeof *img);
        }
        ic_tensor *out = NULL;
        OK(ic_model_forward(m, x, &out));
        memcpy(ref_out + st * bs * units, ic_tensor_cdata(out),
               (size_t)(B * units) * sizeof *ref_out);
        ic_tensor_free(out);
    }
    CHECKF(same == n, "%lld of %lld tensors equal the iterator's bit for bit", (long long)same,
           (long long)n);

    /* Files through the predictor, in the iterator's batches: its outputs exactly. */
    collected c;
    memset(&c, 0, sizeof c);
    c.units = units;
    OK(ic_predictor_predict_files(p, paths, n, bs, collect, &c));
    CHECK(c.n_ok == n && c.n_err == 0);
    int64_t exact = 0;
    for (int64_t i = 0; i < n; i++) {
        CHECK(c.order[i] == i);
        exact += !memcmp(c.out[i], ref_out + i * units, (size_t)units * sizeof(float));
        double pr;
        int k = ic_predictor_class(p, ref_out + i * units, &pr);
        CHECK(c.cls[i] == k && c.prob[i] == pr);
        /* the class is the one with the larger probability */
        double p0 = ic_predictor_prob(p, ref_out + i * units, 0),
               p1 = ic_predictor_prob(p, ref_out + i * units, 1);
        CHECK(fabs(p0 + p1 - 1.0) < 1e-6 && k == (p1 > p0) && pr == (k ? p1 : p0));
    }
    CHECKF(exact == n, "%lld of %lld outputs equal ic_model_forward's", (long long)exact,
           (long long)n);

    /* Evaluation over the predictor's own iterator, against a count over the outputs. */
    ic_dir_iterator *it2 = NULL;
    OK(ic_predictor_flow(p, tpath("data"), bs, &it2));
    ic_evaluation e;
    OK(ic_predictor_evaluate(p, it2, steps, NULL, NULL, &e));
    ic_dir_iterator_free(it2);
    int64_t cm[4] = {0}, correct = 0, pos_above = 0, pairs = 0, ties = 0;
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *o = ref_out + i * units;
        int k = units == 1 ? o[0] > 0.5f : o[1] > o[0];
        cm[labels[i] * 2 + k]++;
        correct += k == labels[i];
        loss += ref_loss(units, o, labels[i]);
        for (int64_t j = 0; units == 1 && j < n; j++)
            if (labels[i] == 1 && labels[j] == 0) {
                pairs++;
                pos_above += o[0] > ref_out[j];
                ties += o[0] == ref_out[j];
            }
    }
    CHECK(e.samples == n && e.steps == steps && e.n_classes == 2);
    CHECK(e.correct == correct && fabs(e.accuracy - (double)correct / (double)n) < 1e-15);
    CHECKF(fabs(e.loss - loss / (double)n) < 1e-12, "loss %.15g vs %.15g", e.loss,
           loss / (double)n);
    CHECK(!memcmp(e.confusion, cm, sizeof cm));
    CHECK(e.has_auc == (units == 1));
    if (units == 1)
        CHECKF(fabs(e.roc_auc - ((double)pos_above + 0.5 * (double)ties) / (double)pairs) < 1e-12,
               "auc %g", e.roc_auc);
    double prec, rec;
    int64_t sup;
    ic_evaluation_class(&e, 1, &prec, &rec, &sup);
    CHECK(sup == cm[2] + cm[3]);
    CHECK(fabs(rec - (double)cm[3] / (double)(cm[2] + cm[3])) < 1e-15);
    CHECK(cm[1] + cm[3] == 0 ? prec == 0 : fabs(prec - (double)cm[3] / (double)(cm[1] + cm[3])) < 1e-15);
    ic_evaluation_free(&e);

    free(ref_out);
    free(labels);
    free(img);
    ic_dir_iterator_free(it);
    ic_predictor_free(p);
    ic_model_free(m);
}

static void check_errors(void)
{
    printf("-- errors\n");
    ic_model *m = make_model(36, 44, 3, 2);
    char *names[2] = {"cats", "dogs"};
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.n_classes = 2;
    meta.class_names = names;
    meta.rescale = 1.0f / 255;

    /* Meta against model. */
    ic_predictor *p = NULL;
    meta.target_h = 30;
    EXPECT_ERR(ic_predictor_create(&p, m, &meta, "m.h5"), IC_ERR_SHAPE,
               "m.h5: the model's input (36, 44, 3) does not match its meta (target size 30x44, RGB)");
    CHECK(p == NULL);
    meta.target_h = 0; /* the model's size */
    meta.grayscale = 1;
    EXPECT_ERR(ic_predictor_create(&p, m, &meta, "m.h5"), IC_ERR_SHAPE, "grayscale");
    meta.grayscale = 0;
    meta.n_classes = 1;
    EXPECT_ERR(ic_predictor_create(&p, m, &meta, "m.h5"), IC_ERR_SHAPE,
               "m.h5: the model has 2 output units but 1 class name");
    meta.n_classes = 0; /* numbered classes */
    OK(ic_predictor_create(&p, m, &meta, "m.h5"));
    CHECK(!strcmp(ic_predictor_meta(p)->class_names[1], "class_1"));
    CHECK(ic_predictor_meta(p)->target_h == 36 && ic_predictor_meta(p)->target_w == 44);
    ic_predictor_free(p);
    meta.n_classes = 2;
    meta.interpolation = 7;
    EXPECT_ERR(ic_predictor_create(&p, m, &meta, "m.h5"), IC_ERR_INVALID, "interpolation 7");
    meta.interpolation = IC_INTERP_NEAREST;
    OK(ic_predictor_create(&p, m, &meta, "m.h5"));

    /* Bad files: reported in place, naming the file; the good ones still classified. */
    FILE *f = fopen(tpath("corrupt.jpg"), "wb");
    fputs("not an image at all", f);
    fclose(f);
    FILE *src = fopen(tpath("data/cats/img_1.png"), "rb");
    char head[100];
    size_t got = fread(head, 1, sizeof head, src);
    fclose(src);
    f = fopen(tpath("trunc.png"), "wb");
    fwrite(head, 1, got, f);
    fclose(f);
    float *img = malloc(36 * 44 * 3 * sizeof *img);
    EXPECT_ERR(ic_predictor_load_image(p, tpath("corrupt.jpg"), img), IC_ERR_FORMAT,
               "corrupt.jpg: not a JPEG or PNG image");
    ic_clear_error();
    CHECK(ic_predictor_load_image(p, tpath("trunc.png"), img) != IC_OK &&
          strstr(ic_errmsg(), "trunc.png"));
    ic_clear_error();
    CHECK(ic_predictor_load_image(p, tpath("missing.png"), img) != IC_OK &&
          strstr(ic_errmsg(), "missing.png") && strstr(ic_errmsg(), "No such file"));
    ic_clear_error();
    CHECK(ic_predictor_load_image(p, tpath("data"), img) != IC_OK &&
          strstr(ic_errmsg(), tpath("data")));
    free(img);

    const char *paths[6] = {tpath("data/cats/img_0.png"), tpath("corrupt.jpg"),
                            tpath("missing.png"),          tpath("data/dogs/img_0.png"),
                            tpath("trunc.png"),            tpath("data/dogs/img_3.png")};
    collected c;
    memset(&c, 0, sizeof c);
    c.units = 2;
    OK(ic_predictor_predict_files(p, paths, 6, 4, collect, &c));
    CHECK(c.n_ok == 3 && c.n_err == 3);
    /* filling the one batch of 4 good images meets the bad ones first: they come before
     * the results of 0, 3 and 5 */
    int64_t want[6] = {1, 2, 4, 0, 3, 5};
    CHECK(!memcmp(c.order, want, sizeof want));
    CHECK(strstr(c.err[0], "corrupt.jpg: not a JPEG or PNG image") && c.err_status[0] == IC_ERR_FORMAT);
    CHECK(strstr(c.err[1], "missing.png"));
    CHECK(strstr(c.err[2], "trunc.png"));
    /* the good files' outputs are the ones they get alone */
    collected one;
    memset(&one, 0, sizeof one);
    one.units = 2;
    OK(ic_predictor_predict_files(p, paths + 5, 1, 1, collect, &one));
    CHECK(one.n_ok == 1 && fabs(one.out[0][0] - c.out[5][0]) < 1e-6);
    EXPECT_ERR(ic_predictor_predict_files(p, paths, 6, 0, collect, &c), IC_ERR_INVALID,
               "batch size 0");

    /* Class folders. */
    ic_dir_iterator *it = NULL;
    mkdir(tpath("wrong"), 0777);
    mkdir(tpath("wrong/cats"), 0777);
    mkdir(tpath("wrong/birds"), 0777);
    EXPECT_ERR(ic_predictor_flow(p, tpath("wrong"), 4, &it), IC_ERR_INVALID,
               "are not the model's classes (cats, dogs): unknown folders: birds; missing: dogs");
    CHECK(it == NULL);
    EXPECT_ERR(ic_predictor_flow(p, tpath("nodir"), 4, &it), IC_ERR_NOT_FOUND,
               "nodir: No such file or directory");
    EXPECT_ERR(ic_predictor_flow(p, tpath("corrupt.jpg"), 4, &it), IC_ERR_INVALID,
               "corrupt.jpg is not a directory");
    ic_predictor_free(p);

    /* An output that is not a vector of class scores: no dense layer. */
    ic_model *m2 = NULL;
    OK(ic_model_create(&m2, NULL, 1));
    int64_t in[3] = {36, 44, 3};
    OK(ic_model_input(m2, 3, in, NULL, NULL));
    ic_conv2d_opts co = ic_conv2d_opts_default(2, 3, 3);
    ADD(m2, ic_layer_conv2d(&l_, &co));
    EXPECT_ERR(ic_predictor_create(&p, m2, &meta, "conv.h5"), IC_ERR_SHAPE,
               "conv.h5: the model's output is not a vector of class scores");
    ic_model_free(m2);
    ic_model_free(m);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_test_predictor_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    ic_set_random_seed(11);
    int n = make_data();
    printf("%d images (%d photos)\n", n, n - 2 * NPNG);
    check_config("RGB, rescale 1/255, nearest, softmax", 0, IC_PREPROCESS_NONE, 1.0f / 255,
                 IC_INTERP_NEAREST, 2, 4, n);
    check_config("RGB, caffe, bilinear, sigmoid", 0, IC_PREPROCESS_CAFFE, 0, IC_INTERP_BILINEAR,
                 1, 3, n);
    check_config("grayscale, tf, area, sigmoid", 1, IC_PREPROCESS_TF, 0, IC_INTERP_AREA, 1, 5, n);
    check_errors();
    rm_rf(g_dir);
    return t_finish();
}
