/* test_augment_grid.c - ic_augment_grid (data.h): the tiles are the transforms that the
 * seeded numpy stream draws, in order, rounded to 8 bits; gutters and the unused cells of
 * a short last row are white; the size follows count, columns and gutter; bad arguments
 * are refused with a message. */
#include "harness.h"

#define H 7
#define W 9
#define C 3

static uint8_t px(const ic_image *g, int64_t y, int64_t x, int c)
{
    return g->data[(y * g->w + x) * g->c + c];
}

static uint8_t round_u8(float v)
{
    return !(v > 0) ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

/* Tile k of grid equals the k-th draw of g from seed applied to img. */
static int tile_matches(const ic_image *grid, const ic_image *img,
                        const ic_image_data_generator *g, uint32_t seed, int k, int cols,
                        int gutter)
{
    ic_np_random r;
    ic_np_random_seed(&r, seed);
    float src[H * W * C], dst[H * W * C];
    for (int i = 0; i < H * W * C; i++)
        src[i] = img->data[i];
    ic_transform t;
    for (int j = 0; j <= k; j++)
        ic_augment_random_transform(g, H, W, &r, &t);
    OK(ic_augment_apply(g, &t, src, H, W, C, dst));
    int64_t y0 = (k / cols) * (H + gutter), x0 = (k % cols) * (W + gutter);
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                if (px(grid, y0 + y, x0 + x, c) != round_u8(dst[(y * W + x) * C + c]))
                    return 0;
    return 1;
}

int main(void)
{
    uint8_t data[H * W * C];
    for (int i = 0; i < H * W * C; i++)
        data[i] = (uint8_t)((i * 37) % 251);
    ic_image img = {H, W, C, data};

    /* no augmentation: every tile is the image itself */
    ic_image_data_generator g = ic_image_data_generator_default();
    ic_image grid;
    OK(ic_augment_grid(&img, &g, 1, 3, 2, 2, &grid));
    CHECK(grid.h == 2 * H + 2 && grid.w == 2 * W + 2 && grid.c == C);
    int same = 1, white = 1;
    for (int k = 0; k < 3; k++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int c = 0; c < C; c++)
                    same &= px(&grid, (k / 2) * (H + 2) + y, (k % 2) * (W + 2) + x, c) ==
                            data[(y * W + x) * C + c];
    CHECK(same);
    for (int64_t y = 0; y < grid.h; y++)
        for (int c = 0; c < C; c++) {
            white &= px(&grid, y, W, c) == 255 && px(&grid, y, W + 1, c) == 255; /* gutter */
            if (y >= H + 2)
                white &= px(&grid, y, W + 2 + 4, c) == 255; /* the empty fourth cell */
        }
    CHECK(white);
    ic_image_release(&grid);

    /* the book's augmentation without rescale: each tile is the next draw of the seed */
    g = ic_image_data_generator_book();
    g.rescale = 0;
    OK(ic_augment_grid(&img, &g, 7, 5, 3, 1, &grid));
    CHECK(grid.h == 2 * H + 1 && grid.w == 3 * W + 2);
    for (int k = 0; k < 5; k++)
        CHECKF(tile_matches(&grid, &img, &g, 7, k, 3, 1), "tile %d", k);
    ic_image_release(&grid);
    /* fewer images than columns: one row of count images; no gutter */
    OK(ic_augment_grid(&img, &g, 7, 2, 4, 0, &grid));
    CHECK(grid.h == H && grid.w == 2 * W);
    CHECK(tile_matches(&grid, &img, &g, 7, 1, 2, 0));
    ic_image_release(&grid);

    EXPECT_ERR(ic_augment_grid(&img, &g, 1, 0, 4, 2, &grid), IC_ERR_INVALID,
               "count 0, columns 4 or gutter 2 out of range");
    CHECK(grid.data == NULL);
    EXPECT_ERR(ic_augment_grid(&img, &g, 1, 4, 4, -1, &grid), IC_ERR_INVALID, "out of range");
    EXPECT_ERR(ic_augment_grid(NULL, &g, 1, 4, 4, 2, &grid), IC_ERR_INVALID, "NULL image");
    ic_image big = {40000, 40000, 1, data};
    EXPECT_ERR(ic_augment_grid(&big, &g, 1, 2, 2, 2, &grid), IC_ERR_UNSUPPORTED,
               "ic_augment_grid: grid image of 40000 x 80002 pixels is too large");
    return t_finish();
}
