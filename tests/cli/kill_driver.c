/* kill_driver.c - a helper (not a test) for tests/cli/test_kill_checkpoint.sh, found
 * through $IC_KILL_DRIVER. It rewrites a model file in a loop so that the shell test can
 * SIGKILL it at random moments, mostly in the middle of a save.
 *
 *   kill_driver init  MODEL.h5   builds the small convnet (48x48), trains a step, saves
 *   kill_driver loop  MODEL.h5   loads MODEL.h5, prints "ready" (the load succeeded),
 *                                then forever: save, one training step
 *   kill_driver check MODEL.h5   loads MODEL.h5 (weights must be finite), prints the number
 *                                of leftover temporary files ".MODEL.h5.tmp.*" next to it
 * Exit status: 0 = fine, 2 = the model did not load or save (message on stderr). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgclass/imgclass.h"

static int fail(const char *what)
{
    fprintf(stderr, "kill_driver: %s: %s: %s\n", what, ic_status_str(IC_ERR_IO), ic_errmsg());
    return 2;
}

static int temps_next_to(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096], prefix[512];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    snprintf(prefix, sizeof prefix, ".%.400s.tmp.", slash ? slash + 1 : path);
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kill_driver init|loop|check MODEL.h5\n");
        return 1;
    }
    const char *mode = argv[1], *path = argv[2];
    ic_set_num_threads(1);
    ic_set_random_seed(5);
    ic_model *m = NULL;
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    if (!strcmp(mode, "init")) {
        if (ic_app_smallcnn(&m, 48, 48, 3, 0.5f, 2))
            return fail("build");
        ic_compile_opts c = ic_compile_opts_default();
        if (ic_model_compile(m, &c))
            return fail("compile");
        meta.target_h = meta.target_w = 48;
        meta.rescale = 1.0f / 255;
        meta.n_classes = 2;
        static char cats[] = "cats", dogs[] = "dogs";
        static char *names[2] = {cats, dogs};
        meta.class_names = names;
    } else if (ic_model_load(&m, path, &meta)) {
        return fail("load");
    }
    if (!strcmp(mode, "check")) {
        for (int i = 0; i < ic_model_num_weights(m); i++) {
            const ic_tensor *t = ic_model_weight(m, i, NULL);
            const float *d = ic_tensor_cdata(t);
            for (int64_t k = 0; k < ic_tensor_numel(t); k++)
                if (!isfinite(d[k])) {
                    fprintf(stderr, "kill_driver: %s: weight %d is not finite\n", path, i);
                    return 2;
                }
        }
        printf("%d\n", temps_next_to(path));
        ic_model_free(m);
        ic_model_meta_free(&meta);
        return 0;
    }
    if (!strcmp(mode, "loop")) {
        printf("ready\n");
        fflush(stdout);
    }
    ic_tensor *x, *y;
    int64_t xs[4] = {2, 48, 48, 3}, ys[2] = {2, 1};
    if (ic_tensor_create(&x, 4, xs) || ic_tensor_create(&y, 2, ys))
        return fail("tensors");
    float *xd = ic_tensor_data(x);
    for (int64_t i = 0; i < ic_tensor_numel(x); i++)
        xd[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    ic_tensor_data(y)[0] = 0;
    ic_tensor_data(y)[1] = 1;
    /* loop saves first (the kill lands mostly in a save), then trains a step */
    for (long it = 0;; it++) {
        double loss, acc;
        if (it || !strcmp(mode, "init"))
            if (ic_model_train_on_batch(m, x, y, &loss, &acc))
                return fail("train_on_batch");
        if (ic_model_save(m, path, &meta, 1))
            return fail("save");
        if (!strcmp(mode, "init"))
            break;
    }
    ic_tensor_free(x);
    ic_tensor_free(y);
    ic_model_free(m);
    if (strcmp(mode, "init")) /* init's names are static */
        ic_model_meta_free(&meta);
    return 0;
}
