/* cmd_augment_preview.c - `imgclass augment-preview`: loads one image as Keras does
 * (load_img with target_size, PIL nearest resize), draws N random transforms from the
 * numpy-compatible stream seeded like np.random.seed(SEED), and writes them as a grid PNG,
 * so the effect of the augmentation options can be seen before training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aug_flags.h"
#include "cli.h"

#define GUTTER 2

static void help(void)
{
    printf("usage: imgclass augment-preview IMAGE -o GRID.png [options]\n"
           "\n"
           "Draws COUNT random augmentations of one image (as Keras's image_data_generator\n"
           "with np.random.seed(SEED) draws them) and writes them as a PNG grid with 2 px\n"
           "white gutters. The image is loaded as Keras loads it: resized to the target size\n"
           "with nearest-neighbour interpolation. rescale does not apply to the preview.\n"
           "\n"
           "  -o, --output FILE       the grid PNG to write (required)\n"
           "  --target-size HxW       size each image is loaded at (default 150x150)\n"
           "  --count N               number of augmented images (default 8)\n"
           "  --columns N             images per grid row (default 4)\n"
           "  --seed N                numpy seed, 0..4294967295 (default 1)\n"
           "\n");
    ic_cli_aug_help(stdout);
    printf("\n"
           "examples:\n"
           "  imgclass augment-preview cat.1.jpg -o grid.png --augment\n"
           "  imgclass augment-preview cat.1.jpg -o rot.png --rotation-range 40 --count 4 "
           "--seed 7\n"
           "  imgclass augment-preview dog.5.jpg -o wrap.png --width-shift-range 0.3 "
           "--fill-mode wrap\n");
}

/* --target-size HxW, each 1..4096, into long[2] */
static int parse_size(const char *v, void *dst)
{
    long *s = dst;
    char extra;
    return sscanf(v, "%ldx%ld%c", &s[0], &s[1], &extra) != 2 || s[0] < 1 || s[1] < 1 ||
           s[0] > 4096 || s[1] > 4096;
}

int ic_cli_augment_preview(int argc, char **argv)
{
    const char *cmd = "augment-preview", *image = NULL, *output = NULL;
    long count = 8, columns = 4, size[2] = {150, 150};
    unsigned long long seed = 1;
    ic_cli_aug aug;
    ic_cli_aug_init(&aug);
    ic_cli_opt augopts[IC_CLI_AUG_OPTS];
    ic_cli_aug_table(&aug, augopts);
    const ic_cli_opt opts[] = {
        {"--output", IC_CLI_STR, .dst = &output, .alias = "-o"},
        {"--count", IC_CLI_LONG, .dst = &count, .lo = 1, .hi = 1000,
         .err = "--count needs a number in 1..1000, got '%s'"},
        {"--columns", IC_CLI_LONG, .dst = &columns, .lo = 1, .hi = 1000,
         .err = "--columns needs a number in 1..1000, got '%s'"},
        {"--seed", IC_CLI_U64, .dst = &seed, .hi = 0xffffffff,
         .err = "--seed must be between 0 and 4294967295 (as numpy's), got '%s'"},
        {"--target-size", IC_CLI_PARSE, .dst = size, .parse = parse_size,
         .err = "--target-size needs HxW like 150x150 (each 1..4096), got '%s'"},
        {.kind = IC_CLI_INCLUDE, .dst = augopts},
        {.kind = IC_CLI_END},
    };
    int r;
    for (int i = 0; (r = ic_cli_next(cmd, opts, 0, argc, argv, &i, help)) == 1;) {
        if (image)
            return ic_cli_usage_error(cmd, "one IMAGE only, got '%s' and '%s'", image, argv[i]);
        image = argv[i];
    }
    if (r)
        return r < 0 ? 0 : r;
    if (!image)
        return ic_cli_usage_error(cmd, "give an IMAGE to augment");
    if (!output)
        return ic_cli_usage_error(cmd, "give the grid file with -o GRID.png");
    ic_image_data_generator g = ic_cli_aug_generator(&aug);
    g.rescale = 0; /* the preview shows 0..255 pixels */

    ic_image img = {0}, sized = {0}, grid = {0};
    ic_status s = ic_image_load(image, IC_COLOR_RGB, 0, 0, &img);
    if (s)
        return ic_cli_fail(cmd, s);
    s = ic_image_resize(&img, size[0], size[1], IC_INTERP_NEAREST, &sized);
    ic_image_release(&img);
    if (s)
        return ic_cli_fail(cmd, s);
    s = ic_augment_grid(&sized, &g, (uint32_t)seed, (int)count, (int)columns, GUTTER, &grid);
    ic_image_release(&sized);
    if (s)
        return ic_cli_fail(cmd, s);
    s = ic_image_save_png(&grid, output);
    ic_image_release(&grid);
    if (s)
        return ic_cli_fail(cmd, s);
    printf("wrote %s: %ld images of %ldx%ld in a %lldx%lld grid (seed %llu)\n", output, count,
           size[0], size[1], (long long)grid.h, (long long)grid.w, seed);
    return 0;
}
