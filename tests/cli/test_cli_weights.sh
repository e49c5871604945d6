#!/usr/bin/env bash
# imgclass weights: list shows Keras's files, path fails with the fetch hint when not
# cached, unknown names fail, a dead local port fails quickly with the URL, fetch from a
# file:// URL (no network) succeeds for a name without md5, is then listed as cached and
# found by path, and a known-md5 name fed the wrong bytes fails naming both hashes and
# leaves nothing in the cache.
# Usage: test_cli_weights.sh IMGCLASS SOURCE_DIR
set -u
bin=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export IMGCLASS_HOME=$tmp/home
unset IMGCLASS_WEIGHTS_URL_BASE
check() { # description, command...
    local what=$1; shift
    if ! "$@"; then echo "FAILED: $what"; fail=1; fi
}
expect_err() { # expected-substring, args...
    local want=$1; shift
    local err rc
    err=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] || ! grep -q -- "$want" <<<"$err"; then
        echo "FAILED: '$*' should fail with '$want' (rc $rc): $err"; fail=1
    fi
}

out=$("$bin" --help); check "help lists weights" grep -q '^  weights' <<<"$out"
out=$("$bin" weights --help); rc=$?
check "weights --help succeeds" [ $rc -eq 0 ]
check "help has examples" grep -q 'imgclass weights fetch vgg16_notop' <<<"$out"
check "help names IMGCLASS_HOME" grep -q 'IMGCLASS_HOME' <<<"$out"

out=$("$bin" weights list); rc=$?
check "list succeeds" [ $rc -eq 0 ]
check "list shows vgg16_notop, not cached, md5 known" \
    grep -Eq '^vgg16_notop +no +yes +vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5$' <<<"$out"
check "list shows mobilenet_v2 without md5" \
    grep -Eq '^mobilenet_v2_1\.0_224_notop +no +no ' <<<"$out"
check "list names the cache" grep -q "^cache: $IMGCLASS_HOME\$" <<<"$out"
out=$("$bin" weights list resnet)
check "list PATTERN filters" [ "$(grep -c resnet50 <<<"$out")" = 2 ]
expect_err "no known weights match" weights list zzz

expect_err "not cached; run imgclass weights fetch vgg16_notop" weights path vgg16_notop
expect_err "unknown weights 'nope'" weights fetch nope
expect_err "unknown weights 'nope'" weights path nope
expect_err "needs list, fetch" weights
expect_err "unknown subcommand" weights frob
expect_err "--url goes with one NAME" weights fetch vgg16 vgg19 --url http://127.0.0.1:9/x

# A dead local port: quick, clear, nothing left behind.
start=$(date +%s)
expect_err "http://127.0.0.1:9/x" weights fetch vgg16_notop --url http://127.0.0.1:9/x
check "dead port fails quickly" [ $(( $(date +%s) - start )) -lt 10 ]
check "nothing left in the cache" [ -z "$(ls -A "$IMGCLASS_HOME")" ]

# file:// (a local mirror): no network needed.
head -c 200000 /dev/urandom >"$tmp/w.h5"
out=$("$bin" weights fetch mobilenet_v2_1.0_224_notop --url "file://$tmp/w.h5" 2>"$tmp/err"); rc=$?
want=$IMGCLASS_HOME/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
check "fetch from file:// succeeds" [ $rc -eq 0 ]
check "fetch prints the cached path" [ "$out" = "$want" ]
check "fetched content" cmp -s "$tmp/w.h5" "$want"
check "progress on stderr" grep -q '100%' "$tmp/err"
out=$("$bin" weights path mobilenet_v2_1.0_224_notop)
check "path finds it" [ "$out" = "$want" ]
out=$("$bin" weights fetch mobilenet_v2_1.0_224_notop 2>&1 >/dev/null)
check "second fetch uses the cache" grep -q 'already cached' <<<"$out"
out=$("$bin" weights list mobilenet_v2_1.0_224_notop)
check "list shows it cached with size" grep -Eq '^mobilenet_v2_1\.0_224_notop +yes 0\.2 MB +no' <<<"$out"

# Known md5, wrong bytes: both hashes, nothing kept.
md5=$(md5sum "$tmp/w.h5" | cut -d' ' -f1)
expect_err "md5 of vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 is $md5, expected 6d6bbae143d832006294945121d1f1fc" \
    weights fetch vgg16_notop --url "file://$tmp/w.h5"
check "only the good file in the cache" \
    [ "$(ls -A "$IMGCLASS_HOME")" = mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 ]

# An unusable cache directory.
touch "$tmp/file"
IMGCLASS_HOME=$tmp/file/sub expect_err "cannot create weights cache directory" \
    weights fetch vgg16_notop --url http://127.0.0.1:9/x

exit $fail
