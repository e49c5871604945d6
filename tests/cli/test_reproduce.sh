#!/bin/bash
# test_reproduce.sh IMGCLASS SOURCE_DIR - scripts/reproduce.sh (`make reproduce`)
# end to end on a tiny generated dataset (tests/cli/fixture_gen.c) with the real
# MobileNetV2 weights from ../shared (skipped without them), 1-2 epochs of 1-2 steps at
# 32x32: every technique runs, each run leaves its model, last-epoch model, history, plot,
# log and two test reports, the summary has one line per run with both test accuracies and
# the selected epoch, fine-tuning starts from feature extraction's last epoch, and
# REPRO_SELECT=none / a bad REPRO_SELECT / an old summary layout behave as documented.
set -u
IMGCLASS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "${2:-.}" && pwd)
GEN=${IC_FIXTURE_GEN:-}
if [ -z "$GEN" ] || [ ! -x "$GEN" ]; then
    echo "skip: IC_FIXTURE_GEN (the ic_fixture_gen helper) is not set"
    exit 77
fi
W=${IC_SHARED_DIR:-$SRC/../shared}/weights
for f in mobilenet_v2_1.0_224_no_top.h5 mobilenet_v2_0.35_224_no_top.h5; do
    if [ ! -f "$W/$f" ]; then
        echo "skip: $W/$f not found (reproduce.sh needs the MobileNetV2 weights of ../shared)"
        exit 77
    fi
done
if "$IMGCLASS" weights path vgg16_notop >/dev/null 2>&1; then
    echo "skip: VGG16 weights are cached here, so reproduce.sh would run VGG16 (too slow for a test)"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Under AddressSanitizer builds: fontconfig (behind the plots' text), libgomp and oneDNN
# keep one-time allocations that are not ours to report (as scripts/lsan.supp and
# test_cli_plot.sh say; a suppressions= given here replaces the earlier one).
printf 'leak:libfontconfig\nleak:libgomp\nleak:libdnnl\n' >"$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
"$GEN" "$T/data" --size 32 --train 4 --val 3 --test 3 >/dev/null || { echo "FAIL: ic_fixture_gen"; exit 1; }

# repro OUT [VAR=VALUE...] -- TECHNIQUES: the script on the fixture, output to OUT.log
repro() {
    local out=$1
    shift
    env IMGCLASS_DATA="$T/data" REPRO_OUT="$out" REPRO_THREADS=2 REPRO_SIZES=32 REPRO_GAP=0 \
        REPRO_STEPS=2 REPRO_SCRATCH_EPOCHS=1 REPRO_FEATURES_EPOCHS=2 REPRO_AUG_EPOCHS=1 \
        REPRO_FINETUNE_EPOCHS=2 "$@"
}
build=$(dirname "$IMGCLASS")
repro "$T/r" bash "$SRC/scripts/reproduce.sh" "$build" >"$T/r.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { fail "reproduce.sh exited $rc"; tail -20 "$T/r.log"; }
S=$T/r/summary.tsv
[ "$(head -1 "$S")" = "$(printf 'technique\tname\tepochs\tsteps\tbest_val_acc\ttest_acc_last\tselected_epoch\ttest_acc_selected\twall_s')" ] ||
    fail "summary header: $(head -1 "$S")"
want="scratch/smallcnn_150 features/mnv2_1.0_32_cached features/mnv2_0.35_32_cached
      features/mnv2_1.0_32_aug finetune/mnv2_1.0_32_from_block_13_expand"
[ "$(tail -n +2 "$S" | cut -f1,2 | tr '\t' / | tr '\n' ' ')" = "$(echo $want) " ] ||
    fail "summary runs: $(tail -n +2 "$S" | cut -f1,2 | tr '\n' ' ')"
for run in $want; do
    for ext in .h5 .last.h5 .history.csv .history.json .png .log .last.test.txt .best.test.txt; do
        [ -s "$T/r/$run$ext" ] || fail "$run$ext missing"
    done
    line=$(awk -F'\t' -v t="${run%%/*}" -v n="${run#*/}" '$1 == t && $2 == n' "$S")
    # both test accuracies are what the two reports say; the epoch is the log's best one
    last=$(sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$T/r/$run.last.test.txt")
    best=$(sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$T/r/$run.best.test.txt")
    epoch=$(sed -n 's/^Best epoch \([0-9]*\) (val_loss .*/\1/p' "$T/r/$run.log")
    [ -n "$last" ] && [ -n "$best" ] && [ -n "$epoch" ] || fail "$run: reports or log incomplete"
    [ "$(cut -f6,7,8 <<<"$line")" = "$(printf '%s\t%s\t%s' "$last" "$epoch" "$best")" ] ||
        fail "$run: summary '$line' against last $last, epoch $epoch, best $best"
    grep -q "^ROC AUC: " "$T/r/$run.last.test.txt" || fail "$run: no ROC AUC in the report"
done
# the selected model is the one the history says: its validation loss is the lowest
ft=$T/r/finetune/mnv2_1.0_32_from_block_13_expand
e=$(awk -F, 'NR > 1 && (m == "" || $4 < m) { m = $4; e = $1 } END { print e }' "$ft.history.csv")
grep -q "^Best epoch $e (val_loss" "$ft.log" || fail "fine-tuning: best epoch is not $e: $(grep '^Best' "$ft.log")"
grep -q "imgclass finetune $T/r/features/mnv2_1.0_32_aug.last.h5 " "$T/r.log" ||
    fail "fine-tuning did not start from the augmented run's last epoch"

# REPRO_SELECT=none: the last epoch only, in NAME.h5; an older summary moves aside
printf 'technique\tname\tepochs\tsteps\tbest_val_acc\ttest_acc\twall_s\nscratch\tx\t1\t1\t0.5\t0.5\t1\n' \
    >"$T/n.summary"
mkdir -p "$T/n" && cp "$T/n.summary" "$T/n/summary.tsv"
repro "$T/n" REPRO_SELECT=none bash "$SRC/scripts/reproduce.sh" "$build" scratch >"$T/n.log" 2>&1 ||
    fail "REPRO_SELECT=none exited $?"
cmp -s "$T/n.summary" "$T/n/summary.tsv.old" || fail "the old summary was not kept as summary.tsv.old"
grep -q "had other columns; moved to" "$T/n.log" || fail "no message about the old summary"
[ -s "$T/n/scratch/smallcnn_150.h5" ] && [ ! -e "$T/n/scratch/smallcnn_150.last.h5" ] &&
    [ ! -e "$T/n/scratch/smallcnn_150.best.test.txt" ] || fail "REPRO_SELECT=none files"
[ "$(tail -1 "$T/n/summary.tsv" | cut -f7,8)" = "$(printf -- '-\t-')" ] ||
    fail "REPRO_SELECT=none summary: $(tail -1 "$T/n/summary.tsv")"

out=$(repro "$T/b" REPRO_SELECT=val_los bash "$SRC/scripts/reproduce.sh" "$build" scratch 2>&1)
rc=$?
[ $rc -eq 2 ] && grep -qx "reproduce: REPRO_SELECT must be val_loss, val_acc or none, got 'val_los'" <<<"$out" ||
    fail "bad REPRO_SELECT: rc $rc, '$out'"
[ ! -e "$T/b" ] || fail "bad REPRO_SELECT created $T/b"

if [ $failures -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "reproduce.sh: all checks passed"
