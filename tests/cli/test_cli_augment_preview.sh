#!/usr/bin/env bash
# imgclass augment-preview: help, one-line errors with non-zero exit codes, and (with
# ../shared) the grid PNG's dimensions read from its IHDR, determinism per seed.
# Usage: test_cli_augment_preview.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
out=$("$bin" --help) ; check "help lists augment-preview" grep -q 'augment-preview' <<<"$out"
out=$("$bin" augment-preview --help)
check "help has examples" grep -q 'examples:' <<<"$out"
check "help lists --rotation-range" grep -q -- '--rotation-range' <<<"$out"

expect_err() { # expected-substring, args...
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$want" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}
expect_err "no_such_image.jpg" augment-preview "$tmp/no_such_image.jpg" -o "$tmp/g.png"
expect_err "--zoom-range needs" augment-preview x.jpg -o "$tmp/g.png" --zoom-range abc
expect_err "--fill-mode must be" augment-preview x.jpg -o "$tmp/g.png" --fill-mode mirror
expect_err "--rotation-range needs" augment-preview x.jpg -o "$tmp/g.png" --rotation-range -5
expect_err "unknown option: --bogus" augment-preview x.jpg -o "$tmp/g.png" --bogus 1
expect_err "--seed must be between" augment-preview x.jpg -o "$tmp/g.png" --seed 4294967296
expect_err "give the grid file" augment-preview x.jpg
expect_err "give an IMAGE" augment-preview -o "$tmp/g.png"

shared=${IC_SHARED_DIR:-$src/../shared}
img=$shared/data/cats_and_dogs_small/train/cats/cat.1.jpg
if [ ! -f "$img" ]; then
    echo "SKIP: $img not found (set IC_SHARED_DIR)"
    [ $fail -eq 0 ] && exit 77
    exit $fail
fi

# Width and height from the IHDR chunk (big-endian at byte offsets 16 and 20).
png_size() {
    local b
    b=($(od -An -tu1 -j16 -N8 "$1"))
    echo "$(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] ))x$(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))"
}
"$bin" augment-preview "$img" -o "$tmp/grid.png" --augment >/dev/null
check "default grid written" test -s "$tmp/grid.png"
check "PNG signature" test "$(od -An -tx1 -N8 "$tmp/grid.png" | tr -d ' \n')" = 89504e470d0a1a0a
# 8 images of 150x150 in 4 columns with 2 px gutters: (4*150 + 3*2) x (2*150 + 2).
check "default grid 606x302" test "$(png_size "$tmp/grid.png")" = 606x302
"$bin" augment-preview "$img" -o "$tmp/g2.png" --rotation-range 20 --zoom-range 0.9,1.1 \
    --fill-mode reflect --count 5 --columns 3 --target-size 100x120 >/dev/null
check "5 images of 100x120 in 3 columns: 364x202" test "$(png_size "$tmp/g2.png")" = 364x202
"$bin" augment-preview "$img" -o "$tmp/grid_again.png" --augment >/dev/null
check "same seed, same grid" cmp -s "$tmp/grid.png" "$tmp/grid_again.png"
"$bin" augment-preview "$img" -o "$tmp/grid_seed2.png" --augment --seed 2 >/dev/null
check "other seed, other grid" test -s "$tmp/grid_seed2.png"
if cmp -s "$tmp/grid.png" "$tmp/grid_seed2.png"; then echo "FAILED: seed 2 gives seed 1's grid"; fail=1; fi
exit $fail
