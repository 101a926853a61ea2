"""dlcheck's checks in your own test suite: copy this file into your project's ``tests/`` and adapt it.

Each ``check_*`` function takes plain PyTorch objects (your model, a batch, your loss) and returns a
``CheckResult`` with ``.status`` ("pass", "warn", "fail", "skip" or "error"), ``.summary`` (one sentence),
``.metrics`` (the numbers) and ``.advice`` (what to try). ``result.ok`` is true unless the check failed.
None of them changes your model, your optimiser or the global random state.

``babysit`` runs the whole checklist on a dlcheck recipe (YAML), like ``dlcheck babysit RECIPE``.

Run with: ``pytest examples/test_my_model.py``
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dlcheck import babysit
from dlcheck.checks import (
    CheckResult,
    check_activation_stats,
    check_batch_independence,
    check_data,
    check_gradient_flow,
    check_initial_loss,
    check_overfit_batch,
)

CLASSES, FEATURES = 3, 10


def make_model() -> nn.Module:
    """Your model, freshly initialised."""
    return nn.Sequential(nn.Linear(FEATURES, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, CLASSES))


def make_batch(samples: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch exactly as your model receives it (normalised, on the model's device)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(samples) % CLASSES
    centers = torch.randn(CLASSES, FEATURES, generator=generator)
    return centers[labels] + 0.5 * torch.randn(samples, FEATURES, generator=generator), labels


def explain(result: CheckResult) -> str:
    """What pytest prints when an assertion fails: the summary and the advice."""
    return "\n".join([result.summary, *result.advice])


def test_data_is_clean() -> None:
    inputs, labels = make_batch()
    result = check_data(inputs, labels, num_outputs=CLASSES)
    assert result.status == "pass", explain(result)


def test_loss_at_initialisation_is_chance() -> None:
    inputs, labels = make_batch()
    result = check_initial_loss(make_model(), inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "pass", explain(result)


def test_every_parameter_learns() -> None:
    model = make_model()
    inputs, labels = make_batch(32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # your optimiser: update sizes are judged with it
    result = check_gradient_flow(model, inputs, labels, nn.CrossEntropyLoss(), optimizer)
    assert result.status == "pass", explain(result)


def test_samples_do_not_leak_into_each_other() -> None:
    inputs, _ = make_batch(16)
    result = check_batch_independence(make_model(), inputs)
    assert result.status == "pass", explain(result)


def test_activations_are_healthy_at_init() -> None:
    inputs, _ = make_batch()
    result = check_activation_stats(make_model(), inputs)
    assert result.ok, explain(result)


def test_model_can_memorise_a_tiny_batch() -> None:
    inputs, labels = make_batch(12)  # 4 per class
    result = check_overfit_batch(make_model, inputs, labels, nn.CrossEntropyLoss(), lr=3e-3, steps=300)
    assert result.status == "pass", explain(result)
    assert result.metrics["steps_to_threshold"] < 300


def test_the_recipe_passes_the_whole_checklist() -> None:
    recipe = Path(__file__).parents[1] / "recipes" / "spirals_mlp.yaml"  # your recipe here
    report = babysit(recipe, quick=True)  # quick: without the LR range test
    assert report.ok, "\n".join(f"{check.name}: {check.summary}" for check in report.checks if not check.ok)
    assert report["overfit_batch"].status == "pass"
