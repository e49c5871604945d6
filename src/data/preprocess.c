/* preprocess.c - Keras's imagenet_utils.preprocess_input (channels_last, float input)
 * and which mode each application expects. */
#include <string.h>

#include "core/core.h"
#include "imgclass/apps.h"

ic_status ic_preprocess_apply(ic_preprocess mode, float *x, int64_t n, int c)
{
    if (n < 0 || c < 1 || (n > 0 && !x))
        return ic_seterr(IC_ERR_INVALID,
                         "preprocess_input: need n >= 0 pixels, c >= 1 channels and data "
                         "(got n %lld, c %d)",
                         (long long)n, c);
    switch (mode) {
    case IC_PREPROCESS_NONE: return IC_OK;
    case IC_PREPROCESS_TF: {
        int64_t total = n * c;
        for (int64_t i = 0; i < total; i++)
            x[i] = x[i] / 127.5f - 1.f;
        return IC_OK;
    }
    case IC_PREPROCESS_CAFFE: {
        if (c != 3)
            return ic_seterr(IC_ERR_SHAPE,
                             "preprocess_input (caffe): needs 3 channels (RGB), got %d", c);
        /* 'RGB'->'BGR', then zero-centre each channel on the ImageNet means (BGR). */
        for (int64_t i = 0; i < n; i++) {
            float *p = x + i * 3;
            float r = p[0], b = p[2];
            p[0] = b - 103.939f;
            p[1] = p[1] - 116.779f;
            p[2] = r - 123.68f;
        }
        return IC_OK;
    }
    case IC_PREPROCESS_TORCH: {
        if (c != 3)
            return ic_seterr(IC_ERR_SHAPE,
                             "preprocess_input (torch): needs 3 channels (RGB), got %d", c);
        static const float mean[3] = {0.485f, 0.456f, 0.406f};
        static const float std[3] = {0.229f, 0.224f, 0.225f};
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) {
                float *p = x + i * 3 + k;
                *p = (*p / 255.f - mean[k]) / std[k];
            }
        return IC_OK;
    }
    }
    return ic_seterr(IC_ERR_INVALID, "preprocess_input: unknown mode %d", (int)mode);
}

ic_preprocess ic_app_preprocess_mode(const char *name)
{
    if (!name)
        return IC_PREPROCESS_NONE;
    if (!strcmp(name, "vgg16") || !strcmp(name, "vgg19") || !strcmp(name, "resnet50"))
        return IC_PREPROCESS_CAFFE;
    if (!strcmp(name, "mobilenet_v2"))
        return IC_PREPROCESS_TF;
    return IC_PREPROCESS_NONE;
}

ic_status ic_preprocess_parse(const char *name, ic_preprocess *out)
{
    static const struct {
        const char *name;
        ic_preprocess mode;
    } modes[] = {{"none", IC_PREPROCESS_NONE},
                 {"caffe", IC_PREPROCESS_CAFFE},
                 {"tf", IC_PREPROCESS_TF},
                 {"torch", IC_PREPROCESS_TORCH}};
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "preprocess mode: out is NULL");
    for (size_t i = 0; name && i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(name, modes[i].name)) {
            *out = modes[i].mode;
            return IC_OK;
        }
    return ic_seterr(IC_ERR_INVALID,
                     "unknown preprocess mode '%s' (expected none, caffe, tf or torch)",
                     name ? name : "(null)");
}

const char *ic_preprocess_name(ic_preprocess mode)
{
    static const char *const names[] = {"none", "caffe", "tf", "torch"};
    return (unsigned)mode < sizeof names / sizeof names[0] ? names[mode] : "?";
}
