/* data_impl.h - private declarations shared by the files of src/data/ (decoders, resize,
 * augmentation, directory iterator). Nothing here is public; libjpeg/libpng types stay
 * inside their decoder files.
 *
 * Sections: limits against hostile files; decoding (image.c, decode_jpeg.c, decode_png.c);
 * colour conversion rules shared by the decoders. Other parts of the pipeline add their own
 * sections below. */
#ifndef IC_DATA_IMPL_H
#define IC_DATA_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "imgclass/data.h"

/* ---- Limits (checked from the header, before any pixel buffer is allocated) ---- */

/* Largest width or height accepted (JPEG's own format limit is 65535; libjpeg-turbo stops
 * at 65500). */
#define IC_MAX_IMAGE_DIM 65535
/* Largest decoded image in pixels, after JPEG DCT scaling (2^28 = 16384 x 16384; 768 MiB as
 * RGB). A 10000 x 10000 JPEG decoded for a 150 x 150 target is scaled by 1/8 first and needs
 * only 1250 x 1250. */
#define IC_MAX_IMAGE_PIXELS ((int64_t)1 << 28)
/* Largest image file read into memory by ic_image_load. */
#define IC_MAX_IMAGE_FILE_BYTES ((int64_t)1 << 30)
/* Cap on libjpeg's internal working memory (progressive JPEGs keep the whole coefficient
 * image, about 2 bytes per pixel per component at full size, whatever the DCT scaling). */
#define IC_MAX_JPEG_WORK_BYTES ((long)1 << 30)

/* The limits in force: IC_MAX_IMAGE_PIXELS and IC_MAX_IMAGE_FILE_BYTES unless the
 * environment variables IMGCLASS_MAX_IMAGE_PIXELS / IMGCLASS_MAX_IMAGE_FILE_BYTES hold a
 * positive integer (read on first use; docs/security.md). Width and height stay capped at
 * IC_MAX_IMAGE_DIM whatever the environment says. */
int64_t ic__max_image_pixels(void);
int64_t ic__max_image_file_bytes(void);

/* Checks a decoded size against the limits; name is the file. Returns IC_OK or
 * IC_ERR_UNSUPPORTED with a message naming the file, the size and the limit. what is
 * "JPEG" or "PNG". */
ic_status ic__image_check_size(const char *name, const char *what, int64_t h, int64_t w);

/* ---- Decoding ---- */

/* Both decoders: buf/len is the whole file, name is used in messages. On success *out holds a
 * new image (c = 1 for IC_COLOR_GRAYSCALE, 3 for IC_COLOR_RGB, data from ic__malloc); on
 * failure *out is untouched and the message names the file. */
ic_status ic__decode_jpeg(const uint8_t *buf, size_t len, const char *name, ic_color_mode mode,
                          int64_t min_h, int64_t min_w, ic_image *out);
ic_status ic__decode_png(const uint8_t *buf, size_t len, const char *name, ic_color_mode mode,
                         ic_image *out);

/* ---- Colour rules shared by the decoders (Pillow's, so grayscale matches Keras) ---- */

/* Pillow's RGB -> "L" (ImagingConvert rgb2l): ITU-R 601-2 luma in 16-bit fixed point,
 * (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. */
static inline uint8_t ic__rgb_to_l(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* Converts n packed RGB pixels to L with ic__rgb_to_l (dst may equal src: it is written
 * strictly behind the read position). */
static inline void ic__rgb_row_to_l(uint8_t *dst, const uint8_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = ic__rgb_to_l(src[3 * i], src[3 * i + 1], src[3 * i + 2]);
}

/* Replicates n gray pixels into RGB (dst must not overlap src). */
static inline void ic__l_row_to_rgb(uint8_t *dst, const uint8_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
}

/* ==== Directory iterator (dir_scan.c, dir_iterator.c, loader.c) ==== */

/* The result of scanning a flow_from_directory folder: samples in Keras's order (class 0's
 * files, then class 1's, ...); class c's samples are [class_start[c], class_start[c+1]). */
typedef struct ic__scan {
    char **class_names;
    int n_classes;
    char **paths;
    int *labels;
    int64_t n;
    int64_t *class_start; /* n_classes + 1 offsets */
    int64_t skipped;      /* files excluded at scan time (empty, not JPEG/PNG, .bmp, ...) */
} ic__scan;
/* Scans dir (classes: explicit list of n_classes names, or NULL/0 for the sorted
 * subfolders). On failure *out is empty (but out->skipped is kept). */
ic_status ic__dir_scan(const char *dir, const char *const *classes, int n_classes,
                       int follow_links, ic__scan *out);
void ic__scan_free(ic__scan *s);
/* "a/b" (no doubled '/'), from ic__malloc; NULL when out of memory. */
char *ic__path_join(const char *a, const char *b);

/* An ordered prefetch ring: worker threads produce batches 0, 1, 2, ... by calling fill(ctx,
 * batch, slot, worker) with slot = batch % slots; at most `slots` batches exist at once (the
 * one the consumer holds included). fill returns IC_OK or an error (message via ic_seterr on
 * the worker thread). */
typedef ic_status (*ic__loader_fill_fn)(void *ctx, int64_t batch, int slot, int worker);
typedef struct ic__loader ic__loader;
/* threads = 0: no workers; ic__loader_next fills each batch on the caller's thread
 * (worker 0), with the same batches in the same order. */
ic_status ic__loader_create(ic__loader **out, int threads, int slots, ic__loader_fill_fn fill,
                            void *ctx);
/* Releases the slot returned by the previous call, waits for the next batch in order and
 * returns its slot. A failed batch's error is returned here (and by every later call). */
ic_status ic__loader_next(ic__loader *l, int *slot);
/* Non-zero once ic__loader_free has begun: fill functions may return early (the batch is
 * then never handed out). */
int ic__loader_stopping(const ic__loader *l);
/* Stops and joins the workers (an unfinished batch is abandoned). NULL is accepted. */
void ic__loader_free(ic__loader *l);
/* ==== end of directory iterator ==== */

#endif
