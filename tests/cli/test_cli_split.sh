#!/usr/bin/env bash
# imgclass split: counts in natural order (cat.1..cat.10 for --train 10), fractions with a
# seed (deterministic), --by folder, --link (hard links: link count 2), refusing to overwrite,
# --force, not-enough-files checked before anything is written, one-line errors.
# Usage: test_cli_split.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
expect_err() { # expected-substring, args...
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$want" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}
listing() { (cd "$1" && find . -type f | LC_ALL=C sort); }

out=$("$bin" --help); check "help lists split" grep -q 'split' <<<"$out"
out=$("$bin" split --help)
check "help says natural order" grep -q 'natural order' <<<"$out"

# A pile: cat.1.jpg .. cat.20.jpg, dog.1.jpg .. dog.20.jpg (bytes; split does not decode),
# plus files that are not part of it.
pile=$tmp/pile
mkdir -p "$pile"
for i in $(seq 1 20); do
    printf 'cat %d' "$i" >"$pile/cat.$i.jpg"
    printf 'dog %d' "$i" >"$pile/dog.$i.jpg"
done
touch "$pile/.hidden.jpg" "$pile/README"

# Counts: natural order.
out=$("$bin" split "$pile" "$tmp/a" --train 10 --validation 5 --test 5); rc=$?
check "split by counts succeeds" [ $rc -eq 0 ]
want_train=$(for c in cat dog; do for i in $(seq 1 10); do echo "./$c/$c.$i.jpg"; done; done |
    LC_ALL=C sort)
check "train has cat.1..cat.10 and dog.1..dog.10" \
    [ "$(listing "$tmp/a/train")" = "$want_train" ]
check "validation has cat.11..15" \
    [ "$(cd "$tmp/a/validation/cat" && ls | sort -V | tr '\n' ' ')" = \
      "cat.11.jpg cat.12.jpg cat.13.jpg cat.14.jpg cat.15.jpg " ]
check "test has dog.16..20" \
    [ "$(cd "$tmp/a/test/dog" && ls | sort -V | tr '\n' ' ')" = \
      "dog.16.jpg dog.17.jpg dog.18.jpg dog.19.jpg dog.20.jpg " ]
check "content copied" [ "$(cat "$tmp/a/test/dog/dog.17.jpg")" = "dog 17" ]
check "copies are not links" [ "$(stat -c %h "$tmp/a/train/cat/cat.3.jpg")" = 1 ]
check "no temporary files left" [ -z "$(find "$tmp/a" -name '.*')" ]
check "prints counts per split" grep -q '^train *cat 10, dog 10' <<<"$out"
check "prints validation" grep -q '^validation *cat 5, dog 5' <<<"$out"
check "prints total" grep -q 'copied 40 files' <<<"$out"

# Kaggle's pile starts at cat.0; the book's R script starts at cat.1: --skip 1.
k=$tmp/kaggle
mkdir -p "$k"
for i in $(seq 0 25); do echo "$i" >"$k/cat.$i.jpg"; echo "$i" >"$k/dog.$i.jpg"; done
"$bin" split "$k" "$tmp/k" --skip 1 --train 10 --validation 5 --test 5 >/dev/null
check "--skip 1: train is cat.1..cat.10" \
    [ "$(ls "$tmp/k/train/cat" | sort -V | tr '\n' ' ')" = "$(for i in $(seq 1 10); do printf 'cat.%d.jpg ' "$i"; done)" ]
check "--skip 1: test is dog.16..dog.20" \
    [ "$(ls "$tmp/k/test/dog" | sort -V | tr '\n' ' ')" = "$(for i in $(seq 16 20); do printf 'dog.%d.jpg ' "$i"; done)" ]
expect_err "need 27" split "$k" "$tmp/k2" --skip 2 --train 20 --validation 5

# Refuses to overwrite; --force replaces only the split folders.
expect_err "already exists" split "$pile" "$tmp/a" --train 10 --validation 5 --test 5
echo keep >"$tmp/a/notes.txt"
touch "$tmp/a/train/cat/stale.jpg"
"$bin" split "$pile" "$tmp/a" --train 2 --validation 2 --test 2 --force >/dev/null
check "--force succeeds" [ $? -eq 0 ]
check "--force replaced train" [ "$(ls "$tmp/a/train/cat" | tr '\n' ' ')" = "cat.1.jpg cat.2.jpg " ]
check "--force kept other files" [ "$(cat "$tmp/a/notes.txt")" = keep ]

# Not enough files: error, nothing written.
expect_err "class 'cat' has 20 files" split "$pile" "$tmp/b" --train 15 --validation 5 --test 5
check "nothing written when too few files" [ ! -e "$tmp/b" ]
"$bin" split "$pile" "$tmp/a" --train 15 --validation 5 --test 5 --force 2>/dev/null
check "too few with --force keeps the old split" [ "$(ls "$tmp/a/train/cat" | wc -l)" = 2 ]

# Fractions with a seed: deterministic, all files used, seeds differ.
"$bin" split "$pile" "$tmp/f1" --fractions 0.5,0.25,0.25 --seed 7 >/dev/null
"$bin" split "$pile" "$tmp/f2" --fractions 0.5,0.25,0.25 --seed 7 >/dev/null
"$bin" split "$pile" "$tmp/f3" --fractions 0.5,0.25,0.25 --seed 8 >/dev/null
check "same seed, same split" [ "$(listing "$tmp/f1")" = "$(listing "$tmp/f2")" ]
check "other seed, other split" [ "$(listing "$tmp/f1")" != "$(listing "$tmp/f3")" ]
check "fractions: 10 / 5 / 5 per class" [ "$(ls "$tmp/f1/train/cat" | wc -l)" = 10 ] &&
    [ "$(ls "$tmp/f1/validation/dog" | wc -l)" = 5 ] && [ "$(ls "$tmp/f1/test/cat" | wc -l)" = 5 ]
check "fractions: every file once" [ "$(listing "$tmp/f1" | wc -l)" = 40 ] &&
    [ "$(listing "$tmp/f1" | xargs -n1 basename | sort -u | wc -l)" = 40 ]
check "fractions shuffle (train is not cat.1..cat.10)" \
    [ "$(ls "$tmp/f1/train/cat" | sort -V | tr '\n' ' ')" != "$(ls "$tmp/a/train/cat" | head -0; \
      for i in $(seq 1 10); do printf 'cat.%d.jpg ' "$i"; done)" ]

# --link: hard links (link count 2 on the source).
"$bin" split "$pile" "$tmp/l" --train 3 --link >/dev/null
check "--link succeeds" [ -f "$tmp/l/train/dog/dog.3.jpg" ]
check "--link makes hard links" [ "$(stat -c %h "$pile/dog.3.jpg")" = 2 ]
check "--link same inode" [ "$(stat -c %i "$pile/dog.3.jpg")" = "$(stat -c %i "$tmp/l/train/dog/dog.3.jpg")" ]
check "--train only: no validation folder" [ ! -e "$tmp/l/validation" ]

# --by folder (default when SRC has subfolders).
"$bin" split "$tmp/a/train" "$tmp/byf" --train 1 --validation 1 >/dev/null
check "--by folder" [ "$(listing "$tmp/byf")" = "$(printf '%s\n' ./train/cat/cat.1.jpg \
    ./train/dog/dog.1.jpg ./validation/cat/cat.2.jpg ./validation/dog/dog.2.jpg)" ]

# Usage errors and failures: one line, non-zero.
expect_err "needs SRC and DST" split "$pile"
expect_err "either --train" split "$pile" "$tmp/x"
expect_err "either --train" split "$pile" "$tmp/x" --train 1 --fractions 0.5,0.5
expect_err "--fractions needs" split "$pile" "$tmp/x" --fractions 0.8,0.8
expect_err "--train needs" split "$pile" "$tmp/x" --train -3
expect_err "--by must be" split "$pile" "$tmp/x" --by color --train 1
expect_err "not a readable folder" split "$tmp/nope" "$tmp/x" --train 1
mkdir -p "$tmp/empty"
expect_err "no files named CLASS" split "$tmp/empty" "$tmp/x" --train 1
mkdir -p "$tmp/withempty/a" "$tmp/withempty/b"; echo 1 >"$tmp/withempty/a/x.jpg"
expect_err "class 'b' has 0 files" split "$tmp/withempty" "$tmp/x" --train 1
expect_err "unknown option: --bogus" split "$pile" "$tmp/x" --bogus 1
check "errors wrote nothing" [ ! -e "$tmp/x" ]

exit $fail
