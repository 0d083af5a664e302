"""Bytes kept for backward per element, PyTorch against each save policy, measured with
saved_tensors_hooks (each storage once), for every activation on a (64, 256) float32 input:

    python examples/torch_memory.py [--dtype float32] [--format markdown|text]

"alone": the activation by itself (x requires grad). "in layer": what the activation adds to a
Linear -> activation -> Linear stack beyond the two Linear layers (which keep their inputs and
weights): a y kept by the activation costs nothing there, since the next Linear keeps it too.
The default policy is marked with *.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import tinygrad_act.torch as tt
from tinygrad_act.activations import ACTIVATIONS

ROWS, WIDTH = 64, 256
ARGS = {"softmax": (1,), "log_softmax": (1,), "glu": (1,), "threshold": (0.5, -1.0)}


def saved_bytes(fn, x) -> int:
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values())


def activation(name, module, dtype, save=None, policies=None):
    args = ARGS.get(name, ())
    if name == "prelu":
        args = (torch.full((1,), 0.25, dtype=dtype),)
    if module is torch.nn.functional:
        return lambda x: getattr(module, name)(x, *args)
    return lambda x: getattr(module, name)(x, *args, save=save)


def policies_of(name, x):
    """The policies the activation can keep for these parameters and dtype, default first."""
    kept = []
    for policy in ACTIVATIONS[name].policies:
        try:
            activation(name, tt, x.dtype, policy)(x)
        except ValueError:
            continue
        kept.append(policy)
    default = saved_bytes(activation(name, tt, x.dtype), x)
    first = next(p for p in kept if saved_bytes(activation(name, tt, x.dtype, p), x) == default)
    return [first, *[p for p in kept if p != first]]


def measure(name, dtype):
    torch.manual_seed(0)
    x = torch.randn(ROWS, WIDTH, dtype=dtype, requires_grad=True)
    n = x.numel()
    out = WIDTH // 2 if name == "glu" else WIDTH
    first, second = nn.Linear(WIDTH, WIDTH).to(dtype), nn.Linear(out, 8).to(dtype)
    params = sum(p.numel() * p.element_size() for p in (*first.parameters(),
                                                        *second.parameters()))
    xd = x.detach()
    linear_only = saved_bytes(lambda x: second(first(x)[:, :out]), xd) - params

    def alone(fn):
        return saved_bytes(fn, x) / n

    def layer(fn):
        return (saved_bytes(lambda x: second(fn(first(x))), xd) - params - linear_only) / n

    torch_fn = activation(name, torch.nn.functional, dtype)
    ours = {p: (alone(activation(name, tt, dtype, p)), layer(activation(name, tt, dtype, p)))
            for p in policies_of(name, x)}
    return alone(torch_fn), layer(torch_fn), ours


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    parser.add_argument("--format", default="markdown", choices=["markdown", "text"])
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    rows = [("activation", "policy", "B/elt alone", "torch alone", "B/elt in layer",
             "torch in layer")]
    for name in sorted(ACTIVATIONS):
        torch_alone, torch_layer, ours = measure(name, dtype)
        for i, (policy, (alone, layer)) in enumerate(ours.items()):
            rows.append((name, policy + (" *" if i == 0 else ""), f"{alone:g}",
                         f"{torch_alone:g}", f"{layer:g}", f"{torch_layer:g}"))
    if args.format == "markdown":
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "---|" * len(rows[0]))
        for row in rows[1:]:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
