/* status.h - error codes and the thread-local error message.
 *
 * Every fallible ic_* function returns an ic_status; IC_OK is 0. On failure a
 * human-readable message naming the object (layer, file, shapes) is stored per
 * thread and can be read with ic_errmsg() until the next failing call.
 */
#ifndef IMGCLASS_STATUS_H
#define IMGCLASS_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ic_status {
    IC_OK = 0,
    IC_ERR_NOMEM,       /* an allocation failed */
    IC_ERR_INVALID,     /* invalid argument or option */
    IC_ERR_SHAPE,       /* tensor shapes do not agree */
    IC_ERR_IO,          /* reading or writing a file failed */
    IC_ERR_FORMAT,      /* a file's content is malformed */
    IC_ERR_NOT_FOUND,   /* a named layer, file or entry does not exist */
    IC_ERR_UNSUPPORTED, /* valid but not implemented here */
    IC_ERR_BACKEND,     /* the compute backend (oneDNN, CUDA) failed */
    IC_ERR_CANCELLED,   /* stopped on request */
    IC_ERR_NUMERIC,     /* NaN or Inf where a finite number was needed (loss, weights) */
    IC_ERR_INTERNAL     /* a bug in imgclass */
} ic_status;

/* The message of the last error on this thread ("" if none). Owned by the library;
 * valid until the next ic_* call on this thread that fails. */
const char *ic_errmsg(void);

/* A short constant name for a status ("out of memory", "shape mismatch", ...). */
const char *ic_status_str(ic_status s);

/* Sets this thread's error message (printf format) and returns s: how a callback or a
 * batch source written by the caller reports why it fails, so that the call that ran it
 * returns s with that message. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
ic_status ic_seterr(ic_status s, const char *fmt, ...);

/* Clears this thread's error message. */
void ic_clear_error(void);

/* Library version, "MAJOR.MINOR.PATCH". */
const char *ic_version(void);

/* Log callback: the library never prints; it reports through this hook.
 * level: 0 = debug, 1 = info, 2 = warning. NULL restores the default (discard). */
typedef void (*ic_log_fn)(int level, const char *msg, void *user);
void ic_set_log(ic_log_fn fn, void *user);

/* Allocation hooks (for embedding and fault-injection tests). NULL restores libc.
 * The hooks must be thread-safe. */
typedef struct ic_alloc_hooks {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *p, size_t size, void *user);
    void (*free_fn)(void *p, void *user);
    void *user;
} ic_alloc_hooks;
void ic_set_alloc_hooks(const ic_alloc_hooks *hooks);

#ifdef __cplusplus
}
#endif
#endif
