/* model_input.h - what the commands that run a saved model share (evaluate, predict,
 * summary, finetune): opening an imgclass model file with its meta, or a Keras model file
 * with the options that stand in for its missing meta, as a library predictor
 * (imgclass/infer.h: it reads images the way the model was trained). Functions print their
 * own one-line error ("imgclass <cmd>: ...") and return an exit status (0 = ok). */
#ifndef IC_CLI_MODEL_INPUT_H
#define IC_CLI_MODEL_INPUT_H

#include <stdint.h>

#include "cli.h"

typedef struct ic_cli_model {
    ic_model *model;            /* owned by pred */
    const ic_model_meta *meta;  /* pred's: class names, input size, preprocessing */
    const char *path;
    int binary;      /* one output unit: sigmoid, predicted class 1 when p > 0.5 */
    int64_t n_out;   /* output units */
    int64_t h, w;    /* target size (the model's input) */
    int c;           /* 1 (grayscale) or 3 */
    int keras;       /* a model saved by Keras itself (meta made up from the options) */
    ic_predictor *pred; /* ic_predictor_open's: reads images and names classes */
} ic_cli_model;

/* Options for models saved by Keras itself, which record no class names, input
 * preprocessing or rescaling: --config MODEL.json (model.to_json(); the model file is
 * then a weights-only file, given with --weights or as the model argument), --classes
 * a,b,... (default class_0 ... class_K-1, or a DIR's sorted class folders), --rescale
 * (1/255, 0.5, none) and --preprocess none|caffe|tf|torch. All zero: none given. */
typedef struct ic_cli_keras_opts {
    const char *config, *weights, *classes;
    double rescale;
    int rescale_given;
    ic_preprocess preprocess;
    int preprocess_given;
} ic_cli_keras_opts;
/* The number of entries ic_cli_keras_table writes (its IC_CLI_END included). */
#define IC_CLI_KERAS_OPTS 6
/* Those options' table (cli.h) into t[IC_CLI_KERAS_OPTS], writing into ko; a command's
 * table includes it (IC_CLI_INCLUDE). */
void ic_cli_keras_table(ic_cli_keras_opts *ko, ic_cli_opt *t);
/* Help lines for those options. */
void ic_cli_keras_help(FILE *fp);
/* Parses "1/255", "0.5" or "none" (0) into a double (an IC_CLI_PARSE parser). Returns 0 or
 * -1. */
int ic_cli_parse_rescale(const char *s, void *dst);
/* Loads an imgclass model file with its meta, or a Keras model: a Keras full-model file, or
 * ko->config + a weights file (ko->weights, else path); ko may be NULL. class_dir (may be
 * NULL): the folder whose sorted class folders name a Keras model's classes (evaluate).
 * Creates out->pred, which checks that meta and model agree, and sets the precision the
 * model runs in (ic_cli_set_precision) unless prec is NULL. Returns 0, or 1 after printing
 * the error (2 for a usage error). */
int ic_cli_model_open_ex(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                         const char *class_dir, const ic_precision *prec, ic_cli_model *out);

/* Closes what ic_cli_model_open_ex opened (also after it failed). */
void ic_cli_model_close(ic_cli_model *cm);

/* Writes s as a JSON string literal (quotes and escapes). */
void ic_cli_json_str(FILE *fp, const char *s);

#endif
