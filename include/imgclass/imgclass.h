/* imgclass.h - umbrella header for the imgclass C API. */
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
#include "infer.h"

#endif
