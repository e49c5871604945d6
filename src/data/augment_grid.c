/* augment_grid.c - ic_augment_grid (data.h): random transforms of one image side by side,
 * drawn as the directory iterator draws them, so the effect of the augmentation options can
 * be seen before training. */
#include <string.h>

#include "core/core.h"
#include "data_impl.h"

static uint8_t to_u8(float v)
{
    if (!(v > 0))
        return 0;
    if (v >= 255)
        return 255;
    return (uint8_t)(v + 0.5f);
}

ic_status ic_augment_grid(const ic_image *img, const ic_image_data_generator *g, uint32_t seed,
                          int count, int columns, int gutter, ic_image *grid)
{
    if (!grid)
        return ic_seterr(IC_ERR_INVALID, "ic_augment_grid: grid is NULL");
    memset(grid, 0, sizeof *grid);
    if (!img || !img->data || !g)
        return ic_seterr(IC_ERR_INVALID, "ic_augment_grid: NULL image or generator");
    if (count < 1 || count > 1000 || columns < 1 || columns > 1000 || gutter < 0 || gutter > 100)
        return ic_seterr(IC_ERR_INVALID,
                         "ic_augment_grid: count %d, columns %d or gutter %d out of range "
                         "(1..1000, 1..1000, 0..100)",
                         count, columns, gutter);
    const int64_t h = img->h, w = img->w;
    const int c = img->c;
    const size_t n = (size_t)(h * w * c);
    int cols = columns < count ? columns : count;
    int rows = (count + cols - 1) / cols;
    int64_t gh = rows * h + (int64_t)(rows - 1) * gutter, gw = cols * w + (int64_t)(cols - 1) * gutter;
    ic_status s = ic__image_check_size("ic_augment_grid", "grid", gh, gw);
    if (s)
        return s;
    uint8_t *out = ic__malloc((size_t)(gh * gw * c));
    float *src = ic__malloc(n * sizeof *src), *dst = ic__malloc(n * sizeof *dst);
    if (!out || !src || !dst) {
        ic__free(out), ic__free(src), ic__free(dst);
        return IC_ERR_NOMEM;
    }
    memset(out, 255, (size_t)(gh * gw * c));
    for (size_t i = 0; i < n; i++)
        src[i] = (float)img->data[i];
    ic_np_random r;
    ic_np_random_seed(&r, seed);
    for (int k = 0; k < count && !s; k++) {
        ic_transform t;
        ic_augment_random_transform(g, h, w, &r, &t);
        if ((s = ic_augment_apply(g, &t, src, h, w, c, dst)))
            break;
        int64_t y0 = (k / cols) * (h + gutter), x0 = (k % cols) * (w + gutter);
        for (int64_t y = 0; y < h; y++) {
            uint8_t *o = out + ((y0 + y) * gw + x0) * c;
            const float *in = dst + y * w * c;
            for (int64_t x = 0; x < w * c; x++)
                o[x] = to_u8(in[x]);
        }
    }
    ic__free(src);
    ic__free(dst);
    if (s) {
        ic__free(out);
        return s;
    }
    *grid = (ic_image){gh, gw, c, out};
    return IC_OK;
}
