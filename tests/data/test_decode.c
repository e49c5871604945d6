/* test_decode.c - JPEG/PNG decoding: fixtures written at test time with libjpeg and libpng
 * (RGB, grayscale, CMYK with and without the Adobe marker, YCCK, progressive; PNG RGB, RGBA,
 * gray, gray+alpha, 2-bit gray, palette with tRNS, 16-bit, interlaced), pixel checks, DCT
 * scaling choices (also a 10000 x 10000 JPEG decoded for a 150 x 150 target), bad inputs that
 * must give clear errors naming the file, size limits checked before allocation, and
 * ic_image_save_png. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "harness.h"

static char g_dir[256];

static const char *fx(const char *name)
{
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_dir(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- fixture writers ---- */

/* Smooth test pattern, JPEG-friendly: channel k of pixel (y, x). */
static uint8_t pat(int y, int x, int k, int h, int w)
{
    switch (k) {
    case 0: return (uint8_t)(20 + 200 * x / (w - 1));
    case 1: return (uint8_t)(30 + 180 * y / (h - 1));
    case 2: return (uint8_t)(240 - 100 * (x + y) / (w + h - 2));
    default: return (uint8_t)(10 + 60 * x / (w - 1) + 40 * y / (h - 1));
    }
}

typedef void (*row_fn)(int y, uint8_t *row, int w, int comps, void *u);

typedef struct jpeg_opts {
    int w, h, comps;
    J_COLOR_SPACE in_cs;
    int jpeg_cs; /* 0 = libjpeg's default for in_cs, else a J_COLOR_SPACE */
    int adobe;   /* -1 = default, 0/1 force write_Adobe_marker */
    int quality;
    int progressive;
    int full_chroma; /* 4:4:4 */
} jpeg_opts;

static void write_jpeg(const char *path, const jpeg_opts *o, row_fn gen, void *u)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, fp);
    ci.image_width = (JDIMENSION)o->w;
    ci.image_height = (JDIMENSION)o->h;
    ci.input_components = o->comps;
    ci.in_color_space = o->in_cs;
    jpeg_set_defaults(&ci);
    if (o->jpeg_cs)
        jpeg_set_colorspace(&ci, (J_COLOR_SPACE)o->jpeg_cs);
    if (o->adobe >= 0)
        ci.write_Adobe_marker = o->adobe ? TRUE : FALSE;
    jpeg_set_quality(&ci, o->quality, TRUE);
    if (o->full_chroma)
        for (int i = 0; i < ci.num_components; i++)
            ci.comp_info[i].h_samp_factor = ci.comp_info[i].v_samp_factor = 1;
    if (o->progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)o->w * o->comps);
    while (ci.next_scanline < ci.image_height) {
        gen((int)ci.next_scanline, row, o->w, o->comps, u);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(fp);
    free(row);
}

typedef struct pat_info {
    int h, w, invert; /* invert: store 255 - value (Adobe CMYK convention) */
} pat_info;

static void gen_pat(int y, uint8_t *row, int w, int comps, void *u)
{
    pat_info *pi = u;
    for (int x = 0; x < w; x++)
        for (int k = 0; k < comps; k++) {
            uint8_t v = comps == 1 ? pat(y, x, 3, pi->h, pi->w) : pat(y, x, k, pi->h, pi->w);
            row[x * comps + k] = pi->invert ? (uint8_t)(255 - v) : v;
        }
}

static void gen_flat(int y, uint8_t *row, int w, int comps, void *u)
{
    (void)y;
    (void)u;
    for (int x = 0; x < w; x++) {
        row[x * 3] = 200;
        row[x * 3 + 1] = 100;
        row[x * 3 + 2] = 50;
    }
}

/* PNG writer: rows of bytes as given (16-bit samples big-endian), optional palette/tRNS. */
static void write_png(const char *path, int w, int h, int ctype, int depth, const uint8_t *data,
                      const png_color *pal, int npal, const uint8_t *trns, int ntrns, int interlace)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(rows);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, fp) != (size_t)n)
        exit(1);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(b, 1, n, fp) != n) {
        perror(path);
        exit(1);
    }
    fclose(fp);
}

static uint8_t rgb2l(int r, int g, int b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/* max |a - b| over n bytes; mean in *mean. */
static int maxdiff(const uint8_t *a, const uint8_t *b, long n, double *mean)
{
    int m = 0;
    double s = 0;
    for (long i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        s += d;
        if (d > m)
            m = d;
    }
    if (mean)
        *mean = s / (double)n;
    return m;
}

/* ---- JPEG ---- */

static void test_jpeg_rgb_gray(void)
{
    const int h = 48, w = 64;
    pat_info pi = {h, w, 0};
    uint8_t *expect = malloc((size_t)h * w * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                expect[(y * w + x) * 3 + k] = pat(y, x, k, h, w);

    /* RGB, quality 100, 4:4:4: close to the source. */
    jpeg_opts o = {w, h, 3, JCS_RGB, 0, -1, 100, 0, 1};
    write_jpeg(fx("rgb.jpg"), &o, gen_pat, &pi);
    ic_image img = {0};
    OK(ic_image_load(fx("rgb.jpg"), IC_COLOR_RGB, 0, 0, &img));
    CHECK(img.h == h && img.w == w && img.c == 3);
    double mean;
    int md = maxdiff(img.data, expect, (long)h * w * 3, &mean);
    CHECKF(md <= 4 && mean < 1.0, "rgb.jpg max diff %d mean %.3f", md, mean);

    /* Grayscale mode of a colour JPEG = Pillow's convert("L") of the RGB decode, exactly. */
    ic_image g = {0};
    OK(ic_image_load(fx("rgb.jpg"), IC_COLOR_GRAYSCALE, 0, 0, &g));
    CHECK(g.h == h && g.w == w && g.c == 1);
    int bad = 0;
    for (long i = 0; i < (long)h * w; i++)
        bad += g.data[i] != rgb2l(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
    CHECKF(bad == 0, "%d gray pixels differ from Pillow's rgb2l of the RGB decode", bad);
    ic_image_release(&g);

    /* Progressive: the same quantised coefficients, so the same pixels as baseline. */
    o.progressive = 1;
    write_jpeg(fx("prog.jpg"), &o, gen_pat, &pi);
    OK(ic_image_load(fx("prog.jpg"), IC_COLOR_RGB, 0, 0, &g));
    CHECK(g.h == h && g.w == w && g.c == 3);
    CHECKF(maxdiff(g.data, img.data, (long)h * w * 3, NULL) == 0,
           "progressive decode differs from baseline");
    ic_image_release(&g);
    ic_image_release(&img);

    /* Default 4:2:0 subsampling, quality 90: still close. */
    jpeg_opts o2 = {w, h, 3, JCS_RGB, 0, -1, 90, 0, 0};
    write_jpeg(fx("rgb420.jpg"), &o2, gen_pat, &pi);
    OK(ic_image_load(fx("rgb420.jpg"), IC_COLOR_RGB, 0, 0, &img));
    md = maxdiff(img.data, expect, (long)h * w * 3, &mean);
    CHECKF(md <= 10 && mean < 2.0, "rgb420.jpg max diff %d mean %.3f", md, mean);
    ic_image_release(&img);

    /* Grayscale JPEG: RGB mode replicates the channel exactly; gray mode is the L decode. */
    jpeg_opts og = {w, h, 1, JCS_GRAYSCALE, 0, -1, 100, 0, 0};
    write_jpeg(fx("gray.jpg"), &og, gen_pat, &pi);
    OK(ic_image_load(fx("gray.jpg"), IC_COLOR_GRAYSCALE, 0, 0, &g));
    OK(ic_image_load(fx("gray.jpg"), IC_COLOR_RGB, 0, 0, &img));
    CHECK(g.c == 1 && img.c == 3 && g.h == h && g.w == w);
    bad = 0;
    int gd = 0;
    for (long i = 0; i < (long)h * w; i++) {
        bad += img.data[3 * i] != g.data[i] || img.data[3 * i + 1] != g.data[i] ||
               img.data[3 * i + 2] != g.data[i];
        int d = abs((int)g.data[i] - pat((int)(i / w), (int)(i % w), 3, h, w));
        gd = d > gd ? d : gd;
    }
    CHECKF(bad == 0, "%d gray JPEG pixels not replicated exactly", bad);
    CHECKF(gd <= 2, "gray.jpg max diff %d", gd);
    ic_image_release(&g);
    ic_image_release(&img);
    free(expect);
}

static void pillow_cmyk2rgb(const uint8_t *cmyk, uint8_t *rgb)
{
    int nk = 255 - cmyk[3];
    for (int k = 0; k < 3; k++) {
        int t = cmyk[k] * nk + 128;
        rgb[k] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
    }
}

static void test_jpeg_cmyk(void)
{
    const int h = 32, w = 40;
    uint8_t *expect = malloc((size_t)h * w * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t c[4];
            for (int k = 0; k < 4; k++)
                c[k] = pat(y, x, k, h, w);
            pillow_cmyk2rgb(c, expect + (y * w + x) * 3);
        }
    struct {
        const char *name;
        int jpeg_cs, adobe, invert;
    } cases[] = {
        {"cmyk_adobe.jpg", JCS_CMYK, 1, 1}, /* Photoshop: Adobe marker, inverted values */
        {"cmyk_plain.jpg", JCS_CMYK, 0, 0}, /* no Adobe marker: plain CMYK */
        {"ycck_adobe.jpg", JCS_YCCK, 1, 1}, /* YCCK always comes with the Adobe marker */
    };
    for (int i = 0; i < 3; i++) {
        pat_info pi = {h, w, cases[i].invert};
        jpeg_opts o = {w, h, 4, JCS_CMYK, cases[i].jpeg_cs, cases[i].adobe, 100, 0, 1};
        write_jpeg(fx(cases[i].name), &o, gen_pat, &pi);
        ic_image img = {0}, g = {0};
        OK(ic_image_load(fx(cases[i].name), IC_COLOR_RGB, 0, 0, &img));
        CHECK(img.h == h && img.w == w && img.c == 3);
        double mean;
        int md = maxdiff(img.data, expect, (long)h * w * 3, &mean);
        CHECKF(md <= 6 && mean < 1.5, "%s: max diff %d mean %.3f", cases[i].name, md, mean);
        OK(ic_image_load(fx(cases[i].name), IC_COLOR_GRAYSCALE, 0, 0, &g));
        int bad = 0;
        for (long p = 0; p < (long)h * w; p++)
            bad += g.data[p] != rgb2l(img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2]);
        CHECKF(bad == 0, "%s: %d gray pixels differ from rgb2l(cmyk2rgb)", cases[i].name, bad);
        ic_image_release(&img);
        ic_image_release(&g);
    }
    free(expect);
}

static void test_dct_scaling(void)
{
    struct {
        int w, h;
        int64_t min_h, min_w;
        int64_t eh, ew;
    } cases[] = {
        {640, 480, 150, 150, 240, 320},   {300, 300, 150, 150, 150, 150},
        {299, 299, 150, 150, 299, 299},   {640, 480, 0, 0, 480, 640},
        {1200, 1200, 150, 150, 150, 150}, {1199, 1199, 150, 150, 300, 300},
        {640, 480, 100, 0, 120, 160},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "scale_%dx%d.jpg", cases[i].w, cases[i].h);
        pat_info pi = {cases[i].h, cases[i].w, 0};
        jpeg_opts o = {cases[i].w, cases[i].h, 3, JCS_RGB, 0, -1, 75, 0, 0};
        if (access(fx(name), F_OK) != 0)
            write_jpeg(fx(name), &o, gen_pat, &pi);
        ic_image img = {0};
        OK(ic_image_load(fx(name), IC_COLOR_RGB, cases[i].min_h, cases[i].min_w, &img));
        CHECKF(img.h == cases[i].eh && img.w == cases[i].ew,
               "%dx%d for target %lldx%lld decoded at %lldx%lld, expected %lldx%lld", cases[i].w,
               cases[i].h, (long long)cases[i].min_h, (long long)cases[i].min_w, (long long)img.h,
               (long long)img.w, (long long)cases[i].eh, (long long)cases[i].ew);
        ic_image_release(&img);
    }
    /* PNGs ignore the DCT hint. */
    uint8_t px[4 * 6 * 3] = {0};
    write_png(fx("hint.png"), 6, 4, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0, NULL, 0, 0);
    ic_image img = {0};
    OK(ic_image_load(fx("hint.png"), IC_COLOR_RGB, 1, 1, &img));
    CHECK(img.h == 4 && img.w == 6);
    ic_image_release(&img);
}

static void test_huge_jpeg(void)
{
    jpeg_opts o = {10000, 10000, 3, JCS_RGB, 0, -1, 50, 0, 0};
    write_jpeg(fx("huge.jpg"), &o, gen_flat, NULL);
    ic_image img = {0};
    OK(ic_image_load(fx("huge.jpg"), IC_COLOR_RGB, 150, 150, &img));
    CHECKF(img.h == 1250 && img.w == 1250, "10000x10000 for 150x150 decoded at %lldx%lld",
           (long long)img.h, (long long)img.w);
    int md = 0;
    for (long i = 0; i < img.h * img.w; i++) {
        int d0 = abs(img.data[3 * i] - 200), d1 = abs(img.data[3 * i + 1] - 100),
            d2 = abs(img.data[3 * i + 2] - 50);
        int d = d0 > d1 ? d0 : d1;
        d = d > d2 ? d : d2;
        md = d > md ? d : md;
    }
    CHECKF(md <= 3, "flat 10000x10000 JPEG: max diff %d", md);
    ic_image_release(&img);
    remove(fx("huge.jpg"));
}

/* ---- PNG ---- */

static void test_png(void)
{
    const int h = 5, w = 7;
    uint8_t rgb[5 * 7 * 3], rgba[5 * 7 * 4], gray[5 * 7], ga[5 * 7 * 2], idx[5 * 7];
    uint8_t rgb16[5 * 7 * 6], gray16[5 * 7 * 2], gray2[5 * 2]; /* 2-bit: 7 px -> 2 bytes */
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t trns[4] = {0, 128, 255, 7};
    for (int i = 0; i < h * w; i++) {
        for (int k = 0; k < 3; k++)
            rgb[3 * i + k] = (uint8_t)(i * 7 + k * 50 + 3);
        for (int k = 0; k < 3; k++)
            rgba[4 * i + k] = rgb[3 * i + k];
        rgba[4 * i + 3] = (uint8_t)(i * 5); /* alpha, must be ignored */
        gray[i] = (uint8_t)(i * 7 + 1);
        ga[2 * i] = gray[i];
        ga[2 * i + 1] = (uint8_t)(255 - i);
        idx[i] = (uint8_t)(i % 4);
        for (int k = 0; k < 3; k++) {
            rgb16[6 * i + 2 * k] = rgb[3 * i + k];           /* high byte */
            rgb16[6 * i + 2 * k + 1] = (uint8_t)(i * 3 + k); /* low byte, dropped */
        }
        gray16[2 * i] = gray[i];
        gray16[2 * i + 1] = 0xAB;
    }
    /* 2-bit gray rows: values (x % 4) packed MSB first. */
    memset(gray2, 0, sizeof gray2);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            gray2[y * 2 + x / 4] |= (uint8_t)((x % 4) << (6 - 2 * (x % 4)));

    write_png(fx("rgb.png"), w, h, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0, 0);
    write_png(fx("rgb_interlaced.png"), w, h, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0, 1);
    write_png(fx("rgba.png"), w, h, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0, NULL, 0, 0);
    write_png(fx("rgb16.png"), w, h, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0, NULL, 0, 0);
    write_png(fx("gray.png"), w, h, PNG_COLOR_TYPE_GRAY, 8, gray, NULL, 0, NULL, 0, 0);
    write_png(fx("ga.png"), w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0, NULL, 0, 0);
    write_png(fx("gray16.png"), w, h, PNG_COLOR_TYPE_GRAY, 16, gray16, NULL, 0, NULL, 0, 0);
    write_png(fx("gray2.png"), w, h, PNG_COLOR_TYPE_GRAY, 2, gray2, NULL, 0, NULL, 0, 0);
    write_png(fx("pal.png"), w, h, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, 4, trns, 4, 0);

    uint8_t exp_rgb[5 * 7 * 3], exp_l[5 * 7];
    struct {
        const char *name;
        int src; /* 0 = rgb, 1 = gray, 2 = palette, 3 = 2-bit gray */
    } cases[] = {{"rgb.png", 0},    {"rgb_interlaced.png", 0},
                 {"rgba.png", 0},   {"rgb16.png", 0},
                 {"gray.png", 1},   {"ga.png", 1},
                 {"gray16.png", 1}, {"pal.png", 2},
                 {"gray2.png", 3}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < h * w; i++) {
            uint8_t v[3];
            if (cases[c].src == 0) {
                memcpy(v, rgb + 3 * i, 3);
            } else if (cases[c].src == 2) {
                v[0] = pal[idx[i]].red;
                v[1] = pal[idx[i]].green;
                v[2] = pal[idx[i]].blue;
            } else {
                uint8_t g = cases[c].src == 1 ? gray[i] : (uint8_t)((i % w) % 4 * 85);
                v[0] = v[1] = v[2] = g;
            }
            memcpy(exp_rgb + 3 * i, v, 3);
            exp_l[i] = cases[c].src == 0 || cases[c].src == 2 ? rgb2l(v[0], v[1], v[2]) : v[0];
        }
        ic_image img = {0}, g = {0};
        OK(ic_image_load(fx(cases[c].name), IC_COLOR_RGB, 0, 0, &img));
        CHECKF(img.h == h && img.w == w && img.c == 3, "%s shape", cases[c].name);
        CHECKF(!memcmp(img.data, exp_rgb, sizeof exp_rgb), "%s: RGB pixels differ (max %d)",
               cases[c].name, maxdiff(img.data, exp_rgb, sizeof exp_rgb, NULL));
        OK(ic_image_load(fx(cases[c].name), IC_COLOR_GRAYSCALE, 0, 0, &g));
        CHECKF(g.h == h && g.w == w && g.c == 1, "%s gray shape", cases[c].name);
        CHECKF(!memcmp(g.data, exp_l, sizeof exp_l), "%s: L pixels differ (max %d)", cases[c].name,
               maxdiff(g.data, exp_l, sizeof exp_l, NULL));
        ic_image_release(&img);
        ic_image_release(&g);
    }

    /* From memory, with a name for messages; and the same through a PNG renamed .jpg. */
    size_t len;
    uint8_t *b = read_file(fx("rgb.png"), &len);
    ic_image img = {0};
    OK(ic_image_decode(b, len, "mem.png", IC_COLOR_RGB, 0, 0, &img));
    CHECK(img.h == h && img.w == w && !memcmp(img.data, rgb, sizeof rgb));
    ic_image_release(&img);
    write_bytes(fx("png_named.jpg"), b, len);
    OK(ic_image_load(fx("png_named.jpg"), IC_COLOR_RGB, 0, 0, &img));
    CHECK(img.h == h && img.w == w && !memcmp(img.data, rgb, sizeof rgb));
    ic_image_release(&img);
    free(b);
}

/* ---- bad inputs ---- */

static size_t g_max_alloc;
static void *hook_malloc(size_t n, void *u)
{
    (void)u;
    if (n > g_max_alloc)
        g_max_alloc = n;
    return malloc(n);
}
static void *hook_realloc(void *p, size_t n, void *u)
{
    (void)u;
    if (n > g_max_alloc)
        g_max_alloc = n;
    return realloc(p, n);
}
static void hook_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* PNG's CRC-32 (ISO 3309), bitwise. */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Patches IHDR's width/height (and its CRC) in a PNG file image. */
static void png_patch_size(uint8_t *b, uint32_t w, uint32_t h)
{
    /* signature (8), length (4), "IHDR" (4), width, height, ... 13 bytes of data, CRC */
    put_be32(b + 16, w);
    put_be32(b + 20, h);
    put_be32(b + 29, crc32_png(b + 12, 17));
}

static void test_bad_inputs(void)
{
    ic_image img = {0};
    img.h = 12345; /* untouched on failure */

    write_bytes(fx("empty.jpg"), "", 0);
    EXPECT_ERR(ic_image_load(fx("empty.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "empty.jpg: empty file");
    uint8_t garbage[300];
    for (int i = 0; i < 300; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    write_bytes(fx("garbage.jpg"), garbage, sizeof garbage);
    EXPECT_ERR(ic_image_load(fx("garbage.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "garbage.jpg: not a JPEG or PNG image");
    const char *text = "this is a text file, not an image\n";
    write_bytes(fx("notes.txt"), text, strlen(text));
    EXPECT_ERR(ic_image_load(fx("notes.txt"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "notes.txt: not a JPEG or PNG image");
    EXPECT_ERR(ic_image_load(fx("missing.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_IO,
               "missing.jpg: cannot open: No such file or directory");
    mkdir(fx("adir.jpg"), 0755);
    EXPECT_ERR(ic_image_load(fx("adir.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_IO,
               "adir.jpg: is a directory");
    /* JPEG magic followed by junk. */
    garbage[0] = 0xFF;
    garbage[1] = 0xD8;
    garbage[2] = 0xFF;
    write_bytes(fx("junk_magic.jpg"), garbage, sizeof garbage);
    EXPECT_ERR(ic_image_load(fx("junk_magic.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "junk_magic.jpg: corrupt JPEG: ");

    /* Truncated JPEGs: libjpeg would pad with grey; we report it. */
    size_t len;
    uint8_t *b = read_file(fx("rgb420.jpg"), &len);
    write_bytes(fx("trunc50.jpg"), b, len / 2);
    EXPECT_ERR(ic_image_load(fx("trunc50.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "trunc50.jpg: corrupt JPEG: Premature end of JPEG file");
    write_bytes(fx("trunc10.jpg"), b, 10);
    EXPECT_ERR(ic_image_load(fx("trunc10.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "trunc10.jpg: corrupt JPEG: ");
    /* Progressive truncated: fails inside start_decompress. */
    free(b);
    b = read_file(fx("prog.jpg"), &len);
    write_bytes(fx("prog_trunc.jpg"), b, len * 2 / 3);
    EXPECT_ERR(ic_image_load(fx("prog_trunc.jpg"), IC_COLOR_GRAYSCALE, 0, 0, &img), IC_ERR_FORMAT,
               "prog_trunc.jpg: corrupt JPEG: Premature end of JPEG file");
    /* Corrupt entropy data in the middle (bytes overwritten with a marker-like pattern). */
    free(b);
    b = read_file(fx("rgb420.jpg"), &len);
    size_t sos = 0;
    for (size_t i = 2; i + 1 < len && !sos; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xDA)
            sos = i;
    CHECK(sos > 0);
    for (size_t i = (sos + len) / 2; i < (sos + len) / 2 + 16; i++)
        b[i] = (i & 1) ? 0xD3 : 0xFF;
    write_bytes(fx("corrupt.jpg"), b, len);
    EXPECT_ERR(ic_image_load(fx("corrupt.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "corrupt.jpg: corrupt JPEG: Corrupt JPEG data: premature end of data segment");
    free(b);

    /* PNG: bad IDAT CRC, truncation. */
    b = read_file(fx("rgb.png"), &len);
    size_t idat = 0;
    for (size_t i = 8; i + 8 < len; i++)
        if (!memcmp(b + i + 4, "IDAT", 4)) {
            idat = i;
            break;
        }
    CHECK(idat > 0);
    uint32_t n = (uint32_t)b[idat] << 24 | (uint32_t)b[idat + 1] << 16 |
                 (uint32_t)b[idat + 2] << 8 | b[idat + 3];
    uint8_t *bad = malloc(len);
    memcpy(bad, b, len);
    bad[idat + 8 + n] ^= 0x55;
    write_bytes(fx("badcrc.png"), bad, len);
    EXPECT_ERR(ic_image_load(fx("badcrc.png"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "badcrc.png: corrupt PNG: IDAT: CRC error");
    write_bytes(fx("trunc.png"), b, idat + 8 + n / 2);
    EXPECT_ERR(ic_image_load(fx("trunc.png"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "trunc.png: corrupt PNG: ");
    write_bytes(fx("trunc_hdr.png"), b, 20);
    EXPECT_ERR(ic_image_load(fx("trunc_hdr.png"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_FORMAT,
               "trunc_hdr.png: corrupt PNG: unexpected end of file");

    /* Header-claimed sizes over the limits (allocations checked in test_limits_alloc). */
    memcpy(bad, b, len);
    png_patch_size(bad, 65535, 65535);
    write_bytes(fx("big.png"), bad, len);
    EXPECT_ERR(ic_image_load(fx("big.png"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_UNSUPPORTED,
               "big.png: PNG image of 65535 x 65535 = 4294836225 pixels is too large (limit "
               "268435456 pixels)");
    png_patch_size(bad, 70000, 3);
    write_bytes(fx("wide.png"), bad, len);
    EXPECT_ERR(ic_image_load(fx("wide.png"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_UNSUPPORTED,
               "wide.png: PNG image of 3 x 70000 pixels is too large (limit 65535 pixels per "
               "side)");
    free(b);
    free(bad);
    /* A JPEG whose SOF claims 60000 x 60000 (patched into a small baseline file). */
    b = read_file(fx("rgb420.jpg"), &len);
    for (size_t i = 2; i + 9 < len; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) {
            b[i + 5] = 60000 >> 8; /* height */
            b[i + 6] = 60000 & 255;
            b[i + 7] = 60000 >> 8; /* width */
            b[i + 8] = 60000 & 255;
            break;
        }
    write_bytes(fx("big.jpg"), b, len);
    EXPECT_ERR(ic_image_load(fx("big.jpg"), IC_COLOR_RGB, 0, 0, &img), IC_ERR_UNSUPPORTED,
               "big.jpg: JPEG image of 60000 x 60000 = 3600000000 pixels is too large");
    /* With DCT scaling for a small target the same header is within the limit (7500 x 7500);
     * the data then runs out and the file is reported as truncated. */
    EXPECT_ERR(ic_image_load(fx("big.jpg"), IC_COLOR_RGB, 150, 150, &img), IC_ERR_FORMAT,
               "big.jpg: corrupt JPEG: ");
    free(b);
    CHECK(img.h == 12345 && img.data == NULL);

    /* Invalid arguments. */
    EXPECT_ERR(ic_image_decode(NULL, 10, "x", IC_COLOR_RGB, 0, 0, &img), IC_ERR_INVALID, "x");
    EXPECT_ERR(ic_image_decode("abc", 3, "x", (ic_color_mode)7, 0, 0, &img), IC_ERR_INVALID,
               "color mode");
}

/* The refused headers allocate nothing big through the library's hooks. */
static void test_limits_alloc(void)
{
    ic_image img = {0};
    ic_alloc_hooks hooks = {hook_malloc, hook_realloc, hook_free, NULL};
    const char *files[] = {"big.png", "wide.png", "big.jpg"};
    for (int i = 0; i < 3; i++) {
        ic_set_alloc_hooks(&hooks);
        g_max_alloc = 0;
        ic_status s = ic_image_load(fx(files[i]), IC_COLOR_RGB, 0, 0, &img);
        ic_set_alloc_hooks(NULL);
        CHECKF(s == IC_ERR_UNSUPPORTED, "%s: %s", files[i], ic_errmsg());
        CHECKF(g_max_alloc < 65536, "%s: largest allocation %zu bytes before refusing", files[i],
               g_max_alloc);
    }
}

/* Fault injection: fail the Nth allocation of each path; expect a clean IC_ERR_NOMEM (leaks
 * show under AddressSanitizer). */
static int g_fail_at, g_nalloc;
static void *fi_malloc(size_t n, void *u)
{
    (void)u;
    return ++g_nalloc == g_fail_at ? NULL : malloc(n);
}
static void *fi_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return ++g_nalloc == g_fail_at ? NULL : realloc(p, n);
}

static void test_fault_injection(void)
{
    ic_alloc_hooks hooks = {fi_malloc, fi_realloc, hook_free, NULL};
    const char *files[] = {"rgb.jpg", "cmyk_adobe.jpg", "gray.jpg", "pal.png", "gray.png"};
    for (int f = 0; f < 5; f++)
        for (int mode = 0; mode < 2; mode++)
            for (g_fail_at = 1;; g_fail_at++) {
                ic_image img = {0}, out = {0};
                g_nalloc = 0;
                ic_set_alloc_hooks(&hooks);
                ic_status s = ic_image_load(fx(files[f]), (ic_color_mode)mode, 0, 0, &img);
                if (s == IC_OK) {
                    s = ic_image_resize(&img, 9, 13, IC_INTERP_BILINEAR, &out);
                    if (s == IC_OK)
                        s = ic_image_save_png(&out, fx("fi.png"));
                }
                int done = g_nalloc < g_fail_at;
                ic_set_alloc_hooks(NULL);
                ic_image_release(&img);
                ic_image_release(&out);
                CHECKF(done ? s == IC_OK : s == IC_ERR_NOMEM, "%s: failing allocation %d: %s",
                       files[f], g_fail_at, ic_errmsg());
                if (done)
                    break;
            }
}

static void test_save_png(void)
{
    ic_image img = {0}, back = {0};
    OK(ic_image_load(fx("rgb.jpg"), IC_COLOR_RGB, 0, 0, &img));
    OK(ic_image_save_png(&img, fx("saved.png")));
    OK(ic_image_load(fx("saved.png"), IC_COLOR_RGB, 0, 0, &back));
    CHECK(back.h == img.h && back.w == img.w && back.c == 3 &&
          !memcmp(back.data, img.data, (size_t)(img.h * img.w * 3)));
    ic_image_release(&back);
    ic_image g = {0};
    OK(ic_image_load(fx("rgb.jpg"), IC_COLOR_GRAYSCALE, 0, 0, &g));
    OK(ic_image_save_png(&g, fx("saved.png"))); /* replaces the file */
    OK(ic_image_load(fx("saved.png"), IC_COLOR_GRAYSCALE, 0, 0, &back));
    CHECK(back.c == 1 && !memcmp(back.data, g.data, (size_t)(g.h * g.w)));
    ic_image_release(&back);
    ic_image_release(&g);
    /* No temp file left behind. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", fx("saved.png"), (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
    /* Into a missing folder: an I/O error naming the path. */
    EXPECT_ERR(ic_image_save_png(&img, fx("nodir/x.png")), IC_ERR_IO, "nodir/x.png");
    ic_image_release(&img);
    ic_image_release(&img); /* releasing twice is harmless */
    ic_image_release(NULL);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_test_decode_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_jpeg_rgb_gray();
    test_jpeg_cmyk();
    test_dct_scaling();
    test_huge_jpeg();
    test_png();
    test_bad_inputs();
    test_limits_alloc();
    test_fault_injection();
    test_save_png();
    if (!getenv("KEEP"))
        remove_dir(g_dir);
    else
        printf("kept %s\n", g_dir);
    return t_finish();
}
