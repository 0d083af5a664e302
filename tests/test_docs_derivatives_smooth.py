"""The derivative formulas of docs/activations_smooth.md, checked so that the page cannot drift.

Each ```derivatives block there names a `call` of tinygrad_act, optional `let` abbreviations,
an optional `where` region, and y, dy/dx and d2y/dx2 as sympy expressions. Each block is
checked twice: dy/dx and d2y/dx2 against sympy's derivatives of y, at 50 digits at sample
points of the region; and against tinygrad_act's own first and second derivatives of the call,
in float64, at the same points.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import tinygrad_act as ta
from tinygrad_act import activations

DOC = Path(__file__).resolve().parent.parent / "docs" / "activations_smooth.md"
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


def blocks() -> list[tuple[str, dict[str, str]]]:
    """(section title, {key: text}) for every ```derivatives block of the page."""
    found, section = [], None
    lines = iter(DOC.read_text().splitlines())
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```derivatives":
            entries: dict[str, str] = {"let": ""}
            for body in lines:
                if body.strip() == "```":
                    break
                key, text = re.match(r"(\S+)\s+=?\s*(.*)", body).groups()
                entries[key] = entries["let"] + text + ";" if key == "let" else text
            found.append((section, entries))
    return found


def parse(text: str, lets: str) -> sp.Expr:
    """A formula of the page with its `let` names substituted (and alpha from the call)."""
    names = dict(NAMESPACE)
    for definition in filter(None, lets.split(";")):
        name, value = (part.strip() for part in definition.split("=", 1))
        names[name] = sp.sympify(value, locals=names, rational=True)
    return sp.sympify(text, locals=names, rational=True)  # decimals exactly, for 50 digits


def call_of(text: str):
    """The activation and its keyword arguments from a `call` line such as elu(x, alpha=1.5)."""
    node = ast.parse(text, mode="eval").body
    keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    return getattr(activations, node.func.id), keywords


def region_points(entries: dict[str, str]) -> list[float]:
    if "where" not in entries:
        return SAMPLES
    condition = sp.sympify(entries["where"], locals={"x": x})
    return [p for p in SAMPLES if bool(condition.subs(x, p))]


BLOCKS = blocks()
IDS = [f"{section}-{entries['call']}" for section, entries in BLOCKS]


def test_every_smooth_activation_has_its_formulas_on_the_page():
    documented = {call_of(entries["call"])[0].__name__ for _, entries in BLOCKS}
    assert documented == {"mish", "gelu", "silu", "elu", "celu", "selu", "logsigmoid",
                          "softsign", "tanh", "sigmoid", "tanhshrink"}


@pytest.mark.parametrize(("section", "entries"), BLOCKS, ids=IDS)
def test_documented_derivatives_are_sympys(section, entries):
    _, keywords = call_of(entries["call"])
    params = {sp.Symbol(k): sp.Rational(v) for k, v in keywords.items() if isinstance(v, float)}
    y, first, second = (parse(entries[k], entries["let"]).subs(params)
                        for k in ("y", "dy/dx", "d2y/dx2"))
    first, second = first.subs(sp.Symbol("y"), y), second.subs(sp.Symbol("y"), y)
    for point in region_points(entries):
        for documented, derived in ((first, sp.diff(y, x)), (second, sp.diff(y, x, 2))):
            difference = (documented - derived).subs(x, sp.Rational(point)).evalf(50)
            scale = abs(derived.subs(x, sp.Rational(point)).evalf(50)) + 1
            assert abs(difference) < 1e-40 * scale, (section, point, documented)


@pytest.mark.parametrize(("section", "entries"), BLOCKS, ids=IDS)
def test_documented_derivatives_are_tinygrad_acts(section, entries):
    activation, keywords = call_of(entries["call"])
    params = {sp.Symbol(k): sp.Rational(v) for k, v in keywords.items() if isinstance(v, float)}
    y, first, second = (parse(entries[k], entries["let"]).subs(params)
                        for k in ("y", "dy/dx", "d2y/dx2"))
    first, second = first.subs(sp.Symbol("y"), y), second.subs(sp.Symbol("y"), y)
    points = np.array(region_points(entries))
    f = lambda v: ta.sum(activation(v, **keywords))
    dfdx = ta.grad(f)
    ours = (np.asarray(activation(points, **keywords)), dfdx(points),
            ta.grad(lambda v: ta.sum(dfdx(v)))(points))
    for formula, value, what in zip((y, first, second), ours, ("y", "dy/dx", "d2y/dx2")):
        expected = np.array([float(formula.subs(x, sp.Rational(p)).evalf(30)) for p in points])
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{section}: {what}")
