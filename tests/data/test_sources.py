"""Built-in sources: the bundled digits and the synthetic sets, split and normalised from train only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcheck.data import SOURCES, DataBundle, Normalization
from dlcheck.errors import DataError

from .conftest import load

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # optdigits.tes, per digit


def _pair(split: object) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(split, tuple)
    return split


def test_digits_are_the_real_uci_digits(digits: DataBundle) -> None:
    train_inputs, train_targets = _pair(digits.train)
    val_inputs, val_targets = _pair(digits.val)
    inputs = torch.cat([train_inputs, val_inputs])
    assert inputs.shape == (1797, 1, 8, 8) and inputs.dtype == torch.float32
    assert digits.input_shape == (1, 8, 8)
    assert inputs.min() == 0 and inputs.max() == 16
    assert torch.equal(inputs, inputs.round())  # counts of "on" pixels, unnormalised
    assert digits.num_classes == 10 and digits.class_names == [str(digit) for digit in range(10)]
    assert torch.cat([train_targets, val_targets]).bincount().tolist() == DIGIT_COUNTS
    assert digits.source == "digits" and digits.in_memory


def test_split_is_stratified(digits: DataBundle) -> None:
    _, train_targets = _pair(digits.train)
    _, val_targets = _pair(digits.val)
    assert len(train_targets) + len(val_targets) == 1797
    assert abs(len(val_targets) - 0.2 * 1797) <= 5
    train_counts, val_counts = train_targets.bincount(minlength=10), val_targets.bincount(minlength=10)
    assert bool((train_counts > 0).all() and (val_counts > 0).all())  # every class in both splits
    fractions = val_counts / (train_counts + val_counts)
    assert float((fractions - 0.2).abs().max()) < 0.01


def test_split_depends_on_the_seed_only() -> None:
    first, again, other = (load(source="digits", seed=seed) for seed in (7, 7, 8))
    assert torch.equal(_pair(first.val)[0], _pair(again.val)[0])
    assert torch.equal(_pair(first.val)[1], _pair(again.val)[1])
    assert not torch.equal(_pair(first.val)[0], _pair(other.val)[0])


def test_val_fraction_zero_keeps_everything_for_training() -> None:
    bundle = load(source="digits", val_fraction=0.0)
    assert bundle.val is None and len(_pair(bundle.train)[0]) == 1797
    assert bundle.describe()["val_size"] == 0


def test_normalization_uses_the_train_split_only(digits: DataBundle) -> None:
    train_inputs, _ = _pair(digits.train)
    everything = torch.cat([train_inputs, _pair(digits.val)[0]])
    norm = digits.normalization
    assert norm is not None and norm.mean.shape == (1, 1, 1)  # per channel
    assert torch.allclose(norm.mean, train_inputs.mean().reshape(1, 1, 1))
    assert torch.allclose(norm.std, train_inputs.std(correction=0).reshape(1, 1, 1))
    assert not torch.allclose(norm.mean, everything.mean().reshape(1, 1, 1), rtol=0, atol=1e-6)
    standardised = norm.apply(train_inputs)
    assert abs(float(standardised.mean())) < 1e-4 and abs(float(standardised.std(correction=0)) - 1) < 1e-4
    # Inputs are stored raw: the batcher normalises per batch, so the statistics can be saved and reapplied.
    assert train_inputs.max() == 16


def test_tabular_normalization_is_per_feature_and_round_trips() -> None:
    bundle = load(source="blobs")
    norm = bundle.normalization
    assert norm is not None and norm.mean.shape == (2,)
    train_inputs, _ = _pair(bundle.train)
    assert torch.allclose(norm.mean, train_inputs.mean(0)) and torch.allclose(
        norm.std, train_inputs.std(0, correction=0)
    )
    state = norm.state_dict()
    assert isinstance(state["mean"], list)
    assert Normalization.from_state_dict(state) == norm


def test_constant_channels_are_not_divided_by_zero() -> None:
    from dlcheck.data.normalization import normalization_from_tensor

    norm = normalization_from_tensor(torch.tensor([[1.0, 3.0], [1.0, 5.0]]))
    assert norm.std.tolist() == [1.0, 1.0]


def test_normalize_none_gives_no_statistics() -> None:
    assert load(source="spirals", normalize="none").normalization is None


@pytest.mark.parametrize(("source", "classes"), [("spirals", 3), ("blobs", 4), ("moons", 2), ("xor", 2)])
def test_point_sources(source: str, classes: int) -> None:
    bundle = load(source=source, samples=400, val_fraction=0.25)
    inputs, targets = _pair(bundle.train)
    assert bundle.input_shape == (2,) and inputs.dtype == torch.float32 and inputs.shape == (300, 2)
    assert bundle.num_classes == classes and targets.dtype == torch.int64
    assert sorted(targets.unique().tolist()) == list(range(classes))
    same = load(source=source, samples=400, val_fraction=0.25)
    other = load(source=source, samples=400, val_fraction=0.25, seed=1)
    assert torch.equal(_pair(same.train)[0], inputs)
    assert not torch.equal(_pair(other.train)[0], inputs)


def test_spirals_take_any_number_of_classes_and_noise() -> None:
    bundle = load(source="spirals", classes=5, samples=500, noise=0.0)
    assert bundle.num_classes == 5
    inputs, _ = _pair(bundle.train)
    assert float(inputs.norm(dim=1).max()) <= 1.0 + 1e-6  # radius in [0, 1] without noise


def test_two_class_sources_refuse_other_class_counts() -> None:
    with pytest.raises(DataError, match=r"data\.classes: moons always has 2 classes"):
        load(source="moons", classes=3)


def test_shapes_are_images_whose_classes_differ() -> None:
    bundle = load(source="shapes", samples=600, classes=4, image_size=12, val_fraction=0.5)
    train_inputs, train_targets = _pair(bundle.train)
    val_inputs, val_targets = _pair(bundle.val)
    assert bundle.input_shape == (1, 12, 12) and train_inputs.shape == (300, 1, 12, 12)
    assert bundle.class_names == ["circle", "square", "triangle", "cross"]
    # A nearest-centroid classifier on raw pixels does far better than chance (25%): the classes look different.
    centroids = torch.stack([train_inputs[train_targets == label].flatten(1).mean(0) for label in range(4)])
    predicted = torch.cdist(val_inputs.flatten(1), centroids).argmin(1)
    assert float((predicted == val_targets).float().mean()) > 0.4


def test_shapes_refuse_more_classes_than_shapes() -> None:
    with pytest.raises(DataError, match=r"data\.classes: shapes has 6 classes"):
        load(source="shapes", classes=7)


def test_augment_is_refused_for_tabular_inputs() -> None:
    with pytest.raises(DataError, match=r"data\.augment: .*shape \(2,\)"):
        load(source="spirals", augment={"flip": "horizontal"})


def test_sources_lists_every_origin() -> None:
    assert {"digits", "spirals", "shapes", "npz", "csv", "image_folder", "factory"} <= set(SOURCES)


def test_describe_is_plain_data(digits: DataBundle) -> None:
    import json

    summary = digits.describe()
    json.dumps(summary)
    assert summary["train_size"] + summary["val_size"] == 1797
    assert summary["input_shape"] == [1, 8, 8] and summary["task"] == "classification"
    assert np.isclose(sum(summary["val_class_counts"]), summary["val_size"])
