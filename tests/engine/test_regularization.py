"""L1 penalty, max-norm constraint and gradient clipping."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcheck.engine.regularization import apply_max_norm, clip_gradients, gradient_norm, l1_penalty
from dlcheck.recipe.schema import GradientClipConfig


def _filled(layer: nn.Module, weight: float, bias: float) -> nn.Module:
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            parameter.fill_(bias if name.endswith("bias") else weight)
    return layer


def test_l1_penalty_sums_linear_and_conv_weights_only() -> None:
    linear = nn.Linear(3, 2)  # 6 weights
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, -0.5, 3.0]]))  # |w| sums to 7
        linear.bias.fill_(100.0)
    model = nn.Sequential(
        _filled(nn.Conv2d(1, 2, 2), weight=-0.25, bias=100.0),  # 8 weights of |0.25| = 2
        _filled(nn.BatchNorm2d(2), weight=100.0, bias=100.0),
        nn.Flatten(),
        linear,
        _filled(nn.LayerNorm(2), weight=100.0, bias=100.0),
    )
    penalty = l1_penalty(model)
    assert penalty.shape == () and math.isclose(float(penalty.detach()), 9.0)
    penalty.backward()  # differentiable: the gradient of |w| is sign(w)
    assert torch.equal(linear.weight.grad, torch.tensor([[1.0, -1.0, 1.0], [0.0, -1.0, 1.0]]))


def test_l1_penalty_counts_a_tied_weight_once_and_is_zero_without_weight_layers() -> None:
    shared = _filled(nn.Linear(2, 2, bias=False), weight=1.0, bias=0.0)
    assert float(l1_penalty(nn.Sequential(shared, nn.ReLU(), shared)).detach()) == 4.0
    assert float(l1_penalty(nn.Sequential(nn.LayerNorm(3)))) == 0.0


def test_max_norm_bounds_every_units_incoming_weights() -> None:
    torch.manual_seed(0)
    linear, conv = nn.Linear(8, 4), nn.Conv2d(3, 5, 3)
    with torch.no_grad():
        linear.weight.mul_(10.0)
        linear.weight[0].fill_(0.01)  # one row already inside the ball: must stay untouched
        conv.weight.mul_(10.0)
    small_row = linear.weight[0].detach().clone()
    bias = linear.bias.detach().clone()
    apply_max_norm(nn.Sequential(linear, conv), 2.0)
    row_norms = linear.weight.detach().norm(dim=1)
    assert torch.all(row_norms <= 2.0 + 1e-5) and torch.allclose(row_norms[1:], torch.full((3,), 2.0))
    assert torch.equal(linear.weight[0].detach(), small_row)
    assert torch.equal(linear.bias.detach(), bias)  # biases are not constrained
    assert torch.all(conv.weight.detach().flatten(1).norm(dim=1) <= 2.0 + 1e-5)


def test_max_norm_on_a_grouped_transposed_convolution_bounds_each_output_channel() -> None:
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(4, 6, 3, groups=2)  # weight (in=4, out/groups=3, 3, 3)
    with torch.no_grad():
        layer.weight.mul_(50.0)
    apply_max_norm(layer, 1.0)
    weight = layer.weight.detach()
    # output channel c of group g reads weight[2g:2g+2, c]: its norm must be exactly 1 after rescaling
    norms = torch.stack([weight[2 * g : 2 * g + 2, c].norm() for g in range(2) for c in range(3)])
    assert torch.allclose(norms, torch.ones(6), atol=1e-5)


def _parameters_with_gradients() -> list[nn.Parameter]:
    first, second, unused = (nn.Parameter(torch.zeros(2)) for _ in range(3))
    first.grad = torch.tensor([3.0, 0.0])
    second.grad = torch.tensor([0.0, -4.0])
    return [first, second, unused]  # global norm 5; `unused` has no gradient


def test_gradient_norm_is_global_and_ignores_missing_gradients() -> None:
    assert gradient_norm(_parameters_with_gradients()) == 5.0
    assert gradient_norm([nn.Parameter(torch.zeros(1))]) == 0.0


def test_clip_by_norm_returns_the_norm_before_clipping() -> None:
    parameters = _parameters_with_gradients()
    assert math.isclose(clip_gradients(iter(parameters), GradientClipConfig(max_norm=1.0)), 5.0)
    assert math.isclose(gradient_norm(parameters), 1.0, rel_tol=1e-5)
    assert torch.allclose(parameters[0].grad, torch.tensor([0.6, 0.0]))


def test_clip_by_value_returns_the_norm_before_clipping() -> None:
    parameters = _parameters_with_gradients()
    assert math.isclose(clip_gradients(parameters, GradientClipConfig(max_value=2.0)), 5.0)
    assert torch.equal(parameters[0].grad, torch.tensor([2.0, 0.0]))
    assert torch.equal(parameters[1].grad, torch.tensor([0.0, -2.0]))


@pytest.mark.parametrize("config", [GradientClipConfig(max_norm=1.0), GradientClipConfig(max_value=1.0)])
def test_clipping_without_gradients_is_a_no_op(config: GradientClipConfig) -> None:
    assert clip_gradients([nn.Parameter(torch.zeros(1))], config) == 0.0
