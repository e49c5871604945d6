/* train_resume.c - `--resume` for `imgclass train` and `imgclass finetune`: reads the
 * checkpoint record the library's engine wrote (OUT.ckpt.json: the run's position, and in
 * its extra part the command and the arguments of every invocation), checks that this
 * command line does not change the result, and says where the run continues. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_run.h"

typedef struct sig_item {
    const char *flag;
    char val[160];
} sig_item;

/* The options that change the result of a run, as "flag = value" pairs. */
static int signature(const tr_opts *o, sig_item *it)
{
    int n = 0;
#define ITEM(f, ...) (it[n].flag = (f), snprintf(it[n].val, sizeof it[n].val, __VA_ARGS__), n++)
    ITEM("--model", "%s", o->model ? o->model : "");
    ITEM("--base", "%s", o->base ? o->base : "");
    ITEM("--alpha", "%.9g", o->alpha);
    ITEM("--weights", "%s", o->weights ? o->weights : "(default)");
    ITEM("--head", "%ld", o->head);
    ITEM("--pooling", "%d", (int)o->pooling);
    ITEM("--freeze-base", "%s", o->freeze < 0 ? "(default)" : o->freeze ? "yes" : "no");
    ITEM("--dropout", "%.9g", o->dropout);
    ITEM("--cache-features", "%d", o->cache_features);
    ITEM("--unfreeze-from", "%s", o->unfreeze_from ? o->unfreeze_from : "");
    ITEM("--base-layer", "%s", o->base_layer ? o->base_layer : "");
    ITEM("--freeze-bn", "%s", o->freeze_bn < 0 ? "(default)" : o->freeze_bn ? "yes" : "no");
    ITEM("--target-size", "%lldx%lld", (long long)o->th, (long long)o->tw);
    ITEM("--preprocess", "%d", (int)o->preprocess);
    ITEM("--interpolation", "%d", (int)o->interpolation);
    ITEM("--rescale", "%.9g%s", o->rescale, o->rescale_given ? "" : " (default)");
    ic_image_data_generator g = ic_cli_aug_generator(&o->aug);
    ITEM("augmentation options", "%g %g %g %g %g %g %d %d %d %g", g.rotation_range,
         g.width_shift_range, g.height_shift_range, g.shear_range, g.zoom_lo, g.zoom_hi,
         g.horizontal_flip, g.vertical_flip, (int)g.fill_mode, g.cval);
    ITEM("--optimizer", "%d", (int)o->opt);
    ITEM("--lr", "%.9g", o->lr);
    ITEM("--steps-per-epoch", "%ld", o->steps);
    ITEM("--validation-steps", "%ld", o->vsteps);
    ITEM("--batch-size", "%ld", o->batch);
    ITEM("--seed", "%llu", o->seed);
    ITEM("--save-best", "%d", (int)o->save_best);
#undef ITEM
    return n;
}

/* Parses one stored argument list (a JSON array of strings) into o. */
static int parse_stored(tr_opts *o, const cJSON *list)
{
    int n = cJSON_GetArraySize(list);
    char **av = calloc((size_t)n + 1, sizeof *av);
    if (!av)
        return 1;
    int k = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, list)
    {
        if (!cJSON_IsString(a)) {
            free(av);
            return 2;
        }
        av[k++] = a->valuestring;
    }
    int rc = tr_parse(o, k, av, 0);
    free(av);
    return rc;
}

int tr_resume_load(tr_opts *o, int argc, char **argv, ic_fit_record **recp)
{
    *recp = NULL;
    const char *cmd = o->cmd;
    char path[4096];
    tr_record_path(o->out, path, sizeof path);
    ic_fit_record *rec;
    ic_status s = ic_fit_record_read(path, &rec);
    if (s == IC_ERR_IO && !strncmp(ic_errmsg(), "cannot read", 11)) {
        fprintf(stderr,
                "imgclass %s: --resume: %s (it is written after the first epoch of a run with "
                "-o %s)\n",
                cmd, ic_errmsg(), o->out);
        return 1;
    }
    if (s) {
        fprintf(stderr, "imgclass %s: --resume: %s\n", cmd, ic_errmsg());
        return 1;
    }
    const char *extra = ic_fit_record_extra(rec);
    cJSON *root = extra ? cJSON_Parse(extra) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "command");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");
    int rc = 0;
    if (!cJSON_IsString(c) || !cJSON_IsArray(args)) {
        fprintf(stderr, "imgclass %s: --resume: %s was not written by 'imgclass train' or "
                        "'imgclass finetune'\n",
                cmd, path);
        rc = 1;
    } else if (strcmp(c->valuestring, cmd)) {
        fprintf(stderr,
                "imgclass %s: --resume: %s records an 'imgclass %s' run; resume it with "
                "'imgclass %s ... --resume'\n",
                cmd, path, c->valuestring, c->valuestring);
        rc = 1;
    }
    /* the run's options: every stored invocation in order, then this command line */
    tr_opts so;
    tr_opts_init(&so, o->kind);
    const cJSON *list, *stored = rc ? NULL : args;
    cJSON_ArrayForEach(list, stored)
    {
        if (!cJSON_IsArray(list) || parse_stored(&so, list)) {
            fprintf(stderr, "imgclass %s: --resume: the arguments stored in %s do not parse\n", cmd,
                    path);
            rc = 1;
            break;
        }
    }
    /* the parsed options point into root's strings: it lives as long as they do */
    so.stored = root;
    tr_opts mo = so;
    if (!rc && (rc = tr_parse(&mo, argc, argv, 1)))
        rc = rc < 0 ? 2 : rc;
    sig_item a[32], b[32];
    int na = rc ? 0 : signature(&so, a), nb = rc ? 0 : signature(&mo, b);
    for (int i = 0; i < na && i < nb && !rc; i++)
        if (strcmp(a[i].val, b[i].val)) {
            fprintf(stderr,
                    "imgclass %s: --resume: %s differs from the checkpointed run (%s there, %s "
                    "here): a resumed run must use the same settings (only --epochs, "
                    "--early-stopping, --workers, --threads, --precision and DATA_DIR may "
                    "change)\n",
                    cmd, a[i].flag, a[i].val, b[i].val);
            rc = 2;
        }
    if (rc) {
        cJSON_Delete(root);
        ic_fit_record_free(rec);
        return rc;
    }
    mo.resume = 1;
    *o = mo;
    int done = ic_fit_record_epochs_done(rec);
    int64_t step = ic_fit_record_step(rec);
    const char *model = ic_fit_record_model(rec);
    if (ic_fit_record_stopped(rec)) {
        printf("The run in %s stopped early after epoch %d (--early-stopping); nothing to "
               "resume.\n",
               path, done);
        ic_fit_record_free(rec);
        return 0;
    }
    if (done >= o->epochs && step == 0) {
        printf("%s already holds %d epoch%s (--epochs %ld); give a larger --epochs to train "
               "further.\n",
               model, done, done == 1 ? "" : "s", o->epochs);
        ic_fit_record_free(rec);
        return 0;
    }
    if (done >= o->epochs) {
        fprintf(stderr,
                "imgclass %s: --resume: --epochs %ld is not larger than the %d epochs "
                "the checkpoint has started\n",
                cmd, o->epochs, done + 1);
        ic_fit_record_free(rec);
        return 2;
    }
    printf("Resuming from %s: %d epoch%s done", model, done, done == 1 ? "" : "s");
    if (step)
        printf(", %lld steps into epoch %d", (long long)step, done + 1);
    printf("\n");
    *recp = rec;
    return 0;
}

void tr_opts_release(tr_opts *o)
{
    cJSON_Delete(o->stored);
    o->stored = NULL;
}
