"""``babysit`` on the bundled recipes: healthy models pass every check with no warning; the API around it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from dlcheck import babysit
from dlcheck.checklist import CHECK_NAMES, ChecklistReport, prepare_checks
from dlcheck.recipe import load_recipe

ROOT = Path(__file__).parents[2]
HEALTHY = ["digits_mlp.yaml", "digits_cnn.yaml", "spirals_mlp.yaml", "shapes_cnn.yaml", "custom_model.yaml"]


@pytest.mark.parametrize("recipe", HEALTHY)
def test_healthy_recipes_pass_every_check_without_a_warning(recipe: str) -> None:
    report = babysit(ROOT / "recipes" / recipe, quick=True)
    shown = "\n".join(f"{check.status:5} {check.name}: {check.summary}" for check in report.checks)
    assert [check.name for check in report.checks] == list(CHECK_NAMES)
    assert report.status == "pass", shown
    assert all(check.status in ("pass", "skip") for check in report.checks), shown
    ran = {check.name for check in report.checks if check.status == "pass"}
    assert ran >= {"data_sanity", "initial_loss", "gradient_flow", "batch_independence", "activation_stats"}
    assert "overfit_batch" in ran
    assert report["lr_range"].status == "skip" and "--quick" in report["lr_range"].summary


def test_regularisation_is_compared_where_the_recipe_has_some() -> None:
    report = babysit(ROOT / "recipes" / "digits_cnn.yaml", quick=True)
    effect = report["regularization_effect"]
    assert effect.status == "pass" and effect.metrics["loss_with"] > effect.metrics["loss_without"]
    assert "dropout 0.1" in effect.metrics["regularizers"] and "label smoothing" in effect.metrics["regularizers"]
    spirals = babysit(ROOT / "recipes" / "spirals_mlp.yaml", quick=True, checks=["regularization_effect"])
    assert spirals["regularization_effect"].status == "skip"


@pytest.mark.slow
def test_full_checklist_ends_with_the_lr_range_test() -> None:
    report = babysit(ROOT / "recipes" / "spirals_mlp.yaml")
    assert report["lr_range"].status in ("pass", "warn", "fail"), report["lr_range"].summary


def test_babysit_accepts_a_path_string_overrides_and_a_subset(tmp_path: Path) -> None:
    report = babysit(
        str(ROOT / "recipes" / "spirals_mlp.yaml"),
        checks=["overfit_batch", "initial_loss"],
        overrides=["optimizer.lr=0.05"],
        overfit_samples_per_class=2,
        seed=3,
    )
    assert isinstance(report, ChecklistReport)
    assert [check.name for check in report.checks] == ["initial_loss", "overfit_batch"]  # checklist order
    assert report["overfit_batch"].metrics["lr"] == 0.05 and report["overfit_batch"].metrics["samples"] == 6
    assert report.seed == 3 and report.ok
    with pytest.raises(KeyError, match="data_sanity"):
        report["data_sanity"]
    document = report.to_json()
    assert document["command"] == "babysit" and document["seed"] == 3 and document["recipe"].endswith(".yaml")


def test_babysit_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    loaded = load_recipe(ROOT / "recipes" / "digits_mlp.yaml")
    state = torch.get_rng_state()
    first = babysit(loaded, quick=True)
    assert torch.equal(state, torch.get_rng_state())
    second = babysit(prepare_checks(loaded), quick=True)
    for one, two in zip(first.checks, second.checks, strict=True):
        assert one.status == two.status and one.metrics == two.metrics


def test_progress_callbacks_see_every_check() -> None:
    started: list[tuple[str, int, int]] = []
    ended: list[str] = []
    babysit(
        ROOT / "recipes" / "spirals_mlp.yaml",
        quick=True,
        on_check_start=lambda name, index, total: started.append((name, index, total)),
        on_check_end=lambda result: ended.append(result.name),
    )
    assert [name for name, _, _ in started] == ended == list(CHECK_NAMES)
    assert started[0][1:] == (0, 8) and started[-1][1:] == (7, 8)


CRASHING_MODEL = """
import torch
from torch import nn


class NeedsABatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 3)

    def forward(self, inputs):
        if inputs.shape[0] == 1:
            raise RuntimeError("batches of one are not supported")
        return self.linear(inputs)
"""


def test_a_check_that_crashes_is_an_error_and_the_others_still_run(tmp_path: Path) -> None:
    (tmp_path / "crashing_models_for_babysit.py").write_text(CRASHING_MODEL)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "data: {source: spirals, samples: 300}\nmodel: {factory: 'crashing_models_for_babysit:NeedsABatch'}\n"
        "optimizer: {name: adam, lr: 0.01}\ndevice: cpu\n"
    )
    try:
        report = babysit(recipe, quick=True)
    finally:
        sys.modules.pop("crashing_models_for_babysit", None)
    check = report["batch_independence"]
    assert check.status == "error" and "batches of one are not supported" in check.summary
    assert report.status == "fail" and report["overfit_batch"].status in ("pass", "fail")


def test_non_finite_data_is_reported_not_raised(zoo_recipe: Callable[..., Path]) -> None:
    report = babysit(zoo_recipe("nan_for_checklist", data="blobs(nan_rows: 2)"), quick=True)
    assert report["data_sanity"].status == "fail"
    assert all(check.status == "skip" for check in report.checks[1:])
