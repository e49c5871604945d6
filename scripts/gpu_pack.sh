#!/usr/bin/env bash
# gpu_pack.sh - on the build machine (nvcc, cuDNN and every Debian dependency installed):
# builds the cuda backend (Release, IMGCLASS_CUDA=ON, sm_90) into build-gpu/ and packs what
# scripts/gpu_check.sh needs on a GPU machine that has only the NVIDIA driver, python3 with
# PyTorch and the pip cuDNN/cuBLAS: gpu/bin/ (test_ops_cuda, test_ops_cpu, bench_cuda_ops,
# bench_engine, imgclass) and gpu/iclibs.tar.xz, the shared libraries ldd names for them except the C
# runtime, the C++ runtime and anything CUDA (the GPU machine brings its own). Prints the
# size of gpu/.
#   scripts/gpu_pack.sh            (JOBS=N to set the build's parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-gpu
JOBS=${JOBS:-$(nproc)}
MAX_MIB=40

# No RPATH: the binaries travel, and this machine's CUDA paths mean nothing there.
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DIMGCLASS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_SKIP_RPATH=ON >/dev/null
cmake --build "$B" -j"$JOBS" --target test_ops_cuda test_ops_cpu bench_cuda_ops bench_engine imgclass

rm -rf gpu
mkdir -p gpu/bin
cp "$B/tests/test_ops_cuda" "$B/tests/test_ops_cpu" "$B/bench/bench_cuda_ops" "$B/bench/bench_engine" \
    "$B/imgclass" gpu/bin/
strip gpu/bin/* 2>/dev/null || true

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# "libfoo.so.1 => /path/libfoo.so.1 (0x...)": keep the name the binaries ask for.
ldd gpu/bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
    while read -r name path; do
        case "$name" in
        libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | libstdc++.so* | \
            libgcc_s.so* | ld-linux* | libcudnn* | libcublas* | libcuda* | libcudart* | \
            libnvrtc* | libnvJitLink*) continue ;;
        esac
        cp -L "$path" "$stage/$name"
    done
if ldd gpu/bin/* | grep -q "not found"; then
    echo "gpu_pack: a library is missing on this machine:" >&2
    ldd gpu/bin/* | grep "not found" >&2
    exit 1
fi
echo "gpu_pack: $(ls "$stage" | wc -l) libraries: $(ls "$stage" | tr '\n' ' ')"
tar -cJf gpu/iclibs.tar.xz -C "$stage" .

bytes=$(du -sb gpu | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
du -sh gpu/bin/* gpu/iclibs.tar.xz
echo "gpu_pack: gpu/ is $mib MiB ($bytes bytes)"
if [ "$mib" -gt "$MAX_MIB" ]; then
    echo "gpu_pack: gpu/ is over $MAX_MIB MiB" >&2
    exit 1
fi
