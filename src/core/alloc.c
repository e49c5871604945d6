/* alloc.c - every allocation of the library goes through here, so embedders can plug
 * their allocator and tests can fail the Nth allocation. cJSON (used for model configs,
 * file metadata and the CLI's checkpoint records) is pointed at the same hooks once, when
 * the library is loaded, so its allocations fail the same way. cJSON's hooks are global to
 * the process: a program that also uses cJSON itself gets them too (they call libc unless
 * ic_set_alloc_hooks installs others; then its own cJSON objects must be freed while the
 * same hooks are installed). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static ic_alloc_hooks g_hooks; /* all NULL: libc */

void ic_set_alloc_hooks(const ic_alloc_hooks *hooks)
{
    if (hooks)
        g_hooks = *hooks;
    else
        memset(&g_hooks, 0, sizeof g_hooks);
}

static void *raw_malloc(size_t n)
{
    return g_hooks.malloc_fn ? g_hooks.malloc_fn(n, g_hooks.user) : malloc(n);
}

void *ic__malloc(size_t n)
{
    void *p = raw_malloc(n ? n : 1);
    if (!p) {
        ic_seterr(IC_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        ic__note_alloc_failure(n);
    }
    return p;
}

void *ic__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        ic_seterr(IC_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = ic__malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *ic__realloc(void *p, size_t n)
{
    void *q = g_hooks.realloc_fn ? g_hooks.realloc_fn(p, n ? n : 1, g_hooks.user)
                                 : realloc(p, n ? n : 1);
    if (!q) {
        ic_seterr(IC_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
        ic__note_alloc_failure(n);
    }
    return q;
}

void ic__free(void *p)
{
    if (!p)
        return;
    if (g_hooks.free_fn)
        g_hooks.free_fn(p, g_hooks.user);
    else
        free(p);
}

char *ic__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ic__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Aligned blocks keep the raw pointer just before the aligned address. */
void *ic__malloc_aligned(size_t n)
{
    if (n > SIZE_MAX - 64 - sizeof(void *)) {
        ic_seterr(IC_ERR_NOMEM, "allocation of %zu bytes overflows", n);
        return NULL;
    }
    char *raw = ic__malloc(n + 64 + sizeof(void *));
    if (!raw)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void ic__free_aligned(void *p)
{
    if (p)
        ic__free(((void **)p)[-1]);
}

ic_status ic__json_parse(const char *json, const char **end, int require_null_terminated,
                         cJSON **out)
{
    ic__alloc_failure_forget();
    const char *e = NULL;
    *out = json ? cJSON_ParseWithOpts(json, &e, require_null_terminated) : NULL;
    if (end)
        *end = e;
    if (*out)
        return IC_OK;
    return json && ic__alloc_failure_pending() ? IC_ERR_NOMEM : IC_ERR_FORMAT;
}

/* cJSON through the hooks (see the top of the file). */
static void *json_malloc(size_t n)
{
    return ic__malloc(n);
}

static void json_free(void *p)
{
    ic__free(p);
}

__attribute__((constructor)) static void json_hooks_init(void)
{
    cJSON_Hooks h = {json_malloc, json_free};
    cJSON_InitHooks(&h);
}
