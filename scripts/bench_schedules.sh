#!/usr/bin/env bash
# make bench-schedules: wall-clock time of the book's two VGG16 schedules on the real
# photos: feature extraction with augmentation (frozen base, 30 epochs of 100
# steps, validation 50 steps) and fine-tuning from block3_conv1 (100 epochs of 100
# steps, validation 50 steps), batch 20, 150x150. VGG16 runs with random weights (the
# ImageNet file cannot be downloaded here; speed does not depend on the values). Each
# schedule runs SCHED_EPOCHS epochs (default 3) and is extrapolated to the book's
# epoch count from the median epoch (the first epoch also creates primitives).
# Usage: scripts/bench_schedules.sh [BUILD_DIR]
# env: SCHED_PRECS (default "bf16 fp32"), SCHED_EPOCHS (3), SCHED_THREADS (2),
#      SCHED_OUT (keep the logs there),
#      IMGCLASS_DATA (../shared/data/cats_and_dogs_small)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/imgclass
data=${IMGCLASS_DATA:-$here/../shared/data/cats_and_dogs_small}
precs=${SCHED_PRECS:-bf16 fp32}
epochs=${SCHED_EPOCHS:-3}
threads=${SCHED_THREADS:-2}
[ -d "$data/train" ] || { echo "bench_schedules: no dataset at $data" >&2; exit 1; }
out=${SCHED_OUT:-}
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
common=(--batch-size 20 --seed 1 --threads "$threads" --steps-per-epoch 100 --validation-steps 50)

# The epochs are timed by when the CLI's "Epoch N/M" lines arrive (it flushes each line).
timed() { # timed LOG CMD...: runs CMD, stamping each output line with seconds since start
    local log=$1
    shift
    local t0=$SECONDS
    "$@" 2>&1 | while IFS= read -r line; do printf '%d %s\n' "$((SECONDS - t0))" "$line"; done >"$log"
}
median_epoch() { # LOG: median seconds between consecutive "Epoch N/" lines and the end
    awk '$2 == "Epoch" {t[n++] = $1} /Saved .*\(epoch/ {last = $1}
         END {t[n] = last; for (i = 1; i <= n; i++) print t[i] - t[i-1]}' "$1" |
        sort -n | awk '{d[NR] = $1} END {print (NR % 2) ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2}'
}
hms() { awk -v s="$1" 'BEGIN { printf "%dh%02dm", s / 3600, (s % 3600) / 60 }'; }

echo "== the book's schedules, VGG16 at 150x150, batch 20, $threads threads, $epochs epochs each, extrapolated"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
for p in $precs; do
    # feature extraction with augmentation (the book: 30 epochs)
    timed "$out/fe_$p.log" "$bin" train "$data" -o "$out/fe_$p.h5" --base vgg16 --weights none \
        --freeze-base --augment --lr 2e-5 --epochs "$epochs" --precision "$p" "${common[@]}"
    fe=$(median_epoch "$out/fe_$p.log")
    # fine-tuning from block3_conv1 (the book: 100 epochs), from the model above
    timed "$out/ft_$p.log" "$bin" finetune "$out/fe_$p.h5" "$data" -o "$out/ft_$p.h5" \
        --unfreeze-from block3_conv1 --augment --lr 1e-5 --epochs "$epochs" --precision "$p" \
        "${common[@]}"
    ft=$(median_epoch "$out/ft_$p.log")
    grep -h -E '^[0-9]+ (Precision|Validation):' "$out/fe_$p.log" "$out/ft_$p.log" | cut -d' ' -f2- | sort -u
    printf '%-5s feature extraction: %4s s/epoch -> 30 epochs %s   (target: under 20 min in bf16)\n' \
        "$p" "$fe" "$(hms "$(awk -v e="$fe" 'BEGIN { print 30 * e }')")"
    printf '%-5s fine-tuning:        %4s s/epoch -> 100 epochs %s  (target: under 3 h in bf16)\n' \
        "$p" "$ft" "$(hms "$(awk -v e="$ft" 'BEGIN { print 100 * e }')")"
done
