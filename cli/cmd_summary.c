/* cmd_summary.c - `imgclass summary`: the Keras table of a saved model (with its meta), of
 * a known architecture, alone or as the book stacks it (a pretrained base + Flatten +
 * Dense head), optionally after loading a weights file into it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_input.h"

static void help(void)
{
    printf("usage: imgclass summary MODEL.h5 [options]\n"
           "       imgclass summary --model NAME [--alpha A] [--weights FILE] [options]\n"
           "       imgclass summary --base NAME --head UNITS [--freeze-base] [options]\n"
           "       imgclass summary --config MODEL.json --weights WEIGHTS.h5\n"
           "\n"
           "Prints Keras's model.summary() table: Layer (type), Output Shape, Param #, and\n"
           "the Total / Trainable / Non-trainable parameter counts. For a model file saved by\n"
           "'imgclass train', a last line gives what it reads images with: classes, input\n"
           "size, color mode, preprocessing and rescale.\n"
           "\n"
           "  --model NAME        vgg16, vgg19, mobilenet_v2, resnet50 or smallcnn (the book's\n"
           "                      convnet)\n"
           "  --base NAME         a base (vgg16, vgg19, mobilenet_v2, resnet50) nested as one\n"
           "                      layer, followed by Flatten, Dense(UNITS, relu) and\n"
           "                      Dense(1, sigmoid) (the book; no Flatten with --pooling)\n"
           "  --alpha A           MobileNetV2 width: 0.35, 0.5, 0.75, 1.0 (default), 1.3, 1.4\n"
           "  --weights FILE      load a Keras HDF5 weights file (by layer order, as Keras's\n"
           "                      load_weights) into the model (--model) or the base (--base)\n"
           "                      and report how many tensors it set\n"
           "  --head UNITS        units of the hidden dense layer with --base (default 256;\n"
           "                      0: none, the output sits on the features)\n"
           "  --classes N         output classes (default 2: one sigmoid unit)\n"
           "  --freeze-base       freeze the base (freeze_weights(conv_base))\n"
           "  --unfreeze-from L   with --base: trainable from base layer L on\n"
           "  --input HxWxC       input shape (default 150x150x3)\n"
           "  --include-top       include the ImageNet classifier (needs 224x224x3 input)\n"
           "  --pooling avg|max   global pooling after the base (no top)\n"
           "  --line-length N     table width (default 80, as R prints it)\n"
           "  --config MODEL.json with --weights FILE: a Keras model.to_json() architecture\n"
           "                      and its save_weights file (MODEL.h5 may also be a file\n"
           "                      saved by Keras itself: model.save / save_model_hdf5)\n"
           "\n"
           "examples:\n"
           "  imgclass summary model.h5\n"
           "  imgclass summary --model vgg16 --input 150x150x3\n"
           "  imgclass summary --model mobilenet_v2 --alpha 0.35 --input 224x224x3 \\\n"
           "      --weights mobilenet_v2_0.35_224_no_top.h5\n"
           "  imgclass summary --model smallcnn\n"
           "  imgclass summary --base vgg16 --head 256 --freeze-base\n");
}

static const char *const g_models[] = {"vgg16", "vgg19", "mobilenet_v2", "resnet50", "smallcnn",
                                       NULL};

/* --input HxWxC into int64_t[3] */
static int parse_shape(const char *v, void *dst)
{
    int64_t *s = dst;
    return ic_cli_parse_shape(v, &s[0], &s[1], &s[2]);
}

static ic_status build_named(const char *name, float alpha, const ic_app_opts *o, int classes,
                             ic_model **m)
{
    const int64_t *in = o->input_shape;
    if (!strcmp(name, "smallcnn"))
        return ic_app_smallcnn(m, in[0], in[1], in[2], 0.5f, classes);
    return ic_app_by_name(name, alpha, o, m);
}

/* `imgclass summary MODEL.h5`: the table, then the meta line. */
static int summary_file(const char *cmd, const char *path, const ic_cli_keras_opts *ko, int line)
{
    ic_cli_model cm;
    if (ic_cli_model_open_ex(cmd, path, ko, NULL, NULL, &cm)) {
        ic_cli_model_close(&cm);
        return 1;
    }
    ic_status s = ic_model_summary(cm.model, stdout, line);
    if (s) {
        ic_cli_model_close(&cm);
        return ic_cli_fail(cmd, s);
    }
    const ic_model_meta *mt = cm.meta;
    if (cm.keras) {
        printf("Keras model file | input: %lldx%lldx%d %s | output: %lld unit%s | class names, "
               "preprocessing and rescale are not recorded (give --classes, --preprocess, "
               "--rescale to predict/evaluate)\n",
               (long long)cm.h, (long long)cm.w, cm.c, cm.c == 1 ? "grayscale" : "RGB",
               (long long)cm.n_out, cm.n_out == 1 ? " (sigmoid)" : "s");
        ic_cli_model_close(&cm);
        return 0;
    }
    printf("Classes (%d): ", mt->n_classes);
    for (int k = 0; k < mt->n_classes; k++)
        printf("%s%s", k ? ", " : "", mt->class_names[k]);
    printf(" | input: %lldx%lldx%d %s | preprocessing: %s", (long long)cm.h, (long long)cm.w,
           cm.c, cm.c == 1 ? "grayscale" : "RGB",
           ic_preprocess_name(mt->preprocess));
    if (mt->rescale != 0) {
        double inv = 1.0 / mt->rescale;
        if (inv >= 2 && fabs(inv - floor(inv + 0.5)) < 1e-3)
            printf(", rescale 1/%.0f", inv);
        else
            printf(", rescale %g", mt->rescale);
    }
    printf(" | resize: %s", mt->interpolation == IC_INTERP_BILINEAR ? "bilinear" : "nearest");
    if (mt->base_name[0])
        printf(" | base: %s", mt->base_name);
    printf(" | output: %s\n", cm.binary ? "1 sigmoid unit" : "softmax");
    ic_cli_model_close(&cm);
    return 0;
}

int ic_cli_summary(int argc, char **argv)
{
    const char *cmd = "summary", *model = NULL, *base = NULL, *unfreeze = NULL;
    const char *file = NULL, *weights = NULL, *config = NULL;
    long head = 256, classes = 2, line = 0;
    int freeze = 0, r;
    double alpha = 0;
    ic_app_opts o = ic_app_opts_default();
    o.input_shape[0] = o.input_shape[1] = 150; /* the book's size, RGB */
    o.input_shape[2] = 3;
    const ic_cli_opt opts[] = {
        {"--include-top", IC_CLI_SET, .dst = &o.include_top, .lo = 1},
        {"--freeze-base", IC_CLI_SET, .dst = &freeze, .lo = 1},
        {"--weights", IC_CLI_STR, .dst = &weights},
        {"--config", IC_CLI_STR, .dst = &config},
        {"--alpha", IC_CLI_NUM, .dst = &alpha, .lo = IC_CLI_POSITIVE,
         .err = "--alpha needs a positive number, got '%s'"},
        {"--model", IC_CLI_STR, .dst = &model},
        {"--base", IC_CLI_STR, .dst = &base},
        {"--unfreeze-from", IC_CLI_STR, .dst = &unfreeze},
        {"--head", IC_CLI_LONG, .dst = &head},
        {"--classes", IC_CLI_LONG, .dst = &classes, .lo = 2},
        {"--line-length", IC_CLI_LONG, .dst = &line, .lo = 20},
        {"--input", IC_CLI_PARSE, .dst = o.input_shape, .parse = parse_shape,
         .err = "--input needs HxWxC like 150x150x3, got '%s'"},
        {"--pooling", IC_CLI_ENUM, .dst = &o.pooling, .choices = ic_cli_pooling_names,
         .err = "--pooling must be none, avg or max, got '%s'"},
        {.kind = IC_CLI_END},
    };
    for (int i = 0; (r = ic_cli_next(cmd, opts, 0, argc, argv, &i, help)) == 1;) {
        if (file)
            return ic_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        file = argv[i];
    }
    if (r)
        return r < 0 ? 0 : r;
    if (config) {
        if (model || base || alpha > 0 || (file && weights) || (!file && !weights))
            return ic_cli_usage_error(cmd, "--config MODEL.json needs a weights file (--weights "
                                           "FILE) and no --model/--base");
        ic_cli_keras_opts ko = {.config = config, .weights = weights ? weights : file};
        return summary_file(cmd, ko.weights, &ko, (int)line);
    }
    if (file && (model || base || weights || alpha > 0))
        return ic_cli_usage_error(cmd, "give a model file or --model/--base, not both");
    if (file)
        return summary_file(cmd, file, NULL, (int)line);
    if (!model == !base)
        return ic_cli_usage_error(cmd, "give exactly one of --model or --base");
    const char *name = model ? model : base;
    if (base && !strcmp(base, "smallcnn"))
        return ic_cli_usage_error(cmd, "smallcnn is not a base; use --model smallcnn");
    size_t k = 0;
    while (g_models[k] && strcmp(name, g_models[k]))
        k++;
    if (!g_models[k])
        return ic_cli_usage_error(
            cmd, "unknown model '%s' (expected vgg16, vgg19, mobilenet_v2, resnet50, smallcnn)",
            name);
    if (alpha > 0 && strcmp(name, "mobilenet_v2"))
        return ic_cli_usage_error(cmd, "--alpha applies to mobilenet_v2 only");
    ic_model *m = NULL;
    ic_status s = build_named(name, (float)alpha, &o, (int)classes, &m);
    if (s)
        return ic_cli_fail(cmd, s);
    ic_model *basem = m;
    int n_loaded = 0;
    if (weights) {
        ic_load_weights_opts wo = ic_load_weights_opts_default();
        if ((s = ic_model_load_weights(basem, weights, &wo))) {
            ic_model_free(basem);
            return ic_cli_fail(cmd, s);
        }
        n_loaded = ic_model_num_weights(basem);
    }
    if (base) {
        if (unfreeze && (s = ic_model_unfreeze_range(basem, unfreeze, NULL))) {
            ic_model_free(basem);
            return ic_cli_fail(cmd, s);
        }
        if (freeze)
            ic_model_set_trainable(basem, 0);
        if ((s = ic_app_classifier(basem, (int)head, (int)classes, &m)))
            return ic_cli_fail(cmd, s);
    } else if (freeze || unfreeze) {
        ic_model_free(m);
        return ic_cli_usage_error(cmd, "--freeze-base and --unfreeze-from need --base");
    }
    s = ic_model_summary(m, stdout, (int)line);
    ic_model_free(m);
    if (s)
        return ic_cli_fail(cmd, s);
    if (weights)
        printf("Loaded weights from %s (%d tensors)\n", weights, n_loaded);
    return 0;
}
