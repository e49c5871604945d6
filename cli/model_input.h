/* model_input.h - what evaluate and predict share: opening a saved model with its meta,
 * a directory iterator that reads images the way the model was trained (no augmentation,
 * no shuffling, the training class order), and the same per-image pipeline for single
 * files. Functions print their own one-line error ("imgclass <cmd>: ...") and return an
 * exit status (0 = ok). */
#ifndef IC_CLI_MODEL_INPUT_H
#define IC_CLI_MODEL_INPUT_H

#include <stdint.h>

#include "cli.h"

typedef struct ic_cli_model {
    ic_model *model;
    ic_model_meta meta;
    const char *path;
    int binary;      /* one output unit: sigmoid, predicted class 1 when p > 0.5 */
    int64_t n_out;   /* output units */
    int64_t h, w;    /* target size (the model's input) */
    int c;           /* 1 (grayscale) or 3 */
} ic_cli_model;

/* Loads an imgclass model file with its meta and checks that meta and model agree.
 * Returns 0, or 1 after printing the error (missing file, not an imgclass model file,
 * a plain Keras file without meta). Close with ic_cli_model_close (also after failure). */
int ic_cli_model_open(const char *cmd, const char *path, ic_cli_model *out);
void ic_cli_model_close(ic_cli_model *cm);

/* The generator that only preprocesses and rescales, as the model's meta says. */
ic_image_data_generator ic_cli_model_generator(const ic_cli_model *cm);

/* Checks that DIR's class folders are exactly the model's classes, then creates a
 * non-shuffling, non-augmenting iterator over DIR with the model's class list (so label
 * indices match training), target size, color mode and class mode (binary for one
 * sigmoid output, else categorical). Returns 0 or 1 after printing the error. */
int ic_cli_model_flow(const char *cmd, const ic_cli_model *cm, const char *dir,
                      int64_t batch_size, ic_dir_iterator **out);

/* Loads one image file into dst (h*w*c floats) exactly as the iterator does without
 * augmentation: decode (DCT hint = target size), NEAREST resize when the size differs,
 * float, preprocess, rescale. Returns an ic_status; the message (ic_errmsg) names the
 * file. */
ic_status ic_cli_model_image(const ic_cli_model *cm, const char *path, float *dst);

/* Class of one output row p (n_out floats): index and its probability. */
int ic_cli_model_class(const ic_cli_model *cm, const float *p, double *prob);
/* Probability of class k for output row p. */
double ic_cli_model_prob(const ic_cli_model *cm, const float *p, int k);

/* Writes s as a JSON string literal (quotes and escapes). */
void ic_cli_json_str(FILE *fp, const char *s);

#endif
