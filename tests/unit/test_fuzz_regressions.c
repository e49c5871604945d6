/* test_fuzz_regressions.c - replays every file of tests/fuzz/regressions/<target>/ (inputs
 * that once crashed a fuzzer; see docs/security.md) and of the seed corpus
 * tests/fuzz/corpus/<target>/ through the fuzz harnesses' LLVMFuzzerTestOneInput, built
 * here without libFuzzer (any compiler): the harness sources are included with the entry
 * point renamed per target. A regression fails the test by crashing (or, under the
 * sanitizer build, by an ASan/UBSan report); the harnesses themselves abort on broken
 * invariants. The CLI target runs last: its options can change process-wide settings
 * (the harness restores them). */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#define LLVMFuzzerTestOneInput fz_target_image
#include "fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_target_keras_weights
#include "fuzz/fuzz_keras_weights.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_target_model_file
#include "fuzz/fuzz_model_file.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_target_config
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_target_cli_args
#include "fuzz/fuzz_cli_args.c"
#undef LLVMFuzzerTestOneInput

#include "harness.h"

typedef int (*fz_fn)(const uint8_t *, size_t);

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every regular file of dir (sorted by name) to fn; returns how many. */
static int replay_dir(const char *dir, fz_fn fn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    int done = 0;
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        FILE *fp = fopen(path, "rb");
        CHECKF(fp != NULL, "cannot open %s", path);
        if (!fp)
            continue;
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        size_t len = fread(buf, 1, (size_t)st.st_size, fp);
        fclose(fp);
        fprintf(stderr, "replay %s\n", path);
        /* The harnesses' own output (CLI usage errors, help) goes to /dev/null. */
        fflush(stdout);
        int saved = dup(1), null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        CHECKF(fn(buf, len) == 0, "%s", path);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        close(null);
        free(buf);
        done++;
    }
    return done;
}

/* ---- The limits against hostile files (docs/security.md), with the fuzzers' settings
 * (fz_init: IMGCLASS_MAX_IMAGE_PIXELS=4194304, IMGCLASS_MAX_PARAMS=16777216 unless set). */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void test_limits(void)
{
    fz_init();
    /* A PNG claiming 4000 x 3000 pixels (over the lowered limit): IHDR and an empty IDAT. */
    uint8_t png[45] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    put_be32(png + 16, 4000);
    put_be32(png + 20, 3000);
    png[24] = 8, png[25] = 2; /* 8-bit RGB */
    put_be32(png + 29, crc32_png(png + 12, 17));
    memcpy(png + 37, "IDAT", 4);
    put_be32(png + 41, crc32_png(png + 37, 4));
    ic_image img;
    EXPECT_ERR(ic_image_decode(png, sizeof png, "big.png", IC_COLOR_RGB, 0, 0, &img),
               IC_ERR_UNSUPPORTED, "IMGCLASS_MAX_IMAGE_PIXELS");

    ic_layer *l;
    ic_model *m;
    OK(ic_model_create(&m, "limits", 1));
    int64_t in[1] = {1000};
    OK(ic_model_input(m, 1, in, NULL, NULL));
    OK(ic_layer_dense(&l, 1 << 20, IC_ACT_RELU, 1, "huge"));
    EXPECT_ERR(ic_model_add(m, l), IC_ERR_UNSUPPORTED, "IMGCLASS_MAX_PARAMS");
    ic_model_free(m);

    /* Shapes whose size overflows int64 are refused when the node is added. */
    OK(ic_model_create(&m, "limits2", 1));
    int64_t big[3] = {999999999, 999999999, 999999999};
    EXPECT_ERR(ic_model_input(m, 3, big, NULL, NULL), IC_ERR_UNSUPPORTED, "values per sample");
    int64_t wide[3] = {30000, 30000, 3};
    OK(ic_model_input(m, 3, wide, NULL, NULL));
    OK(ic_layer_zero_padding2d(&l, 1000000, 1000000, 1000000, 1000000, NULL));
    EXPECT_ERR(ic_model_add(m, l), IC_ERR_UNSUPPORTED, "values per sample");
    ic_model_free(m);
}

int main(void)
{
    test_limits();
    static const struct {
        const char *name;
        fz_fn fn;
    } targets[] = {
        {"image", fz_target_image},           {"keras_weights", fz_target_keras_weights},
        {"model_file", fz_target_model_file}, {"config", fz_target_config},
        {"cli_args", fz_target_cli_args},
    };
    for (size_t t = 0; t < sizeof targets / sizeof *targets; t++) {
        int n = 0;
        for (int k = 0; k < 2; k++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", IC_SOURCE_DIR,
                     k ? "regressions" : "corpus", targets[t].name);
            n += replay_dir(dir, targets[t].fn);
        }
        printf("%s: %d inputs replayed\n", targets[t].name, n);
        CHECKF(n > 0, "no seed corpus for %s", targets[t].name);
    }
    ic_model_free(fz_weights_model);
    return t_finish();
}
