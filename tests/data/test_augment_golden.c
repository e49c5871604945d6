/* test_augment_golden.c - the augmentation against ../shared/augment/golden_augment.h5
 * (keras-preprocessing 1.1.2 + scipy 1.10.1 + numpy 1.24.2): every affine/<set>/matrix,
 * every stored warp output in every stored fill mode (exact: 0 differences), the draws
 * after np.random.seed(1) / (4), and rescale (exact). Skips when ../shared is absent. */
#include <hdf5.h>

#include "harness.h"

static hid_t g_file = -1;

static int exists(const char *path)
{
    return H5Lexists(g_file, path, H5P_DEFAULT) > 0;
}

/* Reads a whole dataset as doubles or floats into buf (n values expected). */
static int read_ds(const char *path, hid_t memtype, void *buf, hsize_t n)
{
    hid_t ds = H5Dopen2(g_file, path, H5P_DEFAULT);
    if (ds < 0) {
        fprintf(stderr, "missing dataset %s\n", path);
        t_failures++;
        return 0;
    }
    hid_t sp = H5Dget_space(ds);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    int ok = cnt == (hssize_t)n && H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    H5Sclose(sp);
    H5Dclose(ds);
    if (!ok) {
        fprintf(stderr, "cannot read %s (%lld values, expected %llu)\n", path, (long long)cnt,
                (unsigned long long)n);
        t_failures++;
    }
    return ok;
}

#define HH 150
#define WW 150
#define CC 3
#define NV (HH * WW * CC)

static long g_values, g_outputs;

/* Compares exactly; reports the number of differing values and the max |diff|. */
static void check_exact(const char *what, const float *got, const float *want, long n)
{
    long diffs = 0, first = -1;
    double maxd = 0;
    for (long i = 0; i < n; i++) {
        if (got[i] != want[i] || isnan(got[i]) != isnan(want[i])) {
            double d = fabs((double)got[i] - (double)want[i]);
            if (first < 0)
                first = i;
            diffs++;
            if (!(d <= maxd))
                maxd = d;
        }
    }
    g_values += n;
    g_outputs++;
    CHECKF(diffs == 0, "%s: %ld of %ld values differ, max |diff| %.9g, first at %ld (%.9g vs %.9g)",
           what, diffs, n, maxd, first, first >= 0 ? got[first] : 0.0,
           first >= 0 ? want[first] : 0.0);
}

static ic_transform params_to_transform(const double p[7])
{
    ic_transform t = {p[0], p[1], p[2], p[3], p[4], p[5], p[6] != 0, 0};
    return t;
}

int main(void)
{
    const char *shared = t_shared_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/augment/golden_augment.h5", shared);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    g_file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (g_file < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }

    /* The set names, as stored (fixed-length strings). */
    char names[14][17];
    {
        hid_t ds = H5Dopen2(g_file, "affine/set_names", H5P_DEFAULT);
        hid_t ft = H5Dget_type(ds);
        size_t sz = H5Tget_size(ft);
        CHECK(ds >= 0 && sz <= 16);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, 17);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        memset(names, 0, sizeof names);
        CHECK(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
        H5Tclose(mt);
        H5Tclose(ft);
        H5Dclose(ds);
    }

    float *input = malloc(NV * sizeof(float)), *want = malloc(NV * sizeof(float));
    float *got = malloc(NV * sizeof(float));
    if (!input || !want || !got)
        return 1;
    if (!read_ds("affine/input", H5T_NATIVE_FLOAT, input, NV))
        return t_finish();

    static const struct {
        const char *ds;
        ic_fill_mode mode;
        float cval;
    } modes[] = {{"nearest", IC_FILL_NEAREST, 0},
                 {"constant", IC_FILL_CONSTANT, 0},
                 {"reflect", IC_FILL_REFLECT, 0},
                 {"wrap", IC_FILL_WRAP, 0},
                 {"constant_cval100", IC_FILL_CONSTANT, 100}};

    double max_mdiff = 0;
    int nsets = 0;
    for (int s = 0; s < 14; s++) {
        const char *name = names[s];
        if (!*name)
            continue;
        nsets++;
        double p[7], m[9], mm[3][3];
        snprintf(path, sizeof path, "affine/%s/params", name);
        if (!read_ds(path, H5T_NATIVE_DOUBLE, p, 7))
            continue;
        snprintf(path, sizeof path, "affine/%s/matrix", name);
        if (!read_ds(path, H5T_NATIVE_DOUBLE, m, 9))
            continue;
        ic_transform t = params_to_transform(p);
        ic_augment_matrix(&t, HH, WW, mm);
        double md = 0;
        for (int i = 0; i < 9; i++) {
            double d = fabs(mm[i / 3][i % 3] - m[i]);
            md = d > md ? d : md;
        }
        max_mdiff = md > max_mdiff ? md : max_mdiff;
        CHECKF(md <= 1e-12, "%s: matrix differs by %g", name, md);

        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
            snprintf(path, sizeof path, "affine/%s/%s", name, modes[k].ds);
            if (!exists(path))
                continue;
            if (!read_ds(path, H5T_NATIVE_FLOAT, want, NV))
                continue;
            ic_image_data_generator g = ic_image_data_generator_default();
            g.fill_mode = modes[k].mode;
            g.cval = modes[k].cval;
            OK(ic_augment_apply(&g, &t, input, HH, WW, CC, got));
            check_exact(path, got, want, NV);
        }
    }
    CHECKF(nsets == 14, "%d parameter sets", nsets);
    CHECKF(g_outputs == 24, "%ld stored outputs compared (expected 24)", g_outputs);

    /* The draws after np.random.seed(1) and (4) with the book's generator on 150x150x3. */
    static const struct {
        uint32_t seed;
        const char *set;
        int flips;
    } draws[] = {{1, "seed_draw_1", 1}, {4, "seed_draw_4", 0}};
    ic_image_data_generator bookgen = ic_image_data_generator_book();
    double max_pdiff = 0;
    for (int d = 0; d < 2; d++) {
        double p[7];
        snprintf(path, sizeof path, "affine/%s/params", draws[d].set);
        if (!read_ds(path, H5T_NATIVE_DOUBLE, p, 7))
            continue;
        ic_np_random r;
        ic_transform t;
        ic_np_random_seed(&r, draws[d].seed);
        ic_augment_random_transform(&bookgen, HH, WW, &r, &t);
        double v[6] = {t.theta, t.tx, t.ty, t.shear, t.zx, t.zy};
        for (int i = 0; i < 6; i++) {
            double diff = fabs(v[i] - p[i]);
            max_pdiff = diff > max_pdiff ? diff : max_pdiff;
            CHECKF(diff <= 1e-13 * (1 + fabs(p[i])), "%s param %d: %.17g vs %.17g", draws[d].set, i,
                   v[i], p[i]);
        }
        CHECKF(t.flip_horizontal == (p[6] != 0) && t.flip_horizontal == draws[d].flips,
               "%s flip %d vs %g", draws[d].set, t.flip_horizontal, p[6]);
        CHECK(t.flip_vertical == 0);
    }

    /* Rescale: x *= float32(1/255), exactly; and the whole seed-1 pipeline (draw, warp,
     * flip, rescale) against rescale/output. */
    float *resc_in = malloc(NV * sizeof(float));
    if (read_ds("rescale/input", H5T_NATIVE_FLOAT, resc_in, NV) &&
        read_ds("rescale/output", H5T_NATIVE_FLOAT, want, NV)) {
        ic_image_data_generator g = ic_image_data_generator_default();
        g.rescale = (float)(1.0 / 255);
        ic_transform id = {0, 0, 0, 0, 1, 1, 0, 0};
        OK(ic_augment_apply(&g, &id, resc_in, HH, WW, CC, got));
        check_exact("rescale/output", got, want, NV);

        ic_np_random r;
        ic_transform t;
        ic_np_random_seed(&r, 1);
        ic_augment_random_transform(&bookgen, HH, WW, &r, &t);
        OK(ic_augment_apply(&bookgen, &t, input, HH, WW, CC, got));
        check_exact("seed 1 pipeline vs rescale/output", got, want, NV);
    }
    free(resc_in);

    printf("golden: %d sets, %ld outputs, %ld values compared exactly; max matrix diff %.3g, "
           "max draw diff %.3g\n",
           nsets, g_outputs, g_values, max_mdiff, max_pdiff);
    free(input);
    free(want);
    free(got);
    H5Fclose(g_file);
    return t_finish();
}
