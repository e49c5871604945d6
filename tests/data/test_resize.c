/* test_resize.c - ic_image_resize against the golden file (../shared/augment/golden_augment.h5,
 * group resize/): every PIL NEAREST row/column map, the decoded photo (cat.1.jpg as Pillow
 * decodes it, libjpeg-turbo 2.1.5) and its NEAREST 150 x 150 resize. Plus sanity checks of
 * BILINEAR (Pillow's triangle filter) and AREA (exact footprint average). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "harness.h"

/* ---- golden file ---- */

typedef struct names {
    char list[64][64];
    int n;
} names;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *u)
{
    (void)g;
    (void)info;
    names *nm = u;
    if (strstr(name, "_to_") && nm->n < 64)
        snprintf(nm->list[nm->n++], 64, "%s", name);
    return 0;
}

/* Reads a whole dataset as the given native type; dims (up to 3) in dims, rank returned. */
static void *read_ds(hid_t f, const char *path, hid_t type, size_t elem, hsize_t *dims, int *rank)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    hsize_t dd[8] = {0};
    int r = H5Sget_simple_extent_ndims(sp);
    if (r < 1 || r > 3) {
        H5Sclose(sp);
        H5Dclose(d);
        return NULL;
    }
    H5Sget_simple_extent_dims(sp, dd, NULL);
    size_t n = 1;
    for (int i = 0; i < r; i++) {
        n *= dd[i];
        dims[i] = dd[i];
    }
    void *buf = malloc(n * elem);
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    *rank = r;
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

/* Source image whose pixels encode their own (row, col), rows/cols < 4096. */
static void make_coord_image(ic_image *img, int64_t h, int64_t w)
{
    img->h = h;
    img->w = w;
    img->c = 3;
    img->data = malloc((size_t)(h * w * 3));
    for (int64_t r = 0; r < h; r++)
        for (int64_t c = 0; c < w; c++) {
            uint8_t *p = img->data + (r * w + c) * 3;
            p[0] = (uint8_t)(r & 255);
            p[1] = (uint8_t)((r >> 8) | ((c >> 8) << 4));
            p[2] = (uint8_t)(c & 255);
        }
}

static void test_nearest_maps(hid_t f)
{
    names nm = {.n = 0};
    hid_t g = H5Gopen2(f, "resize", H5P_DEFAULT);
    CHECK(g >= 0);
    if (g < 0)
        return;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, collect, &nm);
    H5Gclose(g);
    CHECKF(nm.n >= 8, "only %d resize maps found", nm.n);
    for (int i = 0; i < nm.n; i++) {
        long long H, W, h, w;
        if (sscanf(nm.list[i], "%lldx%lld_to_%lldx%lld", &H, &W, &h, &w) != 4) {
            CHECKF(0, "unexpected name resize/%s", nm.list[i]);
            continue;
        }
        char path[160];
        hsize_t dims[3];
        int rank;
        snprintf(path, sizeof path, "resize/%s/rows", nm.list[i]);
        int32_t *rows = read_ds(f, path, H5T_NATIVE_INT32, 4, dims, &rank);
        CHECKF(rows && rank == 1 && (long long)dims[0] == h, "%s", path);
        snprintf(path, sizeof path, "resize/%s/cols", nm.list[i]);
        int32_t *cols = read_ds(f, path, H5T_NATIVE_INT32, 4, dims, &rank);
        CHECKF(cols && rank == 1 && (long long)dims[0] == w, "%s", path);
        if (!rows || !cols) {
            free(rows);
            free(cols);
            continue;
        }
        ic_image src, out = {0};
        make_coord_image(&src, H, W);
        OK(ic_image_resize(&src, h, w, IC_INTERP_NEAREST, &out));
        CHECK(out.h == h && out.w == w && out.c == 3);
        long bad = 0, first = -1;
        for (long long r = 0; r < h; r++)
            for (long long c = 0; c < w; c++) {
                const uint8_t *p = out.data + (r * w + c) * 3;
                long long sr = p[0] | ((p[1] & 15) << 8), sc = p[2] | ((p[1] >> 4) << 8);
                if (sr != rows[r] || sc != cols[c]) {
                    if (first < 0)
                        first = (long)(r * w + c);
                    bad++;
                }
            }
        CHECKF(bad == 0, "resize/%s: %ld of %lld pixels taken from the wrong source (first at %ld)",
               nm.list[i], bad, h * w, first);
        ic_image_release(&out);
        free(src.data);
        free(rows);
        free(cols);
    }
    printf("NEAREST: %d golden maps checked\n", nm.n);
}

static void test_photo(hid_t f, const char *shared)
{
    char jpg[4200];
    snprintf(jpg, sizeof jpg, "%s/data/cats_and_dogs_small/train/cats/cat.1.jpg", shared);
    FILE *fp = fopen(jpg, "rb");
    if (!fp) {
        printf("photo checks skipped: %s not found\n", jpg);
        return;
    }
    fclose(fp);
    hsize_t dims[3];
    int rank;
    uint8_t *dec = read_ds(f, "resize/photo_decoded", H5T_NATIVE_UINT8, 1, dims, &rank);
    CHECK(dec && rank == 3);
    if (!dec)
        return;
    ic_image img = {0};
    OK(ic_image_load(jpg, IC_COLOR_RGB, 0, 0, &img));
    CHECKF(img.h == (int64_t)dims[0] && img.w == (int64_t)dims[1] && img.c == (int)dims[2],
           "cat.1.jpg decoded %lldx%lldx%d, golden %llux%llux%llu", (long long)img.h,
           (long long)img.w, img.c, (unsigned long long)dims[0], (unsigned long long)dims[1],
           (unsigned long long)dims[2]);
    long n = (long)(dims[0] * dims[1] * dims[2]), diff = 0;
    int maxd = 0;
    if (img.h * img.w * img.c == n)
        for (long i = 0; i < n; i++) {
            int d = abs((int)img.data[i] - (int)dec[i]);
            diff += d != 0;
            maxd = d > maxd ? d : maxd;
        }
    CHECKF(diff == 0, "resize/photo_decoded: %ld of %ld values differ from our decode (max %d)",
           diff, n, maxd);
    printf("photo_decoded: %ld of %ld values differ (max %d)\n", diff, n, maxd);

    uint8_t *p150 = read_ds(f, "resize/photo_150", H5T_NATIVE_UINT8, 1, dims, &rank);
    CHECK(p150 && rank == 3 && dims[0] == 150 && dims[1] == 150 && dims[2] == 3);
    if (p150) {
        /* From the golden decode, so the resize is checked on its own... */
        ic_image gd = {.h = 200, .w = 200, .c = 3, .data = dec}, out = {0};
        OK(ic_image_resize(&gd, 150, 150, IC_INTERP_NEAREST, &out));
        CHECK(!memcmp(out.data, p150, 150 * 150 * 3));
        ic_image_release(&out);
        /* ... and from ours: the whole Keras load path. */
        OK(ic_image_resize(&img, 150, 150, IC_INTERP_NEAREST, &out));
        long d150 = 0;
        for (long i = 0; i < 150 * 150 * 3; i++)
            d150 += out.data[i] != p150[i];
        CHECKF(d150 == 0, "resize/photo_150: %ld values differ from decode + NEAREST", d150);
        ic_image_release(&out);
    }
    free(p150);
    free(dec);
    ic_image_release(&img);
}

/* ---- BILINEAR / AREA sanity ---- */

static void test_filters(void)
{
    static const ic_interpolation interps[] = {IC_INTERP_NEAREST, IC_INTERP_BILINEAR,
                                               IC_INTERP_AREA};
    static const int64_t sizes[][2] = {{7, 5}, {150, 150}, {1, 1}, {33, 200}, {300, 2}};
    /* A constant image stays constant under every filter and size. */
    for (int c = 1; c <= 3; c += 2) {
        ic_image src = {.h = 37, .w = 53, .c = c};
        src.data = malloc((size_t)(37 * 53 * c));
        memset(src.data, 173, (size_t)(37 * 53 * c));
        for (int k = 0; k < 3; k++)
            for (int s = 0; s < 5; s++) {
                ic_image out = {0};
                OK(ic_image_resize(&src, sizes[s][0], sizes[s][1], interps[k], &out));
                CHECK(out.h == sizes[s][0] && out.w == sizes[s][1] && out.c == c);
                long bad = 0;
                for (long i = 0; i < out.h * out.w * c; i++)
                    bad += out.data[i] != 173;
                CHECKF(bad == 0, "interp %d to %lldx%lld c=%d: %ld values not constant", k,
                       (long long)sizes[s][0], (long long)sizes[s][1], c, bad);
                ic_image_release(&out);
            }
        free(src.data);
    }

    /* 2x downscale of a 10/250 checkerboard: AREA gives the mean 130 everywhere; BILINEAR
     * (weights 1/8 3/8 3/8 1/8 per axis) too, away from the border. */
    ic_image cb = {.h = 16, .w = 20, .c = 1};
    cb.data = malloc(16 * 20);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 20; c++)
            cb.data[r * 20 + c] = ((r + c) & 1) ? 250 : 10;
    ic_image out = {0};
    OK(ic_image_resize(&cb, 8, 10, IC_INTERP_AREA, &out));
    long bad = 0;
    for (long i = 0; i < 80; i++)
        bad += out.data[i] != 130;
    CHECKF(bad == 0, "AREA checkerboard: %ld of 80 pixels not 130", bad);
    ic_image_release(&out);
    OK(ic_image_resize(&cb, 8, 10, IC_INTERP_BILINEAR, &out));
    bad = 0;
    for (int r = 1; r < 7; r++)
        for (int c = 1; c < 9; c++)
            bad += out.data[r * 10 + c] != 130;
    CHECKF(bad == 0, "BILINEAR checkerboard: %ld interior pixels not 130", bad);
    ic_image_release(&out);
    /* AREA at a non-integer factor: 3 -> 2 averages [0, 1.5) and [1.5, 3). */
    ic_image row3 = {.h = 1, .w = 3, .c = 1, .data = (uint8_t[]){0, 90, 180}};
    OK(ic_image_resize(&row3, 1, 2, IC_INTERP_AREA, &out));
    CHECKF(out.data[0] == 30 && out.data[1] == 150, "AREA 3->2: %d %d (expected 30 150)",
           out.data[0], out.data[1]);
    ic_image_release(&out);
    free(cb.data);

    /* Pillow's BILINEAR upscale 2 -> 4: [a, .75a + .25b, .25a + .75b, b]. */
    ic_image two = {.h = 1, .w = 2, .c = 1, .data = (uint8_t[]){0, 200}};
    OK(ic_image_resize(&two, 1, 4, IC_INTERP_BILINEAR, &out));
    CHECKF(out.data[0] == 0 && out.data[1] == 50 && out.data[2] == 150 && out.data[3] == 200,
           "BILINEAR 2->4: %d %d %d %d (expected 0 50 150 200)", out.data[0], out.data[1],
           out.data[2], out.data[3]);
    ic_image_release(&out);

    /* Same size is a copy; bad arguments are refused. */
    ic_image g = {
        .h = 2, .w = 2, .c = 3, .data = (uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
    for (int k = 0; k < 3; k++) {
        OK(ic_image_resize(&g, 2, 2, interps[k], &out));
        CHECK(!memcmp(out.data, g.data, 12));
        ic_image_release(&out);
    }
    EXPECT_ERR(ic_image_resize(&g, 0, 5, IC_INTERP_NEAREST, &out), IC_ERR_INVALID, "0 x 5");
    EXPECT_ERR(ic_image_resize(&g, 2, 2, IC_INTERP_NEAREST, &g), IC_ERR_INVALID, "source");
    EXPECT_ERR(ic_image_resize(&g, 70000, 5, IC_INTERP_NEAREST, &out), IC_ERR_UNSUPPORTED, "limit");
}

int main(void)
{
    test_filters();
    if (t_failures)
        return t_finish(); /* before a possible skip for a missing ../shared */
    const char *shared = t_shared_dir();
    char h5[4200];
    snprintf(h5, sizeof h5, "%s/augment/golden_augment.h5", shared);
    FILE *fp = fopen(h5, "rb");
    if (!fp) {
        char why[4300];
        snprintf(why, sizeof why, "golden file %s not found", h5);
        t_skip(why);
    }
    fclose(fp);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECKF(f >= 0, "cannot open %s", h5);
    if (f >= 0) {
        test_nearest_maps(f);
        test_photo(f, shared);
        H5Fclose(f);
    }
    return t_finish();
}
