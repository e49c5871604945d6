# lib.sh - the fixture test_cli_evaluate.sh and test_cli_predict.sh share; sourced, not a
# test (ctest runs tests/cli/test_*.sh only). It reads the arguments into bin and src, skips
# (exit 77) without the ic_make_model helper (IC_MAKE_MODEL, set by tests/CMakeLists.txt),
# makes a temporary folder $tmp (removed on exit) and has ic_make_model train two tiny
# models on 32x32 PNGs there: $tmp/m2 (dark/light) and $tmp/m3 (dark/grey/light), each a
# folder with model.h5, weights.h5, nometa.h5 and data/{train,test}.
# Usage: . lib.sh NAME IMGCLASS SOURCE_DIR   (NAME names the temporary folder)
name=$1
bin=$2
src=$3
fail=0
if [ -z "${IC_MAKE_MODEL:-}" ] || [ ! -x "$IC_MAKE_MODEL" ]; then
    echo "SKIP: IC_MAKE_MODEL (the ic_make_model helper) not set"; exit 77
fi
export IC_NUM_THREADS=${IC_NUM_THREADS:-2}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ic_cli_$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
expect_err() { # expected-substring, args...: one line on stderr, non-zero exit
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -qF -- "$want" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}
# check_help CMD: its --help has examples and imgclass --help lists it.
check_help() {
    local out
    out=$("$bin" "$1" --help); check "$1 help has examples" grep -q 'examples:' <<<"$out"
    check "$1 help has --precision" grep -q '^  --precision P ' <<<"$out"
    out=$("$bin" --help); check "help lists $1" grep -q "^  $1 " <<<"$out"
}
# check_precision CMD ARGS...: CMD ARGS --precision bf16 succeeds; where bf16 is not native
# (DNNL_MAX_CPU_ISA=AVX512_CORE) it runs in fp32 after exactly one notice on stderr; a bad
# value is a one-line error that names the option.
check_precision() {
    local cmd=$1; shift
    local err rc
    "$bin" "$cmd" "$@" --precision bf16 >/dev/null 2>"$tmp/precision.err"; rc=$?
    check "$cmd --precision bf16 exits 0" test $rc -eq 0
    err=$(DNNL_MAX_CPU_ISA=AVX512_CORE "$bin" "$cmd" "$@" --precision bf16 2>&1 >/dev/null); rc=$?
    check "$cmd --precision bf16 without native bf16 exits 0" test $rc -eq 0
    check "$cmd --precision bf16 without native bf16: one notice, nothing else" test "$err" = \
        "imgclass: notice: this CPU has no native bf16 (AVX512_BF16 or AMX); running in fp32"
    expect_err "imgclass $cmd: --precision must be fp32 or bf16, got 'fp16'" "$cmd" "$@" \
        --precision fp16
}
"$IC_MAKE_MODEL" "$tmp/m2" >/dev/null || { echo "FAILED: ic_make_model"; exit 1; }
"$IC_MAKE_MODEL" "$tmp/m3" --classes 3 >/dev/null || { echo "FAILED: ic_make_model 3"; exit 1; }
