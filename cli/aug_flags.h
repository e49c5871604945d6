/* aug_flags.h - the augmentation options shared by the commands that take them
 * (augment-preview, train), named as Keras names them: --rotation-range,
 * --width-shift-range, --height-shift-range, --shear-range, --zoom-range, --horizontal-flip,
 * --vertical-flip, --fill-mode, --cval, and --augment for exactly the book's set. */
#ifndef IC_CLI_AUG_FLAGS_H
#define IC_CLI_AUG_FLAGS_H

#include <stdio.h>

#include "imgclass/imgclass.h"

/* Options as given. --augment starts from ic_image_data_generator_book() (rescale 1/255
 * included); every explicit option overrides its field, whatever the order on the line. */
typedef struct ic_cli_aug {
    int augment;                 /* --augment seen */
    unsigned given;              /* bit per explicit option (private) */
    ic_image_data_generator opt; /* the explicit values (private) */
} ic_cli_aug;

void ic_cli_aug_init(ic_cli_aug *a);
/* Handles argv[*i] if it is an augmentation option (advancing *i past its value).
 * Returns 1 if consumed, 0 if not an augmentation option, -1 after printing a one-line
 * usage error for cmd (exit with status 2). */
int ic_cli_aug_opt(const char *cmd, int argc, char **argv, int *i, ic_cli_aug *a);
/* The generator: the book's set with --augment, else Keras's defaults (no augmentation,
 * no rescale), with the explicit options applied on top. */
ic_image_data_generator ic_cli_aug_generator(const ic_cli_aug *a);
/* Writes the options' help lines (two-space indent, 80 columns). */
void ic_cli_aug_help(FILE *fp);

#endif
