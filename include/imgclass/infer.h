/* infer.h - running a trained model on image files.
 *
 * A predictor reads images exactly as the model's directory iterator read them in
 * training without augmentation: decode (JPEG DCT scaling down to no less than the
 * target size), resize to the model's input with the interpolation saved in its meta
 * unless already that size, float 0..255, then the saved preprocess_input and rescale
 * (Keras's standardize()), in the saved color mode. So a file classified alone gets the
 * tensor, and the prediction, it gets inside a batch of the iterator. It also turns the
 * model's outputs into classes (one sigmoid unit: the second class when p > 0.5) and
 * evaluates a folder of class folders (loss, accuracy, confusion matrix, ROC AUC).
 *
 * Nothing here prints. Errors name the file (the model, the image or the folder) and the
 * problem: a corrupt or missing image is an error of that image, never a crash.
 */
#ifndef IMGCLASS_INFER_H
#define IMGCLASS_INFER_H

#include <stdint.h>

#include "data.h"
#include "io.h"
#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ic_predictor ic_predictor;

/* Creates a predictor for model m (borrowed: it must outlive the predictor) reading
 * images as meta says (copied; the caller keeps its own). meta->target_h/w 0 means the
 * model's input size; meta->n_classes 0 names the classes class_0, class_1, ... (a model
 * saved by Keras itself records none). Checks that model and meta agree: the input is an
 * image (H, W, 1 or 3) of the meta's size and color mode, the output a vector of class
 * scores, one unit (sigmoid) for 2 classes or one per class. name (the model's file; may
 * be NULL) starts the error messages. */
ic_status ic_predictor_create(ic_predictor **out, ic_model *m, const ic_model_meta *meta,
                              const char *name);
void ic_predictor_free(ic_predictor *p); /* NULL ok */

/* Where ic_predictor_open finds a model, and what stands in for the meta that a model saved
 * by Keras itself does not record (ignored for imgclass model files, which record their
 * own). */
typedef struct ic_model_source {
    const char *path;      /* an imgclass model file, a Keras full-model file (model.save), or
                              with config the weights file (save_weights) */
    const char *config;    /* NULL, or Keras's model_config JSON (model.to_json()) */
    const char *classes;   /* Keras: the class names "a,b,...", in output order; NULL: ... */
    const char *class_dir; /* ... the sorted class subfolders of this folder; NULL: class_0, ... */
    float rescale;         /* Keras: pixel factor (0 = none) */
    ic_preprocess preprocess; /* Keras: preprocess_input mode */
} ic_model_source;

/* Opens src->path as a predictor that owns its model: an imgclass model file with its meta,
 * or (src->config, or a file with a model_config and no imgclass meta) a Keras model whose
 * meta comes from src: the model's input size and color mode, rescale, preprocess and the
 * class names. Errors name the file: not an imgclass model file (IC_ERR_FORMAT, the
 * loader's message), class names that do not match the model's outputs (IC_ERR_INVALID). */
ic_status ic_predictor_open(ic_predictor **out, const ic_model_source *src);
/* The model a predictor runs (ic_predictor_open's own, or the one given to create). */
ic_model *ic_predictor_model(const ic_predictor *p);
/* 1 when ic_predictor_open read a model saved by Keras itself (its meta made up from the
 * source), else 0. */
int ic_predictor_is_keras(const ic_predictor *p);

/* The meta in force: target size filled in, class names (owned by the predictor). */
const ic_model_meta *ic_predictor_meta(const ic_predictor *p);
/* The model's output units (1: one sigmoid unit for 2 classes). */
int64_t ic_predictor_outputs(const ic_predictor *p);
/* Floats of one input image: target_h * target_w * (1 or 3). */
int64_t ic_predictor_image_size(const ic_predictor *p);

/* Reads one image file into out (ic_predictor_image_size floats, H x W x C) as the
 * iterator does. Errors name the file. */
ic_status ic_predictor_load_image(const ic_predictor *p, const char *path, float *out);

/* The class of one output row (ic_predictor_outputs floats) and, in *prob (may be NULL),
 * its probability. */
int ic_predictor_class(const ic_predictor *p, const float *output, double *prob);
/* The probability of class k for one output row (1 - p for the first of 2 classes with
 * one sigmoid unit). */
double ic_predictor_prob(const ic_predictor *p, const float *output, int k);

/* One file's result, handed to the callback of ic_predictor_predict_files. */
typedef struct ic_prediction {
    int64_t index;       /* in paths */
    const char *path;
    const float *output; /* the model's output row; NULL when the file could not be read */
    int class_index;     /* the predicted class (output only) ... */
    double prob;         /* ... and its probability */
    ic_status status;    /* IC_OK, or why the file could not be read ... */
    const char *error;   /* ... in a message that names the file (NULL when IC_OK) */
} ic_prediction;
typedef void (*ic_prediction_fn)(const ic_prediction *r, void *user);

/* Classifies paths[0..n) in forward passes of up to batch_size images, calling fn once per
 * file in order of paths, except that a file that cannot be read (corrupt, missing, not an
 * image) is reported as soon as it is met, before the results of its batch. Such files are
 * skipped; the others are still classified. Returns IC_OK when every file was handed to
 * fn, or the error that stopped the run (out of memory, the model failing). */
ic_status ic_predictor_predict_files(ic_predictor *p, const char *const *paths, int64_t n,
                                     int64_t batch_size, ic_prediction_fn fn, void *user);

/* A directory iterator over dir reading its images as the predictor does: no shuffling,
 * no augmentation, labels in the model's class order (binary for one sigmoid unit, else
 * categorical). dir's class folders must be exactly the model's classes (the error lists
 * the unknown and the missing ones). The caller frees *out. */
ic_status ic_predictor_flow(const ic_predictor *p, const char *dir, int64_t batch_size,
                            ic_dir_iterator **out);

/* What ic_predictor_evaluate measures. */
typedef struct ic_evaluation {
    int n_classes;
    int64_t samples, correct, steps;
    double loss;        /* mean per-sample cross-entropy, as Keras's evaluate (0 for none) */
    double accuracy;    /* correct / samples (0 for none) */
    int64_t *confusion; /* n_classes x n_classes: row = true class, column = predicted */
    int has_auc;        /* one sigmoid output: */
    double roc_auc;     /* ic_roc_auc of the outputs, NaN when undefined ... */
    char auc_why[160];  /* ... and why (one class only, NaN outputs) */
} ic_evaluation;

/* Runs steps batches of it (an iterator from ic_predictor_flow; one pass over it is
 * ceil(samples / batch size) steps) through the model. progress (may be NULL) is called
 * after each batch. *out is filled in; free it with ic_evaluation_free (also after an
 * error). */
ic_status ic_predictor_evaluate(ic_predictor *p, ic_dir_iterator *it, int64_t steps,
                                ic_progress_fn progress, void *user, ic_evaluation *out);
/* Precision and recall of class k (0 where undefined) and its number of images. */
void ic_evaluation_class(const ic_evaluation *e, int k, double *precision, double *recall,
                         int64_t *support);
void ic_evaluation_free(ic_evaluation *e);

#ifdef __cplusplus
}
#endif
#endif
