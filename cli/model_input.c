/* model_input.c - opening a saved model for the commands that run one: imgclass model
 * files, and Keras's own files with the options that stand in for the meta they lack. The
 * library's predictor (imgclass/infer.h) checks model and meta and reads the images. See
 * model_input.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_input.h"

void ic_cli_model_close(ic_cli_model *cm)
{
    if (!cm)
        return;
    ic_predictor_free(cm->pred); /* and its model */
    memset(cm, 0, sizeof *cm);
}

/* ---- models saved by Keras itself ---- */

int ic_cli_parse_rescale(const char *s, void *dst)
{
    double *out = dst;
    if (!strcmp(s, "none")) {
        *out = 0;
        return 0;
    }
    char *end;
    double a = strtod(s, &end), b = 1;
    if (end == s)
        return -1;
    if (*end == '/') {
        const char *d = end + 1;
        b = strtod(d, &end);
        if (end == d || b == 0)
            return -1;
    }
    if (*end || !(a / b >= 0) || a / b > 1e30)
        return -1;
    *out = a / b;
    return 0;
}

static int parse_preprocess(const char *v, void *dst)
{
    return ic_preprocess_parse(v, dst) != IC_OK;
}

void ic_cli_keras_table(ic_cli_keras_opts *ko, ic_cli_opt *t)
{
    const ic_cli_opt opts[IC_CLI_KERAS_OPTS] = {
        {"--config", IC_CLI_STR, .dst = &ko->config, .missing = "%s needs a value"},
        {"--weights", IC_CLI_STR, .dst = &ko->weights, .missing = "%s needs a value"},
        {"--classes", IC_CLI_STR, .dst = &ko->classes, .missing = "%s needs a value"},
        {"--rescale", IC_CLI_PARSE, .dst = &ko->rescale, .parse = ic_cli_parse_rescale,
         .seen = &ko->rescale_given, .missing = "%s needs a value",
         .err = "--rescale needs a factor like 1/255 or 0.5, or none, got '%s'"},
        {"--preprocess", IC_CLI_PARSE, .dst = &ko->preprocess, .parse = parse_preprocess,
         .seen = &ko->preprocess_given, .missing = "%s needs a value",
         .err = "--preprocess must be none, caffe, tf or torch, got '%s'"},
        {.kind = IC_CLI_END},
    };
    memcpy(t, opts, sizeof opts);
}

void ic_cli_keras_help(FILE *fp)
{
    fprintf(fp,
            "Models saved by Keras itself (model.save / save_model_hdf5, Keras 2.0 to 3) record\n"
            "no class names or preprocessing; give them here:\n"
            "  --config MODEL.json   the architecture (model.to_json()) for a weights-only file\n"
            "                        (given with --weights FILE or as the model argument)\n"
            "  --weights FILE        the weights file (save_weights) with --config\n"
            "  --classes a,b,...     class names (default class_0, class_1, ...)\n"
            "  --rescale F           multiply pixels by F (e.g. 1/255; default none)\n"
            "  --preprocess MODE     none (default), caffe, tf or torch\n");
}

int ic_cli_model_open_ex(const char *cmd, const char *path, const ic_cli_keras_opts *ko,
                         const char *class_dir, const ic_precision *prec, ic_cli_model *out)
{
    memset(out, 0, sizeof *out);
    ic_model_source src = {.path = path, .class_dir = class_dir};
    if (ko) {
        src.config = ko->config;
        src.classes = ko->classes;
        src.rescale = ko->rescale_given ? (float)ko->rescale : 0.f;
        src.preprocess = ko->preprocess_given ? ko->preprocess : IC_PREPROCESS_NONE;
        if (ko->config && ko->weights)
            src.path = ko->weights;
        if (ko->config && !src.path)
            return ic_cli_usage_error(cmd, "--config needs the weights file (--weights FILE)");
    }
    int is_keras = 0;
    if (ko && !ko->config &&
        (ko->classes || ko->rescale_given || ko->preprocess_given || ko->weights) &&
        ic_model_file_is_keras(path, &is_keras) == IC_OK && !is_keras)
        fprintf(stderr,
                "imgclass %s: note: --classes, --rescale, --preprocess and --weights are for "
                "Keras model files; %s records its own\n",
                cmd, path);
    out->path = src.path;
    ic_status s = ic_predictor_open(&out->pred, &src);
    if (s == IC_ERR_FORMAT && strstr(ic_errmsg(), "a weights-only HDF5 file")) {
        /* the library's advice, in this command's options */
        fprintf(stderr, "imgclass %s: %s: not an imgclass model file (a weights-only HDF5 file: "
                "give the architecture with --config MODEL.json)\n", cmd, path);
        return 1;
    }
    if (s == IC_ERR_INVALID && src.classes && !strncmp(ic_errmsg(), "classes '", 9)) {
        fprintf(stderr, "imgclass %s: --%s\n", cmd, ic_errmsg()); /* names the option */
        return 1;
    }
    if (s == IC_ERR_INVALID && !src.classes && class_dir && strstr(ic_errmsg(), "class folder")) {
        fprintf(stderr, "imgclass %s: %s (give --classes to name them)\n", cmd, ic_errmsg());
        return 1;
    }
    if (s)
        return ic_cli_fail(cmd, s);
    const ic_model_meta *pm = ic_predictor_meta(out->pred);
    out->model = ic_predictor_model(out->pred);
    out->meta = pm;
    out->keras = ic_predictor_is_keras(out->pred);
    out->h = pm->target_h;
    out->w = pm->target_w;
    out->c = pm->grayscale ? 1 : 3;
    out->n_out = ic_predictor_outputs(out->pred);
    out->binary = out->n_out == 1;
    s = prec ? ic_cli_set_precision(out->model, *prec) : IC_OK;
    return s ? ic_cli_fail(cmd, s) : 0;
}

void ic_cli_json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(fp, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", fp);
        else if (*c == '\t')
            fputs("\\t", fp);
        else if (*c < 0x20)
            fprintf(fp, "\\u%04x", *c);
        else
            fputc(*c, fp);
    }
    fputc('"', fp);
}
