/* load_weights.c - ic_app_load_weights (apps.h): a base's pretrained weights by the names a
 * user gives them ("imagenet", "none", a file), through the public weights API. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "imgclass/apps.h"
#include "imgclass/io.h"

/* The failed call's message after a prefix (the message is copied first: ic_seterr
 * overwrites it). */
static ic_status prefixed(ic_status s, const char *what, const char *name)
{
    char why[512];
    snprintf(why, sizeof why, "%s", *ic_errmsg() ? ic_errmsg() : ic_status_str(s));
    return ic_seterr(s, "%s %s: %s", what, name, why);
}

ic_status ic_app_load_weights(ic_model *base, const char *app, float alpha, int64_t rows,
                              const char *weights, char *path, size_t size)
{
    char file[4096] = "";
    if (path && size)
        path[0] = '\0';
    if (!base || !app || !weights)
        return ic_seterr(IC_ERR_INVALID, "ic_app_load_weights: NULL model, app or weights");
    if (!strcmp(weights, "none"))
        return IC_OK;
    ic_status s;
    if (!strcmp(weights, "imagenet")) {
        char wname[96];
        if ((s = ic_app_weights_name(app, alpha, rows, wname, sizeof wname)))
            return s;
        if (!ic_weights_find(wname))
            return ic_seterr(IC_ERR_NOT_FOUND, "no ImageNet weights known for %s (alpha %g)", app,
                             alpha > 0 ? alpha : 1.0);
        if ((s = ic_weights_fetch(wname, NULL, NULL, NULL, file, sizeof file)))
            return prefixed(s, "cannot get the ImageNet weights", wname);
    } else {
        snprintf(file, sizeof file, "%s", weights);
    }
    ic_load_weights_opts lo = ic_load_weights_opts_default();
    if ((s = ic_model_load_weights(base, file, &lo)))
        return prefixed(s, "loading weights into", app);
    if (path && size)
        snprintf(path, size, "%s", file);
    return IC_OK;
}
