/* core.h - internal helpers shared by every part of the library (private).
 * Errors, allocation through the hooks, the tensor struct, RNG, logging, threads,
 * crash-safe file replacement. */
#ifndef IC_CORE_H
#define IC_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "imgclass/status.h"
#include "imgclass/tensor.h"

#if defined(__GNUC__)
#define IC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IC__PRINTF(a, b)
#endif

/* ic_seterr (status.h) stores the message for ic_errmsg(). */
/* Called by the allocator after a failed allocation of n bytes: a later
 * ic_seterr(IC_ERR_NOMEM, ...) on this thread that replaces the allocator's message with
 * its own (and does not mention bytes) gets " (N bytes requested)" appended, so every
 * out-of-memory message says how much was asked for. Any other ic_seterr forgets it. */
void ic__note_alloc_failure(size_t n);
/* Whether an allocation failed on this thread since the last ic_seterr, ic_clear_error
 * or ic__alloc_failure_forget (for code that calls libraries returning NULL for more than
 * one reason). */
int ic__alloc_failure_pending(void);
void ic__alloc_failure_forget(void);
/* cJSON_ParseWithOpts that tells running out of memory apart
 * from bad JSON (cJSON returns NULL for both): IC_OK with *out set; IC_ERR_NOMEM with the
 * allocator's message (naming the size); IC_ERR_FORMAT with no message set (the caller
 * names the file) and *end, when end is not NULL, at the error. */
struct cJSON;
ic_status ic__json_parse(const char *json, const char **end, int require_null_terminated,
                         struct cJSON **out);
/* Prefixes the current message with "prefix: " (adds context on the way up); returns s. */
ic_status ic__errctx(ic_status s, const char *fmt, ...) IC__PRINTF(2, 3);

/* Allocation through the hooks. ic__malloc/calloc set IC_ERR_NOMEM's message themselves
 * when they fail (naming the size), so callers just return IC_ERR_NOMEM. */
void *ic__malloc(size_t n);
void *ic__calloc(size_t count, size_t size);
void *ic__realloc(void *p, size_t n);
void ic__free(void *p);
char *ic__strdup(const char *s);
/* 64-byte aligned allocation for kernel buffers (freed with ic__free_aligned). */
void *ic__malloc_aligned(size_t n);
void ic__free_aligned(void *p);

/* Logging through the user's callback. */
void ic__log(int level, const char *fmt, ...) IC__PRINTF(2, 3);

struct ic_tensor {
    int ndim;
    int64_t shape[IC_MAX_DIMS];
    float *data;
    int owns;
};
/* Initialises an ic_tensor struct in place over data (no allocation). */
void ic__tensor_init(ic_tensor *t, float *data, int ndim, const int64_t *shape);
int64_t ic__numel(int ndim, const int64_t *shape);
/* "(None, 150, 150, 3)"-style formatting of a per-sample shape. */
char *ic__shape_str(char *buf, size_t size, int ndim, const int64_t *shape, int with_batch);

/* Random numbers: a counter-based generator, so results do not depend on thread count. */
typedef struct ic__rng {
    uint64_t state;
} ic__rng;
void ic__rng_seed(ic__rng *r, uint64_t seed);
uint64_t ic__rng_u64(ic__rng *r);
double ic__rng_uniform(ic__rng *r); /* [0, 1) */
/* Stateless hash of (key, counter) -> uniform [0,1): used for dropout masks. */
float ic__hash_uniform(uint64_t key, uint64_t counter);
uint64_t ic__mix64(uint64_t x);
/* Global seed (ic_set_random_seed) and a stream derived from it for weight init. */
uint64_t ic__global_seed(void);
ic__rng *ic__init_rng(void); /* locked by the caller's single-threaded model build */

/* Threads. */
int ic__threads(void);
void ic__threads_init(void);

/* Unique increasing numbers for weight versions (never 0). */
uint64_t ic__next_version(void);

/* ---- atomic.c: crash-safe file replacement (temp file in the same directory, fsync,
 * rename, fsync of the directory) ---- */
typedef struct ic__atomic_file {
    char path[4096];  /* final name */
    char tmp[4096];   /* "<dir>/.<name>.tmp.<pid>.<n>" */
    FILE *fp;         /* open for writing when opened with a stream, else NULL */
} ic__atomic_file;
/* Chooses the temp name (and opens it as a stream when want_stream). */
ic_status ic__atomic_begin(ic__atomic_file *f, const char *path, int want_stream);
/* Flushes, fsyncs and renames the temp file over path, then fsyncs the directory. */
ic_status ic__atomic_commit(ic__atomic_file *f);
/* Removes the temp file (after a failure). Safe to call twice. */
void ic__atomic_abort(ic__atomic_file *f);

#endif
