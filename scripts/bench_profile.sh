#!/usr/bin/env bash
# make bench-profile: where a training step's time goes. Runs bench_engine's tests with
# oneDNN's verbose log (DNNL_VERBOSE=1: one line per primitive execution with its time)
# and sums the log per primitive kind and pass, with the convolutions' and matmuls'
# GFLOP/s from their shapes (2 x MACs; a direction's FLOPs are the same for fwd,
# bwd_data, bwd_weights). The step time minus oneDNN's time is our own code (optimizer,
# copies, loss, dropout masks, the bf16 Winograd's transforms) plus oneDNN's per-call
# overhead.
# Usage: scripts/bench_profile.sh [BUILD_DIR]
# env: BENCH_TESTS (default fwd,feat,finetune,small), BENCH_PRECS (default fp32,bf16),
#      BENCH_THREADS (default 2), PROFILE_STEPS (default 3 timed steps, after 1 warm-up)
set -euo pipefail
build=${1:-build}
tests=${BENCH_TESTS:-fwd,feat,finetune,small}
precs=${BENCH_PRECS:-fp32,bf16}
threads=${BENCH_THREADS:-2}
steps=${PROFILE_STEPS:-3}
export IC_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
log=$(mktemp)
trap 'rm -f "$log"' EXIT

IFS=, read -ra tlist <<<"$tests"
IFS=, read -ra plist <<<"$precs"
for p in "${plist[@]}"; do
    for t in "${tlist[@]}"; do
        BENCH_MARK=1 DNNL_VERBOSE=1 "$build/bench/bench_engine" --tests "$t" --precision "$p" --warmup 1 \
            --iters "$steps" --reps 1 >"$log" 2>&1 || true
        if ! grep -q '^RESULT' "$log"; then
            echo "== $t $p: not run ($(head -1 "$log"))"
            continue
        fi
        step_ms=$(awk '$1=="RESULT" {for (i = 1; i <= NF; i++) if ($i == "ms/batch)") v = $(i-1)} END {print v}' "$log")
        echo "== $t $p: median step $step_ms ms"
        awk -F, -v steps="$steps" -v step_ms="$step_ms" '
        /^MARK timed steps/ { timed = 1 }
        timed && $2 == "exec" && $1 ~ /verbose$/ {
            kind = $4; impl = $5; prop = $6; t = $NF + 0; desc = $(NF - 1)
            key = kind " " prop " " impl
            lines[key]++; ms[key] += t; total += t
            if (kind == "convolution" && match(desc, /mb[0-9]+/)) {
                mb = substr(desc, RSTART + 2, RLENGTH - 2)
                g = 1; if (match(desc, /^g[0-9]+/)) g = substr(desc, 2, RLENGTH - 1)
                match(desc, /ic[0-9]+/); ic = substr(desc, RSTART + 2, RLENGTH - 2)
                match(desc, /oc[0-9]+/); oc = substr(desc, RSTART + 2, RLENGTH - 2)
                match(desc, /oh[0-9]+/); oh = substr(desc, RSTART + 2, RLENGTH - 2)
                match(desc, /ow[0-9]+/); ow = substr(desc, RSTART + 2, RLENGTH - 2)
                match(desc, /kh[0-9]+/); kh = substr(desc, RSTART + 2, RLENGTH - 2)
                match(desc, /kw[0-9]+/); kw = substr(desc, RSTART + 2, RLENGTH - 2)
                flop[key] += 2.0 * mb * ic * oc * oh * ow * kh * kw / g
            }
            if (kind == "matmul" && split(desc, mm, ":") >= 2) {
                # "BxMxK:BxKxN:BxMxN": the batched products of the bf16 Winograd
                na = split(mm[1], a, "x"); nb = split(mm[2], b, "x")
                p = 2.0 * b[nb]
                for (i = 1; i <= na; i++) p *= a[i]
                flop[key] += p
            }
        }
        END {
            f = 1 / steps
            printf "   %-52s %9s %6s %9s\n", "oneDNN primitive, pass, implementation", "ms/step", "share", "GFLOP/s"
            n = 0
            for (k in ms) keys[++n] = k
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (ms[keys[j]] > ms[keys[i]]) { x = keys[i]; keys[i] = keys[j]; keys[j] = x }
            for (i = 1; i <= n; i++) {
                k = keys[i]; m = ms[k] * f
                gf = (k in flop && ms[k] > 0) ? sprintf("%.0f", flop[k] / (ms[k] * 1e6)) : "-"
                if (m >= 0.05 * step_ms / 100) printf "   %-52s %9.1f %5.1f%% %9s\n", k, m, 100 * m / step_ms, gf
            }
            printf "   %-52s %9.1f %5.1f%%\n", "all oneDNN primitives", total * f, 100 * total * f / step_ms
            printf "   %-52s %9.1f %5.1f%%\n", "the rest (imgclass code, call overhead)", step_ms - total * f, 100 * (step_ms - total * f) / step_ms
        }' "$log"
    done
done
