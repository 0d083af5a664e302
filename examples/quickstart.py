"""Quickstart: a gradient, a check of it, a second derivative, and the tape behind them.

    python examples/quickstart.py
"""

from __future__ import annotations

import numpy as np

import tinygrad_act as ta


def loss(w: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Mean squared error of a one-layer network: mean((tanh(x @ w) - y)^2)."""
    return ta.mean((ta.tanh(x @ w) - y) ** 2)


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal(8).astype(np.float32)
    w = 0.5 * rng.standard_normal(3).astype(np.float32)

    value, g = ta.value_and_grad(loss)(w, x, y)
    print(f"loss {value:.6f}, gradient with respect to w ({g.dtype}):\n{g}")
    ok = ta.gradcheck(lambda w: loss(w, x, y), w)  # in float64, against central differences
    print(f"gradcheck: {ok}")

    # Derivatives compose: the second derivative of sin(x) * x at 1.0 is 2cos(1) - sin(1).
    print(f"d2/dx2 [x sin x] at 1.0 = {ta.grad(ta.grad(lambda x: ta.sin(x) * x))(1.0):.6f}")

    # What one evaluation of the loss keeps for backward (x, y and w are all traced here).
    print("\nthe tape of loss(w, x, y):")
    print(ta.tape(loss)(w, x, y))


if __name__ == "__main__":
    main()
