/* ref.h - the reference backend's private pieces: its op handle and the kernels that
 * ref_backend.c puts into the ic__backend table.
 *
 * The reference kernels are the test oracle for every other backend, so they are
 * written to be obviously correct rather than fast: naive loops in the order of the
 * formula, sums over many terms accumulated in double, and an OpenMP loop only over an
 * outer index whose iterations write disjoint outputs (so results never depend on the
 * thread count).
 *
 * BF16 (the op's desc.prec, stamped by the bf16 table) is emulated exactly: the inputs
 * of every product (src, weights, diff_dst) are rounded to bf16 first, the sums and
 * everything else (bias, activation, outputs) stay as in F32. */
#ifndef IC_BACKEND_REF_H
#define IC_BACKEND_REF_H

#include "backend/backend.h"

typedef enum ref_op_kind {
    REF_OP_CONV = 1,
    REF_OP_POOL,
    REF_OP_DENSE,
    REF_OP_ELTWISE,
    REF_OP_SOFTMAX,
    REF_OP_BN
} ref_op_kind;

/* The handle only remembers what was described: the reference kernels need nothing
 * cached (pooling recomputes its argmax from src in the backward pass). */
struct ic__op {
    ref_op_kind kind;
    union {
        ic__conv_desc conv;
        ic__pool_desc pool;
        ic__dense_desc dense;
        ic__eltwise_desc eltwise;
        ic__softmax_desc softmax;
        ic__bn_desc bn;
    } d;
};

/* ref_backend.c: allocates a handle of the given kind (desc copied by the caller). */
ic_status ic__ref_op_new(ic__op **op, ref_op_kind kind);
/* Returns IC_OK if op is non-NULL and of the given kind, else IC_ERR_INVALID (message
 * names fn). */
ic_status ic__ref_op_check(const ic__op *op, ref_op_kind kind, const char *fn);
/* IC_OK if act is one of the ic__act values. */
ic_status ic__ref_act_check(ic__act act, const char *fn);
/* The two inputs a kernel multiplies, as precision p sees them: a and b themselves in
 * F32; in BF16, copies rounded with ic__bf16_round in one block *tmp (the caller frees
 * it with ic__free; NULL in F32). na, nb: element counts. */
ic_status ic__ref_prec_inputs(ic__prec p, const float *a, int64_t na, const float *b, int64_t nb,
                              const float **ra, const float **rb, float **tmp);

/* ref_conv.c */
ic_status ic__ref_conv_create(ic__op **op, const ic__conv_desc *d);
ic_status ic__ref_conv_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                           uint64_t weights_version, const float *bias);
ic_status ic__ref_conv_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                const float *weights, uint64_t weights_version);
ic_status ic__ref_conv_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                   const float *src, const float *diff_dst);

/* ref_pool.c */
ic_status ic__ref_pool_create(ic__op **op, const ic__pool_desc *d);
ic_status ic__ref_pool_fwd(ic__op *op, float *dst, const float *src, int training);
ic_status ic__ref_pool_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                           const float *src);

/* ref_dense.c */
ic_status ic__ref_dense_create(ic__op **op, const ic__dense_desc *d);
ic_status ic__ref_dense_fwd(ic__op *op, float *dst, const float *src, const float *weights,
                            uint64_t weights_version, const float *bias);
ic_status ic__ref_dense_bwd_data(ic__op *op, float *diff_src, const float *diff_dst,
                                 const float *weights, uint64_t weights_version);
ic_status ic__ref_dense_bwd_weights(ic__op *op, float *diff_weights, float *diff_bias,
                                    const float *src, const float *diff_dst);

/* ref_misc.c: eltwise, softmax, batch normalisation */
ic_status ic__ref_eltwise_create(ic__op **op, const ic__eltwise_desc *d);
ic_status ic__ref_eltwise_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__ref_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                              const float *dst);
ic_status ic__ref_softmax_create(ic__op **op, const ic__softmax_desc *d);
ic_status ic__ref_softmax_fwd(ic__op *op, float *dst, const float *src);
ic_status ic__ref_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst,
                              const float *dst);
ic_status ic__ref_bn_create(ic__op **op, const ic__bn_desc *d);
ic_status ic__ref_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var,
                                  const float *src, const float *gamma, const float *beta);
ic_status ic__ref_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                   const float *beta, const float *mean, const float *var);
ic_status ic__ref_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                         const float *diff_dst, const float *src, const float *mean,
                         const float *var, const float *gamma, int global_stats);

#endif
