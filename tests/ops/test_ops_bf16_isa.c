/* test_ops_bf16_isa.c - bf16 is "native" for the cpu backend only when oneDNN's
 * effective ISA has AVX512_BF16: capped with DNNL_MAX_CPU_ISA=AVX512_CORE it is not, so
 * the model falls back to float32 (ic_model_set_precision), while the reference
 * backend's exact emulation stays available. The variable is set from main, before
 * anything asks oneDNN for its ISA (oneDNN reads it once, on first use), so ctest needs
 * no special environment. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_common.h"
#include "harness.h"

int main(void)
{
    setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE", 1);
    const ic__backend *cpu = ic__backend_cpu(), *ref = ic__backend_ref();
    CHECKF(!ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_bf16),
           "DNNL_MAX_CPU_ISA=AVX512_CORE was not honoured (effective ISA 0x%x)",
           (unsigned)dnnl_get_effective_cpu_isa());
    CHECK(ic__backend_prec_native(cpu, IC__PREC_BF16) == 0);
    CHECK(ic__backend_prec_native(ic__backend_with_prec(cpu, IC__PREC_BF16), IC__PREC_BF16) == 0);
    CHECK(ic__backend_prec_native(cpu, IC__PREC_F32) == 1);
    CHECK(ic__backend_prec_native(ref, IC__PREC_BF16) == 1);

    OK(ic_set_backend("cpu"));
    CHECK(ic_precision_supported(IC_PRECISION_BF16) == 0);
    ic_model *m;
    OK(ic_model_create(&m, NULL, 1));
    int64_t in[1] = {4};
    OK(ic_model_input(m, 1, in, NULL, NULL));
    ic_layer *l;
    OK(ic_layer_dense(&l, 2, IC_ACT_LINEAR, 1, NULL));
    OK(ic_model_add(m, l));
    OK(ic_model_set_precision(m, IC_PRECISION_BF16));
    CHECK(ic_model_precision(m) == IC_PRECISION_FP32); /* the documented fallback */

    OK(ic_set_backend("ref"));
    CHECK(ic_precision_supported(IC_PRECISION_BF16) == 1);
    OK(ic_model_set_precision(m, IC_PRECISION_BF16));
    CHECK(ic_model_precision(m) == IC_PRECISION_BF16);
    ic_model_free(m);
    return t_finish();
}
