#!/bin/bash
# test_golden_history.sh IMGCLASS SOURCE_DIR - the results of training do not change: short
# runs of the four kinds of run `make reproduce` makes (the book's convnet from scratch with
# augmentation; cached MobileNetV2 features; a frozen base with augmentation; fine-tuning
# from the cached-feature model, BN frozen), on a subset of the real photos with the real
# weights of ../shared (skipped without them), give histories byte-identical to the ones in
# tests/fixtures/golden_history/, which were recorded by this test with
# IC_GOLDEN_RECORD=1. A refactoring of the training engine keeps them; a change that is
# meant to change results records them again and says why in its commit.
set -u
IMGCLASS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "${2:-.}" && pwd)
SHARED=${IC_SHARED_DIR:-$SRC/../shared}
W=$SHARED/weights/mobilenet_v2_1.0_224_no_top.h5
PHOTOS=$SHARED/data/cats_and_dogs_small
GOLD=$SRC/tests/fixtures/golden_history
for f in "$W" "$PHOTOS/train/cats/cat.1.jpg"; do
    if [ ! -f "$f" ]; then
        echo "skip: $f not found (this test needs the photos and MobileNetV2 weights of ../shared)"
        exit 77
    fi
done
export IC_NUM_THREADS=2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
printf 'leak:libgomp\nleak:libdnnl\n' >lsan.supp # one-time third-party allocations under ASan
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
for split in train:1:20 validation:1001:10; do
    IFS=: read -r s first n <<<"$split"
    for c in cat dog; do
        mkdir -p "data/$s/${c}s"
        for i in $(seq "$first" $((first + n - 1))); do
            ln -s "$PHOTOS/$s/${c}s/$c.$i.jpg" "data/$s/${c}s/$c.$i.jpg"
        done
    done
done

common=(--batch-size 20 --seed 1 --workers 1 --save-best val_loss)
base=(--base mobilenet_v2 --alpha 1.0 --weights "$W" --head 256 --freeze-base --preprocess tf
    --rescale none --target-size 150x150)
# golden NAME CMD...: runs CMD, then compares NAME's history with the recorded one
golden() {
    local name=$1
    shift
    if ! "$@" >"$name.log" 2>&1; then
        fail "$name: exit status $?"
        tail -5 "$name.log"
        return
    fi
    if [ "${IC_GOLDEN_RECORD:-0}" = 1 ]; then
        mkdir -p "$GOLD" && cp "$name.history.csv" "$GOLD/$name.csv"
        echo "recorded $GOLD/$name.csv"
    elif ! cmp -s "$name.history.csv" "$GOLD/$name.csv"; then
        fail "$name: the history differs from $GOLD/$name.csv:"
        diff "$GOLD/$name.csv" "$name.history.csv" | sed 's/^/    /'
    fi
}
golden scratch "$IMGCLASS" train data -o scratch.h5 --model smallcnn --augment --dropout 0.5 \
    --target-size 150x150 --lr 1e-4 --epochs 2 --steps-per-epoch 3 --validation-steps 1 \
    "${common[@]}"
golden cached "$IMGCLASS" train data -o cached.h5 "${base[@]}" --cache-features --epochs 3 \
    --lr 2e-5 "${common[@]}"
golden augmented "$IMGCLASS" train data -o augmented.h5 "${base[@]}" --augment --epochs 2 \
    --steps-per-epoch 2 --lr 2e-5 "${common[@]}"
golden finetune "$IMGCLASS" finetune cached.last.h5 data -o finetune.h5 \
    --unfreeze-from block_13_expand --augment --lr 1e-5 --epochs 2 --steps-per-epoch 2 \
    "${common[@]}"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
