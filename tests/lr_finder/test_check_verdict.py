"""The ``lr_range`` check's own verdict: the recipe's LR against the curve (issue 14, item 9)."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from dlcheck.checks.subject import CheckSubject
from dlcheck.lr_finder import find_lr
from dlcheck.lr_finder.check import place_recipe_lr, result_to_check, training_steps
from dlcheck.lr_finder.finder import LRFinderResult
from dlcheck.report.checks import checks_table
from tests.cli_runner import run_cli

FAST = ("--steps", "60", "--repeats", "1")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[LRFinderResult, int]:
    """One sweep of the blobs recipe (the curve), and its run length; the tests move only the recipe's LR."""
    from dlcheck.checks.subject import prepare_subject
    from dlcheck.recipe import parse_recipe

    from .conftest import BLOBS_RECIPE

    subject: CheckSubject = prepare_subject(parse_recipe(BLOBS_RECIPE))
    return find_lr(subject, steps=60, repeats=1), training_steps(subject)


def _at(result: LRFinderResult, recipe_lr: float) -> LRFinderResult:
    return dataclasses.replace(result, recipe_lr=recipe_lr)


def test_the_curve_shows_its_limits(swept: tuple[LRFinderResult, int]) -> None:
    result, steps = swept
    assert result.band is not None and result.shape.name == "canonical" and result.confidence != "low"
    limits = place_recipe_lr(result, steps).limits
    onset, divergence = limits["onset_lr"], limits["divergence_lr"]
    assert onset is not None and divergence is not None
    assert onset <= result.band[0] < result.band[1] < divergence


def test_an_lr_inside_the_band_passes(swept: tuple[LRFinderResult, int]) -> None:
    result, steps = swept
    assert result.band is not None
    inside = (result.band[0] * result.band[1]) ** 0.5
    check = result_to_check(_at(result, inside), training_steps=steps)
    assert check.status == "pass" and check.metrics["placement"] == "pass"
    assert "within the usable range" in check.summary and check.advice == []


def test_an_lr_past_the_band_but_short_of_divergence_warns(swept: tuple[LRFinderResult, int]) -> None:
    result, steps = swept
    assert result.band is not None
    divergence = place_recipe_lr(result, steps).limits["divergence_lr"]
    assert divergence is not None
    between = (result.band[1] * 2 * divergence) ** 0.5
    check = result_to_check(_at(result, between), training_steps=steps)
    assert check.status == "warn" and "past where the loss stops falling" in check.summary
    assert check.advice[0].startswith(f"Lower optimizer.lr from {between:.1e}")


def test_an_lr_far_too_high_fails_with_its_advice(swept: tuple[LRFinderResult, int]) -> None:
    # The case: the check passed with a tick while its own summary said the LR was 280x too high.
    result, steps = swept
    assert result.band is not None
    too_high = 280 * result.band[1]
    check = result_to_check(_at(result, too_high), training_steps=steps)
    assert check.status == "fail"
    assert "280x past where the loss stops falling" in check.summary and "diverged" in check.summary
    assert check.advice[0].startswith(f"Lower optimizer.lr from {too_high:.1e} to about")
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(checks_table([check]))  # babysit's table prints the advice under a failing row
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "✗  lr_range" in text and "→ Lower optimizer.lr" in text


def test_a_small_lr_warns_and_fails_only_when_the_whole_run_cannot_learn(swept: tuple[LRFinderResult, int]) -> None:
    result, steps = swept
    limits = place_recipe_lr(result, steps).limits
    onset, needed = limits["onset_lr"], limits["sweep_lr_sum_to_onset"]
    assert onset is not None and needed is not None
    small = onset / 20
    starved = result_to_check(_at(result, small), training_steps=steps)
    assert small * steps * 2 < needed  # 20 steps: far from the LR sum the sweep needed before its loss moved
    assert starved.status == "fail" and "it will not learn" in starved.summary
    assert starved.advice[0].startswith(f"Raise optimizer.lr from {small:.1e}")
    long_run = 10 * round(needed / small)
    slow = result_to_check(_at(result, small), training_steps=long_run)
    assert slow.status == "warn" and "training will be slow" in slow.summary
    unknown = result_to_check(_at(result, small))
    assert unknown.status == "warn"  # without the run's length a small LR is never failed


def test_low_confidence_lowers_a_placement_fail_to_a_warn(swept: tuple[LRFinderResult, int]) -> None:
    result, steps = swept
    assert result.band is not None
    uncertain = dataclasses.replace(_at(result, 280 * result.band[1]), confidence="low", reasons=["planted"])
    check = result_to_check(uncertain, training_steps=steps)
    assert check.status == "warn" and "not failed: confidence in the band is low" in check.summary


def test_lr_find_exits_1_on_an_lr_past_divergence_and_prints_the_advice(
    blobs_recipe: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, monkeypatch, "lr-find", str(blobs_recipe), "--set", "optimizer.lr=50", *FAST)
    out = re.sub(r"[│\s]+", " ", out)
    assert code == 1 and "FAIL" in out
    assert "past where the range test diverged" in out and "Lower optimizer.lr from 5.0e+01" in out


def test_strict_turns_a_placement_warning_into_exit_1(blobs_recipe: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    options = ("lr-find", str(blobs_recipe), "--set", "optimizer.lr=0.4", *FAST)
    code, out, _ = run_cli(capsys, monkeypatch, *options)
    out = re.sub(r"[│\s]+", " ", out)
    assert code == 0 and "WARN" in out and "past where the loss stops falling" in out
    code, _, _ = run_cli(capsys, monkeypatch, *options, "--strict")
    assert code == 1
