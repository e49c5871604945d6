#!/usr/bin/env bash
# `imgclass evaluate` and `imgclass summary MODEL.h5 / --model ... --weights`: on a tiny
# model trained by ic_make_model (IC_MAKE_MODEL, set by tests/CMakeLists.txt) over 32x32
# dark/light (and dark/grey/light) PNGs: the accuracy line, a confusion matrix that sums to
# the number of images, precision and recall in [0, 1], JSON keys, the meta line,
# --precision, and one-line errors with a non-zero exit. The fixture is in lib.sh.
# Usage: test_cli_evaluate.sh IMGCLASS SOURCE_DIR
set -u
. "$(dirname "$0")/lib.sh" eval "$@"
check_help evaluate

# Confusion matrix rows (K of them after the header line) sum to the image count; precision
# and recall columns lie in [0, 1].
cm_sum() {
    awk -v K="$2" '/^confusion matrix/ { getline; n = K; next }
                   n > 0 { for (i = 2; i <= NF; i++) s += $i; n-- } END { print s + 0 }' <<<"$1"
}
pr_ok() {
    awk -v K="$2" '/^class +precision +recall +support/ { n = K; next }
                   n > 0 { if ($2 < 0 || $2 > 1 || $3 < 0 || $3 > 1) bad = 1; rows++; n-- }
                   END { exit (bad || rows != K) }' <<<"$1"
}
for k in 2 3; do
    out=$("$bin" evaluate "$tmp/m$k/model.h5" "$tmp/m$k/data/test" --batch-size 4 --threads 2)
    rc=$?
    n=$((5 * k)) steps=$(((5 * k + 3) / 4))
    check "evaluate $k classes exits 0" test $rc -eq 0
    check "found line ($k)" grep -qx "Found $n images belonging to $k classes." <<<"$out"
    check "loss line ($k)" grep -qE '^loss: +[0-9]+\.[0-9]{4}$' <<<"$out"
    check "accuracy line ($k)" grep -qE "^accuracy: [01]\.[0-9]{4} \([0-9]+ of $n images, $steps steps of 4\)$" <<<"$out"
    check "confusion matrix sums to $n" test "$(cm_sum "$out" $k)" -eq $n
    check "precision/recall in [0,1] ($k)" pr_ok "$out" $k
    check "class rows ($k)" grep -q '^light ' <<<"$out"
done
# The dark/light model separates its classes (brightness): all test images right.
out=$("$bin" evaluate "$tmp/m2/model.h5" "$tmp/m2/data/test")
check "2-class accuracy 1" grep -q '^accuracy: 1\.0000 (10 of 10 images, 1 steps of 20)' <<<"$out"

check "2-class ROC AUC 1" grep -qx 'ROC AUC:  1.0000 (light scored above dark; threshold-free)' <<<"$out"
# ROC AUC: the labels' orientation (folders swapped: every pair ranked wrong, 0); none for a
# softmax model. (evaluate refuses an empty class folder, so the one-class case, where AUC
# is undefined, is tests/train/test_metrics.c's.)
mkdir -p "$tmp/swapped"
cp -r "$tmp/m2/data/test/dark" "$tmp/swapped/light"
cp -r "$tmp/m2/data/test/light" "$tmp/swapped/dark"
out=$("$bin" evaluate "$tmp/m2/model.h5" "$tmp/swapped")
check "swapped: accuracy 0" grep -q '^accuracy: 0\.0000 (0 of 10 images' <<<"$out"
check "swapped: ROC AUC 0" grep -qx 'ROC AUC:  0.0000 (light scored above dark; threshold-free)' <<<"$out"
check "swapped: json roc_auc 0" grep -qF '"roc_auc": 0,' <<<"$("$bin" evaluate "$tmp/m2/model.h5" "$tmp/swapped" --json)"

json=$("$bin" evaluate "$tmp/m3/model.h5" "$tmp/m3/data/test" --json)
check "softmax: no roc_auc" test "$(grep -c roc_auc <<<"$json")" -eq 0
check "json exits 0" test $? -eq 0
for key in '"loss": ' '"accuracy": ' '"samples": 15' '"steps": 1' '"per_class": {' \
    '"precision": ' '"recall": ' '"support": 5' '"confusion_matrix": [[' '"classes": ["dark", "grey", "light"]'; do
    check "json key $key" grep -qF "$key" <<<"$json"
done
check "json starts with {" test "${json:0:1}" = "{"
if command -v python3 >/dev/null; then
    check "json parses" python3 -c 'import json,sys; d=json.load(sys.stdin); assert sum(map(sum, d["confusion_matrix"])) == d["samples"]' <<<"$json"
fi

# summary of a model file: the table and the meta line.
out=$("$bin" summary "$tmp/m2/model.h5")
check "summary file exits 0" test $? -eq 0
check "summary file table" grep -qx 'Total params: 117' <<<"$out"
check "summary file dense row" grep -q '^dense_1 (Dense) ' <<<"$out"
check "summary meta line" grep -qx 'Classes (2): dark, light | input: 32x32x3 RGB | preprocessing: none, rescale 1/255 | resize: nearest | output: 1 sigmoid unit' <<<"$out"
out=$("$bin" summary "$tmp/m3/model.h5" | tail -1)
check "summary meta line 3" grep -q '^Classes (3): dark, grey, light | .* | output: softmax$' <<<"$out"

# summary of applications, with --alpha and --weights.
out=$("$bin" summary --model mobilenet_v2 --alpha 0.35 --input 224x224x3)
check "mobilenet_v2 0.35 total" grep -qx 'Total params: 410,208' <<<"$out"
out=$("$bin" summary --model resnet50 --input 224x224x3)
check "resnet50 total" grep -qx 'Total params: 23,587,712' <<<"$out"
weights="${IC_SHARED_DIR:-$src/../shared}/weights"
if [ -f "$weights/mobilenet_v2_0.35_224_no_top.h5" ]; then
    out=$("$bin" summary --model mobilenet_v2 --alpha 0.35 --input 224x224x3 \
        --weights "$weights/mobilenet_v2_0.35_224_no_top.h5")
    check "weights loaded line" grep -qx "Loaded weights from $weights/mobilenet_v2_0.35_224_no_top.h5 (260 tensors)" <<<"$out"
    check "weights line after the table" test "$(tail -1 <<<"$out" | cut -c1-14)" = "Loaded weights"
    expect_err "layer 'Conv1': weight 0 has shape (3, 3, 3, 32) in the file, (3, 3, 3, 16) in the model" \
        summary --model mobilenet_v2 --alpha 0.35 --input 224x224x3 \
        --weights "$weights/mobilenet_v2_1.0_224_no_top.h5"
else
    echo "note: $weights not found; --weights checks skipped"
fi
expect_err "missing.h5: No such file or directory" summary --model vgg16 --weights "$tmp/missing.h5"
expect_err "--alpha applies to mobilenet_v2 only" summary --model vgg16 --alpha 0.5

check_precision evaluate "$tmp/m2/model.h5" "$tmp/m2/data/test"
out=$("$bin" evaluate "$tmp/m2/model.h5" "$tmp/m2/data/test" --precision bf16)
check "bf16: accuracy line" grep -qE '^accuracy: [01]\.[0-9]{4} \(10 of 10 images, 1 steps of 20\)$' <<<"$out"

# Errors: one line on stderr, non-zero exit.
png=$tmp/m2/data/test/dark/img_000.png
mkdir -p "$tmp/wrong/dark" "$tmp/wrong/cats"
expect_err "missing.h5: No such file or directory" evaluate "$tmp/missing.h5" "$tmp/m2/data/test"
expect_err "img_000.png: not an imgclass model file (not an HDF5 file)" evaluate "$png" "$tmp/m2/data/test"
expect_err "weights.h5: not an imgclass model file (a weights-only HDF5 file" evaluate "$tmp/m2/weights.h5" "$tmp/m2/data/test"
expect_err "nometa.h5: not an imgclass model file (a Keras model without imgclass's class names" evaluate "$tmp/m2/nometa.h5" "$tmp/m2/data/test"
expect_err "are not the model's classes (dark, light): unknown folders: cats; missing: light" evaluate "$tmp/m2/model.h5" "$tmp/wrong"
expect_err "nodir: No such file or directory" evaluate "$tmp/m2/model.h5" "$tmp/nodir"
expect_err "is not a directory" evaluate "$tmp/m2/model.h5" "$png"
expect_err "give a model file and a directory" evaluate "$tmp/m2/model.h5"
expect_err "--batch-size needs a positive number" evaluate "$tmp/m2/model.h5" "$tmp/m2/data/test" --batch-size 0
expect_err "not an imgclass model file (not an HDF5 file)" summary "$png"
expect_err "give a model file or --model/--base, not both" summary "$tmp/m2/model.h5" --model vgg16
exit $fail
