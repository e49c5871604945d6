/* cuda_backend.c - the "cuda" backend table: cuDNN convolutions (cuda_conv.c), cuBLAS
 * dense layers (cuda_dense.c), pooling, activations, softmax and batch normalisation on
 * the backend's own kernels (cuda_misc.c, cuda_kernels.cu), behind the
 * host-pointer interface of backend.h (cuda_common.h says how).
 *
 * fp32 only, for now: there is no bf16 table, so with_prec(BF16) returns NULL and
 * prec_native(BF16) 0, and the registry and the model fall back to this f32 table. */
#include "backend/cuda/cuda_common.h"

static void cuda_op_free(ic__op *op)
{
    if (!op)
        return;
    ic__cuda_lock();
    switch (op->kind) {
    case IC__CUDA_CONV: ic__cuda_conv_free(op); break;
    case IC__CUDA_POOL: ic__cuda_pool_free(op); break;
    case IC__CUDA_DENSE: ic__cuda_dense_free(op); break;
    case IC__CUDA_ELTWISE:
    case IC__CUDA_SOFTMAX:
    case IC__CUDA_BN: ic__cuda_misc_free(op); break;
    }
    ic__cuda_unlock();
}

/* The creators stamp the table's precision into a copy of the desc, as every backend's
 * do (backend.h); here that is always f32. */
static ic_status conv_create_f32(ic__op **op, const ic__conv_desc *d)
{
    ic__conv_desc c = *d;
    c.prec = IC__PREC_F32;
    return ic__cuda_conv_create(op, &c);
}

static ic_status dense_create_f32(ic__op **op, const ic__dense_desc *d)
{
    ic__dense_desc c = *d;
    c.prec = IC__PREC_F32;
    return ic__cuda_dense_create(op, &c);
}

static int cuda_prec_native(ic__prec p)
{
    return p == IC__PREC_F32;
}

static const ic__backend *cuda_with_prec(ic__prec p);

static const ic__backend g_cuda = {
    .name = "cuda",
    .prec = IC__PREC_F32,
    .with_prec = cuda_with_prec,
    .prec_native = cuda_prec_native,
    .conv_create = conv_create_f32,
    .conv_fwd = ic__cuda_conv_fwd,
    .conv_bwd_data = ic__cuda_conv_bwd_data,
    .conv_bwd_weights = ic__cuda_conv_bwd_weights,
    .pool_create = ic__cuda_pool_create,
    .pool_fwd = ic__cuda_pool_fwd,
    .pool_bwd = ic__cuda_pool_bwd,
    .dense_create = dense_create_f32,
    .dense_fwd = ic__cuda_dense_fwd,
    .dense_bwd_data = ic__cuda_dense_bwd_data,
    .dense_bwd_weights = ic__cuda_dense_bwd_weights,
    .eltwise_create = ic__cuda_eltwise_create,
    .eltwise_fwd = ic__cuda_eltwise_fwd,
    .eltwise_bwd = ic__cuda_eltwise_bwd,
    .softmax_create = ic__cuda_softmax_create,
    .softmax_fwd = ic__cuda_softmax_fwd,
    .softmax_bwd = ic__cuda_softmax_bwd,
    .bn_create = ic__cuda_bn_create,
    .bn_fwd_training = ic__cuda_bn_fwd_training,
    .bn_fwd_inference = ic__cuda_bn_fwd_inference,
    .bn_bwd = ic__cuda_bn_bwd,
    .op_free = cuda_op_free,
};

/* No bf16 table yet (see above). */
static const ic__backend *cuda_with_prec(ic__prec p)
{
    return p == IC__PREC_F32 ? &g_cuda : NULL;
}

const ic__backend *ic__cuda_table(void);
const ic__backend *ic__cuda_table(void)
{
    return &g_cuda;
}
