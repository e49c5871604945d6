/* history.c - Keras History: one value per epoch for loss, acc, val_loss, val_acc
 * (Keras <= 2.2 names). Metrics not recorded (no accuracy, no validation) read as NULL. */
#include <string.h>

#include "train_impl.h"

enum { H_LOSS, H_ACC, H_VAL_LOSS, H_VAL_ACC, H_N };
static const char *const g_names[H_N] = {"loss", "acc", "val_loss", "val_acc"};

struct ic_history {
    int has[H_N];
    double *v[H_N];
    int n, cap;
};

ic_status ic_history_create(ic_history **out, int has_acc, int has_val)
{
    *out = NULL;
    ic_history *h = ic__calloc(1, sizeof *h);
    if (!h)
        return IC_ERR_NOMEM;
    h->has[H_LOSS] = 1;
    h->has[H_ACC] = has_acc != 0;
    h->has[H_VAL_LOSS] = has_val != 0;
    h->has[H_VAL_ACC] = has_acc && has_val;
    h->cap = 16;
    for (int i = 0; i < H_N; i++)
        if (h->has[i] && !(h->v[i] = ic__calloc((size_t)h->cap, sizeof(double)))) {
            ic_history_free(h);
            return IC_ERR_NOMEM;
        }
    *out = h;
    return IC_OK;
}

void ic_history_free(ic_history *h)
{
    if (!h)
        return;
    for (int i = 0; i < H_N; i++)
        ic__free(h->v[i]);
    ic__free(h);
}

int ic_history_epochs(const ic_history *h)
{
    return h ? h->n : 0;
}

const double *ic_history_metric(const ic_history *h, const char *name)
{
    if (!h || !name)
        return NULL;
    for (int i = 0; i < H_N; i++)
        if (!strcmp(name, g_names[i]))
            return h->has[i] ? h->v[i] : NULL;
    if (!strcmp(name, "accuracy")) /* Keras >= 2.3 spelling */
        return h->has[H_ACC] ? h->v[H_ACC] : NULL;
    if (!strcmp(name, "val_accuracy"))
        return h->has[H_VAL_ACC] ? h->v[H_VAL_ACC] : NULL;
    return NULL;
}

ic_status ic_history_append(ic_history *h, double loss, double acc, double val_loss, double val_acc)
{
    if (!h)
        return ic_seterr(IC_ERR_INVALID, "ic_history_append: history is NULL");
    if (h->n == h->cap) {
        int cap = 2 * h->cap;
        for (int i = 0; i < H_N; i++) {
            if (!h->has[i])
                continue;
            double *nv = ic__realloc(h->v[i], (size_t)cap * sizeof(double));
            if (!nv)
                return IC_ERR_NOMEM; /* arrays grown so far keep their old values */
            h->v[i] = nv;
        }
        h->cap = cap;
    }
    const double vals[H_N] = {loss, acc, val_loss, val_acc};
    for (int i = 0; i < H_N; i++)
        if (h->has[i])
            h->v[i][h->n] = vals[i];
    h->n++;
    return IC_OK;
}
