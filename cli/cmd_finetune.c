/* cmd_finetune.c - `imgclass finetune`: the seed's fine-tuning. Loads a model trained by
 * `imgclass train --base ...`, unfreezes its nested base from a layer on
 * (unfreeze_weights(conv_base, from = "block3_conv1")), recompiles with a fresh optimizer
 * (as compiling again does in Keras) and trains on, with the same options as train. */
#include <stdio.h>
#include <string.h>

#include "train_run.h"

static void help(void)
{
    printf("usage: imgclass finetune MODEL.h5 DATA_DIR -o FT.h5 [options]\n"
           "\n"
           "Fine-tunes a model saved by 'imgclass train --base NAME': the nested base (the first\n"
           "layer that is a model, or --base-layer NAME) becomes trainable from layer L on, the\n"
           "layers before L stay frozen; the model is compiled again with a fresh optimizer and\n"
           "trained on DATA_DIR/train, validated on DATA_DIR/validation. Input size, rescaling,\n"
           "preprocessing and class names come from MODEL.h5.\n"
           "\n"
           "  --unfreeze-from L       first trainable layer of the base, e.g. block3_conv1\n"
           "                          (default: the whole base)\n"
           "  --base-layer NAME       the nested base's layer name (default: the first model)\n"
           "  --epochs N              (default 30; the seed fine-tunes 100)\n"
           "  --steps-per-epoch N, --validation-steps N, --batch-size N (default 20)\n"
           "  --optimizer NAME        rmsprop (default), adam or sgd\n"
           "  --lr LR                 learning rate (default: Keras's; the seed uses 1e-5)\n"
           "  --seed N, --workers N, --save-best val_acc|val_loss, --early-stopping P\n"
           "  --resume                continue a stopped fine-tuning run with the same -o\n"
           "  -o, --output FT.h5      the fine-tuned model (required)\n"
           "  --threads N, --backend cpu|ref\n"
           "\n");
    ic_cli_aug_help(stdout);
    printf(
        "\n"
        "Files, checkpoints, Ctrl-C and NaN handling are as for 'imgclass train' (see its\n"
        "--help): FT.history.csv / .json, FT.h5.ckpt.json, exit status 130 when interrupted.\n"
        "\n"
        "examples:\n"
        "  imgclass finetune vgg16_head.h5 data --unfreeze-from block5_conv1 --augment \\\n"
        "      --lr 1e-5 --epochs 100 --steps-per-epoch 100 --validation-steps 50 -o ft.h5\n"
        "  imgclass finetune vgg16_head.h5 data --unfreeze-from block3_conv1 --lr 1e-5 -o ft.h5\n"
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
    *inner = NULL;
    char names[1024];
    if (o->base_layer) {
        ic_layer *l = ic_model_get_layer(m, o->base_layer);
        if (!l) {
            some_names(m, names, sizeof names);
            fprintf(stderr, "imgclass %s: --base-layer: no layer '%s' in %s (its layers: %s)\n",
                    o->cmd, o->base_layer, o->model_in, names);
            return 2;
        }
        if (!(*inner = tr_nested_model(l))) {
            fprintf(stderr, "imgclass %s: --base-layer: layer '%s' is a %s, not a nested model\n",
                    o->cmd, o->base_layer, ic_layer_class_name(l));
            return 2;
        }
        return 0;
    }
    for (int i = 0; i < ic_model_num_layers(m) && !*inner; i++)
        *inner = tr_nested_model(ic_model_layer(m, i));
    if (!*inner) {
        fprintf(stderr,
                "imgclass %s: %s has no nested base model (a layer of class Model or "
                "Sequential); fine-tuning needs a model trained with --base\n",
                o->cmd, o->model_in);
        return 1;
    }
    return 0;
}

static int run_fresh(tr_opts *o, int argc, char **argv)
{
    tr_note_previous_run(o);
    ic_model *m = NULL, *base;
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    ic_status s = ic_model_load(&m, o->model_in, &meta);
    if (s)
        return ic_cli_fail(o->cmd, s);
    int rc = 1;
    tr_data d;
    memset(&d, 0, sizeof d);
    if (meta.n_classes < 2 || meta.target_h < 1 || meta.target_w < 1) {
        fprintf(stderr,
                "imgclass %s: %s has no class names or input size (not saved by "
                "'imgclass train'?)\n",
                o->cmd, o->model_in);
        goto out;
    }
    if ((rc = find_base(o, m, &base)))
        goto out;
    if ((s = ic_model_unfreeze_range(base, o->unfreeze_from, NULL))) {
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
    /* a fresh optimizer (Keras: compile() again after unfreeze_weights) */
    ic_compile_opts co = tr_compile_opts(o, meta.n_classes);
    if ((s = ic_model_compile(m, &co))) {
        rc = ic_cli_fail(o->cmd, s);
        goto out;
    }
    printf("Fine-tuning %s: base %s trainable from %s on\n", o->model_in, ic_model_name(base),
           o->unfreeze_from ? o->unfreeze_from : "its first layer");
    o->th = meta.target_h;
    o->tw = meta.target_w;
    o->rescale = meta.rescale;
    o->rescale_given = 1;
    o->preprocess = meta.preprocess;
    ic_image_data_generator gt = tr_generator(o, 1), gv = tr_generator(o, 0);
    if ((rc = tr_data_open(o, meta.target_h, meta.target_w, (const char *const *)meta.class_names,
                           meta.n_classes, &gt, &gv, 1, &d)))
        goto out;
    rc = tr_run_on_data(o, argc, argv, m, &meta, &d, NULL);
out:
    tr_data_close(&d);
    ic_model_free(m);
    ic_model_meta_free(&meta);
    return rc;
}

int ic_cli_finetune(int argc, char **argv)
{
    tr_opts o;
    tr_opts_init(&o, TR_FINETUNE);
    int rc = tr_parse(&o, argc, argv, 1);
    if (rc < 0) {
        help();
        return 0;
    }
    if (rc)
        return rc;
    if (o.resume) {
        if (!o.out)
            return ic_cli_usage_error(o.cmd, "--resume needs -o FT.h5 of the run to resume");
        tr_state *rs;
        const char *ckpt;
        if ((rc = tr_resume_load(&o, argc, argv, &rs, &ckpt)) || !rs)
            return rc;
        if ((rc = tr_check(&o))) {
            tr_state_free(rs);
            return rc;
        }
        ic_set_random_seed(o.seed);
        return tr_resume_run(&o, argc, argv, rs, ckpt);
    }
    if ((rc = tr_check(&o)))
        return rc;
    ic_set_random_seed(o.seed);
    return run_fresh(&o, argc, argv);
}
