/* cmd_predict.c - `imgclass predict MODEL.h5 FILE...|DIR`: the class and its probability for
 * each image, read as in training (no augmentation). Bad images are reported and skipped;
 * the exit status is 1 when any failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_input.h"

static void help(void)
{
    printf("usage: imgclass predict MODEL.h5 FILE...|DIR... [--json] [--batch-size N] [options]\n"
           "\n"
           "Classifies images with a model saved by 'imgclass train'. Each image is read as in\n"
           "training (target size, color mode, preprocessing, rescale). For a DIR, every\n"
           "image inside it (.jpg, .jpeg, .png; recursively, sorted by path) is classified.\n"
           "Prints one line per image: file, class, probability of that class. An image that\n"
           "cannot be read is reported on stderr and skipped; the exit status is then 1,\n"
           "after all other images are printed.\n"
           "\n"
           "  --json             print a JSON list, one object per image:\n"
           "                     {\"file\": ..., \"class\": ..., \"probabilities\": {CLASS: p, ...}}\n"
           "  --batch-size N     images per forward pass (default 32)\n"
           "  --threads N        threads for the kernels (default: all cores)\n"
           "  --backend cpu|ref|cuda  compute backend (default cpu: oneDNN)\n");
    ic_cli_precision_help(stdout, 21);
    printf("\n");
    ic_cli_keras_help(stdout);
    printf("\n"
           "examples:\n"
           "  imgclass predict model.h5 cat.1501.jpg dog.1501.jpg\n"
           "  imgclass predict keras_model.h5 cat.jpg --rescale 1/255 --classes cats,dogs\n"
           "  imgclass predict --config model.json --weights w.h5 cat.jpg --json\n"
           "  imgclass predict model.h5 cats_and_dogs_small/test/cats --json\n");
}

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static int push(strvec *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str)))
        return -1;
    s->n++;
    return 0;
}

typedef struct pctx {
    const ic_predictor *pred;
    const char *cmd;
    int json, first;
    int width, cwidth; /* file and class columns */
    long failed;
} pctx;

/* One file's result: its line (or JSON object), or its error on stderr. */
static void print_one(const ic_prediction *r, void *user)
{
    pctx *c = user;
    if (!r->output) {
        fprintf(stderr, "imgclass %s: %s\n", c->cmd, r->error);
        c->failed++;
        return;
    }
    const ic_model_meta *mt = ic_predictor_meta(c->pred);
    char **names = mt->class_names;
    if (!c->json) {
        printf("%-*s  %-*s  %.4f\n", c->width, r->path, c->cwidth, names[r->class_index],
               r->prob);
        fflush(stdout); /* each result as it comes, also into a pipe */
        return;
    }
    printf(c->first ? "\n  {\"file\": " : ",\n  {\"file\": ");
    c->first = 0;
    ic_cli_json_str(stdout, r->path);
    printf(", \"class\": ");
    ic_cli_json_str(stdout, names[r->class_index]);
    printf(", \"probabilities\": {");
    for (int j = 0; j < mt->n_classes; j++) {
        if (j)
            printf(", ");
        ic_cli_json_str(stdout, names[j]);
        printf(": %.6g", ic_predictor_prob(c->pred, r->output, j));
    }
    printf("}}");
    fflush(stdout);
}

int ic_cli_predict(int argc, char **argv)
{
    const char *cmd = "predict", *model = NULL;
    int json = 0;
    long bs = 32;
    ic_precision prec = IC_PRECISION_FP32;
    ic_cli_keras_opts ko = {0};
    strvec files = {NULL, 0, 0};
    long failed = 0;
    int rc = 0;
    char **args = calloc((size_t)argc, sizeof *args);
    int nargs = 0;
    if (!args) {
        fprintf(stderr, "imgclass %s: out of memory\n", cmd);
        return 1;
    }
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
        if (!model && !ko.config)
            model = argv[i];
        else
            args[nargs++] = argv[i];
    }
    if (r) {
        free(args);
        return r < 0 ? 0 : r;
    }
    if (ko.config && !ko.weights && nargs > 0) /* --config J WEIGHTS.h5 IMAGE... */
        model = args[0], memmove(args, args + 1, (size_t)--nargs * sizeof *args);
    if ((!model && !ko.config) || !nargs) {
        free(args);
        return ic_cli_usage_error(cmd, "give a model file and one or more images or directories");
    }
    ic_cli_model cm;
    if (ic_cli_model_open_ex(cmd, model, &ko, NULL, &prec, &cm)) {
        ic_cli_model_close(&cm);
        free(args);
        return 1;
    }
    /* The list of images: files as given, directories expanded. */
    for (int i = 0; i < nargs && rc == 0; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            fprintf(stderr, "imgclass %s: %s: %s\n", cmd, args[i], strerror(errno));
            failed++;
        } else if (S_ISDIR(st.st_mode)) {
            char **sub = NULL;
            int64_t ns = 0;
            ic_status s = ic_image_files(args[i], &sub, &ns);
            if (s) {
                ic_cli_fail(cmd, s);
                failed++;
            } else if (!ns) {
                fprintf(stderr, "imgclass %s: %s: no images (.jpg, .jpeg or .png) inside\n", cmd,
                        args[i]);
                failed++;
            }
            for (int64_t k = 0; k < ns && rc == 0; k++)
                if (push(&files, sub[k]))
                    rc = 1;
            ic_image_files_free(sub, ns);
        } else if (push(&files, args[i])) {
            rc = 1;
        }
    }
    free(args);
    if (rc) {
        fprintf(stderr, "imgclass %s: out of memory\n", cmd);
    } else {
        pctx c = {cm.pred, cmd, json, 1, 0, 0, 0};
        for (int k = 0; k < cm.meta->n_classes; k++) {
            int l = (int)strlen(cm.meta->class_names[k]);
            c.cwidth = l > c.cwidth ? l : c.cwidth;
        }
        for (size_t i = 0; i < files.n; i++) {
            int l = (int)strlen(files.v[i]);
            c.width = l > c.width ? l : c.width;
        }
        if (c.width > 60)
            c.width = 60;
        if (json)
            printf("[");
        ic_status s = ic_predictor_predict_files(cm.pred, (const char *const *)files.v,
                                                 (int64_t)files.n, bs, print_one, &c);
        if (json)
            printf(c.first ? "]\n" : "\n]\n");
        failed += c.failed;
        if (s)
            rc = ic_cli_fail(cmd, s);
    }
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    ic_cli_model_close(&cm);
    if (failed && !rc)
        rc = 1;
    return rc;
}
