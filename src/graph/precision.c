/* precision.c - the model's compute precision (Keras's mixed-precision policy).
 *
 * The precision only picks which backend table the model's plans are built with
 * (ic__plan_get); a nested model runs inside its parent's plan, so it follows the parent.
 * Plans are dropped so the next step rebuilds them: ops of another precision hold other
 * primitives and converted weights. */
#include <string.h>

#include "backend/backend.h"
#include "graph.h"

static ic__prec to_prec(ic_precision p) { return p == IC_PRECISION_BF16 ? IC__PREC_BF16 : IC__PREC_F32; }

int ic_precision_supported(ic_precision p)
{
    const ic__backend *be = ic__backend_current();
    ic__prec q = to_prec(p);
    return ic__backend_with_prec(be, q)->prec == q && ic__backend_prec_native(be, q);
}

ic_status ic_model_set_precision(ic_model *m, ic_precision p)
{
    if (p != IC_PRECISION_FP32 && p != IC_PRECISION_BF16)
        return ic_seterr(IC_ERR_INVALID, "unknown precision %d", (int)p);
    if (!ic_precision_supported(p))
        p = IC_PRECISION_FP32; /* documented fallback: callers read ic_model_precision */
    if (p != m->precision) {
        m->precision = p;
        ic__model_drop_plans(m);
    }
    return IC_OK;
}

ic_precision ic_model_precision(const ic_model *m) { return m->precision; }

ic_status ic_precision_parse(const char *s, ic_precision *out)
{
    if (!strcmp(s, "fp32") || !strcmp(s, "float32"))
        *out = IC_PRECISION_FP32;
    else if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16") || !strcmp(s, "mixed_bfloat16"))
        *out = IC_PRECISION_BF16;
    else
        return ic_seterr(IC_ERR_INVALID, "unknown precision '%s' (expected fp32 or bf16)", s);
    return IC_OK;
}

const char *ic_precision_name(ic_precision p) { return p == IC_PRECISION_BF16 ? "bf16" : "fp32"; }
