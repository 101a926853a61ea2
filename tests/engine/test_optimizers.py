"""Optimisers by recipe name, and weight decay kept off biases and norm layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlcheck.engine.optimizers import OPTIMIZER_NAMES, build_optimizer, describe_param_groups
from dlcheck.errors import RecipeError
from dlcheck.recipe.schema import OptimizerConfig


class TinyNet(nn.Module):
    """Conv -> BatchNorm -> Linear -> LayerNorm -> Linear, with names that would fool name matching."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.scale_layer = nn.BatchNorm2d(2)  # a norm not called "norm"/"bn"
        self.norm_projection = nn.Linear(2 * 4 * 4, 5)  # a Linear whose name contains "norm"
        self.gamma = nn.LayerNorm(5)
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 4, 4) -> (B, 3)
        x = self.scale_layer(self.conv(x)).relu().flatten(1)
        return self.head(self.gamma(self.norm_projection(x)))


def _names_in(optimizer: torch.optim.Optimizer, model: nn.Module) -> dict[str, set[str]]:
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    return {group["name"]: {names[id(parameter)] for parameter in group["params"]} for group in optimizer.param_groups}


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_each_optimizer_builds_and_takes_a_step(name: str) -> None:
    torch.manual_seed(0)
    model = TinyNet()
    optimizer = build_optimizer(model, OptimizerConfig(name=name, lr=0.01, weight_decay=1e-3))
    before = model.head.weight.detach().clone()
    model(torch.randn(4, 1, 4, 4)).square().mean().backward()
    optimizer.step()
    assert not torch.equal(before, model.head.weight)


def test_bias_and_norm_parameters_get_no_weight_decay() -> None:
    model = TinyNet()
    optimizer = build_optimizer(model, OptimizerConfig(name="sgd", lr=0.1, weight_decay=5e-4))
    groups = _names_in(optimizer, model)
    assert groups["decay"] == {"conv.weight", "norm_projection.weight", "head.weight"}
    assert groups["no_decay"] == {
        "conv.bias",
        "scale_layer.weight",
        "scale_layer.bias",
        "norm_projection.bias",
        "gamma.weight",
        "gamma.bias",
        "head.bias",
    }
    decay = {group["name"]: group["weight_decay"] for group in optimizer.param_groups}
    assert decay == {"decay": 5e-4, "no_decay": 0.0}


def test_no_decay_choices_and_frozen_parameters() -> None:
    model = TinyNet()
    model.conv.requires_grad_(False)
    optimizer = build_optimizer(model, OptimizerConfig(name="adam", weight_decay=0.1, no_decay=["bias"]))
    groups = _names_in(optimizer, model)
    assert "scale_layer.weight" in groups["decay"] and "gamma.weight" in groups["decay"]
    assert "conv.weight" not in groups["decay"] | groups["no_decay"]  # frozen: not optimised at all
    only_norms = _names_in(build_optimizer(model, OptimizerConfig(weight_decay=0.1, no_decay=["norm"])), model)
    assert "head.bias" in only_norms["decay"] and "gamma.bias" in only_norms["no_decay"]


def test_zero_weight_decay_gives_one_group_and_empty_groups_are_dropped() -> None:
    model = TinyNet()
    optimizer = build_optimizer(model, OptimizerConfig(name="adam", weight_decay=0.0))
    assert [group["name"] for group in optimizer.param_groups] == ["all"]
    assert len(optimizer.param_groups[0]["params"]) == len(list(model.parameters()))
    no_bias = nn.Linear(3, 2, bias=False)
    assert [group["name"] for group in build_optimizer(no_bias, OptimizerConfig(weight_decay=0.1)).param_groups] == [
        "decay"
    ]


def test_adamw_is_decoupled_and_options_reach_torch() -> None:
    model = TinyNet()
    adamw = build_optimizer(model, OptimizerConfig(name="adamw", weight_decay=0.01, betas=[0.8, 0.9], eps=1e-6))
    assert type(adamw) is torch.optim.AdamW
    assert adamw.defaults["betas"] == (0.8, 0.9) and adamw.defaults["eps"] == 1e-6
    sgd = build_optimizer(model, OptimizerConfig(name="sgd", lr=0.1, momentum=0.9, nesterov=True))
    assert type(sgd) is torch.optim.SGD
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["nesterov"] is True
    rmsprop = build_optimizer(model, OptimizerConfig(name="rmsprop", momentum=0.5))
    assert rmsprop.defaults["momentum"] == 0.5
    adam = build_optimizer(model, OptimizerConfig(name="adam"))
    assert adam.defaults["betas"] == (0.9, 0.999)  # torch's default when betas are not given


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"name": "sgd", "betas": [0.9, 0.99]}, "optimizer.betas"),
        ({"name": "adam", "momentum": 0.9}, "optimizer.momentum"),
        ({"name": "sgd", "nesterov": True}, "optimizer.nesterov"),
        ({"name": "sgd", "eps": 1e-8}, "optimizer.eps"),
    ],
)
def test_options_the_optimizer_would_ignore_are_recipe_errors(options: dict, key: str) -> None:
    with pytest.raises(RecipeError) as raised:
        build_optimizer(TinyNet(), OptimizerConfig(**options))
    assert raised.value.issues[0].path == key


def test_describe_param_groups() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    rows = describe_param_groups(build_optimizer(model, OptimizerConfig(name="adamw", lr=0.002, weight_decay=0.05)))
    assert rows == [
        {"name": "decay", "tensors": 1, "parameters": 12, "weight_decay": 0.05, "lr": 0.002},
        {"name": "no_decay", "tensors": 3, "parameters": 12, "weight_decay": 0.0, "lr": 0.002},
    ]
