/* train_callbacks.c - a training run through the C API, as `imgclass train` runs it: the
 * book's small convnet on a folder of photos with on-the-fly augmentation, Keras's callbacks
 * (EarlyStopping with restore_best_weights, ModelCheckpoint keeping the best epoch,
 * TerminateOnNaN, the history files, BackupAndRestore), and Ctrl-C: the run stops at the next
 * step with a checkpoint, and running the same command again continues it to the result an
 * uninterrupted run gives, bit for bit. Built by `make build` and run by the tests.
 *
 *   train_callbacks DATA_DIR OUT_DIR [--epochs N] [--size PX] [--stop-after STEPS]
 *
 * DATA_DIR holds train/ and validation/, one subfolder per class (two classes). OUT_DIR
 * receives model.h5 (the final model), best.h5 (the best val_loss epoch), history.csv and
 * history.json, and while the run is unfinished checkpoint.h5 + checkpoint.json.
 * --stop-after STEPS raises the same flag as Ctrl-C after that many training steps.
 *
 *   cc train_callbacks.c $(pkg-config --cflags --libs imgclass) -o train_callbacks
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <imgclass/imgclass.h>

#define TRY(call)                                                                          \
    do {                                                                                   \
        ic_status s_ = (call);                                                             \
        if (s_ != IC_OK) {                                                                 \
            fprintf(stderr, "train_callbacks: %s\n", ic_errmsg());                         \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

static volatile sig_atomic_t cancel;
static void on_signal(int sig)
{
    (void)sig;
    cancel = 1; /* ic_fit stops after the running step, with a checkpoint */
}

/* A callback of our own: one line per epoch, and the --stop-after trigger. */
typedef struct progress {
    long stop_after, steps;
} progress;

static ic_status progress_step(void *self, ic_fit *f, const ic_fit_logs *l)
{
    progress *p = self;
    (void)f, (void)l;
    if (p->stop_after > 0 && ++p->steps == p->stop_after)
        raise(SIGINT);
    return IC_OK;
}

static ic_status progress_epoch(void *self, ic_fit *f, const ic_fit_logs *l)
{
    (void)self, (void)f;
    printf("Epoch %d/%d - loss: %.4f - acc: %.4f - val_loss: %.4f - val_acc: %.4f\n", l->epoch,
           l->epochs, l->loss, l->acc, l->val.loss, l->val.acc);
    return IC_OK;
}

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: train_callbacks DATA_DIR OUT_DIR [--epochs N] [--size PX] "
                        "[--stop-after STEPS]\n");
        return 2;
    }
    const char *data = argv[1], *out = argv[2];
    int epochs = 8;
    long size = 64, stop_after = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--stop-after"))
            stop_after = atol(argv[i + 1]);
    }
    mkdir(out, 0777);
    char model_path[1024], best_path[1024], ckpt_path[1024], record_path[1024], csv[1024],
        json[1024], dir[1024];
    join(model_path, sizeof model_path, out, "model.h5");
    join(best_path, sizeof best_path, out, "best.h5");
    join(ckpt_path, sizeof ckpt_path, out, "checkpoint.h5");
    join(record_path, sizeof record_path, out, "checkpoint.json");
    join(csv, sizeof csv, out, "history.csv");
    join(json, sizeof json, out, "history.json");

    /* Dropout's masks derive from the seed, so a resumed run sets the same one. */
    ic_set_random_seed(42);

    /* A checkpoint record from an interrupted run: continue it; else start afresh. */
    ic_fit_record *rec = NULL;
    ic_model *m;
    struct stat st;
    if (!stat(record_path, &st)) {
        TRY(ic_fit_record_read(record_path, &rec));
        TRY(ic_model_load(&m, ic_fit_record_model(rec), NULL)); /* with the optimizer state */
        printf("Resuming: %d epochs done, %lld steps into the next\n",
               ic_fit_record_epochs_done(rec), (long long)ic_fit_record_step(rec));
    } else {
        TRY(ic_app_smallcnn(&m, size, size, 3, 0.5f, 2));
        ic_compile_opts c = ic_compile_opts_default(); /* binary crossentropy, accuracy */
        c.optimizer = ic_optimizer_opts_default(IC_OPT_RMSPROP);
        c.optimizer.lr = 1e-4f;
        TRY(ic_model_compile(m, &c));
    }

    /* train_datagen <- image_data_generator(rescale = 1/255, rotation_range = 40, ...) */
    ic_image_data_generator aug = ic_image_data_generator_default();
    aug.rescale = 1.0f / 255;
    aug.rotation_range = 40;
    aug.width_shift_range = aug.height_shift_range = 0.2f;
    aug.shear_range = 0.2f;
    aug.zoom_lo = 0.8f, aug.zoom_hi = 1.2f;
    aug.horizontal_flip = 1;
    ic_image_data_generator plain = ic_image_data_generator_default();
    plain.rescale = 1.0f / 255;
    ic_flow_opts fo = ic_flow_opts_default();
    fo.target_h = fo.target_w = size;
    fo.class_mode = IC_CLASS_BINARY;
    fo.batch_size = 8;
    fo.seed = 1, fo.has_seed = 1; /* the batches of a resumed run are the same ones */
    ic_dir_iterator *tr, *va;
    join(dir, sizeof dir, data, "train");
    TRY(ic_flow_from_directory(&tr, dir, &aug, &fo));
    join(dir, sizeof dir, data, "validation");
    TRY(ic_flow_from_directory(&va, dir, &plain, &fo));
    ic_batch_source train = ic_dir_iterator_source(tr), val = ic_dir_iterator_source(va);

    ic_fit_opts o = ic_fit_opts_default();
    o.epochs = epochs;
    o.cancel = &cancel;
    ic_fit *f;
    TRY(ic_fit_create(&f, m, &train, &val, &o));
    progress prog = {stop_after, 0};
    ic_callback cb = {.name = "progress", .self = &prog, .on_step_end = progress_step,
                      .on_epoch_end = progress_epoch};
    int best_epoch = 0, stopped_at = 0;
    double best = 0;
    /* Keras's set: ModelCheckpoint(save_best_only), EarlyStopping(patience = 3,
     * restore_best_weights), TerminateOnNaN, CSVLogger and BackupAndRestore, in the order
     * they must run (the record last: it holds the others' state) */
    ic_fit_callbacks cbs = {.history_csv = csv, .history_json = json,
                            .monitor = IC_MONITOR_VAL_LOSS, .best_path = best_path,
                            .patience = 3, .restore_best_weights = 1,
                            .ckpt = {.path = ckpt_path}, .record_path = record_path,
                            .best_epoch = &best_epoch, .best = &best, .stopped_at = &stopped_at};
    TRY(ic_fit_add_callbacks(f, &cbs, &cb, 1));
    if (rec) {
        TRY(ic_fit_restore(f, rec));
        ic_fit_record_free(rec);
    }

    signal(SIGINT, on_signal);
    ic_status s = ic_fit_run(f);
    int rc = 0;
    if (s == IC_ERR_CANCELLED) {
        printf("%s; run the same command again to continue\n", ic_errmsg());
        rc = 130;
    } else if (s) {
        fprintf(stderr, "train_callbacks: %s\n", ic_errmsg());
        rc = 1;
    } else {
        if (stopped_at)
            printf("Early stopping after epoch %d (weights of epoch %d restored)\n", stopped_at,
                   best_epoch);
        printf("Best val_loss %.4f at epoch %d (%s)\n", best, best_epoch, best_path);
        if (ic_model_save(m, model_path, NULL, 0)) {
            fprintf(stderr, "train_callbacks: %s\n", ic_errmsg());
            rc = 1;
        } else { /* finished: the checkpoint pair has done its job */
            remove(record_path);
            remove(ckpt_path);
        }
    }
    ic_fit_free(f);
    ic_dir_iterator_free(tr);
    ic_dir_iterator_free(va);
    ic_model_free(m);
    return rc;
}
