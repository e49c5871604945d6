/* fuzz_image.c - libFuzzer harness for ic_image_decode (JPEG and PNG from memory): every
 * input is decoded in both colour modes, at full size and with a small target size (which
 * turns on libjpeg-turbo's DCT scaling for large JPEGs). A successful decode is checked
 * for a consistent shape and read completely (so ASan sees a short buffer). */
#include "fuzz_common.h"

static void fz_image_one(const uint8_t *data, size_t size, ic_color_mode mode, int64_t min)
{
    ic_image img = {0, 0, 0, NULL};
    if (ic_image_decode(data, size, "fuzz", mode, min, min, &img) != IC_OK)
        return;
    int c = mode == IC_COLOR_GRAYSCALE ? 1 : 3;
    if (img.h < 1 || img.w < 1 || img.c != c || !img.data)
        abort();
    size_t n = (size_t)(img.h * img.w * img.c);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += img.data[i];
    (void)sum;
    ic_image_release(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    fz_image_one(data, size, IC_COLOR_RGB, 0);
    fz_image_one(data, size, IC_COLOR_GRAYSCALE, 0);
    fz_image_one(data, size, IC_COLOR_RGB, 4);
    fz_image_one(data, size, IC_COLOR_GRAYSCALE, 3);
    return 0;
}
