/* main.c - the imgclass command: dispatch to subcommands, version and help. */
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

/* The commands: adding one is its file (cmd_NAME.c with ic_cli_NAME) and a line here. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} g_commands[] = {
    {"summary", ic_cli_summary, "print the Keras table of a saved model or a known architecture"},
    {"split", ic_cli_split, "split a pile of images into train/validation/test class folders"},
    {"train", ic_cli_train, "train a classifier on DATA_DIR/train, validated on DATA_DIR/validation"},
    {"finetune", ic_cli_finetune, "unfreeze a trained model's base from a layer on and train further"},
    {"augment-preview", ic_cli_augment_preview, "write a grid PNG of random augmentations of one image"},
    {"weights", ic_cli_weights, "list, download (md5-checked) and locate pretrained Keras weights"},
    {"plot", ic_cli_plot, "draw a saved training history (CSV/JSON) as R's plot(history) PNG"},
    {"evaluate", ic_cli_evaluate, "loss, accuracy, precision/recall, confusion matrix of a model on a DIR"},
    {"predict", ic_cli_predict, "class and probability of images (files or directories)"},
};
#define N_COMMANDS (sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *fp)
{
    fprintf(fp, "usage: imgclass <command> [options]\n"
                "\n"
                "Image classification on small datasets (Keras-compatible, on oneDNN).\n"
                "\n"
                "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t n = strlen(g_commands[i].name);
        fprintf(fp, "  %s%*s%s\n", g_commands[i].name, n < 11 ? (int)(11 - n) : 2, "",
                g_commands[i].what);
    }
    fprintf(fp,
            "\n"
            "options for every command: --threads N, --backend cpu|ref|cuda, --help\n"
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
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, g_commands[i].name))
            return g_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "imgclass: unknown command '%s' (see 'imgclass --help')\n", cmd);
    return 2;
}
