/* test_ops_cpu.c - the oneDNN backend ("cpu") against the reference kernels, op by op,
 * over the cases of ops/ops_suite.h (shared with the cuda backend's test): every op
 * forward and backward, the weights cache contract, in-place eltwise. Also, for this
 * backend only, error translation and allocation failures. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_common.h"
#include "harness.h"
#include "ops/ops_suite.h"

static const ic__backend *cpu;

/* ---- errors ---- */

static void test_errors(void)
{
    ic__op *op = (ic__op *)1;
    /* output size inconsistent with the input */
    ic__conv_desc d = {1, 8, 8, 4, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, IC__ACT_NONE, IC__PREC_F32};
    EXPECT_ERR(cpu->conv_create(&op, &d), IC_ERR_SHAPE, "conv2d");
    CHECK(op == NULL);
    /* a max-pool backward with no training forward before it */
    ic__pool_desc p = {1, 4, 4, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, IC__POOL_MAX};
    OK(cpu->pool_create(&op, &p));
    float diff_src[32], diff_dst[8] = {0}, src[32] = {0};
    EXPECT_ERR(cpu->pool_bwd(op, diff_src, diff_dst, src), IC_ERR_INVALID, "training forward");
    cpu->op_free(op);
    cpu->op_free(NULL);
    /* oneDNN's failures come back as IC_ERR_BACKEND with oneDNN's text and the op */
    EXPECT_ERR(ic__cpu_fail(NULL, "convolution forward (execution)", dnnl_unimplemented),
               IC_ERR_BACKEND, "oneDNN convolution forward (execution) failed: unimplemented");
}

/* ---- fault injection: fail the k-th allocation through the hooks ---- */

/* One pass over create + every call of a few ops; returns the first failure status. */
static ic_status fi_run(void)
{
    ic_status s;
    ic__op *op = NULL;
    float buf[4 * 6 * 6 * 16], w[3 * 3 * 16 * 16], b[16], out[4 * 6 * 6 * 16];
    t_fill_uniform(buf, 4 * 6 * 6 * 16, 77, -1.f, 1.f);
    t_fill_uniform(w, 3 * 3 * 16 * 16, 78, -1.f, 1.f);
    t_fill_uniform(b, 16, 79, -1.f, 1.f);
    ic__conv_desc cd = {4, 6, 6, 16, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, IC__ACT_RELU, IC__PREC_F32};
    if ((s = cpu->conv_create(&op, &cd)) != IC_OK)
        return s;
    if (!(s = cpu->conv_fwd(op, out, buf, w, 1, b)) &&
        !(s = cpu->conv_bwd_data(op, out, buf, w, 1)))
        s = cpu->conv_bwd_weights(op, w, b, buf, out);
    cpu->op_free(op);
    if (s)
        return s;
    ic__pool_desc pd = {4, 6, 6, 16, 3, 3, 2, 2, 2, 2, 0, 0, 0, 0, IC__POOL_MAX};
    if ((s = cpu->pool_create(&op, &pd)) != IC_OK)
        return s;
    if (!(s = cpu->pool_fwd(op, out, buf, 1)) && !(s = cpu->pool_fwd(op, out, buf, 0)))
        s = cpu->pool_bwd(op, out, buf, buf);
    cpu->op_free(op);
    if (s)
        return s;
    ic__dense_desc dd = {4, 36, 16, 1, IC__ACT_TANH, IC__PREC_F32};
    if ((s = cpu->dense_create(&op, &dd)) != IC_OK)
        return s;
    if (!(s = cpu->dense_fwd(op, out, buf, w, 0, b)) &&
        !(s = cpu->dense_bwd_data(op, out, buf, w, 0)))
        s = cpu->dense_bwd_weights(op, w, b, buf, out);
    cpu->op_free(op);
    if (s)
        return s;
    ic__bn_desc bd = {36, 16, 1e-3f};
    float m[16], v[16];
    if ((s = cpu->bn_create(&op, &bd)) != IC_OK)
        return s;
    if (!(s = cpu->bn_fwd_training(op, out, m, v, buf, NULL, NULL)))
        s = cpu->bn_bwd(op, out, w, b, buf, buf, m, v, NULL, 0);
    cpu->op_free(op);
    return s;
}

int main(void)
{
    cpu = ic__backend_cpu();
    tb = cpu;
    ref = ic__backend_ref();
    CHECK(!strcmp(cpu->name, "cpu"));

    ops_suite_run();

    test_errors();
    fi_each("cpu ops", fi_run);
    return t_finish();
}
