"""--verify brackets and the --batch-sizes scaling fit."""

from __future__ import annotations

import math

import pytest

from dlcheck.engine.isolation import state_checksum
from dlcheck.errors import InputError
from dlcheck.lr_finder import batch_size_sweep, verify_suggestion
from dlcheck.lr_finder.batch_scaling import fit_scaling


def test_verify_trains_three_candidates_from_the_same_start(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    checksum = state_checksum(blobs_parts.model)
    verified = verify_suggestion(blobs_parts, 1e-2, steps=30)
    assert [run.factor for run in verified.runs] == pytest.approx([1 / 3, 1.0, 3.0])
    assert [run.lr for run in verified.runs] == pytest.approx([1e-2 / 3, 1e-2, 3e-2])
    assert verified.split == "validation"
    assert verified.best is not None and not verified.best.diverged
    assert verified.checksum.restored and state_checksum(blobs_parts.model) == checksum
    assert "steps" in verified.message


def test_verify_prefers_the_learning_rate_that_trains(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    # 1e-6 barely moves in 40 steps; 3e-6 moves a little more: the larger end of the bracket must win.
    verified = verify_suggestion(blobs_parts, 1e-6, steps=40, factor=100.0)
    assert verified.best is verified.runs[2]
    assert "conservative" in verified.message


def test_verify_reports_divergence(blobs_recipe) -> None:  # type: ignore[no-untyped-def]
    from dlcheck.engine.parts import prepare_parts
    from dlcheck.recipe import parse_recipe

    text = blobs_recipe.read_text().replace("{name: adam, lr: 1.0e-3, weight_decay: 1.0e-4}", "{name: sgd, lr: 0.1}")
    text = text.replace("    - {type: batchnorm1d}\n", "")
    parts = prepare_parts(parse_recipe(text, directory=blobs_recipe.parent))
    verified = verify_suggestion(parts, 1e8, steps=30)
    assert all(run.diverged for run in verified.runs)
    assert verified.best is None and "diverged" in verified.message


def test_verify_refuses_a_bad_learning_rate(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        verify_suggestion(blobs_parts, -1.0)


def test_fit_recovers_square_root_scaling() -> None:
    sizes = [16, 32, 64, 128]
    fit = fit_scaling(sizes, [1e-3 * math.sqrt(size / 16) for size in sizes])
    assert fit.exponent == pytest.approx(0.5)
    assert fit.standard_error == pytest.approx(0.0, abs=1e-9)
    assert fit.nearest_rule == "square root"
    assert fit.predict(256) == pytest.approx(4e-3)


def test_batch_sweep_runs_each_size_and_fits(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    scaling = batch_size_sweep(blobs_parts, [16, 64], target_batch_size=32, steps=40, repeats=1)
    assert scaling.batch_sizes == [16, 64]
    assert [result.batch_size for result in scaling.results] == [16, 64]
    assert scaling.fit is not None and math.isfinite(scaling.fit.exponent)
    low, high = sorted(value for value in scaling.suggestions if value)
    margin = 1e-12  # equal suggestions at both sizes give a flat fit, equal to them up to float rounding
    assert low * (1 - margin) <= scaling.target_lr <= high * (1 + margin)  # 32 lies between the sizes: interpolated
    assert "target batch 32" in scaling.message


def test_batch_sweep_refuses_bad_sizes(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="two different"):
        batch_size_sweep(blobs_parts, [32, 32])
    with pytest.raises(InputError, match="training split"):
        batch_size_sweep(blobs_parts, [32, 100000])
