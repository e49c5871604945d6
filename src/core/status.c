/* status.c - thread-local error messages and status names. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

#define MSG_SIZE 1024
static _Thread_local char g_msg[MSG_SIZE];
static _Thread_local size_t g_failed_bytes; /* last failed allocation, 0 = none pending */
static _Thread_local int g_failed_pending;

void ic__note_alloc_failure(size_t n)
{
    g_failed_bytes = n;
    g_failed_pending = 1;
}

int ic__alloc_failure_pending(void)
{
    return g_failed_pending;
}

void ic__alloc_failure_forget(void)
{
    g_failed_pending = 0;
}

ic_status ic_seterr(ic_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    if (s == IC_ERR_NOMEM && g_failed_pending && !strstr(g_msg, "bytes")) {
        size_t n = strlen(g_msg);
        snprintf(g_msg + n, sizeof g_msg - n, " (%zu bytes requested)", g_failed_bytes);
    }
    g_failed_pending = 0;
    return s;
}

ic_status ic__errctx(ic_status s, const char *fmt, ...)
{
    char prefix[512], old[MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof g_msg - 3)
        n = sizeof g_msg - 3;
    memcpy(g_msg, prefix, n);
    memcpy(g_msg + n, ": ", 2);
    size_t rest = sizeof g_msg - n - 3;
    size_t ol = strlen(old);
    if (ol > rest)
        ol = rest;
    memcpy(g_msg + n + 2, old, ol);
    g_msg[n + 2 + ol] = '\0';
    return s;
}

const char *ic_errmsg(void) { return g_msg; }

void ic_clear_error(void)
{
    g_msg[0] = '\0';
    g_failed_pending = 0;
}

const char *ic_status_str(ic_status s)
{
    switch (s) {
    case IC_OK: return "ok";
    case IC_ERR_NOMEM: return "out of memory";
    case IC_ERR_INVALID: return "invalid argument";
    case IC_ERR_SHAPE: return "shape mismatch";
    case IC_ERR_IO: return "I/O error";
    case IC_ERR_FORMAT: return "bad file format";
    case IC_ERR_NOT_FOUND: return "not found";
    case IC_ERR_UNSUPPORTED: return "unsupported";
    case IC_ERR_BACKEND: return "backend error";
    case IC_ERR_CANCELLED: return "cancelled";
    case IC_ERR_NUMERIC: return "numeric error";
    case IC_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *ic_version(void) { return IC_VERSION_STRING; }
