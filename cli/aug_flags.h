/* aug_flags.h - the augmentation options shared by the commands that take them
 * (augment-preview, train), named as Keras names them: --rotation-range,
 * --width-shift-range, --height-shift-range, --shear-range, --zoom-range, --horizontal-flip,
 * --vertical-flip, --fill-mode, --cval, and --augment for exactly the book's set. */
#ifndef IC_CLI_AUG_FLAGS_H
#define IC_CLI_AUG_FLAGS_H

#include <stdio.h>

#include "cli.h"

/* Options as given. --augment starts from ic_image_data_generator_book() (rescale 1/255
 * included); every explicit option overrides its field, whatever the order on the line. */
typedef struct ic_cli_aug {
    int augment;                 /* --augment seen */
    struct {
        int rot, wshift, hshift, shear, zoom, fill, cval;
    } given;                     /* which explicit options were seen (private) */
    ic_image_data_generator opt; /* the explicit values (private) */
} ic_cli_aug;

/* The number of entries ic_cli_aug_table writes (its IC_CLI_END included). */
#define IC_CLI_AUG_OPTS 12

void ic_cli_aug_init(ic_cli_aug *a);
/* The options' table (cli.h) into t[IC_CLI_AUG_OPTS], writing into a; a table of a command
 * includes it (IC_CLI_INCLUDE). */
void ic_cli_aug_table(ic_cli_aug *a, ic_cli_opt *t);
/* The generator: the book's set with --augment, else Keras's defaults (no augmentation,
 * no rescale), with the explicit options applied on top. */
ic_image_data_generator ic_cli_aug_generator(const ic_cli_aug *a);
/* Writes the options' help lines (two-space indent, 80 columns). */
void ic_cli_aug_help(FILE *fp);

#endif
