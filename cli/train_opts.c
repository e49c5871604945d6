/* train_opts.c - the options `imgclass train` and `imgclass finetune` share: parsing,
 * checks, and what they turn into (the augmenting generator, the compile options). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_input.h"
#include "train_run.h"

/* ---------------------------------------------------------------- options ---- */

void tr_opts_init(tr_opts *o, tr_kind kind)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->cmd = kind == TR_TRAIN ? "train" : "finetune";
    o->head = 256;
    o->freeze = -1;
    o->freeze_bn = -1;
    o->dropout = 0.5;
    o->th = o->tw = 150;
    o->preprocess = IC_PREPROCESS_NONE;
    o->rescale = 1.0 / 255;
    ic_cli_aug_init(&o->aug);
    o->opt = IC_OPT_RMSPROP;
    o->epochs = 30;
    o->batch = 20;
    o->seed = 1;
    o->precision = IC_PRECISION_FP32;
    o->workers = -1; /* not given */
}

/* Train-only and finetune-only flags: a one-line error when given to the other. */
static int only_for(const tr_opts *o, const char *flag)
{
    if (o->kind == TR_FINETUNE)
        return ic_cli_usage_error(o->cmd,
                                  "%s is a train option (finetune takes the model, its "
                                  "input size and preprocessing from MODEL.h5)",
                                  flag);
    return ic_cli_usage_error(o->cmd, "%s is a finetune option", flag);
}

/* --preprocess: auto (the default, said explicitly) or a mode, into a tr_opts. */
static int parse_preprocess(const char *v, void *dst)
{
    tr_opts *o = dst;
    o->preprocess_given = strcmp(v, "auto") != 0;
    if (!o->preprocess_given) {
        o->preprocess = IC_PREPROCESS_NONE;
        return 0;
    }
    return ic_preprocess_parse(v, &o->preprocess) != IC_OK;
}

/* --target-size HxW (or HxWx3), into a tr_opts. */
static int parse_size(const char *v, void *dst)
{
    tr_opts *o = dst;
    int64_t c;
    return ic_cli_parse_shape(v, &o->th, &o->tw, &c) || c != 3;
}

static int parse_optimizer(const char *v, void *dst)
{
    return ic_optimizer_parse(v, dst) != IC_OK;
}

static const char *const g_bases[] = {"vgg16", "vgg19", "mobilenet_v2", "resnet50", NULL};
static const char *const g_smallcnn[] = {"smallcnn", NULL};
static const char *const g_interpolations[] = {"nearest", "bilinear", NULL};
static const char *const g_best[] = {"", "val_acc", "val_loss", NULL};

int tr_parse(tr_opts *o, int argc, char **argv, int start)
{
    enum { T = TR_TRAIN + 1, F = TR_FINETUNE + 1 }; /* only train, only finetune */
    ic_cli_opt aug[IC_CLI_AUG_OPTS];
    ic_cli_aug_table(&o->aug, aug);
    const ic_cli_opt opts[] = {
        {"--resume", IC_CLI_SET, .dst = &o->resume, .lo = 1},
        {"--freeze-base", IC_CLI_SET, .dst = &o->freeze, .lo = 1, .only = T},
        {"--no-freeze-base", IC_CLI_SET, .dst = &o->freeze, .lo = 0, .only = T},
        {"--freeze-bn", IC_CLI_SET, .dst = &o->freeze_bn, .lo = 1, .only = F},
        {"--train-bn", IC_CLI_SET, .dst = &o->freeze_bn, .lo = 0, .only = F},
        {"--cache-features", IC_CLI_SET, .dst = &o->cache_features, .lo = 1, .only = T},
        {"--output", IC_CLI_STR, .dst = &o->out, .alias = "-o"},
        {"--model", IC_CLI_STR, .dst = &o->model, .choices = g_smallcnn, .only = T,
         .err = "unknown --model '%s' (expected smallcnn; for a pretrained base use --base "
                "vgg16|vgg19|mobilenet_v2|resnet50)"},
        {"--base", IC_CLI_STR, .dst = &o->base, .choices = g_bases, .only = T,
         .err = "unknown base '%s' (expected vgg16, vgg19, mobilenet_v2 or resnet50)"},
        {"--alpha", IC_CLI_NUM, .dst = &o->alpha, .lo = IC_CLI_POSITIVE, .only = T,
         .err = "--alpha needs a positive number (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), got '%s'"},
        {"--weights", IC_CLI_STR, .dst = &o->weights, .only = T},
        {"--head", IC_CLI_LONG, .dst = &o->head, .only = T},
        {"--pooling", IC_CLI_ENUM, .dst = &o->pooling, .choices = ic_cli_pooling_names, .only = T,
         .err = "--pooling must be none, avg or max, got '%s'"},
        /* the largest double below 1: the rate is < 1 */
        {"--dropout", IC_CLI_NUM, .dst = &o->dropout, .hi = 0x1.fffffffffffffp-1, .only = T,
         .err = "--dropout needs a rate in [0, 1), got '%s'"},
        {"--target-size", IC_CLI_PARSE, .dst = o, .parse = parse_size, .seen = &o->size_given,
         .only = T, .err = "--target-size needs HxW like 150x150, got '%s'"},
        {"--interpolation", IC_CLI_ENUM, .dst = &o->interpolation, .choices = g_interpolations,
         .only = T, .err = "--interpolation must be nearest or bilinear, got '%s'"},
        {"--preprocess", IC_CLI_PARSE, .dst = o, .parse = parse_preprocess, .only = T,
         .err = "--preprocess must be auto, none, caffe, tf or torch, got '%s'"},
        {"--rescale", IC_CLI_PARSE, .dst = &o->rescale, .parse = ic_cli_parse_rescale,
         .seen = &o->rescale_given, .only = T,
         .err = "--rescale needs a factor like 1/255 or 0.5, or none, got '%s'"},
        {"--unfreeze-from", IC_CLI_STR, .dst = &o->unfreeze_from, .only = F},
        {"--base-layer", IC_CLI_STR, .dst = &o->base_layer, .only = F},
        {"--optimizer", IC_CLI_PARSE, .dst = &o->opt, .parse = parse_optimizer,
         .err = "--optimizer must be rmsprop, adam or sgd, got '%s'"},
        {"--lr", IC_CLI_NUM, .dst = &o->lr, .lo = IC_CLI_POSITIVE,
         .err = "--lr needs a positive number like 2e-5, got '%s'"},
        {"--epochs", IC_CLI_LONG, .dst = &o->epochs, .lo = 1},
        {"--steps-per-epoch", IC_CLI_LONG, .dst = &o->steps, .lo = 1},
        {"--validation-steps", IC_CLI_LONG, .dst = &o->vsteps, .lo = 1},
        {"--batch-size", IC_CLI_LONG, .dst = &o->batch, .lo = 1},
        {"--seed", IC_CLI_U64, .dst = &o->seed, .err = "--seed needs a number >= 0, got '%s'"},
        {"--workers", IC_CLI_LONG, .dst = &o->workers},
        {"--save-best", IC_CLI_ENUM, .dst = &o->save_best, .choices = g_best,
         .err = "--save-best must be val_acc or val_loss, got '%s'"},
        {"--early-stopping", IC_CLI_LONG, .dst = &o->patience, .lo = 1},
        {.kind = IC_CLI_INCLUDE, .dst = aug},
        IC_CLI_PRECISION(&o->precision),
        {.kind = IC_CLI_END},
    };
    int npos = 0, r, i = start - 1;
    while ((r = ic_cli_next(o->cmd, opts, o->kind + 1, argc, argv, &i, NULL)) != 0) {
        if (r == 3)
            return only_for(o, argv[i]);
        if (r != 1)
            return r;
        if (o->kind == TR_FINETUNE && npos == 0)
            o->model_in = argv[i];
        else if ((o->kind == TR_FINETUNE && npos == 1) || (o->kind == TR_TRAIN && npos == 0))
            o->data_dir = argv[i];
        else
            return ic_cli_usage_error(o->cmd, "unexpected argument '%s'", argv[i]);
        npos++;
    }
    if (o->epochs > 1000000)
        return ic_cli_usage_error(o->cmd, "--epochs %ld is too large", o->epochs);
    return 0;
}

/* Any augmentation at all (a flag that leaves everything at identity does not count). */
static int augments(const tr_opts *o)
{
    ic_image_data_generator g = ic_cli_aug_generator(&o->aug);
    return g.rotation_range != 0 || g.width_shift_range != 0 || g.height_shift_range != 0 ||
           g.shear_range != 0 || g.zoom_lo != 1 || g.zoom_hi != 1 || g.horizontal_flip ||
           g.vertical_flip;
}

int tr_check(const tr_opts *o)
{
    const char *cmd = o->cmd;
    if (!o->out)
        return ic_cli_usage_error(cmd, "-o MODEL.h5 is required");
    if (o->kind == TR_FINETUNE && !o->model_in && !o->resume)
        return ic_cli_usage_error(cmd, "give the model to fine-tune and the data: "
                                       "imgclass finetune MODEL.h5 DATA_DIR -o OUT.h5");
    if (!o->data_dir)
        return ic_cli_usage_error(cmd, "DATA_DIR (with train/ and validation/) is required");
    if (o->model && o->base)
        return ic_cli_usage_error(cmd, "give --model or --base, not both");
    if (!o->base) {
        if (o->alpha || o->weights || o->freeze >= 0 || o->cache_features || o->head != 256 ||
            o->pooling != IC_POOLING_NONE)
            return ic_cli_usage_error(cmd, "--alpha, --weights, --head, --pooling, --freeze-base "
                                           "and --cache-features need --base");
    } else if (o->alpha && strcmp(o->base, "mobilenet_v2")) {
        return ic_cli_usage_error(cmd, "--alpha is for --base mobilenet_v2 only");
    }
    const char *slash = strrchr(o->out, '/');
    if (slash && slash != o->out) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->out), o->out);
        if (!tr_is_dir(dir)) {
            fprintf(stderr, "imgclass %s: cannot write %s: %s is not a directory\n", cmd, o->out,
                    dir);
            return 1;
        }
    }
    if (o->cache_features) {
        if (o->freeze == 0)
            return ic_cli_usage_error(cmd, "--cache-features needs a frozen base "
                                           "(drop --no-freeze-base)");
        if (augments(o))
            return ic_cli_usage_error(cmd, "--cache-features runs the base once over "
                                           "un-augmented images: augmentation options cannot "
                                           "be used with it");
        if (o->resume)
            return ic_cli_usage_error(cmd, "--resume is not available with --cache-features "
                                           "(the head trains in seconds: run again)");
    }
    return 0;
}

ic_image_data_generator tr_generator(const tr_opts *o, int training)
{
    ic_image_data_generator g =
        training ? ic_cli_aug_generator(&o->aug) : ic_image_data_generator_default();
    g.rescale = (float)o->rescale;
    g.preprocess = o->preprocess;
    return g;
}

/* ---------------------------------------------------------------- defaults ---- */

/* Does the run start from pretrained weights (train --base with weights; finetune)? */
static int tr_pretrained(const tr_opts *o)
{
    if (o->kind == TR_FINETUNE)
        return 1; /* finetune continues a model trained on a base */
    return o->base && (!o->weights || strcmp(o->weights, "none"));
}

/* "rescale 1/255", "rescale 0.5" or "no rescale" */
static void rescale_str(double r, char *buf, size_t size)
{
    if (r == 0)
        snprintf(buf, size, "no rescale");
    else if (1 / r >= 2 && fabs(1 / r - floor(1 / r + 0.5)) < 1e-6)
        snprintf(buf, size, "rescale 1/%.0f", 1 / r);
    else
        snprintf(buf, size, "rescale %g", r);
}

/* The learning rate when --lr is not given: Keras's default for the optimizer from
 * scratch, the book's rates on a pretrained base (2e-5 head, 1e-5 fine-tuning). */
static double tr_default_lr(const tr_opts *o)
{
    ic_training_kind what = !tr_pretrained(o)        ? IC_TRAINING_SCRATCH
                            : o->kind == TR_FINETUNE ? IC_TRAINING_FINETUNE
                                                     : IC_TRAINING_HEAD;
    return ic_optimizer_default_lr(o->opt, what);
}

void tr_resolve_defaults(tr_opts *o)
{
    ic_preprocess expect = IC_PREPROCESS_NONE;
    if (o->kind == TR_TRAIN) {
        expect = tr_pretrained(o) ? ic_app_preprocess_mode(o->base) : IC_PREPROCESS_NONE;
        if (!o->preprocess_given) /* auto; an explicit --rescale alone means no preprocess */
            o->preprocess = o->rescale_given ? IC_PREPROCESS_NONE : expect;
        if (!o->rescale_given) /* preprocess_input does the scaling itself */
            o->rescale = o->preprocess != IC_PREPROCESS_NONE ? 0 : 1.0 / 255;
    }
    if (!(o->lr > 0)) {
        o->lr = tr_default_lr(o);
        o->lr_defaulted = 1;
    }
    o->pre_expected = expect;
}

void tr_print_defaults(const tr_opts *o, FILE *fp)
{
    ic_optimizer_opts oo = ic_optimizer_opts_default(o->opt);
    const char *optname = o->opt == IC_OPT_ADAM ? "Adam" : o->opt == IC_OPT_SGD ? "SGD" : "RMSprop";
    if (o->kind == TR_TRAIN) {
        char rs[32];
        rescale_str(o->rescale, rs, sizeof rs);
        int pretrained = tr_pretrained(o);
        const char *why = o->preprocess_given || o->rescale_given ? "as given"
                          : pretrained ? "auto: the base's preprocess_input, as its ImageNet "
                                         "weights were trained"
                                       : "auto: no pretrained weights";
        fprintf(fp, "Preprocessing: %s, %s (%s)\n", ic_preprocess_name(o->preprocess), rs, why);
        if (pretrained && (o->preprocess != o->pre_expected ||
                           (o->pre_expected != IC_PREPROCESS_NONE && o->rescale != 0)))
            fprintf(fp,
                    "note: %s's ImageNet weights were trained with --preprocess %s; this run "
                    "gives them %s with %s (--preprocess auto matches the weights)\n",
                    o->base, ic_preprocess_name(o->pre_expected),
                    ic_preprocess_name(o->preprocess), rs);
    }
    if (!o->lr_defaulted)
        fprintf(fp, "Optimizer: %s, learning rate %g (as given)\n", optname, o->lr);
    else if (o->lr != oo.lr)
        fprintf(fp, "Optimizer: %s, learning rate %g (the default on a pretrained base%s; "
                    "--lr to change)\n",
                optname, o->lr,
                o->opt == IC_OPT_SGD      ? ""
                : o->kind == TR_FINETUNE  ? ": the book's rate for fine-tuning"
                                          : ": the book's rate for the head");
    else
        fprintf(fp, "Optimizer: %s, learning rate %g (Keras's default)\n", optname, o->lr);
}

ic_compile_opts tr_compile_opts(const tr_opts *o, int n_classes)
{
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer = ic_optimizer_opts_default(o->opt);
    if (o->lr > 0)
        c.optimizer.lr = (float)o->lr;
    c.loss = n_classes > 2 ? IC_LOSS_CATEGORICAL_CROSSENTROPY : IC_LOSS_BINARY_CROSSENTROPY;
    c.metric_accuracy = 1;
    c.precision = o->precision;
    return c;
}


/* ---------------------------------------------------------------- help ---- */

void tr_help_training(FILE *fp, tr_kind kind)
{
    const char *out = kind == TR_FINETUNE ? "FT" : "MODEL";
    fprintf(fp,
            "training:\n"
            "  --epochs N              (default 30)\n"
            "  --steps-per-epoch N     batches per epoch (default: one pass, ceil(n / batch))\n"
            "  --validation-steps N    validation batches (default: one pass)\n"
            "  --batch-size N          (default 20)\n"
            "  --seed N                shuffling, augmentation, initialisation, dropout (default 1)\n"
            "  --workers N             image loading threads (default: half of --threads);\n"
            "                          0: each batch is loaded between steps by the\n"
            "                          step's own threads\n"
            "  --optimizer NAME        rmsprop (default), adam or sgd (Keras's defaults)\n"
            "%s"
            "  --save-best METRIC      val_acc or val_loss: %s.h5 keeps the best epoch's model;\n"
            "                          the latest checkpoint then goes to %s.last.h5\n"
            "  --early-stopping P      stop when the monitored metric (--save-best's, else\n"
            "                          val_loss) has not improved for P epochs\n",
            kind == TR_FINETUNE
                ? "  --lr LR                 learning rate (default 1e-5, the book's rate for\n"
                  "                          fine-tuning; 1e-3 with --optimizer sgd)\n"
                : "  --lr LR                 learning rate (default: 2e-5 with a pretrained base,\n"
                  "                          the book's rate for the head, 2e-3 with sgd; from\n"
                  "                          scratch Keras's: 1e-3 rmsprop and adam, 0.01 sgd)\n",
            out, out);
    ic_cli_precision_help(fp, 26);
    fprintf(fp,
            "  --resume                continue a stopped run with the same -o (and options;\n"
            "                          --epochs may grow): same result as an uninterrupted run\n"
            "                          (the run's --precision holds unless given again)\n"
            "  -o, --output %-10s the %s (required)\n"
            "  --threads N, --backend cpu|ref|cuda\n",
            kind == TR_FINETUNE ? "FT.h5" : "MODEL.h5",
            kind == TR_FINETUNE ? "fine-tuned model" : "model file");
}
