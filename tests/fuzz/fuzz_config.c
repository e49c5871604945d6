/* fuzz_config.c - libFuzzer harness for the model_config JSON parser
 * (ic__model_from_config): the input as a NUL-terminated string. A model that parses is
 * written back to JSON, parsed again and summarised (to /dev/null). IC_FUZZ_VERBOSE=1 prints
 * the status of each input (replaying one file: fuzz_config FILE). */
#include "fuzz_common.h"

#include "core/core.h"
#include "io/io_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    char *json = malloc(size + 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    ic_model *m = NULL;
    ic_status st = ic__model_from_config(json, "fuzz.json", &m);
    if (getenv("IC_FUZZ_VERBOSE")) /* to see why an input is refused */
        fprintf(stderr, "ic__model_from_config: %s: %s\n", ic_status_str(st), ic_errmsg());
    if (st == IC_OK) {
        (void)ic_model_summary(m, devnull, 0);
        char *again = NULL;
        if (ic__model_to_config(m, &again) == IC_OK) {
            ic_model *m2 = NULL;
            /* What we write must read back. */
            if (ic__model_from_config(again, "fuzz-roundtrip.json", &m2) != IC_OK) {
                fprintf(stderr, "round trip failed: %s\n%s\n", ic_errmsg(), again);
                abort();
            }
            ic_model_free(m2);
            ic__free(again);
        }
        ic_model_free(m);
    }
    free(json);
    return 0;
}
