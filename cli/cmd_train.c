/* cmd_train.c - `imgclass train`: the book's three ways to train on a small dataset: the
 * book's convnet from scratch (--model smallcnn, with --augment), a pretrained base with
 * a dense head (--base vgg16 --head 256, base frozen), and fast feature extraction
 * (--cache-features: the frozen base runs once over the images, the head trains on the
 * stored features: ic_model_head, ic_model_extract_features). The run, checkpoints and
 * --resume are the library's engine, driven by train_run.c and train_resume.c. */
#include <stdio.h>
#include <string.h>

#include "progress.h"
#include "train_run.h"

static void help(void)
{
    printf(
        "usage: imgclass train DATA_DIR -o MODEL.h5 [options]\n"
        "\n"
        "Trains an image classifier on DATA_DIR/train/<class>/* and reports validation loss\n"
        "and accuracy on DATA_DIR/validation/<class>/* after every epoch (test/ is left for\n"
        "'imgclass evaluate'). Two classes: one sigmoid unit and binary crossentropy; more:\n"
        "softmax and categorical crossentropy.\n"
        "\n"
        "model:\n"
        "  --model smallcnn        the book's convnet from scratch: 4 x (Conv2D + MaxPooling),\n"
        "                          Flatten, Dropout, Dense 512, output (the default)\n"
        "  --dropout R             smallcnn's dropout rate (default 0.5)\n"
        "  --base NAME             vgg16, vgg19, mobilenet_v2 or resnet50 (no top) nested as\n"
        "                          one layer, then Flatten, Dense(HEAD, relu), output\n"
        "  --alpha A               mobilenet_v2 width (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)\n"
        "  --weights W             imagenet (default; the cached Keras file, fetched when\n"
        "                          missing), none (random), or a Keras weights FILE (by order)\n"
        "  --head UNITS            units of the hidden dense layer (default 256; 0: none,\n"
        "                          the output sits on the features)\n"
        "  --pooling none|avg|max  the base's global pooling (Keras applications' pooling):\n"
        "                          avg gives a feature vector and no Flatten (default none)\n"
        "  --freeze-base           freeze the base (default with pretrained weights)\n"
        "  --no-freeze-base        train the base too\n"
        "  --cache-features        feature extraction: run the frozen base once over the\n"
        "                          un-augmented images, train the head on the features, then\n"
        "                          save base + head as one model (no augmentation, no --resume)\n"
        "\n"
        "data:\n"
        "  --target-size HxW       image size (default 150x150)\n"
        "  --preprocess MODE       auto (default), none, caffe, tf or torch (an\n"
        "                          application's preprocess_input). auto: with pretrained\n"
        "                          weights the base's own (tf for mobilenet_v2: x/127.5 - 1;\n"
        "                          caffe for vgg16, vgg19, resnet50: BGR minus the ImageNet\n"
        "                          mean), else none with rescale 1/255 (--model smallcnn,\n"
        "                          --weights none). Saved with the model.\n"
        "  --rescale F             1/255, a number, or none (default: 1/255 with\n"
        "                          preprocessing none, else none); given alone it means\n"
        "                          --preprocess none (the book's VGG16 recipe)\n"
        "  --interpolation M       resize filter: nearest (Keras's default) or bilinear\n"
        "                          (Pillow's, as Keras's interpolation='bilinear'); saved\n"
        "                          with the model for finetune, evaluate and predict\n"
        "\n");
    ic_cli_aug_help(stdout);
    printf("  (validation images are never augmented)\n"
           "\n");
    tr_help_training(stdout, TR_TRAIN);
    printf("\n"
           "After every epoch MODEL.history.csv / .json and a checkpoint (MODEL.h5, and\n"
           "MODEL.h5.ckpt.json for --resume) are written atomically. Ctrl-C stops after the\n"
           "running step, saves a checkpoint and exits with status 130; a loss that becomes\n"
           "NaN stops the run and keeps the last good checkpoint. A model that collapses to\n"
           "one output (the same for every validation image, or validation accuracy at the\n"
           "majority-class rate with a flat loss for 3 epochs) gets a warning suggesting a\n"
           "lower --lr. The first lines say which preprocessing and learning rate the run\n"
           "uses, and why. Progress: Keras's bar on a terminal, one line per epoch\n"
           "otherwise. With the base frozen, its output for the validation images is\n"
           "computed once and stored, and later validations run only the layers after it\n"
           "(the same results; IC_NO_VAL_CACHE=1 turns this off).\n"
           "\n"
           "examples:\n"
           "  imgclass train data -o cats_and_dogs_small_2.h5 --model smallcnn --augment \\\n"
           "      --lr 1e-4 --epochs 100 --steps-per-epoch 100 --batch-size 32\n"
           "  imgclass train data -o vgg16_head.h5 --base vgg16 --head 256 --augment \\\n"
           "      --lr 2e-5 --epochs 30 --steps-per-epoch 100 --validation-steps 50\n"
           "  imgclass train data -o features.h5 --base vgg16 --cache-features --rescale 1/255 \\\n"
           "      --lr 2e-5\n"
           "  imgclass train data -o mnv2.h5 --base mobilenet_v2 --target-size 224x224 \\\n"
           "      --cache-features --epochs 10     (tf preprocessing and lr 2e-5: the defaults)\n"
           "  imgclass train data -o vgg16_head.h5 --base vgg16 --augment --lr 2e-5 --resume\n");
}

/* The base, with weights and freezing applied. Returns 0 or an exit status. */
static int make_base(const tr_opts *o, ic_model **out)
{
    ic_app_opts ao = ic_app_opts_default();
    ao.include_top = 0;
    ao.input_shape[0] = o->th;
    ao.input_shape[1] = o->tw;
    ao.input_shape[2] = 3;
    ao.pooling = o->pooling;
    ic_model *b = NULL;
    ic_status s = ic_app_by_name(o->base, (float)o->alpha, &ao, &b);
    if (s)
        return ic_cli_fail(o->cmd, s);
    int rc = tr_load_base_weights(o, b, o->base, o->alpha, o->th);
    if (rc) {
        ic_model_free(b);
        return rc;
    }
    int pretrained = !o->weights || strcmp(o->weights, "none");
    int freeze = o->freeze >= 0 ? o->freeze : (pretrained || o->cache_features);
    if (freeze)
        ic_model_set_trainable(b, 0);
    *out = b;
    return 0;
}

static void fill_meta(const tr_opts *o, const tr_data *d, const char **names, ic_model_meta *meta)
{
    for (int i = 0; i < d->n_classes; i++)
        names[i] = ic_dir_iterator_class_name(d->train, i);
    ic_image_data_generator g = tr_generator(o, 0);
    *meta = (ic_model_meta){.n_classes = d->n_classes, .class_names = (char **)names,
                            .target_h = o->th, .target_w = o->tw, .rescale = g.rescale,
                            .preprocess = g.preprocess, .interpolation = (int)o->interpolation};
    snprintf(meta->base_name, sizeof meta->base_name, "%s", o->base ? o->base : "");
}

/* ---- --cache-features ---- */

typedef struct cached {
    ic_feature_training t; /* the full model, its head and the feature sources */
    const ic_model_meta *meta;
} cached;

/* Checkpoints save the full model with the head's weights copied in. */
static ic_status save_cached(void *user, ic_model *m, const char *path, int include_optimizer)
{
    (void)m, (void)include_optimizer;
    cached *c = user;
    ic_status s = ic_model_head_sync(c->t.head, 1);
    return s ? s : ic_model_save(c->t.full, path, c->meta, 0);
}

/* Runs the frozen base over one pass of it (in order), into new tensors feat (N, ...base
 * output) and labels (N, K). */
static int extract(const tr_opts *o, ic_model *base, ic_dir_iterator *it, const char *what,
                   ic_tensor **feat, ic_tensor **labels)
{
    ic_batch_source src = ic_dir_iterator_source(it);
    double t0 = ic_cli_now();
    printf("Extracting features of %lld %s images with %s (inference mode, %s) ...",
           (long long)ic_dir_iterator_samples(it), what, ic_model_name(base),
           ic_precision_name(ic_model_precision(base)));
    fflush(stdout);
    ic_status s = ic_model_extract_features(base, &src, 0, feat, labels);
    printf(s ? "\n" : " %.0fs\n", ic_cli_now() - t0);
    return s ? ic_cli_fail(o->cmd, s) : 0;
}

static int run_cached(const tr_opts *o, int argc, char **argv, tr_data *d)
{
    int rc;
    ic_model *base = NULL;
    ic_tensor *ft = NULL, *yt = NULL, *fv = NULL, *yv = NULL;
    cached c;
    memset(&c, 0, sizeof c);
    const char *names[256];
    ic_model_meta meta;
    fill_meta(o, d, names, &meta);
    c.meta = &meta;
    printf("Augmentation is off with --cache-features (the base sees each image once, as it "
           "is).\n");
    if ((rc = make_base(o, &base)))
        return rc;
    ic_status s = ic_cli_set_precision(base, o->precision); /* the extraction's too */
    if (s) {
        rc = ic_cli_fail(o->cmd, s);
        goto out;
    }
    if ((rc = extract(o, base, d->train, "training", &ft, &yt)) ||
        (rc = extract(o, base, d->val, "validation", &fv, &yv)))
        goto out;
    ic_compile_opts co = tr_compile_opts(o, d->n_classes);
    s = ic_feature_training_init(&c.t, base, (int)o->head, d->n_classes, &co, ft, yt, fv, yv,
                                 o->batch, o->seed);
    base = NULL;
    if (s) {
        rc = ic_cli_fail(o->cmd, s);
        goto out;
    }
    tr_job j = {.o = o, .argc = argc, .argv = argv, .model = ic_model_head_model(c.t.head),
                .train = c.t.train, .val = c.t.val, .meta = &meta, .save = save_cached,
                .save_user = &c, .can_resume = 0, .majority_rate = ic_labels_majority_rate(yv)};
    j.steps = o->steps > 0 ? o->steps : j.train.ops->length(j.train.self);
    j.vsteps = o->vsteps > 0 ? o->vsteps : j.val.ops->length(j.val.self);
    char a[32], b[32];
    printf("Trainable params: %s of %s (the head, on features %s)\n",
           tr_commas(ic_model_count_trainable_params(j.model), a, sizeof a),
           tr_commas(ic_model_count_params(c.t.full), b, sizeof b),
           ic_tensor_shape_str(ft, (char[64]){0}, 64));
    fflush(stdout);
    if ((rc = tr_run(&j, NULL)))
        goto out;
    /* The saved model end to end on the validation images: must agree with the last
     * epoch's val_loss / val_acc (computed on the features). */
    double vl, va;
    if ((s = ic_model_head_sync(c.t.head, 1)) || (s = ic_dir_iterator_seek(d->val, 0)))
        rc = ic_cli_fail(o->cmd, s);
    else {
        ic_batch_source src = ic_dir_iterator_source(d->val);
        if ((s = ic_model_evaluate(c.t.full, &src, 0, &vl, &va)))
            rc = ic_cli_fail(o->cmd, s);
        else
            printf("Check: the saved model (base + head) on the validation images: val_loss: "
                   "%.4f - val_acc: %.4f\n",
                   vl, va);
    }
out:
    ic_feature_training_free(&c.t);
    ic_tensor_free(ft);
    ic_tensor_free(yt);
    ic_tensor_free(fv);
    ic_tensor_free(yv);
    ic_model_free(base);
    return rc;
}

/* ---- the command ---- */

static int run_fresh(tr_opts *o, int argc, char **argv, void *user)
{
    (void)user;
    tr_note_previous_run(o);
    ic_image_data_generator gt = tr_generator(o, o->cache_features ? 0 : 1),
                            gv = tr_generator(o, 0);
    tr_data d;
    int rc = tr_data_open(o, o->th, o->tw, NULL, 0, &gt, &gv, !o->cache_features, &d);
    if (rc)
        return rc;
    if (o->cache_features) {
        rc = run_cached(o, argc, argv, &d);
        ic_train_val_free(&d);
        return rc;
    }
    ic_model *m = NULL;
    ic_status s;
    if (o->base) {
        ic_model *base;
        if ((rc = make_base(o, &base))) {
            ic_train_val_free(&d);
            return rc;
        }
        s = ic_app_classifier(base, (int)o->head, d.n_classes, &m);
    } else {
        s = ic_app_smallcnn(&m, o->th, o->tw, 3, (float)o->dropout, d.n_classes);
    }
    ic_compile_opts co = tr_compile_opts(o, d.n_classes);
    if (!s)
        s = ic_model_compile(m, &co);
    if (s) {
        rc = ic_cli_fail(o->cmd, s);
    } else {
        const char *names[256];
        ic_model_meta meta;
        fill_meta(o, &d, names, &meta);
        rc = tr_run_on_data(o, argc, argv, m, &meta, &d, NULL);
    }
    ic_model_free(m);
    ic_train_val_free(&d);
    return rc;
}

int ic_cli_train(int argc, char **argv)
{
    return tr_main(TR_TRAIN, argc, argv, help, run_fresh, NULL);
}
