"""How fast can an exact backward from y be? The output policy's backward against its floor.

Issue 14 asks for the output policy's backward (gelu, gelu_tanh, silu, mish) within 1.5x of the
input policy's at 2^20 elements on the compiled path. Any backward that recovers x from a rounded
y exactly must evaluate f to better than the array's precision (the residual y - f(x0) is what
Newton's step divides by f'(x0)): for float32, f in double. This script times, per activation, in
one interleaved run on the compiled path:

- `input`: the input policy's backward kernel (g, x -> dx), the bar;
- `output`: the output policy's fused backward kernel (g, y, bits -> dx), without the side
  data's patch (which comes on top);
- `newton`: a floor: the fused backward given a perfect first guess (x itself as a third input):
  one Newton step and the Taylor step of f' in double, as the kernels do, with no guess at all;
- `newton libm`: the same with glibc's vector exp in place of ours (ours is kept for its bits
  being the NumPy path's: docs/output_policy.md);
- `exp`: one double exp per element and nothing else (glibc's), below which no recovery of an
  exp-based f can go.

The floors are kernels of this script, appended to a temporary copy of kernels/ that
$TINYGRAD_ACT_KERNELS points at (each variant runs in a process of its own); the library's
kernels are not changed.

    python bench/output_policy_floor.py [--log2n 20] [--threads 1] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS = {  # row: (kernel file, input backward, output backward, double f, f', f'' helper)
    "silu": ("silu.cu", "silu_backward_input", "silu_backward_output", "ta_silu_parts"),
    "mish": ("mish.cu", "mish_backward_input", "mish_backward_output", "ta_mish_derivatives"),
    "gelu": ("gelu.cu", "gelu_backward_input", "gelu_backward_output", "ta_gelu_parts"),
    "gelu_tanh": ("gelu.cu", "gelu_tanh_backward_input", "gelu_tanh_backward_output",
                  "ta_gelu_tanh_parts"),
}
FLOOR_KERNEL = """
// kernel: floor_{row}_newton
// in: T g, T y, T xh
// out: T dx
double f, d1, d2;
{parts}(double(xh), f, d1, d2);
dx = C(double(g) * (d1 + d2 * ((double(y) - f) / d1)));
"""
EXP_KERNEL = """
// kernel: floor_exp
// in: T g, T y, T xh
// out: T dx
dx = C(double(g) * exp(-fabs(double(xh))) + double(y));
"""
OUR_EXP = "__device__ TA_INLINE double ta_exp_neg(double a) {"


def kernel_folder(libm: bool) -> Path:
    """kernels/ with the floor kernels appended; with `libm`, ta_exp_neg is glibc's exp."""
    folder = Path(tempfile.mkdtemp(prefix="ta-floor-"))
    for path in (ROOT / "kernels").iterdir():
        shutil.copy(path, folder / path.name)
    for row, (name, _, _, parts) in ROWS.items():
        with open(folder / name, "a") as out:
            out.write(FLOOR_KERNEL.format(row=row, parts=parts))
    with open(folder / "silu.cu", "a") as out:
        out.write(EXP_KERNEL)
    if libm:
        common = (folder / "common.cuh").read_text()
        assert OUR_EXP in common, "common.cuh's ta_exp_neg moved: update this script"
        common = common.replace(OUR_EXP, OUR_EXP + "\n    if (true) return exp(-a);", 1)
        (folder / "common.cuh").write_text(common)
    return folder


def measure(args) -> dict[str, float]:
    """In this process (kernels from $TINYGRAD_ACT_KERNELS): median ms of each kernel."""
    import importlib

    import numpy as np

    import tinygrad_act as ta
    from tinygrad_act.executors import kernel, launch, set_num_threads

    set_num_threads(args.threads)
    n = 1 << args.log2n
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    modules = {"silu": "silu", "mish": "mish", "gelu": "gelu", "gelu_tanh": "gelu"}
    forward = {row: importlib.import_module(f"tinygrad_act.activations.{m}")
               for row, m in modules.items()}
    policies = {"silu": forward["silu"]._silu_output, "mish": forward["mish"]._mish_output,
                "gelu": forward["gelu"]._gelu_output["none"],
                "gelu_tanh": forward["gelu"]._gelu_output["tanh"]}

    def floor(name):
        return kernel(name, inputs="g y xh", outputs="dx")(lambda g, y, xh: g)

    def timed(fn) -> float:
        fn()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3

    calls = {}
    with ta.backend("compiled"):
        for row, (_, backward_input, backward_output, _) in ROWS.items():
            y, mask = policies[row].kernels.forward(x)
            newton = floor(f"floor_{row}_newton")
            calls[f"{row} input"] = lambda b=backward_input: launch(b, g, x)
            calls[f"{row} output"] = lambda b=backward_output, y=y, m=mask: launch(b, g, y, m)
            calls[f"{row} newton"] = lambda k=newton, y=y: k(g, y, x)
        exp_floor = floor("floor_exp")
        calls["exp"] = lambda: exp_floor(g, x, x)
        times = {name: [] for name in calls}
        for _ in range(args.rounds):  # interleaved: drift hits every kernel alike
            for name, call in calls.items():
                times[name].append(timed(call))
    return {name: min(t) for name, t in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log2n", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args)))
        return
    results = {}
    for libm in (False, True):
        folder = kernel_folder(libm)
        try:
            env = {**os.environ, "TINYGRAD_ACT_KERNELS": str(folder)}
            command = [sys.executable, __file__, "--measure", f"--log2n={args.log2n}",
                       f"--threads={args.threads}", f"--repeats={args.repeats}",
                       f"--rounds={args.rounds}"]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            results[libm] = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    ours, libm = results[False], results[True]
    print(f"compiled path, float32, n = 2^{args.log2n}, {args.threads} thread(s), best of "
          f"{args.rounds} interleaved medians of {args.repeats}; ms, and / the input policy's "
          f"backward; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("| activation | input backward | output backward (kernel) | newton, perfect guess | "
          "newton, glibc exp | one double exp |")
    print("|---|---|---|---|---|---|")
    for row in ROWS:
        bar = ours[f"{row} input"]

        def cell(ms: float) -> str:
            return f"{ms:.2f} ({ms / bar:.2f}x)"  # noqa: B023 (used at once)

        print(f"| {row} | {bar:.2f} | {cell(ours[f'{row} output'])} | "
              f"{cell(ours[f'{row} newton'])} | {cell(libm[f'{row} newton'])} | "
              f"{cell(libm['exp'])} |")


if __name__ == "__main__":
    main()
