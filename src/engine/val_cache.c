/* val_cache.c - validation on stored base features (engine_impl.h: ic__vcache).
 *
 * Why the base's output for a validation image cannot change during a run when no layer
 * of the base with weights is trainable: the optimizer updates trainable weights only; a
 * frozen BatchNormalization never updates its moving statistics (and the old
 * frozen_bn_uses_batch_stats behaviour only affects training-mode forwards); validation
 * runs in inference mode, so Dropout is off and BN uses the moving statistics; validation
 * images are never augmented. A run that is resumed starts with an empty cache.
 *
 * Batches. The validation iterator reshuffles every pass (seed + pass), so a later pass's
 * batches mix images of different first-pass batches. The iterator therefore still runs
 * and hands out exactly its batches; each image is looked up by a 128-bit hash of its
 * pixels and the head gets the stored features of the batch's images in the batch's order.
 * So the batch sizes, the order of the running sums, the iterator's position (checkpoints,
 * --resume) and its count of replaced files are those of the uncached path, and an image
 * whose file changed on disk is simply not found. A batch with any image not stored yet
 * runs the base on the whole batch and stores what is new: that is the first validation,
 * or the first few while --validation-steps is shorter than a pass. The images are still
 * decoded every epoch (under 1 s for the book's 1,000 on two cores, where VGG16 takes
 * over a minute on them).
 *
 * Exactness rests on one property of the backends: the base's output for an image does
 * not depend on the other images of its batch or on the batch size (convolutions and
 * pooling work per image; checked for VGG16, MobileNetV2 and ResNet50 in fp32 and bf16,
 * batch sizes 1 to 32, cpu and ref backends). The head runs the same ops on the same rows
 * as inside the whole model. tests/cli/test_cli_train.sh compares the history with
 * IC_NO_VAL_CACHE=1, bit for bit.
 *
 * A batch with new images runs through the model's own plan for its batch size (the one
 * ic_model_evaluate and training use) and the base's output is read from it, so nothing is
 * computed differently there and no second set of activations is allocated (the public
 * ic_model_forward on the nested base would build plans of its own: 600 MB more for VGG16
 * at 150x150, batch 20). That, and starting a forward part-way on stored activations
 * (ic__plan_forward_from, passed to the evaluation as its forward), are the uses of the
 * library's private graph API here; a public "forward up to / from a layer" would replace
 * them.
 *
 * The head is rebuilt for every validation (milliseconds) and the model's weights copied
 * in with ic_model_head_sync. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "engine_impl.h"
#include "train/train_impl.h"

/* Features beyond this are not stored (VGG16 at 150x150: 32 KiB per image). */
#define VC_MAX_BYTES ((int64_t)2 << 30)

struct ic__vcache {
    ic_model *model;    /* validated (borrowed) */
    int node;           /* its base's node */
    ic_model *base;     /* its base (borrowed) */
    int cut;            /* partial: the base's node whose activations are stored; -1: its output */
    int64_t in_row;     /* floats per image */
    int64_t row;        /* floats per image of the base's output */
    int64_t fshape[IC_MAX_DIMS + 1];
    int fnd;
    int64_t cap, used; /* images there is room for (grows), images stored */
    int64_t max_images; /* VC_MAX_BYTES worth */
    float *feat;       /* cap x row */
    uint64_t *keys;    /* cap x 2: image i's key */
    int64_t *slots;    /* hash table of nslots (a power of 2): image + 1, 0 = empty */
    int64_t nslots;
    /* during ic__vcache_evaluate */
    ic_batch_source *src; /* the images */
    int64_t bcap;         /* per-batch scratch */
    uint64_t *bkeys;
    int64_t *brow;
    ic_tensor *out; /* stored features handed out */
    /* partial: the batch's activations at the cut, from vc_next_partial for vc_forward */
    const float *bfeat;
};

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The key of an image of n floats: four xxHash64-style lanes over its bytes, merged two
 * ways into 128 bits (collisions among 10^6 images: about 10^-27). */
static void key_of(const float *x, int64_t n, uint64_t key[2])
{
    const uint64_t p1 = 0x9E3779B185EBCA87ull, p2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t acc[4] = {p1 + p2, p2, 0, 0 - p1};
    const unsigned char *b = (const unsigned char *)x;
    size_t len = (size_t)n * sizeof(float), i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, b + i + 8 * k, 8);
            acc[k] = rotl(acc[k] + w * p2, 31) * p1;
        }
    for (int k = 0; i < len; i += 4, k++) {
        uint32_t w;
        memcpy(&w, b + i, 4);
        acc[k & 3] = rotl(acc[k & 3] + ((uint64_t)w + 1) * p2, 31) * p1;
    }
    key[0] = mix64(acc[0] ^ rotl(acc[1], 7) ^ rotl(acc[2], 12) ^ rotl(acc[3], 18) ^ len);
    key[1] = mix64(acc[3] + 3 * acc[2] + 5 * acc[1] + 7 * acc[0] + len);
}

/* The stored image with this key, or -1. */
static int64_t find(const ic__vcache *c, const uint64_t key[2])
{
    if (!c->nslots)
        return -1;
    for (int64_t h = (int64_t)(key[0] & (uint64_t)(c->nslots - 1));;
         h = (h + 1) & (c->nslots - 1)) {
        int64_t r = c->slots[h] - 1;
        if (r < 0)
            return -1;
        if (c->keys[2 * r] == key[0] && c->keys[2 * r + 1] == key[1])
            return r;
    }
}

/* Makes room for one more image: doubles the arrays and rebuilds the hash table. */
static int grow(ic__vcache *c)
{
    int64_t cap = c->cap ? 2 * c->cap : 256;
    if (cap > c->max_images)
        cap = c->max_images;
    if (cap <= c->cap)
        return 0;
    int64_t nslots = 16;
    while (nslots < 2 * cap)
        nslots *= 2;
    float *feat = realloc(c->feat, (size_t)(cap * c->row) * sizeof(float));
    if (feat)
        c->feat = feat;
    uint64_t *keys = feat ? realloc(c->keys, (size_t)cap * 2 * sizeof *keys) : NULL;
    if (keys)
        c->keys = keys;
    int64_t *slots = keys ? calloc((size_t)nslots, sizeof *slots) : NULL;
    if (!slots)
        return 0; /* stays as it was: later images are not stored */
    free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    c->cap = cap;
    for (int64_t r = 0; r < c->used; r++) {
        int64_t h = (int64_t)(c->keys[2 * r] & (uint64_t)(nslots - 1));
        while (slots[h])
            h = (h + 1) & (nslots - 1);
        slots[h] = r + 1;
    }
    return 1;
}

/* Stores features f (row floats) under key, while there is room. */
static void store(ic__vcache *c, const uint64_t key[2], const float *f)
{
    if ((c->used >= c->cap && !grow(c)) || find(c, key) >= 0)
        return;
    int64_t r = c->used++;
    memcpy(c->feat + r * c->row, f, (size_t)c->row * sizeof(float));
    c->keys[2 * r] = key[0];
    c->keys[2 * r + 1] = key[1];
    int64_t h = (int64_t)(key[0] & (uint64_t)(c->nslots - 1));
    while (c->slots[h])
        h = (h + 1) & (c->nslots - 1);
    c->slots[h] = r + 1;
}

/* Runs the whole model on a batch of b images (n floats each), as ic_model_evaluate
 * would; the plan, whose activations stay valid until it runs again, in *pp. */
static ic_status vc_run(ic__vcache *c, const ic_tensor *ix, int64_t b, int64_t n, ic__plan **pp)
{
    ic__run_ctx rc = {0, 0, 0};
    if (n != c->in_row)
        return ic_seterr(IC_ERR_SHAPE, "a validation image has %lld values, the input %lld",
                         (long long)n, (long long)c->in_row);
    ic_status s = ic__plan_get(c->model, b, pp);
    return s ? s : ic__plan_forward(*pp, ic_tensor_cdata(ix), &rc);
}

/* c->out = the stored rows of the batch's b images (all found), in the batch's order. */
static ic_status vc_gather(ic__vcache *c, int64_t b)
{
    if (!c->out || ic_tensor_dim(c->out, 0) != b) {
        ic_tensor_free(c->out);
        c->out = NULL;
        c->fshape[0] = b;
        ic_status s = ic_tensor_create(&c->out, c->fnd + 1, c->fshape);
        if (s)
            return s;
    }
    float *o = ic_tensor_data(c->out);
    for (int64_t i = 0; i < b; i++)
        memcpy(o + i * c->row, c->feat + c->brow[i] * c->row, (size_t)c->row * sizeof(float));
    return IC_OK;
}

/* Partial: the whole model is evaluated on the images, its base starting after the cut from
 * the stored activations (vc_forward); a batch with new images runs in full first and its
 * activations at the cut are stored and started from, so the evaluation's forward then
 * repeats only the nodes after the cut. */
static ic_status vc_next_partial(ic__vcache *c, const ic_tensor *ix, int64_t b, int64_t n, int all,
                                 const ic_tensor **x)
{
    const float *feat;
    if (!all) {
        ic__plan *p, *ip;
        ic_status s = vc_run(c, ix, b, n, &p);
        if (s)
            return s;
        if (!(ip = ic__plan_nested(p, c->node)))
            return ic_seterr(IC_ERR_INTERNAL, "validation cache: the base has no plan");
        feat = ic_tensor_cdata(ic__plan_node_output(ip, c->cut));
        for (int64_t i = 0; i < b; i++)
            if (c->brow[i] < 0)
                store(c, c->bkeys + 2 * i, feat + i * c->row);
    } else {
        ic_status s = vc_gather(c, b);
        if (s)
            return s;
        feat = ic_tensor_cdata(c->out);
    }
    c->bfeat = feat;
    *x = ix;
    return IC_OK;
}

/* Partial: the forward of the batch vc_next_partial handed out, as the whole model's would
 * be: the base's plan after the cut from the batch's activations there, then the model's
 * plan after the base from the base's output, which is the copy the nested layer's forward
 * would make. */
static ic_status vc_forward(void *self, ic__plan *p, const ic_tensor *x, const ic__run_ctx *rc)
{
    ic__vcache *c = self;
    const float *feat = c->bfeat;
    ic__plan *ip = ic__plan_nested(p, c->node);
    (void)x;         /* the images' part of the forward is in feat */
    c->bfeat = NULL; /* for this batch only */
    if (!feat || !ip)
        return ic_seterr(IC_ERR_INTERNAL, "validation cache: no activations or no base plan");
    ic_status s = ic__plan_forward_from(ip, c->cut, feat, rc);
    return s ? s : ic__plan_forward_from(p, c->node, ic_tensor_cdata(ic__plan_output(ip)), rc);
}

/* The batch source the head is evaluated on: the next batch of images, as features. */
static ic_status vc_next(void *self, const ic_tensor **x, const ic_tensor **y)
{
    ic__vcache *c = self;
    const ic_tensor *ix, *iy;
    ic_status s = c->src->ops->next(c->src->self, &ix, &iy);
    if (s)
        return s;
    int64_t b = ic_tensor_dim(ix, 0), n = ic_tensor_numel(ix) / b;
    if (b > c->bcap) {
        free(c->bkeys);
        free(c->brow);
        c->bkeys = malloc((size_t)b * 2 * sizeof *c->bkeys);
        c->brow = malloc((size_t)b * sizeof *c->brow);
        c->bcap = c->bkeys && c->brow ? b : 0;
        if (!c->bcap)
            return ic_seterr(IC_ERR_NOMEM, "out of memory");
    }
    int all = 1;
    for (int64_t i = 0; i < b; i++) {
        key_of(ic_tensor_cdata(ix) + i * n, n, c->bkeys + 2 * i);
        all &= (c->brow[i] = find(c, c->bkeys + 2 * i)) >= 0;
    }
    *y = iy;
    if (c->cut >= 0)
        return vc_next_partial(c, ix, b, n, all, x);
    if (!all) {
        /* as ic_model_evaluate runs the model, then the base's output from the plan */
        ic__plan *p;
        if ((s = vc_run(c, ix, b, n, &p)))
            return s;
        const ic_tensor *f = ic__plan_node_output(p, c->node);
        for (int64_t i = 0; i < b; i++)
            if (c->brow[i] < 0)
                store(c, c->bkeys + 2 * i, ic_tensor_cdata(f) + i * c->row);
        *x = f; /* valid until the plan runs again: after the head has used it */
        return IC_OK;
    }
    if ((s = vc_gather(c, b)))
        return s;
    *x = c->out;
    return IC_OK;
}

static int64_t vc_length(void *self)
{
    ic__vcache *c = self;
    return c->src->ops->length ? c->src->ops->length(c->src->self) : 0;
}

static const ic_batch_source_ops vc_ops = {vc_next, vc_length, NULL, NULL};

/* 1 when nothing in m with weights can train. Layers without weights (pooling, Dropout)
 * behave the same either way. */
static int trains(const ic_layer *l);

static int frozen(const ic_model *m)
{
    if (!ic_model_trainable(m))
        return 1;
    for (int i = 0; i < ic_model_num_layers(m); i++)
        if (trains(ic_model_layer(m, i)))
            return 0;
    return 1;
}

/* 1 when layer l has weights that can train: its own, or a nested model's. */
static int trains(const ic_layer *l)
{
    const ic_model *inner = ic_layer_inner_model(l);
    return ic_layer_trainable(l) && (inner ? !frozen(inner) : ic_layer_num_weights(l) > 0);
}

/* The node of base whose activations a partial cache stores: the last one before the
 * first layer that trains through which everything after it flows (no later node reads
 * an earlier one), or -1 when there is none past the input. */
static int cut_of(const ic_model *base)
{
    int f = 0, out = ic__model_out_node(base);
    while (f <= out && (f == base->input_node || !trains(base->nodes[f].layer)))
        f++;
    for (int k = f - 1; k > base->input_node; k--) {
        int ok = 1;
        for (int j = k + 1; j < base->n_nodes && ok; j++)
            for (int i = 0; i < base->nodes[j].n_in; i++)
                ok &= base->nodes[j].in[i] >= k;
        if (ok)
            return k;
    }
    return -1;
}

const char *ic__vcache_cut(const ic__vcache *c)
{
    return c && c->cut >= 0 ? ic_layer_name(c->base->nodes[c->cut].layer) : NULL;
}

void ic__vcache_free(ic__vcache *c)
{
    if (!c)
        return;
    free(c->feat);
    free(c->keys);
    free(c->slots);
    free(c->bkeys);
    free(c->brow);
    ic_tensor_free(c->out);
    free(c);
}

ic__vcache *ic__vcache_create(ic_model *m)
{
    ic_model_head *h;
    if (!m->train || ic_model_head_create(m, &h)) { /* not a Sequential(base, head...) */
        ic_clear_error();
        return NULL;
    }
    ic_model *base = ic_model_head_base(h);
    ic_model_head_free(h);
    int cut = -1;
    if (!frozen(base) && (cut = cut_of(base)) < 0)
        return NULL;
    ic__vcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->model = m;
    c->node = -1;
    c->base = base;
    c->cut = cut;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].layer == ic_model_layer(m, 0))
            c->node = i;
    int64_t in[IC_MAX_DIMS];
    int ind = ic_model_input_shape(m, in);
    c->in_row = 1;
    for (int i = 0; i < ind; i++)
        c->in_row *= in[i];
    if (cut < 0) {
        c->fnd = ic_model_output_shape(base, c->fshape + 1);
    } else {
        const ic__shape *cs = &base->nodes[cut].layer->out;
        c->fnd = cs->ndim;
        for (int i = 0; i < cs->ndim; i++)
            c->fshape[1 + i] = cs->d[i];
    }
    c->row = 1;
    for (int i = 1; i <= c->fnd; i++)
        c->row *= c->fshape[i];
    c->max_images = c->row > 0 ? VC_MAX_BYTES / (int64_t)sizeof(float) / c->row : 0;
    if (c->node < 0 || c->row < 1 || c->max_images < 1) {
        ic__vcache_free(c);
        return NULL;
    }
    return c;
}

ic_status ic__vcache_evaluate(ic__vcache *c, ic_batch_source *src, int64_t steps,
                              ic_eval_result *r, int epoch)
{
    if (c->cut >= 0) { /* the whole model, its base starting after the cut (vc_forward) */
        ic_batch_source images = {&vc_ops, c};
        ic__eval_forward fwd = {vc_forward, c};
        c->src = src;
        ic_status s = ic__evaluate(c->model, &images, steps, r, "validation", epoch, &fwd);
        c->src = NULL;
        c->bfeat = NULL;
        return s;
    }
    ic_model_head *h;
    ic_status s = ic_model_head_create(c->model, &h);
    if (!s)
        s = ic_model_compile(ic_model_head_model(h), &c->model->train->opts);
    if (!s)
        s = ic_model_set_precision(ic_model_head_model(h), ic_model_precision(c->model));
    if (!s)
        s = ic_model_head_sync(h, 0);
    if (!s) {
        ic_batch_source features = {&vc_ops, c};
        c->src = src;
        s = ic__evaluate(ic_model_head_model(h), &features, steps, r, "validation", epoch, NULL);
        c->src = NULL;
    }
    ic_model_head_free(h);
    return s;
}
