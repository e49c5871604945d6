/* rng.c - splitmix64-based random numbers. Weight init draws from one sequential
 * stream; dropout hashes (key, index) so masks are the same for any thread count. */
#include <stdatomic.h>

#include "core.h"

static uint64_t g_seed = 1337;
static ic__rng g_init_rng = {0x9E3779B97F4A7C15ull ^ 1337};
static _Atomic uint64_t g_version = 1;

uint64_t ic__mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ic__rng_seed(ic__rng *r, uint64_t seed) { r->state = seed ^ 0x9E3779B97F4A7C15ull; }

uint64_t ic__rng_u64(ic__rng *r)
{
    r->state += 0x9E3779B97F4A7C15ull;
    return ic__mix64(r->state);
}

double ic__rng_uniform(ic__rng *r) { return (double)(ic__rng_u64(r) >> 11) * 0x1.0p-53; }

float ic__hash_uniform(uint64_t key, uint64_t counter)
{
    uint64_t z = ic__mix64(key ^ ic__mix64(counter + 0x9E3779B97F4A7C15ull));
    return (float)((double)(z >> 40) * 0x1.0p-24);
}

void ic_set_random_seed(uint64_t seed)
{
    g_seed = seed;
    ic__rng_seed(&g_init_rng, seed);
}

uint64_t ic__global_seed(void) { return g_seed; }
ic__rng *ic__init_rng(void) { return &g_init_rng; }

uint64_t ic__next_version(void) { return atomic_fetch_add(&g_version, 1); }
