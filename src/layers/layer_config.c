/* layer_config.c - small helpers for the layers' get_config (Keras model_config JSON).
 * Every helper passes a failed status through untouched, so a get_config is a chain of
 * calls; a failed cJSON allocation becomes IC_ERR_NOMEM with a message. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "layer_impl.h"

static ic_status nomem(const char *key)
{
    return ic_seterr(IC_ERR_NOMEM, "out of memory writing the model config (field '%s')", key);
}

static ic_status put(ic_status s, cJSON *c, const char *key, cJSON *item)
{
    if (s) {
        cJSON_Delete(item);
        return s;
    }
    if (!item)
        return nomem(key);
    if (!cJSON_AddItemToObject(c, key, item)) {
        cJSON_Delete(item);
        return nomem(key);
    }
    return IC_OK;
}

ic_status ic__cfg_base(const ic_layer *l, cJSON *c)
{
    ic_status s = put(IC_OK, c, "name", cJSON_CreateString(l->name));
    return put(s, c, "trainable", cJSON_CreateBool(l->trainable));
}

ic_status ic__cfg_int(ic_status s, cJSON *c, const char *key, int64_t v)
{
    return s ? s : put(s, c, key, cJSON_CreateNumber((double)v));
}

/* The shortest %g form that reads back as the same float. */
static double short_float(float v)
{
    char buf[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v)
            return strtod(buf, NULL);
    }
    return (double)v;
}

ic_status ic__cfg_float(ic_status s, cJSON *c, const char *key, float v)
{
    return s ? s : put(s, c, key, cJSON_CreateNumber(short_float(v)));
}

ic_status ic__cfg_bool(ic_status s, cJSON *c, const char *key, int v)
{
    return s ? s : put(s, c, key, cJSON_CreateBool(v != 0));
}

ic_status ic__cfg_str(ic_status s, cJSON *c, const char *key, const char *v)
{
    return s ? s : put(s, c, key, cJSON_CreateString(v));
}

ic_status ic__cfg_null(ic_status s, cJSON *c, const char *key)
{
    return s ? s : put(s, c, key, cJSON_CreateNull());
}

ic_status ic__cfg_pair(ic_status s, cJSON *c, const char *key, int64_t a, int64_t b)
{
    if (s)
        return s;
    double v[2] = {(double)a, (double)b};
    return put(s, c, key, cJSON_CreateDoubleArray(v, 2));
}

ic_status ic__cfg_json(ic_status s, cJSON *c, const char *key, const char *json)
{
    return s ? s : put(s, c, key, cJSON_Parse(json));
}
