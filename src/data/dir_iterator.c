/* dir_iterator.c - flow_from_directory: batches of decoded, resized, augmented images with
 * Keras's labels, handed to ic_model_fit through an ic_batch_source.
 *
 * Batching follows keras-preprocessing's Iterator: a pass over the n samples takes them in
 * a permutation (shuffle) or in scan order; batch k of a pass is order[k*bs, (k+1)*bs), the
 * last one partial; the next pass draws a new permutation; the stream never ends.
 *
 * Randomness (numpy-compatible MT19937, ic_np_random; seeds reduced modulo 2^32 as numpy
 * requires 32-bit seeds):
 *   - the permutation of pass p (counted from 0) is np.random.permutation(n) after
 *     np.random.seed(seed + p);
 *   - batch b (counted from 0 over all passes, like Keras's total_batches_seen) draws the
 *     transforms of its images, in image order, after np.random.seed(seed + b), as Keras
 *     does before every batch when a seed is given.
 * Without a seed, one is taken from the clock and the process id at creation. A batch is
 * thus a pure function of its number, so worker threads can build batches in any order and
 * the stream is identical for every thread and prefetch count. (Keras draws the permutation
 * from the same global stream as the transforms, and fit_generator's enqueuer visits the
 * batches of a pass in random order, so Keras's exact stream cannot be reproduced anyway.)
 *
 * Per image, as Keras: decode (JPEG DCT scaling down to no less than the target size; PIL
 * decodes at full size, see docs/keras-compat.md) -> resize to the target with the chosen
 * interpolation unless already that size -> float 0..255 -> random transform + apply (which
 * also rescales) when a generator is given.
 *
 * A file that fails to decode is logged once, remembered, and replaced by the next file of
 * the same class (in scan order, wrapping) that decodes; replacements are counted. A class
 * none of whose files decodes makes the batch fail with IC_ERR_FORMAT.
 *
 * Seeking (ic_dir_iterator_seek): since a batch depends only on its number, moving the
 * stream to batch k stops the workers, drops the prefetched batches and starts a new
 * loader whose batch j is the iterator's batch k + j (it->base). This is what resuming a
 * training run needs: the resumed stream is the uninterrupted one from batch k on.
 *
 * Inline loading (IC_FLOW_INLINE): no worker threads; the consumer's next() fills the batch,
 * its images spread over ic_num_threads() OpenMP threads (the training step's own threads,
 * idle between steps), each with its own scratch. The same per-image work as a worker does,
 * so the same bits.
 */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data_impl.h"

/* Default prefetch is 2 x threads, reduced (to no less than 2) so that the ring stays under
 * this many bytes. */
#define DEFAULT_PREFETCH_BYTES ((int64_t)512 << 20)

enum { FILE_UNKNOWN = 0, FILE_GOOD, FILE_BAD };

typedef struct bslot {
    float *x, *y;
    ic_tensor tx, ty;
    int64_t *idx;
    int64_t replaced; /* samples replaced in this batch, counted when it is handed out */
} bslot;

typedef struct wscratch {
    float *tmp;       /* H*W*C, the image before augmentation */
    ic_transform *tr; /* one per image of the batch */
} wscratch;

struct ic_dir_iterator {
    ic__scan scan;
    ic_flow_opts o;
    ic_image_data_generator gen;
    int has_gen;
    int64_t h, w;
    int c, ylen;
    int64_t bs; /* rows per full batch: min(batch_size, n) */
    int64_t per_pass;
    uint64_t seed;

    pthread_mutex_t perm_mu;
    int64_t perm_pass[2];
    int64_t *perm[2];

    atomic_uchar *fstate;
    atomic_llong replaced;

    int nslots, nworkers;
    int inline_load; /* IC_FLOW_INLINE: no worker threads, next() loads (loader.c) */
    bslot *slots;
    wscratch *ws;
    ic__loader *loader;
    int64_t base; /* iterator batch number of the loader's batch 0 (seek) */
};

ic_flow_opts ic_flow_opts_default(void)
{
    ic_flow_opts o;
    memset(&o, 0, sizeof o);
    o.target_h = 256;
    o.target_w = 256;
    o.color_mode = IC_COLOR_RGB;
    o.class_mode = IC_CLASS_CATEGORICAL;
    o.batch_size = 32;
    o.shuffle = 1;
    o.interpolation = IC_INTERP_NEAREST;
    return o;
}

static uint32_t np_seed(uint64_t base, int64_t k)
{
    return (uint32_t)((base + (uint64_t)k) & 0xffffffffu);
}

/* Copies the sample indices of batch b (count rows) into idx. */
static ic_status batch_indices(ic_dir_iterator *it, int64_t b, int64_t *idx, int64_t *count)
{
    int64_t p = b / it->per_pass, k = b % it->per_pass, n = it->scan.n;
    int64_t start = k * it->bs;
    int64_t cnt = n - start < it->bs ? n - start : it->bs;
    *count = cnt;
    if (!it->o.shuffle) {
        for (int64_t i = 0; i < cnt; i++)
            idx[i] = start + i;
        return IC_OK;
    }
    pthread_mutex_lock(&it->perm_mu);
    int e = (int)(p & 1);
    if (it->perm_pass[e] != p) {
        ic_np_random r;
        ic_np_random_seed(&r, np_seed(it->seed, p));
        ic_np_random_permutation(&r, n, it->perm[e]);
        it->perm_pass[e] = p;
    }
    memcpy(idx, it->perm[e] + start, (size_t)cnt * sizeof *idx);
    pthread_mutex_unlock(&it->perm_mu);
    return IC_OK;
}

/* Decodes sample i into dst (h*w*c floats, 0..255). *bad = 1 when the file itself is the
 * problem (decode error), so that a replacement should be tried. */
static ic_status load_sample(ic_dir_iterator *it, int64_t i, float *dst, int *bad)
{
    *bad = 0;
    ic_image img, rs;
    memset(&img, 0, sizeof img);
    memset(&rs, 0, sizeof rs);
    ic_status s = ic_image_load(it->scan.paths[i], it->o.color_mode, it->h, it->w, &img);
    if (s) {
        *bad = s != IC_ERR_NOMEM;
        return s;
    }
    const ic_image *use = &img;
    if (img.h != it->h || img.w != it->w) {
        s = ic_image_resize(&img, it->h, it->w, it->o.interpolation, &rs);
        ic_image_release(&img);
        if (s)
            return ic__errctx(s, "resizing %s", it->scan.paths[i]);
        use = &rs;
    }
    if (use->c != it->c) {
        s = ic_seterr(IC_ERR_INTERNAL, "%s decoded with %d channels, expected %d",
                      it->scan.paths[i], use->c, it->c);
    } else {
        int64_t n = it->h * it->w * it->c;
        const uint8_t *src = use->data;
        for (int64_t k = 0; k < n; k++)
            dst[k] = (float)src[k];
    }
    ic_image_release(use == &img ? &img : &rs);
    return s;
}

/* Loads sample i, or the first decodable file after it in its class. */
static ic_status load_or_replace(ic_dir_iterator *it, int64_t i, float *dst, int64_t *replaced)
{
    int cls = it->scan.labels[i];
    int64_t lo = it->scan.class_start[cls], hi = it->scan.class_start[cls + 1];
    int64_t j = i;
    for (int64_t tries = 0; tries < hi - lo; tries++) {
        if (atomic_load(&it->fstate[j]) != FILE_BAD) {
            int bad;
            ic_status s = load_sample(it, j, dst, &bad);
            if (!s) {
                atomic_store(&it->fstate[j], FILE_GOOD);
                *replaced += j != i;
                return IC_OK;
            }
            if (!bad)
                return s;
            unsigned char prev = FILE_UNKNOWN;
            if (atomic_compare_exchange_strong(&it->fstate[j], &prev, FILE_BAD)) {
                const char *msg = ic_errmsg();
                const char *p = it->scan.paths[j];
                ic__log(2, "%s%s%s (using other '%s' images in its place)", strstr(msg, p) ? "" : p,
                        strstr(msg, p) ? "" : ": ", msg, it->scan.class_names[cls]);
            }
        }
        j = j + 1 < hi ? j + 1 : lo;
    }
    return ic_seterr(IC_ERR_FORMAT, "class '%s': none of its %lld files could be decoded",
                     it->scan.class_names[cls], (long long)(hi - lo));
}

/* Sample i of slot sl: decoded (or its replacement), augmented with tr through the scratch
 * tmp, and its label. */
static ic_status fill_sample(ic_dir_iterator *it, bslot *sl, int64_t i, const ic_transform *tr,
                             float *tmp, int64_t *replaced)
{
    int64_t row = it->h * it->w * it->c;
    float *dst = sl->x + i * row;
    ic_status s = load_or_replace(it, sl->idx[i], it->has_gen ? tmp : dst, replaced);
    if (!s && it->has_gen)
        s = ic_augment_apply(&it->gen, tr, tmp, it->h, it->w, it->c, dst);
    if (s)
        return s;
    int label = it->scan.labels[sl->idx[i]];
    switch (it->o.class_mode) {
    case IC_CLASS_CATEGORICAL:
        memset(sl->y + i * it->ylen, 0, (size_t)it->ylen * sizeof(float));
        sl->y[i * it->ylen + label] = 1.0f;
        break;
    case IC_CLASS_BINARY:
    case IC_CLASS_SPARSE: sl->y[i] = (float)label; break;
    case IC_CLASS_NONE: break;
    }
    return IC_OK;
}

/* Inline loading: the batch's images over the OpenMP threads, thread t using scratch ws[t].
 * The error reported is the first failing image's (in batch order), with its message, as
 * the serial loop would report it. */
static ic_status fill_inline_parallel(ic_dir_iterator *it, bslot *sl, const ic_transform *tr,
                                      int64_t cnt)
{
    int64_t replaced = 0, first_bad = cnt;
    ic_status bad_status = IC_OK;
    char bad_msg[1024] = "";
#pragma omp parallel num_threads(it->nworkers) reduction(+ : replaced)
    {
        float *tmp = it->ws[omp_get_thread_num()].tmp;
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < cnt; i++) {
            ic_status e = fill_sample(it, sl, i, &tr[i], tmp, &replaced);
            if (e) {
#pragma omp critical(ic__dir_iterator_error)
                if (i < first_bad) {
                    first_bad = i;
                    bad_status = e;
                    snprintf(bad_msg, sizeof bad_msg, "%s",
                             *ic_errmsg() ? ic_errmsg() : ic_status_str(e));
                }
            }
        }
    }
    sl->replaced += replaced;
    if (bad_status)
        return ic_seterr(bad_status, "%s", bad_msg);
    return IC_OK;
}

static ic_status fill_batch(void *ctx, int64_t lb, int slot, int worker)
{
    ic_dir_iterator *it = ctx;
    int64_t b = it->base + lb; /* fixed while the loader runs (seek replaces the loader) */
    bslot *sl = &it->slots[slot];
    wscratch *ws = &it->ws[worker];
    int64_t cnt;
    ic_status s = batch_indices(it, b, sl->idx, &cnt);
    if (s)
        return s;
    if (it->has_gen) {
        ic_np_random r;
        ic_np_random_seed(&r, np_seed(it->seed, b));
        for (int64_t i = 0; i < cnt; i++)
            ic_augment_random_transform(&it->gen, it->h, it->w, &r, &ws->tr[i]);
    }
    sl->replaced = 0;
    if (it->inline_load && cnt > 1 && it->nworkers > 1)
        s = fill_inline_parallel(it, sl, ws->tr, cnt);
    else
        for (int64_t i = 0; i < cnt && !s; i++) {
            if (ic__loader_stopping(it->loader))
                return ic_seterr(IC_ERR_CANCELLED, "iterator closed");
            s = fill_sample(it, sl, i, &ws->tr[i], ws->tmp, &sl->replaced);
        }
    if (s)
        return s;
    sl->tx.shape[0] = cnt;
    sl->ty.shape[0] = cnt;
    return IC_OK;
}

static ic_status validate(const ic_flow_opts *o)
{
    if (o->target_h < 1 || o->target_w < 1 || o->target_h > IC_MAX_IMAGE_DIM ||
        o->target_w > IC_MAX_IMAGE_DIM)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: target size %lldx%lld is invalid",
                         (long long)o->target_h, (long long)o->target_w);
    if (o->batch_size < 1)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: batch_size %lld must be >= 1",
                         (long long)o->batch_size);
    if (o->color_mode != IC_COLOR_RGB && o->color_mode != IC_COLOR_GRAYSCALE)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: unknown color_mode %d",
                         (int)o->color_mode);
    if ((int)o->class_mode < 0 || o->class_mode > IC_CLASS_NONE)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: unknown class_mode %d",
                         (int)o->class_mode);
    if ((int)o->interpolation < 0 || o->interpolation > IC_INTERP_AREA)
        return ic_seterr(IC_ERR_INVALID, "flow_from_directory: unknown interpolation %d",
                         (int)o->interpolation);
    if ((o->threads < 0 && o->threads != IC_FLOW_INLINE) || o->prefetch < 0 || o->n_classes < 0)
        return ic_seterr(IC_ERR_INVALID,
                         "flow_from_directory: threads (%d, or IC_FLOW_INLINE), prefetch (%d) "
                         "and the number of classes (%d) must be >= 0",
                         o->threads, o->prefetch, o->n_classes);
    return IC_OK;
}

static uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x =
        ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
    return ic__mix64(x) & 0xffffffffu;
}

ic_status ic_flow_from_directory(ic_dir_iterator **out, const char *dir,
                                 const ic_image_data_generator *gen, const ic_flow_opts *opts)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_flow_from_directory: out is NULL");
    *out = NULL;
    ic_flow_opts o = opts ? *opts : ic_flow_opts_default();
    ic_status s = validate(&o);
    if (s)
        return s;
    ic_dir_iterator *it = ic__calloc(1, sizeof *it);
    if (!it)
        return IC_ERR_NOMEM;
    pthread_mutex_init(&it->perm_mu, NULL);
    if ((s = ic__dir_scan(dir, o.n_classes > 0 ? o.classes : NULL, o.n_classes, o.follow_links,
                          &it->scan))) {
        ic_dir_iterator_free(it);
        return s;
    }
    o.classes = NULL; /* borrowed by the caller; the scan keeps copies of the names */
    o.n_classes = it->scan.n_classes;
    it->o = o;
    if (o.class_mode == IC_CLASS_BINARY && it->scan.n_classes != 2) {
        s = ic_seterr(IC_ERR_INVALID,
                      "class_mode binary needs exactly 2 classes, %s has %d (use categorical or "
                      "sparse)",
                      dir, it->scan.n_classes);
        ic_dir_iterator_free(it);
        return s;
    }
    if (gen) {
        it->gen = *gen;
        it->has_gen = 1;
    }
    it->h = o.target_h;
    it->w = o.target_w;
    it->c = o.color_mode == IC_COLOR_GRAYSCALE ? 1 : 3;
    it->ylen = o.class_mode == IC_CLASS_CATEGORICAL ? it->scan.n_classes : 1;
    int64_t n = it->scan.n;
    it->bs = o.batch_size < n ? o.batch_size : n;
    it->per_pass = (n + o.batch_size - 1) / o.batch_size;
    it->seed = o.has_seed ? o.seed : clock_seed();
    it->perm_pass[0] = it->perm_pass[1] = -1;

    it->inline_load = o.threads == IC_FLOW_INLINE;
    int threads = o.threads > 0 ? o.threads : ic_num_threads();
    int64_t row = it->h * it->w * it->c;
    int64_t slot_bytes = it->bs * (row + it->ylen) * (int64_t)sizeof(float);
    int64_t slots = o.prefetch;
    if (slots <= 0) {
        slots = it->inline_load ? 1 : 2 * (int64_t)threads;
        if (slots * slot_bytes > DEFAULT_PREFETCH_BYTES)
            slots = DEFAULT_PREFETCH_BYTES / slot_bytes;
        if (slots < 2)
            slots = it->inline_load ? 1 : 2;
    }
    if (slots > 4096)
        slots = 4096;
    it->nslots = (int)slots;
    /* inline: one scratch per OpenMP thread (fill_inline_parallel) */
    it->nworkers = it->inline_load ? threads : threads < it->nslots ? threads : it->nslots;

    it->fstate = ic__calloc((size_t)n, sizeof *it->fstate);
    it->perm[0] = ic__malloc((size_t)n * sizeof(int64_t));
    it->perm[1] = ic__malloc((size_t)n * sizeof(int64_t));
    it->slots = ic__calloc((size_t)it->nslots, sizeof *it->slots);
    it->ws = ic__calloc((size_t)it->nworkers, sizeof *it->ws);
    if (!it->fstate || !it->perm[0] || !it->perm[1] || !it->slots || !it->ws) {
        ic_dir_iterator_free(it);
        return IC_ERR_NOMEM;
    }
    atomic_init(&it->replaced, 0);
    for (int i = 0; i < it->nslots; i++) {
        bslot *sl = &it->slots[i];
        sl->x = ic__malloc_aligned((size_t)(it->bs * row) * sizeof(float));
        sl->y = ic__malloc_aligned((size_t)(it->bs * it->ylen) * sizeof(float));
        sl->idx = ic__malloc((size_t)it->bs * sizeof *sl->idx);
        if (!sl->x || !sl->y || !sl->idx) {
            ic_dir_iterator_free(it);
            return IC_ERR_NOMEM;
        }
        int64_t xs[4] = {it->bs, it->h, it->w, it->c}, ys[2] = {it->bs, it->ylen};
        ic__tensor_init(&sl->tx, sl->x, 4, xs);
        ic__tensor_init(&sl->ty, sl->y, 2, ys);
    }
    for (int i = 0; i < it->nworkers; i++) {
        it->ws[i].tmp = ic__malloc_aligned((size_t)row * sizeof(float));
        it->ws[i].tr = ic__calloc((size_t)it->bs, sizeof *it->ws[i].tr);
        if (!it->ws[i].tmp || !it->ws[i].tr) {
            ic_dir_iterator_free(it);
            return IC_ERR_NOMEM;
        }
    }
    if ((s = ic__loader_create(&it->loader, it->inline_load ? 0 : it->nworkers, it->nslots,
                                   fill_batch, it))) {
        ic_dir_iterator_free(it);
        return s;
    }
    *out = it;
    return IC_OK;
}

void ic_dir_iterator_free(ic_dir_iterator *it)
{
    if (!it)
        return;
    ic__loader_free(it->loader); /* joins the workers before their buffers go */
    if (it->slots)
        for (int i = 0; i < it->nslots; i++) {
            ic__free_aligned(it->slots[i].x);
            ic__free_aligned(it->slots[i].y);
            ic__free(it->slots[i].idx);
        }
    ic__free(it->slots);
    if (it->ws)
        for (int i = 0; i < it->nworkers; i++) {
            ic__free_aligned(it->ws[i].tmp);
            ic__free(it->ws[i].tr);
        }
    ic__free(it->ws);
    ic__free(it->perm[0]);
    ic__free(it->perm[1]);
    ic__free(it->fstate);
    ic__scan_free(&it->scan);
    pthread_mutex_destroy(&it->perm_mu);
    ic__free(it);
}

/* ---- the batch source ---- */

static ic_status src_next(void *self, const ic_tensor **x, const ic_tensor **y)
{
    ic_dir_iterator *it = self;
    int slot;
    if (!it->loader)
        return ic_seterr(IC_ERR_INVALID, "directory iterator: a failed seek left no loader");
    ic_status s = ic__loader_next(it->loader, &slot);
    if (s)
        return s;
    if (it->slots[slot].replaced)
        atomic_fetch_add(&it->replaced, it->slots[slot].replaced);
    *x = &it->slots[slot].tx;
    if (y)
        *y = it->o.class_mode == IC_CLASS_NONE ? NULL : &it->slots[slot].ty;
    return IC_OK;
}

static int64_t src_length(void *self)
{
    return ((ic_dir_iterator *)self)->per_pass;
}

static ic_status src_seek(void *self, int64_t batches)
{
    return ic_dir_iterator_seek(self, batches);
}

static const ic_batch_source_ops g_dir_ops = {src_next, src_length, NULL, src_seek};

ic_batch_source ic_dir_iterator_source(ic_dir_iterator *it)
{
    ic_batch_source b = {&g_dir_ops, it};
    if (!it)
        b.ops = NULL;
    return b;
}

/* ---- accessors ---- */

int64_t ic_dir_iterator_samples(const ic_dir_iterator *it)
{
    return it ? it->scan.n : 0;
}

int ic_dir_iterator_num_classes(const ic_dir_iterator *it)
{
    return it ? it->scan.n_classes : 0;
}

const char *ic_dir_iterator_class_name(const ic_dir_iterator *it, int i)
{
    return it && i >= 0 && i < it->scan.n_classes ? it->scan.class_names[i] : NULL;
}

int ic_dir_iterator_label(const ic_dir_iterator *it, int64_t i)
{
    return it && i >= 0 && i < it->scan.n ? it->scan.labels[i] : -1;
}

const char *ic_dir_iterator_path(const ic_dir_iterator *it, int64_t i)
{
    return it && i >= 0 && i < it->scan.n ? it->scan.paths[i] : NULL;
}

const char *ic_dir_iterator_found(const ic_dir_iterator *it, char *buf, size_t size)
{
    if (!buf || !size)
        return buf;
    snprintf(buf, size, "Found %lld images belonging to %d classes.",
             (long long)(it ? it->scan.n : 0), it ? it->scan.n_classes : 0);
    return buf;
}

int64_t ic_dir_iterator_skipped(const ic_dir_iterator *it)
{
    return it ? it->scan.skipped : 0;
}

ic_status ic_dir_iterator_seek(ic_dir_iterator *it, int64_t batch)
{
    if (!it || batch < 0)
        return ic_seterr(IC_ERR_INVALID, "ic_dir_iterator_seek: %s",
                         it ? "batch must be >= 0" : "iterator is NULL");
    ic__loader *l;
    /* Join the old workers first: they read it->base and fill the shared slots. */
    ic__loader_free(it->loader);
    it->loader = NULL;
    it->base = batch;
    ic_status s = ic__loader_create(&l, it->inline_load ? 0 : it->nworkers, it->nslots, fill_batch,
                                    it);
    if (s)
        return s; /* the iterator is unusable until a seek succeeds: next() reports it */
    it->loader = l;
    return IC_OK;
}

int64_t ic_dir_iterator_take_replaced(ic_dir_iterator *it)
{
    return it ? (int64_t)atomic_exchange(&it->replaced, 0) : 0;
}

double ic_dir_iterator_majority_rate(const ic_dir_iterator *it)
{
    int64_t n = it ? ic_dir_iterator_samples(it) : 0, best = 0;
    int k = n > 0 ? ic_dir_iterator_num_classes(it) : 0;
    int64_t *count = k > 0 ? ic__calloc((size_t)k, sizeof *count) : NULL;
    if (!count)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        int c = ic_dir_iterator_label(it, i);
        if (c >= 0 && c < k && ++count[c] > best)
            best = count[c];
    }
    ic__free(count);
    return (double)best / (double)n;
}
