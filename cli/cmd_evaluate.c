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
           "  --backend cpu|ref|cuda  compute backend (default cpu: oneDNN)\n");
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

/* "evaluating: k/n batches" on a terminal, erased at the end. */
static void progress(int64_t done, int64_t total, void *user)
{
    (void)user;
    fprintf(stderr, "\revaluating: %lld/%lld batches", (long long)done, (long long)total);
}

static void print_text(const ic_cli_model *cm, const ic_evaluation *e, int64_t bs)
{
    char **names = ic_predictor_meta(cm->pred)->class_names;
    int K = e->n_classes;
    int wl = 1; /* the longest class name */
    for (int k = 0; k < K; k++)
        if ((int)strlen(names[k]) > wl)
            wl = (int)strlen(names[k]);
    int wn = wl > 5 ? wl : 5; /* "class" */
    printf("loss:     %.4f\n", e->loss);
    printf("accuracy: %.4f (%lld of %lld images, %lld steps of %lld)\n", e->accuracy,
           (long long)e->correct, (long long)e->samples, (long long)e->steps, (long long)bs);
    if (e->has_auc && !isnan(e->roc_auc))
        printf("ROC AUC:  %.4f (%s scored above %s; threshold-free)\n", e->roc_auc, names[1],
               names[0]);
    else if (e->has_auc)
        printf("ROC AUC:  undefined (%s)\n", e->auc_why);
    printf("\n%-*s  precision  recall  support\n", wn, "class");
    for (int k = 0; k < K; k++) {
        double p, r;
        int64_t sup;
        ic_evaluation_class(e, k, &p, &r, &sup);
        printf("%-*s  %9.4f  %6.4f  %7lld\n", wn, names[k], p, r, (long long)sup);
    }
    /* Column width: the longest of the class names and the largest count. */
    char num[32];
    int wnum = snprintf(num, sizeof num, "%lld", (long long)e->samples);
    int wc = wnum > wl ? wnum : wl;
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%-*s", wn, "");
    for (int k = 0; k < K; k++)
        printf("  %*s", wc, names[k]);
    printf("\n");
    for (int t = 0; t < K; t++) {
        printf("%-*s", wn, names[t]);
        for (int k = 0; k < K; k++)
            printf("  %*lld", wc, (long long)e->confusion[t * K + k]);
        printf("\n");
    }
}

static void print_json(const ic_cli_model *cm, const char *dir, const ic_evaluation *e,
                       int64_t bs)
{
    char **names = ic_predictor_meta(cm->pred)->class_names;
    int K = e->n_classes;
    printf("{\"model\": ");
    ic_cli_json_str(stdout, cm->path);
    printf(", \"dir\": ");
    ic_cli_json_str(stdout, dir);
    printf(", \"samples\": %lld, \"batch_size\": %lld, \"steps\": %lld,\n",
           (long long)e->samples, (long long)bs, (long long)e->steps);
    printf(" \"loss\": %.10g, \"accuracy\": %.10g, \"correct\": %lld,\n", e->loss, e->accuracy,
           (long long)e->correct);
    if (e->has_auc && !isnan(e->roc_auc))
        printf(" \"roc_auc\": %.10g,\n", e->roc_auc);
    else if (e->has_auc)
        printf(" \"roc_auc\": null,\n");
    printf(" \"classes\": [");
    for (int k = 0; k < K; k++) {
        printf(k ? ", " : "");
        ic_cli_json_str(stdout, names[k]);
    }
    printf("],\n \"per_class\": {");
    for (int k = 0; k < K; k++) {
        double p, r;
        int64_t sup;
        ic_evaluation_class(e, k, &p, &r, &sup);
        printf(k ? ",\n  " : "\n  ");
        ic_cli_json_str(stdout, names[k]);
        printf(": {\"precision\": %.10g, \"recall\": %.10g, \"support\": %lld}", p, r,
               (long long)sup);
    }
    printf("},\n \"confusion_matrix\": [");
    for (int t = 0; t < K; t++) {
        printf(t ? ", [" : "[");
        for (int k = 0; k < K; k++)
            printf("%s%lld", k ? ", " : "", (long long)e->confusion[t * K + k]);
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
    ic_cli_keras_opts ko = {0};
    ic_cli_opt keras[IC_CLI_KERAS_OPTS];
    ic_cli_keras_table(&ko, keras);
    const ic_cli_opt opts[] = {
        {"--json", IC_CLI_SET, .dst = &json, .lo = 1},
        {"--batch-size", IC_CLI_LONG, .dst = &bs, .lo = 1,
         .err = "--batch-size needs a positive number", .missing = ""},
        {.kind = IC_CLI_INCLUDE, .dst = keras},
        IC_CLI_PRECISION(&prec),
        {.err = "unknown option: %s"},
    };
    int r;
    for (int i = 0; (r = ic_cli_next(cmd, opts, 0, argc, argv, &i, help)) == 1;) {
        if (npos == 2)
            return ic_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        pos[npos++] = argv[i];
    }
    if (r)
        return r < 0 ? 0 : r;
    if (ko.config && ko.weights && npos == 1) /* --config J --weights W DIR */
        pos[1] = pos[0], pos[0] = ko.weights, npos = 2;
    if (npos < 2)
        return ic_cli_usage_error(cmd, "give a model file and a directory of class folders");
    ic_cli_model cm;
    if (ic_cli_model_open_ex(cmd, pos[0], &ko, pos[1], &prec, &cm)) {
        ic_cli_model_close(&cm);
        return 1;
    }
    ic_dir_iterator *it = NULL;
    ic_status s = ic_predictor_flow(cm.pred, pos[1], bs, &it);
    if (s) {
        ic_cli_model_close(&cm);
        return ic_cli_fail(cmd, s);
    }
    int64_t n = ic_dir_iterator_samples(it), steps = (n + bs - 1) / bs;
    if (!json) {
        char buf[128];
        printf("%s\n", ic_dir_iterator_found(it, buf, sizeof buf));
        fflush(stdout);
    }
    int tty = isatty(2);
    ic_evaluation e;
    s = ic_predictor_evaluate(cm.pred, it, steps, tty ? progress : NULL, NULL, &e);
    if (!s && tty)
        fprintf(stderr, "\r%*s\r", 40, "");
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
            print_json(&cm, pos[1], &e, bs);
        else
            print_text(&cm, &e, bs);
    }
    ic_evaluation_free(&e);
    ic_cli_model_close(&cm);
    return rc;
}
