/* io.h - Keras HDF5 weight files, imgclass model files, pretrained-weights downloads.
 *
 * Weight files use Keras 2's save_weights layout (root attribute layer_names, one group
 * per layer with attribute weight_names, one dataset per weight), so files Keras wrote
 * load here and files written here load in Keras. Every file is written to a temporary
 * file in the same directory, flushed and renamed into place: a crash never leaves a
 * half-written file under the final name.
 */
#ifndef IMGCLASS_IO_H
#define IMGCLASS_IO_H

#include <stdint.h>

#include "model.h"
#include "status.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Keras HDF5 weights ---- */

typedef struct ic_load_weights_opts {
    int by_name;       /* 0: Keras's default, by topological order of layers with weights */
    int skip_mismatch; /* by_name only: skip layers whose count/shapes differ (logged) */
} ic_load_weights_opts;
ic_load_weights_opts ic_load_weights_opts_default(void);

/* Loads weights from a Keras weights file, or from the model_weights group of a full
 * Keras model file. Errors name the file, the layer and both shapes / counts. On error
 * the model's weights are unchanged (all or nothing). */
ic_status ic_model_load_weights(ic_model *m, const char *path, const ic_load_weights_opts *o);
/* Writes model.save_weights(path) (Keras 2.2.4 layout). */
ic_status ic_model_save_weights(const ic_model *m, const char *path);

/* ---- imgclass model files ---- */

typedef enum ic_preprocess {
    IC_PREPROCESS_NONE = 0, /* only the generator's rescale (the book's 1/255) */
    IC_PREPROCESS_CAFFE,    /* RGB->BGR, minus ImageNet means (VGG, ResNet50) */
    IC_PREPROCESS_TF,       /* x / 127.5 - 1 (MobileNetV2) */
    IC_PREPROCESS_TORCH     /* x / 255, minus mean, divided by std per channel */
} ic_preprocess;

/* What a model needs to read images the way it was trained. */
typedef struct ic_model_meta {
    int n_classes;
    char **class_names;       /* n_classes strings */
    int64_t target_h, target_w;
    int grayscale;
    float rescale;            /* 0 = none */
    ic_preprocess preprocess;
    char base_name[64];       /* "vgg16", "mobilenet_v2", "" */
    int interpolation;        /* ic_interpolation (data.h) the model was trained with */
} ic_model_meta;
void ic_model_meta_free(ic_model_meta *meta); /* frees class_names; NULL ok */

/* Saves configuration (Keras model_config JSON), weights, trainable flags, meta and
 * (include_optimizer != 0, compiled model) the optimizer state and compile options. */
ic_status ic_model_save(const ic_model *m, const char *path, const ic_model_meta *meta,
                        int include_optimizer);
/* Loads a model saved by ic_model_save. *meta (may be NULL) receives a new meta the
 * caller frees. If the file holds a compile state the model comes back compiled with
 * its optimizer state, so training resumes exactly. */
ic_status ic_model_load(ic_model **out, const char *path, ic_model_meta *meta);

/* ---- Models saved by Keras itself ---- */

/* Builds the network described by a Keras model_config and loads its weights:
 * - config_json_path NULL: path is a full-model file (model.save / save_model_hdf5) from
 *   Keras 2.0 to 2.3, tf.keras 2.x or Keras 3 (legacy .h5);
 * - else config_json_path holds model.to_json() and path a weights file (save_weights).
 * Weights are matched to layers by name; every layer with weights must find its group.
 * channels_first models are converted to channels_last (input (C,H,W) -> (H,W,C)).
 * Errors name the file, the layer and its class. *out is new, owned by the caller; it
 * is not compiled (Keras files record no imgclass preprocessing or class names). */
ic_status ic_keras_model_load(ic_model **out, const char *path, const char *config_json_path);
/* *is_keras = 1 when path is an HDF5 model file with a model_config but without
 * imgclass's meta (a model saved by Keras itself), else 0. Errors: missing / not HDF5. */
ic_status ic_model_file_is_keras(const char *path, int *is_keras);

/* ---- Pretrained weights (Keras Applications files) ---- */

typedef struct ic_weights_info {
    const char *name;     /* "vgg16_notop", "mobilenet_v2_1.0_224_notop", ... */
    const char *file;     /* Keras's file name */
    const char *url;
    const char *md5;      /* NULL where Keras checks none */
} ic_weights_info;
int ic_weights_count(void);
const ic_weights_info *ic_weights_get(int i);
const ic_weights_info *ic_weights_find(const char *name);
/* $IMGCLASS_HOME or ~/.cache/imgclass (created when missing). */
ic_status ic_weights_cache_dir(char *buf, size_t size);

typedef void (*ic_progress_fn)(int64_t done, int64_t total, void *user);
/* Downloads a known file into the cache (url_override replaces its URL: mirrors, tests),
 * verifying the md5, writing atomically. path_out (may be NULL) receives the cached path.
 * Already cached and verified: no download. */
ic_status ic_weights_fetch(const char *name, const char *url_override, ic_progress_fn progress,
                           void *user, char *path_out, size_t path_size);

#ifdef __cplusplus
}
#endif
#endif
