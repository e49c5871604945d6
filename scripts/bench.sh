#!/usr/bin/env bash
# make bench: imgclass's four workloads and PyTorch's (../shared/bench/torch_anchor.py,
# channels-last fp32, the faster PyTorch layout) in the same run, then our/PyTorch
# ratios of median images/s. Not a test: the machines are shared and noisy, so only
# ratios measured together mean anything.
# Usage: scripts/bench.sh [BUILD_DIR]   env: BENCH_TESTS (default fwd,feat,finetune,small),
#        BENCH_THREADS (default 2, as the PyTorch anchors), BENCH_REPS (default 3)
set -euo pipefail
build=${1:-build}
tests=${BENCH_TESTS:-fwd,feat,finetune,small}
threads=${BENCH_THREADS:-2}
reps=${BENCH_REPS:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
anchor="$here/../shared/bench/torch_anchor.py"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== imgclass ($threads threads)"
IC_NUM_THREADS=$threads OMP_NUM_THREADS=$threads "$build/bench/bench_engine" --tests "$tests" \
    --reps "$reps" | tee "$out/ours.txt"

# Data pipeline (decode + resize + seed augmentation to 150x150, batch 20): 1 thread and all.
data_bin=$build/bench/bench_data; [ -x "$data_bin" ] || data_bin=$build/bench_data
echo "== data pipeline"
"$data_bin" "$here/../shared/data/cats_and_dogs_small/train" | tee "$out/data.txt" || true
ft=$(awk '$1=="RESULT" && $2=="test=finetune" {for(i=1;i<=NF;i++) if($i=="med") print $(i+1)}' "$out/ours.txt")
dt=$(awk '$1=="RESULT" && $2=="data" {for(i=1;i<=NF;i++) if($i=="med") v=$(i+1)} END {print v}' "$out/data.txt")
if [ -n "$ft" ] && [ -n "$dt" ]; then
    echo "data img/s (all threads) / finetune img/s: $dt / $ft = $(awk -v a="$dt" -v b="$ft" 'BEGIN{printf "%.1f", a/b}')"
fi

if [ ! -f "$anchor" ]; then
    echo "bench: $anchor not found: no PyTorch comparison (imgclass figures above only)"
    exit 0
fi
if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
    echo "bench: installing Debian's python3-torch and python3-torchvision for the comparison"
    if ! { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            python3-torch python3-torchvision >/dev/null 2>&1; }; then
        echo "bench: PyTorch not available: no comparison (imgclass figures above only)"
        exit 0
    fi
fi
echo "== PyTorch (Debian, channels-last fp32, $threads threads)"
/usr/bin/python3 "$anchor" --tests "$tests" --fmts cl --precs fp32 --threads "$threads" \
    --reps "$reps" | tee "$out/torch.txt"

echo
echo "== imgclass / PyTorch, median images/s (same run)"
printf '%-10s %10s %10s %8s\n' test imgclass pytorch ratio
IFS=, read -ra list <<<"$tests"
for t in "${list[@]}"; do
    ours=$(awk -v t="$t" '$1=="RESULT" && $2=="test="t {for(i=1;i<=NF;i++) if($i=="med") print $(i+1)}' "$out/ours.txt")
    theirs=$(awk -v t="$t" '$1=="RESULT" && $2=="test="t {for(i=1;i<=NF;i++) if($i=="med") print $(i+1)}' "$out/torch.txt")
    if [ -n "$ours" ] && [ -n "$theirs" ]; then
        printf '%-10s %10s %10s %8s\n' "$t" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN{printf "%.2f", a/b}')"
    fi
done
