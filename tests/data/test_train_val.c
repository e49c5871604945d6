/* test_train_val.c - ic_flow_train_val (data.h) on small PNG trees in a temporary folder:
 * the classes of train/ (sorted, or an explicit list) imposed on validation/, labels 0/1 for
 * two classes and one-hot for more, the training shuffle flag, and the errors: missing
 * folders (naming which), one class, no class folders, an empty class folder. */
#include <unistd.h>

#include "harness.h"

static char g_root[256];

static const char *P(const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_root, rel);
    return buf[k];
}

/* n 6x6 PNGs in rel (made with its parents), each pixel value v. */
static void images(const char *rel, int n, uint8_t v)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", P(rel));
    for (char *q = p + strlen(g_root) + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(p, 0777);
            *q = '/';
        }
    mkdir(p, 0777);
    uint8_t px[6 * 6 * 3];
    memset(px, v, sizeof px);
    ic_image img = {6, 6, 3, px};
    for (int i = 0; i < n; i++) {
        char f[1100];
        snprintf(f, sizeof f, "%s/%d.png", p, i);
        OK(ic_image_save_png(&img, f));
    }
}

static ic_flow_opts opts(void)
{
    ic_flow_opts f = ic_flow_opts_default();
    f.target_h = f.target_w = 6;
    f.batch_size = 4;
    f.seed = 3;
    f.threads = 1;
    return f;
}

/* The label columns of the first batch, and the class of its first row. */
static int label_cols(ic_dir_iterator *it, int *first)
{
    ic_batch_source src = ic_dir_iterator_source(it);
    const ic_tensor *x, *y;
    OK(src.ops->next(src.self, &x, &y));
    int cols = (int)ic_tensor_dim(y, 1);
    const float *yd = ic_tensor_cdata(y);
    *first = 0;
    if (cols == 1)
        *first = (int)yd[0];
    else
        for (int k = 0; k < cols; k++)
            if (yd[k] == 1)
                *first = k;
    return cols;
}

int main(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/ic_test_train_val_XXXXXX");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    ic_image_data_generator g = ic_image_data_generator_default();
    ic_flow_opts f = opts();
    ic_train_val d;

    /* two classes: 0/1 labels, the same class names on both sides */
    images("two/train/cats", 3, 10);
    images("two/train/dogs", 5, 200);
    images("two/validation/cats", 2, 10);
    images("two/validation/dogs", 2, 200);
    OK(ic_flow_train_val(&d, P("two"), &g, &g, &f));
    CHECK(d.n_classes == 2);
    CHECK(ic_dir_iterator_samples(d.train) == 8 && ic_dir_iterator_samples(d.val) == 4);
    CHECK(!strcmp(ic_dir_iterator_class_name(d.val, 1), "dogs"));
    int first;
    CHECK(label_cols(d.train, &first) == 1);
    CHECK(label_cols(d.val, &first) == 1);
    ic_train_val_free(&d);
    CHECK(d.train == NULL && d.val == NULL && d.n_classes == 0);

    /* three classes: one-hot; validation in train's order even with an extra-sorted name */
    images("three/train/b", 2, 50);
    images("three/train/a", 2, 10);
    images("three/train/c", 2, 90);
    images("three/validation/a", 1, 10);
    images("three/validation/b", 1, 50);
    images("three/validation/c", 1, 90);
    f.shuffle = 0; /* training in order: its first row is class a */
    OK(ic_flow_train_val(&d, P("three"), &g, &g, &f));
    CHECK(d.n_classes == 3);
    CHECK(label_cols(d.train, &first) == 3 && first == 0);
    CHECK(label_cols(d.val, &first) == 3);
    CHECK(!strcmp(ic_dir_iterator_class_name(d.val, 0), "a") &&
          !strcmp(ic_dir_iterator_class_name(d.val, 2), "c"));
    ic_train_val_free(&d);

    /* an explicit order: c first */
    const char *order[3] = {"c", "a", "b"};
    f.classes = order;
    f.n_classes = 3;
    OK(ic_flow_train_val(&d, P("three"), &g, &g, &f));
    CHECK(label_cols(d.train, &first) == 3 && first == 0); /* c's images come first */
    CHECK(!strcmp(ic_dir_iterator_class_name(d.val, 0), "c"));
    ic_train_val_free(&d);
    f = opts();

    /* errors */
    EXPECT_ERR(ic_flow_train_val(&d, P("nodata"), &g, &g, &f), IC_ERR_NOT_FOUND,
               "nodata: no such directory");
    images("half/train/a", 1, 0);
    EXPECT_ERR(ic_flow_train_val(&d, P("half"), &g, &g, &f), IC_ERR_NOT_FOUND,
               "half/validation: no such directory (");
    CHECK(strstr(ic_errmsg(), "half must hold train/ and validation/") != NULL);
    images("one/train/a", 2, 0);
    images("one/validation/a", 2, 0);
    EXPECT_ERR(ic_flow_train_val(&d, P("one"), &g, &g, &f), IC_ERR_INVALID,
               "one/train has 1 class folder; a classifier needs at least 2");
    CHECK(d.train == NULL && d.val == NULL);
    /* a train/ without class folders */
    images("nocls/train", 0, 0);
    images("nocls/validation", 0, 0);
    EXPECT_ERR(ic_flow_train_val(&d, P("nocls"), &g, &g, &f), IC_ERR_NOT_FOUND,
               "no class subfolders in");
    CHECK(strstr(ic_errmsg(), "nocls/train") != NULL);
    CHECK(d.train == NULL && d.val == NULL);
    /* an empty class folder is the iterator's error, passed on */
    images("empty/train/a", 1, 0);
    images("empty/train/b", 1, 0);
    images("empty/validation/a", 0, 0);
    images("empty/validation/b", 1, 0);
    EXPECT_ERR(ic_flow_train_val(&d, P("empty"), &g, &g, &f), IC_ERR_NOT_FOUND,
               "empty/validation/a has no images");
    CHECK(d.train == NULL && d.val == NULL);
    EXPECT_ERR(ic_flow_train_val(&d, NULL, &g, &g, &f), IC_ERR_INVALID, "NULL folder");

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_root);
    return t_finish();
}
