#!/usr/bin/env bash
# `imgclass plot`: a small CSV and JSON history become PNGs of the requested size (the
# IHDR's width and height, bytes 16..23), and bad input gives one-line errors with a
# non-zero exit. Usage: test_cli_plot.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ic_cli_plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# fontconfig (behind cairo's text) keeps caches it never frees: not ours to report under
# AddressSanitizer builds (no effect elsewhere).
echo "leak:libfontconfig" >"$tmp/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/lsan.supp:print_suppressions=0"
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
# PNG width and height as "W H" from the IHDR chunk (big-endian 32-bit at offsets 16, 20).
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}
png_magic() { [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

out=$("$bin" plot --help); check "plot help has examples" grep -q 'examples:' <<<"$out"
out=$("$bin" --help); check "help lists plot" grep -q '^  plot ' <<<"$out"

{
    echo "epoch,loss,acc,val_loss,val_acc"
    for e in 1 2 3 4 5 6 7 8 9 10 11 12; do
        echo "$e,0.$((90 - 5 * e)),0.$((50 + 3 * e)),0.$((95 - 4 * e)),0.$((48 + 2 * e))"
    done
} >"$tmp/h.csv"
out=$("$bin" plot "$tmp/h.csv" -o "$tmp/h.png"); rc=$?
check "plot exits 0" test $rc -eq 0
check "plot reports" grep -q 'wrote .*h.png: 12 epochs, 800x600' <<<"$out"
check "PNG signature" png_magic "$tmp/h.png"
check "default size 800x600" test "$(png_size "$tmp/h.png")" = "800 600"

"$bin" plot "$tmp/h.csv" -o "$tmp/s.png" --width 640 --height 400 --no-smooth --title "Run 1" >/dev/null
check "size 640x400" test "$(png_size "$tmp/s.png")" = "640 400"

printf '{"loss": [0.7, 0.5, null], "val_loss": [0.8, 0.6, 0.55]}\n' >"$tmp/h.json"
"$bin" plot "$tmp/h.json" --smooth -o "$tmp/j.png" >/dev/null
check "JSON history" test "$(png_size "$tmp/j.png")" = "800 600"
check "no temp files" test -z "$(ls -A "$tmp" | grep '\.tmp\.')"

# Errors: one line on stderr, non-zero exit, no figure.
expect_err() { # expected-substring, args...
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$want" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}
expect_err "cannot open '$tmp/missing.csv'" plot "$tmp/missing.csv" -o "$tmp/m.png"
printf 'epoch,loss,acc\n1,0.5,0.5\n2,0.4,oops\n' >"$tmp/bad.csv"
expect_err "bad.csv:3: column 'acc': 'oops' is not a number" plot "$tmp/bad.csv" -o "$tmp/b.png"
check "no figure for a bad file" test ! -e "$tmp/b.png"
printf 'epoch,loss\n1,0.5\n2\n' >"$tmp/short.csv"
expect_err "short.csv:3: expected 2 fields" plot "$tmp/short.csv" -o "$tmp/b.png"
expect_err "give the figure file with -o" plot "$tmp/h.csv"
expect_err "--width needs a number of pixels" plot "$tmp/h.csv" -o "$tmp/x.png" --width 10
expect_err "give a history file" plot -o "$tmp/x.png"
exit $fail
