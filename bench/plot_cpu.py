"""Plots and target tables from bench/cpu.py's JSON lines (docs/runs/cpu-*.jsonl).

    python bench/plot_cpu.py docs/runs/cpu-compiled.jsonl [--backend compiled]
        [--plots docs/img] [--tables]

--plots: the ratio to PyTorch against size, one panel per activation (its default policy),
float32 and float64, steady and fresh: cpu-<backend>-fb.png (forward+backward),
cpu-<backend>-fwd.png, cpu-<backend>-bwd.png, and cpu-<backend>-floor.png (the step against the
2-thread copy floor, the memory-bound activations).
--tables: markdown tables of the issue-15 targets, each row met or missed with its worst case.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

MEMORY_BOUND = ("relu", "relu6", "leaky_relu", "prelu", "rrelu", "threshold", "hardtanh",
                "hardsigmoid", "softshrink", "hardshrink", "sigmoid", "tanh")
MODES = ("fwd", "bwd", "step")
LABEL = {"fwd": "forward", "bwd": "backward", "step": "forward+backward"}


def load(paths: list[str], backend: str) -> list[dict]:
    records = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            if "activation" in record and record["backend"] == backend:
                records.append(record)
    return records


def defaults(records: list[dict]) -> dict[str, str]:
    """Each activation's default policy (the first policy measured for it)."""
    from tinygrad_act.activations import ACTIVATIONS

    return {label: ACTIVATIONS[label.split("[")[0]].default for label in
            dict.fromkeys(r["activation"] for r in records)}


def plot(records: list[dict], backend: str, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    default = defaults(records)
    names = list(default)
    made = []
    for mode, key in [(m, "torch_seconds") for m in MODES] + [("step", "floor_seconds")]:
        names_here = [n for n in names if key == "torch_seconds" or n in MEMORY_BOUND]
        cols = 6
        rows = -(-len(names_here) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False,
                                 sharex=True)
        for ax, name in zip(axes.flat, names_here):
            for dtype, color in (("float32", "tab:blue"), ("float64", "tab:orange")):
                for regime, style in (("steady", "-"), ("fresh", "--")):
                    points = sorted((r["log2n"], r["seconds"] / r[key]) for r in records
                                    if r["activation"] == name and r["policy"] == default[name]
                                    and r["dtype"] == dtype and r["regime"] == regime
                                    and r["mode"] == mode)
                    if points:
                        ax.plot([p[0] for p in points], [p[1] for p in points], style,
                                color=color, marker=".", label=f"{dtype} {regime}")
            ax.axhline(1.0 if key == "torch_seconds" else 1.25, color="gray", lw=0.8)
            ax.set_yscale("log")
            ax.set_title(f"{name} ({default[name]})", fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(names_here):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6)
        what = "PyTorch's time" if key == "torch_seconds" else "the 2-thread copy floor"
        fig.suptitle(f"{backend}: {LABEL[mode]} time / {what}, against log2 of the elements "
                     f"(line: {'1' if key == 'torch_seconds' else '1.25'})")
        fig.tight_layout()
        name = f"cpu-{backend}-{'floor' if key == 'floor_seconds' else mode}.png"
        fig.savefig(folder / name, dpi=80)
        plt.close(fig)
        made.append(folder / name)
    return made


def worst(rows: list[dict], key: str) -> tuple[float, dict | None]:
    best = (0.0, None)
    for r in rows:
        ratio = r["seconds"] / r[key]
        if ratio > best[0]:
            best = (ratio, r)
    return best


def where(r: dict | None) -> str:
    if r is None:
        return "-"
    return f"{r['activation']} {r['policy']} {r['dtype']} 2^{r['log2n']} {r['regime']}"


def tables(records: list[dict]) -> str:
    default = defaults(records)
    out = []
    # 1. at most 1.0x PyTorch, 2^14 .. 2^26, every activation, both dtypes and regimes: the
    # worst ratio of each mode in each regime, and the steady step from 2^20 (the kernels)
    out.append("| activation | policy | steady fwd | steady bwd | steady f+b | steady f+b from "
               "2^20 | fresh fwd | fresh bwd | fresh f+b | met |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    by = defaultdict(list)
    for r in records:
        if 14 <= r["log2n"] <= 26:
            by[(r["activation"], r["policy"])].append(r)

    def cell(rows: list[dict]) -> tuple[float, str]:
        ratio, at = worst(rows, "torch_seconds")
        return ratio, (f"{ratio:.2f} ({at['dtype'][5:]} 2^{at['log2n']})" if at else "-")

    for (name, policy), rows in by.items():
        cells, met = [], True
        for regime in ("steady", "fresh"):
            for mode in MODES:
                ratio, text = cell([r for r in rows if r["mode"] == mode
                                    and r["regime"] == regime])
                met = met and ratio <= 1.0
                cells.append(text)
            if regime == "steady":
                cells.append(cell([r for r in rows if r["mode"] == "step" and
                                   r["regime"] == "steady" and r["log2n"] >= 20])[1])
        star = " *" if policy == default[name] else ""
        out.append(f"| {name} | {policy}{star} | " + " | ".join(cells) +
                   f" | {'met' if met else 'missed'} |")
    # 2. floor, memory-bound, from 2^20: each mode in steady state, the step fresh
    out.append("")
    out.append("| activation | policy | steady fwd/floor | steady bwd/floor | steady f+b/floor | "
               "fresh f+b/floor | met |")
    out.append("|---|---|---|---|---|---|---|")
    for (name, policy), rows in by.items():
        if name not in MEMORY_BOUND:
            continue
        cells, met = [], True
        for regime, modes in (("steady", MODES), ("fresh", ("step",))):
            for mode in modes:
                ratio, at = worst([r for r in rows if r["mode"] == mode and r["log2n"] >= 20
                                   and r["regime"] == regime], "floor_seconds")
                met = met and ratio <= 1.25
                cells.append(f"{ratio:.2f} ({at['dtype'][5:]} 2^{at['log2n']})" if at else "-")
        star = " *" if policy == default[name] else ""
        out.append(f"| {name} | {policy}{star} | " + " | ".join(cells) +
                   f" | {'met' if met else 'missed'} |")
    # 3. 2^8: forward at most 3x, f+b at most 1.5x (default policy)
    out.append("")
    out.append("| activation | fwd/torch float32 | fwd/torch float64 | f+b/torch float32 | "
               "f+b/torch float64 | met |")
    out.append("|---|---|---|---|---|---|")
    for name in default:
        rows = [r for r in records if r["activation"] == name and r["log2n"] == 8 and
                r["policy"] == default[name] and r["regime"] == "steady"]
        got = {(r["mode"], r["dtype"]): r["seconds"] / r["torch_seconds"] for r in rows}
        if not got:
            continue
        fwd = [got.get(("fwd", d), float("nan")) for d in ("float32", "float64")]
        fb = [got.get(("step", d), float("nan")) for d in ("float32", "float64")]
        met = all(v <= 3.0 for v in fwd) and all(v <= 1.5 for v in fb)
        out.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in fwd + fb) +
                   f" | {'met' if met else 'missed'} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", nargs="+")
    parser.add_argument("--backend", default="compiled")
    parser.add_argument("--plots", default="")
    parser.add_argument("--tables", action="store_true")
    args = parser.parse_args()
    records = load(args.jsonl, args.backend)
    if args.plots:
        for path in plot(records, args.backend, Path(args.plots)):
            print(path)
    if args.tables:
        print(tables(records))


if __name__ == "__main__":
    main()
