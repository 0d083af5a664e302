"""The two MLP blocks of a transformer, trained a few steps with the activations' output policy:

    MLP:     out = gelu(x W1 + b1) W2 + b2                      (GPT-2, BERT)
    SwiGLU:  out = (silu(x W1) * (x W3)) W2                     (LLaMA, PaLM)

x is a batch of token vectors (standard normal, as after a LayerNorm); a fixed random probe
reads each output token to a number, trained by plain SGD on the mean squared error against a
smooth target of x. Run it:

    python examples/transformer_blocks.py

With save="output", gelu and silu keep y (the array the next matmul keeps anyway), one bit per
element and a small side list (docs/output_policy.md) instead of x; PyTorch keeps their input.
The printout gives the losses and the activation bytes each keeps for backward, weights left
out on both sides. tests/test_transformer_blocks.py trains the same blocks in PyTorch from the
same weights and checks both, step for step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import tinygrad_act as ta

D_MODEL, HIDDEN, TOKENS = 64, 256, 512


def make_data(tokens: int = TOKENS, d_model: int = D_MODEL, seed: int = 0, dtype=np.float32):
    """(x, target, probe): x standard normal tokens, the target a smooth function of each token,
    the probe a fixed unit vector that reads an output token to one number."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((tokens, d_model))
    u = rng.standard_normal((d_model, 2)) / np.sqrt(d_model)
    target = np.sin(2 * x @ u[:, :1]) + 0.5 * np.tanh(x @ u[:, 1:])
    probe = rng.standard_normal((d_model, 1))
    probe /= np.linalg.norm(probe)
    return x.astype(dtype), target.astype(dtype), probe.astype(dtype)


def linear_init(rng, fan_in: int, fan_out: int, dtype, bias: bool = True) -> list[np.ndarray]:
    bound = 1 / np.sqrt(fan_in)  # torch.nn.Linear's
    w = [rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)]
    return w + ([rng.uniform(-bound, bound, fan_out).astype(dtype)] if bias else [])


def init_mlp(d_model: int = D_MODEL, hidden: int = HIDDEN, seed: int = 1, dtype=np.float32):
    """[W1, b1, W2, b2]."""
    rng = np.random.default_rng(seed)
    return linear_init(rng, d_model, hidden, dtype) + linear_init(rng, hidden, d_model, dtype)


def init_swiglu(d_model: int = D_MODEL, hidden: int = HIDDEN, seed: int = 1, dtype=np.float32):
    """[W1, W3, W2] (no biases, as LLaMA)."""
    rng = np.random.default_rng(seed)
    return (linear_init(rng, d_model, hidden, dtype, bias=False)
            + linear_init(rng, d_model, hidden, dtype, bias=False)
            + linear_init(rng, hidden, d_model, dtype, bias=False))


def mlp_block(save: str | None = "output") -> Callable:
    def forward(params: Sequence, x):
        w1, b1, w2, b2 = params
        return ta.gelu(x @ w1 + b1, save=save) @ w2 + b2
    return forward


def swiglu_block(save: str | None = "output") -> Callable:
    def forward(params: Sequence, x):
        w1, w3, w2 = params
        return (ta.silu(x @ w1, save=save) * (x @ w3)) @ w2
    return forward


BLOCKS = {"mlp": (mlp_block, init_mlp), "swiglu": (swiglu_block, init_swiglu)}


def loss(forward: Callable, params: Sequence, x, target, probe):
    return ta.mean((forward(params, x) @ probe - target) ** 2)


def train(forward: Callable, params: list[np.ndarray], x, target, probe, steps: int = 10,
          lr: float = 0.1) -> tuple[list[np.ndarray], list[float]]:
    """Plain SGD; (final params, the loss of every step)."""
    n = len(params)
    step = ta.value_and_grad(lambda *a: loss(forward, a[:n], x, target, probe),
                             argnums=tuple(range(n)))
    losses = []
    for _ in range(steps):
        value, grads = step(*params)
        losses.append(float(value))
        params = [p - lr * g for p, g in zip(params, grads)]
    return params, losses


def activation_bytes(forward: Callable, params: Sequence, x, target, probe) -> int:
    """Bytes the tape of one training step keeps for backward, each buffer once, the weights
    (and the fixed probe) left out."""
    recorded = ta.tape(lambda *p: loss(forward, p, x, target, probe))(*params)
    weights = {id(w) for w in (*params, probe)}
    buffers = {}
    for record in recorded.records:
        for value in (record.kept or {}).values():
            array = value
            while isinstance(array, ta.Tracer):
                array = array.value
            while getattr(array, "base", None) is not None:
                array = array.base
            if hasattr(array, "nbytes") and not isinstance(array, np.generic):
                buffers[id(array)] = 0 if id(array) in weights else array.nbytes
    return sum(buffers.values())


def main() -> None:
    x, target, probe = make_data()
    for name, (block, init) in BLOCKS.items():
        params = init()
        _, losses = train(block(), params, x, target, probe)
        print(f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} SGD steps")
        ours = activation_bytes(block("output"), params, x, target, probe)
        theirs = activation_bytes(block("input"), params, x, target, probe)
        print(f"  activation bytes kept for backward ({len(x)} tokens, float32, weights left "
              f"out): save='output' {ours}, save='input' (PyTorch's) {theirs}: "
              f"{100 * (1 - ours / theirs):.0f}% less")


if __name__ == "__main__":
    main()
