"""Cross-field rules: each names both fields and the fix, at the line of the offending key."""

from __future__ import annotations

import pytest

from dlcheck.errors import RecipeError
from dlcheck.recipe import parse_recipe, recipe_to_yaml
from dlcheck.recipe.rules import RULES, check_rules

BASE = """\
data:
  source: digits
model:
  layers: [{type: linear, out: 10}]
optimizer: {name: sgd, lr: 0.1}
device: cpu
"""


def rule_issues(extra: str = "", data: str = "") -> list[tuple[str, int | None, str]]:
    text = BASE.replace("  source: digits\n", data or "  source: digits\n") + extra
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, source="r.yaml")
    return [(issue.path, issue.line, str(issue)) for issue in caught.value.issues]


def test_base_recipe_passes_every_rule() -> None:
    assert check_rules(parse_recipe(BASE).recipe) == []
    assert len(RULES) >= 10


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        ("optimizer: {name: adam, nesterov: true}\n", "optimizer.nesterov", "only with optimizer.name sgd"),
        ("optimizer: {name: sgd, nesterov: true}\n", "optimizer.nesterov", "momentum greater than 0"),
        ("optimizer: {name: adam, momentum: 0.9}\n", "optimizer.momentum", "sgd and rmsprop only"),
        ("optimizer: {name: sgd, betas: [0.9, 0.99]}\n", "optimizer.betas", "not sgd"),
        ("loss: mse\nregularization: {label_smoothing: 0.1}\n", "regularization.label_smoothing", "cross_entropy"),
        ("early_stopping: {monitor: val/acc}\n", "early_stopping.monitor", "did you mean `val/accuracy`"),
        ("loss: mse\nearly_stopping: {monitor: val/accuracy}\n", "early_stopping.monitor", "classification"),
        ("schedule: {name: reduce_on_plateau, monitor: val/accuracy}\n", "schedule.mode", "set `mode: max`"),
        ("schedule: {name: one_cycle, warmup: {epochs: 1}}\n", "schedule.warmup", "one_cycle"),
        ("schedule: {name: step}\n", "schedule.step_size", "needs schedule.step_size"),
        ("schedule: {name: multistep, milestones: [30, 10]}\n", "schedule.milestones", "strictly increasing"),
        ("schedule: {name: multistep}\n", "schedule.milestones", "needs schedule.milestones"),
        ("schedule: {name: cosine, max_lr: 0.5}\n", "schedule.max_lr", "one_cycle only, not cosine"),
        ("schedule: {name: step, step_size: 3, restart_period: 5}\n", "schedule.restart_period", "cosine only"),
        ("train: {precision: fp16-mixed}\n", "train.precision", "bf16"),
        ("train: {batch_size: 32, gradient_accumulation: 3}\n", "train.gradient_accumulation", "30 or 33"),
    ],
)
def test_rule(extra: str, path: str, words: str) -> None:
    text = BASE.replace("optimizer: {name: sgd, lr: 0.1}\n", "") if extra.startswith("optimizer") else BASE
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text + extra, source="r.yaml")
    (issue,) = caught.value.issues
    assert issue.path == path and words in str(issue), str(issue)
    assert issue.line is not None


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ("  source: csv\n", "data.source", "needs data.path"),
        ("  source: digits\n  path: x.npz\n", "data.path", "npz, pt, csv, image_folder or text only"),
        ("  source: moons\n  classes: 3\n", "data.classes", "always has two classes"),
        ("  source: spirals\n  image_size: 8\n", "data.image_size", "shapes or image_folder only"),
        ("  source: npz\n  path: a.npz\n  features: [a]\n", "data.features", "csv only"),
        ("  source: digits\n  grayscale: true\n", "data.grayscale", "image_folder only"),
        ("  source: blobs\n  augment: {flip: horizontal}\n", "data.augment", "feature vectors"),
        ("  source: digits\n  val_fraction: 0\n", "early_stopping.monitor", "val_fraction is 0"),
        ("  factory: m:f\n  samples: 10\n", "data.samples", "data.args.samples"),
        ("  source: digits\n  args: {a: 1}\n", "data.args", "only with data.factory"),
    ],
)
def test_data_rule(data: str, path: str, words: str) -> None:
    issues = rule_issues("early_stopping: {monitor: val/loss}\n", data)
    assert len(issues) == 1, issues
    assert issues[0][0] == path and words in issues[0][2], issues[0][2]


def test_validation_monitor_is_fine_with_a_data_factory() -> None:
    text = BASE.replace("source: digits", "factory: m:f") + "early_stopping: {monitor: val/loss}\n"
    assert check_rules(parse_recipe(text, check_factories=False).recipe) == []


def test_rule_issue_from_an_override_is_attributed_to_set() -> None:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(BASE, source="r.yaml", overrides=["train.precision=fp16-mixed"])
    (issue,) = caught.value.issues
    assert (issue.path, issue.source, issue.line) == ("train.precision", "--set", None)


def test_resolved_recipe_passes_the_rules_again() -> None:
    # Rules look at values, not at which keys were written, so the fully resolved recipe still passes.
    text = BASE + "schedule: {name: one_cycle, max_lr: 0.3}\nearly_stopping: {monitor: val/accuracy}\n"
    recipe = parse_recipe(text).recipe
    assert parse_recipe(recipe_to_yaml(recipe)).recipe == recipe
