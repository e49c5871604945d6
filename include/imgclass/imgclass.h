/* imgclass.h - umbrella header for the imgclass C API: image classification on small
 * datasets as in Chollet & Allaire's "Image Classification on Small Datasets with Keras"
 * ("the book" in these headers). */
#ifndef IMGCLASS_H
#define IMGCLASS_H

#define IC_VERSION_MAJOR 0
#define IC_VERSION_MINOR 1
#define IC_VERSION_PATCH 0

#include "status.h"
#include "tensor.h"
#include "layer.h"
#include "model.h"
#include "train.h"
#include "apps.h"
#include "data.h"
#include "io.h"
#include "plot.h"
#include "fit.h"
#include "split.h"
#include "infer.h"

#endif
