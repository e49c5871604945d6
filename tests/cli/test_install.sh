#!/usr/bin/env bash
# The installed library: `cmake --install` into a temporary prefix, then a program
# that includes <imgclass/imgclass.h> builds with `pkg-config --cflags --libs` (shared)
# and against the static library (with the system's shared dependencies), and runs. Usage: test_install.sh IMGCLASS SOURCE_DIR
set -eu
bin=$1
build=$(dirname "$bin")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/imgclass/imgclass.h include/imgclass/model.h lib/pkgconfig/imgclass.pc \
         lib/libimgclass.a bin/imgclass; do
    [ -e "$prefix/$f" ] || [ -e "$prefix/${f/lib\//lib/x86_64-linux-gnu/}" ] || {
        echo "FAILED: $f not installed"; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name imgclass.pc | head -1)")
libdir=$(dirname "$(find "$prefix" -name 'libimgclass.so*' | head -1)")
cat > "$prefix/use.c" <<'C'
#include <imgclass/imgclass.h>
#include <stdio.h>
int main(void) {
    ic_model *m;
    ic_app_opts o = ic_app_opts_default();
    o.input_shape[0] = 150; o.input_shape[1] = 150; o.input_shape[2] = 3;
    if (ic_app_vgg16(&m, &o) != IC_OK) { fprintf(stderr, "%s\n", ic_errmsg()); return 1; }
    printf("%lld\n", (long long)ic_model_count_params(m));
    ic_model_free(m);
    return 0;
}
C
export PKG_CONFIG_PATH=$pcdir
cc -std=c11 "$prefix/use.c" -o "$prefix/use_shared" $(pkg-config --cflags --libs imgclass)
out=$(LD_LIBRARY_PATH=$libdir "$prefix/use_shared")
[ "$out" = 14714688 ] || { echo "FAILED: shared program printed '$out'"; exit 1; }
cc -std=c11 "$prefix/use.c" -o "$prefix/use_static" $(pkg-config --cflags imgclass) \
    "$libdir/libimgclass.a" \
    $(pkg-config --libs libjpeg libpng hdf5 libcurl libcrypto libcjson cairo) -ldnnl -lgomp -lpthread -lm \
    $(pkg-config --variable=cuda_libs imgclass)
out=$("$prefix/use_static")
[ "$out" = 14714688 ] || { echo "FAILED: static program printed '$out'"; exit 1; }
echo "install ok: headers, pkg-config, shared and static libraries"
