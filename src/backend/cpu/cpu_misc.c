/* cpu_misc.c - element-wise activations, softmax and batch normalisation on oneDNN.
 *
 * Eltwise uses the *_use_dst_for_bwd algorithms (forward and backward), so the
 * backward pass reads the forward output, as the interface asks. Softmax runs over the
 * last axis of (rows, cols) "nc". Batch normalisation treats (rows, c) as nhwc
 * (1, c, rows, 1) with separate scale and shift (dnnl_use_scale | dnnl_use_shift);
 * NULL gamma/beta become op-owned ones/zeros, NULL diff_gamma/diff_beta op-owned
 * scratch.
 */
#include <stdio.h>
#include <string.h>

#include "cpu_common.h"

/* ---- what eltwise and softmax share ---- */

/* One data descriptor for src, dst and the gradients, a forward, and a backward
 * computed from dst (created on first use), run over host pointers. */
typedef struct dst_unary {
    dnnl_memory_desc_t md;
    dnnl_memory_t m_a, m_b, m_c;
    ic__cpu_prim fwd, bwd;
} dst_unary;

static ic_status unary_init(ic__op *op, dst_unary *u, const_dnnl_op_desc_t fwd_desc,
                            const char *name)
{
    IC__TRY(ic__cpu_prim_create(op, &u->fwd, fwd_desc, NULL, NULL, name));
    IC__TRY(ic__cpu_mem_create(op, &u->m_a, &u->md));
    IC__TRY(ic__cpu_mem_create(op, &u->m_b, &u->md));
    return ic__cpu_mem_create(op, &u->m_c, &u->md);
}

static ic_status unary_fwd(ic__op *op, dst_unary *u, float *dst, const float *src, const char *name)
{
    IC__TRY(ic__cpu_mem_set(op, u->m_a, src));
    IC__TRY(ic__cpu_mem_set(op, u->m_b, dst));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, u->m_a}, {DNNL_ARG_DST, u->m_b}};
    return ic__cpu_exec(op, &u->fwd, 2, args, name);
}

/* Creates the backward pass from bwd_desc (the forward is the hint); a failure leaves it
 * uncreated. */
static ic_status unary_init_bwd(ic__op *op, dst_unary *u, const_dnnl_op_desc_t bwd_desc,
                                const char *name)
{
    ic_status s = ic__cpu_prim_create(op, &u->bwd, bwd_desc, NULL, u->fwd.pd, name);
    if (s != IC_OK)
        ic__cpu_prim_destroy(&u->bwd);
    return s;
}

/* diff_src from (dst, diff_dst); the backward pass must exist. */
static ic_status unary_bwd(ic__op *op, dst_unary *u, float *diff_src, const float *diff_dst,
                           const float *dst, const char *name)
{
    IC__TRY(ic__cpu_mem_set(op, u->m_a, dst));
    IC__TRY(ic__cpu_mem_set(op, u->m_b, diff_dst));
    IC__TRY(ic__cpu_mem_set(op, u->m_c, diff_src));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DST, u->m_a}, {DNNL_ARG_DIFF_DST, u->m_b}, {DNNL_ARG_DIFF_SRC, u->m_c}};
    return ic__cpu_exec(op, &u->bwd, 3, args, name);
}

static void unary_destroy(dst_unary *u)
{
    ic__cpu_prim_destroy(&u->fwd);
    ic__cpu_prim_destroy(&u->bwd);
    ic__cpu_mem_destroy(&u->m_a);
    ic__cpu_mem_destroy(&u->m_b);
    ic__cpu_mem_destroy(&u->m_c);
}

/* ---- eltwise ---- */

typedef struct cpu_eltwise {
    ic__op hdr;
    ic__eltwise_desc d;
    dnnl_alg_kind_t alg;
    float alpha, beta;
    dst_unary u; /* u.fwd.prim NULL: identity */
} cpu_eltwise;

static ic_status eltwise_build(cpu_eltwise *e)
{
    ic__op *op = &e->hdr;
    if (e->d.n < 1 || (unsigned)e->d.act > IC__ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    if (!ic__cpu_act_alg(e->d.act, 1, &e->alg, &e->alpha, &e->beta))
        return IC_OK; /* identity: plain copies */
    dnnl_dim_t dims[1] = {e->d.n};
    IC__TRY(ic__cpu_md_tag(op, &e->u.md, 1, dims, dnnl_a));
    dnnl_eltwise_desc_t ed;
    IC__DNNL(op,
             dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training, e->alg, &e->u.md, e->alpha,
                                            e->beta),
             "eltwise forward (descriptor)");
    return unary_init(op, &e->u, &ed, "eltwise forward");
}

ic_status ic__cpu_eltwise_create(ic__op **out, const ic__eltwise_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_eltwise), IC__CPU_ELTWISE));
    cpu_eltwise *e = (cpu_eltwise *)op;
    e->d = *d;
    snprintf(op->what, sizeof op->what, "eltwise act %d over %lld values", (int)d->act,
             (long long)d->n);
    ic_status s = eltwise_build(e);
    if (s != IC_OK) {
        ic__cpu_misc_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

ic_status ic__cpu_eltwise_fwd(ic__op *op, float *dst, const float *src)
{
    cpu_eltwise *e = (cpu_eltwise *)op;
    if (!e->u.fwd.prim) {
        if (dst != src)
            memmove(dst, src, (size_t)e->d.n * sizeof(float));
        return IC_OK;
    }
    return unary_fwd(op, &e->u, dst, src, "eltwise forward");
}

ic_status ic__cpu_eltwise_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *dst)
{
    cpu_eltwise *e = (cpu_eltwise *)op;
    if (!e->u.fwd.prim) {
        if (diff_src != diff_dst)
            memmove(diff_src, diff_dst, (size_t)e->d.n * sizeof(float));
        return IC_OK;
    }
    if (!e->u.bwd.prim) {
        dnnl_eltwise_desc_t ed;
        IC__DNNL(
            op, dnnl_eltwise_backward_desc_init(&ed, e->alg, &e->u.md, &e->u.md, e->alpha, e->beta),
            "eltwise backward (descriptor)");
        IC__TRY(unary_init_bwd(op, &e->u, &ed, "eltwise backward"));
    }
    return unary_bwd(op, &e->u, diff_src, diff_dst, dst, "eltwise backward");
}

/* ---- softmax ---- */

typedef struct cpu_softmax {
    ic__op hdr;
    ic__softmax_desc d;
    dst_unary u;
} cpu_softmax;

static ic_status softmax_build(cpu_softmax *sm)
{
    ic__op *op = &sm->hdr;
    if (sm->d.rows < 1 || sm->d.cols < 1)
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    dnnl_dim_t dims[2] = {sm->d.rows, sm->d.cols};
    IC__TRY(ic__cpu_md_tag(op, &sm->u.md, 2, dims, dnnl_nc));
    dnnl_softmax_desc_t sd;
    IC__DNNL(op, dnnl_softmax_forward_desc_init(&sd, dnnl_forward_training, &sm->u.md, 1),
             "softmax forward (descriptor)");
    return unary_init(op, &sm->u, &sd, "softmax forward");
}

ic_status ic__cpu_softmax_create(ic__op **out, const ic__softmax_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_softmax), IC__CPU_SOFTMAX));
    cpu_softmax *sm = (cpu_softmax *)op;
    sm->d = *d;
    snprintf(op->what, sizeof op->what, "softmax (%lld,%lld)", (long long)d->rows,
             (long long)d->cols);
    ic_status s = softmax_build(sm);
    if (s != IC_OK) {
        ic__cpu_misc_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

ic_status ic__cpu_softmax_fwd(ic__op *op, float *dst, const float *src)
{
    return unary_fwd(op, &((cpu_softmax *)op)->u, dst, src, "softmax forward");
}

ic_status ic__cpu_softmax_bwd(ic__op *op, float *diff_src, const float *diff_dst, const float *dst)
{
    cpu_softmax *sm = (cpu_softmax *)op;
    if (!sm->u.bwd.prim) {
        dnnl_softmax_desc_t sd;
        IC__DNNL(op, dnnl_softmax_backward_desc_init(&sd, &sm->u.md, &sm->u.md, 1),
                 "softmax backward (descriptor)");
        IC__TRY(unary_init_bwd(op, &sm->u, &sd, "softmax backward"));
    }
    return unary_bwd(op, &sm->u, diff_src, diff_dst, dst, "softmax backward");
}

/* ---- batch normalisation ---- */

typedef struct cpu_bn {
    ic__op hdr;
    ic__bn_desc d;
    dnnl_memory_desc_t md, stat_md;
    dnnl_memory_t m_src, m_dst, m_ddst;                                /* (rows, c) */
    dnnl_memory_t m_mean, m_var, m_scale, m_shift, m_dscale, m_dshift; /* (c) */
    float *ones, *zeros, *dgamma_tmp, *dbeta_tmp; /* c floats each, one block */
    ic__cpu_prim fwd_train, fwd_infer, bwd, bwd_global;
} cpu_bn;

#define BN_FLAGS (dnnl_use_scale | dnnl_use_shift)

static ic_status bn_build(cpu_bn *b)
{
    ic__op *op = &b->hdr;
    const ic__bn_desc *d = &b->d;
    if (d->rows < 1 || d->c < 1 || !(d->eps >= 0.f))
        return ic_seterr(IC_ERR_INVALID, "cpu backend: invalid %s", op->what);
    size_t c = (size_t)d->c;
    b->ones = ic__malloc(4 * c * sizeof(float));
    if (!b->ones)
        return IC_ERR_NOMEM;
    b->zeros = b->ones + c;
    b->dgamma_tmp = b->ones + 2 * c;
    b->dbeta_tmp = b->ones + 3 * c;
    for (size_t i = 0; i < c; i++) {
        b->ones[i] = 1.f;
        b->zeros[i] = 0.f;
    }
    /* (rows, c) row-major is nhwc with n = 1, h = rows, w = 1: oneDNN's channels-last
     * kernels take it (plain 2-D "nc" only gets the generic ncsp implementation) */
    dnnl_dim_t dims[4] = {1, d->c, d->rows, 1}, sdims[1] = {d->c};
    IC__TRY(ic__cpu_md_tag(op, &b->md, 4, dims, dnnl_nhwc));
    IC__TRY(ic__cpu_md_tag(op, &b->stat_md, 1, sdims, dnnl_a));
    dnnl_batch_normalization_desc_t bd;
    IC__DNNL(op,
             dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_training, &b->md, d->eps,
                                                        BN_FLAGS),
             "batch normalization forward training (descriptor)");
    IC__TRY(ic__cpu_prim_create(op, &b->fwd_train, &bd, NULL, NULL,
                                "batch normalization forward training"));
    IC__DNNL(op,
             dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &b->md, d->eps,
                                                        BN_FLAGS | dnnl_use_global_stats),
             "batch normalization forward inference (descriptor)");
    IC__TRY(ic__cpu_prim_create(op, &b->fwd_infer, &bd, NULL, NULL,
                                "batch normalization forward inference"));
    dnnl_memory_t *data[3] = {&b->m_src, &b->m_dst, &b->m_ddst};
    for (int i = 0; i < 3; i++)
        IC__TRY(ic__cpu_mem_create(op, data[i], &b->md));
    dnnl_memory_t *stat[6] = {&b->m_mean,  &b->m_var,    &b->m_scale,
                              &b->m_shift, &b->m_dscale, &b->m_dshift};
    for (int i = 0; i < 6; i++)
        IC__TRY(ic__cpu_mem_create(op, stat[i], &b->stat_md));
    return IC_OK;
}

ic_status ic__cpu_bn_create(ic__op **out, const ic__bn_desc *d)
{
    *out = NULL;
    ic__op *op;
    IC__TRY(ic__cpu_op_alloc(&op, sizeof(cpu_bn), IC__CPU_BN));
    cpu_bn *b = (cpu_bn *)op;
    b->d = *d;
    snprintf(op->what, sizeof op->what, "batch normalization (%lld,%lld) eps %g",
             (long long)d->rows, (long long)d->c, (double)d->eps);
    ic_status s = bn_build(b);
    if (s != IC_OK) {
        ic__cpu_misc_free(op);
        return s;
    }
    *out = op;
    return IC_OK;
}

ic_status ic__cpu_bn_fwd_training(ic__op *op, float *dst, float *mean, float *var, const float *src,
                                  const float *gamma, const float *beta)
{
    cpu_bn *b = (cpu_bn *)op;
    IC__TRY(ic__cpu_mem_set(op, b->m_src, src));
    IC__TRY(ic__cpu_mem_set(op, b->m_dst, dst));
    IC__TRY(ic__cpu_mem_set(op, b->m_mean, mean));
    IC__TRY(ic__cpu_mem_set(op, b->m_var, var));
    IC__TRY(ic__cpu_mem_set(op, b->m_scale, gamma ? gamma : b->ones));
    IC__TRY(ic__cpu_mem_set(op, b->m_shift, beta ? beta : b->zeros));
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, b->m_src},     {DNNL_ARG_DST, b->m_dst},
                               {DNNL_ARG_MEAN, b->m_mean},   {DNNL_ARG_VARIANCE, b->m_var},
                               {DNNL_ARG_SCALE, b->m_scale}, {DNNL_ARG_SHIFT, b->m_shift}};
    return ic__cpu_exec(op, &b->fwd_train, 6, args, "batch normalization forward training");
}

ic_status ic__cpu_bn_fwd_inference(ic__op *op, float *dst, const float *src, const float *gamma,
                                   const float *beta, const float *mean, const float *var)
{
    cpu_bn *b = (cpu_bn *)op;
    IC__TRY(ic__cpu_mem_set(op, b->m_src, src));
    IC__TRY(ic__cpu_mem_set(op, b->m_dst, dst));
    IC__TRY(ic__cpu_mem_set(op, b->m_mean, mean));
    IC__TRY(ic__cpu_mem_set(op, b->m_var, var));
    IC__TRY(ic__cpu_mem_set(op, b->m_scale, gamma ? gamma : b->ones));
    IC__TRY(ic__cpu_mem_set(op, b->m_shift, beta ? beta : b->zeros));
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, b->m_src},     {DNNL_ARG_DST, b->m_dst},
                               {DNNL_ARG_MEAN, b->m_mean},   {DNNL_ARG_VARIANCE, b->m_var},
                               {DNNL_ARG_SCALE, b->m_scale}, {DNNL_ARG_SHIFT, b->m_shift}};
    return ic__cpu_exec(op, &b->fwd_infer, 6, args, "batch normalization forward inference");
}

static ic_status bn_init_bwd(cpu_bn *b, int global_stats)
{
    ic__op *op = &b->hdr;
    ic__cpu_prim *p = global_stats ? &b->bwd_global : &b->bwd;
    const char *name = global_stats ? "batch normalization backward (global stats)"
                                    : "batch normalization backward";
    dnnl_batch_normalization_desc_t bd;
    unsigned flags = BN_FLAGS | (global_stats ? dnnl_use_global_stats : 0u);
    IC__DNNL(op,
             dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &b->md, &b->md,
                                                         b->d.eps, flags),
             name);
    ic_status s = ic__cpu_prim_create(op, p, &bd, NULL,
                                      global_stats ? b->fwd_infer.pd : b->fwd_train.pd, name);
    if (s != IC_OK)
        ic__cpu_prim_destroy(p);
    return s;
}

ic_status ic__cpu_bn_bwd(ic__op *op, float *diff_src, float *diff_gamma, float *diff_beta,
                         const float *diff_dst, const float *src, const float *mean,
                         const float *var, const float *gamma, int global_stats)
{
    cpu_bn *b = (cpu_bn *)op;
    ic__cpu_prim *p = global_stats ? &b->bwd_global : &b->bwd;
    if (!p->prim)
        IC__TRY(bn_init_bwd(b, global_stats));
    IC__TRY(ic__cpu_mem_set(op, b->m_src, src));
    IC__TRY(ic__cpu_mem_set(op, b->m_dst, diff_src));
    IC__TRY(ic__cpu_mem_set(op, b->m_ddst, diff_dst));
    IC__TRY(ic__cpu_mem_set(op, b->m_mean, mean));
    IC__TRY(ic__cpu_mem_set(op, b->m_var, var));
    IC__TRY(ic__cpu_mem_set(op, b->m_scale, gamma ? gamma : b->ones));
    IC__TRY(ic__cpu_mem_set(op, b->m_dscale, diff_gamma ? diff_gamma : b->dgamma_tmp));
    IC__TRY(ic__cpu_mem_set(op, b->m_dshift, diff_beta ? diff_beta : b->dbeta_tmp));
    /* oneDNN 2.6 counts SHIFT among the backward inputs when use_shift is set (execution
     * fails with invalid_arguments without it), though beta does not enter the gradients */
    IC__TRY(ic__cpu_mem_set(op, b->m_shift, b->zeros));
    dnnl_exec_arg_t args[9] = {
        {DNNL_ARG_SHIFT, b->m_shift},      {DNNL_ARG_SRC, b->m_src},
        {DNNL_ARG_DIFF_DST, b->m_ddst},    {DNNL_ARG_MEAN, b->m_mean},
        {DNNL_ARG_VARIANCE, b->m_var},     {DNNL_ARG_SCALE, b->m_scale},
        {DNNL_ARG_DIFF_SRC, b->m_dst},     {DNNL_ARG_DIFF_SCALE, b->m_dscale},
        {DNNL_ARG_DIFF_SHIFT, b->m_dshift}};
    return ic__cpu_exec(op, p, 9, args, "batch normalization backward");
}

/* ---- freeing ---- */

void ic__cpu_misc_free(ic__op *op)
{
    switch (op->kind) {
    case IC__CPU_ELTWISE: unary_destroy(&((cpu_eltwise *)op)->u); break;
    case IC__CPU_SOFTMAX: unary_destroy(&((cpu_softmax *)op)->u); break;
    case IC__CPU_BN: {
        cpu_bn *b = (cpu_bn *)op;
        ic__cpu_prim_destroy(&b->fwd_train);
        ic__cpu_prim_destroy(&b->fwd_infer);
        ic__cpu_prim_destroy(&b->bwd);
        ic__cpu_prim_destroy(&b->bwd_global);
        dnnl_memory_t *m[9] = {&b->m_src,   &b->m_dst,   &b->m_ddst,   &b->m_mean,  &b->m_var,
                               &b->m_scale, &b->m_shift, &b->m_dscale, &b->m_dshift};
        for (int i = 0; i < 9; i++)
            ic__cpu_mem_destroy(m[i]);
        ic__free(b->ones);
        break;
    }
    default: break;
    }
    ic__free_aligned(op->scratch);
    ic__free(op);
}
