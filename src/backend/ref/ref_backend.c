/* ref_backend.c - the reference backend's function tables (f32 and bf16) and its op
 * handles.
 * Plain C kernels (ref_conv.c, ref_pool.c, ref_dense.c, ref_misc.c): the oracle for
 * testing the fast backends, and a fallback that runs anywhere. */
#include "backend/ref/ref.h"
#include "core/core.h"

ic_status ic__ref_op_new(ic__op **op, ref_op_kind kind)
{
    *op = NULL;
    ic__op *o = ic__calloc(1, sizeof *o);
    if (!o)
        return IC_ERR_NOMEM;
    o->kind = kind;
    *op = o;
    return IC_OK;
}

ic_status ic__ref_op_check(const ic__op *op, ref_op_kind kind, const char *fn)
{
    if (!op)
        return ic_seterr(IC_ERR_INVALID, "ref backend: %s: op is NULL", fn);
    if (op->kind != kind)
        return ic_seterr(IC_ERR_INVALID, "ref backend: %s: op of the wrong kind (%d, want %d)",
                         fn, (int)op->kind, (int)kind);
    return IC_OK;
}

ic_status ic__ref_act_check(ic__act act, const char *fn)
{
    if ((int)act < (int)IC__ACT_NONE || (int)act > (int)IC__ACT_TANH)
        return ic_seterr(IC_ERR_INVALID, "ref backend: %s: unknown activation %d", fn, (int)act);
    return IC_OK;
}

ic_status ic__ref_prec_inputs(ic__prec p, const float *a, int64_t na, const float *b, int64_t nb,
                              const float **ra, const float **rb, float **tmp)
{
    *tmp = NULL;
    *ra = a;
    *rb = b;
    if (p != IC__PREC_BF16)
        return IC_OK;
    float *t = ic__malloc((size_t)(na + nb > 0 ? na + nb : 1) * sizeof(float));
    if (!t)
        return IC_ERR_NOMEM;
    for (int64_t i = 0; i < na; i++)
        t[i] = ic__bf16_round(a[i]);
    for (int64_t i = 0; i < nb; i++)
        t[na + i] = ic__bf16_round(b[i]);
    *tmp = t;
    *ra = t;
    *rb = t + na;
    return IC_OK;
}

static void ref_op_free(ic__op *op) { ic__free(op); }

/* The tables of the two precisions differ only here: the creator stamps its precision
 * into the op's copy of the desc, which the kernels read. */
IC__DEFINE_PREC_CREATORS(ic__ref_conv_create, ic__ref_dense_create)

/* Exact emulation: every precision is "native". */
static int ref_prec_native(ic__prec p)
{
    return p == IC__PREC_F32 || p == IC__PREC_BF16;
}

static const ic__backend *ref_with_prec(ic__prec p);

/* Everything but the precision and the two creators. */
#define REF_SHARED_ENTRIES                                                                         \
    .name = "ref", .with_prec = ref_with_prec, .prec_native = ref_prec_native,                     \
    .conv_fwd = ic__ref_conv_fwd, .conv_bwd_data = ic__ref_conv_bwd_data,                          \
    .conv_bwd_weights = ic__ref_conv_bwd_weights, .pool_create = ic__ref_pool_create,              \
    .pool_fwd = ic__ref_pool_fwd, .pool_bwd = ic__ref_pool_bwd,                                    \
    .dense_fwd = ic__ref_dense_fwd, .dense_bwd_data = ic__ref_dense_bwd_data,                      \
    .dense_bwd_weights = ic__ref_dense_bwd_weights, .eltwise_create = ic__ref_eltwise_create,      \
    .eltwise_fwd = ic__ref_eltwise_fwd, .eltwise_bwd = ic__ref_eltwise_bwd,                        \
    .softmax_create = ic__ref_softmax_create, .softmax_fwd = ic__ref_softmax_fwd,                  \
    .softmax_bwd = ic__ref_softmax_bwd, .bn_create = ic__ref_bn_create,                            \
    .bn_fwd_training = ic__ref_bn_fwd_training, .bn_fwd_inference = ic__ref_bn_fwd_inference,      \
    .bn_bwd = ic__ref_bn_bwd, .op_free = ref_op_free

static const ic__backend g_ref = {
    REF_SHARED_ENTRIES,
    .prec = IC__PREC_F32,
    .conv_create = conv_create_f32,
    .dense_create = dense_create_f32,
};

static const ic__backend g_ref_bf16 = {
    REF_SHARED_ENTRIES,
    .prec = IC__PREC_BF16,
    .conv_create = conv_create_bf16,
    .dense_create = dense_create_bf16,
};

static const ic__backend *ref_with_prec(ic__prec p)
{
    switch (p) {
    case IC__PREC_F32: return &g_ref;
    case IC__PREC_BF16: return &g_ref_bf16;
    default: return NULL;
    }
}

const ic__backend *ic__backend_ref(void)
{
    ic__threads_init(); /* our OpenMP loops honour IC_NUM_THREADS / ic_set_num_threads */
    return &g_ref;
}
