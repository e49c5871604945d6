/* metrics.c - threshold-free metrics of a binary classifier's scores.
 *
 * ROC AUC (ic_roc_auc): the Mann-Whitney statistic, exact, with ties counting one half
 * (scikit-learn's roc_auc_score; Keras's AUC metric approximates the same area with 200
 * thresholds). Accuracy reads a model at one threshold (p > 0.5); AUC reads its ranking.
 * When a fine-tuned model's accuracy drops while its AUC does not, the decision threshold
 * moved, not the features (docs/results.md): that is why `imgclass evaluate` prints it.
 */
#include <math.h>
#include <stdlib.h>

#include "train_impl.h"

typedef struct scored {
    float s;
    int pos;
} scored;

static int by_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

ic_status ic_roc_auc(const float *score, const float *label, int64_t n, double *auc)
{
    if (!auc || n < 0 || (n > 0 && (!score || !label)))
        return ic_seterr(IC_ERR_INVALID, "ic_roc_auc: NULL argument or negative count");
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            return ic_seterr(IC_ERR_NUMERIC, "ROC AUC: score %lld is NaN", (long long)i);
        if (label[i] != 0.0f && label[i] != 1.0f)
            return ic_seterr(IC_ERR_INVALID, "ROC AUC: label %lld is %g, not 0 or 1",
                             (long long)i, (double)label[i]);
        npos += label[i] == 1.0f;
    }
    int64_t nneg = n - npos;
    if (npos == 0 || nneg == 0)
        return ic_seterr(IC_ERR_INVALID,
                         "ROC AUC needs samples of both classes, got %lld positive and %lld "
                         "negative",
                         (long long)npos, (long long)nneg);
    scored *v = ic__malloc(sizeof *v * (size_t)n);
    if (!v)
        return IC_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        v[i] = (scored){score[i], label[i] == 1.0f};
    qsort(v, (size_t)n, sizeof *v, by_score);
    /* Sum of the positives' ranks (1-based), a tied run sharing its mean rank. */
    double rank_sum = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, p = 0;
        while (j < n && v[j].s == v[i].s)
            p += v[j++].pos;
        rank_sum += (double)p * ((double)(i + 1) + (double)j) / 2.0;
        i = j;
    }
    ic__free(v);
    *auc = (rank_sum - (double)npos * ((double)npos + 1.0) / 2.0) /
           ((double)npos * (double)nneg);
    return IC_OK;
}
