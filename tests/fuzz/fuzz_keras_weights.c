/* fuzz_keras_weights.c - libFuzzer harness for ic_model_load_weights: the input is written
 * to a temporary file and loaded into a small fixed model (fz_small_model), by layer order
 * and by name with skip_mismatch.
 *
 * libhdf5 is not built with sanitizers and is known to be fragile on malformed files (see
 * src/io/h5util.c: global heap collections, huge allocations from sizes in the file); the
 * harnesses let ASan's allocator return NULL for huge requests instead of aborting, so a
 * failed allocation inside libhdf5 surfaces as an HDF5 error, and ignore leaks allocated
 * inside libhdf5 (fuzz_common.h). After each load no HDF5 object may be left open. */
#include "fuzz_common.h"

static ic_model *fz_weights_model;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (!fz_weights_model && fz_small_model(&fz_weights_model) != IC_OK)
        abort();
    const char *path = fz_temp_file(data, size);
    if (!path)
        return 0;
    ic_load_weights_opts o = ic_load_weights_opts_default();
    (void)ic_model_load_weights(fz_weights_model, path, &o);
    o.by_name = 1;
    o.skip_mismatch = 1;
    (void)ic_model_load_weights(fz_weights_model, path, &o);
    fz_check_h5_closed();
    return 0;
}
