#!/usr/bin/env bash
# test_startup.sh IMGCLASS SOURCE_DIR - a process that does not use the GPU does not load
# the GPU libraries: the cuda backend opens cuDNN and cuBLAS when it starts
# (src/backend/cuda/cuda_dl.h), so neither the program nor the shared library links them,
# and `imgclass --version` maps neither. (Linked, they cost every run a second and 200 MB.)
set -u
bin=$1
build=$(dirname "$bin")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
for f in "$bin" "$build"/libimgclass.so; do
    [ -e "$f" ] || continue
    if ldd "$f" | grep -E 'libcudnn|libcublas'; then
        fail "$f links the GPU libraries (above)"
    fi
done
# the libraries a plain run maps, read from the process itself
maps=$(LD_DEBUG=libs "$bin" --version 2>&1 >/dev/null)
grep -q 'libc.so' <<<"$maps" || fail "LD_DEBUG=libs shows no library loads: cannot check"

if grep -qE 'libcudnn|libcublas' <<<"$maps"; then
    fail "imgclass --version loads the GPU libraries"
fi
"$bin" --version | grep -q '^imgclass ' || fail "imgclass --version prints no version"
# without a GPU (or without a cuda build) choosing cuda is a one-line error, not a crash
if ! nvidia-smi -L >/dev/null 2>&1; then
    out=$("$bin" summary --backend cuda 2>&1 </dev/null)
    rc=$?
    [ $rc -eq 1 ] || [ $rc -eq 2 ] || fail "imgclass summary --backend cuda: exit status $rc"
    grep -qiE 'no CUDA GPU|no CUDA backend|cannot open libcudnn' <<<"$out" ||
        fail "imgclass summary --backend cuda: no reason given: $out"
fi
if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "startup: no GPU library loaded by a CPU run"
