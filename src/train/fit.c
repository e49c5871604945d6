/* fit.c - compile, one training step (train_on_batch) and evaluate; the loop over epochs
 * that drives them is the engine's (src/engine/fit.c).
 *
 * One training step: forward in training mode through the plan for the batch's size,
 * loss and accuracy from that (pre-update) output, backward from dL/dp, then the
 * optimizer updates the weights that are effectively trainable now. Evaluation runs
 * batches in inference mode; its loss and accuracy are batch-size-weighted means
 * (Keras's evaluate_generator). Messages say where: "epoch E step S", "evaluate step S".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train_impl.h"

ic_compile_opts ic_compile_opts_default(void)
{
    ic_compile_opts o;
    memset(&o, 0, sizeof o);
    o.optimizer = ic_optimizer_opts_default(IC_OPT_RMSPROP);
    o.loss = IC_LOSS_BINARY_CROSSENTROPY;
    o.metric_accuracy = 1;
    o.frozen_bn_uses_batch_stats = 0;
    return o;
}

static void train_state_free(ic__train_state *t)
{
    if (!t)
        return;
    ic__opt_clear(&t->opt);
    ic__free(t->params);
    ic__free_aligned(t->dloss);
    ic__free(t);
}

ic_status ic_model_compile(ic_model *m, const ic_compile_opts *o)
{
    if (!m || !o)
        return ic_seterr(IC_ERR_INVALID, "ic_model_compile: model and options are required");
    if (m->n_nodes < 2 || m->input_node < 0)
        return ic_seterr(IC_ERR_INVALID, "compile model '%s': the model has no input or no layers",
                         m->name);
    ic_status s = ic__loss_check_output(o->loss, ic__model_out_shape(m));
    if (s)
        return ic__errctx(s, "compile model '%s'", m->name);
    if ((s = ic_model_set_precision(m, o->precision)))
        return ic__errctx(s, "compile model '%s'", m->name);
    ic__optimizer opt;
    if ((s = ic__opt_init(&opt, &o->optimizer)))
        return ic__errctx(s, "compile model '%s'", m->name);
    if (!m->train) {
        m->train = ic__calloc(1, sizeof *m->train);
        if (!m->train)
            return IC_ERR_NOMEM;
        m->train_free = train_state_free;
    }
    /* Recompiling starts a new optimizer (fresh state and iterations), as Keras does when
     * compile() is given a new optimizer; the dropout step counter keeps running. */
    ic__opt_clear(&m->train->opt);
    m->train->opt = opt;
    m->train->opts = *o;
    return IC_OK;
}

static ic_status not_compiled(const ic_model *m, const char *what)
{
    return ic_seterr(IC_ERR_INVALID,
                     "model '%s' is not compiled: call ic_model_compile() before %s", m->name,
                     what);
}

/* x must be (B, ...model input shape) and y must have B rows. */
static ic_status check_batch(const ic_model *m, const ic_tensor *x, const ic_tensor *y)
{
    char a[80], b[80];
    if (!x || !y)
        return ic_seterr(IC_ERR_INVALID, "a batch needs both x and y (got %s)",
                         !x ? "no x" : "no y");
    int64_t in[IC_MAX_DIMS];
    int nd = ic_model_input_shape(m, in);
    int ok = x->ndim == nd + 1;
    for (int i = 0; ok && i < nd; i++)
        ok = x->shape[i + 1] == in[i];
    if (!ok)
        return ic_seterr(IC_ERR_SHAPE, "model '%s' expects input batches %s, got x %s", m->name,
                         ic__shape_str(a, sizeof a, nd, in, 1),
                         ic_tensor_shape_str(x, b, sizeof b));
    if (y->shape[0] != x->shape[0])
        return ic_seterr(IC_ERR_SHAPE, "batch x %s and labels y %s have different sizes",
                         ic_tensor_shape_str(x, a, sizeof a), ic_tensor_shape_str(y, b, sizeof b));
    return IC_OK;
}

/* Adds "where: " to messages that do not already say where. */
static ic_status with_where(ic_status s, const char *where)
{
    if (s && s != IC_ERR_NUMERIC)
        ic__errctx(s, "%s", where);
    return s;
}

ic_status ic__train_step(ic_model *m, const ic_tensor *x, const ic_tensor *y, double *loss,
                            double *acc, const char *where)
{
    ic__train_state *t = m->train;
    ic_status s = check_batch(m, x, y);
    if (s)
        return with_where(s, where);
    ic__plan *p;
    if ((s = ic__plan_get(m, x->shape[0], &p)))
        return with_where(s, where);
    ic__run_ctx rc = {1, t->opts.frozen_bn_uses_batch_stats != 0, t->step++};
    if ((s = ic__plan_forward(p, x->data, &rc)))
        return with_where(s, where);
    ic_tensor *out = ic__plan_output(p);
    int64_t n = ic_tensor_numel(out);
    if (n > t->cap_dloss) {
        ic__free_aligned(t->dloss);
        t->cap_dloss = 0;
        if (!(t->dloss = ic__malloc_aligned((size_t)n * sizeof(float))))
            return IC_ERR_NOMEM;
        t->cap_dloss = n;
    }
    double l;
    if ((s = ic__loss_compute(t->opts.loss, out, y, &l, t->dloss, where)))
        return with_where(s, where);
    if (loss)
        *loss = l;
    if (acc)
        *acc = ic__accuracy(t->opts.loss, out, y);
    int np = ic__model_collect(m, 1, NULL, NULL, 0);
    if (np > t->cap_params) {
        ic__param **ps = ic__realloc(t->params, (size_t)np * sizeof *ps);
        if (!ps)
            return IC_ERR_NOMEM;
        t->params = ps;
        t->cap_params = np;
    }
    ic__model_collect(m, 1, t->params, NULL, np);
    if (np > 0 && (s = ic__plan_backward(p, t->dloss, NULL)))
        return with_where(s, where);
    if ((s = ic__opt_step(&t->opt, t->params, np)))
        return with_where(s, where);
    return IC_OK;
}

ic_status ic_model_train_on_batch(ic_model *m, const ic_tensor *x, const ic_tensor *y, double *loss,
                                  double *acc)
{
    if (!m)
        return ic_seterr(IC_ERR_INVALID, "ic_model_train_on_batch: model is NULL");
    if (!m->train)
        return not_compiled(m, "ic_model_train_on_batch()");
    char where[64];
    snprintf(where, sizeof where, "train_on_batch step %llu",
             (unsigned long long)m->train->opt.iterations + 1);
    return ic__train_step(m, x, y, loss, acc, where);
}

static int64_t source_steps(ic_batch_source *src, int64_t steps)
{
    if (steps > 0)
        return steps;
    return src->ops->length ? src->ops->length(src->self) : 0;
}

static ic_status check_source(const ic_batch_source *src, const char *what)
{
    if (!src || !src->ops || !src->ops->next)
        return ic_seterr(IC_ERR_INVALID, "%s batch source is NULL or has no next()", what);
    return IC_OK;
}

/* Inference-mode mean loss / acc over `steps` batches, batch-size weighted, and the spread
 * of the outputs over them (r may be NULL).
 * label: "validation" (fit) or "evaluate"; epoch (>= 1) names the fit epoch, 0 none. */
ic_status ic__evaluate(ic_model *m, ic_batch_source *src, int64_t steps, ic_eval_result *r,
                       const char *label, int epoch, const ic__eval_forward *fwd)
{
    ic__train_state *t = m->train;
    double sl = 0, sa = 0;
    int64_t seen = 0;
    char where[96];
    /* per output unit: the smallest and largest value seen (outputs have few units) */
    float *lo = NULL, *hi = NULL;
    int64_t units = 0;
    ic_status s = IC_OK;
    for (int64_t st = 0; st < steps; st++) {
        if (epoch > 0)
            snprintf(where, sizeof where, "epoch %d %s step %lld", epoch, label, (long long)st + 1);
        else
            snprintf(where, sizeof where, "%s step %lld", label, (long long)st + 1);
        const ic_tensor *x = NULL, *y = NULL;
        if ((s = src->ops->next(src->self, &x, &y))) {
            s = ic__errctx(s, "%s: reading a batch", where);
            break;
        }
        ic__plan *p;
        ic__run_ctx rc = {0, 0, 0};
        if ((s = check_batch(m, x, y)) || (s = ic__plan_get(m, x->shape[0], &p)) ||
            (s = fwd ? fwd->run(fwd->self, p, x, &rc) : ic__plan_forward(p, x->data, &rc))) {
            s = with_where(s, where);
            break;
        }
        ic_tensor *out = ic__plan_output(p);
        double l;
        if ((s = ic__loss_compute(t->opts.loss, out, y, &l, NULL, where))) {
            s = with_where(s, where);
            break;
        }
        int64_t b = x->shape[0];
        sl += l * (double)b;
        sa += ic__accuracy(t->opts.loss, out, y) * (double)b;
        seen += b;
        if (r) {
            int64_t k = b > 0 ? ic_tensor_numel(out) / b : 0;
            if (!lo) {
                units = k;
                lo = ic__malloc((size_t)(2 * (units ? units : 1)) * sizeof *lo);
                if (!lo) {
                    s = ic_seterr(IC_ERR_NOMEM, "%s: out of memory", where);
                    break;
                }
                hi = lo + units;
                for (int64_t u = 0; u < units; u++)
                    lo[u] = INFINITY, hi[u] = -INFINITY;
            }
            const float *o = out->data;
            for (int64_t i = 0; i < b && k == units; i++)
                for (int64_t u = 0; u < units; u++) {
                    float v = o[i * units + u];
                    lo[u] = v < lo[u] ? v : lo[u];
                    hi[u] = v > hi[u] ? v : hi[u];
                }
        }
    }
    if (!s && r) {
        memset(r, 0, sizeof *r);
        r->loss = seen ? sl / (double)seen : NAN;
        r->acc = seen ? sa / (double)seen : NAN;
        r->samples = seen;
        double spread = units ? 0 : NAN;
        for (int64_t u = 0; u < units; u++)
            if (!(hi[u] - lo[u] <= spread)) /* NaN outputs make the spread NaN */
                spread = (double)hi[u] - (double)lo[u];
        r->output_spread = spread;
    }
    ic__free(lo);
    return s;
}

static ic_status evaluate(ic_model *m, ic_batch_source *src, int64_t steps, ic_eval_result *r)
{
    if (!m)
        return ic_seterr(IC_ERR_INVALID, "ic_model_evaluate: model is NULL");
    if (!m->train)
        return not_compiled(m, "ic_model_evaluate()");
    ic_status s = check_source(src, "evaluate");
    if (s)
        return s;
    if (steps < 0)
        return ic_seterr(IC_ERR_INVALID, "evaluate: steps %lld must be >= 0", (long long)steps);
    int64_t n = source_steps(src, steps);
    if (n < 1)
        return ic_seterr(IC_ERR_INVALID,
                         "evaluate: steps is 0 and the batch source reports no length");
    return ic__evaluate(m, src, n, r, "evaluate", 0, NULL);
}

ic_status ic_model_evaluate(ic_model *m, ic_batch_source *src, int64_t steps, double *loss,
                            double *acc)
{
    ic_eval_result r;
    ic_status s = evaluate(m, src, steps, &r);
    if (!s && loss)
        *loss = r.loss;
    if (!s && acc)
        *acc = r.acc;
    return s;
}

ic_status ic_model_evaluate_ex(ic_model *m, ic_batch_source *src, int64_t steps,
                               ic_eval_result *r)
{
    if (!r)
        return ic_seterr(IC_ERR_INVALID, "ic_model_evaluate_ex: the result pointer is NULL");
    return evaluate(m, src, steps, r);
}
