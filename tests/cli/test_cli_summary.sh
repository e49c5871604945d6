#!/usr/bin/env bash
# The imgclass command: version, help, summary tables, and one-line errors with
# non-zero exit codes. Usage: test_cli_summary.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
fail=0
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
out=$("$bin" --version) ; check "version" grep -q '^imgclass [0-9]\+\.[0-9]\+\.[0-9]\+$' <<<"$out"
out=$("$bin" --help) ; check "help lists summary" grep -q 'summary' <<<"$out"
out=$("$bin" summary --help) ; check "summary help has examples" grep -q 'examples:' <<<"$out"

out=$("$bin" summary --model vgg16 --input 150x150x3)
check "vgg16 rows" grep -q '^block5_pool (MaxPooling2D)          (None, 4, 4, 512)               0 ' <<<"$out"
check "vgg16 total" grep -qx 'Total params: 14,714,688' <<<"$out"
check "vgg16 80 columns" test "$(head -1 <<<"$out" | tr -d '\n' | wc -c)" -eq 80

out=$("$bin" summary --base vgg16 --head 256 --freeze-base)
check "book model total" grep -qx 'Total params: 16,812,353' <<<"$out"
check "book model trainable" grep -qx 'Trainable params: 2,097,665' <<<"$out"
check "book model nested row" grep -q '^vgg16 (Model) ' <<<"$out"

out=$("$bin" summary --base vgg16 --unfreeze-from block5_conv1)
check "unfreeze from block5" grep -qx 'Trainable params: 9,177,089' <<<"$out"

# Keras applications' pooling='avg' and a linear classifier on the pooled features:
# 1280 features x 1 unit + bias = 1,281 trainable
out=$("$bin" summary --base mobilenet_v2 --pooling avg --head 0 --freeze-base --input 224x224x3)
check "pooled base: vector output" grep -q '^mobilenetv2_1.00_224 (Model)        (None, 1280) ' <<<"$out"
check "pooled base: no Flatten" eval '! grep -q Flatten <<<"$out"'
check "pooled base: linear head" grep -qx 'Trainable params: 1,281' <<<"$out"
out=$("$bin" summary --base vgg16 --pooling max --head 64 --freeze-base)
check "max pooled vgg16 + hidden 64" grep -qx 'Trainable params: 32,897' <<<"$out"

out=$("$bin" summary --model smallcnn)
check "smallcnn total" grep -qx 'Total params: 3,453,121' <<<"$out"

# Errors: one line on stderr, non-zero exit, nothing on stdout.
expect_err() { # expected-substring, args...
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$want" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}
expect_err "unknown model 'resnet9'" summary --model resnet9
expect_err "--input needs HxWxC" summary --model vgg16 --input 150by150
expect_err "no layer named 'nope'" summary --base vgg16 --unfreeze-from nope
expect_err "too small" summary --model vgg16 --input 8x8x3
expect_err "unknown command 'sumary'" sumary
expect_err "exactly one of --model or --base" summary
exit $fail
