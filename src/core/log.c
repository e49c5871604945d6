/* log.c - the library never prints; messages go to the callback the CLI installs. */
#include <stdarg.h>
#include <stdio.h>

#include "core.h"

static ic_log_fn g_log;
static void *g_log_user;

void ic_set_log(ic_log_fn fn, void *user)
{
    g_log = fn;
    g_log_user = user;
}

void ic__log(int level, const char *fmt, ...)
{
    if (!g_log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log(level, buf, g_log_user);
}
