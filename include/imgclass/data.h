/* data.h - the data pipeline: image decoding and resizing, Keras-style augmentation
 * (image_data_generator) and the directory iterator (flow_images_from_directory) that
 * feeds ic_model_fit through an ic_batch_source.
 *
 * Semantics follow keras-preprocessing 1.0.x-1.1.2 (R keras on TF <= 2.8); see
 * docs/keras-compat.md. Images are channels-last (H, W, C), RGB or grayscale.
 */
#ifndef IMGCLASS_DATA_H
#define IMGCLASS_DATA_H

#include <stdint.h>

#include "io.h"
#include "status.h"
#include "tensor.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Decoded images ---- */

/* An 8-bit image, row-major H x W x C (C = 1 or 3). data is owned by the image and
 * released with ic_image_release. */
typedef struct ic_image {
    int64_t h, w;
    int c;
    uint8_t *data;
} ic_image;

typedef enum ic_color_mode { IC_COLOR_RGB = 0, IC_COLOR_GRAYSCALE } ic_color_mode;

typedef enum ic_interpolation {
    IC_INTERP_NEAREST = 0, /* PIL NEAREST, Keras's default: bit-exact source maps */
    IC_INTERP_BILINEAR,
    IC_INTERP_AREA /* box average, for strong downscaling */
} ic_interpolation;

/* Decodes a JPEG or PNG file (detected by content, not extension) into *out, converted to
 * the color mode (alpha dropped; palette, 16-bit, CMYK/YCCK handled). When min_h/min_w are
 * > 0 and the JPEG is at least twice that size, libjpeg-turbo's DCT scaling decodes a
 * smaller image that is still >= min_h x min_w. Errors name the file and the reason;
 * *out is untouched on failure. */
ic_status ic_image_load(const char *path, ic_color_mode mode, int64_t min_h, int64_t min_w,
                        ic_image *out);
/* Same from a memory buffer; name is used in error messages. */
ic_status ic_image_decode(const void *buf, size_t len, const char *name, ic_color_mode mode,
                          int64_t min_h, int64_t min_w, ic_image *out);
void ic_image_release(ic_image *img);
/* Resizes to h x w with the given interpolation into a new image. */
ic_status ic_image_resize(const ic_image *src, int64_t h, int64_t w, ic_interpolation interp,
                          ic_image *out);
/* Writes an 8-bit image as PNG (atomically: temp file + rename). */
ic_status ic_image_save_png(const ic_image *img, const char *path);

/* ---- Augmentation (Keras ImageDataGenerator) ---- */

typedef enum ic_fill_mode {
    IC_FILL_NEAREST = 0,
    IC_FILL_CONSTANT,
    IC_FILL_REFLECT,
    IC_FILL_WRAP
} ic_fill_mode;

typedef struct ic_image_data_generator {
    float rescale;            /* 0 = none; applied after the transform, as Keras */
    float rotation_range;     /* degrees */
    float width_shift_range;  /* < 1: fraction of the width; >= 1: pixels */
    float height_shift_range; /* < 1: fraction of the height; >= 1: pixels */
    float shear_range;        /* degrees (Keras >= 2.1.3) */
    float zoom_lo, zoom_hi;   /* zoom_range z gives [1-z, 1+z]; 1,1 = none */
    int horizontal_flip;
    int vertical_flip;
    ic_fill_mode fill_mode;   /* default nearest */
    float cval;               /* in 0..255 units */
    /* Keras preprocessing_function: an application's preprocess_input, applied after
     * the transform and before rescale (IC_PREPROCESS_NONE = none). */
    ic_preprocess preprocess;
} ic_image_data_generator;

/* No augmentation, no rescale (Keras's defaults). */
ic_image_data_generator ic_image_data_generator_default(void);
/* The book's training generator: rescale 1/255, rotation 40, shifts 0.2, shear 0.2,
 * zoom 0.2, horizontal flip, fill nearest. */
ic_image_data_generator ic_image_data_generator_book(void);
ic_status ic_fill_mode_parse(const char *name, ic_fill_mode *out);

/* One draw of Keras's get_random_transform. theta and shear in degrees; tx (rows) and
 * ty (columns) in pixels. */
typedef struct ic_transform {
    double theta, tx, ty, shear, zx, zy;
    int flip_horizontal, flip_vertical;
} ic_transform;

/* numpy-compatible random stream (MT19937 with numpy's seeding and 53-bit doubles), so
 * seeds give the draws np.random.seed(seed) gives in Keras. */
typedef struct ic_np_random {
    uint32_t mt[624];
    int mti;
} ic_np_random;
void ic_np_random_seed(ic_np_random *r, uint32_t seed);
double ic_np_random_sample(ic_np_random *r);   /* [0, 1) as np.random.random_sample */
uint32_t ic_np_random_u32(ic_np_random *r);
/* np.random.permutation(n) into perm. */
void ic_np_random_permutation(ic_np_random *r, int64_t n, int64_t *perm);

/* Draws a transform in Keras's order (theta, tx, ty, shear, zoom pair, flips). */
void ic_augment_random_transform(const ic_image_data_generator *g, int64_t h, int64_t w,
                                 ic_np_random *r, ic_transform *t);
/* The 3x3 output->input matrix M = C R T Sh Z C^-1 for an h x w image (row, col
 * coordinates; Keras's centre h/2+0.5, w/2+0.5). Identity factors are skipped. */
void ic_augment_matrix(const ic_transform *t, int64_t h, int64_t w, double m[3][3]);
/* Applies t (warp with bilinear sampling and fill mode, then flips) and rescale to a
 * float image src (h, w, c) in 0..255 units, writing dst (may not alias src). */
ic_status ic_augment_apply(const ic_image_data_generator *g, const ic_transform *t,
                           const float *src, int64_t h, int64_t w, int c, float *dst);

/* The image files (.jpg, .jpeg, .png, any case) under dir, recursively, sorted by byte
 * order: links to files are followed, links to folders are not, hidden entries skipped.
 * *paths (dir joined with the relative path) and its strings are new: free them with
 * ic_image_files_free. A folder that cannot be read is an error naming it; none found is
 * not an error (*n = 0). */
ic_status ic_image_files(const char *dir, char ***paths, int64_t *n);
void ic_image_files_free(char **paths, int64_t n); /* NULL ok */

/* A preview of augmentation: draws count transforms of img (0..255 pixels) from the numpy
 * stream seeded as np.random.seed(seed) and tiles the results, columns per row, with
 * gutter white pixels between them (a white background where the last row is short).
 * g->rescale applies to the pixels, so a preview usually sets it to 0. *grid is new
 * (ic_image_release). count and columns 1..1000, gutter 0..100. */
ic_status ic_augment_grid(const ic_image *img, const ic_image_data_generator *g, uint32_t seed,
                          int count, int columns, int gutter, ic_image *grid);

/* ---- Directory iterator (flow_images_from_directory) ---- */

typedef enum ic_class_mode {
    IC_CLASS_CATEGORICAL = 0, /* one-hot (B, K) */
    IC_CLASS_BINARY,          /* (B, 1) 0/1, exactly 2 classes */
    IC_CLASS_SPARSE,          /* (B, 1) class index */
    IC_CLASS_NONE             /* no labels: y is NULL */
} ic_class_mode;

typedef struct ic_flow_opts {
    int64_t target_h, target_w; /* default 256 x 256 as Keras */
    ic_color_mode color_mode;
    ic_class_mode class_mode;   /* default categorical as Keras */
    int64_t batch_size;         /* default 32 */
    int shuffle;                /* default 1 */
    uint64_t seed;              /* used when has_seed */
    int has_seed;
    ic_interpolation interpolation;
    const char *const *classes; /* optional explicit class list (else sorted subfolders) */
    int n_classes;
    int follow_links;
    int threads;                /* decode workers; 0 = ic_num_threads(); IC_FLOW_INLINE: none */
    int prefetch;               /* batches decoded ahead; 0 = 2 * threads */
} ic_flow_opts;
ic_flow_opts ic_flow_opts_default(void);
/* ic_flow_opts.threads: no worker threads; each next() decodes and augments its batch on
 * the calling thread, spreading the batch's images over ic_num_threads() OpenMP threads. The
 * batches are the same. For callers that want no threads of the iterator's own; training on
 * 2 cores measured about as fast as with one worker thread, a little slower
 * (docs/performance.md). */
#define IC_FLOW_INLINE (-1)

typedef struct ic_dir_iterator ic_dir_iterator;

/* Scans dir (one subfolder per class) and prepares batches. gen NULL = no augmentation
 * and no rescale. Prints nothing; ic_dir_iterator_found() gives Keras's "Found N images
 * belonging to K classes." Unreadable files are excluded at scan time and reported
 * through the log callback once each. Caller frees. */
ic_status ic_flow_from_directory(ic_dir_iterator **out, const char *dir,
                                 const ic_image_data_generator *gen, const ic_flow_opts *o);
void ic_dir_iterator_free(ic_dir_iterator *it);
/* A batch source over the iterator (borrowed: valid while the iterator lives). */
ic_batch_source ic_dir_iterator_source(ic_dir_iterator *it);
int64_t ic_dir_iterator_samples(const ic_dir_iterator *it);
int ic_dir_iterator_num_classes(const ic_dir_iterator *it);
const char *ic_dir_iterator_class_name(const ic_dir_iterator *it, int i);
/* Class index of sample i in scan order (class 0's files, then class 1's, ...). */
int ic_dir_iterator_label(const ic_dir_iterator *it, int64_t i);
const char *ic_dir_iterator_path(const ic_dir_iterator *it, int64_t i);
/* The share of the most frequent class among the iterator's samples (0 for none): what a
 * classifier that always answers that class scores (ic_collapse_watch_init). */
double ic_dir_iterator_majority_rate(const ic_dir_iterator *it);
/* "Found 2000 images belonging to 2 classes." into buf. */
const char *ic_dir_iterator_found(const ic_dir_iterator *it, char *buf, size_t size);
/* Moves the stream so that the next batch handed out is batch number `batch` (counted
 * from 0 over all passes, as Keras's total_batches_seen): the prefetching workers are
 * stopped, prefetched batches dropped and the workers restarted at that batch. Batches
 * depend only on their number (and the random seed), so after a seek to k the stream is exactly
 * the one an iterator that has handed out k batches continues with: this is how a stopped
 * training run resumes. Invalidates the tensors of the last batch handed out. */
ic_status ic_dir_iterator_seek(ic_dir_iterator *it, int64_t batch);
/* Files skipped at scan time, and samples replaced at decode time since the last call
 * (the epoch summary reads and resets this). */
int64_t ic_dir_iterator_skipped(const ic_dir_iterator *it);
int64_t ic_dir_iterator_take_replaced(ic_dir_iterator *it);

/* The book's layout: dir/train and dir/validation, each with one folder per class. */
typedef struct ic_train_val {
    ic_dir_iterator *train, *val;
    int n_classes;
} ic_train_val;
/* Opens the training and validation iterators of dir with o's target size, batch size, seed,
 * interpolation and classes (NULL: train/'s sorted class folders; validation then takes
 * train's classes in train's order). o->shuffle applies to training; validation always
 * shuffles, as the book's flow_images_from_directory does, so that validation steps
 * shorter than a pass still see every class. o->threads 0 = half of ic_num_threads(), at
 * least 1 (the workers share the cores with the training step). Labels: 0/1 (B, 1) for two
 * classes, one-hot for more; o->class_mode is not used. gval should not augment. Errors:
 * missing folders, fewer than 2 classes, folders without images; *out is then empty.
 * Free with ic_train_val_free. */
ic_status ic_flow_train_val(ic_train_val *out, const char *dir,
                            const ic_image_data_generator *gtrain,
                            const ic_image_data_generator *gval, const ic_flow_opts *o);
void ic_train_val_free(ic_train_val *d); /* NULL ok; leaves *d empty */

#ifdef __cplusplus
}
#endif
#endif
