/* train_head.h - the head of a model whose first layer is a nested base (the seed's
 * Sequential(conv_base, flatten, dense, dense)) as a model of its own, fed with the base's
 * output: the layers after the base, rebuilt from the model's config (same classes,
 * options and names), and the weights copied between it and the model by name.
 * `train --cache-features` trains such a head on features extracted once (cmd_train.c);
 * validation with a frozen base runs one on features computed once (val_cache.c). */
#ifndef IC_CLI_TRAIN_HEAD_H
#define IC_CLI_TRAIN_HEAD_H

#include "imgclass/imgclass.h"

typedef struct tr_head {
    ic_model *model; /* the head (owned; not compiled) */
    ic_model *base;  /* the model's nested base (borrowed) */
    ic_model *owner; /* the model (borrowed) */
    int n;           /* the head's weights: weight i is the owner's weight mi[i] */
    int *mi;
} tr_head;

/* Builds the head of m. m must be a Sequential model whose first layer is a nested model,
 * each of whose later layers' weights has a name no other weight of m has; otherwise
 * IC_ERR_UNSUPPORTED (with a message). The head's weights start as the library
 * initialises them: copy m's in with tr_head_sync. */
ic_status tr_head_create(ic_model *m, tr_head *out);
/* Copies the weights from the model to the head (to_model 0) or back (to_model 1). */
ic_status tr_head_sync(tr_head *h, int to_model);
void tr_head_free(tr_head *h);

#endif
