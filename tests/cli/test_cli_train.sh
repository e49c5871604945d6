#!/bin/bash
# test_cli_train.sh IMGCLASS SOURCE_DIR - `imgclass train` and `imgclass finetune` on a tiny
# generated dataset (tests/cli/fixture_gen.c, found through $IC_FIXTURE_GEN): the progress
# format off a terminal, history files, learning, --resume at an epoch boundary and after
# Ctrl-C in the middle of an epoch (bit-identical to an uninterrupted run), fine-tuning a
# nested base, --cache-features, NaN stops, --save-best / --early-stopping, bad files,
# --precision (and its fp32 fallback notice), validation on stored features of a frozen
# base (the same history as without) and the one-line errors.
set -u
IMGCLASS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "${2:-.}" && pwd)
GEN=${IC_FIXTURE_GEN:-}
if [ -z "$GEN" ] || [ ! -x "$GEN" ]; then
    echo "skip: IC_FIXTURE_GEN (the ic_fixture_gen helper) is not set"
    exit 77
fi
export IC_NUM_THREADS=2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
START=$SECONDS

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
# run NAME CMD...: runs CMD, stdout to NAME.out, stderr to NAME.err, status to $rc
run() {
    local name=$1
    shift
    "$@" >"$name.out" 2>"$name.err"
    rc=$?
}
expect_rc() { # expect_rc NAME WANT
    [ "$rc" = "$2" ] || {
        fail "$1: exit status $rc, want $2"
        sed 's/^/    /' "$1.err" | tail -5
    }
}
expect_in() { # expect_in NAME FILE PATTERN (extended regex)
    grep -Eq -- "$3" "$2" || {
        fail "$1: no /$3/ in $2:"
        sed 's/^/    /' "$2" | tail -5
    }
}
# the column of the last row of a history CSV: col FILE NAME
col() {
    awk -F, -v c="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==c) k=i} END{print $k}' "$1"
}
# same_models A B: the weights (and everything else) of two model files are identical
same_models() {
    if command -v h5diff >/dev/null 2>&1; then
        h5diff -q "$1" "$2" >/dev/null 2>&1 || fail "$1 and $2 differ (h5diff)"
    fi
}

"$GEN" data >/dev/null || { echo "FAIL: ic_fixture_gen"; exit 1; }

# ---- help ----
for c in train finetune; do
    run help_$c "$IMGCLASS" $c --help
    expect_rc help_$c 0
    expect_in help_$c help_$c.out '^examples:'
done

# ---- smallcnn: format, history, learning ----
S=(--target-size 48x48 --batch-size 4 --steps-per-epoch 16 --augment --seed 7)
run m "$IMGCLASS" train data -o m.h5 "${S[@]}" --epochs 2
expect_rc m 0
expect_in m m.out '^Found 24 images belonging to 2 classes\.$'
expect_in m m.out '^Found 12 images belonging to 2 classes\.$'
expect_in m m.out '^Epoch 1/2$'
# from scratch: no preprocess_input, rescale 1/255, Keras's learning rate; said up front
expect_in m m.out '^Preprocessing: none, rescale 1/255 \(auto: no pretrained weights\)$'
expect_in m m.out "^Optimizer: RMSprop, learning rate 0.001 \(Keras's default\)$"
[ "$(head -2 m.out | cut -c1-14 | tr '\n' ' ')" = "Preprocessing: Optimizer: RMS " ] ||
    fail "smallcnn: the run's first lines are not its preprocessing and optimizer"
expect_in m m.out '^Epoch 2/2$'
LINE='^16/16 \[==============================\] - [0-9]+s [0-9]+(s|ms|us)/step - loss: [0-9.e+-]+ - acc: [0-9.]+ - val_loss: [0-9.e+-]+ - val_acc: [0-9.]+$'
n=$(grep -Ec "$LINE" m.out)
[ "$n" = 2 ] || fail "smallcnn: $n progress lines match the Keras format, want 2"
grep -q $'\r' m.out && fail "smallcnn: carriage returns in the output off a terminal"
[ -f m.h5 ] || fail "smallcnn: no m.h5"
[ "$(wc -l <m.history.csv)" = 3 ] || fail "smallcnn: m.history.csv should have a header + 2 rows"
head -1 m.history.csv | grep -q '^epoch,loss,acc,val_loss,val_acc$' || fail "smallcnn: CSV header"
grep -q '"val_acc"' m.history.json || fail "smallcnn: m.history.json"
va=$(col m.history.csv val_acc)
awk -v v="$va" 'BEGIN{exit !(v >= 0.9)}' || fail "smallcnn: val_acc $va after 2 epochs, want >= 0.9"
l1=$(awk -F, 'NR==2{print $2}' m.history.csv)
l2=$(awk -F, 'NR==3{print $2}' m.history.csv)
awk -v a="$l1" -v b="$l2" 'BEGIN{exit !(b < a)}' || fail "smallcnn: loss did not fall ($l1 -> $l2)"
if "$IMGCLASS" summary --help 2>/dev/null | grep -q 'MODEL.h5'; then
    run sum "$IMGCLASS" summary m.h5
    expect_rc sum 0
    expect_in sum sum.out 'dark, light'
fi

# ---- --resume at an epoch boundary == uninterrupted ----
run u "$IMGCLASS" train data -o u.h5 "${S[@]}" --epochs 3
expect_rc u 0
# ---- the loader's threads change nothing: --workers 0 (inline) and 3 give the same run ----
for w in 0 3; do
    run w$w "$IMGCLASS" train data -o w$w.h5 "${S[@]}" --epochs 3 --workers $w
    expect_rc w$w 0
    cmp -s u.history.csv w$w.history.csv || fail "--workers $w: history differs from the default's"
done
run wneg "$IMGCLASS" train data -o wneg.h5 "${S[@]}" --workers -1
expect_rc wneg 2
expect_in wneg wneg.err "--workers needs a number >= 0, got '-1'"
run r "$IMGCLASS" train data -o m.h5 "${S[@]}" --epochs 3 --resume
expect_rc r 0
expect_in r r.out '^Resuming from m.h5: 2 epochs done$'
expect_in r r.out '^Epoch 3/3$'
cmp -s u.history.csv m.history.csv || {
    fail "resume: history differs from the uninterrupted run"
    diff u.history.csv m.history.csv | sed 's/^/    /'
}
same_models u.h5 m.h5
run again "$IMGCLASS" train data -o m.h5 "${S[@]}" --epochs 3 --resume
expect_rc again 0
expect_in again again.out 'already holds 3 epochs'
run difflr "$IMGCLASS" train data -o m.h5 "${S[@]}" --epochs 4 --lr 0.1 --resume
expect_rc difflr 2
expect_in difflr difflr.err '^imgclass train: --resume: --lr differs'
run norec "$IMGCLASS" train data -o nothere.h5 --resume
expect_rc norec 1
expect_in norec norec.err 'cannot read the checkpoint record nothere.h5.ckpt.json'

# ---- Ctrl-C in the middle of an epoch, then --resume == uninterrupted ----
"$IMGCLASS" train data -o c.h5 "${S[@]}" --epochs 3 >c.out 2>c.err &
pid=$!
for _ in $(seq 1 600); do
    grep -q '^Epoch 2/3$' c.out 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
expect_rc c 130
expect_in c c.err '^imgclass train: interrupted after epoch 2 step [0-9]+; resume with: imgclass train data -o c.h5 .*--resume$'
grep -q '"step":[[:space:]]*[1-9]' c.h5.ckpt.json || fail "ctrl-c: the checkpoint record has no steps into epoch 2"
[ "$(wc -l <c.history.csv)" = 2 ] || fail "ctrl-c: c.history.csv should have only epoch 1"
if "$IMGCLASS" summary --help 2>/dev/null | grep -q 'MODEL.h5'; then
    run csum "$IMGCLASS" summary c.h5
    expect_rc csum 0
fi
resume_cmd=$(sed -n 's/^imgclass train: interrupted after .*; resume with: imgclass //p' c.err)
run cr "$IMGCLASS" ${resume_cmd}
expect_rc cr 0
expect_in cr cr.out '^Resuming from c.h5: 1 epoch done, [0-9]+ steps into epoch 2$'
cmp -s u.history.csv c.history.csv || {
    fail "ctrl-c resume: history differs from the uninterrupted run"
    diff u.history.csv c.history.csv | sed 's/^/    /'
}
same_models u.h5 c.h5

# ---- a pretrained-style base (random weights), fine-tuning ----
V=(--base vgg16 --weights none --target-size 32x32 --head 16 --batch-size 8 --epochs 1)
run v "$IMGCLASS" train data -o v.h5 "${V[@]}" --freeze-base
expect_rc v 0
expect_in v v.out '^Trainable params: 8,225 of 14,722,913$'
run ft "$IMGCLASS" finetune v.h5 data --unfreeze-from block5_conv1 --lr 1e-5 --epochs 1 \
    --batch-size 8 -o ft.h5
expect_rc ft 0
expect_in ft ft.out '^Trainable params: 7,087,649 of 14,722,913$'
[ -f ft.h5 ] && [ "$(wc -l <ft.history.csv)" = 2 ] || fail "finetune: ft.h5 / ft.history.csv"
run ftbad "$IMGCLASS" finetune v.h5 data --unfreeze-from block9_conv1 -o ft2.h5
expect_rc ftbad 2
expect_in ftbad ftbad.err "^imgclass finetune: --unfreeze-from: no layer 'block9_conv1' in the base vgg16 \(its layers: .*block5_conv1"
run ftnobase "$IMGCLASS" finetune m.h5 data -o ft3.h5
expect_rc ftnobase 1
expect_in ftnobase ftnobase.err 'has no nested base model'
# --freeze-bn (the default for bases with BatchNormalization) / --train-bn: a structural
# check on MobileNetV2 0.35 at 32x32 (one step): 13 BN layers from block_13_expand on keep
# gamma and beta (7,920 parameters) frozen unless --train-bn
run mb "$IMGCLASS" train data -o mb.h5 --base mobilenet_v2 --alpha 0.35 --weights none \
    --target-size 32x32 --head 8 --batch-size 8 --epochs 1 --steps-per-epoch 1 --freeze-base
expect_rc mb 0
for m in default freeze-bn train-bn; do
    flag=(--$m)
    [ $m = default ] && flag=()
    run mb_$m "$IMGCLASS" finetune mb.h5 data --unfreeze-from block_13_expand --lr 1e-5 \
        --epochs 1 --steps-per-epoch 1 --validation-steps 1 --batch-size 8 "${flag[@]}" -o mb_$m.h5
    expect_rc mb_$m 0
done
expect_in mb_default mb_default.out '^Trainable params: 313,025 of 420,465$'
expect_in mb_default mb_default.out '^BatchNormalization: 13 unfrozen layers kept frozen'
expect_in mb_freeze-bn mb_freeze-bn.out '^Trainable params: 313,025 of 420,465$'
expect_in mb_train-bn mb_train-bn.out '^Trainable params: 320,945 of 420,465$'
run fbtrain "$IMGCLASS" train data -o x.h5 --freeze-bn
expect_rc fbtrain 2

# ---- --cache-features ----
run cf "$IMGCLASS" train data -o cf.h5 --base vgg16 --weights none --cache-features \
    --target-size 32x32 --head 16 --batch-size 8 --epochs 1 --lr 1e-4
expect_rc cf 0
expect_in cf cf.out 'Augmentation is off with --cache-features'
expect_in cf cf.out '^Extracting features of 24 training images'
last=$(grep -E '^3/3 ' cf.out | tail -1 | sed -n 's/.* - val_loss: \([^ ]*\) - val_acc: \([^ ]*\).*/\1 \2/p')
check=$(sed -n 's/^Check: .* val_loss: \([^ ]*\) - val_acc: \([^ ]*\)$/\1 \2/p' cf.out)
[ -n "$last" ] && [ "$last" = "$check" ] ||
    fail "cache-features: the saved model gives '$check' on the validation images, training said '$last'"
if "$IMGCLASS" summary --help 2>/dev/null | grep -q 'MODEL.h5'; then
    run cfsum "$IMGCLASS" summary cf.h5
    expect_rc cfsum 0
    run vsum "$IMGCLASS" summary v.h5
    grep -E '^[a-z].*\((Model|Flatten|Dense)\)' cfsum.out | awk '{print $1, $2}' >cf.layers
    grep -E '^[a-z].*\((Model|Flatten|Dense)\)' vsum.out | awk '{print $1, $2}' >v.layers
    [ -s cf.layers ] && cmp -s cf.layers v.layers || fail "cache-features: layer names differ from the uncached model"
fi
# the base's pooling and no hidden layer (--pooling avg --head 0): the cached features are
# vectors, and the saved model gives what training reported
run cfgap "$IMGCLASS" train data -o cfgap.h5 --base vgg16 --weights none --cache-features \
    --pooling avg --head 0 --target-size 32x32 --batch-size 8 --epochs 1 --lr 1e-3
expect_rc cfgap 0
expect_in cfgap cfgap.out '^Trainable params: 513 of 14,715,201 \(the head, on features \([0-9]+, 512\)\)$'
last=$(grep -E '^3/3 ' cfgap.out | tail -1 | sed -n 's/.* - val_loss: \([^ ]*\) - val_acc: \([^ ]*\).*/\1 \2/p')
check=$(sed -n 's/^Check: .* val_loss: \([^ ]*\) - val_acc: \([^ ]*\)$/\1 \2/p' cfgap.out)
[ -n "$last" ] && [ "$last" = "$check" ] ||
    fail "cache-features --pooling avg: the saved model gives '$check', training said '$last'"
run gapbad "$IMGCLASS" train data -o x.h5 --base vgg16 --weights none --pooling mean
expect_rc gapbad 2
expect_in gapbad gapbad.err "^imgclass train: --pooling must be none, avg or max, got 'mean'"
run gapnobase "$IMGCLASS" train data -o x.h5 --pooling avg
expect_rc gapnobase 2
expect_in gapnobase gapnobase.err 'need --base'
# --interpolation bilinear is saved with the model, and evaluate resizes the same way:
# its loss on validation/ equals the last validation loss of training
run ib "$IMGCLASS" train data -o ib.h5 "${V[@]}" --freeze-base --interpolation bilinear
expect_rc ib 0
run ibsum "$IMGCLASS" summary ib.h5
expect_in ibsum ibsum.out '\| resize: bilinear \|'
run ibev "$IMGCLASS" evaluate ib.h5 data/validation
expect_rc ibev 0
want=$(grep -E '^3/3 ' ib.out | tail -1 | sed -n 's/.* - val_loss: \([^ ]*\) .*/\1/p')
got=$(sed -n 's/^loss: *\([^ ]*\).*/\1/p' ibev.out)
[ -n "$want" ] && [ "$want" = "$got" ] ||
    fail "interpolation: evaluate gives loss '$got', training's last val_loss was '$want'"
run ibbad "$IMGCLASS" train data -o x.h5 --interpolation bicubic
expect_rc ibbad 2
expect_in ibbad ibbad.err "^imgclass train: --interpolation must be nearest or bilinear, got 'bicubic'"
run cfaug "$IMGCLASS" train data -o cf2.h5 --base vgg16 --weights none --cache-features --augment
expect_rc cfaug 2
expect_in cfaug cfaug.err 'augmentation options cannot be used with it'

# ---- NaN / Inf: stop, never overwrite a good model ----
cp v.h5 nan.h5
run nan "$IMGCLASS" finetune nan.h5 data -o nan.h5 --optimizer sgd --lr 1e6 --epochs 2 --batch-size 4
expect_rc nan 1
expect_in nan nan.err '^imgclass finetune: .*(NaN|Inf).* at epoch 1 (step|validation)'
cmp -s v.h5 nan.h5 || fail "nan: the model file was overwritten"

# ---- --save-best, --early-stopping, bad files, 3 classes ----
"$GEN" data3 --classes 3 --train 4 --val 2 --test 1 --bad 2 >/dev/null
run b3 "$IMGCLASS" train data3 -o b3.h5 --target-size 48x48 --batch-size 7 --epochs 3 \
    --save-best val_loss --early-stopping 1 --dropout 0
expect_rc b3 0
expect_in b3 b3.out '^Found 14 images belonging to 3 classes\.$'
expect_in b3 b3.out ' - skipped: 2 bad files$'
expect_in b3 b3.out '^Best epoch [1-3] \(val_loss [0-9.]+\) saved in b3.h5; the last epoch.s checkpoint is b3.last.h5$'
[ -f b3.h5 ] && [ -f b3.last.h5 ] || fail "save-best: b3.h5 and b3.last.h5"

# ---- --precision fp32|bf16 ----
# Where this CPU (or the backend) has no native bf16, the library falls back to fp32 and the
# command prints one notice line on stderr; DNNL_MAX_CPU_ISA=AVX512_CORE forces that case.
NOTICE='^imgclass: notice: this CPU has no native bf16 \(AVX512_BF16 or AMX\); running in fp32$'
P=(--target-size 48x48 --batch-size 4 --steps-per-epoch 2 --validation-steps 1 --seed 7)
notices() { grep -Ec "$NOTICE" "$1"; }
run pb "$IMGCLASS" train data -o pb.h5 "${P[@]}" --epochs 1 --precision bf16
expect_rc pb 0
if grep -q '^Precision: bf16$' pb.out; then
    native=bf16
    [ "$(notices pb.err)" = 0 ] || fail "precision bf16: a notice although bf16 ran"
else
    native='fp32 \(bf16 is not native on this CPU\)'
    expect_in pb pb.out '^Precision: fp32 \(bf16 is not native on this CPU\)$'
    [ "$(notices pb.err)" = 1 ] || fail "precision bf16 unsupported: want one notice"
fi
run pf "$IMGCLASS" train data -o pf.h5 "${P[@]}" --epochs 1
expect_rc pf 0
expect_in pf pf.out '^Precision: fp32$'
run pn env DNNL_MAX_CPU_ISA=AVX512_CORE "$IMGCLASS" train data -o pn.h5 "${P[@]}" --epochs 1 \
    --precision bf16
expect_rc pn 0
expect_in pn pn.out '^Precision: fp32 \(bf16 is not native on this CPU\)$'
[ "$(notices pn.err)" = 1 ] || fail "DNNL_MAX_CPU_ISA=AVX512_CORE: $(notices pn.err) notices, want 1"
[ "$(wc -l <pn.err)" = 1 ] || fail "DNNL_MAX_CPU_ISA=AVX512_CORE: stderr should be the notice only"
# --cache-features sets it on the base (extraction), the head and the saved model: one notice
run pcf env DNNL_MAX_CPU_ISA=AVX512_CORE "$IMGCLASS" train data -o pcf.h5 --base vgg16 \
    --weights none --cache-features --target-size 32x32 --head 16 --batch-size 8 --epochs 1 \
    --precision bf16
expect_rc pcf 0
expect_in pcf pcf.out '^Extracting features of 24 training images with vgg16 \(inference mode, fp32\)'
[ "$(notices pcf.err)" = 1 ] || fail "cache-features: $(notices pcf.err) notices, want 1"
# --resume keeps the run's precision; an explicit --precision overrides it
run pr "$IMGCLASS" train data -o pb.h5 "${P[@]}" --epochs 2 --resume
expect_rc pr 0
expect_in pr pr.out "^Precision: $native\$"
run pr2 "$IMGCLASS" train data -o pb.h5 "${P[@]}" --epochs 3 --resume --precision fp32
expect_rc pr2 0
expect_in pr2 pr2.out '^Precision: fp32$'
run pft "$IMGCLASS" finetune v.h5 data -o pft.h5 --unfreeze-from block5_conv1 --epochs 1 \
    --batch-size 8 --steps-per-epoch 1 --validation-steps 1 --precision bf16
expect_rc pft 0
expect_in pft pft.out "^Precision: $native\$"
for c in train finetune; do
    run pbad_$c "$IMGCLASS" $c data -o x.h5 --precision fp16
    expect_rc pbad_$c 2
    expect_in pbad_$c pbad_$c.err "^imgclass $c: --precision must be fp32 or bf16, got 'fp16'"
    run phelp_$c "$IMGCLASS" $c --help
    expect_in phelp_$c phelp_$c.out '^  --precision P '
done

# ---- validation through a frozen base: its features once, then the head ----
# The history must be the same, bit for bit, as with the cache off (IC_NO_VAL_CACHE=1).
# Batch size 5 gives partial batches (12 = 5 + 5 + 2), and every pass reshuffles, so later
# batches mix images of different first-pass batches; --validation-steps shorter and
# longer than a pass; bf16 (fp32 on both sides where it is not native); --save-best; a
# resumed run (the cache is rebuilt); finetune with the whole base frozen (block5_pool
# has no weights); fine-tuning, where only the frozen part of the base is cached.
VC=(--base vgg16 --weights none --freeze-base --augment --target-size 32x32 --head 16
    --batch-size 5 --lr 1e-2 --seed 3)
VC_FROZEN='^Validation: base features computed once \(base frozen\)$'
same_history() { # NAME ARGS...: the run with the cache and the run without agree
    local n=$1
    shift
    run vc_$n "$IMGCLASS" "$@" -o vc_$n.h5
    expect_rc vc_$n 0
    expect_in vc_$n vc_$n.out "${VC_MSG:-$VC_FROZEN}"
    run vu_$n env IC_NO_VAL_CACHE=1 "$IMGCLASS" "$@" -o vu_$n.h5
    expect_rc vu_$n 0
    grep -q '^Validation:' vu_$n.out && fail "val cache $n: used with IC_NO_VAL_CACHE=1"
    cmp -s vc_$n.history.csv vu_$n.history.csv || {
        fail "val cache $n: the history differs from the uncached run's"
        diff vc_$n.history.csv vu_$n.history.csv | sed 's/^/    /'
    }
}
same_history fp32 train data "${VC[@]}" --epochs 3 --save-best val_loss
same_history short train data "${VC[@]}" --epochs 3 --validation-steps 2
same_history long train data "${VC[@]}" --epochs 2 --validation-steps 5
same_history bf16 train data "${VC[@]}" --epochs 2 --precision bf16
same_history ft finetune vu_fp32.h5 data --unfreeze-from block5_pool --epochs 2 \
    --batch-size 5 --lr 1e-2
# fine-tuning: the frozen part of the base once, the rest of the model every validation
# (a partial last batch, passes that reshuffle, the first pass shorter than a pass, bf16,
# and MobileNetV2, whose residual blocks the cut must not split: block_12_depthwise's
# block adds block_11_add to its output, so the cut is block_11_add). The models learn at
# a small rate, so their outputs depend on the stored activations (a random MobileNetV2
# saturates: it needs ImageNet weights); resuming from zeros instead fails these.
run vp "$IMGCLASS" train data -o vp.h5 --base vgg16 --weights none --freeze-base \
    --target-size 32x32 --head 16 --batch-size 5 --lr 1e-4 --epochs 1 --seed 3
expect_rc vp 0
VC_MSG="^Validation: base activations at 'block4_pool' computed once \(frozen up to there\)\$" \
    same_history ftp finetune vp.h5 data --unfreeze-from block5_conv1 --epochs 3 \
    --batch-size 5 --lr 1e-4 --validation-steps 2
VC_MSG="^Validation: base activations at 'block3_pool' computed once \(frozen up to there\)\$" \
    same_history ftp16 finetune vp.h5 data --unfreeze-from block4_conv1 --epochs 2 \
    --batch-size 5 --lr 1e-4 --precision bf16
mbw="${IC_SHARED_DIR:-$SRC/../shared}/weights/mobilenet_v2_0.35_224_no_top.h5"
if [ -f "$mbw" ]; then
    run mbw "$IMGCLASS" train data -o mbw.h5 --base mobilenet_v2 --alpha 0.35 --weights "$mbw" \
        --target-size 48x48 --head 8 --batch-size 5 --epochs 1 --steps-per-epoch 2 --freeze-base
    expect_rc mbw 0
    VC_MSG="^Validation: base activations at 'block_12_add' computed once \(frozen up to there\)\$" \
        same_history ftmb finetune mbw.h5 data --unfreeze-from block_13_expand --epochs 2 \
        --steps-per-epoch 2 --batch-size 5 --lr 1e-5
    VC_MSG="^Validation: base activations at 'block_11_add' computed once \(frozen up to there\)\$" \
        same_history ftmb12 finetune mbw.h5 data --unfreeze-from block_12_depthwise --epochs 2 \
        --steps-per-epoch 2 --batch-size 5 --lr 1e-5
else
    echo "skipped: partial validation cache on MobileNetV2 ($mbw not found)"
fi
run vcr1 "$IMGCLASS" train data -o vcr.h5 "${VC[@]}" --epochs 2 --save-best val_loss
expect_rc vcr1 0
run vcr "$IMGCLASS" train data -o vcr.h5 "${VC[@]}" --epochs 3 --save-best val_loss --resume
expect_rc vcr 0
expect_in vcr vcr.out '^Validation: base features computed once \(base frozen\)$'
cmp -s vcr.history.csv vu_fp32.history.csv || fail "val cache: a resumed run's history differs"
expect_in ft ft.out "^Validation: base activations at 'block4_pool' computed once"
# no cache: a whole base being trained, no base, --cache-features (validated on features
# already)
for f in m cf; do
    grep -q '^Validation:' $f.out && fail "val cache: used in run $f"
done

# ---- one-line errors ----
mkdir -p nodata/train/a nodata/train/b
run e1 "$IMGCLASS" train nodata -o x.h5
expect_rc e1 1
expect_in e1 e1.err '^imgclass train: nodata/validation: no such directory'
run e2 "$IMGCLASS" train data -o x.h5 --base vgg99
expect_rc e2 2
expect_in e2 e2.err "^imgclass train: unknown base 'vgg99' \(expected vgg16, vgg19, mobilenet_v2 or resnet50\)"
run e3 "$IMGCLASS" train data -o x.h5 --epochs 0
expect_rc e3 2
expect_in e3 e3.err '^imgclass train: --epochs needs a number >= 1'
run e4 "$IMGCLASS" train data -o x.h5 --rescale 1/0
expect_rc e4 2
run e5 "$IMGCLASS" train data
expect_rc e5 2
expect_in e5 e5.err '^imgclass train: -o MODEL.h5 is required'
run e6 "$IMGCLASS" finetune v.h5 data -o x.h5 --target-size 32x32
expect_rc e6 2
mkdir -p home
run e7 env IMGCLASS_HOME="$T/home" IMGCLASS_WEIGHTS_URL_BASE=http://127.0.0.1:9 \
    IMGCLASS_DOWNLOAD_TIMEOUT=2 "$IMGCLASS" train data -o x.h5 --base vgg16 --target-size 32x32
expect_rc e7 1
expect_in e7 e7.err "^imgclass train: cannot get the ImageNet weights vgg16_notop: .*'imgclass weights fetch vgg16_notop'"
run e8 "$IMGCLASS" train data -o x.h5 --base vgg16 --weights nothere.h5 --target-size 32x32
expect_rc e8 1
expect_in e8 e8.err '^imgclass train: loading weights into vgg16: .*nothere.h5'
for f in e1 e2 e3 e4 e5 e6 e7 e8 pbad_train pbad_finetune; do # (the library logs "downloading URL to PATH" first)
    n=$(grep -vc '^downloading ' $f.err)
    [ "$n" = 1 ] || fail "$f: the error should be one line, got $n"
done

# sanitizer builds: a report in any run fails the test (even where failure was expected)
for f in *.err; do
    if grep -Eq 'Sanitizer|runtime error:' "$f"; then
        fail "$f: sanitizer report"
        grep -E -m3 'Sanitizer|runtime error:' "$f" | sed 's/^/    /'
    fi
done

echo "test_cli_train: $((SECONDS - START)) s"
if [ $failures -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all checks passed"
