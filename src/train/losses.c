/* losses.c - Keras 2.2.4 losses and the "acc" metric, in double, with dL/dp as float.
 *
 * binary_crossentropy: p clipped to [eps, 1-eps] (float32 bounds, as TF clips a float32
 *   tensor), -[y log p + (1-y) log(1-p)], batch mean; dL/dp is 0 where p was clipped
 *   (TF's clip_by_value gradient). Wrong certain predictions cost -log(1e-7) = 16.118
 *   (p = 0, y = 1) and -log(1 - float(1 - 1e-7)) = 15.942 (p = 1, y = 0).
 * categorical_crossentropy: q = p / sum(p), clipped, -sum y log q, batch mean; the
 *   gradient flows through the normalisation.
 * sparse_categorical_crossentropy (Keras's TF backend): pc = clip(p), then softmax
 *   cross-entropy on log(pc): -log(pc_t / sum(pc)), labels are class indices in y.
 * p is (B, K) row-major; y is (B, K) one-hot for categorical, (B, 1) or (B) otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train_impl.h"

const char *ic__loss_name(ic_loss loss)
{
    switch (loss) {
    case IC_LOSS_BINARY_CROSSENTROPY: return "binary_crossentropy";
    case IC_LOSS_CATEGORICAL_CROSSENTROPY: return "categorical_crossentropy";
    case IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY: return "sparse_categorical_crossentropy";
    }
    return "?";
}

ic_status ic__loss_check_output(ic_loss loss, const ic__shape *out)
{
    char b[80];
    const char *name = ic__loss_name(loss);
    if (!strcmp(name, "?"))
        return ic_seterr(IC_ERR_INVALID, "unknown loss %d", (int)loss);
    if (out->ndim != 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "%s needs a model output of shape (None, units), the model outputs %s "
                         "(add Flatten or global pooling before the last Dense)",
                         name, ic__shape_fmt(out, b, sizeof b));
    if (loss == IC_LOSS_BINARY_CROSSENTROPY && out->d[0] != 1)
        return ic_seterr(IC_ERR_SHAPE,
                         "binary_crossentropy needs a model output of shape (None, 1) (one "
                         "sigmoid unit), the model outputs %s; use categorical_crossentropy "
                         "with a softmax output for more than 2 classes",
                         ic__shape_fmt(out, b, sizeof b));
    if (loss != IC_LOSS_BINARY_CROSSENTROPY && out->d[0] < 2)
        return ic_seterr(IC_ERR_SHAPE,
                         "%s needs a model output with at least 2 classes (softmax), the model "
                         "outputs %s (the loss would always be 0); use binary_crossentropy "
                         "with one sigmoid unit",
                         name, ic__shape_fmt(out, b, sizeof b));
    return IC_OK;
}

ic_status ic__loss_check_labels(ic_loss loss, const ic_tensor *p, const ic_tensor *y)
{
    char bp[80], by[80];
    const char *name = ic__loss_name(loss);
    if (!strcmp(name, "?"))
        return ic_seterr(IC_ERR_INVALID, "unknown loss %d", (int)loss);
    int64_t B = p->shape[0];
    int64_t K = p->ndim >= 2 ? ic_tensor_numel(p) / B : 1;
    ic_tensor_shape_str(p, bp, sizeof bp);
    ic_tensor_shape_str(y, by, sizeof by);
    if (p->ndim > 2)
        return ic_seterr(IC_ERR_SHAPE, "%s needs a model output (batch, units), got %s", name, bp);
    if (y->shape[0] != B)
        return ic_seterr(IC_ERR_SHAPE,
                         "%s: labels y %s have a different batch size than the model output %s",
                         name, by, bp);
    int64_t ky = ic_tensor_numel(y) / B;
    switch (loss) {
    case IC_LOSS_BINARY_CROSSENTROPY:
        if (K != 1)
            return ic_seterr(IC_ERR_SHAPE,
                             "binary_crossentropy needs a model output (batch, 1), got %s; use "
                             "categorical_crossentropy with a softmax output for more classes",
                             bp);
        if (y->ndim > 2 || ky != 1)
            return ic_seterr(IC_ERR_SHAPE,
                             "binary_crossentropy needs labels y (batch, 1) of 0/1, got %s for "
                             "model output %s",
                             by, bp);
        break;
    case IC_LOSS_CATEGORICAL_CROSSENTROPY:
        if (y->ndim != 2 || ky != K)
            return ic_seterr(IC_ERR_SHAPE,
                             "categorical_crossentropy needs one-hot labels y (batch, %lld) "
                             "matching the model output %s, got %s (class indices need "
                             "sparse_categorical_crossentropy)",
                             (long long)K, bp, by);
        break;
    case IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        if (y->ndim > 2 || ky != 1)
            return ic_seterr(IC_ERR_SHAPE,
                             "sparse_categorical_crossentropy needs class indices y (batch, 1), "
                             "got %s for model output %s (one-hot labels need "
                             "categorical_crossentropy)",
                             by, bp);
        for (int64_t b = 0; b < B; b++) {
            float t = y->data[b];
            if (!(t >= 0 && t < (float)K && t == floorf(t)))
                return ic_seterr(IC_ERR_INVALID,
                                 "sparse_categorical_crossentropy: label %g of sample %lld is "
                                 "not a class index in 0..%lld",
                                 (double)t, (long long)b, (long long)(K - 1));
        }
        break;
    }
    return IC_OK;
}

static ic_status numeric_error(const char *what, const char *cause, const char *where)
{
    return ic_seterr(IC_ERR_NUMERIC,
                     "loss is %s%s%s (%s; learning rate too high? inputs not normalised?)", what,
                     where ? " at " : "", where ? where : "", cause);
}

/* Scans the output for NaN / Inf. */
static ic_status check_output_finite(const float *p, int64_t n, const char *where)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) {
            char cause[96];
            snprintf(cause, sizeof cause, "the model output contains %s",
                     isnan(p[i]) ? "NaN" : "Inf");
            return numeric_error(isnan(p[i]) ? "NaN" : "Inf", cause, where);
        }
    return IC_OK;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

ic_status ic__loss_compute(ic_loss loss, const ic_tensor *p, const ic_tensor *y, double *value,
                           float *grad, const char *where)
{
    ic_status s = ic__loss_check_labels(loss, p, y);
    if (s)
        return s;
    const int64_t B = p->shape[0], K = ic_tensor_numel(p) / B;
    const float *P = p->data, *Y = y->data;
    if ((s = check_output_finite(P, B * K, where)))
        return s;
    /* Clip bounds as float32 values (TF clips float32 tensors). */
    const float lo_f = IC__KERAS_EPSILON, hi_f = 1.0f - IC__KERAS_EPSILON;
    const double lo = lo_f, hi = hi_f, invB = 1.0 / (double)B;
    double total = 0;
    switch (loss) {
    case IC_LOSS_BINARY_CROSSENTROPY:
        for (int64_t b = 0; b < B; b++) {
            double pv = P[b], yv = Y[b], pc = clampd(pv, lo, hi);
            total += -(yv * log(pc) + (1.0 - yv) * log(1.0 - pc));
            if (grad)
                grad[b] = (pv < lo || pv > hi)
                              ? 0.0f
                              : (float)((-yv / pc + (1.0 - yv) / (1.0 - pc)) * invB);
        }
        break;
    case IC_LOSS_CATEGORICAL_CROSSENTROPY:
        for (int64_t b = 0; b < B; b++) {
            const float *pr = P + b * K, *yr = Y + b * K;
            double sum = 0;
            for (int64_t k = 0; k < K; k++)
                sum += pr[k];
            if (!(sum > 0))
                return numeric_error("NaN", "the model outputs of a sample sum to <= 0", where);
            double l = 0, dot = 0; /* dot = sum_k dL/dq_k * q_k */
            for (int64_t k = 0; k < K; k++) {
                double q = pr[k] / sum, qc = clampd(q, lo, hi);
                l -= yr[k] * log(qc);
                double dq = (q < lo || q > hi) ? 0.0 : -yr[k] / qc;
                dot += dq * q;
                if (grad)
                    grad[b * K + k] = (float)dq; /* temporarily dL/dq */
            }
            total += l;
            if (grad)
                for (int64_t k = 0; k < K; k++)
                    grad[b * K + k] = (float)(((double)grad[b * K + k] - dot) / sum * invB);
        }
        break;
    case IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        for (int64_t b = 0; b < B; b++) {
            const float *pr = P + b * K;
            int64_t t = (int64_t)Y[b];
            double S = 0;
            for (int64_t k = 0; k < K; k++)
                S += clampd(pr[k], lo, hi);
            double pt = clampd(pr[t], lo, hi);
            total += -log(pt) + log(S);
            if (grad)
                for (int64_t k = 0; k < K; k++) {
                    double pv = pr[k];
                    double g = 1.0 / S - (k == t ? 1.0 / pt : 0.0);
                    grad[b * K + k] = (pv < lo || pv > hi) ? 0.0f : (float)(g * invB);
                }
        }
        break;
    }
    double v = total * invB;
    if (!isfinite(v))
        return numeric_error(isnan(v) ? "NaN" : "Inf", "the labels or outputs are not finite",
                             where);
    *value = v;
    return IC_OK;
}

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

double ic__accuracy(ic_loss loss, const ic_tensor *p, const ic_tensor *y)
{
    const int64_t B = p->shape[0], K = ic_tensor_numel(p) / B;
    const float *P = p->data, *Y = y->data;
    int64_t hits = 0, total = 0;
    if (K == 1 || loss == IC_LOSS_BINARY_CROSSENTROPY) {
        /* K.round is TF round: half to even, so p = 0.5 gives 0. */
        for (int64_t i = 0; i < B * K; i++) {
            hits += Y[i] == nearbyintf(P[i]);
            total++;
        }
    } else if (loss == IC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        for (int64_t b = 0; b < B; b++) {
            hits += (float)argmax(P + b * K, K) == Y[b];
            total++;
        }
    } else {
        for (int64_t b = 0; b < B; b++) {
            hits += argmax(P + b * K, K) == argmax(Y + b * K, K);
            total++;
        }
    }
    return total ? (double)hits / (double)total : 0.0;
}
