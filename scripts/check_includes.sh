#!/bin/bash
# check_includes.sh [ROOT] - checks that include arrows go one way (docs/architecture.md,
# "Include directions"). Every #include "..." in ROOT/src/ must stay in its own folder, name
# a public header (include/imgclass/) or a folder its layer may include (the table below);
# nothing in ROOT/cli/ may include a header of src/ (the CLI uses the public API only).
# Prints one line per violation (file:line: what and why) and exits 1 if there is any.
# ROOT defaults to the repository holding this script.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
[ -d src ] && [ -d include ] || {
    echo "check_includes: $ROOT has no src/ and include/ folders" >&2
    exit 2
}

# The folders each layer of src/ may include besides its own and the public headers. Keep
# in step with the table in docs/architecture.md.
allowed() {
    case $1 in
    core) echo "" ;;
    backend) echo "core" ;;
    layers) echo "backend core" ;;
    graph) echo "layers backend core" ;;
    train) echo "graph layers backend core" ;;
    io) echo "train graph layers backend core" ;;
    engine) echo "io train graph layers backend core data plot" ;;
    data | plot | apps) echo "core" ;;
    *) echo "-" ;; # a folder the table does not know
    esac
}

# Includes that break the rule today, each with the reason it is tolerated: "FILE HEADER".
# A layer asks the model that owns it whether it is effectively trainable.
EXCEPTIONS="src/layers/layer_common.c graph/graph.h"

bad=0
violation() {
    echo "$1"
    bad=$((bad + 1))
}

# Resolves an #include "name" of a file in folder dir the way the build does (the file's
# own folder, then src/, then include/); sets target to the path from ROOT, or to "".
resolve() {
    local dir=$1 name=$2
    target=
    if [ -f "$dir/$name" ]; then
        case $name in
        *..* | ./*) target=$(realpath -m --relative-to=. "$dir/$name") ;;
        *) target=$dir/$name ;;
        esac
    elif [ -f "src/$name" ]; then
        target=src/$name
    elif [ -f "include/$name" ]; then
        target=include/$name
    fi
}

# Prints "FILE:LINE:NAME" for every #include "NAME" under the given folders.
quoted_includes() {
    find "$@" -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null | sort -z |
        xargs -0 -r grep -Hn -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' |
        sed -E 's/^([^:]*):([0-9]+):[^"]*"([^"]*)".*/\1:\2:\3/'
}

while IFS=: read -r file line name; do
    [ -n "$file" ] || continue
    resolve "${file%/*}" "$name"
    if [ -z "$target" ]; then
        violation "$file:$line: #include \"$name\" names no file in its folder, src/ or include/"
        continue
    fi
    case $target in
    include/imgclass/*) continue ;; # the public API: any layer may use it
    src/*) ;;
    *)
        violation "$file:$line: #include \"$name\" resolves outside src/ and include/ ($target)"
        continue
        ;;
    esac
    rest_from=${file#src/} rest_to=${target#src/}
    from=${rest_from%%/*} to=${rest_to%%/*}
    ok=$(allowed "$from")
    if [ "$ok" = "-" ]; then
        violation "$file:$line: src/$from/ is not in the include-direction table (scripts/check_includes.sh, docs/architecture.md)"
        continue
    fi
    if [ "$from" = "$to" ]; then
        # Inside backend/, each backend (ref/, cpu/) sees backend.h but not the other one.
        sub_from=${rest_from#*/} sub_to=${rest_to#*/}
        sub_from=${sub_from%%/*} sub_to=${sub_to%%/*}
        if [ "$from" = backend ] && [ -d "src/backend/$sub_to" ] && [ "$sub_from" != "$sub_to" ]; then
            violation "$file:$line: #include \"$name\": a backend does not include another backend's headers ($target)"
        fi
        continue
    fi
    case " $ok " in *" $to "*) continue ;; esac
    case " $EXCEPTIONS " in *" $file ${target#src/} "*) continue ;; esac
    violation "$file:$line: #include \"$name\": src/$from/ may not include src/$to/ (allowed: ${ok:-nothing but its own folder and include/imgclass/})"
done < <(quoted_includes src)

# The CLI compiles against include/ only: no src/ header by any spelling.
if [ -d cli ]; then
    while IFS=: read -r file line name; do
        [ -n "$file" ] || continue
        resolve "${file%/*}" "$name"
        case $target in
        cli/* | include/imgclass/*) ;;
        "") violation "$file:$line: #include \"$name\" names no file in cli/ or include/" ;;
        *) violation "$file:$line: #include \"$name\": the CLI includes only cli/ and include/imgclass/ headers ($target)" ;;
        esac
    done < <(quoted_includes cli)
    while IFS=: read -r file line text; do
        [ -n "$file" ] || continue
        violation "$file:$line: ${text#"${text%%[![:space:]]*}"}: the CLI includes no src/ header"
    done < <(find cli -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z |
        xargs -0 -r grep -Hn -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(core|backend|layers|graph|train|io|engine|data|plot|apps)/')
fi

# An exception whose include is gone should go from the list too.
set -- $EXCEPTIONS
while [ $# -ge 2 ]; do
    grep -q -E "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"$2\"" "$1" 2>/dev/null ||
        echo "check_includes: note: $1 no longer includes $2; remove it from EXCEPTIONS" >&2
    shift 2
done

if [ "$bad" -gt 0 ]; then
    echo "check_includes: $bad include(s) against the directions in docs/architecture.md" >&2
    exit 1
fi
echo "check_includes: every include follows the directions in docs/architecture.md"
