/* cpu_backend.c - the "cpu" backend tables: oneDNN primitives (cpu_conv.c, cpu_pool.c,
 * cpu_dense.c, cpu_misc.c) behind the interface of backend.h, one table per precision.
 * The tables differ only in conv_create and dense_create, which stamp their precision
 * into a copy of the desc; an op remembers its precision, so every other entry is
 * shared. */
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

IC__DEFINE_PREC_CREATORS(ic__cpu_conv_create, ic__cpu_dense_create)

/* bf16 is native from AVX512_BF16 on (AMX includes it). oneDNN can also run bf16 on
 * plain AVX512_CORE by emulating the bf16 instructions, which only costs time, so the
 * model falls back to f32 there (ic_model_set_precision). */
static int cpu_prec_native(ic__prec p)
{
    if (p == IC__PREC_F32)
        return 1;
    return p == IC__PREC_BF16 && ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_bf16);
}

static const ic__backend *cpu_with_prec(ic__prec p);

/* Everything but the precision and the two creators. */
#define CPU_SHARED_ENTRIES                                                                         \
    .name = "cpu", .with_prec = cpu_with_prec, .prec_native = cpu_prec_native,                     \
    .conv_fwd = ic__cpu_conv_fwd, .conv_bwd_data = ic__cpu_conv_bwd_data,                          \
    .conv_bwd_weights = ic__cpu_conv_bwd_weights, .pool_create = ic__cpu_pool_create,              \
    .pool_fwd = ic__cpu_pool_fwd, .pool_bwd = ic__cpu_pool_bwd, .dense_fwd = ic__cpu_dense_fwd,    \
    .dense_bwd_data = ic__cpu_dense_bwd_data, .dense_bwd_weights = ic__cpu_dense_bwd_weights,      \
    .eltwise_create = ic__cpu_eltwise_create, .eltwise_fwd = ic__cpu_eltwise_fwd,                  \
    .eltwise_bwd = ic__cpu_eltwise_bwd, .softmax_create = ic__cpu_softmax_create,                  \
    .softmax_fwd = ic__cpu_softmax_fwd, .softmax_bwd = ic__cpu_softmax_bwd,                        \
    .bn_create = ic__cpu_bn_create, .bn_fwd_training = ic__cpu_bn_fwd_training,                    \
    .bn_fwd_inference = ic__cpu_bn_fwd_inference, .bn_bwd = ic__cpu_bn_bwd, .op_free = cpu_op_free

static const ic__backend g_cpu = {
    CPU_SHARED_ENTRIES,
    .prec = IC__PREC_F32,
    .conv_create = conv_create_f32,
    .dense_create = dense_create_f32,
};

static const ic__backend g_cpu_bf16 = {
    CPU_SHARED_ENTRIES,
    .prec = IC__PREC_BF16,
    .conv_create = conv_create_bf16,
    .dense_create = dense_create_bf16,
};

static const ic__backend *cpu_with_prec(ic__prec p)
{
    switch (p) {
    case IC__PREC_F32: return &g_cpu;
    case IC__PREC_BF16: return &g_cpu_bf16;
    default: return NULL;
    }
}

const ic__backend *ic__backend_cpu(void)
{
    return &g_cpu;
}
