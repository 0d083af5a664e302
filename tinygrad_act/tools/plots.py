"""Pictures for the report (matplotlib, the optional extra `plot`).

- `<name>.png`: an activation with its first and second derivatives on one figure, from our
  float64 tape (grad, and grad of grad);
- `bytes_per_element.png`: bytes kept for backward per element, PyTorch's and each of our
  policies, alone and in a layer (when the next op keeps the output too).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_act as ta

from .report import ADAPTERS, Adapter, ReportError, Row, our_call

POLICY_COLORS = {"torch": "#7f7f7f", "input": "#1f77b4", "output": "#2ca02c", "mask": "#d62728"}


def require_matplotlib() -> Any:
    """matplotlib.pyplot with the file-only Agg backend, or a ReportError saying what to install."""
    try:
        import matplotlib
    except ImportError as error:
        raise ReportError("--plot needs matplotlib: pip install 'tinygrad_act[plot]'") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def curves(name: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f, f' and f'' along t (float64): the activation itself, or its adapter's 1-D curve."""
    adapter = ADAPTERS.get(name, Adapter())
    f = our_call(name, np.float64)

    def curve(t: Any) -> Any:
        if adapter.embed is None:
            return f(t)
        return f(adapter.embed(t))[:, adapter.pick]

    first = ta.grad(lambda t: ta.sum(curve(t)))
    second = ta.grad(lambda t: ta.sum(first(t)))
    return np.asarray(curve(t)), np.asarray(first(t)), np.asarray(second(t))


def plot_activation(name: str, path: Path, lo: float = -5.0, hi: float = 5.0) -> Path:
    plt = require_matplotlib()
    t = np.linspace(lo, hi, 801)
    value, first, second = curves(name, t)
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(t, value, label="f(x)", lw=2)
    ax.plot(t, first, label="f'(x)", lw=1.5)
    ax.plot(t, second, label="f''(x)", lw=1.2, ls="--")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    label = ADAPTERS.get(name, Adapter()).label
    ax.set_title(f"{name}: {label}" if label else name)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bytes(rows: Sequence[Row], path: Path, dtype: str = "float32") -> Path:
    """Grouped bars per activation: PyTorch, then each of our policies (default hatched)."""
    plt = require_matplotlib()
    rows = [r for r in rows if r.bytes_alone is not None]
    names = list(dict.fromkeys(r.activation for r in rows))
    series = ["torch", *[p for p in POLICY_COLORS if p != "torch"]]
    width = 0.8 / len(series)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.55 * len(names) + 2), 5.5), dpi=100,
                             sharex=True)
    for ax, attribute, title in ((axes[0], "bytes_alone", "the activation alone"),
                                 (axes[1], "bytes_in_layer",
                                  "in a layer: extra bytes when the next op keeps y (Linear)")):
        for k, key in enumerate(series):
            xs, heights, hatches = [], [], []
            for i, name in enumerate(names):
                mine = [r for r in rows if r.activation == name]
                if key == "torch":
                    value = getattr(mine[0], "torch_" + attribute)
                    default = False
                else:
                    match = [r for r in mine if r.policy == key]
                    value = getattr(match[0], attribute) if match else None
                    default = bool(match) and match[0].default
                if value is not None:
                    xs.append(i + (k - (len(series) - 1) / 2) * width)
                    heights.append(value)
                    hatches.append("//" if default else "")
            bars = ax.bar(xs, heights, width, color=POLICY_COLORS[key],
                          label="PyTorch" if key == "torch" else f"ours, save={key!r}")
            for bar, hatch, height in zip(bars, hatches, heights):
                bar.set_hatch(hatch)
                if height < 0.5:  # a mask or a shared buffer: say how little
                    ax.annotate(f"{height:.3g}", (bar.get_x() + width / 2, height), ha="center",
                                va="bottom", fontsize=6, color=POLICY_COLORS[key])
        ax.set_ylabel(f"bytes / element ({dtype})")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(range(len(names)), names, rotation=45, ha="right")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=8,
               title="hatched: our default policy", title_fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(rows: Sequence[Row], directory: str | Path, dtype: str = "float32") -> list[Path]:
    """Every activation's curve and the bytes chart into directory; the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [plot_bytes(rows, directory / "bytes_per_element.png", dtype)]
    for name in dict.fromkeys(r.activation for r in rows if r.bytes_alone is not None):
        written.append(plot_activation(name, directory / f"{name}.png"))
    return written
