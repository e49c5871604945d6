/* cli.h - shared pieces of the imgclass command: subcommand entry points and
 * argument helpers. The CLI is the only code that prints to the user or exits. */
#ifndef IC_CLI_H
#define IC_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "imgclass/imgclass.h"

/* Each subcommand gets argv after the subcommand name (argv[0] = subcommand). Returns
 * the process exit status. */
int ic_cli_summary(int argc, char **argv);
int ic_cli_split(int argc, char **argv);
int ic_cli_augment_preview(int argc, char **argv);
int ic_cli_weights(int argc, char **argv);
int ic_cli_plot(int argc, char **argv);
int ic_cli_evaluate(int argc, char **argv);
int ic_cli_predict(int argc, char **argv);
int ic_cli_train(int argc, char **argv);
int ic_cli_finetune(int argc, char **argv);

/* Prints "imgclass <cmd>: <message>" to stderr and returns 1 (or 2 for usage errors). */
int ic_cli_fail(const char *cmd, ic_status s);
int ic_cli_usage_error(const char *cmd, const char *fmt, ...);

/* Parses "150x150x3" or "150x150" (channels default 3). */
int ic_cli_parse_shape(const char *s, int64_t *h, int64_t *w, int64_t *c);
/* Parses a positive integer; returns 0 on success. */
int ic_cli_parse_int(const char *s, long *out);
/* Handles the options every command accepts (--threads N, --backend NAME).
 * Returns 1 if argv[*i] was consumed (advancing *i), 0 if not, -1 on error. */
int ic_cli_common_opt(const char *cmd, int argc, char **argv, int *i);
/* Parses a finite number (the whole string); returns 0 on success. */
int ic_cli_parse_num(const char *s, double *out);

/* --precision fp32|bf16 (precision.c), for the commands that run a model: train, finetune,
 * evaluate, predict. Handles argv[*i] if it is --precision (advancing *i past its value):
 * returns 1 (taken), 0 (another option) or -1 (usage error printed: exit status 2). */
int ic_cli_precision_opt(const char *cmd, int argc, char **argv, int *i, ic_precision *p);
/* Sets m's precision. bf16 where it is not native falls back to fp32 (the library's rule)
 * and the first such fallback in the process prints the one-line notice on stderr. */
ic_status ic_cli_set_precision(ic_model *m, ic_precision p);
/* What m runs in, for the output: "fp32", "bf16", or "fp32 (bf16 is not native ...)". */
const char *ic_cli_precision_str(const ic_model *m, ic_precision asked);
/* The option's help lines, its text starting at column col. */
void ic_cli_precision_help(FILE *fp, int col);

/* --pooling none|avg|max: the base's own `pooling` argument (Keras applications). Returns
 * 0, or a usage error printed (exit status 2). */
int ic_cli_pooling_arg(const char *cmd, const char *v, ic_pooling *out);

#endif
