"""A zoo of planted bugs: each is caught by the right check with the right status.

Every case is a recipe whose data or model factory (``zoo_factories.py``) holds one mistake a user makes. The
expected statuses name the check that must catch it; checks not named may react too (a dead layer also stops
gradients), except where ``quiet`` lists checks that must stay silent (no false alarm next to the real one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dlcheck import babysit


@dataclass
class Case:
    name: str
    expected: dict[str, str]
    recipe: dict[str, str] = field(default_factory=dict)
    quiet: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


ALL_MODEL_CHECKS = ("initial_loss", "gradient_flow", "batch_independence", "activation_stats", "overfit_batch")

CASES = [
    # ---- data_sanity
    Case(
        "nan_inputs",
        {"data_sanity": "fail", "initial_loss": "skip", "overfit_batch": "skip"},
        {"data": "blobs(nan_rows: 5)"},
    ),
    Case(
        "label_equal_to_number_of_classes",
        {"data_sanity": "fail", "gradient_flow": "skip"},
        {"data": "blobs(label_equal_to_classes: 3)"},
        metrics={"data_sanity": {"labels_out_of_range": 3}},
    ),
    Case(
        "pixels_0_to_255_not_normalised",
        {"data_sanity": "warn"},
        {
            "data": '{factory: "ZOO:raw_images", normalize: none}',
            "model": "{layers: [{type: linear, out: 64}, {type: relu}, {type: linear, out: 4}]}",
        },
    ),
    Case(
        "validation_copies_training_samples",
        {"data_sanity": "warn"},
        {"data": "blobs(duplicate_val: 40)"},
        quiet=ALL_MODEL_CHECKS,
        metrics={"data_sanity": {"duplicates_across_splits": 40}},
    ),
    Case(
        "heavy_class_imbalance",
        {"data_sanity": "warn"},
        {"data": "blobs(majority_share: 0.95)"},
        quiet=ALL_MODEL_CHECKS,
    ),
    Case("every_sample_has_the_same_input", {"data_sanity": "fail"}, {"data": "blobs(constant_inputs: true)"}),
    Case(
        "labels_start_at_one",
        {"data_sanity": "fail"},
        {"data": "blobs(label_offset: 1)"},
        metrics={"data_sanity": {"labels_out_of_range": 120}},  # every label 4: 96 train + 24 val
    ),
    Case(
        "same_input_recorded_with_two_labels",
        {"data_sanity": "warn"},
        {"data": "blobs(conflicting: 20)"},
        metrics={"data_sanity": {"conflicting_duplicates": 40}},
    ),
    # ---- initial_loss
    Case("last_layer_weights_times_50", {"initial_loss": "fail"}, {"model": "last_layer_times(factor: 50)"}),
    Case(
        "softmax_before_cross_entropy",
        {"initial_loss": "fail", "overfit_batch": "fail"},
        {"model": "softmax_at_the_end"},
    ),
    Case("relu_after_the_last_layer", {"initial_loss": "warn"}, {"model": "relu_at_the_end"}),
    Case(
        "sigmoid_before_bce_with_logits",
        {"initial_loss": "fail"},
        {"data": "blobs(binary: true)", "model": "sigmoid_at_the_end", "loss": "bce_with_logits"},
    ),
    Case(
        "regression_output_layer_times_100",
        {"initial_loss": "fail"},
        {"data": "blobs(regression: true)", "model": "last_layer_times(factor: 100, out: 1)", "loss": "mse"},
    ),
    # ---- gradient_flow
    Case("detached_branch", {"gradient_flow": "fail"}, {"model": "DetachedBranch"}),
    Case("encoder_under_no_grad_by_mistake", {"gradient_flow": "fail"}, {"model": "NoGradEncoder"}),
    Case("layer_not_used_in_forward", {"gradient_flow": "fail"}, {"model": "UnusedLayer"}),
    Case(
        "layer_frozen_on_purpose",
        {"gradient_flow": "pass"},
        {"model": "frozen_on_purpose"},
        quiet=ALL_MODEL_CHECKS,
        metrics={"gradient_flow": {"frozen_tensors": 2, "frozen_changed": 0}},
    ),
    Case(
        "learning_rate_effectively_zero",
        {"gradient_flow": "fail", "overfit_batch": "fail"},
        {"optimizer": "{name: adam, lr: 1.0e-12}"},
        metrics={"overfit_batch": {"shape": "flat"}},
    ),
    # ---- batch_independence
    Case("view_mixes_samples", {"batch_independence": "fail"}, {"model": "BatchMixer"}),
    Case("dropout_left_on_in_eval", {"batch_independence": "fail"}, {"model": "DropoutInEval"}),
    Case(
        "batchnorm_is_not_mixing_in_eval",
        {"batch_independence": "pass"},
        {"model": "batchnorm_mlp"},
        quiet=ALL_MODEL_CHECKS,
    ),
    # ---- activation_stats
    Case("dead_relus_from_huge_negative_bias", {"activation_stats": "fail"}, {"model": "dead_relus"}),
    Case("a_third_of_relus_dead", {"activation_stats": "warn"}, {"model": "dead_relus(share: 0.3)"}),
    Case("saturated_tanh_from_huge_weights", {"activation_stats": "fail"}, {"model": "saturated_tanh"}),
    Case("scale_compounds_with_depth", {"activation_stats": "warn"}, {"model": "growing_gain(depth: 8, gain: 3.0)"}),
    # ---- overfit_batch
    Case(
        "model_too_small_for_the_batch",
        {"overfit_batch": "fail"},
        {"data": "{source: spirals, samples: 600, classes: 3}", "model": "{layers: [{type: linear, out: 3}]}"},
        options={"overfit_samples_per_class": 10},
    ),
    Case("all_zero_initialisation", {"overfit_batch": "fail", "gradient_flow": "fail"}, {"model": "zero_init"}),
    # ---- regularization_effect
    Case(
        "dropout_created_but_not_called",
        {"regularization_effect": "warn"},
        {"model": "UnusedDropout"},
        quiet=ALL_MODEL_CHECKS,
    ),
    Case("dropout_called", {"regularization_effect": "pass"}, {"model": "UsedDropout"}, quiet=ALL_MODEL_CHECKS),
    # ---- healthy variants of other losses: no false alarm anywhere
    Case(
        "healthy_binary_classifier",
        {},
        {"data": "blobs(binary: true)", "model": "mlp(out: 1)", "loss": "bce_with_logits"},
        quiet=("data_sanity", *ALL_MODEL_CHECKS),
    ),
    Case(
        "healthy_dataset_factory",
        {},
        {"data": "blob_datasets"},
        quiet=("data_sanity", *ALL_MODEL_CHECKS),
    ),
    Case(
        "healthy_regression",
        {},
        {"data": "blobs(regression: true)", "model": "mlp(out: 1)", "loss": "mse"},
        quiet=("data_sanity", *ALL_MODEL_CHECKS),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_planted_bug_is_caught_by_the_right_check(case: Case, zoo_recipe: Callable[..., Path]) -> None:
    report = babysit(zoo_recipe(case.name, **case.recipe), quick=True, **case.options)
    statuses = {check.name: check.status for check in report.checks}
    shown = "\n".join(f"{check.status:5} {check.name}: {check.summary}" for check in report.checks)
    for name, status in case.expected.items():
        assert statuses[name] == status, f"{name} should be {status}:\n{shown}"
        if status in ("warn", "fail"):
            assert report[name].advice, f"{name} gives no advice"
    for name in case.quiet:
        assert statuses[name] in ("pass", "skip"), f"false alarm from {name}:\n{shown}"
    for name, expected_metrics in case.metrics.items():
        for key, value in expected_metrics.items():
            assert report[name].metrics[key] == value, f"{name}.{key}: {report[name].metrics.get(key)}"


def test_every_check_has_a_planted_bug_it_catches() -> None:
    caught = {name for case in CASES for name, status in case.expected.items() if status in ("warn", "fail")}
    assert caught >= {
        "data_sanity",
        "initial_loss",
        "gradient_flow",
        "batch_independence",
        "activation_stats",
        "overfit_batch",
        "regularization_effect",
    }
