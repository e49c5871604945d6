/* main.c - the imgclass command: dispatch to subcommands, version and help. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void log_to_stderr(int level, const char *msg, void *user)
{
    (void)user;
    if (level >= 1)
        fprintf(stderr, "%s%s\n", level >= 2 ? "warning: " : "", msg);
}

int ic_cli_fail(const char *cmd, ic_status s)
{
    const char *msg = ic_errmsg();
    fprintf(stderr, "imgclass %s: %s\n", cmd, *msg ? msg : ic_status_str(s));
    return 1;
}

int ic_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "imgclass %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'imgclass %s --help')\n", cmd);
    return 2;
}

int ic_cli_parse_int(const char *s, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int ic_cli_parse_num(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int ic_cli_parse_shape(const char *s, int64_t *h, int64_t *w, int64_t *c)
{
    long a, b, d = 3;
    char extra;
    int n = sscanf(s, "%ldx%ldx%ld%c", &a, &b, &d, &extra);
    if ((n != 2 && n != 3) || a < 1 || b < 1 || d < 1)
        return -1;
    *h = a;
    *w = b;
    *c = d;
    return 0;
}

int ic_cli_common_opt(const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--threads")) {
        long n;
        if (*i + 1 >= argc || ic_cli_parse_int(argv[*i + 1], &n) || n < 1) {
            ic_cli_usage_error(cmd, "--threads needs a positive number");
            return -1;
        }
        ic_set_num_threads((int)n);
        *i += 1;
        return 1;
    }
    if (!strcmp(a, "--backend")) {
        if (*i + 1 >= argc) {
            ic_cli_usage_error(cmd, "--backend needs cpu or ref");
            return -1;
        }
        if (ic_set_backend(argv[*i + 1]) != IC_OK) {
            ic_cli_fail(cmd, IC_ERR_INVALID);
            return -1;
        }
        *i += 1;
        return 1;
    }
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: imgclass <command> [options]\n"
            "\n"
            "Image classification on small datasets (Keras-compatible, on oneDNN).\n"
            "\n"
            "commands:\n"
            "  summary    print the Keras table of a saved model or a known architecture\n"
            "  split      split a pile of images into train/validation/test class folders\n"
            "  train      train a classifier on DATA_DIR/train, validated on DATA_DIR/validation\n"
            "  finetune   unfreeze a trained model's base from a layer on and train further\n"
            "  augment-preview  write a grid PNG of random augmentations of one image\n"
            "  weights    list, download (md5-checked) and locate pretrained Keras weights\n"
            "  plot       draw a saved training history (CSV/JSON) as R's plot(history) PNG\n"
            "  evaluate   loss, accuracy, precision/recall, confusion matrix of a model on a DIR\n"
            "  predict    class and probability of images (files or directories)\n"
            "\n"
            "options for every command: --threads N, --backend cpu|ref, --help\n"
            "  imgclass --version      print the version\n"
            "\n"
            "examples:\n"
            "  imgclass summary --model vgg16 --input 150x150x3\n"
            "  imgclass summary --base vgg16 --head 256 --freeze-base\n"
            "  imgclass evaluate model.h5 cats_and_dogs_small/test\n"
            "  imgclass predict model.h5 cat.1501.jpg\n"
            "  imgclass train data -o model.h5 --base vgg16 --augment --lr 2e-5\n"
            "  imgclass finetune model.h5 data --unfreeze-from block5_conv1 --lr 1e-5 -o ft.h5\n");
}

int main(int argc, char **argv)
{
    ic_set_log(log_to_stderr, NULL);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("imgclass %s\n", ic_version());
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "summary"))
        return ic_cli_summary(argc - 1, argv + 1);
    if (!strcmp(cmd, "split"))
        return ic_cli_split(argc - 1, argv + 1);
    if (!strcmp(cmd, "augment-preview"))
        return ic_cli_augment_preview(argc - 1, argv + 1);
    if (!strcmp(cmd, "weights"))
        return ic_cli_weights(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))
        return ic_cli_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "evaluate"))
        return ic_cli_evaluate(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict"))
        return ic_cli_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return ic_cli_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "finetune"))
        return ic_cli_finetune(argc - 1, argv + 1);
    fprintf(stderr, "imgclass: unknown command '%s' (see 'imgclass --help')\n", cmd);
    return 2;
}
