/* cpu_backend.c - the "cpu" backend table: oneDNN primitives (cpu_conv.c, cpu_pool.c,
 * cpu_dense.c, cpu_misc.c) behind the interface of backend.h. */
#include "cpu_common.h"

static void cpu_op_free(ic__op *op)
{
    if (!op)
        return;
    switch (op->kind) {
    case IC__CPU_CONV: ic__cpu_conv_free(op); break;
    case IC__CPU_POOL: ic__cpu_pool_free(op); break;
    case IC__CPU_DENSE: ic__cpu_dense_free(op); break;
    case IC__CPU_ELTWISE:
    case IC__CPU_SOFTMAX:
    case IC__CPU_BN: ic__cpu_misc_free(op); break;
    }
}

static const ic__backend g_cpu = {
    .name = "cpu",
    .conv_create = ic__cpu_conv_create,
    .conv_fwd = ic__cpu_conv_fwd,
    .conv_bwd_data = ic__cpu_conv_bwd_data,
    .conv_bwd_weights = ic__cpu_conv_bwd_weights,
    .pool_create = ic__cpu_pool_create,
    .pool_fwd = ic__cpu_pool_fwd,
    .pool_bwd = ic__cpu_pool_bwd,
    .dense_create = ic__cpu_dense_create,
    .dense_fwd = ic__cpu_dense_fwd,
    .dense_bwd_data = ic__cpu_dense_bwd_data,
    .dense_bwd_weights = ic__cpu_dense_bwd_weights,
    .eltwise_create = ic__cpu_eltwise_create,
    .eltwise_fwd = ic__cpu_eltwise_fwd,
    .eltwise_bwd = ic__cpu_eltwise_bwd,
    .softmax_create = ic__cpu_softmax_create,
    .softmax_fwd = ic__cpu_softmax_fwd,
    .softmax_bwd = ic__cpu_softmax_bwd,
    .bn_create = ic__cpu_bn_create,
    .bn_fwd_training = ic__cpu_bn_fwd_training,
    .bn_fwd_inference = ic__cpu_bn_fwd_inference,
    .bn_bwd = ic__cpu_bn_bwd,
    .op_free = cpu_op_free,
};

const ic__backend *ic__backend_cpu(void)
{
    return &g_cpu;
}
