/* precision.c - --precision fp32|bf16 for the commands that run a model (train, finetune,
 * evaluate, predict): the option's value, its help lines, and setting it on a model with the
 * one-line notice when bf16 is not native here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int ic_cli_parse_precision(const char *v, void *dst)
{
    return ic_precision_parse(v, dst) != IC_OK;
}

ic_status ic_cli_set_precision(ic_model *m, ic_precision p)
{
    /* Once per process: --cache-features sets it on three models (base, head, full). */
    static int noticed;
    ic_status s = ic_model_set_precision(m, p);
    if (s)
        return s;
    if (p == IC_PRECISION_BF16 && ic_model_precision(m) != p && !noticed) {
        noticed = 1;
        fprintf(stderr, "imgclass: notice: this CPU has no native bf16 (AVX512_BF16 or AMX); "
                        "running in fp32\n");
    }
    return IC_OK;
}

const char *ic_cli_precision_str(const ic_model *m, ic_precision asked)
{
    ic_precision p = ic_model_precision(m);
    if (asked == IC_PRECISION_BF16 && p != asked)
        return "fp32 (bf16 is not native on this CPU)";
    return ic_precision_name(p);
}

void ic_cli_precision_help(FILE *fp, int col)
{
    /* The text lines fit 80 columns from column 26 (train's and finetune's help). */
    static const char *const text[] = {
        "fp32 (default) or bf16 (Keras's mixed_bfloat16: conv",
        "and dense in bfloat16, weights in float32); faster on",
        "CPUs with AVX512_BF16 or AMX, elsewhere fp32 (notice)",
    };
    fprintf(fp, "  %-*s%s\n", col - 2, "--precision P", text[0]);
    for (size_t k = 1; k < sizeof text / sizeof text[0]; k++)
        fprintf(fp, "%*s%s\n", col, "", text[k]);
}
