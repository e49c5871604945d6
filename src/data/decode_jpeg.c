/* decode_jpeg.c - JPEG decoding with libjpeg-turbo, matching Pillow's defaults (what Keras's
 * load_img uses): JDCT_ISLOW, fancy upsampling on, no draft mode unless the caller asks for
 * DCT scaling (min_h/min_w). Colour: YCbCr/RGB JPEGs decode to RGB, grayscale JPEGs to L;
 * CMYK and YCCK JPEGs decode as CMYK and go through Pillow's cmyk2rgb. A target of
 * IC_COLOR_GRAYSCALE uses Pillow's RGB -> L rule (ic__rgb_to_l), not libjpeg's Y channel,
 * so grayscale loading matches Keras's convert("L").
 *
 * EXIF orientation is ignored, as Keras/PIL load_img ignores it: pixels come out in stored
 * order.
 *
 * Errors stay inside: libjpeg's error_exit longjmps back here, nothing is printed, and
 * libjpeg's own message ends up in the ic_seterr text ("cat.7.jpg: corrupt JPEG: Premature
 * end of JPEG file"). libjpeg treats a truncated file or corrupt entropy-coded data as a mere
 * *warning* (it pads with grey and carries on); we turn those particular warnings into errors
 * so damaged files are reported instead of silently yielding grey blocks. Harmless warnings
 * (extraneous bytes before a marker, unknown JFIF revision, bad ICC marker, ...) are ignored,
 * as Pillow ignores them: several files of the Kaggle cats-vs-dogs set carry them. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
/* after jpeglib.h: jerror.h needs its configuration macros */
#include <jerror.h>

#include "data_impl.h"

/* All state that lives across setjmp/longjmp is on the heap (no volatile locals needed). */
typedef struct jpeg_ctx {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int created;
    uint8_t *data; /* the output pixels while decoding */
} jpeg_ctx;

static void on_error_exit(j_common_ptr ci)
{
    jpeg_ctx *c = (jpeg_ctx *)ci->client_data;
    ci->err->format_message(ci, c->msg);
    longjmp(c->jb, 1);
}

/* Warnings that mean the pixels are wrong: premature end of file, corrupt entropy data. */
static int fatal_warning(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: return 1;
    default: return 0;
    }
}

static void on_emit_message(j_common_ptr ci, int level)
{
    if (level >= 0)
        return; /* trace messages */
    ci->err->num_warnings++;
    if (fatal_warning(ci->err->msg_code))
        on_error_exit(ci);
}

static void on_output_message(j_common_ptr ci)
{
    (void)ci;
}

/* Pillow's MULDIV255: a * b / 255 rounded. */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* Pillow's cmyk2rgb on a row (inverted: Adobe/Photoshop convention, stored values are
 * 255 - ink). */
static void cmyk_row_to_rgb(uint8_t *dst, const uint8_t *src, int64_t n, int inverted)
{
    int x = inverted ? 255 : 0;
    for (int64_t i = 0; i < n; i++) {
        int cc = src[4 * i] ^ x, m = src[4 * i + 1] ^ x, y = src[4 * i + 2] ^ x;
        int nk = 255 - (src[4 * i + 3] ^ x);
        dst[3 * i] = (uint8_t)(nk - muldiv255(cc, nk));
        dst[3 * i + 1] = (uint8_t)(nk - muldiv255(m, nk));
        dst[3 * i + 2] = (uint8_t)(nk - muldiv255(y, nk));
    }
}

/* The largest 1/d (d in 8, 4, 2) whose output is still >= min_h x min_w (a bound <= 0 does
 * not constrain its axis); 1 when no bound is given or the image is under twice the target. */
static int pick_scale(int64_t h, int64_t w, int64_t min_h, int64_t min_w)
{
    if (min_h <= 0 && min_w <= 0)
        return 1;
    static const int denoms[] = {8, 4, 2};
    for (int i = 0; i < 3; i++) {
        int64_t d = denoms[i];
        if ((min_h <= 0 || h >= min_h * d) && (min_w <= 0 || w >= min_w * d))
            return (int)d;
    }
    return 1;
}

static ic_status fail(jpeg_ctx *c, const char *name)
{
    ic_status s;
    int code = c->jerr.msg_code;
    if (code == JERR_OUT_OF_MEMORY)
        s = ic_seterr(IC_ERR_NOMEM, "%s: out of memory decoding JPEG: %s", name, c->msg);
    else if (code == JERR_NO_BACKING_STORE)
        s = ic_seterr(IC_ERR_UNSUPPORTED,
                      "%s: JPEG of %u x %u pixels needs more than the %ld MiB limit of decoder "
                      "memory (progressive or multi-scan image too large)",
                      name, (unsigned)c->ci.image_width, (unsigned)c->ci.image_height,
                      (long)(IC_MAX_JPEG_WORK_BYTES >> 20));
    else if (code == JERR_IMAGE_TOO_BIG)
        s = ic_seterr(IC_ERR_UNSUPPORTED, "%s: JPEG too large: %s", name, c->msg);
    else
        s = ic_seterr(IC_ERR_FORMAT, "%s: corrupt JPEG: %s", name, c->msg);
    return s;
}

static void cleanup(jpeg_ctx *c)
{
    if (c->created)
        jpeg_destroy_decompress(&c->ci);
    ic__free(c->data);
    ic__free(c);
}

ic_status ic__decode_jpeg(const uint8_t *buf, size_t len, const char *name, ic_color_mode mode,
                          int64_t min_h, int64_t min_w, ic_image *out)
{
    jpeg_ctx *c = ic__calloc(1, sizeof *c);
    if (!c)
        return IC_ERR_NOMEM;
    c->ci.err = jpeg_std_error(&c->jerr);
    c->jerr.error_exit = on_error_exit;
    c->jerr.emit_message = on_emit_message;
    c->jerr.output_message = on_output_message;
    if (setjmp(c->jb)) {
        ic_status s = fail(c, name);
        cleanup(c);
        return s;
    }
    jpeg_create_decompress(&c->ci);
    c->created = 1;
    c->ci.client_data = c;
    c->ci.mem->max_memory_to_use = IC_MAX_JPEG_WORK_BYTES;
    jpeg_mem_src(&c->ci, buf, (unsigned long)len);
    if (jpeg_read_header(&c->ci, TRUE) != JPEG_HEADER_OK) {
        ic_status s = ic_seterr(IC_ERR_FORMAT, "%s: corrupt JPEG: no image (tables only)", name);
        cleanup(c);
        return s;
    }
    /* The source size needs no check of its own: libjpeg refuses sides over 65500, and the
     * pixel limit applies to the (possibly DCT-scaled) output below. */
    struct jpeg_decompress_struct *ci = &c->ci;
    int64_t src_h = ci->image_height, src_w = ci->image_width;
    ic_status s;

    int cmyk = 0;
    if (ci->jpeg_color_space == JCS_GRAYSCALE) {
        ci->out_color_space = JCS_GRAYSCALE;
    } else if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK) {
        ci->out_color_space = JCS_CMYK;
        cmyk = 1;
    } else {
        ci->out_color_space = JCS_RGB;
    }
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;
    ci->scale_num = 1;
    ci->scale_denom = (unsigned)pick_scale(src_h, src_w, min_h, min_w);
    jpeg_calc_output_dimensions(ci);
    int64_t h = ci->output_height, w = ci->output_width;
    if (ci->scale_denom > 1) {
        char what[64];
        snprintf(what, sizeof what, "JPEG (%lld x %lld decoded at 1/%u)", (long long)src_h,
                 (long long)src_w, ci->scale_denom);
        s = ic__image_check_size(name, what, h, w);
    } else {
        s = ic__image_check_size(name, "JPEG", h, w);
    }
    if (s != IC_OK) {
        cleanup(c);
        return s;
    }

    jpeg_start_decompress(ci);
    int comps = ci->output_components;
    int oc = mode == IC_COLOR_GRAYSCALE ? 1 : 3;
    if (comps != 1 && comps != 3 && comps != 4) {
        s = ic_seterr(IC_ERR_UNSUPPORTED, "%s: JPEG with %d output components", name, comps);
        cleanup(c);
        return s;
    }
    c->data = ic__malloc((size_t)(h * w * oc));
    if (!c->data) {
        s = ic__errctx(IC_ERR_NOMEM, "%s: decoding a %lld x %lld JPEG", name, (long long)h,
                       (long long)w);
        cleanup(c);
        return s;
    }
    /* Rows that need a conversion go through a scratch row owned by libjpeg's pool (freed by
     * jpeg_destroy_decompress, also after a longjmp). CMYK -> L goes CMYK -> RGB -> L as
     * Pillow's convert does. */
    JSAMPARRAY tmp = NULL;
    if (comps != oc)
        tmp = (*ci->mem->alloc_sarray)((j_common_ptr)ci, JPOOL_IMAGE,
                                       (JDIMENSION)(w * (comps == 4 ? 4 + 3 : comps)), 1);
    int inverted = cmyk && ci->saw_Adobe_marker;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = c->data + (size_t)ci->output_scanline * (size_t)(w * oc);
        JSAMPROW row = tmp ? tmp[0] : dst;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) {
            s = ic_seterr(IC_ERR_FORMAT, "%s: corrupt JPEG: decoder stalled at row %u", name,
                          (unsigned)ci->output_scanline);
            cleanup(c);
            return s;
        }
        if (!tmp)
            continue;
        if (comps == 1) {
            ic__l_row_to_rgb(dst, row, w);
        } else if (comps == 3) {
            ic__rgb_row_to_l(dst, row, w);
        } else if (oc == 3) {
            cmyk_row_to_rgb(dst, row, w, inverted);
        } else {
            uint8_t *rgb = row + 4 * w;
            cmyk_row_to_rgb(rgb, row, w, inverted);
            ic__rgb_row_to_l(dst, rgb, w);
        }
    }
    jpeg_finish_decompress(ci);
    out->h = h;
    out->w = w;
    out->c = oc;
    out->data = c->data;
    c->data = NULL;
    cleanup(c);
    return IC_OK;
}
