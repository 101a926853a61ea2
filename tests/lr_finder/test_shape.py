"""Every curve shape, drawn synthetically, is recognised and explained."""

from __future__ import annotations

import numpy as np
import pytest

from dlcheck.lr_finder.analysis import analyse_sweep, combine_sweeps

from .conftest import canonical_loss, synthetic_history


def _shape(loss: np.ndarray, **options):  # type: ignore[no-untyped-def]
    return analyse_sweep(synthetic_history(np.asarray(loss, dtype=np.float64), **options))


@pytest.mark.parametrize("seed", range(3))
def test_canonical(seed: int) -> None:
    _, loss = canonical_loss(noise=0.05, seed=seed)
    analysis = _shape(loss[:92], planned=100, stop="diverged")
    assert analysis.shape.name == "canonical"
    assert analysis.shape.advice == []
    assert analysis.suggestion is not None and analysis.band is not None


def test_flat_curve_gives_no_suggestion() -> None:
    rng = np.random.default_rng(0)
    loss = 2.3 + 0.05 * rng.standard_normal(100)
    analysis = _shape(loss, stop="completed")
    assert analysis.shape.name == "flat"
    assert analysis.suggestion is None and analysis.band is None
    assert any("--end-lr" in line for line in analysis.shape.advice)


def test_flat_then_diverging_is_flat() -> None:
    rng = np.random.default_rng(1)
    loss = np.concatenate([2.3 + 0.05 * rng.standard_normal(80), np.geomspace(2.5, 40, 8)])
    assert _shape(loss, planned=100, stop="diverged").shape.name == "flat"


def test_never_diverges() -> None:
    lrs, _ = canonical_loss(noise=0.03)
    position = np.log10(lrs)
    still_falling = (
        0.3 + 2.0 / (1 + np.exp(3.0 * (position + 1.0))) + 0.03 * np.random.default_rng(2).standard_normal(100)
    )
    analysis = _shape(still_falling, stop="completed")
    assert analysis.shape.name == "never_diverges"
    assert analysis.suggestion is not None
    assert "--end-lr" in analysis.shape.advice[0]


@pytest.mark.parametrize("stop_at", [2, 8, 14])
def test_diverges_at_once(stop_at: int) -> None:
    loss = np.array([2.3 * 3.0**step for step in range(stop_at + 1)])
    analysis = _shape(loss, planned=100, stop="diverged")
    assert analysis.shape.name == "diverges_at_once"
    assert analysis.suggestion is None
    # A ramp from 1e-7 moves no weights before it stops: lowering its start is the wrong way; the set-up is suspect.
    assert "set-up" in analysis.shape.advice[0] and "--start-lr" not in " ".join(analysis.shape.advice)
    assert "from 2.3 at the first step" in analysis.shape.message


def test_a_ramp_that_starts_high_and_diverges_at_once_is_told_to_start_lower() -> None:
    loss = np.array([2.3 * 3.0**step for step in range(9)])
    analysis = _shape(loss, start=1e-2, end=1e4, planned=100, stop="diverged")
    assert analysis.shape.name == "diverges_at_once"
    assert "Lower --start-lr (now 1e-02)" in analysis.shape.advice[0]


def test_nan_at_the_first_step_is_diverging_at_once() -> None:
    analysis = _shape(np.array([np.nan]), planned=100, stop="non_finite")
    assert analysis.shape.name == "diverges_at_once"
    assert "NaN" in analysis.shape.message


def test_rises_from_the_start() -> None:
    rng = np.random.default_rng(3)
    loss = np.linspace(2.3, 4.0, 60) + 0.02 * rng.standard_normal(60)
    analysis = _shape(loss, planned=100, stop="diverged")
    assert analysis.shape.name == "rises_from_start"
    assert analysis.suggestion is None
    assert "sign" in analysis.shape.advice[0]


def test_too_noisy() -> None:
    _, clean = canonical_loss(noise=0.0)
    rng = np.random.default_rng(4)
    noisy = clean[:90] + 1.0 * rng.standard_normal(90)  # batch noise half the 2.0 fall
    analysis = _shape(noisy, planned=100, stop="diverged")
    assert analysis.shape.name == "too_noisy"
    assert analysis.suggestion is not None  # still a number, with low confidence
    assert combine_sweeps([analysis]).confidence == "low"


def test_nan_while_the_loss_is_still_low_is_a_numerical_problem() -> None:
    _, loss = canonical_loss(noise=0.03)
    minimum = int(np.argmin(loss))
    broken = np.concatenate([loss[: minimum + 2], [np.nan]])
    analysis = _shape(broken, planned=100, stop="non_finite")
    assert analysis.shape.name == "nan"
    assert f"step {minimum + 2}" in analysis.shape.message
    assert analysis.suggestion is not None


def test_nan_after_a_clear_rise_is_ordinary_divergence() -> None:
    _, loss = canonical_loss(noise=0.03)
    diverging = np.concatenate([loss[:95], [np.nan]])
    assert _shape(diverging, planned=100, stop="non_finite").shape.name == "canonical"


def test_negative_losses_are_classified_like_positive_ones() -> None:
    _, loss = canonical_loss(noise=0.03, seed=5)
    assert _shape(loss[:92] - 50.0, planned=100, stop="diverged").shape.name == "canonical"
