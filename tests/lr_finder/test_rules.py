"""Smoothing and suggestion rules on synthetic curves whose right answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcheck.lr_finder.analysis import analyse_sweep, combine_sweeps
from dlcheck.lr_finder.confidence import grade_confidence
from dlcheck.lr_finder.rules import (
    apply_rules,
    descent,
    geometric_median,
    minimum_rule,
    recommend,
    rise_start,
    steepest_rule,
    suggestions_by_kind,
    usable_band,
    valley_rule,
)
from dlcheck.lr_finder.smoothing import causal_ema, noise_scale, running_median, zero_lag_smooth

from .conftest import canonical_loss, synthetic_history


def _decades(a: float, b: float) -> float:
    return abs(math.log10(a / b))


def test_zero_lag_smoothing_finds_the_minimum_where_an_ema_lags_behind() -> None:
    lrs, loss = canonical_loss(noise=0.0)
    true_minimum = lrs[int(np.argmin(loss))]
    zero_lag = lrs[int(np.argmin(zero_lag_smooth(loss)))]
    lagging = lrs[int(np.argmin(causal_ema(loss, 0.98)))]
    assert _decades(zero_lag, true_minimum) <= 0.1
    assert math.log10(lagging / true_minimum) >= 0.3  # the EMA's minimum sits to the right (research section 3)


def test_running_median_removes_a_single_spike_without_moving_a_step() -> None:
    values = np.array([1.0] * 10 + [50.0] + [1.0] * 5 + [0.0] * 10)
    cleaned = running_median(values, 5)
    assert cleaned.max() == 1.0
    assert cleaned[15] == 1.0 and cleaned[16] == 0.0  # the edge stays where it was


def test_noise_scale_ignores_the_trend_and_spikes() -> None:
    rng = np.random.default_rng(1)
    values = np.linspace(3.0, 0.5, 500) + 0.2 * rng.standard_normal(500)
    values[100] = 40.0
    assert noise_scale(values) == pytest.approx(0.2, rel=0.15)


def test_rules_on_a_clean_canonical_curve() -> None:
    lrs, loss = canonical_loss(noise=0.0)
    rules = apply_rules(lrs, loss)
    minimum_lr = lrs[int(np.argmin(loss))]
    assert rules["minimum"] == pytest.approx(minimum_lr / math.sqrt(10))
    assert _decades(rules["steepest"], 1e-3) <= 0.15  # the sigmoid's steepest point in log-LR
    band = usable_band(lrs, loss)
    assert band is not None
    assert 0 < math.log10(minimum_lr / band[1]) <= 1.0  # the loss stops falling before its minimum
    fall = loss[0] - loss.min()
    assert loss[np.searchsorted(lrs, band[1])] <= loss.min() + 0.1 * fall + 1e-9
    assert 1e-5 < band[0] < 1e-3  # the descent begins about 1.5 decades before its centre
    assert band[0] <= rules["valley"] <= band[1]  # valley: the middle of the descent


@pytest.mark.parametrize("seed", range(5))
def test_steepest_rule_in_log_lr_is_stable_on_noisy_curves(seed: int) -> None:
    # Lightning >= 2.5.3 took d loss / d lr in raw LR units and landed decades too low on noisy curves (#21141).
    lrs, loss = canonical_loss(noise=0.08, seed=seed)
    smoothed = zero_lag_smooth(loss)
    steepest = apply_rules(lrs, smoothed, curve_noise=0.02)["steepest"]
    assert steepest is not None and _decades(steepest, 1e-3) <= 0.5
    raw_lr_slope = np.gradient(smoothed, lrs)  # what a raw-LR derivative would pick
    assert lrs[int(np.argmin(raw_lr_slope[: int(np.argmin(smoothed))]))] > 0  # (computed, for contrast)


def test_steepest_ignores_a_dip_on_the_plateau() -> None:
    lrs, loss = canonical_loss(noise=0.0)
    loss = loss.copy()
    loss[3:6] -= [0.3, 0.6, 0.3]  # an early wiggle, steeper locally than the real descent
    start = descent(loss)
    assert start is not None and start[0] > 10
    assert _decades(steepest_rule(lrs, loss, start[0]), 1e-3) <= 0.15
    assert _decades(steepest_rule(lrs, loss), 1e-3) > 2  # without the descent start it is fooled


def test_valley_matches_fastai_on_a_hand_computed_curve() -> None:
    losses = np.array([5.0, 4.0, 4.5, 3.0, 2.0, 1.0, 1.5, 0.5, 3.0, 9.0])
    lrs = np.arange(1, 11) * 1e-3
    # longest strictly decreasing subsequence ends at index 7 with length 6 (5, 4, 3, 2, 1, 0.5):
    # start = 7 - 6 = 1, sec = 2, index = 1 + 2 + 1 = 4
    assert valley_rule(lrs, losses) == pytest.approx(5e-3)


def test_minimum_rule_and_recommendation() -> None:
    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    assert minimum_rule(lrs, np.array([3.0, 2.0, 1.0, 4.0])) == pytest.approx(1e-2 / math.sqrt(10))
    assert recommend({"valley": 1e-4, "minimum": 1e-3, "steepest": 1e-2}, None) == pytest.approx(1e-3)
    assert recommend({"valley": 1e-6, "minimum": 1e-5, "steepest": None}, (1e-4, 1e-2)) == pytest.approx(1e-4)
    assert recommend({"valley": None, "minimum": None, "steepest": None}, (1e-4, 1e-2)) is None
    assert geometric_median([1e-4, 1e-2]) == pytest.approx(1e-3)


def test_no_descent_means_no_band() -> None:
    rising = np.linspace(1.0, 3.0, 50)
    assert descent(rising) is None
    assert usable_band(np.logspace(-7, 1, 50), rising) is None


def test_the_answer_is_the_same_for_a_loss_shifted_below_zero() -> None:
    _, loss = canonical_loss(noise=0.03, seed=3)
    positive = combine_sweeps([analyse_sweep(synthetic_history(loss))])
    negative = combine_sweeps([analyse_sweep(synthetic_history(loss - 10.0))])
    assert positive.suggested_lr == pytest.approx(negative.suggested_lr)
    assert negative.shape.name == "canonical"


def test_confidence_grades() -> None:
    rules = {"valley": 2e-4, "minimum": 1e-3, "steepest": 3e-3}
    assert grade_confidence(rules, (1e-4, 1e-2), "canonical", [1e-3, 1.5e-3])[0] == "high"
    grade, reasons = grade_confidence(rules, (1e-4, 1e-2), "canonical", [1e-3, 2.5e-3])
    assert grade == "medium" and "2.5x" in reasons[0]
    assert grade_confidence(rules, (1e-4, 1e-2), "canonical", [1e-3, 5e-3])[0] == "low"
    assert grade_confidence(rules, (1e-4, 1e-2), "too_noisy")[0] == "low"
    assert grade_confidence(rules, (1e-4, 1e-2), "never_diverges")[0] == "medium"
    assert grade_confidence({**rules, "valley": 5e-6}, (1e-4, 1e-2), "canonical")[0] == "low"
    assert grade_confidence({**rules, "valley": 2e-5}, (1e-4, 1e-2), "canonical")[0] == "medium"
    assert grade_confidence({"valley": 1e-3, "minimum": None, "steepest": None}, (1e-4, 1e-2), "canonical")[0] == "low"


def test_repeats_are_combined_by_the_median_and_their_spread_reported() -> None:
    sweeps = [analyse_sweep(synthetic_history(canonical_loss(noise=0.05, seed=seed)[1])) for seed in range(3)]
    combined = combine_sweeps(sweeps)
    suggestions = sorted(sweep.suggestion for sweep in sweeps if sweep.suggestion)
    assert combined.suggested_lr == pytest.approx(suggestions[1])
    assert combined.repeat_spread == pytest.approx(suggestions[-1] / suggestions[0])
    assert combined.band is not None and combined.band[0] <= combined.suggested_lr <= combined.band[1]


@pytest.mark.parametrize("seed", range(4))
def test_the_band_ends_where_a_flat_bottom_begins_not_at_its_noisy_minimum(seed: int) -> None:
    lrs = np.exp(np.linspace(np.log(1e-7), np.log(10.0), 100))
    position = np.log10(lrs)
    # falls from 3 to 0.5 around 1e-3, flat from 1e-2 to 1, then rises
    clean = 0.5 + 2.5 / (1 + np.exp(4.0 * (position + 3))) + np.exp(3.0 * (position - 0.5))
    noisy = clean + 0.05 * np.random.default_rng(seed).standard_normal(100)
    smoothed = zero_lag_smooth(noisy)
    band = usable_band(lrs, smoothed, curve_noise=0.015)
    assert band is not None and 10**-2.6 < band[1] < 10**-1.6  # where the flat bottom starts


def test_one_suggestion_per_use_of_the_learning_rate() -> None:
    lrs = np.exp(np.linspace(np.log(1e-7), np.log(10.0), 100))
    position = np.log10(lrs)
    # falls around 1e-3, flat bottom from 1e-2 to 1e-1, rises after 3e-1
    clean = 0.5 + 2.5 / (1 + np.exp(4.0 * (position + 3))) + np.exp(3.0 * (position + 0.2))
    rules = apply_rules(lrs, clean)
    kinds = suggestions_by_kind(lrs, clean, rules)
    assert kinds["constant"] < kinds["annealed"] < kinds["one_cycle"]
    assert kinds["annealed"] == usable_band(lrs, clean)[1]  # type: ignore[index]
    assert 10**-1.5 < kinds["one_cycle"] < 10**-0.2  # the right end of the flat bottom, before the rise
    assert lrs[rise_start(clean)] == kinds["one_cycle"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("schedule", "kind"),
    [
        ("{name: constant}", "constant"),
        ("{name: step, step_size: 5}", "constant"),
        ("{name: cosine}", "annealed"),
        ("{name: constant, warmup: {steps: 10}}", "annealed"),
        ("{name: one_cycle}", "one_cycle"),
    ],
)
def test_the_recipe_schedule_decides_which_suggestion_is_made(schedule: str, kind: str) -> None:
    from dlcheck.lr_finder.finder import suggestion_kind
    from dlcheck.recipe import parse_recipe

    loaded = parse_recipe(
        f"data: {{source: blobs}}\nmodel: {{layers: [{{type: linear, out: 4}}]}}\nschedule: {schedule}\n"
    )
    assert suggestion_kind(loaded.recipe) == kind
