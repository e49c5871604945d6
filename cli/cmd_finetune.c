/* cmd_finetune.c - `imgclass finetune`: the book's fine-tuning. Loads a model trained by
 * `imgclass train --base ...`, unfreezes its nested base from a layer on
 * (unfreeze_weights(conv_base, from = "block3_conv1")), recompiles with a fresh optimizer
 * (as compiling again does in Keras) and trains on, with the same options as train. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_input.h"
#include "train_run.h"

static void help(void)
{
    printf("usage: imgclass finetune MODEL.h5 DATA_DIR -o FT.h5 [options]\n"
           "\n"
           "Fine-tunes a model saved by 'imgclass train --base NAME': the nested base (the first\n"
           "layer that is a model, or --base-layer NAME) becomes trainable from layer L on, the\n"
           "layers before L stay frozen; the model is compiled again with a fresh optimizer and\n"
           "trained on DATA_DIR/train, validated on DATA_DIR/validation. Input size, rescaling,\n"
           "preprocessing and class names come from MODEL.h5. The book fine-tunes with\n"
           "--lr 1e-5 (the default here) for 100 epochs.\n"
           "\n"
           "  --unfreeze-from L       first trainable layer of the base, e.g. block3_conv1\n"
           "                          (default: the whole base)\n"
           "  --base-layer NAME       the nested base's layer name (default: the first model)\n"
           "  --freeze-bn             keep every BatchNormalization layer of the base frozen\n"
           "                          (trainable=False) after the unfreeze, so it runs in\n"
           "                          inference mode on its moving statistics, as the Keras\n"
           "                          transfer-learning guide advises (the default for bases\n"
           "                          with BN, e.g. mobilenet_v2, resnet50)\n"
           "  --train-bn              train the unfrozen BN layers too (batch statistics and\n"
           "                          moving-average updates while training)\n"
           "\n");
    tr_help_training(stdout, TR_FINETUNE);
    printf("\n");
    ic_cli_aug_help(stdout);
    printf("\n");
    ic_cli_keras_help(stdout);
    printf("A Keras model keeps its saved trainable flags (or --unfreeze-from L on); its classes\n"
           "are DATA_DIR/train's sorted folders unless --classes is given.\n");
    printf(
        "\n"
        "Files, checkpoints, Ctrl-C and NaN handling are as for 'imgclass train' (see its\n"
        "--help): FT.history.csv / .json, FT.h5.ckpt.json, exit status 130 when interrupted.\n"
        "The frozen part of the base runs over the validation images once: its last\n"
        "activations that everything after them depends on are stored, and later\n"
        "validations run the rest of the model from them (the same results;\n"
        "IC_NO_VAL_CACHE=1 turns this off).\n"
        "\n"
        "examples:\n"
        "  imgclass finetune vgg16_head.h5 data --unfreeze-from block5_conv1 --augment \\\n"
        "      --lr 1e-5 --epochs 100 --steps-per-epoch 100 --validation-steps 50 -o ft.h5\n"
        "  imgclass finetune vgg16_head.h5 data --unfreeze-from block3_conv1 --lr 1e-5 -o ft.h5\n"
        "  imgclass finetune mnv2_head.h5 data --unfreeze-from block_13_expand --lr 1e-5 \\\n"
        "      -o ft.h5              (BN layers stay in inference mode: --freeze-bn default)\n"
        "  imgclass finetune vgg16_head.h5 data -o ft.h5 --resume\n");
}

/* "input_1, block1_conv1, block1_conv2, ..., block5_conv3, block5_pool" */
static void some_names(const ic_model *m, char *buf, size_t size)
{
    int n = ic_model_num_layers(m);
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < size; i++) {
        if (n > 8 && i == 4) {
            k += (size_t)snprintf(buf + k, size - k, ", ...");
            i = n - 4;
        }
        k += (size_t)snprintf(buf + k, size - k, "%s%s", k ? ", " : "",
                              ic_layer_name(ic_model_layer(m, i)));
    }
}

static int find_base(const tr_opts *o, ic_model *m, ic_model **inner)
{
    ic_status s = ic_model_find_base(m, o->base_layer, inner);
    char names[1024];
    if (!s)
        return 0;
    if (!o->base_layer) {
        fprintf(stderr,
                "imgclass %s: %s has no nested base model (a layer of class Model or "
                "Sequential); fine-tuning needs a model trained with --base\n",
                o->cmd, o->model_in);
        return 1;
    }
    if (s == IC_ERR_NOT_FOUND) {
        some_names(m, names, sizeof names);
        fprintf(stderr, "imgclass %s: --base-layer: no layer '%s' in %s (its layers: %s)\n",
                o->cmd, o->base_layer, o->model_in, names);
    } else {
        fprintf(stderr, "imgclass %s: --base-layer: %s\n", o->cmd, ic_errmsg());
    }
    return 2;
}

static int run_fresh(tr_opts *o, int argc, char **argv)
{
    tr_note_previous_run(o);
    ic_model *m, *base;
    ic_model_meta meta;
    int rc = tr_model_load(o, o->model_in, "not saved by 'imgclass train'?", &m, &meta);
    if (rc || (rc = find_base(o, m, &base)))
        goto out;
    ic_status s = ic_model_unfreeze_range(base, o->unfreeze_from, NULL);
    if (s) {
        char names[1024];
        some_names(base, names, sizeof names);
        if (s == IC_ERR_NOT_FOUND)
            fprintf(stderr,
                    "imgclass %s: --unfreeze-from: no layer '%s' in the base %s (its "
                    "layers: %s)\n",
                    o->cmd, o->unfreeze_from, ic_model_name(base), names);
        else
            ic_cli_fail(o->cmd, s);
        rc = s == IC_ERR_NOT_FOUND ? 2 : 1;
        goto out;
    }
    int n_bn, n_frozen_bn = ic_model_freeze_batchnorm(base, o->freeze_bn != 0, &n_bn);
    /* a fresh optimizer (Keras: compile() again after unfreeze_weights) */
    ic_compile_opts co = tr_compile_opts(o, meta.n_classes);
    if ((s = ic_model_compile(m, &co))) {
        rc = ic_cli_fail(o->cmd, s);
        goto out;
    }
    printf("Fine-tuning %s: base %s trainable from %s on\n", o->model_in, ic_model_name(base),
           o->unfreeze_from ? o->unfreeze_from : "its first layer");
    if (n_bn && o->freeze_bn != 0)
        printf("BatchNormalization: %d unfrozen layer%s kept frozen (inference mode, moving "
               "statistics; --train-bn to train them)\n",
               n_frozen_bn, n_frozen_bn == 1 ? "" : "s");
    else if (n_bn)
        printf("BatchNormalization: trained in the unfrozen part (--train-bn)\n");
    rc = tr_run_on_meta(o, argc, argv, m, &meta, NULL);
out:
    ic_model_free(m);
    ic_model_meta_free(&meta);
    return rc;
}

/* ---- models saved by Keras itself ---- */

/* Moves the Keras-file options (--config, --weights, --classes, --rescale, --preprocess)
 * out of argv into ko; with --config and --weights, the weights file becomes the model
 * argument. av (argc + 2 entries) receives what tr_parse reads. Returns the new argc, or
 * -1 after a usage error. */
static int take_keras_opts(int argc, char **argv, char **av, ic_cli_keras_opts *ko)
{
    int n = 0;
    *ko = (ic_cli_keras_opts){0};
    ic_cli_opt t[IC_CLI_KERAS_OPTS];
    ic_cli_keras_table(ko, t);
    av[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        int r = ic_cli_take("finetune", t, argc, argv, &i);
        if (r < 0)
            return -1;
        if (!r)
            av[n++] = argv[i];
    }
    if (ko->config && ko->weights) {
        memmove(av + 2, av + 1, (size_t)(n - 1) * sizeof *av);
        av[1] = (char *)ko->weights;
        n++;
    }
    av[n] = NULL;
    return n;
}

/* Fine-tunes a Keras model: its classes from --classes or DATA_DIR/train's folders, its
 * input size, --rescale / --preprocess (default none: Keras files record none); the
 * trainable flags as saved, or from --unfreeze-from L on (the layers before L frozen). */
static int run_keras(tr_opts *o, const ic_cli_keras_opts *ko, int argc, char **argv)
{
    tr_note_previous_run(o);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/train", o->data_dir);
    ic_cli_model cm;
    int rc = 1;
    if (ic_cli_model_open_ex(o->cmd, o->model_in, ko, ko->classes ? NULL : dir, NULL, &cm))
        goto out;
    ic_model *m = cm.model;
    if (cm.c != 3) {
        fprintf(stderr, "imgclass %s: %s: only RGB models can be fine-tuned (its input has %d "
                "channel%s)\n", o->cmd, o->model_in, cm.c, cm.c == 1 ? "" : "s");
        goto out;
    }
    if (cm.n_out == 2) {
        fprintf(stderr, "imgclass %s: %s: a model with 2 softmax outputs cannot be fine-tuned "
                "yet (imgclass trains 2 classes with one sigmoid unit)\n", o->cmd, o->model_in);
        goto out;
    }
    if (o->base_layer) {
        rc = ic_cli_usage_error(o->cmd, "--base-layer is for models trained with "
                                        "'imgclass train --base'; use --unfreeze-from");
        goto out;
    }
    ic_status s;
    if (o->unfreeze_from && (s = ic_model_unfreeze_range(m, o->unfreeze_from, NULL))) {
        char names[1024];
        some_names(m, names, sizeof names);
        fprintf(stderr, "imgclass %s: --unfreeze-from: no layer '%s' in %s (its layers: %s)\n",
                o->cmd, o->unfreeze_from, o->model_in, names);
        rc = 2;
        goto out;
    }
    int n_bn, n_frozen_bn = ic_model_freeze_batchnorm(m, o->freeze_bn != 0, &n_bn);
    ic_compile_opts co = tr_compile_opts(o, cm.meta->n_classes);
    s = ic_model_compile(m, &co);
    if (s) {
        rc = ic_cli_fail(o->cmd, s);
        goto out;
    }
    printf("Fine-tuning Keras model %s (%lldx%lld, %d classes): trainable %s\n", o->model_in,
           (long long)cm.h, (long long)cm.w, cm.meta->n_classes,
           o->unfreeze_from ? "from the given layer on" : "as saved");
    if (n_bn && o->freeze_bn != 0)
        printf("BatchNormalization: %d unfrozen layer%s kept frozen (--train-bn to train them)\n",
               n_frozen_bn, n_frozen_bn == 1 ? "" : "s");
    rc = tr_run_on_meta(o, argc, argv, m, cm.meta, NULL); /* its meta: cm.h x cm.w */
out:
    ic_cli_model_close(&cm);
    return rc;
}

/* A fresh run, after the Keras-file options (user) were taken out of argv. */
static int fresh(tr_opts *o, int argc, char **argv, void *user)
{
    const ic_cli_keras_opts *ko = user;
    int is_keras = 0;
    if (ko->config || (ic_model_file_is_keras(o->model_in, &is_keras) == IC_OK && is_keras))
        return run_keras(o, ko, argc, argv);
    if (ko->classes || ko->rescale_given || ko->preprocess_given || ko->weights)
        return ic_cli_usage_error(o->cmd, "--classes, --rescale, --preprocess and --weights are "
                                          "for Keras model files; %s records its own",
                                  o->model_in);
    return run_fresh(o, argc, argv);
}

int ic_cli_finetune(int argc, char **argv)
{
    ic_cli_keras_opts ko;
    char **av = calloc((size_t)argc + 2, sizeof *av);
    if (!av) {
        fprintf(stderr, "imgclass finetune: out of memory\n");
        return 1;
    }
    int n = take_keras_opts(argc, argv, av, &ko);
    int rc = n < 0 ? 2 : tr_main(TR_FINETUNE, n, av, help, fresh, &ko);
    free(av);
    return rc;
}
