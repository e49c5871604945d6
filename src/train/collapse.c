/* collapse.c - the collapse watch (train.h): notices a classifier that has stopped telling
 * its inputs apart, so that a run can say so instead of training on for nothing.
 *
 * Two signs, both cheap to read off what a run computes anyway:
 * - every validation image gets the same output (the spread of each output unit over the
 *   pass is below 1e-6, far below any difference a working model shows between images);
 * - validation accuracy sits at the majority-class rate while the training loss stops
 *   moving, for IC_COLLAPSE_EPOCHS epochs in a row (a model that outputs the class prior,
 *   or one class, with tiny differences between images). */
#include <math.h>

#include "train_impl.h"

#define SPREAD_CONSTANT 1e-6 /* output units: probabilities, so an absolute bound */
#define ACC_TOLERANCE 0.01   /* a validation subset's class mix can differ a little */
#define LOSS_FLAT 1e-3       /* relative change of the training loss per epoch */

ic_collapse_watch ic_collapse_watch_init(double majority_rate)
{
    ic_collapse_watch w = {majority_rate, NAN, 0, 0};
    return w;
}

ic_collapse ic_collapse_watch_epoch(ic_collapse_watch *w, double loss, const ic_eval_result *val)
{
    if (!w)
        return IC_COLLAPSE_NONE;
    double prev = w->prev_loss;
    w->prev_loss = loss;
    if (w->reported || !val)
        return IC_COLLAPSE_NONE;
    if (val->samples >= 2 && val->output_spread < SPREAD_CONSTANT) {
        w->reported = 1;
        return IC_COLLAPSE_CONSTANT;
    }
    int flat = isfinite(prev) && isfinite(loss) &&
               fabs(loss - prev) <= LOSS_FLAT * fmax(fabs(prev), 1e-12);
    int at_majority = w->majority_rate > 0 && fabs(val->acc - w->majority_rate) <= ACC_TOLERANCE;
    w->flat_epochs = flat && at_majority ? w->flat_epochs + 1 : 0;
    if (w->flat_epochs >= IC_COLLAPSE_EPOCHS) {
        w->reported = 1;
        return IC_COLLAPSE_MAJORITY;
    }
    return IC_COLLAPSE_NONE;
}

double ic_labels_majority_rate(const ic_tensor *y)
{
    if (!y || ic_tensor_ndim(y) != 2)
        return 0;
    int64_t n = ic_tensor_dim(y, 0), k = ic_tensor_dim(y, 1), best = 0;
    if (n < 1 || k < 1)
        return 0;
    int64_t *count = ic__calloc((size_t)(k > 1 ? k : 2), sizeof *count);
    if (!count)
        return 0;
    const float *d = ic_tensor_cdata(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        if (k == 1)
            c = d[i] > 0.5f;
        else
            for (int64_t u = 1; u < k; u++)
                c = d[i * k + u] > d[i * k + c] ? u : c;
        if (++count[c] > best)
            best = count[c];
    }
    ic__free(count);
    return (double)best / (double)n;
}
