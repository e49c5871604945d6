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

/* The options of a command as a table (options.c): what each option's value is and where it
 * goes, so that the commands share one parser and its error messages. */
typedef enum ic_cli_kind {
    IC_CLI_END = 0, /* ends a table */
    IC_CLI_SET,     /* no value: *(int *)dst = (int)lo */
    IC_CLI_INT,     /* a number >= 0 in [lo, hi] (hi 0: no limit) into an int */
    IC_CLI_LONG,    /* the same into a long */
    IC_CLI_U64,     /* the same into an unsigned long long (--seed) */
    IC_CLI_NUM,     /* a finite number in [lo, hi] (hi 0: no limit) into a double */
    IC_CLI_FLOAT,   /* the same into a float */
    IC_CLI_STR,     /* the value as given (const char *): any, or one of choices */
    IC_CLI_ENUM,    /* the value's index in choices, into an enum (int-sized in our ABIs) */
    IC_CLI_PARSE,   /* parse(value, dst) returns 0 */
    IC_CLI_INCLUDE  /* the options of another table (dst) */
} ic_cli_kind;

typedef struct ic_cli_opt {
    const char *name; /* "--epochs" */
    ic_cli_kind kind;
    void *dst;
    double lo, hi;
    /* The usage error for a bad value: a format with %s for the value (NULL for an
     * IC_CLI_INT or IC_CLI_LONG: "NAME needs a number >= lo, got 'VALUE'"). */
    const char *err;
    /* When the value is missing: NULL: "unknown option or missing value: NAME"; "": err
     * with 'nothing' for the value; else a format with %s for the name. */
    const char *missing;
    const char *const *choices;           /* NULL-terminated; "" is an index never chosen */
    int (*parse)(const char *v, void *dst); /* IC_CLI_PARSE */
    int *seen;                            /* set to 1 when the option is given */
    const char *alias;                    /* "-o" for "--output" */
    int only; /* 0: every command of the table takes it; else the one ic_cli_next names */
} ic_cli_opt;

/* The smallest positive double: lo for "a positive number". */
#define IC_CLI_POSITIVE 4.9406564584124654e-324

/* --precision fp32|bf16, for the commands that run a model (train, finetune, evaluate,
 * predict): a table entry (precision.c holds its parser). */
int ic_cli_parse_precision(const char *v, void *dst);
#define IC_CLI_PRECISION(p)                                                                \
    {"--precision", IC_CLI_PARSE, .dst = (p), .parse = ic_cli_parse_precision,             \
     .err = "--precision must be fp32 or bf16, got '%s'",                                  \
     .missing = "--precision needs fp32 or bf16"}

/* The option of table t (and of the tables it includes) named a, or NULL. */
const ic_cli_opt *ic_cli_opt_find(const ic_cli_opt *t, const char *a);
/* Takes argv[*i] if it is an option of t (advancing *i past its value): returns 1, 0 (not
 * one of t's) or -1 after the usage error. */
int ic_cli_take(const char *cmd, const ic_cli_opt *t, int argc, char **argv, int *i);
/* Steps through argv from *i + 1 (start with *i = 0): takes the options every command
 * accepts (ic_cli_common_opt) and those of t, and stops at the next positional argument
 * (returns 1, *i its index), at the end (0), at --help / -h (-1, after help() unless it is
 * NULL: the caller exits with status 0), at an option of t whose only is neither 0 nor
 * only (3, *i its index: the caller says why), or after printing a usage error (2). Unknown options are usage errors; t's IC_CLI_END entry may give their
 * message in err (a format with %s for the option). */
int ic_cli_next(const char *cmd, const ic_cli_opt *t, int only, int argc, char **argv, int *i,
                void (*help)(void));

/* Sets m's precision. bf16 where it is not native falls back to fp32 (the library's rule)
 * and the first such fallback in the process prints the one-line notice on stderr. */
ic_status ic_cli_set_precision(ic_model *m, ic_precision p);
/* What m runs in, for the output: "fp32", "bf16", or "fp32 (bf16 is not native ...)". */
const char *ic_cli_precision_str(const ic_model *m, ic_precision asked);
/* The option's help lines, its text starting at column col. */
void ic_cli_precision_help(FILE *fp, int col);

/* The names of ic_pooling's values, for IC_CLI_ENUM. */
extern const char *const ic_cli_pooling_names[];

#endif
