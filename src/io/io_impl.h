/* io_impl.h - private pieces shared by the io/ files (and the CLI's file writers).
 *
 * h5util.c   : small libhdf5 helpers (error silencing, string attributes in both of
 *              Keras's encodings, float32 datasets) that translate HDF5 failures into
 *              ic_status with the file name.
 * keras_h5.c : the save_weights layout, read and written on an open group, so the same
 *              code serves weights files and the model_weights group of model files.
 * model_config_write.c : models -> Keras model_config JSON (the layers' get_config).
 * model_config.c : Keras model_config JSON -> models (the layers' from_config through
 *              src/layers/layer_registry.c); channels_first.c converts channels_first
 *              Keras models on the way.
 * keras_model.c : full-model files saved by Keras itself, or model.to_json() + weights.
 * model_file.c, download.c : public entry points declared in imgclass/io.h.
 */
#ifndef IC_IO_IMPL_H
#define IC_IO_IMPL_H

#include <hdf5.h>
#include <stdio.h>

#include "graph/graph.h"
#include "imgclass/io.h"

/* ---- h5util.c ---- */
/* Turns off libhdf5's automatic error printing (once per process). */
void ic__h5_quiet(void);
/* Reads a string attribute stored as variable- or fixed-length (NULL-padded) string;
 * *out is allocated with ic__malloc. IC_ERR_NOT_FOUND if absent. */
ic_status ic__h5_read_str_attr(hid_t obj, const char *name, const char *file, char **out);
/* Reads a 1-D string-array attribute (layer_names, weight_names) in either encoding,
 * including Keras's split attributes name0, name1, ... and an empty float64 array (= no
 * strings). *out is one ic__malloc block: n pointers followed by the strings. */
ic_status ic__h5_read_str_array_attr(hid_t obj, const char *name, const char *file, char ***out,
                                     int *n);
/* Sets an error "<message>: <libhdf5's own text for the error it just reported>"; call it
 * right after the failing H5 call (any other H5 call clears libhdf5's error stack). */
ic_status ic__h5_seterr(ic_status s, const char *fmt, ...) IC__PRINTF(2, 3);
/* Opens an HDF5 file read-only (close degree STRONG): IC_ERR_NOT_FOUND if missing,
 * IC_ERR_FORMAT if not HDF5 or truncated/damaged, IC_ERR_IO otherwise. */
ic_status ic__h5_open_read(const char *path, hid_t *out);
/* Writes a scalar variable-length string attribute. */
ic_status ic__h5_write_str_attr(hid_t obj, const char *name, const char *value, const char *file);
/* Writes a 1-D fixed-length NULL-padded string array attribute (Keras 2.2.4's encoding;
 * an empty list is written as an empty float64 array, as h5py does). */
ic_status ic__h5_write_str_array_attr(hid_t obj, const char *name, const char *const *v, int n,
                                      const char *file);

/* ---- keras_h5.c ---- */
/* Writes the save_weights layout of m into group g (root attrs layer_names, backend,
 * keras_version; a group per layer). */
ic_status ic__h5_write_weights(hid_t g, const ic_model *m, const char *file);
/* Reads weights from group g into m (all or nothing). */
ic_status ic__h5_read_weights(hid_t g, ic_model *m, const ic_load_weights_opts *o,
                              const char *file);

/* ---- model_config_write.c ---- */
/* Keras model_config JSON ({"class_name": "Sequential"|"Model", "config": ...}); *json is
 * allocated with ic__malloc. */
ic_status ic__model_to_config(const ic_model *m, char **json);

/* ---- model_config.c ---- */
/* Builds a model from model_config JSON: what ic__model_to_config writes, plus the
 * spellings of other Keras versions that model_config.c lists. */
ic_status ic__model_from_config(const char *json, const char *file, ic_model **out);
/* Building a model from a Keras file's model_config (keras_model.c): a channels_first
 * model is converted to our layout; fix lists the Dense layers whose kernel rows must be
 * permuted from (C, H, W) to (H, W, C) order after the weights are loaded. */
typedef struct ic__keras_fix {
    char layer[128];
    int64_t c, h, w;
} ic__keras_fix;
typedef struct ic__keras_build {
    ic__keras_fix *fix;
    int n_fix, cap;
} ic__keras_build;
ic_status ic__model_from_keras_config(const char *json, const char *file, ic__keras_build *kb,
                                      ic_model **out);
void ic__keras_build_free(ic__keras_build *kb);
struct cJSON;
/* One layer from its Keras {"class_name", "config"} pair: the common fields (name,
 * trainable, dtype) here, the class's own through its from_config (layer_registry.c), a
 * nested model through the model builder. */
ic_status ic__layer_from_config(const char *class_name, const struct cJSON *config,
                                ic_layer **out);

/* ---- channels_first.c ----
 * The conversion of one channels_first model (nested models get their own context) while
 * model_config.c builds it; every call does nothing when the model is not converted. */
typedef struct ic__cf_ctx {
    ic__keras_build *kb; /* where the Dense fixes go; NULL: never convert */
    int cf;              /* the model is channels_first and is being converted */
    int64_t (*tag)[3];   /* per node: (C, H, W) when its output is CHW-flattened, else 0s */
    int cap;             /* nodes in tag */
} ic__cf_ctx;
/* What to do once a layer is built (ic__cf_layer's *after). */
enum { IC__CF_NONE = 0, IC__CF_PASS, IC__CF_FLATTEN, IC__CF_DENSE };
/* Starts the conversion when kb is given and some layer of the list is channels_first;
 * cap bounds the node indices of the model. */
ic_status ic__cf_init(ic__cf_ctx *x, ic__keras_build *kb, const struct cJSON *layers, int cap);
void ic__cf_free(ic__cf_ctx *x);
/* (C, H, W) -> (H, W, C) for an image input of a converted model. */
void ic__cf_input(const ic__cf_ctx *x, int nd, int64_t *shape);
/* The converted config (*dup, NULL = use cfg as is; the caller deletes it) of layer name
 * of class cls with input nodes ins[0..k), and what to do once it is built (*after).
 * Errors name the layer when the model cannot be converted. */
ic_status ic__cf_layer(const ic__cf_ctx *x, const ic_model *m, const char *cls, const char *name,
                       const struct cJSON *cfg, const int *ins, int k, struct cJSON **dup,
                       int *after);
/* After node `node` (layer l, first input node in0) was built. */
ic_status ic__cf_after(ic__cf_ctx *x, int after, int node, int in0, const ic_layer *l);
/* The output of a converted model must not depend on the layout. */
ic_status ic__cf_output(const ic__cf_ctx *x, const ic_model *m);

/* ---- weights_registry.c, download.c (pretrained weights) ---- */
/* The cache directory's path from the environment, without creating it. */
ic_status ic__weights_cache_path(char *buf, size_t size);
/* ic_weights_fetch for any file: downloads url into <cache dir>/<file> (a plain file
 * name), verifying md5 (32 hex digits, NULL = none) before the file gets its name. A
 * cached file whose md5 matches (or any cached file when md5 is NULL) is used as is. */
ic_status ic__weights_fetch_file(const char *file, const char *url, const char *md5,
                                 ic_progress_fn progress, void *user, char *path_out,
                                 size_t path_size);
/* md5 of a file as 32 lowercase hex digits (hex holds 33 bytes). */
ic_status ic__md5_file(const char *path, char hex[33]);
/* ---- end of weights block ---- */

#endif
