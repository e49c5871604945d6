/* np_random.c - numpy's legacy RandomState stream (np.random.seed / random_sample /
 * permutation), bit for bit, so a seed gives the augmentation draws and the shuffle order
 * that Keras gets from the global numpy generator.
 *
 * MT19937 (Matsumoto & Nishimura). np.random.seed(int) seeds with the Knuth-style
 * linear recurrence (numpy's mt19937_seed, the reference init_genrand); init_by_array is
 * what numpy uses for array seeds only. Doubles take 53 bits from two 32-bit draws
 * ((a >> 5) * 2^26 + (b >> 6)) / 2^53. permutation(n) shuffles arange(n) with numpy's
 * legacy Fisher-Yates: for i = n-1 .. 1, j = random_interval(i) (masked rejection on
 * 32-bit draws, on 64-bit draws when i > 0xffffffff), swap(i, j).
 */
#include "imgclass/data.h"

#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void ic_np_random_seed(ic_np_random *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < MT_N; i++) {
        uint32_t p = r->mt[i - 1];
        r->mt[i] = 1812433253u * (p ^ (p >> 30)) + (uint32_t)i;
    }
    r->mti = MT_N;
}

/* Regenerates the 624 words of state. */
static void mt_refill(ic_np_random *r)
{
    uint32_t *mt = r->mt;
    int k;
    uint32_t y;
    for (k = 0; k < MT_N - MT_M; k++) {
        y = (mt[k] & MT_UPPER) | (mt[k + 1] & MT_LOWER);
        mt[k] = mt[k + MT_M] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    for (; k < MT_N - 1; k++) {
        y = (mt[k] & MT_UPPER) | (mt[k + 1] & MT_LOWER);
        mt[k] = mt[k + (MT_M - MT_N)] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    y = (mt[MT_N - 1] & MT_UPPER) | (mt[0] & MT_LOWER);
    mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    r->mti = 0;
}

uint32_t ic_np_random_u32(ic_np_random *r)
{
    if (r->mti >= MT_N || r->mti < 0)
        mt_refill(r);
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double ic_np_random_sample(ic_np_random *r)
{
    uint32_t a = ic_np_random_u32(r) >> 5, b = ic_np_random_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* numpy's random_interval(max): a uniform integer in [0, max]. */
static uint64_t random_interval(ic_np_random *r, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max, v;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((v = (ic_np_random_u32(r) & mask)) > max) {
        }
    } else {
        for (;;) {
            uint64_t hi = ic_np_random_u32(r);
            v = ((hi << 32) | ic_np_random_u32(r)) & mask;
            if (v <= max)
                break;
        }
    }
    return v;
}

void ic_np_random_permutation(ic_np_random *r, int64_t n, int64_t *perm)
{
    if (n <= 0 || !perm)
        return;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)random_interval(r, (uint64_t)i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
