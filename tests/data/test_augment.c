/* test_augment.c - augmentation checks that need no golden file: generator defaults,
 * fill_mode names, the draw order of get_random_transform on the numpy stream, shifts,
 * flips, each fill mode's border rule on small images, zoom direction, rescale, argument
 * errors, thread-count independence, and the time of one 150x150x3 warp. */
#include <time.h>

#include "harness.h"

static ic_transform ident(void)
{
    ic_transform t = {0, 0, 0, 0, 1, 1, 0, 0};
    return t;
}

/* n x n x 1 image with value 10*r + c (distinct, so every copy is traceable). */
static void ramp(float *x, int h, int w)
{
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            x[r * w + c] = (float)(10 * r + c);
}

static int row_equals(const float *out, int ro, const float *in, int ri, int w)
{
    return !memcmp(out + ro * w, in + ri * w, (size_t)w * sizeof(float));
}

static void test_defaults(void)
{
    ic_image_data_generator d = ic_image_data_generator_default();
    CHECK(d.rescale == 0 && d.rotation_range == 0 && d.width_shift_range == 0 &&
          d.height_shift_range == 0 && d.shear_range == 0 && d.zoom_lo == 1 && d.zoom_hi == 1 &&
          !d.horizontal_flip && !d.vertical_flip && d.fill_mode == IC_FILL_NEAREST && d.cval == 0);
    ic_image_data_generator s = ic_image_data_generator_book();
    CHECK(s.rescale == (float)(1.0 / 255) && s.rotation_range == 40 &&
          s.width_shift_range == 0.2f && s.height_shift_range == 0.2f && s.shear_range == 0.2f &&
          s.zoom_lo == 0.8f && s.zoom_hi == 1.2f && s.horizontal_flip && !s.vertical_flip &&
          s.fill_mode == IC_FILL_NEAREST);

    ic_fill_mode m = IC_FILL_NEAREST;
    OK(ic_fill_mode_parse("wrap", &m));
    CHECK(m == IC_FILL_WRAP);
    OK(ic_fill_mode_parse("constant", &m));
    CHECK(m == IC_FILL_CONSTANT);
    OK(ic_fill_mode_parse("reflect", &m));
    CHECK(m == IC_FILL_REFLECT);
    OK(ic_fill_mode_parse("nearest", &m));
    CHECK(m == IC_FILL_NEAREST);
    EXPECT_ERR(ic_fill_mode_parse("mirror", &m), IC_ERR_INVALID, "unknown fill_mode 'mirror'");
    EXPECT_ERR(ic_fill_mode_parse("Nearest", &m), IC_ERR_INVALID, "expected nearest");
}

/* The draws come from the numpy stream in Keras's order with np.random.uniform. */
static void test_draw_order(void)
{
    ic_np_random r, q;
    ic_transform t;
    /* Only rotation: theta = -40 + 80*u1, then the two flip draws. */
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rotation_range = 40;
    g.vertical_flip = 1;
    ic_np_random_seed(&r, 7);
    ic_np_random_seed(&q, 7);
    ic_augment_random_transform(&g, 100, 80, &r, &t);
    double u1 = ic_np_random_sample(&q), u2 = ic_np_random_sample(&q), u3 = ic_np_random_sample(&q);
    CHECK(t.theta == -40.0 + 80.0 * u1);
    CHECK(t.tx == 0 && t.ty == 0 && t.shear == 0 && t.zx == 1 && t.zy == 1);
    CHECK(t.flip_horizontal == 0 && u2 >= 0); /* drawn (u2) but the flag is off */
    CHECK(t.flip_vertical == (u3 < 0.5));
    CHECK(ic_np_random_sample(&r) == ic_np_random_sample(&q)); /* same number of draws */

    /* Everything: theta, tx (rows, * h), ty (cols, * w), shear, zx, zy, flips. */
    g = ic_image_data_generator_book();
    g.vertical_flip = 1;
    ic_np_random_seed(&r, 3);
    ic_np_random_seed(&q, 3);
    ic_augment_random_transform(&g, 100, 80, &r, &t);
    double u[8];
    for (int i = 0; i < 8; i++)
        u[i] = ic_np_random_sample(&q);
    CHECK(t.theta == -40.0 + 80.0 * u[0]);
    CHECK(t.tx == (-0.2 + 0.4 * u[1]) * 100);
    CHECK(t.ty == (-0.2 + 0.4 * u[2]) * 80);
    CHECK(t.shear == -0.2 + 0.4 * u[3]);
    CHECK(t.zx == 0.8 + (1.2 - 0.8) * u[4]);
    CHECK(t.zy == 0.8 + (1.2 - 0.8) * u[5]);
    CHECK(t.flip_horizontal == (u[6] < 0.5) && t.flip_vertical == (u[7] < 0.5));
    CHECK(ic_np_random_sample(&r) == ic_np_random_sample(&q));

    /* Shift ranges >= 1 are pixels (not multiplied by the size). */
    g = ic_image_data_generator_default();
    g.height_shift_range = 30;
    ic_np_random_seed(&r, 5);
    ic_np_random_seed(&q, 5);
    ic_augment_random_transform(&g, 100, 80, &r, &t);
    CHECK(t.tx == -30.0 + 60.0 * ic_np_random_sample(&q));

    /* Defaults draw only the two flips. */
    g = ic_image_data_generator_default();
    ic_np_random_seed(&r, 9);
    ic_np_random_seed(&q, 9);
    ic_augment_random_transform(&g, 10, 10, &r, &t);
    ic_np_random_sample(&q);
    ic_np_random_sample(&q);
    CHECK(ic_np_random_sample(&r) == ic_np_random_sample(&q));
    CHECK(t.theta == 0 && t.zx == 1 && t.zy == 1 && !t.flip_horizontal && !t.flip_vertical);
}

static void test_matrix(void)
{
    double m[3][3];
    ic_transform t = ident();
    t.flip_horizontal = 1;
    ic_augment_matrix(&t, 150, 150, m);
    CHECK(m[0][0] == 1 && m[0][1] == 0 && m[0][2] == 0 && m[1][0] == 0 && m[1][1] == 1 &&
          m[1][2] == 0 && m[2][2] == 1);
    t = ident();
    t.tx = 30;
    t.ty = -7;
    ic_augment_matrix(&t, 150, 150, m);
    CHECK(m[0][0] == 1 && m[0][1] == 0 && m[0][2] == 30 && m[1][1] == 1 && m[1][2] == -7);
    /* Zoom about Keras's centre h/2 + 0.5: (1 - zx) * 75.5. */
    t = ident();
    t.zx = 0.8;
    t.zy = 1.2;
    ic_augment_matrix(&t, 150, 150, m);
    CHECK(fabs(m[0][2] - 0.2 * 75.5) < 1e-12 && fabs(m[1][2] + 0.2 * 75.5) < 1e-12);
    CHECK(m[0][0] == 0.8 && m[1][1] == 1.2);
}

static void test_shift_flip_fill(void)
{
    enum { H = 20, W = 12 };
    float in[H * W], out[H * W];
    ramp(in, H, W);
    ic_image_data_generator g = ic_image_data_generator_default();

    /* A white square shifted by tx = 3 lands 3 rows up. */
    float sq[H * W] = {0}, sq_out[H * W];
    for (int r = 10; r < 14; r++)
        for (int c = 5; c < 9; c++)
            sq[r * W + c] = 255;
    ic_transform t = ident();
    t.tx = 3;
    OK(ic_augment_apply(&g, &t, sq, H, W, 1, sq_out));
    int ok = 1;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            ok &= sq_out[r * W + c] == ((r >= 7 && r < 11 && c >= 5 && c < 9) ? 255.f : 0.f);
    CHECKF(ok, "white square shifted by tx = 3");
    /* ty = 2 moves content 2 columns left. */
    t = ident();
    t.ty = 2;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(out[5 * W + 0] == in[5 * W + 2] && out[5 * W + 9] == in[5 * W + 11] &&
          out[5 * W + 10] == in[5 * W + 11] && out[5 * W + 11] == in[5 * W + 11]);

    /* Nearest: rows past the end repeat the last row. */
    t = ident();
    t.tx = 5;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    ok = 1;
    for (int r = 0; r < H; r++)
        ok &= row_equals(out, r, in, r + 5 < H ? r + 5 : H - 1, W);
    CHECKF(ok, "nearest fill after a 5-row shift");

    /* Constant: outside is cval, inside an exact copy. */
    g.fill_mode = IC_FILL_CONSTANT;
    g.cval = 42;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    ok = 1;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            ok &= out[r * W + c] == (r + 5 < H ? in[(r + 5) * W + c] : 42.f);
    CHECKF(ok, "constant fill after a 5-row shift");
    /* A source position half a pixel outside gives pure cval (no blending). */
    t = ident();
    t.tx = 0.5;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(out[(H - 1) * W + 3] == 42.f &&
          out[(H - 2) * W + 3] == 0.5f * in[(H - 2) * W + 3] + 0.5f * in[(H - 1) * W + 3]);

    /* Wrap: period n - 1 (README: tx_p30/wrap rows 120..149 = input rows 1..30). */
    g.fill_mode = IC_FILL_WRAP;
    t = ident();
    t.tx = 3;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    ok = 1;
    for (int r = 0; r < H; r++)
        ok &= row_equals(out, r, in, r + 3 < H ? r + 3 : r + 3 - (H - 1), W);
    CHECKF(ok, "wrap with period n - 1 after a 3-row shift");
    t.tx = -3; /* rows 0..2 from positions -3..-1 -> 16..18 */
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(row_equals(out, 0, in, 16, W) && row_equals(out, 2, in, 18, W) &&
          row_equals(out, 3, in, 0, W));

    /* Reflect: d c b a | a b c d | d c b a. */
    g.fill_mode = IC_FILL_REFLECT;
    t.tx = 3;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(row_equals(out, H - 3, in, H - 1, W) && row_equals(out, H - 2, in, H - 2, W) &&
          row_equals(out, H - 1, in, H - 3, W));
    t.tx = -2;
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(row_equals(out, 0, in, 1, W) && row_equals(out, 1, in, 0, W) &&
          row_equals(out, 2, in, 0, W));
    t.tx = 1e6; /* far away: still a valid row, no overflow */
    OK(ic_augment_apply(&g, &t, in, H, W, 1, out));
    CHECK(row_equals(out, 0, in, (1000000 % 40) < 20 ? 1000000 % 40 : 39 - 1000000 % 40, W));

    /* Horizontal and vertical flips are exact reversals (no warp). */
    float rgb[H * W * 3], rgb_out[H * W * 3];
    for (int i = 0; i < H * W * 3; i++)
        rgb[i] = (float)i * 0.25f;
    g = ic_image_data_generator_default();
    t = ident();
    t.flip_horizontal = 1;
    OK(ic_augment_apply(&g, &t, rgb, H, W, 3, rgb_out));
    ok = 1;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            for (int k = 0; k < 3; k++)
                ok &= rgb_out[(r * W + c) * 3 + k] == rgb[(r * W + (W - 1 - c)) * 3 + k];
    CHECKF(ok, "horizontal flip");
    t.flip_horizontal = 0;
    t.flip_vertical = 1;
    OK(ic_augment_apply(&g, &t, rgb, H, W, 3, rgb_out));
    ok = 1;
    for (int r = 0; r < H; r++)
        ok &= !memcmp(rgb_out + r * W * 3, rgb + (H - 1 - r) * W * 3, W * 3 * sizeof(float));
    CHECKF(ok, "vertical flip");
    t = ident();
    OK(ic_augment_apply(&g, &t, rgb, H, W, 3, rgb_out));
    CHECK(!memcmp(rgb, rgb_out, sizeof rgb));
}

/* zx, zy < 1 enlarge the content (zoom in); > 1 shrink it. */
static void test_zoom(void)
{
    enum { N = 40 };
    float in[N * N] = {0}, out[N * N];
    for (int r = 17; r < 23; r++)
        for (int c = 17; c < 23; c++)
            in[r * N + c] = 255;
    ic_image_data_generator g = ic_image_data_generator_default();
    g.fill_mode = IC_FILL_CONSTANT;
    ic_transform t = ident();
    int count[3];
    double z[3] = {0.5, 1.0, 2.0};
    for (int k = 0; k < 3; k++) {
        t.zx = t.zy = z[k];
        OK(ic_augment_apply(&g, &t, in, N, N, 1, out));
        count[k] = 0;
        for (int i = 0; i < N * N; i++)
            count[k] += out[i] > 127.5f;
    }
    CHECKF(count[1] == 36 && count[0] > 2 * count[1] && count[2] < count[1],
           "bright pixels at zoom 0.5 / 1 / 2: %d %d %d", count[0], count[1], count[2]);
}

static void test_rescale_and_errors(void)
{
    enum { N = 16 };
    float in[N * N * 3], out[N * N * 3];
    for (int i = 0; i < N * N * 3; i++)
        in[i] = (float)(i % 256);
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = (float)(1.0 / 255);
    ic_transform t = ident();
    OK(ic_augment_apply(&g, &t, in, N, N, 3, out));
    int ok = 1;
    volatile float s = (float)(1.0 / 255);
    for (int i = 0; i < N * N * 3; i++)
        ok &= out[i] == in[i] * s;
    CHECKF(ok, "rescale is a float32 multiply by float(1/255)");

    EXPECT_ERR(ic_augment_apply(NULL, &t, in, N, N, 3, out), IC_ERR_INVALID, "NULL");
    EXPECT_ERR(ic_augment_apply(&g, &t, in, 0, N, 3, out), IC_ERR_INVALID, "bad image size");
    EXPECT_ERR(ic_augment_apply(&g, &t, in, N, N, 3, in + 5), IC_ERR_INVALID, "alias");
    t.theta = NAN;
    EXPECT_ERR(ic_augment_apply(&g, &t, in, N, N, 3, out), IC_ERR_INVALID, "non-finite");
    t = ident();
    g.fill_mode = (ic_fill_mode)9;
    EXPECT_ERR(ic_augment_apply(&g, &t, in, N, N, 3, out), IC_ERR_INVALID, "fill_mode");

    /* 1-pixel axes in every mode: no division by zero, the pixel itself. */
    float one[3] = {1, 2, 3}, one_out[3];
    t.theta = 30;
    t.tx = 0.25;
    for (int m = 0; m < 4; m++) {
        g = ic_image_data_generator_default();
        g.fill_mode = (ic_fill_mode)m;
        g.cval = 9;
        OK(ic_augment_apply(&g, &t, one, 1, 1, 3, one_out));
        CHECK(isfinite(one_out[0]) && isfinite(one_out[2]));
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The row-parallel path gives the same bits as one thread; and the time of a 150x150x3
 * warp (printed, not checked). */
static void test_threads_and_time(void)
{
    enum { BH = 1024, BW = 1024 };
    float *in = malloc(sizeof(float) * BH * BW), *a = malloc(sizeof(float) * BH * BW),
          *b = malloc(sizeof(float) * BH * BW);
    if (!in || !a || !b)
        exit(1);
    t_fill_uniform(in, BH * BW, 1, 0, 255);
    ic_image_data_generator g = ic_image_data_generator_default();
    g.fill_mode = IC_FILL_REFLECT;
    ic_transform t = {33.3, 17.25, -40.5, 11.0, 0.9, 1.15, 1, 1};
    int nt = ic_num_threads();
    ic_set_num_threads(1);
    OK(ic_augment_apply(&g, &t, in, BH, BW, 1, a));
    ic_set_num_threads(4);
    OK(ic_augment_apply(&g, &t, in, BH, BW, 1, b));
    ic_set_num_threads(nt);
    CHECK(!memcmp(a, b, sizeof(float) * BH * BW));
    free(in);
    free(a);
    free(b);

    enum { N = 150 * 150 * 3 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    if (!x || !y)
        exit(1);
    t_fill_uniform(x, N, 2, 0, 255);
    g = ic_image_data_generator_book();
    ic_transform s = {-6.64, 13.2, -29.99, -0.079, 0.8587, 0.8369, 1, 0};
    int reps = 200;
    OK(ic_augment_apply(&g, &s, x, 150, 150, 3, y));
    double t0 = now();
    for (int i = 0; i < reps; i++)
        OK(ic_augment_apply(&g, &s, x, 150, 150, 3, y));
    double dt = (now() - t0) / reps;
    printf("one 150x150x3 warp + flip + rescale: %.1f us\n", dt * 1e6);
    free(x);
    free(y);
}

int main(void)
{
    test_defaults();
    test_draw_order();
    test_matrix();
    test_shift_flip_fill();
    test_zoom();
    test_rescale_and_errors();
    test_threads_and_time();
    return t_finish();
}
