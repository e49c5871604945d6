/* ref_backend.c - the reference backend's function table and its op handles.
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

static void ref_op_free(ic__op *op) { ic__free(op); }

static const ic__backend g_ref = {
    .name = "ref",
    .conv_create = ic__ref_conv_create,
    .conv_fwd = ic__ref_conv_fwd,
    .conv_bwd_data = ic__ref_conv_bwd_data,
    .conv_bwd_weights = ic__ref_conv_bwd_weights,
    .pool_create = ic__ref_pool_create,
    .pool_fwd = ic__ref_pool_fwd,
    .pool_bwd = ic__ref_pool_bwd,
    .dense_create = ic__ref_dense_create,
    .dense_fwd = ic__ref_dense_fwd,
    .dense_bwd_data = ic__ref_dense_bwd_data,
    .dense_bwd_weights = ic__ref_dense_bwd_weights,
    .eltwise_create = ic__ref_eltwise_create,
    .eltwise_fwd = ic__ref_eltwise_fwd,
    .eltwise_bwd = ic__ref_eltwise_bwd,
    .softmax_create = ic__ref_softmax_create,
    .softmax_fwd = ic__ref_softmax_fwd,
    .softmax_bwd = ic__ref_softmax_bwd,
    .bn_create = ic__ref_bn_create,
    .bn_fwd_training = ic__ref_bn_fwd_training,
    .bn_fwd_inference = ic__ref_bn_fwd_inference,
    .bn_bwd = ic__ref_bn_bwd,
    .op_free = ref_op_free,
};

const ic__backend *ic__backend_ref(void)
{
    ic__threads_init(); /* our OpenMP loops honour IC_NUM_THREADS / ic_set_num_threads */
    return &g_ref;
}
