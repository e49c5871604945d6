/* train_run.h - what `imgclass train` and `imgclass finetune` share: their options, the
 * data (directory iterators from DATA_DIR/train and DATA_DIR/validation), and the training
 * loop with progress, history files, checkpoints, --resume, Ctrl-C, NaN stops,
 * --save-best and --early-stopping.
 *
 * Files next to -o OUT (OUT = MODEL.h5; STEM = OUT without ".h5"):
 *   MODEL.h5             the model (ic_model_save: weights, optimizer state, meta); with
 *                        --save-best the best epoch's model instead
 *   STEM.last.h5         with --save-best only: the latest checkpoint
 *   STEM.history.csv/json  the history, rewritten after every epoch
 *   MODEL.h5.ckpt.json   what --resume needs besides the checkpoint model: the command
 *                        and its arguments, epochs and steps done, the running sums of
 *                        an interrupted epoch, the iterators' batch counters, the history,
 *                        the best value and the early-stopping counter, and the size and
 *                        modification time of the checkpoint model it belongs to.
 * Every file is replaced atomically (temporary file, fsync, rename). The checkpoint is
 * written after every epoch and, on Ctrl-C (SIGINT) or SIGTERM, after the step that was
 * running, so --resume continues exactly (same weights, optimizer state, batches, dropout
 * masks and history as an uninterrupted run with the same seed). */
#ifndef IC_CLI_TRAIN_RUN_H
#define IC_CLI_TRAIN_RUN_H

#include <stdint.h>

#include "aug_flags.h"
#include "cli.h"

typedef enum { TR_TRAIN = 0, TR_FINETUNE } tr_kind;
typedef enum { TR_BEST_NONE = 0, TR_BEST_VAL_ACC, TR_BEST_VAL_LOSS } tr_best;

typedef struct tr_opts {
    tr_kind kind;
    const char *cmd;      /* "train" / "finetune" */
    const char *data_dir; /* DATA_DIR */
    const char *out;      /* -o */
    const char *model_in; /* finetune: MODEL.h5 */
    /* train: the model */
    const char *model;   /* "smallcnn" */
    const char *base;    /* "vgg16", ... */
    double alpha;        /* mobilenet_v2; 0 = 1.0 */
    const char *weights; /* "imagenet", "none" or a file; NULL = imagenet */
    long head;
    ic_pooling pooling; /* the base's (--pooling) */
    int freeze;     /* -1 = default (frozen when pretrained), 0, 1 */
    double dropout; /* smallcnn */
    int cache_features;
    /* finetune */
    const char *unfreeze_from, *base_layer;
    int freeze_bn; /* -1 = default (frozen when the base has BN), 0 = --train-bn, 1 = --freeze-bn */
    /* data */
    int64_t th, tw;
    int size_given;
    ic_preprocess preprocess; /* resolved by tr_resolve_defaults when not given (auto) */
    int preprocess_given;
    ic_preprocess pre_expected; /* what the base's pretrained weights were trained with */
    ic_interpolation interpolation; /* --interpolation (train; finetune: the model's) */
    double rescale; /* 0 = none */
    int rescale_given;
    ic_cli_aug aug;
    long workers;
    /* optimisation */
    ic_optimizer_kind opt;
    double lr;        /* 0 = the default (tr_resolve_defaults sets it) */
    int lr_defaulted; /* lr is tr_default_lr's */
    long epochs, steps, vsteps, batch;
    unsigned long long seed;
    tr_best save_best;
    long patience; /* 0 = no early stopping */
    int resume;
    ic_precision precision; /* --precision; not part of the resume signature: may change */
    /* --resume: the stored arguments (a cJSON tree) the string options above may point
     * into; freed by tr_opts_release */
    void *stored;
} tr_opts;

/* Is p an existing directory? */
int tr_is_dir(const char *p);
void tr_opts_init(tr_opts *o, tr_kind kind);
/* Frees what tr_resume_load left in o (the stored arguments). */
void tr_opts_release(tr_opts *o);
/* Parses argv[start..argc) into o (on top of what o holds). Returns 0, 2 after a usage
 * error (printed), or -1 when --help was printed (exit 0). */
int tr_parse(tr_opts *o, int argc, char **argv, int start);
/* Checks the combination of options (after parsing). Returns 0, 2 (usage, printed) or 1
 * (the folder of -o does not exist). */
int tr_check(const tr_opts *o);

/* Fresh runs, after tr_check: --preprocess auto (train: the base's preprocess_input with
 * pretrained weights, else rescale 1/255; an explicit --rescale alone means none), the
 * rescale that goes with it, and the default learning rate. */
void tr_resolve_defaults(tr_opts *o);
/* Prints what tr_resolve_defaults chose and why, and a note when the preprocessing differs
 * from what the base's weights were trained with. */
void tr_print_defaults(const tr_opts *o, FILE *fp);

/* The help lines of the options both commands take (the "training:" section). */
void tr_help_training(FILE *fp, tr_kind kind);

/* The image generator for training (augmentation, rescale, preprocess) or validation. */
ic_image_data_generator tr_generator(const tr_opts *o, int training);

/* Data: the training and validation iterators (ic_flow_train_val). */
typedef ic_train_val tr_data;
/* Opens DATA_DIR/train and DATA_DIR/validation at h x w with the library's rules
 * (ic_flow_train_val: classes NULL = train/'s sorted folders, validation never augments
 * and reads train's classes), shuffling the training data (seed --seed) if shuffle_train,
 * and prints Keras's "Found ..." lines. Returns 0 or an exit status (message printed). */
int tr_data_open(const tr_opts *o, int64_t h, int64_t w, const char *const *classes, int n_classes,
                 const ic_image_data_generator *gtrain, const ic_image_data_generator *gval,
                 int shuffle_train, tr_data *d);

/* Compile options from the flags for a model with this many classes. */
ic_compile_opts tr_compile_opts(const tr_opts *o, int n_classes);

/* A training job: the model being trained and its batch sources. */
typedef struct tr_job {
    const tr_opts *o;
    int argc;        /* the command line as given (argv[0] = subcommand), for messages and */
    char **argv;     /* the checkpoint record */
    ic_model *model; /* trained (compiled) */
    ic_batch_source train, val;         /* borrowed */
    ic_dir_iterator *train_it, *val_it; /* NULL for in-memory sources */
    int64_t steps, vsteps;
    const ic_model_meta *meta;
    /* How checkpoints save the model (NULL: ic_model_save(model, path, meta, ...)). */
    ic_save_fn save;
    void *save_user;
    int can_resume;       /* 0: no checkpoint record (--cache-features) */
    double majority_rate; /* the largest class's share of the validation data (0: unknown) */
} tr_job;

/* Runs the epochs with the library's engine (ic_fit) from the start, or from the
 * checkpoint record rec (--resume, see tr_resume_load), with the command's callbacks:
 * Keras's progress bar, the collapse warning, the history files, --save-best,
 * --early-stopping and the checkpoint after every epoch and on Ctrl-C / SIGTERM. Returns
 * the exit status: 0, 1 (error), 130 (interrupted by SIGINT) or 143 (SIGTERM). */
int tr_run(tr_job *j, const ic_fit_record *rec);

/* --resume: reads OUT.ckpt.json, checks that it belongs to this command, parses the stored
 * arguments into *o and then argv on top, and checks that nothing that changes the result
 * differs. On success *rec (free with ic_fit_record_free) holds the run's position and
 * names the checkpoint model. Returns 0, or an exit status (printed). A run that already
 * finished: returns 0 with *rec NULL after printing why. */
int tr_resume_load(tr_opts *o, int argc, char **argv, ic_fit_record **rec);
/* Trains the compiled model m on the iterators of d (steps from the flags or one pass),
 * from the start or (rec) from a checkpoint. Returns the exit status. */
int tr_run_on_data(const tr_opts *o, int argc, char **argv, ic_model *m, const ic_model_meta *meta,
                   tr_data *d, const ic_fit_record *rec);
/* Loads an imgclass model file with its meta (finetune's MODEL.h5, the checkpoint of
 * --resume); a meta without class names or input size is an error, with hint in its
 * parentheses. Returns 0 or an exit status (printed); free *m and *meta either way. */
int tr_model_load(const tr_opts *o, const char *path, const char *hint, ic_model **m,
                  ic_model_meta *meta);
/* Takes the input size, rescale, preprocessing and class order from meta into o, opens
 * the data that way and trains the compiled m on it (tr_run_on_data). */
int tr_run_on_meta(tr_opts *o, int argc, char **argv, ic_model *m, const ic_model_meta *meta,
                   const ic_fit_record *rec);

/* The checkpoint record next to -o OUT: OUT.ckpt.json. */
void tr_record_path(const char *out, char *buf, size_t size);

/* A fresh run of one command, after its options were parsed and checked. */
typedef int (*tr_fresh_fn)(tr_opts *o, int argc, char **argv, void *user);
/* The command both share: parses argv (--help: help(), status 0), then continues the run
 * of -o (--resume) or checks the options and calls fresh. Returns the exit status. */
int tr_main(tr_kind kind, int argc, char **argv, void (*help)(void), tr_fresh_fn fresh, void *user);

/* Fresh runs: a note on stderr when OUT.ckpt.json records an earlier run (it is replaced
 * at the first checkpoint, or removed then when the new run cannot be resumed). */
void tr_note_previous_run(const tr_opts *o);

/* Loads pretrained weights into a base: "imagenet" (the cached Keras file for name /
 * alpha / rows; fetched when missing), "none", or a Keras weights file (by layer order).
 * Returns 0 or an exit status (message printed). */
int tr_load_base_weights(const tr_opts *o, ic_model *base, const char *name, double alpha,
                         int64_t rows);

/* "1,234,567" */
const char *tr_commas(int64_t v, char *buf, size_t size);

#endif
