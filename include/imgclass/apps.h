/* apps.h - ready-made architectures (Keras applications and the book's convnet). */
#ifndef IMGCLASS_APPS_H
#define IMGCLASS_APPS_H

#include "io.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ic_pooling { IC_POOLING_NONE = 0, IC_POOLING_AVG, IC_POOLING_MAX } ic_pooling;

typedef struct ic_app_opts {
    int include_top;          /* 1: the ImageNet classifier head (needs 224x224x3) */
    int64_t input_shape[3];   /* H, W, C; zeros = the architecture's default */
    ic_pooling pooling;       /* only when include_top = 0 */
    int classes;              /* with include_top, default 1000 */
} ic_app_opts;
ic_app_opts ic_app_opts_default(void);

/* VGG16 (Keras applications), randomly initialised; layer names as Keras
 * (block1_conv1 ... block5_pool, fc1, fc2, predictions), model name "vgg16".
 * Caller frees. */
ic_status ic_app_vgg16(ic_model **out, const ic_app_opts *o);
ic_status ic_app_vgg19(ic_model **out, const ic_app_opts *o);

/* MobileNetV2 (keras.applications.mobilenet_v2): alpha 0.35, 0.5, 0.75, 1.0, 1.3 or 1.4;
 * model name "mobilenetv2_<alpha>_<rows>", Keras layer names (Conv1, bn_Conv1,
 * expanded_conv_depthwise, block_1_expand, ..., Conv_1, Conv_1_bn, out_relu). */
ic_status ic_app_mobilenet_v2(ic_model **out, float alpha, const ic_app_opts *o);
/* ResNet50 (keras.applications.resnet50, Keras 2.2.4 layer names: conv1, bn_conv1,
 * res2a_branch2a, ..., avg_pool with include_top). */
ic_status ic_app_resnet50(ic_model **out, const ic_app_opts *o);

/* Applies Keras's preprocess_input in place to n pixels of c channels (RGB, 0..255):
 * caffe (RGB->BGR, minus [103.939, 116.779, 123.68]), tf (x/127.5 - 1), torch (x/255,
 * minus [0.485, 0.456, 0.406], over [0.229, 0.224, 0.225]); IC_PREPROCESS_NONE: no-op. */
ic_status ic_preprocess_apply(ic_preprocess mode, float *x, int64_t n, int c);
/* The preprocessing each application expects ("vgg16" -> caffe, "mobilenet_v2" -> tf). */
ic_preprocess ic_app_preprocess_mode(const char *name);
ic_status ic_preprocess_parse(const char *name, ic_preprocess *out); /* none|caffe|tf|torch */
/* The name ic_preprocess_parse reads ("none", "caffe", "tf", "torch"; "?" for another value). */
const char *ic_preprocess_name(ic_preprocess mode);

/* An application by name: "vgg16", "vgg19", "mobilenet_v2" (alpha; <= 0 means 1.0) or
 * "resnet50" (alpha ignored); o may be NULL (defaults). Unknown name: IC_ERR_NOT_FOUND,
 * the message lists the known names. Caller frees *out. */
ic_status ic_app_by_name(const char *name, float alpha, const ic_app_opts *o, ic_model **out);

/* The book's feature-extraction model: Sequential(base as one layer, head). The head:
 * Flatten (only when the base's output is not already a vector, i.e. without pooling),
 * Dense(units, relu) unless units is 0 (a linear classifier, Keras's usual head after
 * pooling='avg'), then the output: 1 sigmoid unit for 2 classes, else a softmax. Takes
 * base (also on failure); caller frees *out. */
ic_status ic_app_classifier(ic_model *base, int units, int classes, ic_model **out);
/* The name (as ic_weights_find knows it) of Keras's no-top ImageNet weights for an
 * application at input height rows: "vgg16_notop", "mobilenet_v2_1.0_224_notop" (rows
 * other than 96, 128, 160, 192 and 224 load the 224 file, as keras.applications does).
 * IC_ERR_NOT_FOUND (message says why) for an unknown application or alpha. */
ic_status ic_app_weights_name(const char *app, float alpha, int64_t rows, char *buf,
                              size_t size);
/* Loads pretrained weights into base, built as application app (alpha, input height rows):
 * weights "imagenet" (Keras's no-top file named by ic_app_weights_name, from the cache or
 * fetched, io.h), "none" (nothing) or a Keras weights file (by layer order). path (may be
 * NULL) receives the file loaded ("" for none). Errors: no ImageNet weights for app / alpha
 * (IC_ERR_NOT_FOUND); the download's status with its message after "cannot get the
 * ImageNet weights NAME: "; the load's after "loading weights into APP: ". */
ic_status ic_app_load_weights(ic_model *base, const char *app, float alpha, int64_t rows,
                              const char *weights, char *path, size_t size);

/* The book's small convnet for 2 classes: Conv2D 32/64/128/128 (3x3 relu) each
 * followed by MaxPooling2D, Flatten, Dropout(dropout) (skipped when 0), Dense 512
 * relu, Dense 1 sigmoid (or classes softmax when classes > 2). Sequential. */
ic_status ic_app_smallcnn(ic_model **out, int64_t h, int64_t w, int64_t c, float dropout,
                          int classes);

#ifdef __cplusplus
}
#endif
#endif
