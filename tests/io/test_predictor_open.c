/* test_predictor_open.c - ic_predictor_open (infer.h): model files opened for inference.
 *
 * - Keras files (tests/fixtures/keras): a full-model file with its input size, numbered
 *   classes, the source's rescale and preprocess in the meta; class names from a comma list
 *   and from a folder's sorted class folders (hidden entries and files skipped); a --config
 *   JSON with its weights file (one sigmoid unit: two classes).
 * - An imgclass model file with its own meta, and the same outputs as a predictor created
 *   on the same model by hand.
 * - Errors: class lists and folders that do not match the outputs, a weights-only file, a
 *   file that is not HDF5, a missing file, no source.
 */
#include <unistd.h>

#include "harness.h"

#define FIX IC_SOURCE_DIR "/tests/fixtures/keras/"

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[4][1280];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void keras_files(void)
{
    ic_predictor *p = NULL;
    ic_model_source src = {.path = FIX "k20_seq.h5", .rescale = 1.f / 255,
                           .preprocess = IC_PREPROCESS_CAFFE};
    OK(ic_predictor_open(&p, &src));
    const ic_model_meta *m = ic_predictor_meta(p);
    CHECK(ic_predictor_is_keras(p) == 1);
    CHECK(ic_predictor_model(p) != NULL);
    CHECK(m->target_h == 8 && m->target_w == 8 && !m->grayscale);
    CHECK(m->rescale == 1.f / 255 && m->preprocess == IC_PREPROCESS_CAFFE);
    CHECK(ic_predictor_outputs(p) == 3);
    CHECK(m->n_classes == 3 && !strcmp(m->class_names[0], "class_0") &&
          !strcmp(m->class_names[2], "class_2"));
    ic_predictor_free(p);

    src = (ic_model_source){.path = FIX "k20_seq.h5", .classes = "x,y,z"};
    OK(ic_predictor_open(&p, &src));
    m = ic_predictor_meta(p);
    CHECK(m->n_classes == 3 && !strcmp(m->class_names[0], "x") &&
          !strcmp(m->class_names[1], "y") && !strcmp(m->class_names[2], "z"));
    CHECK(m->rescale == 0 && m->preprocess == IC_PREPROCESS_NONE);
    ic_predictor_free(p);

    /* the folder's class folders, sorted; hidden entries and plain files are not classes */
    const char *dirs[] = {"cls", "cls/mid", "cls/dark", "cls/light", "cls/.hidden"};
    for (int i = 0; i < 5; i++)
        mkdir(tpath(dirs[i]), 0777);
    FILE *f = fopen(tpath("cls/notes.txt"), "w");
    if (f)
        fclose(f);
    src = (ic_model_source){.path = FIX "k20_seq.h5", .class_dir = tpath("cls")};
    OK(ic_predictor_open(&p, &src));
    m = ic_predictor_meta(p);
    CHECK(m->n_classes == 3 && !strcmp(m->class_names[0], "dark") &&
          !strcmp(m->class_names[1], "light") && !strcmp(m->class_names[2], "mid"));
    ic_predictor_free(p);
    /* the list wins over the folder */
    src.classes = "a,b,c";
    OK(ic_predictor_open(&p, &src));
    CHECK(!strcmp(ic_predictor_meta(p)->class_names[0], "a"));
    ic_predictor_free(p);

    src = (ic_model_source){.path = FIX "wonly_weights.h5", .config = FIX "wonly.json"};
    OK(ic_predictor_open(&p, &src));
    m = ic_predictor_meta(p);
    CHECK(ic_predictor_is_keras(p) && ic_predictor_outputs(p) == 1);
    CHECK(m->n_classes == 2 && !strcmp(m->class_names[1], "class_1"));
    ic_predictor_free(p);
}

static void imgclass_file(void)
{
    ic_model *net;
    OK(ic_model_create(&net, "tiny", 1));
    int64_t shape[3] = {6, 5, 1};
    int node;
    OK(ic_model_input(net, 3, shape, NULL, &node));
    ADD(net, ic_layer_flatten(&l_, NULL));
    ADD(net, ic_layer_dense(&l_, 2, IC_ACT_SOFTMAX, 1, NULL));
    char *names[2] = {"cat", "dog"};
    ic_model_meta meta = {.n_classes = 2, .class_names = names, .target_h = 6, .target_w = 5,
                          .grayscale = 1, .rescale = 0.5f, .preprocess = IC_PREPROCESS_NONE};
    OK(ic_model_save(net, tpath("tiny.h5"), &meta, 0));

    ic_predictor *p = NULL, *q = NULL;
    ic_model_source src = {.path = tpath("tiny.h5"), .classes = "ignored,here",
                           .rescale = 9};
    OK(ic_predictor_open(&p, &src));
    const ic_model_meta *m = ic_predictor_meta(p);
    CHECK(ic_predictor_is_keras(p) == 0);
    CHECK(m->n_classes == 2 && !strcmp(m->class_names[0], "cat") &&
          !strcmp(m->class_names[1], "dog"));
    CHECK(m->rescale == 0.5f && m->grayscale && m->target_h == 6 && m->target_w == 5);
    CHECK(ic_predictor_image_size(p) == 30);
    /* the opened model computes what the saved one does */
    OK(ic_predictor_create(&q, net, &meta, "tiny"));
    ic_tensor *x, *a, *b;
    int64_t xs[4] = {1, 6, 5, 1};
    OK(ic_tensor_create(&x, 4, xs));
    for (int i = 0; i < 30; i++)
        ic_tensor_data(x)[i] = (float)(i % 7) / 7;
    OK(ic_model_forward(ic_predictor_model(p), x, &a));
    OK(ic_model_forward(ic_predictor_model(q), x, &b));
    CHECK(t_allclose("forward", ic_tensor_cdata(a), ic_tensor_cdata(b), 2, 0, 0));
    ic_tensor_free(x);
    ic_tensor_free(a);
    ic_tensor_free(b);
    ic_predictor_free(q);
    ic_predictor_free(p);
    ic_model_free(net);
}

static void errors(void)
{
    ic_predictor *p = (ic_predictor *)1;
    ic_model_source src = {.path = FIX "k20_seq.h5", .classes = "x,y"};
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_INVALID,
               "classes 'x,y' must name the 3 classes of " FIX "k20_seq.h5");
    CHECK(p == NULL);
    src.classes = "x,,z";
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_INVALID, "must name the 3 classes");
    src.classes = "x,y,z,w";
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_INVALID, "must name the 3 classes");
    src.classes = "x,y,";
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_INVALID, "must name the 3 classes");
    mkdir(tpath("two"), 0777);
    mkdir(tpath("two/a"), 0777);
    mkdir(tpath("two/b"), 0777);
    src = (ic_model_source){.path = FIX "k20_seq.h5", .class_dir = tpath("two")};
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_INVALID,
               "two has 2 class folders but the model " FIX "k20_seq.h5 has 3 classes");
    src = (ic_model_source){.path = FIX "wonly_weights.h5"};
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_FORMAT,
               "wonly_weights.h5: not an imgclass model file (a weights-only HDF5 file");
    src.path = FIX "wonly.json";
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_FORMAT,
               "wonly.json: not an imgclass model file (not an HDF5 file)");
    src.path = tpath("missing.h5");
    EXPECT_ERR(ic_predictor_open(&p, &src), IC_ERR_NOT_FOUND, "missing.h5: No such file");
    EXPECT_ERR(ic_predictor_open(&p, NULL), IC_ERR_INVALID, "no model file given");
    CHECK(p == NULL);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ic_test_predictor_open_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    keras_files();
    imgclass_file();
    errors();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return t_finish();
}
