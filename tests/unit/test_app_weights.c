/* test_app_weights.c - ic_app_load_weights (apps.h): "none" leaves the weights and gives no
 * path; a weights file loads exactly what was saved and names itself; the errors: no
 * ImageNet weights for an application or an alpha, a download that fails (a closed local
 * port, a fresh cache), a missing file, each with its documented prefix. */
#include <unistd.h>

#include "harness.h"

static ic_model *small(uint64_t seed)
{
    ic_model *m;
    ic_set_random_seed(seed);
    ic_reset_uids();
    OK(ic_app_smallcnn(&m, 64, 64, 3, 0.5f, 2));
    return m;
}

static int same_weights(const ic_model *a, const ic_model *b)
{
    if (ic_model_num_weights(a) != ic_model_num_weights(b))
        return 0;
    for (int i = 0; i < ic_model_num_weights(a); i++) {
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
    char dir[] = "/tmp/ic_test_app_weights_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char file[128], path[256] = "x";
    snprintf(file, sizeof file, "%s/w.h5", dir);
    ic_model *a = small(1), *b = small(2), *c = small(2);
    OK(ic_model_save_weights(a, file));
    CHECK(!same_weights(a, b));

    OK(ic_app_load_weights(b, "smallcnn", 0, 64, "none", path, sizeof path));
    CHECK(path[0] == '\0' && same_weights(b, c));
    OK(ic_app_load_weights(b, "smallcnn", 0, 64, file, path, sizeof path));
    CHECK(!strcmp(path, file) && same_weights(a, b));

    EXPECT_ERR(ic_app_load_weights(c, "smallcnn", 0, 64, "imagenet", NULL, 0), IC_ERR_NOT_FOUND,
               "no ImageNet weights known for smallcnn");
    EXPECT_ERR(ic_app_load_weights(c, "mobilenet_v2", 0.6f, 224, "imagenet", NULL, 0),
               IC_ERR_NOT_FOUND, "no ImageNet weights known for mobilenet_v2 (alpha 0.6");
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nothere.h5", dir);
    EXPECT_ERR(ic_app_load_weights(c, "smallcnn", 0, 64, missing, path, sizeof path),
               IC_ERR_NOT_FOUND, "loading weights into smallcnn: ");
    CHECK(strstr(ic_errmsg(), "nothere.h5") && path[0] == '\0');
    /* a download that cannot connect: the cache is empty, the server a closed port */
    setenv("IMGCLASS_HOME", dir, 1);
    setenv("IMGCLASS_WEIGHTS_URL_BASE", "http://127.0.0.1:9", 1);
    setenv("IMGCLASS_DOWNLOAD_TIMEOUT", "2", 1);
    ic_clear_error();
    ic_status s = ic_app_load_weights(c, "vgg16", 0, 32, "imagenet", NULL, 0);
    CHECKF(s != IC_OK && !strncmp(ic_errmsg(), "cannot get the ImageNet weights vgg16_notop: ",
                                  45),
           "%s", ic_errmsg());
    ic_model *fresh = small(2);
    CHECK(same_weights(c, fresh));
    ic_model_free(fresh);
    EXPECT_ERR(ic_app_load_weights(NULL, "vgg16", 0, 32, "none", NULL, 0), IC_ERR_INVALID,
               "NULL model");

    ic_model_free(a);
    ic_model_free(b);
    ic_model_free(c);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_finish();
}
