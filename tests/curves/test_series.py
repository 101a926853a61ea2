"""Name conventions: which logged series is the training/validation loss/accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from dlcheck.curves.series import Series, classify_name, map_series, parse_override


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("loss", "train_loss"),  # Keras history / CSVLogger
        ("val_loss", "val_loss"),
        ("accuracy", "train_accuracy"),
        ("val_accuracy", "val_accuracy"),
        ("train/epoch_loss", "train_loss"),  # Keras TensorBoard folders, prefixed by the reader
        ("validation/epoch_accuracy", "val_accuracy"),
        ("validation/epoch_sparse_categorical_accuracy", "val_accuracy"),
        ("train/loss", "train_loss"),  # Hugging Face
        ("eval/loss", "val_loss"),
        ("eval/accuracy", "val_accuracy"),
        ("train_loss_step", "train_loss"),  # Lightning
        ("train_loss_epoch", "train_loss"),
        ("val_acc", "val_accuracy"),
        ("Loss/train", "train_loss"),  # a plain loop
        ("Accuracy/test", "val_accuracy"),
        ("trainLoss", "train_loss"),
        ("train/loss@epoch", "train_loss"),  # dlcheck's epoch records
        ("lr", None),
        ("train/learning_rate", None),
        ("train/grad_norm", None),
        ("eval/runtime", None),
        ("hp_metric", None),
        ("epoch", None),
        ("loss_scale", None),
    ],
)
def test_names_map_to_roles(name: str, role: str | None) -> None:
    assert classify_name(name).role == role


def _series(name: str, points: int) -> Series:
    return Series(name, np.arange(float(points)), np.linspace(2.0, 1.0, points))


def test_the_per_step_series_wins_over_the_per_epoch_one() -> None:
    mapping = map_series([_series("train_loss_epoch", 10), _series("train_loss_step", 200), _series("val_loss", 10)])
    assert mapping.roles["train_loss"].name == "train_loss_step"
    assert [row.role for row in mapping.rows] == [None, "train_loss", "val_loss"]
    assert "aggregate of train_loss_step" in mapping.rows[0].note


def test_a_plain_name_wins_over_a_component_and_test_gives_way_to_validation() -> None:
    mapping = map_series(
        [_series("kl_loss", 100), _series("loss", 50), _series("val_loss", 5), _series("test_loss", 5)]
    )
    assert mapping.roles["train_loss"].name == "loss"
    assert mapping.roles["val_loss"].name == "val_loss"
    assert "test split" in next(row.note for row in mapping.rows if row.name == "test_loss")


def test_a_single_point_is_not_a_curve() -> None:
    mapping = map_series([_series("train/train_loss", 1), _series("train/loss", 30)])
    assert mapping.roles["train_loss"].name == "train/loss"
    assert mapping.rows[0].note == "not used: 1 point"


def test_overrides_name_the_series_of_a_role() -> None:
    role, name = parse_override("objective", "train")
    mapping = map_series([_series("objective", 40), _series("loss", 40), _series("holdout_error", 8)], {role: name})
    assert mapping.roles["train_loss"].name == "objective"
    assert next(row.note for row in mapping.rows if row.name == "objective") == "named by --train"
    assert parse_override("accuracy=holdout_error", "val") == ("val_accuracy", "holdout_error")
