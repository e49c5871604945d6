/* plot.h - figures as PNG files: the training history as R's plot(history) draws it.
 *
 * The history figure follows R keras's plot.keras_training_history with ggplot2's
 * theme_grey: one panel per metric (loss above acc) with its own y scale and a shared
 * integer epoch axis, training and validation as two colours of filled points, loess
 * smooth lines when there are at least 10 epochs, strip labels on the left and a legend.
 */
#ifndef IMGCLASS_PLOT_H
#define IMGCLASS_PLOT_H

#include "status.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ic_plot_smooth {
    IC_PLOT_SMOOTH_NONE = 0,  /* points only */
    IC_PLOT_SMOOTH_AUTO = 1,  /* loess lines when epochs >= 10, as R (the default) */
    IC_PLOT_SMOOTH_ALWAYS = 2 /* loess lines whenever a series has 3 or more points */
} ic_plot_smooth;

typedef struct ic_plot_opts {
    int width, height; /* pixels, 16..16384; default 800 x 600 */
    int smooth;        /* an ic_plot_smooth; default IC_PLOT_SMOOTH_AUTO */
    const char *title; /* title above the panels; NULL or "" for none (the default) */
} ic_plot_opts;
ic_plot_opts ic_plot_opts_default(void);

/* Draws h (at least one epoch) into a PNG at png_path, replaced atomically. Non-finite
 * values are left out; a metric with no finite value gets an empty panel. o may be NULL
 * (defaults). */
ic_status ic_plot_history(const ic_history *h, const char *png_path, const ic_plot_opts *o);

#ifdef __cplusplus
}
#endif
#endif
