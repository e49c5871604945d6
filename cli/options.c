/* options.c - what every command shares: error and usage lines, number and shape
 * parsing, and the options every command (or several) accepts. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int ic_cli_fail(const char *cmd, ic_status s)
{
    const char *msg = ic_errmsg();
    fprintf(stderr, "imgclass %s: %s\n", cmd, *msg ? msg : ic_status_str(s));
    return 1;
}

int ic_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "imgclass %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'imgclass %s --help')\n", cmd);
    return 2;
}

int ic_cli_parse_int(const char *s, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int ic_cli_parse_num(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int ic_cli_parse_shape(const char *s, int64_t *h, int64_t *w, int64_t *c)
{
    long a, b, d = 3;
    char extra;
    int n = sscanf(s, "%ldx%ldx%ld%c", &a, &b, &d, &extra);
    if ((n != 2 && n != 3) || a < 1 || b < 1 || d < 1)
        return -1;
    *h = a;
    *w = b;
    *c = d;
    return 0;
}

int ic_cli_common_opt(const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--threads")) {
        long n;
        if (*i + 1 >= argc || ic_cli_parse_int(argv[*i + 1], &n) || n < 1) {
            ic_cli_usage_error(cmd, "--threads needs a positive number");
            return -1;
        }
        ic_set_num_threads((int)n);
        *i += 1;
        return 1;
    }
    if (!strcmp(a, "--backend")) {
        if (*i + 1 >= argc) {
            ic_cli_usage_error(cmd, "--backend needs cpu, ref or cuda");
            return -1;
        }
        if (ic_set_backend(argv[*i + 1]) != IC_OK) {
            ic_cli_fail(cmd, IC_ERR_INVALID);
            return -1;
        }
        *i += 1;
        return 1;
    }
    return 0;
}

const char *const ic_cli_pooling_names[] = {"none", "avg", "max", NULL};

const ic_cli_opt *ic_cli_opt_find(const ic_cli_opt *t, const char *a)
{
    for (; t->kind != IC_CLI_END; t++) {
        const ic_cli_opt *e = t;
        if (t->kind == IC_CLI_INCLUDE)
            e = ic_cli_opt_find(t->dst, a);
        else if (strcmp(a, t->name) && (!t->alias || strcmp(a, t->alias)))
            e = NULL;
        if (e)
            return e;
    }
    return NULL;
}

/* Is x in [lo, hi] (hi 0: no upper limit)? */
static int in_range(const ic_cli_opt *e, double x)
{
    return x >= e->lo && (e->hi == 0 || x <= e->hi);
}

/* The value v of option e into e->dst: 0, or -1 if it is not one e takes. */
static int set_value(const ic_cli_opt *e, const char *v)
{
    long n;
    double x;
    char *end;
    unsigned long long u;
    switch (e->kind) {
    case IC_CLI_INT:
    case IC_CLI_LONG:
        if (ic_cli_parse_int(v, &n) || !in_range(e, (double)n))
            return -1;
        if (e->kind == IC_CLI_INT)
            *(int *)e->dst = (int)n;
        else
            *(long *)e->dst = n;
        return 0;
    case IC_CLI_U64:
        errno = 0;
        u = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-' || errno || (e->hi != 0 && (double)u > e->hi))
            return -1;
        *(unsigned long long *)e->dst = u;
        return 0;
    case IC_CLI_NUM:
    case IC_CLI_FLOAT:
        if (ic_cli_parse_num(v, &x) || !in_range(e, x))
            return -1;
        if (e->kind == IC_CLI_NUM)
            *(double *)e->dst = x;
        else
            *(float *)e->dst = (float)x;
        return 0;
    case IC_CLI_STR:
    case IC_CLI_ENUM:
        for (int k = 0; e->choices && e->choices[k]; k++)
            if (*e->choices[k] && !strcmp(v, e->choices[k])) {
                if (e->kind == IC_CLI_ENUM)
                    *(int *)e->dst = k;
                else
                    *(const char **)e->dst = v;
                return 0;
            }
        if (e->choices)
            return -1;
        *(const char **)e->dst = v;
        return 0;
    default:
        return e->parse(v, e->dst) ? -1 : 0;
    }
}

/* Applies option e at argv[*i], advancing *i past its value. Returns 0, or 2 after the usage
 * error. */
static int apply(const char *cmd, const ic_cli_opt *e, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (e->kind == IC_CLI_SET) {
        *(int *)e->dst = (int)e->lo;
    } else if (*i + 1 >= argc) {
        if (!e->missing)
            return ic_cli_usage_error(cmd, "unknown option or missing value: %s", a);
        if (*e->missing)
            return ic_cli_usage_error(cmd, e->missing, a);
        return ic_cli_usage_error(cmd, e->err, "nothing");
    } else if (set_value(e, argv[++*i])) {
        if (!e->err) /* a count's */
            return ic_cli_usage_error(cmd, "%s needs a number >= %.0f, got '%s'", a, e->lo,
                                      argv[*i]);
        return ic_cli_usage_error(cmd, e->err, argv[*i]);
    }
    if (e->seen)
        *e->seen = 1;
    return 0;
}

int ic_cli_take(const char *cmd, const ic_cli_opt *t, int argc, char **argv, int *i)
{
    const ic_cli_opt *e = ic_cli_opt_find(t, argv[*i]);
    if (!e)
        return 0;
    return apply(cmd, e, argc, argv, i) ? -1 : 1;
}

int ic_cli_next(const char *cmd, const ic_cli_opt *t, int only, int argc, char **argv, int *i,
                void (*help)(void))
{
    while (++*i < argc) {
        const char *a = argv[*i];
        int r = ic_cli_common_opt(cmd, argc, argv, i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (help)
                help();
            return -1;
        }
        if (a[0] != '-' || !a[1])
            return 1;
        const ic_cli_opt *e = ic_cli_opt_find(t, a);
        if (e && e->only && e->only != only)
            return 3;
        if (e && apply(cmd, e, argc, argv, i))
            return 2;
        if (e)
            continue;
        const ic_cli_opt *end = t;
        while (end->kind != IC_CLI_END)
            end++;
        if (end->err)
            return ic_cli_usage_error(cmd, end->err, a);
        if (*i + 1 >= argc)
            return ic_cli_usage_error(cmd, "unknown option or missing value: %s", a);
        return ic_cli_usage_error(cmd, "unknown option: %s", a);
    }
    return 0;
}
