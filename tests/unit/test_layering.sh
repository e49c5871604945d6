#!/bin/bash
# test_layering.sh IMGCLASS SOURCE_DIR - include arrows go one way (docs/architecture.md,
# "Include directions"): scripts/check_includes.sh passes on the sources, and fails, naming
# the file, the line and the rule, on violations planted in a copy of them: a lower folder
# including a higher one, a backend including the other backend, the CLI including src/
# (by a relative path and by <...>), and an include that names no file.
set -u
SRC=$(cd "${2:-.}" && pwd)
CHECK=$SRC/scripts/check_includes.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

bash "$CHECK" "$SRC" >"$T/real.out" 2>&1
rc=$?
[ "$rc" = 0 ] || {
    fail "the sources break the include directions (exit status $rc):"
    sed 's/^/    /' "$T/real.out"
}

# A copy of what the script reads, so violations can be planted without touching the tree.
mkdir "$T/tree"
cp -r "$SRC/src" "$SRC/include" "$SRC/cli" "$T/tree/" || exit 1
cd "$T/tree" || exit 1
bash "$CHECK" "$T/tree" >"$T/copy.out" 2>&1 || fail "the unchanged copy fails: $(cat "$T/copy.out")"

# plant NAME FILE LINE WANT: inserts LINE at the top of FILE, expects the check to fail
# with WANT (an extended regex) in its output, then restores FILE.
plant() {
    local name=$1 file=$2 line=$3 want=$4
    [ -f "$file" ] || {
        fail "$name: $file is missing from the sources"
        return
    }
    cp "$file" "$T/keep"
    { echo "$line"; cat "$T/keep"; } >"$file"
    bash "$CHECK" "$T/tree" >"$T/$name.out" 2>&1
    local rc=$?
    cp "$T/keep" "$file"
    [ "$rc" = 1 ] || fail "$name: exit status $rc, want 1"
    grep -q -E -- "$want" "$T/$name.out" || {
        fail "$name: no /$want/ in the output:"
        sed 's/^/    /' "$T/$name.out"
    }
    # exactly the planted line is reported
    [ "$(grep -c "^$file:1: " "$T/$name.out")" = 1 ] && [ "$(grep -c ': #include' "$T/$name.out")" = 1 ] ||
        fail "$name: want exactly one violation, at $file:1: $(cat "$T/$name.out")"
}

CLI_FILE=$(cd "$T/tree" && ls cli/*.c | head -1)
plant upward src/graph/model.c '#include "train/train_impl.h"' \
    '^src/graph/model.c:1: #include "train/train_impl.h": src/graph/ may not include src/train/'
plant core_up src/core/tensor.c '#include "backend/backend.h"' \
    '^src/core/tensor.c:1: #include "backend/backend.h": src/core/ may not include src/backend/'
plant data_apps src/data/augment.c '#include "graph/graph.h"' \
    '^src/data/augment.c:1: .*src/data/ may not include src/graph/'
plant backends src/backend/ref/ref_conv.c '#include "backend/cpu/cpu_common.h"' \
    "^src/backend/ref/ref_conv.c:1: .*a backend does not include another backend's headers"
plant cli_relative "$CLI_FILE" '#include "../src/core/core.h"' \
    "^$CLI_FILE:1: .*the CLI includes only cli/ and include/imgclass/ headers \(src/core/core.h\)"
plant cli_angle "$CLI_FILE" '#include <graph/graph.h>' \
    "^$CLI_FILE:1: #include <graph/graph.h>: the CLI includes no src/ header"
plant missing src/train/losses.c '#include "train/nothere.h"' \
    '^src/train/losses.c:1: #include "train/nothere.h" names no file'
grep -q '^check_includes: 1 include(s) against the directions' "$T/upward.out" ||
    fail "upward: no summary line: $(cat "$T/upward.out")"

# Allowed arrows stay allowed: engine on io, io on train, a backend on backend.h.
for spec in 'src/engine/fit.c|#include "io/io_impl.h"' 'src/io/weights.c|#include "train/train_impl.h"' \
    'src/backend/cpu/cpu_conv.c|#include "backend/backend.h"'; do
    file=${spec%%|*} line=${spec#*|}
    cp "$file" "$T/keep"
    { echo "$line"; cat "$T/keep"; } >"$file"
    bash "$CHECK" "$T/tree" >"$T/ok.out" 2>&1 || fail "allowed: $line in $file is reported: $(cat "$T/ok.out")"
    cp "$T/keep" "$file"
done

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "include directions hold; 7 planted violations caught"
