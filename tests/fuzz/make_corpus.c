/* make_corpus.c - ic_make_corpus: writes the fuzzers' seed corpus (committed under
 * tests/fuzz/corpus/; regenerate with `make fuzz-corpus`):
 *   image/         tiny PNGs (gray, gray+alpha, RGB, RGBA, palette, 16-bit, interlaced) and
 *                  JPEGs (gray, RGB 4:2:0 and 4:4:4, progressive, CMYK, one large enough
 *                  for DCT scaling), written with libpng / libjpeg directly
 *   keras_weights/ save_weights of the harness's fixed model, and a model file
 *   model_file/    ic_model_save: plain, with meta, compiled with optimizer state
 *   config/        model_config JSON of a few small models (Sequential, functional with
 *                  merges, nested)
 *   cli_args/      argument lists: first byte = command (0 train, 1 finetune,
 *                  2 augment-preview, 3 summary, 4 split), then NUL-separated arguments
 * usage: ic_make_corpus CORPUS_DIR */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "fuzz_common.h"

#include "core/core.h"
#include "io/io_impl.h"

static const char *g_dir;

static void die(const char *what)
{
    fprintf(stderr, "ic_make_corpus: %s: %s\n", what, ic_errmsg());
    exit(1);
}

static void path_of(char *buf, size_t size, const char *sub, const char *name)
{
    snprintf(buf, size, "%s/%s", g_dir, sub);
    if (mkdir(buf, 0777) && errno != EEXIST)
        die(buf);
    snprintf(buf, size, "%s/%s/%s", g_dir, sub, name);
}

static void write_bytes(const char *sub, const char *name, const void *data, size_t n)
{
    char path[4096];
    path_of(path, sizeof path, sub, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n || fclose(fp))
        die(path);
}

static uint8_t pix(int y, int x, int k) { return (uint8_t)(y * 37 + x * 11 + k * 80); }

/* A w x h PNG of the given libpng colour type and bit depth. */
static void png(const char *name, int w, int h, int color_type, int depth, int interlace)
{
    char path[4096];
    path_of(path, sizeof path, "image", name);
    FILE *fp = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!fp || !p || !info || setjmp(png_jmpbuf(p)))
        die(path);
    png_init_io(p, fp);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    int ch = color_type == PNG_COLOR_TYPE_GRAY ? 1 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
             : color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 250}};
        png_set_PLTE(p, info, pal, 4);
        png_byte trns[1] = {128};
        png_set_tRNS(p, info, trns, 1, NULL);
    }
    png_write_info(p, info);
    int bpc = depth == 16 ? 2 : 1;
    uint8_t row[64 * 4 * 2];
    int passes = interlace ? png_set_interlace_handling(p) : 1;
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w * ch; x++) {
                uint8_t v = color_type == PNG_COLOR_TYPE_PALETTE ? (uint8_t)((x + y) & 3)
                                                                 : pix(y, x / ch, x % ch);
                for (int b = 0; b < bpc; b++)
                    row[x * bpc + b] = v;
            }
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(fp);
}

static void jpeg(const char *name, int w, int h, J_COLOR_SPACE cs, int ch, int progressive,
                 int h_samp)
{
    char path[4096];
    path_of(path, sizeof path, "image", name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        die(path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = ch;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 60, TRUE);
    if (ch == 3)
        c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = h_samp;
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[128 * 4];
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < w * ch; x++)
            row[x] = pix(y, x / ch, x % ch);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(fp);
}

static void images(void)
{
    png("gray.png", 5, 4, PNG_COLOR_TYPE_GRAY, 8, 0);
    png("gray_alpha.png", 3, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0);
    png("rgb.png", 6, 5, PNG_COLOR_TYPE_RGB, 8, 0);
    png("rgba.png", 4, 4, PNG_COLOR_TYPE_RGBA, 8, 0);
    png("palette.png", 7, 3, PNG_COLOR_TYPE_PALETTE, 2, 0);
    png("rgb16.png", 3, 2, PNG_COLOR_TYPE_RGB, 16, 0);
    png("gray1.png", 9, 2, PNG_COLOR_TYPE_GRAY, 1, 0);
    png("interlaced.png", 9, 9, PNG_COLOR_TYPE_RGB, 8, 1);
    jpeg("gray.jpg", 8, 8, JCS_GRAYSCALE, 1, 0, 1);
    jpeg("rgb420.jpg", 16, 16, JCS_RGB, 3, 0, 2);
    jpeg("rgb444.jpg", 9, 7, JCS_RGB, 3, 0, 1);
    jpeg("progressive.jpg", 16, 8, JCS_RGB, 3, 1, 2);
    jpeg("cmyk.jpg", 8, 8, JCS_CMYK, 4, 0, 1);
    jpeg("scaled.jpg", 64, 40, JCS_RGB, 3, 0, 2);
}

static void models(void)
{
    char path[4096];
    ic_model *m;
    ic_set_random_seed(1);
    if (fz_small_model(&m))
        die("model");
    path_of(path, sizeof path, "keras_weights", "small_weights.h5");
    if (ic_model_save_weights(m, path))
        die(path);
    path_of(path, sizeof path, "keras_weights", "small_model.h5");
    if (ic_model_save(m, path, NULL, 0))
        die(path);
    path_of(path, sizeof path, "model_file", "plain.h5");
    if (ic_model_save(m, path, NULL, 0))
        die(path);
    char *names[2] = {"cats", "dogs"};
    ic_model_meta meta = {2, names, 8, 8, 0, 1.0f / 255, IC_PREPROCESS_NONE, "", IC_INTERP_NEAREST};
    path_of(path, sizeof path, "model_file", "meta.h5");
    if (ic_model_save(m, path, &meta, 0))
        die(path);
    /* Compiled, one Adam step: optimizer state in the file. */
    ic_compile_opts co = ic_compile_opts_default();
    co.optimizer = ic_optimizer_opts_default(IC_OPT_ADAM);
    co.loss = IC_LOSS_CATEGORICAL_CROSSENTROPY;
    co.metric_accuracy = 1;
    int64_t xs[4] = {2, 8, 8, 3}, ys[2] = {2, 2};
    ic_tensor *x, *y;
    if (ic_model_compile(m, &co) || ic_tensor_create(&x, 4, xs) || ic_tensor_create(&y, 2, ys))
        die("compile");
    for (int64_t i = 0; i < 2 * 8 * 8 * 3; i++)
        ic_tensor_data(x)[i] = (float)(i % 7) / 7.0f;
    ic_tensor_data(y)[0] = ic_tensor_data(y)[3] = 1;
    if (ic_model_train_on_batch(m, x, y, NULL, NULL))
        die("train_on_batch");
    ic_tensor_free(x);
    ic_tensor_free(y);
    path_of(path, sizeof path, "model_file", "compiled_adam.h5");
    if (ic_model_save(m, path, &meta, 1))
        die(path);
    char *json;
    if (ic__model_to_config(m, &json))
        die("config");
    write_bytes("config", "small_sequential.json", json, strlen(json));
    ic__free(json);
    ic_model_free(m);
}

/* A functional model with every merge and most layer kinds, and one with a nested model. */
static void configs(void)
{
    ic_model *m, *inner, *outer;
    int64_t shape[3] = {12, 12, 3};
    int in, a, b, c, d;
    ic_layer *l;
    ic_conv2d_opts co = ic_conv2d_opts_default(4, 3, 3);
    co.padding = IC_PAD_SAME;
    ic_pool2d_opts po = ic_pool2d_opts_default();
    ic_status s = ic_model_create(&m, "functional", 0);
    if (!s)
        s = ic_model_input(m, 3, shape, "img", &in);
    if (!s && !(s = ic_layer_conv2d(&l, &co)))
        s = ic_model_apply(m, l, 1, &in, &a);
    if (!s && !(s = ic_layer_depthwise_conv2d(&l, &co)))
        s = ic_model_apply(m, l, 1, &a, &b);
    if (!s && !(s = ic_layer_add(&l, NULL)))
        s = ic_model_apply(m, l, 2, (int[]){a, b}, &c);
    if (!s && !(s = ic_layer_concatenate(&l, NULL)))
        s = ic_model_apply(m, l, 2, (int[]){b, c}, &d);
    if (!s && !(s = ic_layer_zero_padding2d(&l, 1, 0, 2, 1, NULL)))
        s = ic_model_apply(m, l, 1, &d, &a);
    if (!s && !(s = ic_layer_max_pooling2d(&l, &po)))
        s = ic_model_apply(m, l, 1, &a, &b);
    if (!s && !(s = ic_layer_average_pooling2d(&l, NULL)))
        s = ic_model_apply(m, l, 1, &b, &c);
    if (!s && !(s = ic_layer_relu(&l, 6, NULL)))
        s = ic_model_apply(m, l, 1, &c, &d);
    if (!s && !(s = ic_layer_global_average_pooling2d(&l, NULL)))
        s = ic_model_apply(m, l, 1, &d, &a);
    if (!s && !(s = ic_layer_dropout(&l, 0.25f, NULL)))
        s = ic_model_apply(m, l, 1, &a, &b);
    if (!s && !(s = ic_layer_dense(&l, 3, IC_ACT_SOFTMAX, 0, NULL)))
        s = ic_model_apply(m, l, 1, &b, &c);
    char *json;
    if (s || ic__model_to_config(m, &json))
        die("functional");
    write_bytes("config", "functional.json", json, strlen(json));
    ic__free(json);
    ic_model_free(m);

    if (fz_small_model(&inner) || ic_model_create(&outer, "outer", 1))
        die("nested");
    int64_t s2[3] = {8, 8, 3};
    s = ic_model_input(outer, 3, s2, NULL, NULL);
    if (!s && !(s = ic_layer_from_model(&l, inner)))
        s = ic_model_add(outer, l);
    if (!s && !(s = ic_layer_activation(&l, IC_ACT_SIGMOID, NULL)))
        s = ic_model_add(outer, l);
    if (s || ic__model_to_config(outer, &json))
        die("nested");
    write_bytes("config", "nested.json", json, strlen(json));
    ic__free(json);
    ic_model_free(outer);
}

static void args(const char *name, int cmd, const char *const *a, int n)
{
    char buf[1024];
    size_t len = 0;
    buf[len++] = (char)cmd;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(a[i]);
        memcpy(buf + len, a[i], k + (i + 1 < n));
        len += k + (i + 1 < n);
    }
    write_bytes("cli_args", name, buf, len);
}

#define ARGS(name, cmd, ...)                                                                \
    args(name, cmd, (const char *const[]){__VA_ARGS__},                                    \
         (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

static void cli(void)
{
    ARGS("train_base", 0, "data", "-o", "/tmp/m.h5", "--base", "vgg16", "--augment", "--lr",
         "2e-5", "--epochs", "3", "--batch-size", "20", "--target-size", "150x150");
    ARGS("train_smallcnn", 0, "data", "-o", "m.h5", "--model", "smallcnn", "--rescale",
         "1/255", "--rotation-range", "40", "--zoom-range", "0.1,0.3", "--fill-mode",
         "reflect", "--save-best", "val_acc", "--early-stopping", "5", "--seed", "7");
    ARGS("finetune", 1, "model.h5", "data", "--unfreeze-from", "block5_conv1", "--lr", "1e-5",
         "-o", "ft.h5", "--optimizer", "adam", "--threads", "2");
    ARGS("augment_preview", 2, "cat.jpg", "-o", "grid.png", "--count", "8", "--columns", "4",
         "--width-shift-range", "0.2", "--height-shift-range", "0.2", "--shear-range", "0.2",
         "--horizontal-flip", "--cval", "3", "--target-size", "150x150");
    ARGS("summary", 3, "--base", "vgg16", "--head", "256", "--input", "150x150x3",
         "--freeze-base", "--backend", "ref");
    ARGS("split", 4, "src", "dst", "--train", "1000", "--validation", "500", "--seed", "1");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ic_make_corpus CORPUS_DIR\n");
        return 2;
    }
    g_dir = argv[1];
    if (mkdir(g_dir, 0777) && errno != EEXIST)
        die(g_dir);
    images();
    models();
    configs();
    cli();
    printf("seed corpus written to %s\n", g_dir);
    return 0;
}
