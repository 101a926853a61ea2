"""Uniformity metrics separate regular, random and clustered point sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcheck.keypoints import METRIC_NAMES, random_reference, uniformity_metrics

SHAPE = (400, 400)


def test_regular_random_and_clustered_points() -> None:
    rows, cols = np.meshgrid(np.arange(10, 400, 20), np.arange(10, 400, 20), indexing="ij")
    grid = uniformity_metrics(np.stack([rows.ravel(), cols.ravel()], axis=1), SHAPE)
    generator = np.random.default_rng(0)
    random = uniformity_metrics(generator.uniform(0, 400, (400, 2)), SHAPE)
    centres = generator.uniform(50, 350, (5, 2))
    clustered = uniformity_metrics(
        np.clip(centres[generator.integers(0, 5, 400)] + generator.normal(0, 8, (400, 2)), 0, 399), SHAPE
    )

    assert grid["clark_evans"] > 1.5 and grid["nn_distance_cv"] < 1e-12 and grid["grid_occupancy"] == 1.0
    assert 0.85 < random["clark_evans"] < 1.2 and 0.3 < random["nn_distance_cv"] < 0.7
    assert clustered["clark_evans"] < 0.7
    assert grid["grid_entropy"] > random["grid_entropy"] > clustered["grid_entropy"]
    assert grid["disk_coverage"] > random["disk_coverage"] > clustered["disk_coverage"]
    assert grid["covering_radius"] < random["covering_radius"] < clustered["covering_radius"]
    assert grid["min_spacing"] == 20.0
    assert list(grid) == list(METRIC_NAMES)


def test_random_reference_is_deterministic_and_near_poisson_values() -> None:
    first = random_reference(500, SHAPE, seed=3)
    assert first == random_reference(500, SHAPE, seed=3)
    assert 0.95 < first["clark_evans_edge_corrected"] < 1.05
    assert abs(first["grid_occupancy"] - (1 - math.exp(-1))) < 0.06
    assert abs(first["disk_coverage"] - (1 - math.exp(-1))) < 0.06


def test_degenerate_inputs() -> None:
    empty = uniformity_metrics(np.zeros((0, 2)), SHAPE)
    assert empty["count"] == 0 and math.isnan(empty["clark_evans"])
    single = uniformity_metrics([[5.0, 5.0]], SHAPE)
    assert math.isnan(single["min_spacing"]) and single["grid_occupancy"] == 1.0
    assert random_reference(0, SHAPE)["count"] == 0
    with pytest.raises(ValueError, match="shape"):
        uniformity_metrics([[1.0, 1.0]], (0, 5))
    with pytest.raises(ValueError, match="coords"):
        uniformity_metrics([[1.0, np.nan]], SHAPE)
