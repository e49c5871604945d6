/* ref_dense.c - reference fully connected layer: forward with fused bias and activation,
 * backward data and backward weights.
 *
 * Shapes: src is N,IC; weights are IC,OC (Keras Dense kernel); bias is OC; dst is N,OC. */
#include "backend/ref/ref.h"
#include "core/core.h"

ic_status ic__ref_dense_create(ic__op **op, const ic__dense_desc *d)
{
    *op = NULL;
    if (d->n <= 0 || d->ic <= 0 || d->oc <= 0)
        return ic_seterr(IC_ERR_INVALID, "ref dense: bad descriptor (n %lld, in %lld, out %lld)",
                         (long long)d->n, (long long)d->ic, (long long)d->oc);
    ic_status s = ic__ref_act_check(d->act, "dense_create");
    if (s)
        return s;
    s = ic__ref_op_new(op, REF_OP_DENSE);
    if (s)
        return s;
    (*op)->d.dense = *d;
    return IC_OK;
}

/* dst[n,o] = act(bias[o] + sum_i src[n,i] * w[i,o]). */
ic_status ic__ref_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias)
{
    ic_status s = ic__ref_op_check(op, REF_OP_DENSE, "dense_fwd");
    if (s)
        return s;
    const ic__dense_desc *d = &op->d.dense;
    if (d->has_bias && !bias)
        return ic_seterr(IC_ERR_INVALID, "ref dense_fwd: has_bias but bias is NULL");
    const int64_t N = d->n, IC = d->ic, OC = d->oc;
    float *tmp; /* bf16: the rounded inputs */
    s = ic__ref_prec_inputs(d->prec, src, N * IC, weights, IC * OC, &src, &weights, &tmp);
    if (s)
        return s;

#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *drow = dst + n * OC;
        for (int64_t o = 0; o < OC; o++) {
            double acc = d->has_bias ? (double)bias[o] : 0.0;
            for (int64_t i = 0; i < IC; i++)
                acc += (double)src[n * IC + i] * (double)weights[i * OC + o];
            drow[o] = (float)acc;
        }
        ic__act_fwd_inplace(d->act, drow, OC);
    }
    ic__free(tmp);
    return IC_OK;
}

/* diff_src[n,i] = sum_o diff_dst[n,o] * w[i,o]   (diff_dst . w^T). */
ic_status ic__ref_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version)
{
    ic_status s = ic__ref_op_check(op, REF_OP_DENSE, "dense_bwd_data");
    if (s)
        return s;
    const ic__dense_desc *d = &op->d.dense;
    const int64_t N = d->n, IC = d->ic, OC = d->oc;
    float *tmp;
    s = ic__ref_prec_inputs(d->prec, diff_dst, N * OC, weights, IC * OC, &diff_dst, &weights, &tmp);
    if (s)
        return s;

#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t i = 0; i < IC; i++) {
            double acc = 0.0;
            for (int64_t o = 0; o < OC; o++)
                acc += (double)diff_dst[n * OC + o] * (double)weights[i * OC + o];
            diff_src[n * IC + i] = (float)acc;
        }
    }
    ic__free(tmp);
    return IC_OK;
}

/* diff_w[i,o] = sum_n src[n,i] * diff_dst[n,o]   (src^T . diff_dst);
 * diff_bias[o] = sum_n diff_dst[n,o]. diff_bias may be NULL (not wanted). */
ic_status ic__ref_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst)
{
    ic_status s = ic__ref_op_check(op, REF_OP_DENSE, "dense_bwd_weights");
    if (s)
        return s;
    const ic__dense_desc *d = &op->d.dense;
    const int64_t N = d->n, IC = d->ic, OC = d->oc;
    float *tmp; /* bf16: diff_bias then sums the rounded diff_dst, as a bf16 kernel does */
    s = ic__ref_prec_inputs(d->prec, src, N * IC, diff_dst, N * OC, &src, &diff_dst, &tmp);
    if (s)
        return s;

#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < IC; i++) {
        for (int64_t o = 0; o < OC; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++)
                acc += (double)src[n * IC + i] * (double)diff_dst[n * OC + o];
            diff_weights[i * OC + o] = (float)acc;
        }
    }
    if (d->has_bias && diff_bias) {
        for (int64_t o = 0; o < OC; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++)
                acc += (double)diff_dst[n * OC + o];
            diff_bias[o] = (float)acc;
        }
    }
    ic__free(tmp);
    return IC_OK;
}
