/* val_cache.h - validation without re-running a frozen base every epoch (issue #7): the
 * base's output for each validation image is computed once and stored, and validation
 * then runs only the head (train_head.h) on the stored features; when fine-tuning, the
 * frozen part of the base is run once in the same way. Results are the same,
 * bit for bit, as ic_model_evaluate on the whole model (val_cache.c says why).
 * IC_NO_VAL_CACHE=1 in the environment turns it off (for comparing). */
#ifndef IC_CLI_VAL_CACHE_H
#define IC_CLI_VAL_CACHE_H

#include "imgclass/imgclass.h"

typedef struct tr_vcache tr_vcache;

/* A cache for validating m (compiled with co) on the images of val, or NULL, without a
 * message, where it cannot be used or would not be exact: IC_NO_VAL_CACHE set, m is not a
 * Sequential model whose first layer is a nested base, or what it stores of val's images
 * would take more than 2 GiB. A frozen base's output is stored and validation runs the
 * head only. When the base trains from some layer on (fine-tuning), the activations of
 * the last frozen node before it through which everything flows are stored instead, and
 * validation runs the rest of the model from them (NULL when no such node exists). */
tr_vcache *tr_vcache_create(ic_model *m, const ic_compile_opts *co, ic_dir_iterator *val);
/* The name of the base's layer whose activations are stored; NULL when it is the base's
 * output (the whole base frozen). */
const char *tr_vcache_cut(const tr_vcache *c);
/* What ic_model_evaluate_ex(m, src, steps, r) gives, src being val's source. */
ic_status tr_vcache_evaluate(tr_vcache *c, ic_batch_source *src, int64_t steps,
                             ic_eval_result *r);
void tr_vcache_free(tr_vcache *c); /* NULL ok */

#endif
