"""What tinygrad_act.torch keeps for backward, as PyTorch's saved_tensors_hooks see it.

Every tensor a policy keeps goes through ctx.save_for_backward: "input" saves the input tensor
itself, "output" the output tensor itself (the storage the next Linear saves too), "mask" one
uint8 tensor of ceil(n/8) bytes. Alone, an activation never keeps more than PyTorch's; in a
Linear -> activation -> Linear stack the best policy keeps no more than PyTorch, and strictly
less for the activations listed in STRICTLY_LESS (the relu family and hard* with a bit per
element where PyTorch keeps x; softplus, logsigmoid and the elu family with y, which the next
Linear keeps anyway, where PyTorch keeps x; softsign, where PyTorch keeps two arrays).
relu, sigmoid, tanh, softmax and log_softmax keep y in PyTorch too: there the output policy
equals PyTorch, and relu's default mask costs its n/8 bytes more.
"""

from __future__ import annotations

import cases_piecewise
import cases_smooth
import numpy as np
import pytest
import torch
from torch import nn

import tinygrad_act.torch as tt

CASES = [*cases_smooth.CASES, *cases_piecewise.CASES]
ALONG_DIM = {"softmax": {"dim": 1}, "log_softmax": {"dim": 1}, "glu": {"dim": 1}}
# where PyTorch keeps two arrays and the policy one
FEWER_ARRAYS = {"softsign"}
# today's registry (docs/torch.md lists them); a policy added later may extend it
TODAY = {"relu", "relu6", "leaky_relu", "hardtanh", "hardsigmoid", "hardshrink", "softshrink",
         "threshold", "rrelu", "prelu", "softplus", "logsigmoid", "elu", "celu", "selu",
         "softsign", "sigmoid", "tanh", "softmax", "log_softmax", "glu", "tanhshrink",
         "hardswish"}
STRICTLY_LESS = {"relu6", "leaky_relu", "hardtanh", "hardsigmoid", "hardshrink", "softshrink",
                 "threshold", "rrelu", "prelu", "softplus", "logsigmoid", "elu", "celu", "selu",
                 "softsign"}
# policies that keep side data beside y (small arrays of exceptional points): alone they may
# keep a little more than PyTorch, in a layer much less
SIDE_DATA = {"silu": ("output",), "gelu": ("output",), "mish": ("output",)}
ROWS, WIDTH = 64, 32


def saved(fn, *args) -> list[torch.Tensor]:
    tensors = []

    def pack(t):
        tensors.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*args)
    return tensors, out


def storage_bytes(tensors) -> int:
    """Each storage once."""
    return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in tensors}.values())


def all_cases():
    for case in CASES:
        # softplus at its default threshold (20), where float32 can keep the output
        params = {} if case.name == "softplus" else case.example_params
        policies = ("output", "input") if case.name == "softplus" else case.policies(
            params, np.float32)
        yield case.name, params, policies
    for name, params in ALONG_DIM.items():
        yield name, params, ("input",) if name == "glu" else ("output",)


def lean(name, policy, params):
    if name == "prelu":
        return lambda x: tt.prelu(x, torch.full((1,), params["weight"]), save=policy)
    if name in ALONG_DIM:
        return lambda x: getattr(tt, name)(x, params["dim"], save=policy)
    return lambda x: getattr(tt, name)(x, save=policy, **params)


def torch_fn(name, params):
    F = torch.nn.functional
    if name == "prelu":
        return lambda x: F.prelu(x, torch.full((1,), params["weight"]))
    if name in ALONG_DIM:
        return lambda x: getattr(F, name)(x, params["dim"])
    return lambda x: getattr(F, name)(x, **params)


CASE_IDS = [name for name, _, _ in all_cases()]


@pytest.mark.parametrize("name,params,policies", list(all_cases()), ids=CASE_IDS)
def test_keeps_exactly_what_the_policy_keeps(name, params, policies):
    """The arrays of x's size a policy saves: x itself, y itself, or none beside a mask of
    ceil(n/8) bytes (anything else saved is small side data or prelu's weight)."""
    x = torch.randn(ROWS, WIDTH, requires_grad=True)
    for policy in policies:
        tensors, y = saved(lean(name, policy, params), x)
        big = [t for t in tensors if t.dtype == torch.float32 and t.numel() >= y.numel()]
        masks = [t for t in tensors if t.dtype == torch.uint8 and t.numel() == x.numel() // 8]
        expected = {"input": [x.data_ptr()], "output": [y.data_ptr()], "mask": []}[policy]
        assert [t.data_ptr() for t in big] == expected, (name, policy)
        if policy == "mask":
            assert len(masks) == 1, name


def test_rrelu_training_keeps_a_bit_per_element_not_its_slopes():
    x = torch.randn(ROWS, WIDTH, requires_grad=True)
    tensors, _ = saved(lambda x: tt.rrelu(x, training=True), x)
    assert [t.dtype for t in tensors] == [torch.uint8]
    assert storage_bytes(tensors) == x.numel() // 8
    theirs, _ = saved(lambda x: torch.nn.functional.rrelu(x, training=True), x)
    assert storage_bytes(theirs) == 2 * x.numel() * 4  # x and the noise


def test_prelu_keeps_x_for_a_trained_weight():
    x = torch.randn(ROWS, WIDTH, requires_grad=True)
    w = torch.full((WIDTH,), 0.25, requires_grad=True)
    tensors, _ = saved(lambda x: tt.prelu(x, w), x)  # default "input": x is needed for dweight
    assert {t.data_ptr() for t in tensors} == {x.data_ptr(), w.data_ptr()}
    tensors, _ = saved(lambda x: tt.prelu(x, w, save="mask"), x)  # mask for dx, x for dw
    assert {t.data_ptr() for t in tensors if t.dtype == torch.float32} == {x.data_ptr(),
                                                                          w.data_ptr()}
    assert [t.numel() for t in tensors if t.dtype == torch.uint8] == [x.numel() // 8]
    tensors, _ = saved(lambda x: tt.prelu(x, w.detach()), x)  # constant weight: the mask
    assert [t.dtype for t in tensors if t.numel() > WIDTH] == [torch.uint8]


@pytest.mark.parametrize("name,params,policies", list(all_cases()), ids=CASE_IDS)
def test_never_more_than_torch_and_less_in_a_layer(name, params, policies, capsys):
    torch.manual_seed(0)
    x = torch.randn(ROWS, WIDTH)
    first = nn.Linear(WIDTH, WIDTH)
    out_width = WIDTH // 2 if name == "glu" else WIDTH
    second = nn.Linear(out_width, 8)
    parameters = storage_bytes(list(first.parameters()) + list(second.parameters()))
    xr = x.clone().requires_grad_()
    torch_alone = storage_bytes(saved(torch_fn(name, params), xr)[0])
    torch_layer = storage_bytes(saved(lambda x: second(torch_fn(name, params)(first(x))),
                                      x)[0]) - parameters
    linear_only = storage_bytes(saved(lambda x: second(first(x)[:, :out_width]), x)[0]) \
        - parameters
    ours_alone, ours_layer = {}, {}
    for policy in policies:
        ours_alone[policy] = storage_bytes(saved(lean(name, policy, params), xr)[0])
        ours_layer[policy] = storage_bytes(saved(
            lambda x, p=policy: second(lean(name, p, params)(first(x))), x)[0]) - parameters
    with capsys.disabled():
        print(f"\n{name:12s} alone: torch {torch_alone:5d} ours {ours_alone} | layer extra: "
              f"torch {torch_layer - linear_only:5d} ours "
              f"{ {p: b - linear_only for p, b in ours_layer.items()} }")
    assert ours_alone[policies[0]] <= torch_alone  # the default
    for policy in policies:  # and every policy that keeps one array (x, y or a mask)
        if policy not in SIDE_DATA.get(name, ()):
            assert ours_alone[policy] <= torch_alone, policy
    assert min(ours_layer.values()) <= torch_layer
    torch_extra = torch_layer - linear_only  # what PyTorch's activation adds in the layer
    allows_less = torch_extra > 0 and ("mask" in policies or "output" in policies
                                       or name in FEWER_ARRAYS)
    assert (min(ours_layer.values()) < torch_layer) == allows_less
    assert allows_less == (name in STRICTLY_LESS) or name not in TODAY, "update the docs"
    default = ours_layer[policies[0]]
    if name == "relu":  # PyTorch keeps y, which the Linear keeps too; the mask is extra
        assert default == torch_layer + x.numel() // 8 and ours_layer["output"] == torch_layer
    else:
        assert default <= torch_layer


def test_storage_shared_with_the_next_linear_is_counted_once():
    model = nn.Sequential(nn.Linear(16, 32), nn.Softplus(), nn.Linear(32, 4))
    x = torch.randn(8, 16)
    theirs = tt.saved_bytes(model, x)
    report = tt.memory_report(model, x)
    by_name = {m.name: m for m in report.lean.modules}
    assert by_name["1"].kept == 8 * 32 * 4  # y
    assert by_name["2"].kept == 0 and by_name["2"].shared == 8 * 32 * 4  # the same y
    assert theirs.by_module()["1"] == 8 * 32 * 4 and theirs.by_module()["2"] == 8 * 32 * 4
    assert report.lean.total == report.torch.total - 8 * 32 * 4
    assert report.torch.parameters == report.lean.parameters > 0
    text = str(report)
    assert "Softplus" in text and str(report.lean.total) in text
    assert "shared" in str(report.lean)


def test_checkpointing_and_pack_hooks_that_copy():
    """Saved tensors go through PyTorch's machinery: a pack hook that copies them (offloading
    does), save_on_cpu, and checkpointing all give the same gradients."""
    torch.manual_seed(0)
    model = tt.convert(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16),
                                     nn.Softplus(), nn.Linear(16, 1)))[0]
    x = torch.randn(5, 8)

    def grads(run):
        model.zero_grad()
        run().sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = grads(lambda: model(x))
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
        copied = grads(lambda: model(x))
    with torch.autograd.graph.save_on_cpu():
        offloaded = grads(lambda: model(x))
    checkpointed = grads(lambda: torch.utils.checkpoint.checkpoint(model, x,
                                                                   use_reentrant=False))
    for other in (copied, offloaded, checkpointed):
        for a, b in zip(plain, other):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_float16_mask_and_output():
    x = torch.randn(ROWS, WIDTH, dtype=torch.float16, requires_grad=True)
    tensors, y = saved(tt.relu, x)
    assert [t.dtype for t in tensors] == [torch.uint8] and y.dtype == torch.float16
    tensors, y = saved(tt.softplus, x)
    assert [t.data_ptr() for t in tensors] == [y.data_ptr()]
