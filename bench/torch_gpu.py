#!/usr/bin/env python3
"""PyTorch on the GPU: the peer for `make bench`'s workloads on the cuda backend.

The same four workloads as ../shared/bench/torch_anchor.py (VGG16 at 150x150, batch 20,
random weights): fwd (base forward, no grad), feat (frozen base + Flatten + Dense 256 +
Dense 1, RMSprop step), finetune (the same from block3_conv1 on), small (the book's small
convnet, RMSprop step). Channels-last. Precisions: fp32 (TF32 off), tf32 (TF32 on for
matmuls and convolutions, TensorFlow's default on these GPUs) and bf16 (autocast).

Timing: warm-up steps, then --reps blocks of --iters steps; each block is timed with CUDA
events around the whole block (the GPU runs asynchronously), so a step's time is the block
time / iters. Printed like the CPU anchor: RESULT test=T prec=P ... med X img/s.

  python3 bench/torch_gpu.py [--tests fwd,feat,finetune,small] [--precs fp32,tf32,bf16]
"""
import argparse
import statistics
import sys

import torch
import torch.nn as nn
import torchvision

BATCH = 20


def vgg_base():
    return torchvision.models.vgg16(weights=None).features


class FeatModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = vgg_base()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 512, 256), nn.ReLU(inplace=True),
                                  nn.Linear(256, 1))

    def forward(self, x):
        return self.head(self.base(x))


def small_convnet():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(7 * 7 * 128, 512), nn.ReLU(inplace=True),
        nn.Linear(512, 1))


def build(test, prec, dev):
    cl = torch.channels_last
    x = torch.randn(BATCH, 3, 150, 150, device=dev).contiguous(memory_format=cl)
    y = torch.randint(0, 2, (BATCH, 1), device=dev).float()
    lossf = nn.BCEWithLogitsLoss()
    tf32 = prec == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=prec == "bf16")

    if test == "fwd":
        m = vgg_base().to(dev).eval().to(memory_format=cl)

        def step():
            with torch.no_grad(), autocast():
                return m(x)
        return step
    if test in ("feat", "finetune"):
        m = FeatModel().to(dev).to(memory_format=cl)
        for p in m.base.parameters():
            p.requires_grad_(False)
        if test == "finetune":
            for p in m.base[10:].parameters():  # block3_conv1 on
                p.requires_grad_(True)
        lr = 1e-5 if test == "finetune" else 2e-5
        m.train()
    elif test == "small":
        m = small_convnet().to(dev).to(memory_format=cl).train()
        lr = 1e-4
    else:
        raise ValueError(test)
    opt = torch.optim.RMSprop([p for p in m.parameters() if p.requires_grad], lr=lr)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            out = m(x)
        loss = lossf(out.float(), y)
        loss.backward()
        opt.step()
        return loss
    return step


def bench(test, prec, warmup, iters, reps, dev):
    step = build(test, prec, dev)
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    per_step = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            step()
        b.record()
        b.synchronize()
        per_step.append(a.elapsed_time(b) / 1e3 / iters)
    med = statistics.median(per_step)
    print(f"RESULT test={test} prec={prec} batch={BATCH} device=cuda iters={iters} reps={reps}  "
          f"med {BATCH / med:.1f} img/s ({med * 1e3:.3f} ms/batch)  block img/s: "
          + " ".join(f"{BATCH / t:.1f}" for t in per_step), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", default="fwd,feat,finetune,small")
    ap.add_argument("--precs", default="fp32,tf32,bf16")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_gpu: no CUDA device visible to PyTorch", file=sys.stderr)
        return 1
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name(0)}", flush=True)
    for p in a.precs.split(","):
        for t in a.tests.split(","):
            bench(t, p, a.warmup, a.iters, a.reps, dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
