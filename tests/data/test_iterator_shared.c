/* test_iterator_shared.c - flow_from_directory over the book's real data in
 * ../shared/data/cats_and_dogs_small: the counts Keras prints, class indices, byte-order file
 * order, and one decoded batch as the book uses it (150x150, rescale 1/255, binary labels).
 * Skips (exit 77) when ../shared is absent. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static void check_split(const char *root, const char *split, int64_t want)
{
    char dir[4300], buf[128], msg[128];
    snprintf(dir, sizeof dir, "%s/data/cats_and_dogs_small/%s", root, split);
    ic_dir_iterator *it;
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = 150;
    o.batch_size = 20;
    o.class_mode = IC_CLASS_BINARY;
    OK(ic_flow_from_directory(&it, dir, NULL, &o));
    snprintf(msg, sizeof msg, "Found %lld images belonging to 2 classes.", (long long)want);
    CHECKF(!strcmp(ic_dir_iterator_found(it, buf, sizeof buf), msg), "%s: %s", split, buf);
    CHECK(ic_dir_iterator_num_classes(it) == 2);
    CHECK(!strcmp(ic_dir_iterator_class_name(it, 0), "cats"));
    CHECK(!strcmp(ic_dir_iterator_class_name(it, 1), "dogs"));
    CHECK(ic_dir_iterator_skipped(it) == 0);
    CHECK(ic_dir_iterator_label(it, 0) == 0 && ic_dir_iterator_label(it, want / 2 - 1) == 0);
    CHECK(ic_dir_iterator_label(it, want / 2) == 1 && ic_dir_iterator_label(it, want - 1) == 1);
    if (!strcmp(split, "train")) {
        /* Byte order, as Python's sorted(): cat.1, cat.10, cat.100, cat.1000, cat.101, ... */
        const char *first[4] = {"cats/cat.1.jpg", "cats/cat.10.jpg", "cats/cat.100.jpg",
                                "cats/cat.1000.jpg"};
        for (int i = 0; i < 4; i++) {
            const char *p = ic_dir_iterator_path(it, i);
            size_t lp = strlen(p), lf = strlen(first[i]);
            CHECKF(lp >= lf && !strcmp(p + lp - lf, first[i]), "sample %d: %s", i, p);
        }
        const char *p = ic_dir_iterator_path(it, 1000);
        CHECKF(strstr(p, "dogs/dog.1.jpg") != NULL, "sample 1000: %s", p);
    }
    ic_dir_iterator_free(it);
}

int main(void)
{
    const char *root = t_shared_dir();
    check_split(root, "train", 2000);
    check_split(root, "validation", 1000);
    check_split(root, "test", 1000);

    /* One batch as the book's validation generator gives it. */
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/data/cats_and_dogs_small/train", root);
    ic_image_data_generator g = ic_image_data_generator_default();
    g.rescale = 1.0f / 255;
    ic_flow_opts o = ic_flow_opts_default();
    o.target_h = o.target_w = 150;
    o.batch_size = 20;
    o.class_mode = IC_CLASS_BINARY;
    o.has_seed = 1;
    o.seed = 1;
    ic_dir_iterator *it;
    OK(ic_flow_from_directory(&it, dir, &g, &o));
    ic_batch_source src = ic_dir_iterator_source(it);
    CHECK(src.ops->length(src.self) == 100);
    const ic_tensor *x, *y;
    OK(src.ops->next(src.self, &x, &y));
    CHECK(ic_tensor_dim(x, 0) == 20 && ic_tensor_dim(x, 1) == 150 && ic_tensor_dim(x, 2) == 150 &&
          ic_tensor_dim(x, 3) == 3);
    CHECK(ic_tensor_dim(y, 0) == 20 && ic_tensor_dim(y, 1) == 1);
    const float *xd = ic_tensor_cdata(x);
    float lo = 1e9f, hi = -1e9f;
    double sum = 0;
    for (int64_t i = 0; i < ic_tensor_numel(x); i++) {
        lo = xd[i] < lo ? xd[i] : lo;
        hi = xd[i] > hi ? xd[i] : hi;
        sum += xd[i];
    }
    CHECKF(lo >= 0.0f && hi <= 1.0f && hi > 0.9f && sum / (double)ic_tensor_numel(x) > 0.1,
           "values %g..%g mean %g", lo, hi, sum / (double)ic_tensor_numel(x));
    int ones = 0;
    for (int i = 0; i < 20; i++) {
        CHECK(ic_tensor_cdata(y)[i] == 0.0f || ic_tensor_cdata(y)[i] == 1.0f);
        ones += ic_tensor_cdata(y)[i] == 1.0f;
    }
    CHECK(ones > 0 && ones < 20); /* shuffled: both classes in a batch of 20 */
    CHECK(ic_dir_iterator_take_replaced(it) == 0);
    ic_dir_iterator_free(it);
    return t_finish();
}
