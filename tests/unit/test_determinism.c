/* test_determinism.c - the same seed and thread count give bit-identical weights: the
 * small convnet (48x48) is built and trained twice from seed 7 on a generated PNG dataset
 * through ic_flow_from_directory with the book's augmentation (2 decode threads) and
 * dropout, 2 epochs of 3 steps with validation; all weights must be equal byte for byte
 * (memcmp), and so must the losses. A different seed must give different weights.
 * In one process the automatic layer names must restart too (ic_reset_uids, Keras's
 * K.clear_session()): dropout masks are keyed by seed and layer name.
 * (Other thread counts may change oneDNN's summation order: see README "Reliability".) */
#include <unistd.h>

#include "harness.h"

static char g_dir[64];

static void make_dataset(void)
{
    const char *cls[2] = {"cats", "dogs"};
    char p[256];
    for (int c = 0; c < 2; c++)
        for (const char *sub = "train"; sub; sub = strcmp(sub, "train") ? NULL : "val") {
            snprintf(p, sizeof p, "%s/%s", g_dir, sub);
            mkdir(p, 0777);
            snprintf(p, sizeof p, "%s/%s/%s", g_dir, sub, cls[c]);
            mkdir(p, 0777);
            for (int i = 0; i < 6; i++) {
                uint8_t px[40 * 44 * 3];
                for (int k = 0; k < 40 * 44 * 3; k++)
                    px[k] = (uint8_t)((k % 3 == c ? 200 : 40) + ((k * 13 + i * 7) % 50));
                ic_image img = {40, 44, 3, px};
                snprintf(p, sizeof p, "%s/%s/%s/%d.png", g_dir, sub, cls[c], i);
                OK(ic_image_save_png(&img, p));
            }
        }
}

/* Trains from seed; returns the model (caller frees) and the final loss. */
static ic_model *train(uint64_t seed, double *final_loss)
{
    ic_set_random_seed(seed);
    ic_reset_uids(); /* same layer names as a fresh process: dropout masks hash the name */
    ic_model *m;
    OK(ic_app_smallcnn(&m, 48, 48, 3, 0.5f, 2));
    ic_compile_opts c = ic_compile_opts_default();
    c.optimizer.lr = 1e-3f;
    OK(ic_model_compile(m, &c));
    ic_image_data_generator g = ic_image_data_generator_book();
    ic_image_data_generator gv = ic_image_data_generator_default();
    gv.rescale = 1.0f / 255;
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = 48;
    o.class_mode = IC_CLASS_BINARY;
    o.batch_size = 4;
    o.seed = seed;
    o.has_seed = 1;
    o.threads = 2;
    ic_dir_iterator *tr, *va;
    char p[256];
    snprintf(p, sizeof p, "%s/train", g_dir);
    OK(ic_flow_from_directory(&tr, p, &g, &o));
    snprintf(p, sizeof p, "%s/val", g_dir);
    o.shuffle = 0;
    OK(ic_flow_from_directory(&va, p, &gv, &o));
    ic_batch_source ts = ic_dir_iterator_source(tr), vs = ic_dir_iterator_source(va);
    ic_fit_opts fo = ic_fit_opts_default();
    fo.epochs = 2;
    ic_history *h = NULL;
    OK(ic_model_fit(m, &fo, &ts, &vs, &h));
    const double *loss = ic_history_metric(h, "loss");
    *final_loss = loss ? loss[1] : NAN;
    ic_history_free(h);
    ic_dir_iterator_free(tr);
    ic_dir_iterator_free(va);
    return m;
}

static int same_weights(const ic_model *a, const ic_model *b)
{
    int n = ic_model_num_weights(a);
    if (n != ic_model_num_weights(b))
        return 0;
    for (int i = 0; i < n; i++) {
        const ic_tensor *x = ic_model_weight(a, i, NULL), *y = ic_model_weight(b, i, NULL);
        if (ic_tensor_numel(x) != ic_tensor_numel(y) ||
            memcmp(ic_tensor_cdata(x), ic_tensor_cdata(y),
                   (size_t)ic_tensor_numel(x) * sizeof(float)))
            return 0;
    }
    return 1;
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_determinism.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    ic_set_num_threads(2);
    make_dataset();
    double l1, l2, l3;
    ic_model *a = train(7, &l1);
    ic_model *b = train(7, &l2);
    ic_model *c = train(8, &l3);
    CHECKF(same_weights(a, b), "two runs with seed 7 and 2 threads gave different weights");
    CHECKF(memcmp(&l1, &l2, sizeof l1) == 0, "losses differ: %.17g vs %.17g", l1, l2);
    CHECKF(!same_weights(a, c), "seeds 7 and 8 gave the same weights");
    CHECK(isfinite(l1));
    printf("final loss %.17g (seed 7, twice), %.17g (seed 8)\n", l1, l3);
    ic_model_free(a);
    ic_model_free(b);
    ic_model_free(c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return t_finish();
}
