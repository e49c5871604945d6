/* options.c - what every command shares: error and usage lines, number and shape
 * parsing, and the options every command (or several) accepts. */
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

int ic_cli_pooling_arg(const char *cmd, const char *v, ic_pooling *out)
{
    if (v && !strcmp(v, "avg"))
        *out = IC_POOLING_AVG;
    else if (v && !strcmp(v, "max"))
        *out = IC_POOLING_MAX;
    else if (v && !strcmp(v, "none"))
        *out = IC_POOLING_NONE;
    else
        return ic_cli_usage_error(cmd, "--pooling must be none, avg or max, got '%s'",
                                  v ? v : "nothing");
    return 0;
}
