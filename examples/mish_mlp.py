"""A deeper MLP with mish, Linear -> Mish -> Linear -> Mish -> Linear -> Mish -> Linear,
trained with plain SGD on the synthetic regression task of softplus_network.py (whose data,
initialisation, SGD loop and memory printout it reuses). Run it:

    python examples/mish_mlp.py

mish is not monotonic, so its derivative cannot be recovered from its output: whichever policy
it keeps by default, the printout compares it with PyTorch's (the input) and with the same
layers without activations.
"""

from __future__ import annotations

from collections.abc import Callable

from softplus_network import init_params, make_data, mlp, print_losses, report_memory, train

import tinygrad_act as ta

SIZES = (4, 64, 64, 64, 1)


def mish_net(save: str | None = None) -> Callable:
    """forward(params, x) of the MLP, every mish keeping `save`."""
    return lambda params, x: mlp(params, x, lambda h: ta.mish(h, save=save))


def main() -> None:
    x, y = make_data()
    params = init_params(SIZES)
    params, losses = train(mish_net(), params, x, y, steps=300, lr=0.05)
    print_losses(losses)
    report_memory(mish_net, params, x[:64], y[:64])


if __name__ == "__main__":
    main()
