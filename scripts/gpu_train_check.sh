#!/usr/bin/env bash
# gpu_train_check.sh - on the GPU machine, after scripts/gpu_check.sh has unpacked the
# libraries: the whole training path on the cuda backend beside the cpu backend, on the real
# photos, with MobileNetV2 1.0's ImageNet weights:
#   1. feature extraction (--cache-features, 5 epochs, 150x150), then evaluate on the test
#      photos: the accuracy of a GPU-trained model beside a CPU-trained one (same recipe);
#   2. fine-tuning that model from block_13_expand (BN frozen, the default), 2 epochs of
#      S steps: seconds per step on each backend, and the book's schedule (100 epochs of
#      100 steps) projected from the second epoch.
# Usage: scripts/gpu_train_check.sh DATA_DIR WEIGHTS.h5   (DATA_DIR: train/ validation/ test/)
# env: OUT (log folder, default /tmp/out), GT_STEPS (fine-tuning steps per epoch, default 20),
#      GT_BACKENDS (default cuda,cpu)
set -uo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/gpu_train_check.sh DATA_DIR WEIGHTS.h5}
weights=${2:?usage: scripts/gpu_train_check.sh DATA_DIR WEIGHTS.h5}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG=$OUT/gpu_train_check.log
steps=${GT_STEPS:-20}
backends=${GT_BACKENDS:-cuda,cpu}
bin=${IMGCLASS:-gpu/bin/imgclass}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

log() { echo "== $*" | tee -a "$LOG"; }
# run SECONDS CMD...: with a time limit, output to the log; returns the exit status
run() {
    local t=$1
    shift
    timeout "$t" "$@" 2>&1 | tee -a "$LOG"
    return "${PIPESTATUS[0]}"
}
now() { date +%s.%N; }

log "gpu_train_check $(date -u +%FT%TZ): $data, $weights, fine-tuning $steps steps per epoch"
IFS=, read -ra blist <<<"$backends"
for be in "${blist[@]}"; do
    m="$work/$be.h5"
    log "[$be] feature extraction: MobileNetV2 1.0, 150x150, 5 epochs"
    t0=$(now)
    if ! run 240 "$bin" train "$data" -o "$m" --backend "$be" --base mobilenet_v2 --alpha 1.0 \
        --weights "$weights" --cache-features --epochs 5 --seed 1; then
        log "[$be] train: FAIL"
        status=1
        continue
    fi
    log "[$be] train took $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
    run 120 "$bin" evaluate "$m" "$data/test" --backend "$be" | grep -E "^(loss|accuracy|AUC|ROC)|accuracy" \
        || { log "[$be] evaluate: FAIL"; status=1; }

    log "[$be] fine-tuning from block_13_expand: 2 epochs of $steps steps, augmentation"
    t0=$(now)
    if ! run 300 "$bin" finetune "$m" "$data" -o "$work/ft_$be.h5" --backend "$be" \
        --unfreeze-from block_13_expand --augment --epochs 2 --steps-per-epoch "$steps" \
        --validation-steps 10 --seed 1; then
        log "[$be] finetune: FAIL"
        status=1
        continue
    fi
    log "[$be] finetune took $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s (epoch times: the history's lines above)"
    [ -f "$work/ft_$be.history.csv" ] && run 5 cat "$work/ft_$be.history.csv"
done
log "done: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
