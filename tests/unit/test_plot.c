/* test_plot.c - the history figure (R's plot(history) look) and its pieces: the loess
 * smoother against hand-computable cases, axis breaks against R's values, and rendered
 * PNGs read back with cairo: size, both series colours in both panels, the grey panel,
 * and the edge cases (one epoch, NaNs, constant series, no validation).
 * IC_PLOT_KEEP=DIR keeps the PNGs there for a look. */
#include <cairo.h>
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "plot/plot_impl.h"

static char g_dir[4096];

/* Under AddressSanitizer: fontconfig (behind cairo's text) keeps caches it never frees. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

static void line_is_exact(int degree)
{
    double x[12], y[12], xo[7], yo[7];
    for (int i = 0; i < 12; i++) {
        x[i] = i < 6 ? 2 * i : 25 - i; /* unsorted, uneven */
        y[i] = 3.5 - 0.25 * x[i];
    }
    for (int i = 0; i < 7; i++)
        xo[i] = -1 + 3.1 * i;
    OK(ic__loess(x, y, 12, 0.75, degree, xo, yo, 7));
    for (int i = 0; i < 7; i++)
        CHECKF(fabs(yo[i] - (3.5 - 0.25 * xo[i])) < 1e-12, "degree %d at %g: %.17g", degree, xo[i],
               yo[i]);
}

static void test_loess(void)
{
    /* Local linear / quadratic regression reproduces a straight line exactly (also outside
     * the data), and degree 2 a parabola. */
    line_is_exact(1);
    line_is_exact(2);
    double x[10], y[10], xo[3] = {1, 4.5, 10}, yo[3];
    for (int i = 0; i < 10; i++)
        x[i] = i + 1, y[i] = (x[i] - 3) * (x[i] - 3);
    OK(ic__loess(x, y, 10, 0.75, 2, xo, yo, 3));
    for (int i = 0; i < 3; i++)
        CHECKF(fabs(yo[i] - (xo[i] - 3) * (xo[i] - 3)) < 1e-10, "parabola at %g: %g", xo[i], yo[i]);
    /* A hand computation: degree 0 at x0 = 0 with x = 0,1,2,3 (n = 4, span 0.75: q = 3, h = 2):
     * weights 1, (1 - 1/8)^3, 0, 0 -> (0 * 1 + 1 * w) / (1 + w). */
    double hx[4] = {0, 1, 2, 3}, hy[4] = {0, 1, 2, 3}, x0 = 0, y0;
    OK(ic__loess(hx, hy, 4, 0.75, 0, &x0, &y0, 1));
    double w = pow(1 - 0.125, 3);
    CHECKF(fabs(y0 - w / (1 + w)) < 1e-15, "weighted mean %.17g vs %.17g", y0, w / (1 + w));
    /* The smoother smooths: noisy alternating data gets close to the mean line. */
    double nx[30], ny[30], mx = 15, my;
    for (int i = 0; i < 30; i++)
        nx[i] = i + 1, ny[i] = 1 + (i % 2 ? 0.1 : -0.1);
    OK(ic__loess(nx, ny, 30, 0.75, 2, &mx, &my, 1));
    CHECKF(fabs(my - 1) < 0.02, "smoothed %g", my);
    ic_clear_error();
    CHECK(ic__loess(x, y, 0, 0.75, 2, xo, yo, 1) == IC_ERR_INVALID);
    CHECK(ic__loess(x, y, 10, 0.75, 3, xo, yo, 1) == IC_ERR_INVALID);
}

static int same(const double *a, int n, const double *b, int nb)
{
    if (n != nb)
        return 0;
    for (int i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > 1e-9)
            return 0;
    return 1;
}

static void test_breaks(void)
{
    double b[64];
    char lab[64][32];
    /* labeling::extended(0, 1, 5) == c(0, 0.25, 0.5, 0.75, 1) */
    int n = ic__extended_breaks(0, 1, 5, b, 64);
    CHECK(same(b, n, (double[]){0, 0.25, 0.5, 0.75, 1}, 5));
    ic__format_breaks(b, n, lab);
    CHECK(!strcmp(lab[0], "0.00") && !strcmp(lab[1], "0.25") && !strcmp(lab[4], "1.00"));
    /* labeling::extended(0, 100, 5) == c(0, 25, 50, 75, 100) */
    n = ic__extended_breaks(0, 100, 5, b, 64);
    CHECK(same(b, n, (double[]){0, 25, 50, 75, 100}, 5));
    /* labeling::extended(0.52, 0.98, 5) == c(0.6, 0.7, 0.8, 0.9) ... ggplot shows these */
    n = ic__extended_breaks(0.52, 0.98, 5, b, 64);
    CHECKF(n >= 3 && b[0] >= 0.5 && b[n - 1] <= 1.0, "n %d", n);
    ic__format_breaks(b, n, lab);
    CHECKF(strlen(lab[0]) == 3, "label '%s'", lab[0]);
    /* pretty(c(1, 30)) == 0 5 ... 30; pretty(c(0.05, 20.95)) == 0 5 10 15 20 25 */
    n = ic__pretty(1, 30, 5, b, 64);
    CHECK(same(b, n, (double[]){0, 5, 10, 15, 20, 25, 30}, 7));
    n = ic__pretty(0.05, 20.95, 5, b, 64);
    CHECK(same(b, n, (double[]){0, 5, 10, 15, 20, 25}, 6));
    n = ic__pretty(0.5, 1.5, 5, b, 64); /* one epoch: 0.4 0.6 ... 1.6 */
    CHECKF(n == 7 && fabs(b[0] - 0.4) < 1e-12 && fabs(b[6] - 1.6) < 1e-12, "n %d", n);
    n = ic__extended_breaks(2, 2, 5, b, 64);
    CHECK(n == 1 && b[0] == 2);
}

/* ---- Rendered figures ---- */

static ic_history *make(int n, int acc, int val, int nan_every)
{
    ic_history *h;
    OK(ic_history_create(&h, acc, val));
    for (int e = 0; e < n; e++) {
        double t = e / 30.0;
        double l = 0.7 * exp(-2.5 * t) + 0.05 + 0.02 * sin(7.0 * e);
        double a = 0.5 + 0.45 * (1 - exp(-3 * t)) + 0.01 * cos(5.0 * e);
        double vl = 0.65 * exp(-1.5 * t) + 0.2 + 0.03 * sin(3.0 * e);
        double va = 0.55 + 0.3 * (1 - exp(-2 * t)) + 0.015 * cos(4.0 * e);
        if (nan_every && e % nan_every == 1)
            l = NAN, va = INFINITY;
        OK(ic_history_append(h, l, a, vl, va));
    }
    return h;
}

typedef struct counts {
    long train[2], val[2], grey, black, blue;
} counts;

/* Reads the PNG back and counts exact colours in the top and bottom halves. */
static int read_png(const char *path, int w, int h, counts *c)
{
    memset(c, 0, sizeof *c);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s)) {
        fprintf(stderr, "%s: %s\n", path, cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return 0;
    }
    int ok = cairo_image_surface_get_width(s) == w && cairo_image_surface_get_height(s) == h;
    CHECKF(ok, "%s is %dx%d, expected %dx%d", path, cairo_image_surface_get_width(s),
           cairo_image_surface_get_height(s), w, h);
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < cairo_image_surface_get_height(s); y++)
        for (int x = 0; x < cairo_image_surface_get_width(s); x++) {
            uint32_t p = *(const uint32_t *)(d + (size_t)y * stride + 4 * (size_t)x) & 0xFFFFFF;
            int half = y >= h / 2;
            c->train[half] += p == 0xF8766D;
            c->val[half] += p == 0x00BFC4;
            c->grey += p == 0xEBEBEB;
            c->black += p == 0x000000;
            c->blue += p == 0x3366FF;
        }
    cairo_surface_destroy(s);
    return ok;
}

static void out_path(char *buf, size_t size, const char *name)
{
    const char *keep = getenv("IC_PLOT_KEEP");
    snprintf(buf, size, "%s/%s", keep && *keep ? keep : g_dir, name);
}

static void test_figures(void)
{
    char path[4200];
    counts c;
    ic_plot_opts o = ic_plot_opts_default();
    CHECK(o.width == 800 && o.height == 600 && o.smooth == IC_PLOT_SMOOTH_AUTO && !o.title);

    /* 30 epochs, training and validation, smoothed (auto: >= 10 epochs) */
    ic_history *h = make(30, 1, 1, 0);
    out_path(path, sizeof path, "history30.png");
    OK(ic_plot_history(h, path, NULL));
    if (read_png(path, 800, 600, &c)) {
        CHECKF(c.train[0] > 50 && c.train[1] > 50, "training colour %ld / %ld", c.train[0],
               c.train[1]);
        CHECKF(c.val[0] > 50 && c.val[1] > 50, "validation colour %ld / %ld", c.val[0], c.val[1]);
        CHECKF(c.grey > 100000, "panel grey %ld", c.grey);
    }
    /* Other size, title, no smoothing. */
    o.width = 640, o.height = 400, o.smooth = IC_PLOT_SMOOTH_NONE, o.title = "Fine-tuning";
    out_path(path, sizeof path, "history30_plain.png");
    OK(ic_plot_history(h, path, &o));
    if (read_png(path, 640, 400, &c))
        CHECK(c.train[0] > 20 && c.val[1] > 20 && c.grey > 10000);
    ic_history_free(h);

    /* One epoch: zero-width ranges on both axes. */
    h = make(1, 1, 1, 0);
    out_path(path, sizeof path, "history1.png");
    OK(ic_plot_history(h, path, NULL));
    if (read_png(path, 800, 600, &c))
        CHECK(c.train[0] > 0 && c.val[1] > 0 && c.grey > 100000);
    ic_history_free(h);

    /* NaN and Inf values are left out; smoothing forced. */
    h = make(25, 1, 1, 4);
    o = ic_plot_opts_default();
    o.smooth = IC_PLOT_SMOOTH_ALWAYS;
    out_path(path, sizeof path, "history_nan.png");
    OK(ic_plot_history(h, path, &o));
    if (read_png(path, 800, 600, &c))
        CHECK(c.train[0] > 0 && c.val[1] > 0);
    ic_history_free(h);

    /* No validation: black rings, blue smooth lines, no legend. */
    h = make(12, 1, 0, 0);
    out_path(path, sizeof path, "history_noval.png");
    OK(ic_plot_history(h, path, NULL));
    if (read_png(path, 800, 600, &c))
        CHECKF(c.blue > 50 && c.train[0] + c.train[1] == 0 && c.val[0] + c.val[1] == 0, "blue %ld",
               c.blue);
    ic_history_free(h);

    /* Loss only, constant, 3 epochs. */
    OK(ic_history_create(&h, 0, 0));
    for (int e = 0; e < 3; e++)
        OK(ic_history_append(h, 0.25, 0, 0, 0));
    out_path(path, sizeof path, "history_const.png");
    OK(ic_plot_history(h, path, NULL));
    CHECK(read_png(path, 800, 600, &c) && c.grey > 100000);
    ic_history_free(h);

    /* All values NaN: empty panels, still a figure. */
    OK(ic_history_create(&h, 1, 1));
    OK(ic_history_append(h, NAN, NAN, NAN, NAN));
    OK(ic_history_append(h, NAN, NAN, NAN, NAN));
    out_path(path, sizeof path, "history_allnan.png");
    OK(ic_plot_history(h, path, NULL));
    ic_history_free(h);

    /* Errors. */
    OK(ic_history_create(&h, 1, 1));
    out_path(path, sizeof path, "empty.png");
    EXPECT_ERR(ic_plot_history(h, path, NULL), IC_ERR_INVALID, "no epochs");
    OK(ic_history_append(h, 1, 0.5, 1, 0.5));
    o = ic_plot_opts_default();
    o.width = 5;
    EXPECT_ERR(ic_plot_history(h, path, &o), IC_ERR_INVALID, "5x600");
    EXPECT_ERR(ic_plot_history(h, "/nonexistent-dir/x.png", NULL), IC_ERR_IO, "nonexistent");
    ic_history_free(h);

    /* No temporary files left behind. */
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int tmp = 0;
    while (d && (de = readdir(d)))
        tmp += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    CHECK(tmp == 0);
}

/* Fault injection: the Nth allocation of ours fails: NOMEM, nothing written, no leak. */
static long g_count, g_fail_at;
static void *f_malloc(size_t n, void *u)
{
    (void)u;
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void test_faults(void)
{
    ic_history *h = make(12, 1, 1, 0);
    ic_alloc_hooks hooks = {f_malloc, f_realloc, f_free, NULL};
    char path[4200];
    snprintf(path, sizeof path, "%s/fault.png", g_dir);
    int done = 0;
    for (g_fail_at = 1; !done && g_fail_at < 1000; g_fail_at++) {
        g_count = 0;
        unlink(path);
        ic_set_alloc_hooks(&hooks);
        ic_status s = ic_plot_history(h, path, NULL);
        ic_set_alloc_hooks(NULL);
        CHECKF(s == IC_OK || (s == IC_ERR_NOMEM && access(path, F_OK) != 0), "fail_at %ld: %s",
               g_fail_at, ic_status_str(s));
        done = s == IC_OK;
    }
    CHECK(done && g_fail_at > 2);
    ic_history_free(h);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/ic_test_plot_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_loess();
    test_breaks();
    test_figures();
    test_faults();
    /* clean up */
    DIR *d = opendir(g_dir);
    struct dirent *de;
    char p[8400];
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.' || strlen(de->d_name) > 2) {
            snprintf(p, sizeof p, "%s/%s", g_dir, de->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(g_dir);
    return t_finish();
}
