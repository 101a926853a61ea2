"""Initialisation schemes, gains matched to the next activation, and seeding without global side effects."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlcheck.model import build_model
from dlcheck.model.init import Nonlinearity, nonlinearity_after
from dlcheck.recipe.schema import ModelConfig

WIDTH = 256


def _build(
    layers: list[dict[str, Any]], input_shape: tuple[int, ...] = (WIDTH,), init: Any = None, seed: int = 0
) -> nn.Module:
    spec: dict[str, Any] = {"layers": layers}
    if init is not None:
        spec["init"] = init
    return build_model(ModelConfig.model_validate(spec), input_shape, seed=seed, directory=Path("."))


def _std(tensor: torch.Tensor) -> float:
    return float(tensor.detach().std())


def _assert_close(value: float, expected: float, tolerance: float = 0.1) -> None:
    assert abs(value - expected) <= tolerance * expected, f"{value} is not within {tolerance:.0%} of {expected}"


@pytest.mark.parametrize("scheme", ["kaiming_normal", "kaiming_uniform"])
def test_kaiming_before_relu_has_std_sqrt_two_over_fan_in(scheme: str) -> None:
    model = _build([{"type": "linear", "out": WIDTH}, {"type": "relu"}], init=scheme)
    _assert_close(_std(model[0].weight), math.sqrt(2 / WIDTH))
    assert torch.count_nonzero(model[0].bias) == 0


@pytest.mark.parametrize(
    ("activation", "gain"),
    [
        ({"type": "tanh"}, 5 / 3),
        ({"type": "leaky_relu", "negative_slope": 0.2}, math.sqrt(2 / (1 + 0.2**2))),
        ({"type": "selu"}, 1.0),  # LeCun normal
        ({"type": "sigmoid"}, 1.0),
        ({"type": "gelu"}, math.sqrt(2)),  # the relu approximation
    ],
)
def test_kaiming_gain_follows_the_next_activation(activation: dict[str, Any], gain: float) -> None:
    model = _build([{"type": "linear", "out": WIDTH}, {"type": "dropout"}, activation])
    _assert_close(_std(model[0].weight), gain / math.sqrt(WIDTH))


def test_the_last_layer_gets_the_linear_gain_and_convolutions_look_past_batch_norm() -> None:
    mlp = _build([{"type": "linear", "out": WIDTH}, {"type": "relu"}, {"type": "linear", "out": WIDTH}])
    _assert_close(_std(mlp[2].weight), 1 / math.sqrt(WIDTH))
    cnn = _build(
        [{"type": "conv2d", "out": 64, "padding": 1}, {"type": "batchnorm2d"}, {"type": "relu"}], input_shape=(32, 4, 4)
    )
    _assert_close(_std(cnn[0].weight), math.sqrt(2 / (32 * 9)))
    assert torch.all(cnn[1].weight == 1) and torch.all(cnn[1].bias == 0)


def test_nonlinearity_after_stops_at_the_next_weighted_layer() -> None:
    layers = ModelConfig.model_validate(
        {"layers": [{"type": "linear", "out": 4}, {"type": "linear", "out": 4}, {"type": "relu"}]}
    ).layers
    assert layers is not None
    assert nonlinearity_after(layers, 0) == Nonlinearity("linear")
    assert nonlinearity_after(layers, 1) == Nonlinearity("relu")
    assert nonlinearity_after(layers[:2], 1, trailing="silu") == Nonlinearity("relu")


def test_the_end_of_a_residual_body_uses_the_block_activation() -> None:
    model = _build([{"type": "residual", "activation": "relu", "layers": [{"type": "linear", "out": WIDTH}]}])
    _assert_close(_std(model[0].body[0].weight), math.sqrt(2 / WIDTH))


@pytest.mark.parametrize(("fan_in", "fan_out"), [(WIDTH, WIDTH), (2 * WIDTH, WIDTH)])
def test_xavier_uniform_std_uses_both_fans_and_the_gain(fan_in: int, fan_out: int) -> None:
    model = _build([{"type": "linear", "out": fan_out}, {"type": "relu"}], input_shape=(fan_in,), init="xavier_uniform")
    _assert_close(_std(model[0].weight), math.sqrt(2) * math.sqrt(2 / (fan_in + fan_out)))


def test_xavier_normal_before_tanh() -> None:
    model = _build([{"type": "linear", "out": WIDTH}, {"type": "tanh"}], init="xavier_normal")
    _assert_close(_std(model[0].weight), 5 / 3 * math.sqrt(2 / (2 * WIDTH)))


@pytest.mark.parametrize(("activation", "gain"), [("relu", math.sqrt(2)), ("tanh", 5 / 3)])
def test_orthogonal_rows_are_orthogonal_with_norm_gain(activation: str, gain: float) -> None:
    model = _build([{"type": "linear", "out": WIDTH}, {"type": activation}], init="orthogonal")
    weight = model[0].weight.detach()
    torch.testing.assert_close(weight @ weight.T, gain**2 * torch.eye(WIDTH), atol=1e-4, rtol=0)


def test_normal_std_and_constant_bias_are_honoured() -> None:
    init = {"weight": "normal", "std": 0.05, "bias": "constant", "bias_value": 0.3}
    model = _build([{"type": "linear", "out": WIDTH}, {"type": "relu"}], init=init)
    _assert_close(_std(model[0].weight), 0.05)
    assert torch.all(model[0].bias == 0.3)


def test_default_keeps_pytorch_initialisation() -> None:
    model = _build([{"type": "linear", "out": 8}], input_shape=(4,), init={"weight": "default", "bias": "default"})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = nn.Linear(4, 8)
    torch.testing.assert_close(model[0].weight, reference.weight)
    torch.testing.assert_close(model[0].bias, reference.bias)


LAYERS = [{"type": "conv2d", "out": 4, "padding": 1}, {"type": "relu"}, {"type": "linear", "out": 3}]


def test_same_seed_same_parameters_and_the_global_rng_is_untouched() -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = _build(LAYERS, input_shape=(1, 6, 6), seed=7)
    assert torch.equal(torch.get_rng_state(), state)

    torch.manual_seed(456)  # a different global state must not matter
    second = _build(LAYERS, input_shape=(1, 6, 6), seed=7)
    other = _build(LAYERS, input_shape=(1, 6, 6), seed=8)
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    assert not torch.equal(first[0].weight, other[0].weight)
