/* weights.c - public entry points for Keras HDF5 weights files (model.save_weights /
 * load_weights). The layout itself lives in keras_h5.c; files are written atomically. */
#include "io_impl.h"

ic_load_weights_opts ic_load_weights_opts_default(void)
{
    ic_load_weights_opts o = {0, 0};
    return o;
}

ic_status ic_model_load_weights(ic_model *m, const char *path, const ic_load_weights_opts *o)
{
    if (!m || !path)
        return ic_seterr(IC_ERR_INVALID, "ic_model_load_weights: NULL model or path");
    hid_t f;
    ic_status s = ic__h5_open_read(path, &f);
    if (s)
        return s;
    s = ic__h5_read_weights(f, m, o, path);
    H5Fclose(f);
    return s;
}

ic_status ic_model_save_weights(const ic_model *m, const char *path)
{
    if (!m || !path)
        return ic_seterr(IC_ERR_INVALID, "ic_model_save_weights: NULL model or path");
    ic__h5_quiet();
    ic__atomic_file af;
    ic_status s = ic__atomic_begin(&af, path, 0);
    if (s)
        return s;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        s = ic__h5_seterr(IC_ERR_IO, "%s: H5Pcreate failed", path);
        ic__atomic_abort(&af);
        return s;
    }
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fcreate(af.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        s = ic__h5_seterr(IC_ERR_IO, "%s: cannot create the file", path);
        ic__atomic_abort(&af);
        return s;
    }
    s = ic__h5_write_weights(f, m, path);
    if (H5Fclose(f) < 0 && !s)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing the file failed", path);
    if (s) {
        ic__atomic_abort(&af);
        return s;
    }
    return ic__atomic_commit(&af);
}
