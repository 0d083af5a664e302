"""Linear -> Softplus -> Linear, trained with plain SGD on a small synthetic regression task.

The network of the classic PyTorch softplus tutorial (SimpleNet: fc1, Softplus, fc2), written
with tinygrad_act and NumPy. A Linear layer is x @ w + b, with w of shape (in, out) and both
initialised like torch.nn.Linear. Run it:

    python examples/softplus_network.py

It prints the loss as it trains, then the bytes the tape keeps for one training step: under
PyTorch's policy (every activation keeps its input, save="input") and under ours (the default:
softplus keeps its output y, the very array the next Linear keeps to compute its weight
gradient, so the activation costs no memory at all).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import tinygrad_act as ta

SIZES = (4, 32, 1)  # input, hidden, output


def make_data(n: int = 512, seed: int = 0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Inputs uniform in [-2, 2]^4 and a smooth target of them, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 4))
    y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3] + 0.1 * x[:, 3:4] ** 2
    y += 0.05 * rng.standard_normal(y.shape)
    return x.astype(dtype), y.astype(dtype)


def init_params(sizes: Sequence[int] = SIZES, seed: int = 1, dtype=np.float32) -> list[np.ndarray]:
    """[w1, b1, w2, b2, ...], uniform in +-1/sqrt(fan_in) as torch.nn.Linear does."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype),
                   rng.uniform(-bound, bound, fan_out).astype(dtype)]
    return params


def mlp(params: Sequence, x, activation: Callable):
    """Linear layers with `activation` between them (none after the last)."""
    for i in range(0, len(params), 2):
        x = x @ params[i] + params[i + 1]
        if i + 2 < len(params):
            x = activation(x)
    return x


def softplus_net(save: str | None = None) -> Callable:
    """forward(params, x) of Linear -> Softplus -> Linear, softplus keeping `save`."""
    return lambda params, x: mlp(params, x, lambda h: ta.softplus(h, save=save))


def mse(forward: Callable, params: Sequence, x, y):
    return ta.mean((forward(params, x) - y) ** 2)


def batches(n: int, batch_size: int, steps: int, seed: int = 2) -> list[np.ndarray]:
    """The row indices of each step: shuffled epochs cut into full batches."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out += [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return out[:steps]


def train(forward: Callable, params: list[np.ndarray], x: np.ndarray, y: np.ndarray,
          steps: int = 300, lr: float = 0.05, batch_size: int = 64) -> tuple[list, list[float]]:
    """Plain SGD on the mean squared error; (final params, loss of every step)."""
    n_params = len(params)
    loss_and_grads = ta.value_and_grad(
        lambda *args: mse(forward, args[:n_params], args[n_params], args[n_params + 1]),
        argnums=tuple(range(n_params)))
    losses = []
    for rows in batches(len(x), batch_size, steps):
        loss, grads = loss_and_grads(*params, x[rows], y[rows])
        params = [p - lr * g for p, g in zip(params, grads)]
        losses.append(float(loss))
    return params, losses


def bytes_per_step(forward: Callable, params: list[np.ndarray], x: np.ndarray,
                   y: np.ndarray) -> int:
    """Bytes the tape of one training step keeps for backward (the parameters are traced)."""
    return ta.tape(lambda *params: mse(forward, params, x, y))(*params).saved_bytes


def report_memory(make_net: Callable[[str | None], Callable], params: list[np.ndarray],
                  x: np.ndarray, y: np.ndarray) -> None:
    torch_policy = bytes_per_step(make_net("input"), params, x, y)
    ours = bytes_per_step(make_net(None), params, x, y)
    linear_only = bytes_per_step(lambda params, x: mlp(params, x, lambda h: h), params, x, y)
    print(f"bytes the tape keeps per step (batch {len(x)}, {x.dtype}):")
    print(f"  PyTorch's policy, save='input':   {torch_policy:7d}")
    print(f"  ours, the default policy:         {ours:7d}")
    print(f"  the same layers, no activation:   {linear_only:7d}")
    print(f"  the activations cost {ours - linear_only} bytes with ours, "
          f"{torch_policy - linear_only} with PyTorch's policy")


def print_losses(losses: list[float], every: int = 50) -> None:
    for start in range(0, len(losses), every):
        chunk = losses[start:start + every]
        print(f"steps {start:4d}-{start + len(chunk) - 1:4d}  mean loss {np.mean(chunk):.5f}")


def main() -> None:
    x, y = make_data()
    params = init_params()
    params, losses = train(softplus_net(), params, x, y)
    print_losses(losses)
    report_memory(softplus_net, params, x[:64], y[:64])


if __name__ == "__main__":
    main()
