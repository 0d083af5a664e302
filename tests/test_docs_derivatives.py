"""The formulas and the bytes table of docs/activations.md, checked so that the page cannot drift.

Elementwise activations: each ```derivatives block names a `call` of tinygrad_act, optional
`let` abbreviations, an optional `where` region, y, dy/dx and d2y/dx2 as sympy expressions
(Piecewise allowed), optionally dy/d<param> and d2y/dxd<param> for a differentiable parameter,
`kinks` (points where the code's convention at a kink is checked too) and `rtol` (the
tolerance against the code, 1e-12 unless given). Each block is checked twice: dy/dx and d2y/dx2
against sympy's derivatives of y, at 50 digits, at sample points of the region (away from
kinks); and y, dy/dx and d2y/dx2 against tinygrad_act's own values and derivatives of the call,
in float64, at the same points and the kinks, under every save policy the call offers.

softmax, log_softmax and glu (not elementwise): their blocks give y, the Jacobian and the
Hessian of sum(g * y) as NumPy expressions of a vector x (and a fixed cotangent g), checked
against tinygrad_act.jacobian and tinygrad_act.hessian, and against central differences of the
page's own y and Jacobian (which play sympy's part: the formulas must be derivatives of y).

The bytes table is measured again (ours with tinygrad_act.tape, PyTorch's with
saved_tensors_hooks) when torch is installed.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import tinygrad_act as ta
from tinygrad_act import activations
from tinygrad_act.tools.torch_oracle import torch_saved_bytes

DOC = Path(__file__).resolve().parent.parent / "docs" / "activations.md"
x = sp.Symbol("x", real=True)
z = sp.Symbol("z", real=True)
NAMESPACE = {
    "x": x,
    "sigmoid": sp.Lambda(z, 1 / (1 + sp.exp(-z))),
    "softplus": sp.Lambda(z, sp.log(1 + sp.exp(z))),
    "Phi": sp.Lambda(z, sp.erfc(-z / sp.sqrt(2)) / 2),
    "phi": sp.Lambda(z, sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)),
}
SAMPLES = [-7.5, -3.2, -1.3, -0.6, -0.05, 0.04, 0.7, 1.9, 4.4, 9.0]
ARRAY_PARAMS = {"weight"}  # passed to tinygrad_act as a 0-d array (prelu's weight)
ELEMENTWISE = {name for name, a in activations.ACTIVATIONS.items() if not a.along_dim}
ALONG_A_DIM = {name for name, a in activations.ACTIVATIONS.items() if a.along_dim}


def blocks() -> list[tuple[str, dict[str, str], list[tuple[str, str]]]]:
    """(section title, {key: text}, [(key, text)] in order) for every ```derivatives block."""
    found, section = [], None
    lines = iter(DOC.read_text().splitlines())
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```derivatives":
            entries: dict[str, str] = {"let": ""}
            ordered = []
            for body in lines:
                if body.strip() == "```":
                    break
                key, text = re.match(r"(\S+)\s+=?\s*(.*)", body).groups()
                ordered.append((key, text))
                entries[key] = entries["let"] + text + ";" if key == "let" else text
            found.append((section, entries, ordered))
    return found


def call_of(text: str):
    """The activation and its keyword arguments from a `call` line such as elu(x, alpha=1.5)."""
    node = ast.parse(text, mode="eval").body
    keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    return getattr(activations, node.func.id), keywords


BLOCKS = blocks()
SCALAR = [(s, e) for s, e, _ in BLOCKS if "jacobian" not in e]
VECTOR = [(s, o) for s, e, o in BLOCKS if "jacobian" in e]


def test_every_activation_has_its_formulas_on_the_page():
    documented = {call_of(e["call"])[0].__name__ for _, e in SCALAR}
    assert documented == ELEMENTWISE
    assert {call_of(dict(o)["call"])[0].__name__ for _, o in VECTOR} == ALONG_A_DIM
    assert set(activations.__all__) - {"ACTIVATIONS", "Activation", "POLICIES", "save_policy"} \
        == ELEMENTWISE | ALONG_A_DIM


# -- elementwise: sympy and tinygrad_act ----------------------------------------------------------


def formulas(entries: dict[str, str]) -> tuple[dict[str, sp.Expr], dict[sp.Symbol, sp.Rational]]:
    """The block's formulas (lets substituted, y substituted for the symbol y), still in the
    parameter symbols, and the parameters' values from the call (floats, exactly)."""
    _, keywords = call_of(entries["call"])
    names = dict(NAMESPACE)
    names.update({k: sp.Symbol(k) for k in keywords})  # beta is a parameter, not sympy's beta
    for definition in filter(None, entries["let"].split(";")):
        name, value = (part.strip() for part in definition.split("=", 1))
        names[name] = sp.sympify(value, locals=names, rational=True)
    parsed = {key: sp.sympify(text, locals=names, rational=True)  # decimals exactly
              for key, text in entries.items()
              if key in ("y", "where") or key.startswith(("dy/d", "d2y/d"))}
    for key in parsed:
        if key != "y":
            parsed[key] = parsed[key].subs(sp.Symbol("y"), parsed["y"])
    params = {sp.Symbol(k): sp.Rational(Fraction(v)) for k, v in keywords.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return parsed, params


def sample_points(entries: dict[str, str]) -> list[float]:
    parsed, params = formulas(entries)
    if "where" not in parsed:
        return SAMPLES
    condition = parsed["where"].subs(params)
    return [p for p in SAMPLES if bool(condition.subs(x, p))]


def kinks(entries: dict[str, str]) -> list[float]:
    return [float(p) for p in entries.get("kinks", "").split(",") if p.strip()]


def derivative_keys(entries: dict[str, str]) -> list[tuple[str, tuple[sp.Symbol, ...]]]:
    """(key, the symbols sympy differentiates y by) for each derivative the block states."""
    keys = [("dy/dx", (x,)), ("d2y/dx2", (x, x))]
    for key in entries:
        if key.startswith("d2y/dxd"):
            keys.append((key, (x, sp.Symbol(key[len("d2y/dxd"):]))))
        elif key.startswith("dy/d") and key != "dy/dx":
            keys.append((key, (sp.Symbol(key[len("dy/d"):]),)))
    return keys


IDS = [f"{section}-{entries['call']}" for section, entries in SCALAR]


@pytest.mark.parametrize(("section", "entries"), SCALAR, ids=IDS)
def test_documented_derivatives_are_sympys(section, entries):
    parsed, params = formulas(entries)
    points = sample_points(entries)
    assert len(points) >= 2, f"{section}: too few sample points in {entries.get('where')}"
    for key, by in derivative_keys(entries):
        documented = parsed[key].subs(params)
        derived = sp.diff(parsed["y"], *by).subs(params)
        for point in points:
            difference = (documented - derived).subs(x, sp.Rational(point)).evalf(50)
            scale = abs(derived.subs(x, sp.Rational(point)).evalf(50)) + 1
            assert abs(difference) < 1e-40 * scale, (section, key, point, documented)


def _offered_policies(activation, keywords):
    offered = []
    for policy in activations.POLICIES:
        try:
            activation(np.zeros(1), save=policy, **keywords)
        except ValueError:
            continue
        offered.append(policy)
    return [None] + offered


def tinygrad_values(activation, keywords: dict, policy: str | None,
                    points: np.ndarray) -> tuple[dict[str, np.ndarray], set[str]]:
    """y and its derivatives from tinygrad_act at the points, by the page's keys; and the keys
    of parameter derivatives (a parameter's gradient is summed over the points)."""
    act = lambda v, **changed: activation(v, save=policy, **{**keywords, **changed})
    dfdx = ta.grad(lambda v: ta.sum(act(v)))
    ours = {"y": np.asarray(act(points)), "dy/dx": dfdx(points),
            "d2y/dx2": ta.grad(lambda v: ta.sum(dfdx(v)))(points)}
    summed = set()
    for name in ARRAY_PARAMS & set(keywords):
        first = lambda w, name=name: ta.sum(act(points, **{name: w}))
        mixed = lambda w, name=name: ta.sum(ta.grad(lambda v: ta.sum(act(v, **{name: w})))(points))
        ours[f"dy/d{name}"] = ta.grad(first)(keywords[name])
        ours[f"d2y/dxd{name}"] = ta.grad(mixed)(keywords[name])
        summed |= {f"dy/d{name}", f"d2y/dxd{name}"}
    return ours, summed


@pytest.mark.parametrize(("section", "entries"), SCALAR, ids=IDS)
def test_documented_derivatives_are_tinygrad_acts(section, entries):
    activation, keywords = call_of(entries["call"])
    parsed, params = formulas(entries)
    points = np.array(sample_points(entries) + kinks(entries))
    rtol = float(entries.get("rtol", 1e-12))
    keywords = {k: np.array(v, dtype=np.float64) if k in ARRAY_PARAMS else v
                for k, v in keywords.items()}
    for policy in _offered_policies(activation, keywords):
        ours, summed = tinygrad_values(activation, keywords, policy, points)
        for key, value in ours.items():
            if key not in parsed:
                continue
            formula = parsed[key].subs(params)
            expected = np.array([float(formula.subs(x, sp.Rational(p)).evalf(30)) for p in points])
            if key in summed:
                expected = expected.sum()
            np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-14,
                                       err_msg=f"{section}: {key}, save={policy!r}")


# -- softmax, log_softmax, glu: NumPy formulas against tinygrad_act and central differences ------

X = np.array([-1.3, 0.4, 2.1, -0.2, 0.9, -2.5])
G = np.array([0.7, -1.1, 0.3, 1.6, -0.4, 0.5])
VECTOR_NAMESPACE = {"exp": np.exp, "log": np.log, "sum": np.sum, "max": np.max, "diag": np.diag,
                    "outer": np.outer, "eye": np.eye, "ones": np.ones, "block": np.block,
                    "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "len": len}


def evaluate(ordered: list[tuple[str, str]], at: np.ndarray, g: np.ndarray) -> dict[str, object]:
    """The block's lines evaluated in order at x = at, with cotangent g."""
    names = {**VECTOR_NAMESPACE, "x": at, "g": g}
    for key, text in ordered:
        if key == "let":
            name, value = (part.strip() for part in text.split("=", 1))
            names[name] = eval(value, names)
        elif key != "call":
            names[key] = eval(text, names)
    return names


def central_differences(f, at: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f(at) / d at[k] as the last axis."""
    columns = [(f(at + h * e) - f(at - h * e)) / (2 * h) for e in np.eye(len(at))]
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize(("section", "ordered"), VECTOR, ids=[s for s, _ in VECTOR])
def test_documented_jacobian_and_hessian(section, ordered):
    activation, keywords = call_of(dict(ordered)["call"])
    act = lambda v: activation(v, **keywords)
    g = G[:np.asarray(act(X)).size]
    page = evaluate(ordered, X, g)
    ours = {"y": np.asarray(act(X)), "jacobian": ta.jacobian(act)(X),
            "hessian": ta.hessian(lambda v: ta.sum(act(v) * g))(X)}
    for key, value in ours.items():
        np.testing.assert_allclose(page[key], value, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{section}: {key} against tinygrad_act")
    # the page's Jacobian is the derivative of its y, its Hessian that of its J^T g
    jacobian = central_differences(lambda v: evaluate(ordered, v, g)["y"], X)
    np.testing.assert_allclose(page["jacobian"], jacobian, rtol=1e-6, atol=1e-8,
                               err_msg=f"{section}: jacobian against differences of y")
    hessian = central_differences(lambda v: evaluate(ordered, v, g)["jacobian"].T @ g, X)
    np.testing.assert_allclose(page["hessian"], hessian, rtol=1e-6, atol=1e-8,
                               err_msg=f"{section}: hessian against differences of the jacobian")


# -- the bytes table ------------------------------------------------------------------------------


def table_rows() -> dict[str, list[str]]:
    text = DOC.read_text().split("## Bytes kept per element", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return {row[0]: row[1:] for row in rows[2:]}


def cases():
    """name in the table -> (ours(x, save=...), torch's function of a tensor), both float32."""
    import torch
    import torch.nn.functional as F
    a, w = activations, np.array([0.25], np.float32)
    same = lambda name, **k: (lambda v, **s: getattr(a, name)(v, **k, **s),
                              lambda t: getattr(F, name)(t, **k))
    rows = {name: same(name) for name in ("softplus", "relu", "mish", "gelu", "silu", "elu",
                                          "celu", "selu", "logsigmoid", "softsign", "tanhshrink",
                                          "relu6", "hardtanh", "leaky_relu", "hardsigmoid",
                                          "hardswish", "softshrink", "hardshrink", "glu")}
    rows["gelu, approximate='tanh'"] = same("gelu", approximate="tanh")
    rows["tanh"] = (a.tanh, torch.tanh)
    rows["sigmoid"] = (a.sigmoid, torch.sigmoid)
    rows["rrelu, evaluation"] = same("rrelu")
    rows["rrelu, training"] = (
        lambda v, **s: a.rrelu(v, training=True, rng=np.random.default_rng(0), **s),
        lambda t: F.rrelu(t, training=True))
    rows["prelu, constant weight"] = (lambda v, **s: a.prelu(v, w, **s),
                                      lambda t: F.prelu(t, torch.tensor(w)))
    rows["prelu, learned weight"] = (None, None)  # the weight is traced: see measured()
    rows["threshold"] = same("threshold", threshold=0.1, value=-1.0)
    rows["softmax"] = same("softmax", dim=-1)
    rows["log_softmax"] = same("log_softmax", dim=-1)
    return rows


def number(cell: str) -> float | None:
    """A table cell's leading number ("1/8", "4 (x)"), or None for "-"."""
    head = cell.split()[0]
    return None if head == "-" else float(Fraction(head))


def measured(name: str) -> list[float | None]:
    """Per element of x: ours default, per policy, PyTorch's; then followed by y * w."""
    import torch
    import torch.nn.functional as F
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    if name == "prelu, learned weight":
        w = np.array([0.25], np.float32)
        wt = torch.tensor(w, requires_grad=True)
        ours = lambda v, **s: ta.tape(lambda v, w: activations.prelu(v, w, **s))(v, w)
        theirs = lambda t: F.prelu(t, wt)
        chained = lambda v, w2, **s: ta.tape(
            lambda v, w, w2: activations.prelu(v, w, **s) * w2)(v, w, w2)
    else:
        act, theirs = cases()[name]
        ours = lambda v, **s: ta.tape(lambda v: act(v, **s))(v)
        chained = lambda v, w2, **s: ta.tape(lambda v, w2: act(v, **s) * w2)(v, w2)
    n = x.size
    row = [ours(x).saved_bytes / n]
    for policy in ("input", "output", "mask"):
        try:
            row.append(ours(x, save=policy).saved_bytes / n)
        except ValueError:
            row.append(None)
    row.append(torch_saved_bytes(theirs, xt) / n)
    w2 = np.random.default_rng(1).standard_normal(np.asarray(theirs(xt).detach()).shape[-1:])
    w2 = w2.astype(np.float32)
    offered = [p for p, bytes_ in zip(("input", "output", "mask"), row[1:]) if bytes_ is not None]
    best = min(chained(x, w2, save=p).saved_bytes for p in offered)
    row.append((best - w2.nbytes) / n)
    w2t = torch.tensor(w2, requires_grad=True)
    row.append((torch_saved_bytes(lambda t: theirs(t) * w2t, xt) - w2.nbytes) / n)
    return row


def kept_labels(name: str) -> str:
    """The default policy's name, read off what the tape says the op keeps."""
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    if name == "prelu, learned weight":
        recorded = ta.tape(lambda v, w: activations.prelu(v, w))(x, np.array([0.25], np.float32))
    else:
        recorded = ta.tape(cases()[name][0])(x)
    labels = {saved.label for op in recorded.ops for saved in op.saved}
    return "mask" if "mask" in labels else "input" if "x" in labels else "output"


def test_bytes_table_is_measured():
    pytest.importorskip("torch")
    rows = table_rows()
    assert set(rows) == set(cases()), "the table lists these rows, and only these"
    for name, cells in rows.items():
        default, *numbers, chain = cells
        documented = [number(c) for c in numbers] + [number(c) for c in chain.split("/")]
        assert default == f'"{kept_labels(name)}"', (name, default)
        for got, want, what in zip(measured(name), documented,
                                   ("default", "input", "output", "mask", "PyTorch",
                                    "ours followed by y * w", "PyTorch followed by y * w")):
            if want is None:
                assert got is None, (name, what, got)
            else:
                assert got is not None and abs(got - want) < 0.01, (name, what, got, want)
