/* source_tensors.c - a batch source over in-memory tensors x (N, ...) and y (N, K).
 *
 * Like a Keras Sequence iterator: ceil(N / batch_size) batches per pass, the last one
 * partial; with shuffle the sample order is a Fisher-Yates permutation drawn from a
 * seeded RNG at the start of every pass; it cycles forever. Batches are copied into the
 * source's own tensors, which stay valid until the next call.
 */
#include <string.h>

#include "train_impl.h"

typedef struct tsource {
    const ic_tensor *x, *y; /* borrowed */
    int64_t n, bs, xrow, yrow;
    int shuffle;
    ic__rng rng, rng0; /* the RNG, and as seeded (seek replays from there) */
    int64_t *order;
    int64_t pos; /* next sample position within the pass */
    ic_tensor bx, by;
    float *bxd, *byd;
} tsource;

static void reshuffle(tsource *s)
{
    for (int64_t i = 0; i < s->n; i++)
        s->order[i] = i;
    if (!s->shuffle)
        return;
    for (int64_t i = s->n - 1; i > 0; i--) {
        int64_t j = (int64_t)(ic__rng_u64(&s->rng) % (uint64_t)(i + 1));
        int64_t t = s->order[i];
        s->order[i] = s->order[j];
        s->order[j] = t;
    }
}

static ic_status ts_next(void *self, const ic_tensor **x, const ic_tensor **y)
{
    tsource *s = self;
    if (s->pos >= s->n) {
        s->pos = 0;
        reshuffle(s);
    }
    int64_t b = s->n - s->pos < s->bs ? s->n - s->pos : s->bs;
    for (int64_t i = 0; i < b; i++) {
        int64_t k = s->order[s->pos + i];
        memcpy(s->bxd + i * s->xrow, s->x->data + k * s->xrow, (size_t)s->xrow * sizeof(float));
        memcpy(s->byd + i * s->yrow, s->y->data + k * s->yrow, (size_t)s->yrow * sizeof(float));
    }
    s->pos += b;
    s->bx.shape[0] = b;
    s->by.shape[0] = b;
    *x = &s->bx;
    *y = &s->by;
    return IC_OK;
}

static int64_t ts_length(void *self)
{
    tsource *s = self;
    return (s->n + s->bs - 1) / s->bs;
}

static void ts_free(void *self)
{
    tsource *s = self;
    if (!s)
        return;
    ic__free(s->order);
    ic__free_aligned(s->bxd);
    ic__free_aligned(s->byd);
    ic__free(s);
}

/* Replays the shuffles of the passes before the one holding batch k (the RNG draws n - 1
 * numbers per pass), so the order and position are those after handing out k batches. */
static ic_status ts_seek(void *self, int64_t k)
{
    tsource *s = self;
    if (k < 0)
        return ic_seterr(IC_ERR_INVALID, "batch source seek: %lld batches", (long long)k);
    int64_t per = ts_length(s), passes = k / per, rest = k % per;
    s->rng = s->rng0;
    s->pos = s->n;
    for (int64_t p = 0; p < passes + (rest > 0); p++)
        reshuffle(s);
    s->pos = rest > 0 ? rest * s->bs : s->n;
    return IC_OK;
}

static const ic_batch_source_ops g_tensor_ops = {ts_next, ts_length, ts_free, ts_seek};

ic_status ic_batch_source_tensors(ic_batch_source *out, const ic_tensor *x, const ic_tensor *y,
                                  int64_t batch_size, int shuffle, uint64_t seed)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_batch_source_tensors: out is NULL");
    out->ops = NULL;
    out->self = NULL;
    if (!x || !y)
        return ic_seterr(IC_ERR_INVALID, "ic_batch_source_tensors: x and y are required");
    if (batch_size < 1)
        return ic_seterr(IC_ERR_INVALID, "batch size %lld must be >= 1", (long long)batch_size);
    char a[80], b[80];
    if (x->shape[0] != y->shape[0])
        return ic_seterr(IC_ERR_SHAPE, "x %s and y %s have different numbers of samples",
                         ic_tensor_shape_str(x, a, sizeof a), ic_tensor_shape_str(y, b, sizeof b));
    tsource *s = ic__calloc(1, sizeof *s);
    if (!s)
        return IC_ERR_NOMEM;
    s->x = x;
    s->y = y;
    s->n = x->shape[0];
    s->bs = batch_size < s->n ? batch_size : s->n;
    s->xrow = ic_tensor_numel(x) / s->n;
    s->yrow = ic_tensor_numel(y) / s->n;
    s->shuffle = shuffle != 0;
    ic__rng_seed(&s->rng, seed);
    s->rng0 = s->rng;
    s->order = ic__malloc((size_t)s->n * sizeof *s->order);
    s->bxd = ic__malloc_aligned((size_t)(s->bs * s->xrow) * sizeof(float));
    s->byd = ic__malloc_aligned((size_t)(s->bs * s->yrow) * sizeof(float));
    if (!s->order || !s->bxd || !s->byd) {
        ts_free(s);
        return IC_ERR_NOMEM;
    }
    /* Batch tensors: x keeps its per-sample shape; 1-D labels become (B, 1). */
    ic__tensor_init(&s->bx, s->bxd, x->ndim, x->shape);
    if (y->ndim == 1) {
        int64_t ys[2] = {s->n, 1};
        ic__tensor_init(&s->by, s->byd, 2, ys);
    } else {
        ic__tensor_init(&s->by, s->byd, y->ndim, y->shape);
    }
    s->pos = s->n; /* the first call starts (and shuffles) a pass */
    out->ops = &g_tensor_ops;
    out->self = s;
    return IC_OK;
}

void ic_batch_source_free(ic_batch_source *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->free)
        s->ops->free(s->self);
    s->ops = NULL;
    s->self = NULL;
}
