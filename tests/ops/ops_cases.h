/* ops_cases.h - what the backend op tests (tests/ops/test_ops_*.c) share: buffers, the
 * convolution case table row and its desc, names for messages, the relative L2 error
 * used where elementwise tolerances say little (bf16), a conv-or-dense op run through
 * any backend table, and a small convnet trained a few steps. Header-only, like
 * harness.h. */
#ifndef IC_TEST_OPS_CASES_H
#define IC_TEST_OPS_CASES_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "harness.h"

static inline float *fbuf(long n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static inline const char *act_name(ic__act a)
{
    static const char *n[] = {"none", "relu", "relu6", "sigmoid", "tanh"};
    return n[a];
}

typedef struct conv_case {
    int64_t n, ih, iw, ic, oc;
    int kh, kw, sh, sw, pt, pb, pl, pr, groups, has_bias;
    ic__act act;
    float scale; /* src range +-scale (large enough for relu6 to clip) */
} conv_case;

static inline ic__conv_desc conv_desc_of(const conv_case *c)
{
    ic__conv_desc d = {0};
    d.n = c->n;
    d.ih = c->ih;
    d.iw = c->iw;
    d.ic = c->ic;
    d.oc = c->oc;
    d.kh = c->kh;
    d.kw = c->kw;
    d.sh = c->sh;
    d.sw = c->sw;
    d.pt = c->pt;
    d.pb = c->pb;
    d.pl = c->pl;
    d.pr = c->pr;
    d.oh = (c->ih + c->pt + c->pb - c->kh) / c->sh + 1;
    d.ow = (c->iw + c->pl + c->pr - c->kw) / c->sw + 1;
    d.groups = c->groups;
    d.has_bias = c->has_bias;
    d.act = c->act;
    return d;
}

static inline void conv_case_name(char *buf, size_t size, const conv_case *c)
{
    snprintf(buf, size, "conv n%lld %lldx%lldx%lld->%lld k%dx%d s%dx%d p%d,%d,%d,%d g%d b%d %s",
             (long long)c->n, (long long)c->ih, (long long)c->iw, (long long)c->ic,
             (long long)c->oc, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr, c->groups,
             c->has_bias, act_name(c->act));
}

/* ||a - b|| / ||b|| (0 when both are 0). */
static inline double rel_l2(const float *a, const float *b, long n)
{
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- one op under test: a conv or a dense, run through any backend table ---- */

typedef struct wcase {
    char what[200];
    int is_conv;
    ic__conv_desc cd;
    ic__dense_desc dd;
    long ns, nd, nw, nb; /* src, dst, weights, bias element counts */
    float scale;         /* src range */
} wcase;

static inline wcase wcase_conv(const conv_case *c)
{
    wcase w = {0};
    w.is_conv = 1;
    w.cd = conv_desc_of(c);
    conv_case_name(w.what, sizeof w.what, c);
    w.ns = (long)(w.cd.n * w.cd.ih * w.cd.iw * w.cd.ic);
    w.nd = (long)(w.cd.n * w.cd.oh * w.cd.ow * w.cd.oc);
    w.nw = (long)w.cd.kh * w.cd.kw * (w.cd.ic / w.cd.groups) * w.cd.oc;
    w.nb = c->has_bias ? (long)c->oc : 0;
    w.scale = c->scale;
    return w;
}

static inline wcase wcase_dense(int64_t n, int64_t ic, int64_t oc, int has_bias, ic__act act)
{
    wcase w = {0};
    w.dd = (ic__dense_desc){.n = n, .ic = ic, .oc = oc, .has_bias = has_bias, .act = act};
    snprintf(w.what, sizeof w.what, "dense %lldx%lld->%lld b%d %s", (long long)n, (long long)ic,
             (long long)oc, has_bias, act_name(act));
    w.ns = (long)(n * ic);
    w.nd = (long)(n * oc);
    w.nw = (long)(ic * oc);
    w.nb = has_bias ? (long)oc : 0;
    w.scale = 1.f;
    return w;
}

static inline ic__op *wcreate(const ic__backend *be, const wcase *c)
{
    ic__op *op = NULL;
    OK(c->is_conv ? be->conv_create(&op, &c->cd) : be->dense_create(&op, &c->dd));
    return op;
}

static inline void wfwd(const ic__backend *be, const wcase *c, ic__op *op, float *dst,
                        const float *src, const float *w, uint64_t ver, const float *b)
{
    OK(c->is_conv ? be->conv_fwd(op, dst, src, w, ver, b) : be->dense_fwd(op, dst, src, w, ver, b));
}

static inline void wbwd_data(const ic__backend *be, const wcase *c, ic__op *op, float *diff_src,
                             const float *diff_dst, const float *w, uint64_t ver)
{
    OK(c->is_conv ? be->conv_bwd_data(op, diff_src, diff_dst, w, ver)
                  : be->dense_bwd_data(op, diff_src, diff_dst, w, ver));
}

static inline void wbwd_weights(const ic__backend *be, const wcase *c, ic__op *op, float *dw,
                                float *db, const float *src, const float *diff_dst)
{
    OK(c->is_conv ? be->conv_bwd_weights(op, dw, db, src, diff_dst)
                  : be->dense_bwd_weights(op, dw, db, src, diff_dst));
}

/* Buffers of one case: inputs, and three of each output (one per backend table). */
typedef struct wbufs {
    float *src, *w, *b, *dd;
    float *y[3], *ds[3], *dw[3], *db[3];
} wbufs;

static inline void wbufs_alloc(wbufs *B, const wcase *c)
{
    B->src = fbuf(c->ns), B->w = fbuf(c->nw), B->b = fbuf(c->nb), B->dd = fbuf(c->nd);
    for (int i = 0; i < 3; i++) {
        B->y[i] = fbuf(c->nd), B->ds[i] = fbuf(c->ns);
        B->dw[i] = fbuf(c->nw), B->db[i] = fbuf(c->nb);
    }
}

/* Random inputs of a case (uniform; src scaled by the case, the rest in [-1, 1]). */
static inline void wbufs_fill(wbufs *B, const wcase *c, unsigned seed)
{
    t_fill_uniform(B->src, c->ns, seed, -c->scale, c->scale);
    t_fill_uniform(B->w, c->nw, seed + 1, -1.f, 1.f);
    t_fill_uniform(B->b, c->nb, seed + 2, -1.f, 1.f);
    t_fill_uniform(B->dd, c->nd, seed + 3, -1.f, 1.f);
}

static inline void wbufs_free(wbufs *B)
{
    free(B->src), free(B->w), free(B->b), free(B->dd);
    for (int i = 0; i < 3; i++)
        free(B->y[i]), free(B->ds[i]), free(B->dw[i]), free(B->db[i]);
}

/* Runs this test program again as `name arg` with IC_CONV_WINOGRAD=wino (read once per
 * process, so each mode needs its own process); returns its exit status. */
static inline int rerun_with_winograd(const char *name, const char *arg, const char *wino)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("IC_CONV_WINOGRAD", wino, 1);
        execl("/proc/self/exe", name, arg, (char *)NULL);
        perror("execl");
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- fault injection: fail the k-th allocation through the hooks ---- */

static long fi_count, fi_fail_at;

static inline void *fi_malloc(size_t n, void *u)
{
    (void)u;
    return ++fi_count == fi_fail_at ? NULL : malloc(n);
}

static inline void *fi_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return ++fi_count == fi_fail_at ? NULL : realloc(p, n);
}

static inline void fi_free(void *p, void *u)
{
    (void)u;
    free(p);
}

/* Runs fn once counting its allocations, then once per allocation with that one failing:
 * each of those runs must return IC_ERR_NOMEM (and, under ASan, leak nothing). */
static inline void fi_each(const char *what, ic_status (*fn)(void))
{
    ic_alloc_hooks h = {fi_malloc, fi_realloc, fi_free, NULL};
    ic_set_alloc_hooks(&h);
    fi_fail_at = 0;
    fi_count = 0;
    CHECKF(fn() == IC_OK, "%s: %s", what, ic_errmsg());
    long total = fi_count;
    CHECKF(total > 5, "%s: only %ld allocations seen", what, total);
    for (long k = 1; k <= total; k++) {
        fi_count = 0;
        fi_fail_at = k;
        ic_status s = fn();
        CHECKF(s == IC_ERR_NOMEM, "%s: failing allocation %ld of %ld: got %s (%s)", what, k, total,
               ic_status_str(s), ic_errmsg());
    }
    ic_set_alloc_hooks(NULL);
}

/* ---- model level: a small convnet (conv, pool, depthwise, strided conv, dense) ---- */


static inline ic_model *small_net(void)
{
    ic_model *m;
    OK(ic_model_create(&m, NULL, 1));
    int64_t in[3] = {20, 20, 3};
    OK(ic_model_input(m, 3, in, NULL, NULL));
    ic_conv2d_opts c = ic_conv2d_opts_default(16, 3, 3);
    c.activation = IC_ACT_RELU;
    ADD(m, ic_layer_conv2d(&l_, &c));
    ADD(m, ic_layer_max_pooling2d(&l_, NULL));
    c = ic_conv2d_opts_default(0, 3, 3);
    c.padding = IC_PAD_SAME;
    c.activation = IC_ACT_RELU6;
    ADD(m, ic_layer_depthwise_conv2d(&l_, &c));
    c = ic_conv2d_opts_default(32, 3, 3);
    c.stride_h = c.stride_w = 2;
    c.activation = IC_ACT_RELU;
    ADD(m, ic_layer_conv2d(&l_, &c));
    ADD(m, ic_layer_flatten(&l_, NULL));
    ADD(m, ic_layer_dense(&l_, 16, IC_ACT_RELU, 1, NULL));
    ADD(m, ic_layer_dense(&l_, 1, IC_ACT_SIGMOID, 1, NULL));
    return m;
}

/* Losses of 3 RMSprop steps on a fixed batch, from fixed initial weights. */
static inline void train3(const char *backend, ic_precision p, double loss[3])
{
    OK(ic_set_backend(backend));
    ic_set_random_seed(7);
    ic_model *m = small_net();
    ic_compile_opts o = ic_compile_opts_default();
    o.optimizer.lr = 1e-3f;
    OK(ic_model_compile(m, &o));
    OK(ic_model_set_precision(m, p));
    CHECKF(ic_model_precision(m) == p, "%s: precision %d not taken", backend, (int)p);
    int64_t xs[4] = {6, 20, 20, 3}, ys[2] = {6, 1};
    ic_tensor *x, *y;
    OK(ic_tensor_create(&x, 4, xs));
    OK(ic_tensor_create(&y, 2, ys));
    t_fill_uniform(ic_tensor_data(x), ic_tensor_numel(x), 21, 0.f, 1.f);
    for (int i = 0; i < 6; i++)
        ic_tensor_data(y)[i] = (float)(i % 2);
    for (int s = 0; s < 3; s++)
        OK(ic_model_train_on_batch(m, x, y, &loss[s], NULL));
    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_model_free(m);
}

#endif
