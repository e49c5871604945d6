#!/usr/bin/env bash
# test_example_train.sh - examples/train_callbacks.c on a generated photo folder: it trains
# with augmentation and Keras's callbacks, writes the best epoch's model and the history;
# stopped after 7 steps (the Ctrl-C flag) it exits 130 with a checkpoint, and run again it
# continues to the history and model of a run that was never stopped, byte for byte.
# Usage: test_example_train.sh IMGCLASS SOURCE_DIR (the example sits beside IMGCLASS).
set -u
EX="$(dirname "$1")/train_callbacks"
GEN=${IC_FIXTURE_GEN:-}
[ -x "$EX" ] || { echo "SKIP: $EX not built"; exit 77; }
[ -x "$GEN" ] || { echo "SKIP: IC_FIXTURE_GEN not set"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
die() { echo "FAIL: $*"; fail=$((fail + 1)); }
export IC_NUM_THREADS=2
"$GEN" "$T/data" --size 48 --train 12 --val 6 --test 2 >/dev/null || { echo "FAIL: fixture"; exit 1; }

"$EX" "$T/data" "$T/whole" --epochs 4 --size 48 > "$T/whole.out" 2>&1
rc=$?; [ $rc -eq 0 ] || die "uninterrupted run: exit $rc: $(cat "$T/whole.out")"
grep -q "^Epoch 4/4 - loss: " "$T/whole.out" || die "no 4th epoch line"
grep -q "^Best val_loss [0-9.]* at epoch [1-4] " "$T/whole.out" || die "no best epoch line"
[ -s "$T/whole/best.h5" ] && [ -s "$T/whole/model.h5" ] || die "no best.h5 / model.h5"
[ "$(wc -l < "$T/whole/history.csv")" -eq 5 ] || die "history.csv has not 4 epochs"
[ ! -e "$T/whole/checkpoint.json" ] || die "a finished run left its checkpoint record"

"$EX" "$T/data" "$T/cut" --epochs 4 --size 48 --stop-after 7 > "$T/cut1.out" 2>&1
rc=$?; [ $rc -eq 130 ] || die "interrupted run: exit $rc, want 130: $(cat "$T/cut1.out")"
grep -q "interrupted after epoch 3 step 1; run the same command again" "$T/cut1.out" \
    || die "no interrupt message: $(tail -2 "$T/cut1.out")"
[ -s "$T/cut/checkpoint.json" ] || die "no checkpoint record after the interrupt"
"$EX" "$T/data" "$T/cut" --epochs 4 --size 48 > "$T/cut2.out" 2>&1
rc=$?; [ $rc -eq 0 ] || die "resumed run: exit $rc: $(cat "$T/cut2.out")"
grep -q "^Resuming: 2 epochs done, 1 steps into the next" "$T/cut2.out" \
    || die "no resume line: $(head -2 "$T/cut2.out")"
cmp -s "$T/whole/history.csv" "$T/cut/history.csv" || die "resumed history differs: $(diff "$T/whole/history.csv" "$T/cut/history.csv")"
cmp -s "$T/whole/history.json" "$T/cut/history.json" || die "resumed history.json differs"
[ "$(grep '^Best' "$T/whole.out")" = "$(grep '^Best' "$T/cut2.out" | sed "s|/cut/|/whole/|")" ] \
    || die "best epoch differs: $(grep '^Best' "$T/whole.out" "$T/cut2.out")"
if [ $fail -eq 0 ]; then echo "test_example_train: ok"; else exit 1; fi
