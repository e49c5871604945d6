#!/usr/bin/env bash
# `imgclass predict`: on a tiny model trained by ic_make_model (IC_MAKE_MODEL, set by
# tests/CMakeLists.txt): one line per image with a class and a probability in [0, 1], for
# files and (recursively, sorted) directories; --json with every class probability; a
# corrupt or missing image is reported on stderr and skipped, the others still printed,
# exit 1. The single-image pipeline agrees with evaluate's iterator (same number right).
# --precision. The fixture is in lib.sh. Usage: test_cli_predict.sh IMGCLASS SOURCE_DIR
set -u
. "$(dirname "$0")/lib.sh" predict "$@"
model=$tmp/m2/model.h5
test_dir=$tmp/m2/data/test
check_help predict

# Lines "FILE  CLASS  PROB" with a known class and PROB in [0, 1] (>= 0.5 for 2 classes).
lines_ok() { # output, expected line count, class regex
    awk -v n="$2" -v re="^($3)\$" 'NF != 3 || $2 !~ re || $3 < 0 || $3 > 1 { bad = 1 }
        END { exit (bad || NR != n) }' <<<"$1"
}
f1=$test_dir/dark/img_000.png f2=$test_dir/light/img_003.png
out=$("$bin" predict "$model" "$f1" "$f2" --threads 2); rc=$?
check "predict files exits 0" test $rc -eq 0
check "two lines, classes, probabilities" lines_ok "$out" 2 'dark|light'
check "first line is the first file" grep -q "^$f1 " <<<"$(head -1 <<<"$out")"
check "dark image is dark" grep -qE "^$f1 +dark +0\.[5-9][0-9]{3}$" <<<"$out"
check "light image is light" grep -qE "^$f2 +light +(0\.[5-9][0-9]{3}|1\.0000)$" <<<"$out"

# A directory: all images inside, recursively, sorted by path; batches of 3.
out=$("$bin" predict "$model" "$test_dir" --batch-size 3); rc=$?
check "predict dir exits 0" test $rc -eq 0
check "ten lines" lines_ok "$out" 10 'dark|light'
check "sorted by path" test "$(cut -d' ' -f1 <<<"$out")" = "$(find "$test_dir" -name '*.png' | LC_ALL=C sort)"
# The same pipeline as evaluate's iterator: as many right (class = folder) as evaluate counts.
right=$(awk '{ n = split($1, p, "/"); if (p[n - 1] == $2) r++ } END { print r + 0 }' <<<"$out")
acc=$("$bin" evaluate "$model" "$test_dir" | sed -n 's/^accuracy: [0-9.]* (\([0-9]*\) of .*/\1/p')
check "predict agrees with evaluate ($right vs $acc)" test "$right" = "$acc"

# A file alone gets the class and probability it gets among the directory's batches.
alone=$("$bin" predict "$model" "$f1" | awk '{ print $2, $3 }')
check "alone as in the directory" test "$alone" = "$(awk -v f="$f1" '$1 == f { print $2, $3 }' <<<"$out")"

out=$("$bin" predict "$tmp/m3/model.h5" "$tmp/m3/data/test")
check "3 classes: fifteen lines" lines_ok "$out" 15 'dark|grey|light'

json=$("$bin" predict "$tmp/m3/model.h5" "$f1" "$tmp/m3/data/test/grey" --json); rc=$?
check "json exits 0" test $rc -eq 0
check "json one object per image" test "$(grep -c '"file": ' <<<"$json")" -eq 6
for key in '"file": ' '"class": ' '"probabilities": {"dark": ' '"grey": ' '"light": '; do
    check "json key $key" grep -qF "$key" <<<"$json"
done
check "json is a list" test "${json:0:1}" = "["
if command -v python3 >/dev/null; then
    check "json parses, probabilities sum to 1" python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 6
for e in d:
    p = e["probabilities"]
    assert abs(sum(p.values()) - 1) < 1e-4 and all(0 <= v <= 1 for v in p.values())
    assert e["class"] == max(p, key=p.get)' <<<"$json"
fi
json=$("$bin" predict "$model" "$f1" --json)
check "binary json has both classes" grep -qE '"probabilities": \{"dark": [0-9.e-]+, "light": [0-9.e-]+\}' <<<"$json"

# A corrupt image among good ones: reported, skipped, the others printed, exit 1.
printf 'not an image at all' >"$tmp/corrupt.jpg"
out=$("$bin" predict "$model" "$f1" "$tmp/corrupt.jpg" "$f2" 2>"$tmp/err"); rc=$?
check "corrupt: exit 1" test $rc -eq 1
check "corrupt: the others printed" lines_ok "$out" 2 'dark|light'
check "corrupt: one stderr line naming it" test "$(wc -l <"$tmp/err")" -eq 1
check "corrupt: reason" grep -q "^imgclass predict: .*corrupt.jpg.*: not a JPEG or PNG image" "$tmp/err"
# ... also inside a directory, and a truncated PNG.
mkdir -p "$tmp/d/sub"
cp "$f1" "$tmp/d/a.png"; cp "$f2" "$tmp/d/sub/b.PNG"; cp "$tmp/corrupt.jpg" "$tmp/d/c.jpg"
head -c 100 "$f2" >"$tmp/d/sub/trunc.png"; echo "not an image" >"$tmp/d/notes.txt"
out=$("$bin" predict "$model" "$tmp/d" 2>"$tmp/err"); rc=$?
check "dir with bad files: exit 1" test $rc -eq 1
check "dir with bad files: two lines" lines_ok "$out" 2 'dark|light'
check "dir with bad files: two stderr lines" test "$(wc -l <"$tmp/err")" -eq 2
check "dir: truncated png named" grep -q 'trunc.png' "$tmp/err"

check_precision predict "$model" "$f1" "$f2"
out=$("$bin" predict "$model" "$f1" "$f2" --precision bf16)
check "bf16: two lines, classes, probabilities" lines_ok "$out" 2 'dark|light'

# Errors: one line on stderr, non-zero exit.
expect_err "missing.png: No such file or directory" predict "$model" "$tmp/missing.png"
expect_err "missing.h5: No such file or directory" predict "$tmp/missing.h5" "$f1"
expect_err "not an imgclass model file (not an HDF5 file)" predict "$f1" "$f2"
expect_err "nometa.h5: not an imgclass model file" predict "$tmp/m2/nometa.h5" "$f1"
mkdir -p "$tmp/empty"
expect_err "no images (.jpg, .jpeg or .png) inside" predict "$model" "$tmp/empty"
expect_err "give a model file and one or more images" predict "$model"
expect_err "unknown option: --bogus" predict "$model" "$f1" --bogus
exit $fail
