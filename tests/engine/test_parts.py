"""A recipe's parts: the step they build is the step training takes."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dlcheck.engine.parts import prepare_parts
from dlcheck.recipe import load_recipe

ROOT = Path(__file__).parents[2]


def test_the_finder_and_the_checks_feed_channels_last_inputs_as_training_does() -> None:
    overrides = ["train.channels_last=true", "device=cpu"]
    parts = prepare_parts(load_recipe(ROOT / "recipes" / "digits_cnn.yaml", overrides))
    model = parts.fresh_model()
    seen: list[bool] = []
    first = next(module for module in model.modules() if isinstance(module, nn.Conv2d))
    first.register_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0].is_contiguous(memory_format=torch.channels_last))
    )
    step = parts.optimizer_step(model, parts.optimizer(model))
    step([parts.first_batch()])
    assert seen == [True]
    plain = prepare_parts(load_recipe(ROOT / "recipes" / "digits_cnn.yaml", ["device=cpu"]))
    assert plain.forward_module(model) is model


def test_the_step_policy_reads_the_recipe_once_and_switches_explicitly() -> None:
    overrides = ["train.precision=bf16-mixed", "regularization.l1=1e-4", "device=cpu"]
    parts = prepare_parts(load_recipe(ROOT / "recipes" / "spirals_mlp.yaml", overrides))
    policy = parts.step_policy()
    assert policy.precision.name == "bf16-mixed" and policy.l1 == 1e-4 and policy.clip is not None
    assert parts.step_policy(regularized=False).l1 == 0.0 and parts.step_policy(regularized=False).clip is not None
    assert parts.step_policy(precision="fp32").precision.name == "fp32"
