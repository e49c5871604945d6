/* train_opts.c - the options `imgclass train` and `imgclass finetune` share: parsing,
 * checks, and what they turn into (the augmenting generator, the compile options). */
#include <errno.h>
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

static int parse_pos(const char *cmd, const char *flag, const char *v, long min, long *out)
{
    if (ic_cli_parse_int(v, out) || *out < min)
        return ic_cli_usage_error(cmd, "%s needs a number >= %ld, got '%s'", flag, min, v);
    return 0;
}

/* Train-only and finetune-only flags: a one-line error when given to the other. */
static int only_for(const tr_opts *o, tr_kind k, const char *flag)
{
    if (o->kind == k)
        return 0;
    if (o->kind == TR_FINETUNE)
        return ic_cli_usage_error(o->cmd,
                                  "%s is a train option (finetune takes the model, its "
                                  "input size and preprocessing from MODEL.h5)",
                                  flag);
    return ic_cli_usage_error(o->cmd, "%s is a finetune option", flag);
}

int tr_parse(tr_opts *o, int argc, char **argv, int start)
{
    const char *cmd = o->cmd;
    int npos = 0;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ic_cli_common_opt(cmd, argc, argv, &i);
        if (!r)
            r = ic_cli_aug_opt(cmd, argc, argv, &i, &o->aug);
        if (!r)
            r = ic_cli_precision_opt(cmd, argc, argv, &i, &o->precision);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return -1;
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (o->kind == TR_FINETUNE && npos == 0)
                o->model_in = a;
            else if ((o->kind == TR_FINETUNE && npos == 1) || (o->kind == TR_TRAIN && npos == 0))
                o->data_dir = a;
            else
                return ic_cli_usage_error(cmd, "unexpected argument '%s'", a);
            npos++;
            continue;
        }
        /* flags without a value */
        if (!strcmp(a, "--resume")) {
            o->resume = 1;
            continue;
        }
        if (!strcmp(a, "--freeze-base") || !strcmp(a, "--no-freeze-base")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            o->freeze = !strcmp(a, "--freeze-base");
            continue;
        }
        if (!strcmp(a, "--freeze-bn") || !strcmp(a, "--train-bn")) {
            if (only_for(o, TR_FINETUNE, a))
                return 2;
            o->freeze_bn = !strcmp(a, "--freeze-bn");
            continue;
        }
        if (!strcmp(a, "--cache-features")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            o->cache_features = 1;
            continue;
        }
        if (!v)
            return ic_cli_usage_error(cmd, "unknown option or missing value: %s", a);
        i++;
        double x;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o->out = v;
        } else if (!strcmp(a, "--model")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (strcmp(v, "smallcnn"))
                return ic_cli_usage_error(cmd,
                                          "unknown --model '%s' (expected smallcnn; for a "
                                          "pretrained base use --base vgg16|vgg19|"
                                          "mobilenet_v2|resnet50)",
                                          v);
            o->model = v;
        } else if (!strcmp(a, "--base")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (strcmp(v, "vgg16") && strcmp(v, "vgg19") && strcmp(v, "mobilenet_v2") &&
                strcmp(v, "resnet50"))
                return ic_cli_usage_error(
                    cmd, "unknown base '%s' (expected vgg16, vgg19, mobilenet_v2 or resnet50)", v);
            o->base = v;
        } else if (!strcmp(a, "--alpha")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (ic_cli_parse_num(v, &x) || x <= 0)
                return ic_cli_usage_error(cmd,
                                          "--alpha needs a positive number (0.35, 0.5, "
                                          "0.75, 1.0, 1.3, 1.4), got '%s'",
                                          v);
            o->alpha = x;
        } else if (!strcmp(a, "--weights")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            o->weights = v;
        } else if (!strcmp(a, "--head")) {
            if (only_for(o, TR_TRAIN, a) || parse_pos(cmd, a, v, 0, &o->head))
                return 2;
        } else if (!strcmp(a, "--pooling")) {
            if (only_for(o, TR_TRAIN, a) || ic_cli_pooling_arg(cmd, v, &o->pooling))
                return 2;
        } else if (!strcmp(a, "--dropout")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (ic_cli_parse_num(v, &x) || x < 0 || x >= 1)
                return ic_cli_usage_error(cmd, "--dropout needs a rate in [0, 1), got '%s'", v);
            o->dropout = x;
        } else if (!strcmp(a, "--target-size")) {
            int64_t c;
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (ic_cli_parse_shape(v, &o->th, &o->tw, &c) || c != 3)
                return ic_cli_usage_error(cmd, "--target-size needs HxW like 150x150, got '%s'", v);
            o->size_given = 1;
        } else if (!strcmp(a, "--interpolation")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (v && !strcmp(v, "nearest"))
                o->interpolation = IC_INTERP_NEAREST;
            else if (v && !strcmp(v, "bilinear"))
                o->interpolation = IC_INTERP_BILINEAR;
            else
                return ic_cli_usage_error(cmd, "--interpolation must be nearest or bilinear, "
                                               "got '%s'",
                                          v ? v : "nothing");
        } else if (!strcmp(a, "--preprocess")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (!strcmp(v, "auto")) { /* the default, said explicitly */
                o->preprocess = IC_PREPROCESS_NONE;
                o->preprocess_given = 0;
            } else if (ic_preprocess_parse(v, &o->preprocess) != IC_OK) {
                return ic_cli_usage_error(cmd, "--preprocess must be auto, none, caffe, tf or "
                                               "torch, got '%s'",
                                          v);
            } else {
                o->preprocess_given = 1;
            }
        } else if (!strcmp(a, "--rescale")) {
            if (only_for(o, TR_TRAIN, a))
                return 2;
            if (ic_cli_rescale_arg(cmd, v, &o->rescale))
                return 2;
            o->rescale_given = 1;
        } else if (!strcmp(a, "--unfreeze-from")) {
            if (only_for(o, TR_FINETUNE, a))
                return 2;
            o->unfreeze_from = v;
        } else if (!strcmp(a, "--base-layer")) {
            if (only_for(o, TR_FINETUNE, a))
                return 2;
            o->base_layer = v;
        } else if (!strcmp(a, "--optimizer")) {
            if (ic_optimizer_parse(v, &o->opt) != IC_OK)
                return ic_cli_usage_error(cmd, "--optimizer must be rmsprop, adam or sgd, got '%s'",
                                          v);
        } else if (!strcmp(a, "--lr")) {
            if (ic_cli_parse_num(v, &x) || x <= 0)
                return ic_cli_usage_error(cmd, "--lr needs a positive number like 2e-5, got '%s'",
                                          v);
            o->lr = x;
        } else if (!strcmp(a, "--epochs")) {
            if (parse_pos(cmd, a, v, 1, &o->epochs))
                return 2;
            if (o->epochs > 1000000)
                return ic_cli_usage_error(cmd, "--epochs %ld is too large", o->epochs);
        } else if (!strcmp(a, "--steps-per-epoch")) {
            if (parse_pos(cmd, a, v, 1, &o->steps))
                return 2;
        } else if (!strcmp(a, "--validation-steps")) {
            if (parse_pos(cmd, a, v, 1, &o->vsteps))
                return 2;
        } else if (!strcmp(a, "--batch-size")) {
            if (parse_pos(cmd, a, v, 1, &o->batch))
                return 2;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || *v == '-' || errno)
                return ic_cli_usage_error(cmd, "--seed needs a number >= 0, got '%s'", v);
            o->seed = s;
        } else if (!strcmp(a, "--workers")) {
            if (parse_pos(cmd, a, v, 0, &o->workers))
                return 2;
        } else if (!strcmp(a, "--save-best")) {
            if (!strcmp(v, "val_acc"))
                o->save_best = TR_BEST_VAL_ACC;
            else if (!strcmp(v, "val_loss"))
                o->save_best = TR_BEST_VAL_LOSS;
            else
                return ic_cli_usage_error(cmd, "--save-best must be val_acc or val_loss, got '%s'",
                                          v);
        } else if (!strcmp(a, "--early-stopping")) {
            if (parse_pos(cmd, a, v, 1, &o->patience))
                return 2;
        } else {
            return ic_cli_usage_error(cmd, "unknown option: %s", a);
        }
    }
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

static const char *const g_pre_name[] = {"none", "caffe", "tf", "torch"};

static const char *pre_name(ic_preprocess p)
{
    return (unsigned)p < sizeof g_pre_name / sizeof g_pre_name[0] ? g_pre_name[p] : "?";
}

int tr_pretrained(const tr_opts *o)
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

double tr_default_lr(const tr_opts *o)
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
        fprintf(fp, "Preprocessing: %s, %s (%s)\n", pre_name(o->preprocess), rs, why);
        if (pretrained && (o->preprocess != o->pre_expected ||
                           (o->pre_expected != IC_PREPROCESS_NONE && o->rescale != 0)))
            fprintf(fp,
                    "note: %s's ImageNet weights were trained with --preprocess %s; this run "
                    "gives them %s with %s (--preprocess auto matches the weights)\n",
                    o->base, pre_name(o->pre_expected), pre_name(o->preprocess), rs);
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
