/* apps.h - ready-made architectures (Keras applications and the book's convnet). */
#ifndef IMGCLASS_APPS_H
#define IMGCLASS_APPS_H

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

/* The book's small convnet for 2 classes: Conv2D 32/64/128/128 (3x3 relu) each
 * followed by MaxPooling2D, Flatten, Dropout(dropout) (skipped when 0), Dense 512
 * relu, Dense 1 sigmoid (or classes softmax when classes > 2). Sequential. */
ic_status ic_app_smallcnn(ic_model **out, int64_t h, int64_t w, int64_t c, float dropout,
                          int classes);

#ifdef __cplusplus
}
#endif
#endif
