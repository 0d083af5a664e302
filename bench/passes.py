"""How many passes over the array each NumPy reference makes (the "numpy" backend's cost).

A pass is one NumPy call that reads or writes a whole array: a ufunc (np.exp, a * b, ...) or
an array function (np.where, np.packbits, ...). Each kernel's reference runs once on a block of
float32 inputs wrapped in an ndarray subclass that counts the ufunc and array-function calls
made on it (methods such as .astype or .view are not counted). Prints one row per kernel.

    python bench/passes.py [--only relu,tanh] [--n 4096]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import tinygrad_act  # noqa: F401  (registers every kernel)
from tinygrad_act.executors import KERNELS, MASK

COUNTS: Counter = Counter()
PARAMS = {"min_val": -1.0, "max_val": 1.0, "negative_slope": 0.1, "lambd": 0.5,
          "threshold": 0.5, "value": -1.0, "lower": 0.1, "upper": 0.3, "alpha": 1.0,
          "beta": 2.0}


class Counted(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        COUNTS[f"{ufunc.__name__}{'' if method == '__call__' else '.' + method}"] += 1
        inputs = [i.view(np.ndarray) if isinstance(i, Counted) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Counted) else o
                                  for o in kwargs["out"])
        result = getattr(ufunc, method)(*inputs, **kwargs)
        return wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        COUNTS[func.__name__] += 1
        args = [a.view(np.ndarray) if isinstance(a, Counted) else a for a in args]
        kwargs = {k: v.view(np.ndarray) if isinstance(v, Counted) else v
                  for k, v in kwargs.items()}
        return wrap(func(*args, **kwargs))


def wrap(result):
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    return result.view(Counted) if type(result) is np.ndarray else result


def count(k, n: int) -> Counter:
    rng = np.random.default_rng(0)
    arrays = []
    for name in k.inputs:
        if name == MASK:
            arrays.append(np.packbits(rng.random(n) > 0.5, bitorder="little").view(Counted))
        elif name == "weight":
            arrays.append(np.full(1, 0.25, np.float32).view(Counted))
        elif name in ("m", "log_sum", "dot", "g_sum"):
            arrays.append(np.zeros((n // 64, 1), np.float32).view(Counted))
        else:
            shape = (n // 64, 64) if k.name.startswith(("softmax", "log_softmax")) else (n,)
            arrays.append((rng.standard_normal(shape) * 4).astype(np.float32).view(Counted))
    COUNTS.clear()
    with np.errstate(all="ignore"):
        k.reference(*arrays, **{p: PARAMS.get(p, 1.0) for p in k.params})
    return Counter(COUNTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="")
    parser.add_argument("--n", type=int, default=4096)
    args = parser.parse_args()
    only = [o for o in args.only.split(",") if o]
    print("| kernel | passes | calls |")
    print("|---|---|---|")
    for name, k in sorted(KERNELS.items()):
        if only and not any(name.startswith(o) for o in only):
            continue
        try:
            counts = count(k, args.n)
        except Exception as error:  # noqa: BLE001  (a reference that needs other inputs)
            print(f"| {name} | ? | {type(error).__name__}: {error} |")
            continue
        calls = ", ".join(f"{f} {c}" if c > 1 else f for f, c in sorted(counts.items()))
        print(f"| {name} | {sum(counts.values())} | {calls} |")


if __name__ == "__main__":
    main()
