"""tinygrad_act.torch's modules, convert(), the errors for bad input, and the optional import.

Modules: every torch.nn activation class has a lean subclass of the same name taking the same
constructor arguments plus save=; it computes what the torch module computes (values and
gradients), keeps torch's repr with save= added, its state_dict and Parameters. convert()
replaces them recursively, keeping arguments and PReLU's weight Parameter. Bad input raises
the exception type PyTorch raises; dtypes the kernels lack (bfloat16, integers) a TypeError.
"""

from __future__ import annotations

import copy
import inspect
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

import tinygrad_act as ta
import tinygrad_act.torch as tt
from tinygrad_act.activations import ACTIVATIONS

F = torch.nn.functional

# torch.nn class -> constructor arguments to try (beyond the defaults)
CONSTRUCTED = {
    nn.ELU: {"alpha": 0.5}, nn.CELU: {"alpha": 2.0}, nn.SELU: {}, nn.GELU: {"approximate": "tanh"},
    nn.Softmax: {"dim": 1}, nn.LogSoftmax: {"dim": 0}, nn.GLU: {"dim": 1}, nn.Hardsigmoid: {},
    nn.Hardswish: {}, nn.Hardtanh: {"min_val": -0.5, "max_val": 2.0}, nn.ReLU6: {},
    nn.LeakyReLU: {"negative_slope": 0.2}, nn.LogSigmoid: {},
    nn.Softplus: {"beta": 2.0, "threshold": 15.0}, nn.Mish: {},
    nn.PReLU: {"num_parameters": 4, "init": 0.1}, nn.ReLU: {},
    nn.RReLU: {"lower": 0.1, "upper": 0.2}, nn.Softshrink: {"lambd": 0.3},
    nn.Hardshrink: {"lambd": 0.7}, nn.Sigmoid: {}, nn.SiLU: {}, nn.Softsign: {}, nn.Tanh: {},
    nn.Tanhshrink: {}, nn.Threshold: {"threshold": 0.1, "value": -2.0},
}


def test_every_activation_has_a_function_and_a_module():
    assert {tt.modules.SPECS[c][0] for c in tt.LEAN} == set(ACTIVATIONS)
    assert set(CONSTRUCTED) == set(tt.LEAN)
    for name in ACTIVATIONS:
        ours = inspect.signature(getattr(tt, name))
        assert ours.parameters["save"].default is None, name
        assert ours.parameters["save"].kind is inspect.Parameter.KEYWORD_ONLY
    for torch_class, lean_class in tt.LEAN.items():
        assert lean_class.__name__ == torch_class.__name__
        assert issubclass(lean_class, torch_class)
        assert getattr(tt, lean_class.__name__) is lean_class
        assert "save" in inspect.signature(lean_class).parameters


@pytest.mark.parametrize("torch_class", list(CONSTRUCTED), ids=lambda c: c.__name__)
def test_module_computes_what_torch_module_computes(torch_class):
    kwargs = CONSTRUCTED[torch_class]
    torch.manual_seed(0)
    theirs = torch_class(**kwargs).double()
    ours = getattr(tt, torch_class.__name__)(**kwargs).double()
    if torch_class is nn.RReLU:  # random slopes differ from PyTorch's: compare in eval mode
        theirs.eval(), ours.eval()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)[:-1] + (", " if theirs.extra_repr() else "") + "save=None)"
    x = torch.randn(6, 4, dtype=torch.float64)
    xo, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    yo, yt = ours(xo), theirs(xt)
    torch.testing.assert_close(yo, yt, rtol=1e-12, atol=1e-15)
    g = torch.randn_like(yt)
    yo.backward(g), yt.backward(g)
    torch.testing.assert_close(xo.grad, xt.grad, rtol=1e-12, atol=1e-15)
    for po, pt in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(po.grad, pt.grad, rtol=1e-12, atol=1e-15)


def test_module_save_argument():
    x = torch.randn(8, 8, requires_grad=True)
    assert repr(tt.ReLU(save="output")) == "ReLU(save='output')"
    assert repr(tt.Softplus(beta=2, save="input")) == (
        "Softplus(beta=2, threshold=20.0, save='input')")
    with pytest.raises(ValueError, match="unknown save policy"):
        tt.ReLU(save="everything")
    with pytest.raises(ValueError, match="supports"):
        tt.Softplus(save="mask")(x)  # known policy, not one softplus has
    with pytest.raises(ValueError, match="supports"):
        tt.Softplus(save="output").double()(x.double())  # float64 at threshold 20: exactness


@pytest.mark.parametrize("torch_class", [c for c in CONSTRUCTED
                                         if "inplace" in inspect.signature(c).parameters],
                         ids=lambda c: c.__name__)
def test_inplace_is_refused_clearly(torch_class):
    kwargs = {**CONSTRUCTED[torch_class], "inplace": True}
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        getattr(tt, torch_class.__name__)(**kwargs)
    name = tt.modules.SPECS[torch_class][0]
    args = (0.1, -1.0) if name == "threshold" else ()
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        getattr(tt, name)(torch.randn(4), *args, inplace=True)


def test_rrelu_training_draws_slopes_from_torch_seed():
    x = -torch.rand(1000, dtype=torch.float64) - 0.1
    m = tt.RReLU(0.1, 0.3)
    torch.manual_seed(5)
    a = m(x.requires_grad_())
    torch.manual_seed(5)
    b = m(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    slopes = (a / x).detach()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.03
    (dx,) = torch.autograd.grad(a, x, torch.ones_like(a))
    torch.testing.assert_close(dx, slopes)  # the same slopes, drawn again in backward
    m.eval()
    torch.testing.assert_close(m(x), F.rrelu(x, 0.1, 0.3, training=False))
    gen = torch.Generator().manual_seed(9)
    c = tt.rrelu(x, 0.1, 0.3, training=True, generator=gen)
    d = tt.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(c, d, rtol=0, atol=0)


def test_softmax_legacy_implicit_dim_warns_as_torch():
    x = torch.randn(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = tt.Softmax()(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = nn.Softmax()(x)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(tt.softmax(torch.tensor([1, 2, 3]), 0, dtype=torch.float64),
                               F.softmax(torch.tensor([1, 2, 3]), 0, dtype=torch.float64))


# -- convert -----------------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.act = nn.GELU(approximate="tanh")

    def forward(self, x):
        return self.act(self.linear(x)) + x


def make_model():
    torch.manual_seed(0)
    shared = nn.Tanh()
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True), Block(), shared,
                         nn.ModuleList([nn.Linear(4, 4), shared]), nn.PReLU(4),
                         nn.Sequential(nn.Softplus(beta=2), nn.Dropout(0.0)))


def run(model, x):
    h = model[:4](x)
    h = model[4][1](model[4][0](h))
    return model[6](model[5](h))


def test_convert_replaces_recursively_and_keeps_arguments():
    model = make_model()
    reference = copy.deepcopy(model)
    prelu_weight = model[5].weight
    x = torch.randn(3, 4)
    converted, table = tt.convert(model)
    assert converted is model
    assert [r.path for r in table] == ["1", "2.act", "3", "5", "6.0"]  # shared Tanh once
    assert "inplace=True dropped" in table[0].note
    assert type(model[1]) is tt.ReLU and model[1].inplace is False
    assert type(model[2].act) is tt.GELU and model[2].act.approximate == "tanh"
    assert model[3] is model[4][1] and type(model[3]) is tt.Tanh
    assert model[5].weight is prelu_weight and model[6][0].beta == 2
    assert type(model[6][1]) is nn.Dropout
    torch.testing.assert_close(run(model, x), run(reference, x))
    text = str(table)
    assert "GELU(approximate='tanh')" in text and "5 module(s) replaced" in text
    _, again = tt.convert(model)
    assert len(again) == 0  # lean modules are not converted twice
    lean, single = tt.convert(nn.Softplus(beta=3))
    assert type(lean) is tt.Softplus and lean.beta == 3 and len(single) == 1


def test_convert_save_policies():
    model = make_model()
    _, table = tt.convert(model, save="output")
    assert model[1].save == "output" and "save='output' where it can" in repr(model[1])
    gelu_has_output = "output" in ACTIVATIONS["gelu"].policies  # the registry may grow it
    assert (model[2].act.save is None) != gelu_has_output
    assert ("gelu cannot keep 'output'" in table[1].note) != gelu_has_output
    x = torch.randn(3, 4, dtype=torch.float64)
    run(model.double(), x)  # softplus in float64 cannot keep y: falls back to its default
    model = make_model()
    tt.convert(model, save={"ReLU": "input", "tanh": "input"})
    assert model[1].save == "input" and model[3].save == "input" and model[5].save is None


def test_convert_keeps_training_and_an_optimizer_working():
    model = nn.Sequential(nn.Linear(4, 4), nn.PReLU(4), nn.RReLU())
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tt.convert(model)
    assert not model[2].training
    before = model[1].weight.detach().clone()
    model(torch.randn(8, 4)).sum().backward()
    optimizer.step()
    assert not torch.equal(model[1].weight, before)  # the optimizer's Parameter was trained


# -- errors as PyTorch gives them ---------------------------------------------------------------

X = torch.randn(2, 3)
BAD = {  # what: (call with a function module f, the exception PyTorch raises)
    "softmax dim out of range": (lambda f: f.softmax(X, 2), IndexError),
    "log_softmax dim out of range": (lambda f: f.log_softmax(X, -3), IndexError),
    "glu dim out of range": (lambda f: f.glu(X, 2), IndexError),
    "glu odd size": (lambda f: f.glu(X, 1), RuntimeError),
    "glu scalar": (lambda f: f.glu(torch.tensor(1.0), 0), RuntimeError),
    "prelu weight count": (lambda f: f.prelu(X, torch.ones(2)), RuntimeError),
    "prelu weight ndim": (lambda f: f.prelu(X, torch.ones(1, 3)), RuntimeError),
    "prelu weight dtype": (lambda f: f.prelu(X, torch.ones(3, dtype=torch.float64)),
                           RuntimeError),
    "prelu 1-d input, 3 weights": (lambda f: f.prelu(torch.ones(3), torch.ones(3)),
                                   RuntimeError),
    "rrelu bounds": (lambda f: f.rrelu(X, 0.5, 0.1, training=True), RuntimeError),
    "rrelu bounds in eval": (lambda f: f.rrelu(X, 0.5, 0.1), RuntimeError),
    "hardtanh bounds": (lambda f: f.hardtanh(X, 2.0, 1.0), ValueError),
    "gelu approximate": (lambda f: f.gelu(X, approximate="erf"), RuntimeError),
    "gelu positional approximate": (lambda f: f.gelu(X, "tanh"), TypeError),
    "softshrink negative lambda": (lambda f: f.softshrink(X, -1.0), RuntimeError),
    "celu alpha 0": (lambda f: f.celu(X, 0.0), RuntimeError),
    "threshold missing value": (lambda f: f.threshold(X, 0.5), TypeError),
    "a list": (lambda f: f.relu([1.0, 2.0]), TypeError),
    "relu of bool": (lambda f: f.relu(torch.tensor([True])), RuntimeError),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_input_raises_what_torch_raises(what):
    call, error = BAD[what]
    with pytest.raises(error):
        call(F)
    with pytest.raises(error):
        call(tt)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.int64, torch.complex64])
@pytest.mark.parametrize("name", ["relu", "softplus", "softmax", "prelu"])
def test_dtypes_without_kernels_are_a_clear_type_error(name, dtype):
    x = torch.ones(2, 3, dtype=dtype)
    args = {"softmax": (1,), "prelu": (torch.ones(1, dtype=dtype),)}.get(name, ())
    with pytest.raises(TypeError, match=r"float16, float32 and float64|dtype"):
        getattr(tt, name)(x, *args)


def test_unknown_and_unsupported_policies():
    x = torch.randn(4, requires_grad=True)
    with pytest.raises(ValueError, match="supports"):
        tt.glu(x.reshape(2, 2), save="output")
    with pytest.raises(ValueError, match="supports|unknown save policy"):
        tt.relu(x, save="bits")
    with pytest.raises(ValueError, match="unknown activation"):
        tt.apply("swish", x)


def test_import_without_torch_says_what_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import tinygrad_act.torch\n"
            "except ImportError as e:\n    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "ImportError: tinygrad_act.torch needs PyTorch" in out.stdout, out.stderr
    assert "pip install torch" in out.stdout
    code = "import sys; sys.modules['torch'] = None; import tinygrad_act; print(tinygrad_act.relu)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_float_dtypes_round_trip():
    for dtype in (torch.float16, torch.float32, torch.float64):
        x = torch.randn(5, dtype=dtype, requires_grad=True)
        y = tt.silu(x)
        assert y.dtype == dtype
        (dx,) = torch.autograd.grad(y.sum(), x)
        assert dx.dtype == dtype
    assert ta.relu is not tt.relu


def test_torch_compile_breaks_the_graph_at_each_call():
    """torch.compile (here with the "eager" backend, no code generation) compiles around the
    lean activations: the same values and gradients."""
    torch.manual_seed(0)
    model = tt.convert(nn.Sequential(nn.Linear(8, 8), nn.Softplus(), nn.Linear(8, 8),
                                     nn.ReLU(), nn.Linear(8, 1)))[0]
    x = torch.randn(16, 8)
    compiled = torch.compile(model, backend="eager")
    compiled(x).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for a, p in zip(grads, model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=0, atol=0)
