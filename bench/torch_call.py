"""What a step of tinygrad_act.torch costs beyond its kernels: relu's forward+backward on a CPU
tensor, against PyTorch's and against two minimal torch.autograd.Functions.

    python bench/torch_call.py [--size 1024] [--rounds 3000] [--threads 2]

Contenders, timed round-robin (median of --rounds steps each, `x.grad = None` first):
- torch: F.relu(x).backward(g);
- empty Function: a Python torch.autograd.Function that does no work (forward returns x
  detached, backward returns g): what any Function written in Python costs;
- kernels Function: a Python Function calling the same two compiled kernels as
  tinygrad_act.torch.relu (relu_forward_mask, relu_backward_mask) and nothing else;
- tinygrad_act.torch: tinygrad_act.torch.relu(x).backward(g) (the tape, the views, finding what
  to save).
The difference between the last two is this package's own Python per step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import tinygrad_act as ta
import tinygrad_act.torch as tt
from tinygrad_act.executors import launch, set_num_threads


class Empty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.detach()

    @staticmethod
    def backward(ctx, g):
        return g


class Kernels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y, mask = launch("relu_forward_mask", x.detach().numpy())
        ctx.save_for_backward(torch.from_numpy(mask))
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return torch.from_numpy(launch("relu_backward_mask", g.numpy(), mask.numpy()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_num_threads(args.threads)
    x = torch.randn(args.size, requires_grad=True)
    g = torch.randn(args.size)
    contenders = {
        "torch": lambda: F.relu(x).backward(g),
        "empty Function": lambda: Empty.apply(x).backward(g),
        "kernels Function": lambda: Kernels.apply(x).backward(g),
        "tinygrad_act.torch": lambda: tt.relu(x).backward(g),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with ta.backend("compiled"):
        for i in range(args.rounds + 50):
            for name, step in contenders.items():
                x.grad = None
                start = time.perf_counter()
                step()
                if i >= 50:
                    times[name].append(time.perf_counter() - start)
    print(f"relu forward+backward, {args.size} float32 elements, compiled backend, "
          f"{args.threads} threads; median of {args.rounds} interleaved steps")
    print("| step | us | / torch |\n|---|---|---|")
    base = statistics.median(times["torch"])
    for name, spent in times.items():
        print(f"| {name} | {statistics.median(spent) * 1e6:.1f} | "
              f"{statistics.median(spent) / base:.2f} |")


if __name__ == "__main__":
    main()
