#!/usr/bin/env bash
# The step of a real training run, beside the library's: `imgclass train` (frozen VGG16
# base, the book's augmentation) and `imgclass finetune` (from block3_conv1) on the real
# photos, with the loader, augmentation, callbacks and checkpoints of the command.
#
# Each command runs twice, with S and S+K steps in one epoch and the same one validation
# batch; the difference of the two wall times divided by K is the time of one step. What
# both runs share (start-up, building the model, the first step's kernel set-up, the
# validation, the checkpoint) cancels out. VGG16 has random weights here (--weights none):
# the values do not change the speed.
#
# Usage: scripts/bench_realrun.sh BUILD_DIR OUT_FILE
# env: BENCH_PRECS (fp32,bf16), BENCH_REAL_TESTS (feat,finetune), BENCH_REAL_K (steps
#      measured, default 12), BENCH_REAL_WORKERS (passed as --workers when set).
# Writes "REAL test=T prec=P ms_step X workers W" lines to OUT_FILE and stdout.
set -euo pipefail
build=${1:?usage: scripts/bench_realrun.sh BUILD_DIR OUT_FILE}
outf=${2:?usage: scripts/bench_realrun.sh BUILD_DIR OUT_FILE}
here=$(cd "$(dirname "$0")/.." && pwd)
data="$here/../shared/data/cats_and_dogs_small"
bin="$build/imgclass"
precs=${BENCH_PRECS:-fp32,bf16}
tests=${BENCH_REAL_TESTS:-feat,finetune}
k=${BENCH_REAL_K:-12}
s0=2
if [ ! -d "$data/train" ]; then
    echo "bench_realrun: $data missing: no real-run step measured"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
workers=()
[ -n "${BENCH_REAL_WORKERS:-}" ] && workers=(--workers "$BENCH_REAL_WORKERS")

now() { date +%s.%N; }
# wall seconds of one command; its output goes to $tmp/log (shown on failure)
timed() {
    local t0 t1
    t0=$(now)
    if ! "$@" >"$tmp/log" 2>&1; then
        echo "bench_realrun: failed: $*" >&2
        cat "$tmp/log" >&2
        exit 1
    fi
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
common=(--epochs 1 --validation-steps 1 --batch-size 20 --seed 1 "${workers[@]}")

# A head model on the frozen base to fine-tune from (one step; its values do not matter).
need_base=0
case ",$tests," in *,finetune,*) need_base=1 ;; esac
if [ "$need_base" = 1 ]; then
    timed "$bin" train "$data" -o "$tmp/head.h5" --base vgg16 --weights none --freeze-base \
        --lr 2e-5 --epochs 1 --steps-per-epoch 1 --validation-steps 1 >/dev/null
fi

IFS=, read -ra plist <<<"$precs"
IFS=, read -ra tlist <<<"$tests"
for p in "${plist[@]}"; do
    for t in "${tlist[@]}"; do
        run() { # $1 = steps
            case "$t" in
                feat) timed "$bin" train "$data" -o "$tmp/r.h5" --base vgg16 --weights none \
                    --freeze-base --augment --lr 2e-5 --precision "$p" --steps-per-epoch "$1" \
                    "${common[@]}" ;;
                finetune) timed "$bin" finetune "$tmp/head.h5" "$data" -o "$tmp/r.h5" \
                    --unfreeze-from block3_conv1 --augment --precision "$p" \
                    --steps-per-epoch "$1" "${common[@]}" ;;
                *) echo "bench_realrun: unknown test '$t'" >&2; exit 2 ;;
            esac
        }
        rm -f "$tmp"/r.*
        a=$(run "$s0")
        rm -f "$tmp"/r.*
        b=$(run $((s0 + k)))
        ms=$(awk -v a="$a" -v b="$b" -v k="$k" 'BEGIN { printf "%.1f", 1000 * (b - a) / k }')
        echo "REAL test=$t prec=$p ms_step $ms workers ${BENCH_REAL_WORKERS:-default} runs_s $a $b" \
            | tee -a "$outf"
    done
done
