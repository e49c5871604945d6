/* loader.c - worker threads and an ordered ring of batch slots (the directory iterator's
 * prefetcher).
 *
 * Batches are numbered 0, 1, 2, ... and claimed by the workers strictly in that order;
 * batch b is produced into slot b % slots. A worker may claim batch b only once the
 * consumer has released batch b - slots, so at most `slots` batches (the one the consumer
 * holds included) exist at any time: memory is bounded, and since a batch's content
 * depends only on its number, results are identical for any thread or slot count. The
 * consumer takes batches in order and releases each on its following call.
 *
 * With 0 threads the loader is inline: the consumer's own call fills the batch it asks for
 * (IC_FLOW_INLINE), for callers that want no threads of the loader's own.
 *
 * Errors: a worker that fails a batch stores the status and message in the slot and no
 * further batches are claimed; the consumer gets that error when it reaches the batch (all
 * earlier batches were claimed before and are still handed out), and on every call after.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "data_impl.h"

enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_READY };

typedef struct lslot {
    int64_t batch;
    int state;
    ic_status status;
    char msg[1024];
} lslot;

typedef struct worker_arg {
    ic__loader *l;
    int id;
} worker_arg;

struct ic__loader {
    pthread_mutex_t mu;
    pthread_cond_t cv_work;  /* workers wait for a claimable batch */
    pthread_cond_t cv_ready; /* the consumer waits for its batch */
    ic__loader_fill_fn fill;
    void *ctx;
    int nthreads, started, nstarted;
    pthread_t *th;
    worker_arg *args;
    int nslots;
    lslot *slots;
    int64_t next_claim; /* next batch a worker takes */
    int64_t consumed;   /* batches handed to the consumer */
    int64_t released;   /* batches the consumer is done with */
    int failed;         /* a batch failed: claim nothing more */
    atomic_int stop;
    ic_status sticky;
    char sticky_msg[1024];
};

static void *worker_main(void *p)
{
    worker_arg *a = p;
    ic__loader *l = a->l;
    pthread_mutex_lock(&l->mu);
    while (!atomic_load(&l->stop)) {
        if (l->failed || l->next_claim >= l->released + l->nslots) {
            pthread_cond_wait(&l->cv_work, &l->mu);
            continue;
        }
        int64_t b = l->next_claim++;
        lslot *sl = &l->slots[b % l->nslots];
        sl->batch = b;
        sl->state = SLOT_BUSY;
        pthread_mutex_unlock(&l->mu);

        ic_clear_error();
        ic_status s = l->fill(l->ctx, b, (int)(b % l->nslots), a->id);
        char msg[sizeof sl->msg];
        msg[0] = 0;
        if (s)
            snprintf(msg, sizeof msg, "%s", *ic_errmsg() ? ic_errmsg() : ic_status_str(s));

        pthread_mutex_lock(&l->mu);
        sl->status = s;
        memcpy(sl->msg, msg, sizeof msg);
        sl->state = SLOT_READY;
        if (s)
            l->failed = 1;
        pthread_cond_broadcast(&l->cv_ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

ic_status ic__loader_create(ic__loader **out, int threads, int slots, ic__loader_fill_fn fill,
                            void *ctx)
{
    *out = NULL;
    if (threads < 0 || slots < 1 || !fill)
        return ic_seterr(IC_ERR_INVALID,
                         "loader: %d threads and %d slots (threads >= 0, slots >= 1)", threads,
                         slots);
    ic__loader *l = ic__calloc(1, sizeof *l);
    if (!l)
        return IC_ERR_NOMEM;
    l->slots = ic__calloc((size_t)slots, sizeof *l->slots);
    l->th = ic__calloc((size_t)threads + 1, sizeof *l->th);
    l->args = ic__calloc((size_t)threads + 1, sizeof *l->args);
    if (!l->slots || !l->th || !l->args) {
        ic__free(l->slots);
        ic__free(l->th);
        ic__free(l->args);
        ic__free(l);
        return IC_ERR_NOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    atomic_init(&l->stop, 0);
    l->fill = fill;
    l->ctx = ctx;
    l->nthreads = threads;
    l->nslots = slots;
    for (int i = 0; i < slots; i++)
        l->slots[i].batch = -1;
    *out = l;
    return IC_OK;
}

/* Starts the workers on the first request (a scan-only iterator never starts threads). */
static ic_status start(ic__loader *l)
{
    for (int i = 0; i < l->nthreads; i++) {
        l->args[i].l = l;
        l->args[i].id = i;
        int e = pthread_create(&l->th[i], NULL, worker_main, &l->args[i]);
        if (e) {
            if (l->nstarted == 0)
                return ic_seterr(IC_ERR_INTERNAL, "loader: cannot start a worker thread: %s",
                                 strerror(e));
            break; /* fewer workers than asked: slower, same results */
        }
        l->nstarted++;
    }
    l->started = 1;
    return IC_OK;
}

/* Inline: the batch after the consumer's last, filled here (no lock: one thread). */
static ic_status next_inline(ic__loader *l, int *slot)
{
    if (l->sticky)
        return ic_seterr(l->sticky, "%s", l->sticky_msg);
    int64_t b = l->consumed;
    int k = (int)(b % l->nslots);
    ic_clear_error();
    ic_status s = l->fill(l->ctx, b, k, 0);
    if (s) {
        l->sticky = s;
        snprintf(l->sticky_msg, sizeof l->sticky_msg, "%s",
                 *ic_errmsg() ? ic_errmsg() : ic_status_str(s));
        return ic_seterr(s, "%s", l->sticky_msg);
    }
    l->slots[k].batch = b;
    l->slots[k].state = SLOT_READY;
    l->consumed = l->released = b + 1;
    *slot = k;
    return IC_OK;
}

ic_status ic__loader_next(ic__loader *l, int *slot)
{
    ic_status s;
    if (l->nthreads == 0)
        return next_inline(l, slot);
    if (!l->started && (s = start(l)))
        return s;
    pthread_mutex_lock(&l->mu);
    if (l->sticky) {
        s = l->sticky;
        pthread_mutex_unlock(&l->mu);
        return ic_seterr(s, "%s", l->sticky_msg);
    }
    if (l->released < l->consumed) {
        l->slots[(l->consumed - 1) % l->nslots].state = SLOT_FREE;
        l->released = l->consumed;
        pthread_cond_broadcast(&l->cv_work);
    }
    lslot *sl = &l->slots[l->consumed % l->nslots];
    while (!(sl->state == SLOT_READY && sl->batch == l->consumed))
        pthread_cond_wait(&l->cv_ready, &l->mu);
    if (sl->status) {
        l->sticky = sl->status;
        memcpy(l->sticky_msg, sl->msg, sizeof sl->msg);
        s = l->sticky;
        pthread_mutex_unlock(&l->mu);
        return ic_seterr(s, "%s", l->sticky_msg);
    }
    *slot = (int)(l->consumed % l->nslots);
    l->consumed++;
    pthread_mutex_unlock(&l->mu);
    return IC_OK;
}

int ic__loader_stopping(const ic__loader *l)
{
    return atomic_load(&((ic__loader *)l)->stop);
}

void ic__loader_free(ic__loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->stop, 1);
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nstarted; i++)
        pthread_join(l->th[i], NULL);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_ready);
    pthread_mutex_destroy(&l->mu);
    ic__free(l->slots);
    ic__free(l->th);
    ic__free(l->args);
    ic__free(l);
}
