/* test_cuda_dl.c - the cuda backend opens cuDNN and cuBLAS itself (cuda_dl.h): on a machine
 * that has the libraries, with or without a GPU, every function the backend lists must be
 * found in them under the name looked up (cuBLAS's _v2 names included), and opening twice
 * gives the same answer. Skips without a cuda build or without the libraries. */
#include <string.h>

#include "backend/backend.h"
#include "harness.h"

int main(void)
{
    char msg[512] = "";
    ic_status s = ic__backend_cuda_libs(msg, sizeof msg);
    if (s == IC_ERR_UNSUPPORTED)
        t_skip(msg);
    if (s != IC_OK && strstr(msg, "cannot open"))
        t_skip(msg); /* no cuDNN or cuBLAS installed here */
    CHECKF(s == IC_OK, "cuDNN/cuBLAS opened but incomplete: %s", msg);
    char again[512] = "";
    CHECK(ic__backend_cuda_libs(again, sizeof again) == s);
    return t_finish();
}
