/* aug_flags.c - parsing of the Keras-named augmentation options (see aug_flags.h). */
#include <math.h>
#include <string.h>

#include "aug_flags.h"
#include "cli.h"

void ic_cli_aug_init(ic_cli_aug *a)
{
    memset(a, 0, sizeof *a);
    a->opt = ic_image_data_generator_default();
}

/* "z" -> [1 - z, 1 + z] (Keras's float zoom_range), or "lo,hi", into a generator's zoom. */
static int parse_zoom(const char *s, void *dst)
{
    ic_image_data_generator *g = dst;
    const char *comma = strchr(s, ',');
    double a, b;
    if (!comma) {
        if (ic_cli_parse_num(s, &a) || a < 0 || a > 1)
            return -1;
        g->zoom_lo = 1.0f - (float)a;
        g->zoom_hi = 1.0f + (float)a;
        return 0;
    }
    char first[64];
    size_t n = (size_t)(comma - s);
    if (n == 0 || n >= sizeof first)
        return -1;
    memcpy(first, s, n);
    first[n] = '\0';
    if (ic_cli_parse_num(first, &a) || ic_cli_parse_num(comma + 1, &b) || a < 0 || b < a)
        return -1;
    g->zoom_lo = (float)a;
    g->zoom_hi = (float)b;
    return 0;
}

static int parse_fill(const char *v, void *dst)
{
    return ic_fill_mode_parse(v, dst) != IC_OK;
}

void ic_cli_aug_table(ic_cli_aug *a, ic_cli_opt *t)
{
    ic_image_data_generator *g = &a->opt;
    const ic_cli_opt opts[IC_CLI_AUG_OPTS] = {
        {"--augment", IC_CLI_SET, .dst = &a->augment, .lo = 1},
        {"--horizontal-flip", IC_CLI_SET, .dst = &g->horizontal_flip, .lo = 1},
        {"--vertical-flip", IC_CLI_SET, .dst = &g->vertical_flip, .lo = 1},
        {"--rotation-range", IC_CLI_FLOAT, .dst = &g->rotation_range, .seen = &a->given.rot,
         .err = "--rotation-range needs degrees >= 0, got '%s'", .missing = ""},
        {"--width-shift-range", IC_CLI_FLOAT, .dst = &g->width_shift_range,
         .seen = &a->given.wshift,
         .err = "--width-shift-range needs a number >= 0 (< 1: fraction of the width), got '%s'",
         .missing = ""},
        {"--height-shift-range", IC_CLI_FLOAT, .dst = &g->height_shift_range,
         .seen = &a->given.hshift,
         .err = "--height-shift-range needs a number >= 0 (< 1: fraction of the height), got "
                "'%s'",
         .missing = ""},
        {"--shear-range", IC_CLI_FLOAT, .dst = &g->shear_range, .seen = &a->given.shear,
         .err = "--shear-range needs degrees >= 0, got '%s'", .missing = ""},
        {"--zoom-range", IC_CLI_PARSE, .dst = g, .parse = parse_zoom, .seen = &a->given.zoom,
         .err = "--zoom-range needs z in [0, 1] or lo,hi with 0 <= lo <= hi, got '%s'",
         .missing = ""},
        {"--fill-mode", IC_CLI_PARSE, .dst = &g->fill_mode, .parse = parse_fill,
         .seen = &a->given.fill,
         .err = "--fill-mode must be nearest, constant, reflect or wrap, got '%s'", .missing = ""},
        {"--cval", IC_CLI_FLOAT, .dst = &g->cval, .lo = -INFINITY, .seen = &a->given.cval,
         .err = "--cval needs a number (0..255 units), got '%s'", .missing = ""},
        {.kind = IC_CLI_END},
    };
    memcpy(t, opts, sizeof opts);
}

ic_image_data_generator ic_cli_aug_generator(const ic_cli_aug *a)
{
    ic_image_data_generator g =
        a->augment ? ic_image_data_generator_book() : ic_image_data_generator_default();
    const ic_image_data_generator *o = &a->opt;
    if (a->given.rot)
        g.rotation_range = o->rotation_range;
    if (a->given.wshift)
        g.width_shift_range = o->width_shift_range;
    if (a->given.hshift)
        g.height_shift_range = o->height_shift_range;
    if (a->given.shear)
        g.shear_range = o->shear_range;
    if (a->given.zoom)
        g.zoom_lo = o->zoom_lo, g.zoom_hi = o->zoom_hi;
    if (o->horizontal_flip)
        g.horizontal_flip = 1;
    if (o->vertical_flip)
        g.vertical_flip = 1;
    if (a->given.fill)
        g.fill_mode = o->fill_mode;
    if (a->given.cval)
        g.cval = o->cval;
    return g;
}

void ic_cli_aug_help(FILE *fp)
{
    fprintf(fp,
            "augmentation (Keras image_data_generator; none by default):\n"
            "  --augment               the book's set: rotation 40, width/height shift 0.2,\n"
            "                          shear 0.2, zoom 0.2, horizontal flip, fill nearest\n"
            "                          (the options below override single fields)\n"
            "  --rotation-range DEG    rotation drawn from [-DEG, DEG) degrees\n"
            "  --width-shift-range W   horizontal shift: fraction of the width if < 1, else px\n"
            "  --height-shift-range H  vertical shift: fraction of the height if < 1, else px\n"
            "  --shear-range DEG       shear angle drawn from [-DEG, DEG) degrees\n"
            "  --zoom-range Z|LO,HI    zoom factors drawn from [1-Z, 1+Z] (< 1 zooms in)\n"
            "  --horizontal-flip       mirror left-right with probability 0.5\n"
            "  --vertical-flip         mirror top-bottom with probability 0.5\n"
            "  --fill-mode MODE        nearest (default), constant, reflect or wrap\n"
            "  --cval V                fill value for constant, 0..255 (default 0)\n");
}
