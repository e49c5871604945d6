/* layer_config_read.c - helpers for the layers' from_config (Keras model_config JSON ->
 * options of the public constructors).
 *
 * A from_config reads its fields through an ic__cfg_rd that carries the layer's name and
 * class, so every error names the layer and the field: "layer 'fc1' (Dense): field
 * 'units' must be an integer, got "x"". Absent fields take Keras's defaults; ints are
 * accepted for pairs and 0/1 for booleans, as other Keras versions write them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "layer_impl.h"

const cJSON *ic__rd_field(const ic__cfg_rd *r, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(r->cfg, key);
}

ic_status ic__rd_bad(const ic__cfg_rd *r, const char *key, const char *want)
{
    char *got = NULL;
    const cJSON *v = ic__rd_field(r, key);
    if (v)
        got = cJSON_PrintUnformatted(v);
    ic_status s = ic_seterr(IC_ERR_FORMAT, "layer '%s' (%s): field '%s' must be %s, got %.60s",
                            r->name, r->cls, key, want, got ? got : "nothing");
    cJSON_free(got);
    return s;
}

int ic__json_is_int(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) < 1e9;
}

ic_status ic__rd_int(const ic__cfg_rd *r, const char *key, int def_ok, int def, int *out)
{
    const cJSON *v = ic__rd_field(r, key);
    if (!v && def_ok) {
        *out = def;
        return IC_OK;
    }
    if (!ic__json_is_int(v))
        return ic__rd_bad(r, key, "an integer");
    *out = (int)v->valuedouble;
    return IC_OK;
}

ic_status ic__rd_float(const ic__cfg_rd *r, const char *key, float def, float *out)
{
    const cJSON *v = ic__rd_field(r, key);
    if (!v) {
        *out = def;
        return IC_OK;
    }
    if (!cJSON_IsNumber(v))
        return ic__rd_bad(r, key, "a number");
    *out = (float)v->valuedouble;
    return IC_OK;
}

ic_status ic__rd_bool(const ic__cfg_rd *r, const char *key, int def, int *out)
{
    const cJSON *v = ic__rd_field(r, key);
    if (!v) {
        *out = def;
        return IC_OK;
    }
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (ic__json_is_int(v))
        *out = v->valuedouble != 0;
    else
        return ic__rd_bad(r, key, "true or false");
    return IC_OK;
}

ic_status ic__rd_pair(const ic__cfg_rd *r, const char *key, int def_ok, int def, int *a, int *b)
{
    const cJSON *v = ic__rd_field(r, key);
    if (!v && def_ok) {
        *a = *b = def;
        return IC_OK;
    }
    if (ic__json_is_int(v)) {
        *a = *b = (int)v->valuedouble;
        return IC_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
        ic__json_is_int(cJSON_GetArrayItem(v, 0)) && ic__json_is_int(cJSON_GetArrayItem(v, 1))) {
        *a = (int)cJSON_GetArrayItem(v, 0)->valuedouble;
        *b = (int)cJSON_GetArrayItem(v, 1)->valuedouble;
        return IC_OK;
    }
    return ic__rd_bad(r, key, "an integer or a list of 2 integers");
}

ic_status ic__rd_padding(const ic__cfg_rd *r, ic_padding *out)
{
    const cJSON *v = ic__rd_field(r, "padding");
    if (!v) {
        *out = IC_PAD_VALID;
        return IC_OK;
    }
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "valid"))
        *out = IC_PAD_VALID;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "same"))
        *out = IC_PAD_SAME;
    else
        return ic__rd_bad(r, "padding", "\"valid\" or \"same\"");
    return IC_OK;
}

ic_status ic__rd_activation(const ic__cfg_rd *r, int required, ic_activation *out)
{
    const cJSON *v = ic__rd_field(r, "activation");
    if ((!v && !required) || cJSON_IsNull(v)) {
        *out = IC_ACT_LINEAR;
        return IC_OK;
    }
    if (!cJSON_IsString(v))
        return ic__rd_bad(r, "activation", "an activation name");
    ic_status s = ic_activation_parse(v->valuestring, out);
    if (s)
        return ic__errctx(IC_ERR_UNSUPPORTED, "layer '%s' (%s)", r->name, r->cls);
    return IC_OK;
}

ic_status ic__rd_channels_last(const ic__cfg_rd *r)
{
    const cJSON *v = ic__rd_field(r, "data_format");
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "channels_last")))
        return IC_OK;
    if (cJSON_IsString(v))
        return ic_seterr(IC_ERR_UNSUPPORTED,
                         "layer '%s' (%s): data_format '%s' is not supported (channels_last only)",
                         r->name, r->cls, v->valuestring);
    return ic__rd_bad(r, "data_format", "\"channels_last\"");
}

ic_status ic__rd_null(const ic__cfg_rd *r, const char *key)
{
    const cJSON *v = ic__rd_field(r, key);
    if (!v || cJSON_IsNull(v))
        return IC_OK;
    return ic_seterr(IC_ERR_UNSUPPORTED, "layer '%s' (%s): a non-null '%s' is not supported",
                     r->name, r->cls, key);
}

int ic__cfg_dtype_ok(const cJSON *dt)
{
    if (!dt || cJSON_IsNull(dt))
        return 1;
    if (cJSON_IsString(dt))
        return !strcmp(dt->valuestring, "float32");
    if (!cJSON_IsObject(dt))
        return 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(dt, "config");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
    return cJSON_IsString(n) && !strcmp(n->valuestring, "float32");
}

void ic__rd_warn_ignored(const ic__cfg_rd *r)
{
    static const char *const keys[] = {
        "kernel_regularizer", "bias_regularizer",      "activity_regularizer", "kernel_constraint",
        "bias_constraint",    "depthwise_regularizer", "depthwise_constraint", "beta_regularizer",
        "gamma_regularizer",  "beta_constraint",       "gamma_constraint",     NULL};
    for (const char *const *k = keys; *k; k++) {
        const cJSON *v = ic__rd_field(r, *k);
        if (v && !cJSON_IsNull(v))
            ic__log(2, "layer '%s' (%s): '%s' is ignored (not implemented)", r->name, r->cls, *k);
    }
}

ic_status ic__rd_axis(const ic__cfg_rd *r)
{
    const cJSON *v = ic__rd_field(r, "axis");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1)
        v = cJSON_GetArrayItem(v, 0);
    if (!v || (ic__json_is_int(v) && (v->valuedouble == -1 || v->valuedouble > 0)))
        return IC_OK;
    return ic_seterr(IC_ERR_UNSUPPORTED,
                     "layer '%s' (%s): only the last axis is supported (axis -1)", r->name, r->cls);
}
