/* layer_registry.c - the Keras layer classes that model configs can name, each with the
 * from_config defined in its layer's file. Adding a layer class adds one line here.
 * Nested models ("Model", "Functional", "Sequential") are not layers of this table: the
 * model builder (src/io/model_config.c) reads them. */
#include <string.h>

#include "layer_impl.h"

/* class name, from_config, alias (another spelling of the class above it). The order is
 * the one error messages list the supported classes in. */
#define IC__LAYER_CLASSES(X)                                                                       \
    X("Conv2D", ic__conv2d_from_config, 0)                                                         \
    X("Convolution2D", ic__conv2d_from_config, 1)                                                  \
    X("DepthwiseConv2D", ic__depthwise_conv2d_from_config, 0)                                      \
    X("MaxPooling2D", ic__max_pooling2d_from_config, 0)                                            \
    X("MaxPool2D", ic__max_pooling2d_from_config, 1)                                               \
    X("AveragePooling2D", ic__average_pooling2d_from_config, 0)                                    \
    X("AvgPool2D", ic__average_pooling2d_from_config, 1)                                           \
    X("GlobalAveragePooling2D", ic__global_average_pooling2d_from_config, 0)                       \
    X("GlobalAvgPool2D", ic__global_average_pooling2d_from_config, 1)                              \
    X("GlobalMaxPooling2D", ic__global_max_pooling2d_from_config, 0)                               \
    X("GlobalMaxPool2D", ic__global_max_pooling2d_from_config, 1)                                  \
    X("Flatten", ic__flatten_from_config, 0)                                                       \
    X("Dense", ic__dense_from_config, 0)                                                           \
    X("Dropout", ic__dropout_from_config, 0)                                                       \
    X("Activation", ic__activation_from_config, 0)                                                 \
    X("ReLU", ic__relu_from_config, 0)                                                             \
    X("ZeroPadding2D", ic__zero_padding2d_from_config, 0)                                          \
    X("BatchNormalization", ic__batch_normalization_from_config, 0)                                \
    X("Add", ic__add_from_config, 0)                                                               \
    X("Concatenate", ic__concatenate_from_config, 0)

/* The from_config functions are declared here, from the same list, so that a new class
 * needs no header line. */
#define IC__DECLARE(cls, fn, alias) ic_status fn(const ic__cfg_rd *r, ic_layer **out);
IC__LAYER_CLASSES(IC__DECLARE)

#define IC__ENTRY(cls, fn, alias) {cls, fn, alias},
static const ic__layer_reader g_readers[] = {IC__LAYER_CLASSES(IC__ENTRY)};

const ic__layer_reader *ic__layer_reader_find(const char *cls)
{
    for (size_t i = 0; cls && i < sizeof g_readers / sizeof g_readers[0]; i++)
        if (!strcmp(cls, g_readers[i].cls))
            return &g_readers[i];
    return NULL;
}

const ic__layer_reader *ic__layer_readers(int *n)
{
    *n = (int)(sizeof g_readers / sizeof g_readers[0]);
    return g_readers;
}
