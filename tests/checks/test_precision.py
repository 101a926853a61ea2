"""The checks that train take the recipe's own step: a bf16-mixed recipe is fitted and probed in bf16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dlcheck import babysit
from dlcheck.checks.gradient_flow import gradient_flow
from dlcheck.checks.overfit_batch import run_overfit
from dlcheck.engine.parts import RecipeParts, prepare_parts
from dlcheck.recipe import load_recipe

ROOT = Path(__file__).parents[2]


def _parts(precision: str) -> RecipeParts:
    return prepare_parts(
        load_recipe(ROOT / "recipes" / "spirals_mlp.yaml", [f"train.precision={precision}", "device=cpu"])
    )


def _watch_first_layer(parts: RecipeParts, monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype]:
    """The dtype of the first linear layer's output in every model the check builds."""
    seen: list[torch.dtype] = []
    build = parts.fresh_model

    def fresh_model(seed: int | None = None) -> nn.Module:
        model = build(seed)
        first = next(module for module in model.modules() if isinstance(module, nn.Linear))
        first.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
        return model

    monkeypatch.setattr(parts, "fresh_model", fresh_model)
    return seen


def test_a_bf16_recipe_overfits_its_tiny_batch_in_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _parts("bf16-mixed")
    seen = _watch_first_layer(parts, monkeypatch)
    run = run_overfit(parts, steps=150)
    assert seen and set(seen) == {torch.bfloat16}
    assert run.result.metrics["precision"] == "bf16-mixed"
    assert run.result.status == "pass", run.result.summary  # the healthy recipe still fits in bf16


def test_precision_fp32_is_the_explicit_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _parts("bf16-mixed")
    seen = _watch_first_layer(parts, monkeypatch)
    run = run_overfit(parts, steps=20, precision="fp32")
    assert set(seen) == {torch.float32} and run.result.metrics["precision"] == "fp32"


def test_gradient_flow_probes_the_bf16_step(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _parts("bf16-mixed")
    seen = _watch_first_layer(parts, monkeypatch)
    result = gradient_flow(parts)
    assert set(seen) == {torch.bfloat16} and result.status == "pass", result.summary


def test_babysit_passes_the_choice_on() -> None:
    report = babysit(
        ROOT / "recipes" / "spirals_mlp.yaml",
        overrides=["train.precision=bf16-mixed", "device=cpu"],
        checks=["overfit_batch"],
        precision="fp32",
        overfit_steps=20,
    )
    assert report["overfit_batch"].metrics["precision"] == "fp32"
