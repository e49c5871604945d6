#!/usr/bin/env bash
# make bench: imgclass's workloads in fp32 and bf16 and PyTorch's
# (../shared/bench/torch_anchor.py, channels-last fp32, PyTorch's faster layout) in the
# same run, then imgclass/PyTorch ratios of median images/s against the targets in
# docs/performance.md. Not a test: the machines are shared and noisy, so only ratios
# measured together mean anything.
#
# Each imgclass test runs in its own process, so the peak resident memory printed with
# it (rss_mib) is that test's. GFLOP/s use the FLOP counts of ../shared/bench/README.md;
# "% of peak" divides by this machine's measured AVX-512 FMA / bf16 dot peak (bench_peak).
#
# Usage: scripts/bench.sh [BUILD_DIR]      measure, keep the raw lines in $BENCH_OUT if set
#        scripts/bench.sh --summary DIR    print the summary of a kept run again
# env: BENCH_TESTS (default fwd,feat,finetune,small), BENCH_PRECS (default fp32,bf16),
#      BENCH_THREADS (default 2, as the PyTorch anchors), BENCH_REPS (default 3),
#      BENCH_TORCH=0 skips PyTorch, BENCH_TORCH_BF16=1 adds PyTorch's bf16 autocast.
#      BENCH_REAL=0 skips the real-run step (imgclass train/finetune on the photos, timed
#      beside the library step: scripts/bench_realrun.sh).
set -euo pipefail
build=${1:-build}
tests=${BENCH_TESTS:-fwd,feat,finetune,small}
precs=${BENCH_PRECS:-fp32,bf16}
threads=${BENCH_THREADS:-2}
reps=${BENCH_REPS:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
anchor="$here/../shared/bench/torch_anchor.py"
data_dir="$here/../shared/data/cats_and_dogs_small/train"
if [ "$build" = --summary ]; then
    out=${2:?usage: scripts/bench.sh --summary DIR}
elif [ -n "${BENCH_OUT:-}" ]; then
    out=$BENCH_OUT
    mkdir -p "$out"
    rm -f "$out"/*.txt
else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
export IC_NUM_THREADS=$threads OMP_NUM_THREADS=$threads

# med img/s of test $2 in precision $3 in file $1 (imgclass and torch_anchor lines both
# carry test= and prec= fields, at different positions)
med() {
    awk -v t="$2" -v p="$3" '$1=="RESULT" && $2=="test="t {
        ok = 0; for (i = 3; i <= NF; i++) if ($i == "prec="p) ok = 1
        if (ok) for (i = 1; i <= NF; i++) if ($i == "med") print $(i+1) }' "$1" | tail -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

IFS=, read -ra tlist <<<"$tests"
IFS=, read -ra plist <<<"$precs"
if [ "$build" != --summary ]; then
    echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $threads threads"
    echo "== measured peak"
    "$build/bench/bench_peak" "$threads" | tee "$out/peak.txt"
    
    echo "== imgclass"
    for p in "${plist[@]}"; do
        for t in "${tlist[@]}"; do
            "$build/bench/bench_engine" --tests "$t" --reps "$reps" --precision "$p" | grep RESULT \
                | tee -a "$out/ours.txt" || true
        done
    done
    
    if [ "${BENCH_REAL:-1}" != 0 ]; then
        echo "== real runs: imgclass train / finetune on the photos (scripts/bench_realrun.sh)"
        rt=""
        for t in feat finetune; do
            case ",$tests," in *,$t,*) rt=${rt:+$rt,}$t ;; esac
        done
        if [ -n "$rt" ]; then
            BENCH_PRECS=$precs BENCH_REAL_TESTS=$rt scripts/bench_realrun.sh "$build" "$out/real.txt" \
                || echo "bench: the real-run step failed (above)"
        fi
    fi

    echo "== data pipeline (decode + resize + the book's augmentation, 150x150, batch 20)"
    "$build/bench/bench_data" "$data_dir" | grep RESULT | tee "$out/data.txt" || true
    
    have_torch=0
    if [ "${BENCH_TORCH:-1}" != 0 ] && [ -f "$anchor" ]; then
        if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
            echo "bench: installing Debian's python3-torch and python3-torchvision for the comparison"
            if [ "$(id -u)" -eq 0 ]; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-torchvision \
                    >/dev/null 2>&1 || true
            fi
        fi
        if /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
            have_torch=1
            torch_precs=fp32
            [ "${BENCH_TORCH_BF16:-0}" = 1 ] && torch_precs=fp32,bf16ac
            echo "== PyTorch (Debian, channels-last, $threads threads)"
            /usr/bin/python3 "$anchor" --tests "$tests" --fmts cl --precs "$torch_precs" \
                --threads "$threads" --reps "$reps" | grep RESULT | tee "$out/torch.txt"
        else
            echo "bench: PyTorch not available: no comparison (imgclass figures above only)"
        fi
    else
        echo "bench: no PyTorch comparison (${anchor} missing or BENCH_TORCH=0)"
    fi
fi
[ -s "$out/torch.txt" ] && have_torch=1 || have_torch=0

peak32=$(awk -v t="threads=$threads" '$2=="fp32_fma" && $3==t {print $5}' "$out/peak.txt")
peak16=$(awk -v t="threads=$threads" '$2=="bf16_dot" && $3==t {print $5}' "$out/peak.txt")
echo
echo "== summary: median images/s, ratio = imgclass / PyTorch fp32 channels-last (same run)"
printf '%-9s %-5s %9s %9s %7s %9s %7s %8s  %-7s %s\n' test prec imgclass pytorch ratio "GFLOP/s" "%peak" "rss MiB" target \
    "pytorch bf16 autocast (ratio)"

for t in "${tlist[@]}"; do
    theirs="" theirs16=""
    if [ "$have_torch" = 1 ]; then
        theirs=$(med "$out/torch.txt" "$t" fp32)
        theirs16=$(med "$out/torch.txt" "$t" bf16ac)
    fi
    for p in "${plist[@]}"; do
        line=$(awk -v t="$t" -v p="$p" '$1=="RESULT" && $2=="test="t && $3=="prec="p' "$out/ours.txt" | tail -1)
        [ -n "$line" ] || continue
        ours=$(med "$out/ours.txt" "$t" "$p")
        gf=$(awk '{for (i = 1; i <= NF; i++) if ($i == "gflops") print $(i+1)}' <<<"$line")
        rss=$(awk '{for (i = 1; i <= NF; i++) if ($i == "rss_mib") print $(i+1)}' <<<"$line")
        pk=$peak32; [ "$p" = bf16 ] && pk=$peak16
        target="-"
        case "$t/$p" in
            fwd/fp32|feat/fp32|finetune/fp32) target=">= 1.3" ;;
            small/fp32) target=">= 2" ;;
            fwd/bf16) target=">= 5" ;;
            finetune/bf16) target=">= 3" ;;
        esac
        other="-"
        [ "$p" = bf16 ] && [ -n "$theirs16" ] && other="$theirs16 ($(ratio "$ours" "$theirs16"))"
        printf '%-9s %-5s %9s %9s %7s %9s %7s %8s  %-7s %s\n' "$t" "$p" "$ours" "${theirs:--}" \
            "$(ratio "$ours" "$theirs")" "$gf" "$(awk -v g="$gf" -v k="$pk" 'BEGIN { if (k == "") print "-"; else printf "%.0f", 100 * g / k }')" \
            "$rss" "$target" "$other"
    done
done
if [ -s "$out/real.txt" ]; then
    echo
    echo "== real run against the library step (ms per batch of 20; docs/performance.md says where the difference goes)"
    printf '%-9s %-5s %10s %10s %7s\n' test prec library "real run" "real/lib"
    while read -r _ tt pp _ ms _; do
        t=${tt#test=} p=${pp#prec=}
        lib=$(med "$out/ours.txt" "$t" "$p")
        libms=$(awk -v v="$lib" 'BEGIN { if (v == "" || v == 0) print "-"; else printf "%.1f", 20000 / v }')
        printf '%-9s %-5s %10s %10s %7s\n' "$t" "$p" "$libms" "$ms" "$(ratio "$ms" "$libms")"
    done <"$out/real.txt"
fi
dt=$(awk '$1=="RESULT" && $2=="data" {for (i = 1; i <= NF; i++) if ($i == "med") v = $(i+1)} END {print v}' "$out/data.txt")
for p in "${plist[@]}"; do
    ft=$(med "$out/ours.txt" finetune "$p")
    if [ -n "$ft" ] && [ -n "$dt" ]; then
        echo "data pipeline $dt img/s = $(ratio "$dt" "$ft") x what the $p fine-tuning step consumes ($ft img/s; target >= 10)"
    fi
done
