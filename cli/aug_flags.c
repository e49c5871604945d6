/* aug_flags.c - parsing of the Keras-named augmentation options (see aug_flags.h). */
#include <string.h>

#include "aug_flags.h"
#include "cli.h"

enum {
    G_ROT = 1u << 0,
    G_WSHIFT = 1u << 1,
    G_HSHIFT = 1u << 2,
    G_SHEAR = 1u << 3,
    G_ZOOM = 1u << 4,
    G_HFLIP = 1u << 5,
    G_VFLIP = 1u << 6,
    G_FILL = 1u << 7,
    G_CVAL = 1u << 8
};

void ic_cli_aug_init(ic_cli_aug *a)
{
    memset(a, 0, sizeof *a);
    a->opt = ic_image_data_generator_default();
}

/* "z" -> [1 - z, 1 + z] (Keras's float zoom_range), or "lo,hi". */
static int parse_zoom(const char *s, float *lo, float *hi)
{
    const char *comma = strchr(s, ',');
    double a, b;
    if (!comma) {
        if (ic_cli_parse_num(s, &a) || a < 0 || a > 1)
            return -1;
        *lo = 1.0f - (float)a;
        *hi = 1.0f + (float)a;
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
    *lo = (float)a;
    *hi = (float)b;
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
    const char *what; /* for the error message */
} range_opts[] = {
    {"--rotation-range", G_ROT, "degrees >= 0"},
    {"--width-shift-range", G_WSHIFT, "a number >= 0 (< 1: fraction of the width)"},
    {"--height-shift-range", G_HSHIFT, "a number >= 0 (< 1: fraction of the height)"},
    {"--shear-range", G_SHEAR, "degrees >= 0"},
};

int ic_cli_aug_opt(const char *cmd, int argc, char **argv, int *i, ic_cli_aug *a)
{
    const char *o = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(o, "--augment")) {
        a->augment = 1;
        return 1;
    }
    if (!strcmp(o, "--horizontal-flip")) {
        a->opt.horizontal_flip = 1;
        a->given |= G_HFLIP;
        return 1;
    }
    if (!strcmp(o, "--vertical-flip")) {
        a->opt.vertical_flip = 1;
        a->given |= G_VFLIP;
        return 1;
    }
    for (size_t k = 0; k < sizeof range_opts / sizeof range_opts[0]; k++) {
        if (strcmp(o, range_opts[k].name))
            continue;
        double x;
        if (!v || ic_cli_parse_num(v, &x) || x < 0) {
            ic_cli_usage_error(cmd, "%s needs %s, got '%s'", o, range_opts[k].what,
                               v ? v : "nothing");
            return -1;
        }
        float f = (float)x;
        switch (range_opts[k].bit) {
        case G_ROT: a->opt.rotation_range = f; break;
        case G_WSHIFT: a->opt.width_shift_range = f; break;
        case G_HSHIFT: a->opt.height_shift_range = f; break;
        default: a->opt.shear_range = f; break;
        }
        a->given |= range_opts[k].bit;
        *i += 1;
        return 1;
    }
    if (!strcmp(o, "--zoom-range")) {
        if (!v || parse_zoom(v, &a->opt.zoom_lo, &a->opt.zoom_hi)) {
            ic_cli_usage_error(cmd,
                               "--zoom-range needs z in [0, 1] or lo,hi with 0 <= lo <= hi, "
                               "got '%s'",
                               v ? v : "nothing");
            return -1;
        }
        a->given |= G_ZOOM;
        *i += 1;
        return 1;
    }
    if (!strcmp(o, "--fill-mode")) {
        if (!v || ic_fill_mode_parse(v, &a->opt.fill_mode) != IC_OK) {
            ic_cli_usage_error(cmd,
                               "--fill-mode must be nearest, constant, reflect or wrap, "
                               "got '%s'",
                               v ? v : "nothing");
            return -1;
        }
        a->given |= G_FILL;
        *i += 1;
        return 1;
    }
    if (!strcmp(o, "--cval")) {
        double x;
        if (!v || ic_cli_parse_num(v, &x)) {
            ic_cli_usage_error(cmd, "--cval needs a number (0..255 units), got '%s'",
                               v ? v : "nothing");
            return -1;
        }
        a->opt.cval = (float)x;
        a->given |= G_CVAL;
        *i += 1;
        return 1;
    }
    return 0;
}

ic_image_data_generator ic_cli_aug_generator(const ic_cli_aug *a)
{
    ic_image_data_generator g =
        a->augment ? ic_image_data_generator_book() : ic_image_data_generator_default();
    const ic_image_data_generator *o = &a->opt;
    if (a->given & G_ROT)
        g.rotation_range = o->rotation_range;
    if (a->given & G_WSHIFT)
        g.width_shift_range = o->width_shift_range;
    if (a->given & G_HSHIFT)
        g.height_shift_range = o->height_shift_range;
    if (a->given & G_SHEAR)
        g.shear_range = o->shear_range;
    if (a->given & G_ZOOM)
        g.zoom_lo = o->zoom_lo, g.zoom_hi = o->zoom_hi;
    if (a->given & G_HFLIP)
        g.horizontal_flip = 1;
    if (a->given & G_VFLIP)
        g.vertical_flip = 1;
    if (a->given & G_FILL)
        g.fill_mode = o->fill_mode;
    if (a->given & G_CVAL)
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
