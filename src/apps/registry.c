/* registry.c - applications by name (the CLI's --base option). */
#include <string.h>

#include "core/core.h"
#include "imgclass/apps.h"

ic_status ic_app_by_name(const char *name, float alpha, const ic_app_opts *o, ic_model **out)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "application: out is NULL");
    *out = NULL;
    if (name && !strcmp(name, "vgg16"))
        return ic_app_vgg16(out, o);
    if (name && !strcmp(name, "vgg19"))
        return ic_app_vgg19(out, o);
    if (name && !strcmp(name, "mobilenet_v2"))
        return ic_app_mobilenet_v2(out, alpha > 0.f ? alpha : 1.f, o);
    if (name && !strcmp(name, "resnet50"))
        return ic_app_resnet50(out, o);
    return ic_seterr(IC_ERR_NOT_FOUND,
                     "unknown application '%s' (known: vgg16, vgg19, mobilenet_v2, resnet50)",
                     name ? name : "(null)");
}
