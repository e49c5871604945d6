/* decode_png.c - PNG decoding with libpng's classic API, converting the way Pillow does for
 * Keras's load_img: every colour type and bit depth ends up 8-bit RGB or L; palettes expand
 * through the palette; alpha (an alpha channel or tRNS) is dropped without compositing, as
 * Pillow's convert("RGB") drops it; 16-bit samples keep their high byte (Pillow's ";16B"
 * unpackers); 1/2/4-bit gray is scaled to 0..255. No gamma, sRGB or ICC transform is applied
 * (Pillow applies none). Grayscale output from a colour source uses Pillow's RGB -> L rule;
 * gray + alpha keeps the gray channel (Pillow's la2l).
 *
 * Known difference: Pillow 9 opens a 16-bit grayscale PNG as mode "I" (0..65535), which Keras
 * then clips to 255 for RGB and keeps unscaled for grayscale; we take the high byte instead.
 *
 * libpng's error callback longjmps back here (png_jmpbuf); nothing is printed, warnings are
 * dropped, and the message goes into the ic_seterr text ("x.png: corrupt PNG: IDAT: CRC
 * error"). */
#include <setjmp.h>
#include <string.h>

#include <png.h>

#include "data_impl.h"

typedef struct png_ctx {
    png_structp png;
    png_infop info;
    const uint8_t *buf;
    size_t len, pos;
    char msg[256];
    uint8_t *raw;    /* decoded pixels before the final colour conversion */
    uint8_t *data;   /* output pixels */
    png_bytep *rows; /* row pointers into raw */
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    strncpy(c->msg, msg ? msg : "unknown error", sizeof c->msg - 1);
    c->msg[sizeof c->msg - 1] = '\0';
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos)
        png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(dst, c->buf + c->pos, n);
    c->pos += n;
}

static void cleanup(png_ctx *c)
{
    png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    ic__free(c->rows);
    ic__free(c->raw);
    ic__free(c->data);
    ic__free(c);
}

ic_status ic__decode_png(const uint8_t *buf, size_t len, const char *name, ic_color_mode mode,
                         ic_image *out)
{
    png_ctx *c = ic__calloc(1, sizeof *c);
    if (!c)
        return IC_ERR_NOMEM;
    c->buf = buf;
    c->len = len;
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    if (!c->png) {
        ic__free(c);
        return ic_seterr(IC_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    }
    c->info = png_create_info_struct(c->png);
    if (!c->info) {
        cleanup(c);
        return ic_seterr(IC_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    }
    if (setjmp(png_jmpbuf(c->png))) {
        ic_status s = strstr(c->msg, "out of memory") || strstr(c->msg, "Out of memory")
                          ? IC_ERR_NOMEM
                          : IC_ERR_FORMAT;
        s = ic_seterr(s, "%s: corrupt PNG: %s", name, c->msg);
        cleanup(c);
        return s;
    }
    png_set_read_fn(c->png, c, on_read);
    png_read_info(c->png, c->info);

    png_uint_32 pw, ph;
    int depth, ctype, interlace;
    png_get_IHDR(c->png, c->info, &pw, &ph, &depth, &ctype, &interlace, NULL, NULL);
    int64_t h = ph, w = pw;
    ic_status s = ic__image_check_size(name, "PNG", h, w);
    if (s != IC_OK) {
        cleanup(c);
        return s;
    }

    if (depth == 16)
        png_set_strip_16(c->png); /* high byte, as Pillow */
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (depth < 8)
        png_set_packing(c->png);
    png_set_strip_alpha(c->png); /* also drops tRNS expanded by palette_to_rgb */
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);

    int ch = png_get_channels(c->png, c->info);
    size_t rowbytes = png_get_rowbytes(c->png, c->info);
    if ((ch != 1 && ch != 3) || rowbytes != (size_t)(w * ch)) {
        s = ic_seterr(IC_ERR_INTERNAL, "%s: PNG decoded to %d channels, %zu bytes per row", name,
                      ch, rowbytes);
        cleanup(c);
        return s;
    }
    int oc = mode == IC_COLOR_GRAYSCALE ? 1 : 3;
    c->raw = ic__malloc((size_t)(h * w * ch));
    c->rows = ic__malloc((size_t)h * sizeof *c->rows);
    if (!c->raw || !c->rows) {
        s = ic__errctx(IC_ERR_NOMEM, "%s: decoding a %lld x %lld PNG", name, (long long)h,
                       (long long)w);
        cleanup(c);
        return s;
    }
    for (int64_t y = 0; y < h; y++)
        c->rows[y] = c->raw + (size_t)y * (size_t)(w * ch);
    png_read_image(c->png, c->rows);
    /* The trailing chunks (after the image data) are not read: the pixels are complete, and
     * Pillow does not insist on them either. */

    if (ch == oc) {
        c->data = c->raw;
        c->raw = NULL;
    } else {
        c->data = ic__malloc((size_t)(h * w * oc));
        if (!c->data) {
            s = ic__errctx(IC_ERR_NOMEM, "%s: converting a %lld x %lld PNG", name, (long long)h,
                           (long long)w);
            cleanup(c);
            return s;
        }
        if (oc == 3)
            ic__l_row_to_rgb(c->data, c->raw, h * w);
        else
            ic__rgb_row_to_l(c->data, c->raw, h * w);
    }
    out->h = h;
    out->w = w;
    out->c = oc;
    out->data = c->data;
    c->data = NULL;
    cleanup(c);
    return IC_OK;
}
