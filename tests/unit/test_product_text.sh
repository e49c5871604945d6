#!/bin/bash
# test_product_text.sh IMGCLASS SOURCE_DIR - the product's text (src/, cli/, include/,
# README.md, docs/) speaks of the product: no issue numbers ("issue #7", "(#7)"), no
# "session" as the history of how it was built, and the book (Chollet & Allaire, "Image
# Classification on Small Datasets with Keras") is "the book", never "the seed" (random
# seeds, --seed and the fuzzers' seed corpus are fine). Each hit is reported as file:line.
# tests/unit/product_text.allow lists justified exceptions, one `path:regex` a line (an
# ERE matched against the line's text); blank lines and lines starting with # are ignored.
# The scanner is first run on a planted tree, so a pattern that stops matching fails too.
set -u
SRC=$(cd "${2:-.}" && pwd)
ALLOW=$SRC/tests/unit/product_text.allow

# scan ROOT ALLOWFILE: prints path:line:text for every hit under ROOT's product text.
scan() {
    local root=$1 allow=$2 targets=() t
    for t in src cli include docs README.md; do
        [ -e "$root/$t" ] && targets+=("$t")
    done
    [ ${#targets[@]} -eq 0 ] && return 0
    # -I skips binary files (docs/img); \b before "session" does not match K.clear_session.
    (cd "$root" && grep -rnIP -- \
        '(?i:\bissues? #[0-9]+)|\(#[0-9]+\)|(?i:\bsessions?\b)|(?i:\bthe seed\b(?! corpus))|(?i:\bseed'"'"'s\b)' \
        "${targets[@]}") |
    while IFS= read -r hit; do
        local path=${hit%%:*} rest=${hit#*:} text allowed=0 a_path a_re
        text=${rest#*:}
        if [ -f "$allow" ]; then
            while IFS= read -r entry; do
                case $entry in '' | '#'*) continue ;; esac
                a_path=${entry%%:*}
                a_re=${entry#*:}
                if [ "$a_path" = "$path" ] && grep -qE -- "$a_re" <<<"$text"; then
                    allowed=1
                    break
                fi
            done <"$allow"
        fi
        [ $allowed -eq 0 ] && echo "$hit"
    done
    return 0
}

fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/ic_product_text.XXXXXX")
trap 'rm -rf "$T"' EXIT

# The planted tree: every kind of hit is found, with its file and line, and legitimate
# uses of the words are not.
mkdir -p "$T/src" "$T/docs" "$T/cli"
cat >"$T/src/a.c" <<'EOF'
/* fine: a random seed, --seed 7, seed = 42, the seed corpus, K.clear_session() */
/* bf16 inputs (issue #7) */
/* as the seed does */
/* the seed's augmentation */
/* added in the third session */
EOF
cat >"$T/docs/b.md" <<'EOF'
Fixed in (#12).
Issue #3 is open.
Sessions 1-3 ran it.
The book's schedules.
EOF
printf 'allowed: the seed is kept\n' >"$T/cli/c.c"
printf '# a comment\n\ncli/c.c:allowed: the seed\n' >"$T/allow"
got=$(scan "$T" "$T/allow")
want='cli/c.c:1:allowed: the seed is kept
docs/b.md:1:Fixed in (#12).
docs/b.md:2:Issue #3 is open.
docs/b.md:3:Sessions 1-3 ran it.
src/a.c:2:/* bf16 inputs (issue #7) */
src/a.c:3:/* as the seed does */
src/a.c:4:/* the seed'"'"'s augmentation */
src/a.c:5:/* added in the third session */'
# With the allow file, cli/c.c's line is excepted; without one, it is reported.
if [ "$(sort <<<"$got")" != "$(grep -v '^cli/' <<<"$want" | sort)" ]; then
    printf 'FAILED: the scanner on the planted tree gave:\n%s\nexpected:\n%s\n' "$got" \
        "$(grep -v '^cli/' <<<"$want")"
    fail=1
fi
got=$(scan "$T" "$T/none")
if [ "$(sort <<<"$got")" != "$(sort <<<"$want")" ]; then
    printf 'FAILED: without an allow file the scanner gave:\n%s\n' "$got"
    fail=1
fi

# The allow file stays tiny: every exception is a justified one.
if [ -f "$ALLOW" ]; then
    n=$(grep -cvE '^(#|$)' "$ALLOW")
    if [ "$n" -gt 10 ]; then
        echo "FAILED: $ALLOW has $n exceptions (keep it to a few justified ones)"
        fail=1
    fi
fi

# The real tree.
hits=$(scan "$SRC" "$ALLOW")
if [ -n "$hits" ]; then
    echo "FAILED: product text that speaks of issues, sessions or \"the seed\" (say \"the book\"):"
    echo "$hits"
    fail=1
fi
[ $fail -eq 0 ] && echo "product text: clean"
exit $fail
