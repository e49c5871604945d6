#!/usr/bin/env bash
# Models saved by Keras itself through the CLI, on the fixtures of
# tests/fixtures/keras: summary prints the Keras table and totals (full-model files and
# --config JSON + --weights), errors name layer and class; predict runs on a generated PNG
# (and on ../shared images when present) with --rescale / --classes / --json; evaluate
# takes DIR's folders as classes; finetune writes an imgclass model that loads again.
# Usage: test_cli_keras.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
src=$2
F=$src/tests/fixtures/keras
GEN=${IC_FIXTURE_GEN:-}
export IC_NUM_THREADS=${IC_NUM_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}/ic_cli_keras.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAILED: $*"; fail=1; }
has() { grep -qF -- "$2" <<<"$1" || bad "output of $3 lacks '$2'"; }

out=$("$bin" summary "$F/tf210_func.h5") || bad "summary tf210_func.h5"
has "$out" "Total params: 303" "summary tf210"
has "$out" "Non-trainable params: 8" "summary tf210"
has "$out" "add (Add)" "summary tf210"
has "$out" "Keras model file | input: 8x8x3 RGB | output: 3 units" "summary tf210"
out=$("$bin" summary "$F/k3_func.h5") || bad "summary k3_func.h5"
has "$out" "Total params: 217" "summary k3"
out=$("$bin" summary --config "$F/wonly.json" --weights "$F/wonly_weights.h5") ||
    bad "summary --config"
has "$out" "Total params: 117" "summary --config"
has "$out" "1 unit (sigmoid)" "summary --config"
err=$("$bin" summary "$F/bad_lstm.h5" 2>&1 >/dev/null) && bad "summary bad_lstm.h5 succeeded"
has "$err" "layer 'lstm_1': class 'LSTM' is not supported" "summary bad_lstm"
has "$err" "bad_lstm.h5" "summary bad_lstm"
err=$("$bin" summary "$F/wonly_weights.h5" 2>&1 >/dev/null) && bad "weights-only summary succeeded"
has "$err" "--config" "summary of a weights-only file"

if [ -z "$GEN" ] || [ ! -x "$GEN" ]; then
    echo "SKIP (partly): IC_FIXTURE_GEN not set; predict/evaluate/finetune not run"
    exit $fail
fi
"$GEN" "$T/d" --size 8 --train 6 --val 4 --test 2 --classes 3 >/dev/null || bad "fixture_gen"
img=$(find "$T/d/test" -name '*.png' | sort | head -1)
out=$("$bin" predict "$F/k20_seq.h5" "$img" --rescale 1/255 --classes x,y,z) || bad "predict"
awk 'NF != 3 || $2 !~ /^(x|y|z)$/ || $3 < 0 || $3 > 1 { exit 1 }' <<<"$out" ||
    bad "predict line: $out"
out=$("$bin" predict --config "$F/wonly.json" --weights "$F/wonly_weights.h5" "$img" --json) ||
    bad "predict --config --json"
has "$out" '"class_0": ' "predict --json"
has "$out" '"class_1": ' "predict --json"
err=$("$bin" predict "$F/k224_seq.h5" "$img" --classes a,b,c 2>&1 >/dev/null) &&
    bad "predict with 3 names for 2 classes succeeded"
has "$err" "must name the 2 classes" "predict --classes count"
shared_img=$(find "$src/../shared/data" -name '*.jpg' 2>/dev/null | sort | head -1)
if [ -n "$shared_img" ]; then
    "$bin" predict "$F/k224_seq.h5" "$shared_img" --rescale 1/255 >/dev/null ||
        bad "predict on $shared_img"
fi
out=$("$bin" evaluate "$F/cf_k20.h5" "$T/d/test" --rescale 1/255 --json) || bad "evaluate"
has "$out" '"classes": ["dark", "light", "mid2"]' "evaluate (classes from DIR)"

"$bin" finetune "$F/k224_seq.h5" "$T/d2" -o "$T/x.h5" >/dev/null 2>&1 && bad "finetune without data"
"$GEN" "$T/d2" --size 8 --train 4 --val 2 --test 1 --classes 2 >/dev/null
out=$("$bin" finetune "$F/tf210_func.h5" "$T/d" -o "$T/ft.h5" --epochs 1 --batch-size 4 \
    --rescale 1/255 --unfreeze-from conv_b 2>&1) || bad "finetune: $out"
out=$("$bin" finetune --config "$F/wonly.json" --weights "$F/wonly_weights.h5" "$T/d2" \
    -o "$T/ft2.h5" --epochs 1 --batch-size 4 2>&1) || bad "finetune --config: $out"
"$bin" summary "$T/ft2.h5" >/dev/null || bad "summary of ft2.h5"
out=$("$bin" summary "$T/ft.h5") || bad "summary of the fine-tuned model"
has "$out" "Classes (3): dark, light, mid2" "fine-tuned summary"
has "$out" "rescale 1/255" "fine-tuned summary"
"$bin" predict "$T/ft.h5" "$img" >/dev/null || bad "predict with the fine-tuned model"
exit $fail
