/* engine_impl.h - what the files of src/engine share (private): the run (struct ic_fit),
 * its record, the validation cache and a model's head.
 *
 * engine/ sits above train/ (steps, evaluation, optimizers) and io/ (model files): it is
 * the one training loop, for the library's users and for the command alike. */
#ifndef IC_ENGINE_IMPL_H
#define IC_ENGINE_IMPL_H

#include <cjson/cJSON.h>

#include "graph/graph.h"
#include "imgclass/fit.h"
#include "imgclass/infer.h"

/* A callback's state: a JSON object in the record (numbers written exactly, %.17g; NaN
 * and Inf as strings). */
struct ic_fit_state {
    cJSON *obj; /* borrowed from the record being written or read */
};

typedef struct ic__vcache ic__vcache;

struct ic_fit {
    ic_model *model;
    ic_batch_source *train, *val; /* borrowed */
    ic_fit_opts o;
    int64_t steps, vsteps;
    ic_callback *cbs;
    int n_cbs, cap_cbs;
    /* the position: what a checkpoint record holds */
    int epochs_done;     /* complete epochs */
    int64_t step;        /* steps done in epoch epochs_done + 1 */
    double sl, sa;       /* its running sums: loss * batch, acc * batch */
    int64_t seen;        /* and samples */
    int64_t train_batch; /* batches taken from the training source */
    int64_t val_batch;   /* ... and from the validation source */
    int stop;            /* ic_fit_stop */
    ic_history *hist;
    /* the last checkpoint written or restored */
    int has_ckpt, ckpt_epoch;
    int64_t ckpt_step;
    char ckpt_path[4096];
    /* validation of a frozen nested base (NULL: none) */
    ic__vcache *vc;
    ic_fit_logs logs; /* handed to callbacks */
};

/* Every trainable weight finite? (reads the weights only) */
int ic__fit_weights_finite(const ic_model *m, int trainable_only);

/* ---- the record (record.c) ---- */
/* A number written exactly (%.17g), NaN and Inf as strings. */
void ic__json_add_exact(cJSON *o, const char *key, double v);
/* Reads what ic__json_add_exact wrote; def when absent. */
double ic__json_exact(const cJSON *o, const char *key, double def);

/* ---- the validation cache (val_cache.c) ---- */
/* NULL when m is not a Sequential(base, ...) whose base is frozen up to some node, or when
 * turned off (IC_NO_VAL_CACHE); errors are cleared. */
ic__vcache *ic__vcache_create(ic_model *m);
/* Validation after epoch `epoch` (ic__evaluate(m, src, steps, r, "validation", epoch)),
 * with the frozen part computed once per image. */
ic_status ic__vcache_evaluate(ic__vcache *c, ic_batch_source *src, int64_t steps,
                              ic_eval_result *r, int epoch);
/* The base layer whose activations are stored; NULL: the base's output. */
const char *ic__vcache_cut(const ic__vcache *c);
void ic__vcache_free(ic__vcache *c);

/* Makes p own its model (freed with p); keras: the model was saved by Keras itself
 * (ic_predictor_is_keras). For ic_predictor_open, which builds on ic_predictor_create. */
void ic__predictor_adopt(ic_predictor *p, int keras);

#endif
