#!/usr/bin/env bash
# gpu_check.sh - on the GPU machine, from the repository root, with gpu/ from
# scripts/gpu_pack.sh: unpacks the libraries to /tmp/iclibs, finds cuDNN and cuBLAS in the
# pip packages of python3 (nvidia-cudnn-cu13, nvidia-cublas), prints the machine (GPU,
# nvcc, torch, cuDNN), runs test_ops_cuda (must pass, not skip) and test_ops_cpu, then
# times one VGG16 block3 convolution (batch 20, 37x37x256 -> 256, 3x3 same, fp32,
# channels-last) forward + backward in PyTorch and through our cuda backend's table.
# Then make bench's four workloads: PyTorch on the GPU (bench/torch_gpu.py) and bench_engine
# on the cuda backend.
# With GPU_TRAIN_DATA=DIR and GPU_TRAIN_WEIGHTS=FILE, then scripts/gpu_train_check.sh (training
# on the photos on cuda and cpu). Everything goes to $OUT/gpu_check.log (OUT defaults to /tmp/out). Exit status: 0 when
# test_ops_cuda passed, 2 when no GPU is usable, 1 for any other failure.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
: >"$LOG"
LIBS=/tmp/iclibs
status=0

log() { echo "== $*" | tee -a "$LOG"; }
# run SECONDS CMD...: runs with a time limit, output to the log; returns the exit status.
run() {
    local t=$1
    shift
    timeout "$t" "$@" 2>&1 | tee -a "$LOG"
    return "${PIPESTATUS[0]}"
}

log "gpu_check $(date -u +%FT%TZ) on $(hostname)"
if [ ! -x gpu/bin/test_ops_cuda ] || [ ! -f gpu/iclibs.tar.xz ]; then
    log "FAIL: gpu/bin/test_ops_cuda or gpu/iclibs.tar.xz missing (run scripts/gpu_pack.sh on the build machine and carry gpu/)"
    exit 1
fi
rm -rf "$LIBS" && mkdir -p "$LIBS" && tar -xJf gpu/iclibs.tar.xz -C "$LIBS"

log "machine"
if command -v nvidia-smi >/dev/null; then
    run 30 nvidia-smi -L
    run 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
else
    log "no nvidia-smi on PATH"
fi
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$NVCC" ] && run 30 "$NVCC" --version | tail -n 2 || log "no nvcc"

# The pip NVIDIA packages: every lib/ folder under python3's nvidia namespace (cuDNN,
# cuBLAS, and what cuDNN loads at run time such as nvrtc), then torch's own lib/.
PYLIBS=$(timeout 60 python3 - <<'PY' 2>>"$LOG"
import os, glob
dirs = []
try:
    import nvidia
    for root in list(nvidia.__path__):
        for d in sorted(glob.glob(os.path.join(root, "*", "lib")) + glob.glob(os.path.join(root, "*", "*", "lib"))):
            if glob.glob(os.path.join(d, "lib*.so*")):
                dirs.append(d)
except Exception as e:
    import sys
    print("no nvidia pip packages:", e, file=sys.stderr)
try:
    import torch
    dirs.append(os.path.join(os.path.dirname(torch.__file__), "lib"))
except Exception:
    pass
print(":".join(d for d in dirs if not d.startswith("#")))
PY
)
export LD_LIBRARY_PATH="$LIBS${PYLIBS:+:$PYLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
run 60 python3 -c '
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
      "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
' || log "python3/torch not usable"
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
    found=$(for d in ${LD_LIBRARY_PATH//:/ }; do [ -e "$d/$lib" ] && echo "$d/$lib" && break; done)
    [ -n "$found" ] || found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF " (ldconfig)"; exit}')
    log "$lib: ${found:-NOT FOUND}"
done
if ldd gpu/bin/* | grep -q "not found"; then
    log "FAIL: unresolved libraries:"
    ldd gpu/bin/* | grep "not found" | sort -u | tee -a "$LOG"
    exit 1
fi

log "test_ops_cuda"
run 120 gpu/bin/test_ops_cuda
rc=$?
case $rc in
0) log "test_ops_cuda: PASS" ;;
77)
    log "test_ops_cuda: SKIPPED - no usable GPU (see the SKIP line above); nothing more to check"
    exit 2
    ;;
*)
    log "test_ops_cuda: FAIL (exit $rc)"
    status=1
    ;;
esac

if [ "${GPU_CHECK_ONLY_TESTS:-0}" = 1 ]; then
    log "done (op tests only): $([ $status -eq 0 ] && echo PASS || echo FAIL)"
    exit $status
fi

log "test_ops_cpu (oneDNN, for comparison)"
IC_NUM_THREADS=${IC_NUM_THREADS:-8} run 45 gpu/bin/test_ops_cpu || {
    log "test_ops_cpu: FAIL"
    status=1
}

log "PyTorch: conv 20x256x37x37 -> 256, 3x3 same, fp32, channels_last, fwd + bwd"
run 60 python3 - <<'PY'
import time, torch
torch.backends.cudnn.benchmark = False
def bench(tf32, copies, iters=20):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = "cuda"
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(dev).to(memory_format=torch.channels_last)
    xh = torch.randn(20, 256, 37, 37).to(memory_format=torch.channels_last)
    gh = torch.randn(20, 256, 37, 37).to(memory_format=torch.channels_last)
    xd, gd = xh.to(dev), gh.to(dev)
    def step():
        x = (xh.to(dev) if copies else xd).requires_grad_()
        g = gh.to(dev) if copies else gd
        y = torch.relu(conv(x))
        y.backward(g)
        if copies:  # what our host-pointer interface moves: dst, diff_src, diff_weights
            y.detach().cpu(); x.grad.cpu(); conv.weight.grad.cpu()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1e3 / iters
for tf32 in (False, True):
    for copies in (False, True):
        print(f"  torch fwd+bwd: {bench(tf32, copies):8.3f} ms/step  tf32={tf32} host_copies={copies}")
PY
[ $? -eq 0 ] || log "PyTorch timing failed"

log "imgclass cuda backend: the same conv through the op table (host copies included)"
run 30 gpu/bin/bench_cuda_ops cuda 20 || status=1
log "  ... with IC_CUDA_TF32=1"
IC_CUDA_TF32=1 run 30 gpu/bin/bench_cuda_ops cuda 20 || status=1
log "  ... with IC_CUDA_CONV_PER_SAMPLE=1"
IC_CUDA_CONV_PER_SAMPLE=1 run 30 gpu/bin/bench_cuda_ops cuda 20 || status=1
log "  ... the cpu backend on this machine's cores (2 iterations)"
run 30 gpu/bin/bench_cuda_ops cpu 2 || true

log "PyTorch on this GPU: make bench's workloads (bench/torch_gpu.py; fp32 = TF32 off)"
run 150 python3 bench/torch_gpu.py --iters 30 --reps 3 || log "torch_gpu.py failed"

log "imgclass cuda backend: make bench's workloads (bench_engine; host copies per op)"
for t in fwd feat finetune small; do
    IC_BACKEND=cuda run 60 gpu/bin/bench_engine --tests "$t" --reps 2 --iters 3 | grep -E "RESULT|rror" || true
done
log "  ... fwd and finetune with IC_CUDA_TF32=1"
for t in fwd finetune; do
    IC_CUDA_TF32=1 IC_BACKEND=cuda run 60 gpu/bin/bench_engine --tests "$t" --reps 2 --iters 3 | grep -E "RESULT|rror" || true
done

if [ -n "${GPU_TRAIN_DATA:-}" ] && [ -n "${GPU_TRAIN_WEIGHTS:-}" ]; then
    log "training on the photos: scripts/gpu_train_check.sh (log: $OUT/gpu_train_check.log)"
    OUT=$OUT bash scripts/gpu_train_check.sh "$GPU_TRAIN_DATA" "$GPU_TRAIN_WEIGHTS" || status=1
fi

log "done: $([ $status -eq 0 ] && echo PASS || echo FAIL) (log: $LOG)"
exit $status
