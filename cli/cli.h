/* cli.h - shared pieces of the imgclass command: subcommand entry points and
 * argument helpers. The CLI is the only code that prints to the user or exits. */
#ifndef IC_CLI_H
#define IC_CLI_H

#include <stdint.h>

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

#endif
