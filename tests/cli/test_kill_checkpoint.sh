#!/bin/bash
# test_kill_checkpoint.sh IMGCLASS SOURCE_DIR - crash safety of model files and checkpoints.
# 1. The kill driver (tests/cli/kill_driver.c, $IC_KILL_DRIVER) loads MODEL.h5 and rewrites
#    it in a loop (ic_model_save, one training step); it is SIGKILLed a random 0-50 ms after
#    the load, 200 times (KILLS overrides). Each next driver must load what the kill left
#    (ic_model_load), and at most one temporary file ".MODEL.h5.tmp.*" (the killed
#    writer's) may be left: each save removes those of dead writers. At the end the driver's
#    check mode (finite weights) and `imgclass summary MODEL.h5` read it.
# 2. `imgclass train` itself is SIGKILLed at random moments a few times while it writes
#    per-epoch checkpoints; `imgclass train --resume` must then continue from the last
#    checkpoint and finish.
set -u
IMGCLASS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DRV=${IC_KILL_DRIVER:-}
GEN=${IC_FIXTURE_GEN:-}
if [ -z "$DRV" ] || [ ! -x "$DRV" ] || [ -z "$GEN" ] || [ ! -x "$GEN" ]; then
    echo "skip: IC_KILL_DRIVER / IC_FIXTURE_GEN (test helpers) are not set"
    exit 77
fi
KILLS=${KILLS:-200}
export IC_NUM_THREADS=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
START=$SECONDS
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# ---- 1. the driver, killed mid-save ----
"$DRV" init MODEL.h5 || { echo "FAIL: kill_driver init"; exit 1; }
mkfifo ready pause || exit 1
exec 9<>pause # never written: `read -t S -u 9` sleeps S seconds without a process
shopt -s nullglob dotglob
midsave=0
for ((i = 1; i <= KILLS; i++)); do
    "$DRV" loop MODEL.h5 >ready 2>loop.err &
    pid=$!
    # "ready" comes once MODEL.h5 (as the previous kill left it) has loaded
    line=
    read -r line <ready
    if [ "$line" != ready ]; then
        wait "$pid"
        fail "kill $i: MODEL.h5 does not load after the previous kill: $(cat loop.err)"
        break
    fi
    read -r -t "$(printf '0.%03d' $((RANDOM % 51)))" -u 9
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    st=$?
    if [ "$st" != 137 ]; then # the loop never ends by itself
        fail "kill $i: the writer exited with status $st before the kill: $(cat loop.err)"
        break
    fi
    tmps=(.MODEL.h5.tmp.*)
    n=${#tmps[@]}
    [ "$n" -le 1 ] || fail "kill $i: $n temporary files next to MODEL.h5 (at most 1 expected)"
    [ "$n" = 1 ] && midsave=$((midsave + 1))
done
shopt -u nullglob dotglob
n=$("$DRV" check MODEL.h5 2>check.err) || fail "MODEL.h5 does not load at the end: $(cat check.err)"
echo "$KILLS kills, $midsave of them during a save (a temporary file was left), $((SECONDS - START)) s"
[ "$midsave" -gt 0 ] || fail "no kill landed during a save"
"$IMGCLASS" summary MODEL.h5 >summary.out 2>&1 || fail "imgclass summary MODEL.h5: $(tail -2 summary.out)"
grep -q "Total params" summary.out || fail "imgclass summary MODEL.h5 printed no table"

# ---- 2. imgclass train killed, then --resume ----
"$GEN" data >/dev/null || { echo "FAIL: ic_fixture_gen"; exit 1; }
S=(--target-size 48x48 --batch-size 4 --steps-per-epoch 2 --seed 7)
"$IMGCLASS" train data -o c.h5 "${S[@]}" --epochs 1 >t0.out 2>&1 || fail "first epoch: $(tail -2 t0.out)"
for ((k = 1; k <= 5; k++)); do
    "$IMGCLASS" train data -o c.h5 "${S[@]}" --epochs 1000 --resume >tk.out 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $((200 + RANDOM % 600)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    "$IMGCLASS" summary c.h5 >s.out 2>&1 || fail "kill $k: c.h5 does not load: $(tail -2 s.out)"
done
epochs=$(sed -n 's/.*"epochs_done":[[:space:]]*\([0-9]*\).*/\1/p' c.h5.ckpt.json | head -1)
want=$(( ${epochs:-0} + 1 ))
"$IMGCLASS" train data -o c.h5 "${S[@]}" --epochs "$want" --resume >r.out 2>&1 ||
    fail "resume after the kills (epochs done ${epochs:-?}): $(tail -3 r.out)"
grep -Eq "^Epoch $want/$want" r.out || fail "resume did not run epoch $want: $(tail -3 r.out)"

echo "$((SECONDS - START)) s"
if [ $failures -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all passed"
