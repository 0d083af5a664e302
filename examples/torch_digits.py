"""A real model with the lean activations: scikit-learn's digits, an MLP and a small CNN.

    pip install scikit-learn        # load_digits ships with it: no download
    python examples/torch_digits.py [--epochs 3] [--dtype float32] [--backend compiled]

Each network is built once (torch.manual_seed), copied, and the copy converted with
tinygrad_act.torch.convert. Both are trained from the same weights with the same batches and
SGD steps; the losses are printed step by step side by side, with the test accuracy and the
bytes each keeps for backward (tinygrad_act.torch.memory_report, one batch).
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch
from torch import nn

import tinygrad_act as ta
import tinygrad_act.torch as tt


def load_data(dtype: torch.dtype = torch.float32, test_size: int = 297):
    """(x_train, y_train, x_test, y_test): 8x8 digits scaled to [0, 1], a fixed split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=dtype)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return x[test_size:], y[test_size:], x[:test_size], y[:test_size]


def mlp(activation: type[nn.Module] = nn.ReLU, hidden: int = 64) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), activation(), nn.Linear(hidden, hidden),
                         activation(), nn.Linear(hidden, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 x 4 x 4
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),                   # 16 x 4 x 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.Softplus(), nn.Linear(32, 10))


# ReLU keeps y in PyTorch, and a following Linear, Conv2d or MaxPool2d keeps that y too: there
# the "output" policy costs nothing and the default one-bit mask costs n/8 bytes more.
RELU_OUTPUT = {"ReLU": "output"}
MODELS = {"mlp-relu": lambda: mlp(nn.ReLU), "mlp-softplus": lambda: mlp(nn.Softplus),
          "cnn": cnn}


def train(model: nn.Module, data, epochs: int, batch_size: int = 64, lr: float = 0.1,
          seed: int = 1) -> tuple[list[float], float]:
    """SGD with momentum on cross-entropy; the loss of every step and the test accuracy."""
    x_train, y_train, x_test, y_test = data
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    batches = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=batches)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(x_train[rows]), y_train[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).double().mean().item()
    return losses, accuracy


def compare(name: str, data, epochs: int, seed: int = 0, save=None) -> dict:
    """Train the torch model and its converted copy from the same weights."""
    torch.manual_seed(seed)
    model = MODELS[name]().to(data[0].dtype)
    lean, table = tt.convert(copy.deepcopy(model), save)
    torch_losses, torch_accuracy = train(model, data, epochs)
    lean_losses, lean_accuracy = train(lean, data, epochs)
    return {"torch_losses": torch_losses, "lean_losses": lean_losses,
            "torch_accuracy": torch_accuracy, "lean_accuracy": lean_accuracy, "table": table}


def memory(name: str, dtype: torch.dtype, save=None, batch_size: int = 64):
    """tinygrad_act.torch.memory_report of the model on one batch (a storage of its own)."""
    torch.manual_seed(0)
    batch = torch.rand(batch_size, 64, dtype=dtype)
    return tt.memory_report(MODELS[name]().to(dtype), batch, save=save)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "compiled"])
    parser.add_argument("--every", type=int, default=10, help="print every Nth step")
    args = parser.parse_args(argv)
    data = load_data(getattr(torch, args.dtype))
    with ta.backend(args.backend):
        for name in MODELS:
            result = compare(name, data, args.epochs)
            ours, theirs = np.array(result["lean_losses"]), np.array(result["torch_losses"])
            print(f"== {name} ({args.dtype}, {args.epochs} epochs, {len(ours)} steps, backend "
                  f"{args.backend})")
            print(result["table"])
            print(f"{'step':>5s} {'torch loss':>12s} {'lean loss':>12s} {'rel diff':>9s}")
            for step in [*range(0, len(ours), args.every), len(ours) - 1]:
                diff = abs(ours[step] - theirs[step]) / abs(theirs[step])
                print(f"{step:5d} {theirs[step]:12.8f} {ours[step]:12.8f} {diff:9.1e}")
            worst = float(np.max(np.abs(ours - theirs) / np.abs(theirs)))
            print(f"worst relative loss difference over all steps: {worst:.1e}")
            print(f"test accuracy: torch {result['torch_accuracy']:.4f}, "
                  f"lean {result['lean_accuracy']:.4f}")
            for save in (None, RELU_OUTPUT):
                print(f"bytes kept for backward, one batch of 64, convert(model, save={save!r}):")
                print(memory(name, data[0].dtype, save))
            print()


if __name__ == "__main__":
    main()
