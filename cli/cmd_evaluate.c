/* cmd_evaluate.c - `imgclass evaluate MODEL.h5 DIR`: loss and accuracy of a saved model over
 * every image of a class-folder directory (one pass, no augmentation), per-class precision
 * and recall, the confusion matrix and, for one sigmoid output, the ROC AUC (threshold-free,
 * docs/results.md shows why it helps); as a table or as JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_input.h"

static void help(void)
{
    printf("usage: imgclass evaluate MODEL.h5 DIR [--batch-size N] [--json] [options]\n"
           "\n"
           "Evaluates a model saved by 'imgclass train' on every image of DIR, one folder per\n"
           "class (the model's classes, e.g. DIR/cats, DIR/dogs). Images are read as in\n"
           "training (target size, color mode, preprocessing, rescale) without augmentation,\n"
           "in one pass of ceil(images / batch size) steps. Prints the loss (binary or\n"
           "categorical cross-entropy, as Keras's evaluate) and accuracy, the precision and\n"
           "recall of each class, and the confusion matrix (rows: true class, columns:\n"
           "predicted class). With one sigmoid output the predicted class is the second one\n"
           "when p > 0.5, and the ROC AUC is printed too: the probability that an image of\n"
           "the second class scores above one of the first (ties count one half, as\n"
           "scikit-learn's roc_auc_score). It does not depend on the 0.5 threshold: a model\n"
           "whose accuracy dropped while its AUC did not has a shifted threshold, not worse\n"
           "features.\n"
           "\n"
           "  --batch-size N     images per forward pass (default 20)\n"
           "  --json             print one JSON object (loss, accuracy, per_class,\n"
           "                     confusion_matrix, ...) instead of the tables\n"
           "  --threads N        threads for decoding and the kernels (default: all cores)\n"
           "  --backend cpu|ref  compute backend (default cpu: oneDNN)\n");
    ic_cli_precision_help(stdout, 21);
    printf("\n");
    ic_cli_keras_help(stdout);
    printf("For a Keras model the sorted class folders of DIR name its classes unless\n"
           "--classes is given.\n"
           "\n"
           "examples:\n"
           "  imgclass evaluate model.h5 cats_and_dogs_small/test\n"
           "  imgclass evaluate model.h5 cats_and_dogs_small/validation --batch-size 50 --json\n");
}

typedef struct counts {
    int K;
    int64_t n, correct;
    double loss_sum;
    int64_t *cm; /* K x K, rows true, columns predicted */
    float *score, *label; /* one sigmoid output: p and the 0/1 label of each image */
    double auc;           /* NaN when undefined (one class only, NaN outputs) ... */
    char why[160];        /* ... and why */
} counts;

/* Keras 2 losses (float32 clip bounds), summed per sample. */
static double sample_loss(const ic_cli_model *cm, const float *p, const float *y)
{
    const double lo = 1e-7f, hi = 1.0f - 1e-7f;
    if (cm->binary) {
        double pc = p[0] < lo ? lo : p[0] > hi ? hi : p[0], yv = y[0];
        return -(yv * log(pc) + (1.0 - yv) * log(1.0 - pc));
    }
    double sum = 0, l = 0;
    for (int64_t k = 0; k < cm->n_out; k++)
        sum += p[k];
    for (int64_t k = 0; k < cm->n_out; k++) {
        if (y[k] == 0)
            continue;
        double q = sum > 0 ? p[k] / sum : 0;
        q = q < lo ? lo : q > hi ? hi : q;
        l -= y[k] * log(q);
    }
    return l;
}

static int true_class(const ic_cli_model *cm, const float *y)
{
    if (cm->binary)
        return y[0] > 0.5f;
    int best = 0;
    for (int64_t k = 1; k < cm->n_out; k++)
        if (y[k] > y[best])
            best = (int)k;
    return best;
}

static ic_status run(ic_cli_model *cm, ic_dir_iterator *it, int64_t steps, counts *c)
{
    ic_batch_source src = ic_dir_iterator_source(it);
    int progress = isatty(2);
    for (int64_t st = 0; st < steps; st++) {
        const ic_tensor *x, *y;
        ic_status s = src.ops->next(src.self, &x, &y);
        if (s)
            return s;
        ic_tensor *p = NULL;
        if ((s = ic_model_forward(cm->model, x, &p)))
            return s;
        int64_t B = ic_tensor_dim(x, 0), ylen = ic_tensor_dim(y, 1);
        const float *P = ic_tensor_cdata(p), *Y = ic_tensor_cdata(y);
        for (int64_t b = 0; b < B; b++) {
            const float *pr = P + b * cm->n_out, *yr = Y + b * ylen;
            double prob;
            int t = true_class(cm, yr), k = ic_cli_model_class(cm, pr, &prob);
            c->cm[t * c->K + k]++;
            c->correct += t == k;
            c->loss_sum += sample_loss(cm, pr, yr);
            if (c->score) {
                c->score[c->n] = pr[0];
                c->label[c->n] = (float)t;
            }
            c->n++;
        }
        ic_tensor_free(p);
        if (progress)
            fprintf(stderr, "\revaluating: %lld/%lld batches", (long long)(st + 1),
                    (long long)steps);
    }
    if (progress)
        fprintf(stderr, "\r%*s\r", 40, "");
    return IC_OK;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

static void per_class(const counts *c, int k, double *prec, double *rec, int64_t *support)
{
    int64_t tp = c->cm[k * c->K + k], pred = 0, sup = 0;
    for (int j = 0; j < c->K; j++) {
        pred += c->cm[j * c->K + k];
        sup += c->cm[k * c->K + j];
    }
    *prec = ratio(tp, pred);
    *rec = ratio(tp, sup);
    *support = sup;
}

static void print_text(const ic_cli_model *cm, const counts *c, int64_t bs, int64_t steps)
{
    char **names = cm->meta.class_names;
    int wn = 5; /* "class" */
    for (int k = 0; k < c->K; k++)
        if ((int)strlen(names[k]) > wn)
            wn = (int)strlen(names[k]);
    printf("loss:     %.4f\n", c->n ? c->loss_sum / (double)c->n : 0.0);
    printf("accuracy: %.4f (%lld of %lld images, %lld steps of %lld)\n", ratio(c->correct, c->n),
           (long long)c->correct, (long long)c->n, (long long)steps, (long long)bs);
    if (c->score && !isnan(c->auc))
        printf("ROC AUC:  %.4f (%s scored above %s; threshold-free)\n", c->auc, names[1],
               names[0]);
    else if (c->score)
        printf("ROC AUC:  undefined (%s)\n", c->why);
    printf("\n%-*s  precision  recall  support\n", wn, "class");
    for (int k = 0; k < c->K; k++) {
        double p, r;
        int64_t sup;
        per_class(c, k, &p, &r, &sup);
        printf("%-*s  %9.4f  %6.4f  %7lld\n", wn, names[k], p, r, (long long)sup);
    }
    /* Column width: the longest of the class names and the largest count. */
    int wc = 1;
    for (int k = 0; k < c->K; k++) {
        int l = (int)strlen(names[k]);
        wc = l > wc ? l : wc;
    }
    char num[32];
    int wnum = snprintf(num, sizeof num, "%lld", (long long)c->n);
    wc = wnum > wc ? wnum : wc;
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%-*s", wn, "");
    for (int k = 0; k < c->K; k++)
        printf("  %*s", wc, names[k]);
    printf("\n");
    for (int t = 0; t < c->K; t++) {
        printf("%-*s", wn, names[t]);
        for (int k = 0; k < c->K; k++)
            printf("  %*lld", wc, (long long)c->cm[t * c->K + k]);
        printf("\n");
    }
}

static void print_json(const ic_cli_model *cm, const char *dir, const counts *c, int64_t bs,
                       int64_t steps)
{
    char **names = cm->meta.class_names;
    printf("{\"model\": ");
    ic_cli_json_str(stdout, cm->path);
    printf(", \"dir\": ");
    ic_cli_json_str(stdout, dir);
    printf(", \"samples\": %lld, \"batch_size\": %lld, \"steps\": %lld,\n", (long long)c->n,
           (long long)bs, (long long)steps);
    printf(" \"loss\": %.10g, \"accuracy\": %.10g, \"correct\": %lld,\n",
           c->n ? c->loss_sum / (double)c->n : 0.0, ratio(c->correct, c->n),
           (long long)c->correct);
    if (c->score && !isnan(c->auc))
        printf(" \"roc_auc\": %.10g,\n", c->auc);
    else if (c->score)
        printf(" \"roc_auc\": null,\n");
    printf(" \"classes\": [");
    for (int k = 0; k < c->K; k++) {
        printf(k ? ", " : "");
        ic_cli_json_str(stdout, names[k]);
    }
    printf("],\n \"per_class\": {");
    for (int k = 0; k < c->K; k++) {
        double p, r;
        int64_t sup;
        per_class(c, k, &p, &r, &sup);
        printf(k ? ",\n  " : "\n  ");
        ic_cli_json_str(stdout, names[k]);
        printf(": {\"precision\": %.10g, \"recall\": %.10g, \"support\": %lld}", p, r,
               (long long)sup);
    }
    printf("},\n \"confusion_matrix\": [");
    for (int t = 0; t < c->K; t++) {
        printf(t ? ", [" : "[");
        for (int k = 0; k < c->K; k++)
            printf("%s%lld", k ? ", " : "", (long long)c->cm[t * c->K + k]);
        printf("]");
    }
    printf("]}\n");
}

int ic_cli_evaluate(int argc, char **argv)
{
    const char *cmd = "evaluate", *pos[2] = {NULL, NULL};
    int npos = 0, json = 0;
    long bs = 20;
    ic_precision prec = IC_PRECISION_FP32;
    ic_cli_keras_opts ko;
    ic_cli_keras_opts_init(&ko);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = ic_cli_model_opt(cmd, argc, argv, &i, &ko, &prec);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--batch-size")) {
            if (i + 1 >= argc || ic_cli_parse_int(argv[i + 1], &bs) || bs < 1)
                return ic_cli_usage_error(cmd, "--batch-size needs a positive number");
            i++;
        } else if (a[0] == '-' && a[1]) {
            return ic_cli_usage_error(cmd, "unknown option: %s", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return ic_cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (ko.config && ko.weights && npos == 1) /* --config J --weights W DIR */
        pos[1] = pos[0], pos[0] = ko.weights, npos = 2;
    if (npos < 2)
        return ic_cli_usage_error(cmd, "give a model file and a directory of class folders");
    ic_cli_model cm;
    if (ic_cli_model_open_prec(cmd, pos[0], &ko, pos[1], prec, &cm)) {
        ic_cli_model_close(&cm);
        return 1;
    }
    ic_dir_iterator *it = NULL;
    if (ic_cli_model_flow(cmd, &cm, pos[1], bs, &it)) {
        ic_cli_model_close(&cm);
        return 1;
    }
    counts c;
    memset(&c, 0, sizeof c);
    c.K = cm.meta.n_classes;
    c.cm = calloc((size_t)c.K * (size_t)c.K, sizeof *c.cm);
    int64_t n = ic_dir_iterator_samples(it), steps = (n + bs - 1) / bs;
    if (cm.binary && c.cm) {
        c.score = malloc(sizeof *c.score * (size_t)(steps * bs));
        c.label = malloc(sizeof *c.label * (size_t)(steps * bs));
        if (!c.score || !c.label) {
            free(c.cm);
            c.cm = NULL; /* reported as out of memory below */
        }
    }
    if (!json) {
        char buf[128];
        printf("%s\n", ic_dir_iterator_found(it, buf, sizeof buf));
        fflush(stdout);
    }
    ic_status s = c.cm ? run(&cm, it, steps, &c) : IC_ERR_NOMEM;
    /* undefined (NaN, with the reason in ic_errmsg) for one class only or NaN outputs */
    if (!s && c.score && ic_roc_auc(c.score, c.label, c.n, &c.auc)) {
        c.auc = NAN;
        snprintf(c.why, sizeof c.why, "%s", ic_errmsg());
    }
    int64_t replaced = ic_dir_iterator_take_replaced(it);
    ic_dir_iterator_free(it);
    int rc = 0;
    if (s) {
        rc = ic_cli_fail(cmd, s);
    } else {
        if (replaced)
            fprintf(stderr,
                    "warning: %lld image%s could not be decoded and %s replaced by other images "
                    "of %s class\n",
                    (long long)replaced, replaced == 1 ? "" : "s", replaced == 1 ? "was" : "were",
                    replaced == 1 ? "its" : "their");
        if (json)
            print_json(&cm, pos[1], &c, bs, steps);
        else
            print_text(&cm, &c, bs, steps);
    }
    free(c.cm);
    free(c.score);
    free(c.label);
    ic_cli_model_close(&cm);
    return rc;
}
