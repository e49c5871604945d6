#!/bin/bash
# test_cli_defaults.sh IMGCLASS SOURCE_DIR - the defaults of `imgclass train` on a
# pretrained base work without flags: on a subset of the real Dogs vs Cats photos with the
# real MobileNetV2 weights (../shared; skipped without it), `--cache-features` with no
# preprocessing or learning-rate flag reaches an accuracy on held-out photos that the
# former defaults (rescale 1/255, RMSprop 1e-3: a model that collapses to one output,
# 0.50) cannot; the run says what it chose; the former defaults, given explicitly, get the
# collapse warning and the preprocessing note; an explicit --rescale alone means no
# preprocessing; summary shows the saved choice; from scratch keeps Keras's defaults; and
# finetune's default rate is the book's.
set -u
IMGCLASS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "${2:-.}" && pwd)
SHARED=${IC_SHARED_DIR:-$SRC/../shared}
W=$SHARED/weights/mobilenet_v2_1.0_224_no_top.h5
PHOTOS=$SHARED/data/cats_and_dogs_small
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
run() { # run NAME CMD...: stdout to NAME.out, stderr to NAME.err, status to $rc
    local name=$1
    shift
    "$@" >"$name.out" 2>"$name.err"
    rc=$?
}
ok() { [ "$rc" = 0 ] || { fail "$1: exit status $rc"; tail -5 "$1.err" "$1.out"; }; }
has() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2'"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$1 has '$2'"; }

# A subset of the book's split: 100 + 100 training photos, 50 + 50 validation, 100 + 100
# held out (from the test split).
subset() { # subset SPLIT FIRST COUNT OUT
    for c in cat dog; do
        mkdir -p "data/$4/${c}s"
        for i in $(seq "$2" $(($2 + $3 - 1))); do
            ln -s "$PHOTOS/$1/${c}s/$c.$i.jpg" "data/$4/${c}s/$c.$i.jpg"
        done
    done
}
subset train 1 100 train
subset validation 1001 50 validation
subset test 1501 100 test

acc() { sed -n 's/^accuracy: *\([0-9.]*\).*/\1/p' "$1"; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# 1. The command a new user types: no preprocessing, rescale or learning-rate flag.
run new "$IMGCLASS" train data -o new.h5 --base mobilenet_v2 --alpha 1.0 --weights "$W" \
    --cache-features --epochs 5 --target-size 224x224
ok new
has new.out "Preprocessing: tf, no rescale (auto: the base's preprocess_input"
has new.out "Optimizer: RMSprop, learning rate 2e-05 (the default on a pretrained base"
lacks new.out "warning:"
lacks new.out "note:"
run new_eval "$IMGCLASS" evaluate new.h5 data/test
ok new_eval
a=$(acc new_eval.out)
# MobileNetV2's features separate these photos at about 0.98; a collapsed model is at 0.50
at_least "$a" 0.93 || fail "defaults: held-out accuracy $a, want >= 0.93"
echo "defaults: held-out accuracy $a"
run new_summary "$IMGCLASS" summary new.h5
has new_summary.out "preprocessing: tf |"

# 2. The former defaults, given explicitly: the model collapses, and the run says so.
run old "$IMGCLASS" train data -o old.h5 --base mobilenet_v2 --alpha 1.0 --weights "$W" \
    --cache-features --epochs 2 --target-size 224x224 --preprocess none --rescale 1/255 \
    --lr 1e-3
ok old
has old.out "Preprocessing: none, rescale 1/255 (as given)"
has old.out "note: mobilenet_v2's ImageNet weights were trained with --preprocess tf"
has old.out "warning: epoch 1: the model gives every validation image the same output"
has old.out "try a lower --lr (this run: 0.001, e.g. 0.0001)"
[ "$(grep -c 'warning:' old.out)" = 1 ] || fail "the collapse warning is printed once"
run old_eval "$IMGCLASS" evaluate old.h5 data/test
ok old_eval
a=$(acc old_eval.out)
at_least 0.6 "$a" || fail "former defaults: held-out accuracy $a; the test no longer tells them apart"

# 3. --rescale alone is the book's VGG16 recipe: no preprocess_input (noted), and the
#    learning-rate default is untouched by it. --preprocess auto is the default spelled out.
run resc "$IMGCLASS" train data -o resc.h5 --base mobilenet_v2 --weights "$W" --cache-features \
    --epochs 1 --target-size 96x96 --rescale 1/255 --preprocess auto --optimizer adam
ok resc
has resc.out "Preprocessing: none, rescale 1/255 (as given)"
has resc.out "note: mobilenet_v2's ImageNet weights were trained with --preprocess tf"
has resc.out "Optimizer: Adam, learning rate 2e-05 (the default on a pretrained base"
run resc_summary "$IMGCLASS" summary resc.h5
has resc_summary.out "preprocessing: none, rescale 1/255 |"

# 4. finetune: the book's fine-tuning rate; SGD keeps a rate 100x larger.
run ft "$IMGCLASS" finetune new.h5 data -o ft.h5 --unfreeze-from block_16_expand --epochs 1 \
    --steps-per-epoch 1 --validation-steps 1
ok ft
has ft.out "Optimizer: RMSprop, learning rate 1e-05 (the default on a pretrained base: the book's rate for fine-tuning"
run ft_sgd "$IMGCLASS" finetune new.h5 data -o ft_sgd.h5 --epochs 1 --steps-per-epoch 1 \
    --validation-steps 1 --optimizer sgd
ok ft_sgd
has ft_sgd.out "Optimizer: SGD, learning rate 0.001 (the default on a pretrained base"

# 5. Errors name the choices.
run bad "$IMGCLASS" train data -o bad.h5 --preprocess bgr
[ "$rc" = 2 ] || fail "bad --preprocess: exit status $rc, want 2"
has bad.err "--preprocess must be auto, none, caffe, tf or torch, got 'bgr'"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
