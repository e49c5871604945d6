/* fuzz_common.h - shared pieces of the libFuzzer harnesses in tests/fuzz/ (also compiled,
 * without libFuzzer, into tests/unit/test_fuzz_regressions.c, which includes every harness
 * into one program with LLVMFuzzerTestOneInput renamed per harness).
 *
 * fz_init: once per process, lowers the limits against hostile files to sizes a fuzzer can
 * afford (environment variables, only where the user has not set them), so that "valid"
 * huge images are refused quickly instead of decoded for seconds.
 * fz_temp_file: writes the input to a per-process temporary file (the HDF5 loaders take
 * paths), removed at exit. */
#ifndef IC_FUZZ_COMMON_H
#define IC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "imgclass/imgclass.h"

__attribute__((unused)) static void fz_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    setenv("IMGCLASS_MAX_IMAGE_PIXELS", "4194304", 0); /* 2048 x 2048 */
    setenv("IMGCLASS_MAX_PARAMS", "16777216", 0);      /* 64 MiB of float32 */
    setenv("IC_NUM_THREADS", "1", 0);
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
}

/* Sanitizer settings for every harness binary (this header is included once per program).
 * libhdf5 is not instrumented and allocates sizes read from the file: a huge request must
 * fail (NULL, then an HDF5 error) rather than abort. libhdf5 also leaks internal blocks when
 * it fails to open a damaged file (seen in H5Fopen -> H5G_mkroot -> H5O_protect, libhdf5
 * 1.10); those leaks are not ours and are suppressed. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

/* Aborts if an HDF5 object (file, group, dataset, attribute, named datatype) is still open:
 * every load must close what it opened, on every error path. */
__attribute__((unused)) static void fz_check_h5_closed(void)
{
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (n != 0) {
        fprintf(stderr, "fuzz: %zd HDF5 objects left open after a load (%s)\n", n, ic_errmsg());
        abort();
    }
}

static char fz_path[4096];

static void fz_remove_temp(void)
{
    if (fz_path[0])
        unlink(fz_path);
}

/* Writes data to the process's temporary file and returns its path (NULL on I/O error). */
__attribute__((unused)) static const char *fz_temp_file(const uint8_t *data, size_t size)
{
    if (!fz_path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(fz_path, sizeof fz_path, "%s/imgclass_fuzz_%ld.h5", dir && *dir ? dir : "/tmp",
                 (long)getpid());
        atexit(fz_remove_temp);
    }
    FILE *fp = fopen(fz_path, "wb");
    if (!fp)
        return NULL;
    int ok = fwrite(data, 1, size, fp) == size;
    ok &= fclose(fp) == 0;
    return ok ? fz_path : NULL;
}

/* The small fixed model the weights harness loads into and the corpus generator saves:
 * Input(8, 8, 3) -> Conv2D(4, 3x3, relu) -> BatchNormalization -> DepthwiseConv2D(3x3)
 * -> Flatten -> Dense(2, softmax). */
__attribute__((unused)) static ic_status fz_small_model(ic_model **out)
{
    ic_model *m;
    ic_status s = ic_model_create(&m, "fuzz_model", 1);
    if (s)
        return s;
    int64_t shape[3] = {8, 8, 3};
    ic_layer *l = NULL;
    s = ic_model_input(m, 3, shape, NULL, NULL);
    ic_conv2d_opts co = ic_conv2d_opts_default(4, 3, 3);
    co.activation = IC_ACT_RELU;
    co.name = "conv";
    if (!s && !(s = ic_layer_conv2d(&l, &co)))
        s = ic_model_add(m, l);
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.name = "bn";
    if (!s && !(s = ic_layer_batch_normalization(&l, &bo)))
        s = ic_model_add(m, l);
    ic_conv2d_opts dw = ic_conv2d_opts_default(0, 3, 3);
    dw.name = "dw";
    if (!s && !(s = ic_layer_depthwise_conv2d(&l, &dw)))
        s = ic_model_add(m, l);
    if (!s && !(s = ic_layer_flatten(&l, "flatten")))
        s = ic_model_add(m, l);
    if (!s && !(s = ic_layer_dense(&l, 2, IC_ACT_SOFTMAX, 1, "dense")))
        s = ic_model_add(m, l);
    if (s) {
        ic_model_free(m);
        return s;
    }
    *out = m;
    return IC_OK;
}

#endif
