/* progress.h - Keras's training progress bar (keras.utils.Progbar, verbose = 1).
 *
 * On a terminal: "Epoch 3/30", then one line redrawn in place (\r) with the bar, the ETA
 * and the running loss / acc, finished at the end of the epoch with the elapsed time, the
 * time per step and the validation metrics. Not on a terminal (a log file, a pipe): the
 * "Epoch 3/30" line and exactly one line per epoch at its end, with no \r:
 *   100/100 [==============================] - 12s 120ms/step - loss: 0.4321 - acc: 0.8015 -
 *   val_loss: 0.3921 - val_acc: 0.8290
 * (one line; values as Keras prints them: %.4f, or %.4e when |v| <= 1e-3). */
#ifndef IC_CLI_PROGRESS_H
#define IC_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct ic_cli_progress {
    FILE *fp;
    int tty;          /* redraw in place */
    int64_t target;   /* steps in the epoch */
    int64_t first;    /* steps already done when the epoch (re)started (resume) */
    double t0;        /* start of the epoch (or of its resumed part), seconds */
    double last_draw; /* tty: time of the last redraw */
    int last_len;     /* tty: length of the last drawn line (to blank leftovers) */
} ic_cli_progress;

/* fp: where to print (stdout); tty < 0: ask isatty(fileno(fp)). */
void ic_cli_progress_init(ic_cli_progress *p, FILE *fp, int tty);
/* Prints "Epoch E/EPOCHS" and starts the clock; first = steps already done (resume). */
void ic_cli_progress_epoch(ic_cli_progress *p, int epoch, int epochs, int64_t steps, int64_t first);
/* After step `step` (1..steps) with the running means: redraws on a terminal (at most 10
 * times a second), nothing otherwise. */
void ic_cli_progress_step(ic_cli_progress *p, int64_t step, double loss, double acc);
/* The final line of the epoch. val_loss / val_acc NaN: not shown; skipped > 0 appends
 * "- skipped: N bad files". */
void ic_cli_progress_end(ic_cli_progress *p, double loss, double acc, double val_loss,
                         double val_acc, int64_t skipped);
/* Ends a partly drawn line (interrupt, error) so that messages start on a fresh line. */
void ic_cli_progress_break(ic_cli_progress *p);

/* Seconds from a monotonic clock. */
double ic_cli_now(void);

#endif
