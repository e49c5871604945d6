/* image.c - decoded images: loading a file (format sniffed from the content), dispatch to
 * the JPEG/PNG decoders, resizing and PNG writing.
 *
 * Resize filters:
 *  - NEAREST is PIL's exactly (Keras's default): per axis, step = in/out in double, x starts at
 *    step/2, each output index takes (int)x and then x += step, accumulated. This is not
 *    floor((i + 0.5) * step) at exact integers; it matches every map in
 *    ../shared/augment/golden_augment.h5 (resize/).
 *  - BILINEAR is Pillow's BILINEAR resample (what Keras's interpolation="bilinear" gets): a
 *    separable triangle filter whose support widens with the downscale factor (antialiased),
 *    horizontal pass first, coefficients in Pillow's 22-bit fixed point, each pass rounded to
 *    8 bits.
 *  - AREA averages the exact source footprint of each output pixel ([i*in/out, (i+1)*in/out)
 *    per axis, partial pixels weighted by their overlap), separable, same fixed point. When
 *    upscaling this degenerates to nearest with blended seams.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>

#include "data_impl.h"
#include "core/core.h"

/* A positive integer from the environment variable, else def; read once (the first
 * caller's value is kept: the store is idempotent, so racing threads agree). */
static int64_t env_limit(const char *var, int64_t def, _Atomic int64_t *cache)
{
    int64_t v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v > 0)
        return v;
    v = def;
    const char *e = getenv(var);
    if (e && *e) {
        char *end;
        errno = 0;
        long long x = strtoll(e, &end, 10);
        if (!*end && !errno && x > 0)
            v = (int64_t)x;
    }
    atomic_store_explicit(cache, v, memory_order_relaxed);
    return v;
}

int64_t ic__max_image_pixels(void)
{
    static _Atomic int64_t cache;
    return env_limit("IMGCLASS_MAX_IMAGE_PIXELS", IC_MAX_IMAGE_PIXELS, &cache);
}

int64_t ic__max_image_file_bytes(void)
{
    static _Atomic int64_t cache;
    return env_limit("IMGCLASS_MAX_IMAGE_FILE_BYTES", IC_MAX_IMAGE_FILE_BYTES, &cache);
}

ic_status ic__image_check_size(const char *name, const char *what, int64_t h, int64_t w)
{
    if (h <= 0 || w <= 0)
        return ic_seterr(IC_ERR_FORMAT, "%s: %s image has an empty size %lld x %lld", name, what,
                         (long long)h, (long long)w);
    if (h > IC_MAX_IMAGE_DIM || w > IC_MAX_IMAGE_DIM)
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "%s: %s image of %lld x %lld pixels is too large (limit %d pixels per "
                         "side)",
                         name, what, (long long)h, (long long)w, IC_MAX_IMAGE_DIM);
    if (h * w > ic__max_image_pixels())
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "%s: %s image of %lld x %lld = %lld pixels is too large (limit %lld "
                         "pixels); set IMGCLASS_MAX_IMAGE_PIXELS to raise it",
                         name, what, (long long)h, (long long)w, (long long)(h * w),
                         (long long)ic__max_image_pixels());
    return IC_OK;
}

/* ---- Loading ---- */

ic_status ic_image_decode(const void *buf, size_t len, const char *name, ic_color_mode mode,
                          int64_t min_h, int64_t min_w, ic_image *out)
{
    if (!name)
        name = "<memory>";
    if (!out || (!buf && len))
        return ic_seterr(IC_ERR_INVALID, "%s: ic_image_decode: NULL buffer or output", name);
    if (mode != IC_COLOR_RGB && mode != IC_COLOR_GRAYSCALE)
        return ic_seterr(IC_ERR_INVALID, "%s: unknown color mode %d", name, (int)mode);
    if (len == 0)
        return ic_seterr(IC_ERR_FORMAT, "%s: empty file, not an image", name);
    const uint8_t *b = buf;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return ic__decode_jpeg(b, len, name, mode, min_h, min_w, out);
    if (len >= 4 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G')
        return ic__decode_png(b, len, name, mode, out);
    return ic_seterr(IC_ERR_FORMAT, "%s: not a JPEG or PNG image", name);
}

ic_status ic_image_load(const char *path, ic_color_mode mode, int64_t min_h, int64_t min_w,
                        ic_image *out)
{
    if (!path || !out)
        return ic_seterr(IC_ERR_INVALID, "ic_image_load: NULL path or output");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ic_seterr(IC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ic_seterr(IC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ic_seterr(IC_ERR_IO, "%s: is a directory, not an image file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ic_seterr(IC_ERR_IO, "%s: not a regular file", path);
    }
    if ((int64_t)st.st_size > ic__max_image_file_bytes()) {
        close(fd);
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "%s: image file of %lld bytes is too large (limit "
                         "%lld bytes); set IMGCLASS_MAX_IMAGE_FILE_BYTES to raise it",
                         path, (long long)st.st_size, (long long)ic__max_image_file_bytes());
    }
    size_t size = (size_t)st.st_size, n = 0;
    if (size == 0) {
        close(fd);
        return ic_seterr(IC_ERR_FORMAT, "%s: empty file, not an image", path);
    }
    uint8_t *buf = ic__malloc(size);
    if (!buf) {
        close(fd);
        return ic__errctx(IC_ERR_NOMEM, "%s: reading the file", path);
    }
    while (n < size) {
        ssize_t r = read(fd, buf + n, size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            ic__free(buf);
            return ic_seterr(IC_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0)
            break; /* the file shrank meanwhile: decode what is there */
        n += (size_t)r;
    }
    close(fd);
    ic_status s = ic_image_decode(buf, n, path, mode, min_h, min_w, out);
    ic__free(buf);
    return s;
}

void ic_image_release(ic_image *img)
{
    if (!img)
        return;
    ic__free(img->data);
    img->data = NULL;
    img->h = img->w = 0;
    img->c = 0;
}

/* ---- Resize ---- */

/* PIL NEAREST source index per output index (see the top of the file). */
static void nearest_map(int64_t in, int64_t out, int64_t *map)
{
    double step = (double)in / (double)out, x = step / 2;
    for (int64_t i = 0; i < out; i++) {
        int64_t s = (int64_t)x;
        map[i] = s < in ? s : in - 1;
        x += step;
    }
}

/* A resampling pass: for each output index, weights k[i*ksize .. + n[i]) over source indices
 * first[i] ... first[i] + n[i] - 1, in fixed point with PREC bits (Pillow's
 * normalize_coeffs_8bpc). */
#define PREC 22
typedef struct coeffs {
    int64_t ksize;
    int64_t *first, *n;
    int32_t *k;
} coeffs;

static void coeffs_free(coeffs *c)
{
    ic__free(c->first);
    ic__free(c->n);
    ic__free(c->k);
    c->first = c->n = NULL;
    c->k = NULL;
}

static double bilinear_filter(double x)
{
    if (x < 0)
        x = -x;
    return x < 1 ? 1 - x : 0;
}

/* Pillow's precompute_coeffs for the bilinear filter (support 1), or exact box coverage for
 * AREA. */
static ic_status coeffs_make(coeffs *c, int64_t in, int64_t out, ic_interpolation interp)
{
    double scale = (double)in / (double)out;
    double fscale = scale < 1 ? 1 : scale;
    double support = interp == IC_INTERP_AREA ? 0.5 * scale : 1.0 * fscale;
    c->ksize = (int64_t)ceil(support) * 2 + 2;
    c->first = ic__malloc((size_t)out * sizeof *c->first);
    c->n = ic__malloc((size_t)out * sizeof *c->n);
    c->k = ic__malloc((size_t)(out * c->ksize) * sizeof *c->k);
    double *pre = ic__malloc((size_t)c->ksize * sizeof *pre);
    if (!c->first || !c->n || !c->k || !pre) {
        coeffs_free(c);
        ic__free(pre);
        return IC_ERR_NOMEM;
    }
    for (int64_t i = 0; i < out; i++) {
        int64_t lo, hi;
        double ww = 0;
        if (interp == IC_INTERP_AREA) {
            double a = (double)i * scale, b = (double)(i + 1) * scale;
            if (b > (double)in)
                b = (double)in;
            lo = (int64_t)floor(a);
            hi = (int64_t)ceil(b);
            if (hi > in)
                hi = in;
            if (hi <= lo)
                hi = lo + 1;
            for (int64_t x = lo; x < hi; x++) {
                double l = a > (double)x ? a : (double)x;
                double r = b < (double)(x + 1) ? b : (double)(x + 1);
                pre[x - lo] = r > l ? r - l : 0;
                ww += pre[x - lo];
            }
        } else {
            double center = ((double)i + 0.5) * scale, ss = 1.0 / fscale;
            lo = (int64_t)(center - support + 0.5);
            if (lo < 0)
                lo = 0;
            hi = (int64_t)(center + support + 0.5);
            if (hi > in)
                hi = in;
            for (int64_t x = lo; x < hi; x++) {
                pre[x - lo] = bilinear_filter(((double)x - center + 0.5) * ss);
                ww += pre[x - lo];
            }
        }
        c->first[i] = lo;
        c->n[i] = hi - lo;
        for (int64_t x = 0; x < hi - lo; x++) {
            double v = ww != 0 ? pre[x] / ww : 0;
            c->k[i * c->ksize + x] =
                (int32_t)(v < 0 ? -0.5 + v * (1 << PREC) : 0.5 + v * (1 << PREC));
        }
    }
    ic__free(pre);
    return IC_OK;
}

static inline uint8_t clip8(int64_t ss)
{
    ss >>= PREC;
    return (uint8_t)(ss < 0 ? 0 : ss > 255 ? 255 : ss);
}

/* src (h, w_in, ch) -> dst (h, w_out, ch) along columns. */
static void pass_h(uint8_t *dst, const uint8_t *src, int64_t h, int64_t w_in, int64_t w_out, int ch,
                   const coeffs *c)
{
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *s = src + y * w_in * ch;
        uint8_t *d = dst + y * w_out * ch;
        for (int64_t x = 0; x < w_out; x++) {
            const int32_t *k = c->k + x * c->ksize;
            const uint8_t *p = s + c->first[x] * ch;
            for (int cc = 0; cc < ch; cc++) {
                int64_t ss = (int64_t)1 << (PREC - 1);
                for (int64_t j = 0; j < c->n[x]; j++)
                    ss += (int64_t)p[j * ch + cc] * k[j];
                d[x * ch + cc] = clip8(ss);
            }
        }
    }
}

/* src (h_in, w, ch) -> dst (h_out, w, ch) along rows. */
static void pass_v(uint8_t *dst, const uint8_t *src, int64_t h_out, int64_t w, int ch,
                   const coeffs *c)
{
    int64_t rowlen = w * ch;
    for (int64_t y = 0; y < h_out; y++) {
        const int32_t *k = c->k + y * c->ksize;
        const uint8_t *s = src + c->first[y] * rowlen;
        uint8_t *d = dst + y * rowlen;
        for (int64_t x = 0; x < rowlen; x++) {
            int64_t ss = (int64_t)1 << (PREC - 1);
            for (int64_t j = 0; j < c->n[y]; j++)
                ss += (int64_t)s[j * rowlen + x] * k[j];
            d[x] = clip8(ss);
        }
    }
}

static ic_status resample(const ic_image *src, int64_t h, int64_t w, ic_interpolation interp,
                          uint8_t *dst)
{
    int ch = src->c;
    coeffs ch_ = {0}, cv = {0};
    uint8_t *tmp = NULL;
    ic_status s = IC_OK;
    int need_h = w != src->w, need_v = h != src->h;
    if ((need_h && (s = coeffs_make(&ch_, src->w, w, interp)) != IC_OK) ||
        (need_v && (s = coeffs_make(&cv, src->h, h, interp)) != IC_OK))
        goto done;
    if (need_h && need_v) {
        tmp = ic__malloc((size_t)(src->h * w * ch));
        if (!tmp) {
            s = IC_ERR_NOMEM;
            goto done;
        }
        pass_h(tmp, src->data, src->h, src->w, w, ch, &ch_);
        pass_v(dst, tmp, h, w, ch, &cv);
    } else if (need_h) {
        pass_h(dst, src->data, src->h, src->w, w, ch, &ch_);
    } else if (need_v) {
        pass_v(dst, src->data, h, w, ch, &cv);
    } else {
        memcpy(dst, src->data, (size_t)(h * w * ch));
    }
done:
    coeffs_free(&ch_);
    coeffs_free(&cv);
    ic__free(tmp);
    return s;
}

ic_status ic_image_resize(const ic_image *src, int64_t h, int64_t w, ic_interpolation interp,
                          ic_image *out)
{
    if (!src || !out || !src->data || src->h <= 0 || src->w <= 0 || (src->c != 1 && src->c != 3))
        return ic_seterr(IC_ERR_INVALID, "ic_image_resize: invalid source image");
    if (out == src)
        return ic_seterr(IC_ERR_INVALID, "ic_image_resize: out must not be the source image");
    if (interp != IC_INTERP_NEAREST && interp != IC_INTERP_BILINEAR && interp != IC_INTERP_AREA)
        return ic_seterr(IC_ERR_INVALID, "ic_image_resize: unknown interpolation %d", (int)interp);
    ic_status s = ic__image_check_size("ic_image_resize", "target", h, w);
    if (s != IC_OK)
        return s == IC_ERR_FORMAT
                   ? ic_seterr(IC_ERR_INVALID, "ic_image_resize: invalid target size %lld x %lld",
                               (long long)h, (long long)w)
                   : s;
    int ch = src->c;
    uint8_t *dst = ic__malloc((size_t)(h * w * ch));
    if (!dst)
        return IC_ERR_NOMEM;
    if (interp == IC_INTERP_NEAREST) {
        int64_t *rows = ic__malloc((size_t)h * sizeof *rows);
        int64_t *cols = ic__malloc((size_t)w * sizeof *cols);
        if (!rows || !cols) {
            ic__free(rows);
            ic__free(cols);
            ic__free(dst);
            return IC_ERR_NOMEM;
        }
        nearest_map(src->h, h, rows);
        nearest_map(src->w, w, cols);
        for (int64_t i = 0; i < h; i++) {
            const uint8_t *srow = src->data + rows[i] * src->w * ch;
            uint8_t *d = dst + i * w * ch;
            if (ch == 3) {
                for (int64_t j = 0; j < w; j++) {
                    const uint8_t *p = srow + cols[j] * 3;
                    d[3 * j] = p[0];
                    d[3 * j + 1] = p[1];
                    d[3 * j + 2] = p[2];
                }
            } else {
                for (int64_t j = 0; j < w; j++)
                    d[j] = srow[cols[j]];
            }
        }
        ic__free(rows);
        ic__free(cols);
    } else {
        s = resample(src, h, w, interp, dst);
        if (s != IC_OK) {
            ic__free(dst);
            return s;
        }
    }
    out->h = h;
    out->w = w;
    out->c = ch;
    out->data = dst;
    return IC_OK;
}

/* ---- PNG writing ---- */

typedef struct png_wctx {
    png_structp png;
    png_infop info;
    FILE *fp;
    png_bytep *rows;
    char msg[256];
} png_wctx;

static void on_werror(png_structp png, png_const_charp msg)
{
    png_wctx *c = png_get_error_ptr(png);
    strncpy(c->msg, msg ? msg : "unknown error", sizeof c->msg - 1);
    c->msg[sizeof c->msg - 1] = '\0';
    png_longjmp(png, 1);
}

static void on_wwarning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static ic_status write_png_file(png_wctx *c, const ic_image *img, const char *tmp)
{
    if (setjmp(png_jmpbuf(c->png)))
        return ic_seterr(IC_ERR_IO, "%s: writing PNG failed: %s", tmp, c->msg);
    png_init_io(c->png, c->fp);
    png_set_IHDR(c->png, c->info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->info);
    png_write_image(c->png, c->rows);
    png_write_end(c->png, c->info);
    return IC_OK;
}

ic_status ic_image_save_png(const ic_image *img, const char *path)
{
    if (!img || !path || !img->data || img->h <= 0 || img->w <= 0 || (img->c != 1 && img->c != 3))
        return ic_seterr(IC_ERR_INVALID, "ic_image_save_png: invalid image or path");
    if (img->h > IC_MAX_IMAGE_DIM || img->w > IC_MAX_IMAGE_DIM)
        return ic_seterr(IC_ERR_INVALID, "%s: image of %lld x %lld is too large to save", path,
                         (long long)img->h, (long long)img->w);
    png_wctx *c = ic__calloc(1, sizeof *c);
    if (c)
        c->rows = ic__malloc((size_t)img->h * sizeof *c->rows);
    if (!c || !c->rows) {
        if (c)
            ic__free(c->rows);
        ic__free(c);
        return IC_ERR_NOMEM;
    }
    for (int64_t y = 0; y < img->h; y++)
        c->rows[y] = img->data + y * img->w * img->c;
    /* the crash-safe writer of io/atomic.c: temp file in the same directory, fsync,
     * rename, fsync of the directory */
    ic__atomic_file af;
    ic_status s = ic__atomic_begin(&af, path, 1);
    if (s != IC_OK)
        goto done;
    c->fp = af.fp; /* owned by af */
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_werror, on_wwarning);
    c->info = c->png ? png_create_info_struct(c->png) : NULL;
    if (!c->png || !c->info) {
        s = ic_seterr(IC_ERR_NOMEM, "%s: out of memory creating the PNG encoder", path);
        goto done;
    }
    s = write_png_file(c, img, path);
    if (s == IC_OK)
        s = ic__atomic_commit(&af);
done:
    if (c->png)
        png_destroy_write_struct(&c->png, c->info ? &c->info : NULL);
    if (s != IC_OK)
        ic__atomic_abort(&af); /* closes the stream and removes the temp file */
    ic__free(c->rows);
    ic__free(c);
    return s;
}
