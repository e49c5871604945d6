/* weights_registry.c - the Keras Applications weight files imgclass knows (Keras's own
 * file names, URLs and md5 constants, keras-applications 1.0.8) and the cache directory
 * they are downloaded into ($IMGCLASS_HOME, else $XDG_CACHE_HOME/imgclass, else
 * ~/.cache/imgclass). The download itself is download.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "io/io_impl.h"

#define FCHOLLET "https://github.com/fchollet/deep-learning-models/releases/download/"
#define MNV2_BASE "https://github.com/JonathanCMitchell/mobilenet_v2_keras/releases/download/v1.1/"

// clang-format off
/* MobileNetV2: Keras builds the file name from str(alpha) and rows; no md5 is checked. */
#define MNV2_FILE(a, r) "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_" a "_" r
#define MNV2(a, r)                                                                         \
    {"mobilenet_v2_" a "_" r "_notop", MNV2_FILE(a, r) "_no_top.h5",                        \
     MNV2_BASE MNV2_FILE(a, r) "_no_top.h5", NULL},                                        \
    {"mobilenet_v2_" a "_" r, MNV2_FILE(a, r) ".h5", MNV2_BASE MNV2_FILE(a, r) ".h5", NULL}
#define MNV2_ROWS(a) MNV2(a, "96"), MNV2(a, "128"), MNV2(a, "160"), MNV2(a, "192"), MNV2(a, "224")
// clang-format on

static const ic_weights_info g_weights[] = {
    {"vgg16_notop", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
     FCHOLLET "v0.1/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
     "6d6bbae143d832006294945121d1f1fc"},
    {"vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
     FCHOLLET "v0.1/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
     "64373286793e3c8b2b4e3219cbf3544b"},
    {"vgg19_notop", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
     FCHOLLET "v0.1/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
     "253f8cb515780f3b799900260a226db6"},
    {"vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
     FCHOLLET "v0.1/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
     "cbe5617147190e668d6c5d5026f83318"},
    {"resnet50_notop", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
     FCHOLLET "v0.2/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
     "a268eb855778b3df3c7506639542a6af"},
    {"resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
     FCHOLLET "v0.2/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
     "a7b3fe01876f51b976af0dea6bc144eb"},
    /* alpha as Python's str() writes Keras's [0.35, 0.50, 0.75, 1.0, 1.3, 1.4] */
    MNV2_ROWS("0.35"),
    MNV2_ROWS("0.5"),
    MNV2_ROWS("0.75"),
    MNV2_ROWS("1.0"),
    MNV2_ROWS("1.3"),
    MNV2_ROWS("1.4"),
};

#define N_WEIGHTS ((int)(sizeof g_weights / sizeof g_weights[0]))

int ic_weights_count(void)
{
    return N_WEIGHTS;
}

const ic_weights_info *ic_weights_get(int i)
{
    return i >= 0 && i < N_WEIGHTS ? &g_weights[i] : NULL;
}

const ic_weights_info *ic_weights_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < N_WEIGHTS; i++)
        if (!strcmp(g_weights[i].name, name))
            return &g_weights[i];
    return NULL;
}

ic_status ic__weights_cache_path(char *buf, size_t size)
{
    const char *home = getenv("IMGCLASS_HOME");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *user = getenv("HOME");
    int n;
    if (!buf || !size)
        return ic_seterr(IC_ERR_INVALID, "weights cache directory: no buffer");
    if (home && *home)
        n = snprintf(buf, size, "%s", home);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/imgclass", xdg);
    else if (user && *user)
        n = snprintf(buf, size, "%s/.cache/imgclass", user);
    else
        return ic_seterr(IC_ERR_NOT_FOUND, "weights cache directory: none of IMGCLASS_HOME, "
                                           "XDG_CACHE_HOME, HOME is set");
    if (n < 0 || (size_t)n >= size)
        return ic_seterr(IC_ERR_INVALID, "weights cache directory: path longer than %zu bytes",
                         size - 1);
    /* drop trailing slashes (but keep "/") */
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return IC_OK;
}

/* mkdir -p: creates every missing component of path. */
static ic_status mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return ic_seterr(IC_ERR_INVALID, "weights cache directory: path too long");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            return ic_seterr(IC_ERR_IO,
                             "cannot create weights cache directory %s: %s at %s (set "
                             "IMGCLASS_HOME to a writable directory)",
                             path, strerror(e), tmp);
        }
        tmp[i] = c;
    }
    return IC_OK;
}

ic_status ic_weights_cache_dir(char *buf, size_t size)
{
    ic_status s = ic__weights_cache_path(buf, size);
    if (s)
        return s;
    struct stat st;
    if (stat(buf, &st) != 0) {
        if ((s = mkdir_p(buf)))
            return s;
        if (stat(buf, &st) != 0)
            return ic_seterr(IC_ERR_IO, "weights cache directory %s: %s", buf, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return ic_seterr(IC_ERR_IO,
                         "weights cache directory %s exists but is not a directory (set "
                         "IMGCLASS_HOME to a writable directory)",
                         buf);
    if (access(buf, W_OK | X_OK) != 0)
        return ic_seterr(IC_ERR_IO,
                         "weights cache directory %s is not writable: %s (set IMGCLASS_HOME "
                         "to a writable directory)",
                         buf, strerror(errno));
    return IC_OK;
}
