/* fuzz_model_file.c - libFuzzer harness for ic_model_load (our model files: model_config
 * JSON, weights, trainable flags, meta, optimizer state): the input is written to a
 * temporary file and loaded; a loaded model is summarised (to /dev/null) and freed. No HDF5
 * object may be left open afterwards. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    const char *path = fz_temp_file(data, size);
    if (!path)
        return 0;
    ic_model *m = NULL;
    ic_model_meta meta;
    memset(&meta, 0, sizeof meta);
    if (ic_model_load(&m, path, &meta) == IC_OK) {
        (void)ic_model_summary(m, devnull, 0);
        ic_model_free(m);
    }
    ic_model_meta_free(&meta);
    fz_check_h5_closed();
    return 0;
}
