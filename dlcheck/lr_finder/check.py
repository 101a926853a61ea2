"""The ``lr_range`` check: the range test as one step of ``dlcheck babysit`` (and the verdict of ``lr-find``)."""

from __future__ import annotations

__all__ = ["Placement", "lr_range_check", "place_recipe_lr", "result_to_check", "training_steps"]

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcheck.checks.result import CheckResult, Status
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.finder import LRFinderResult, find_lr
from dlcheck.lr_finder.rules import divergence_index, geometric_median, onset_index
from dlcheck.lr_finder.smoothing import smoothed_noise


def lr_range_check(subject: Any, *, seed: int | None = None, steps: int | None = None) -> CheckResult:
    """Run the LR range test on ``subject`` and judge it, with the recipe's LR placed against the curve.

    ``fail`` when the curve shows the model learns at no LR of the range (it diverges at once, rises from the
    start, or stays flat), or when the recipe's LR is far outside the usable band (:func:`place_recipe_lr`);
    ``warn`` for low confidence, another non-canonical shape, or a recipe LR outside the band; ``pass``
    otherwise. The advice names a better ``optimizer.lr`` when the recipe's lies outside the band.

    Parameters
    ----------
    subject : CheckSubject
    seed : int, optional
        Base seed of the sweeps' data order and dropout (default the recipe's).
    steps : int, optional
        Steps per sweep (default 100).

    Returns
    -------
    CheckResult
        Named ``lr_range``; ``details["result"]`` holds the :class:`LRFinderResult`.
    """
    started = time.perf_counter()
    result = find_lr(subject, seed=seed, steps=steps or thresholds.STEPS)
    check = result_to_check(result, training_steps=training_steps(subject))
    return dataclasses.replace(check, seconds=time.perf_counter() - started)


def training_steps(subject: Any) -> int:
    """Optimiser steps of the recipe's whole run: steps per epoch times ``train.epochs``."""
    return int(subject.steps_per_epoch()) * int(subject.recipe.train.epochs)


def _shape_status(result: LRFinderResult) -> Status:
    if not result.checksum.restored:
        return "error"
    if result.failed:
        return "fail"
    if result.confidence == "low" or result.shape.name != "canonical":
        return "warn"
    return "pass"


@dataclass(frozen=True)
class Placement:
    """Where the recipe's LR sits against the curve, and what that means.

    Attributes
    ----------
    status : {"pass", "warn", "fail"}
    recipe_lr : float
    relation : str
        Where it lies ("is 280x past where the loss stops falling ..."); empty without a band.
    advice : list of str
    limits : dict
        ``onset_lr`` (where the loss starts to move), ``divergence_lr`` (where it is back at its starting level)
        and ``sweep_lr_sum_to_onset`` (the sum of the sweep's LRs up to the onset), medians over sweeps; None
        where the curve does not show them.
    """

    status: Status
    recipe_lr: float
    relation: str
    advice: list[str]
    limits: dict[str, float | None]

    @property
    def text(self) -> str:
        """The clause for the summary: "the recipe's 5.0e+00 is 280x past ..."; empty without a band."""
        return f"the recipe's {self.recipe_lr:.1e} {self.relation}" if self.relation else ""


def _curve_limits(result: LRFinderResult) -> dict[str, float | None]:
    onsets, divergences, sums = [], [], []
    for sweep in result.sweeps:
        if sweep.band is None:
            continue
        history, smoothed = sweep.history, sweep.smoothed
        lrs = history.lr[: smoothed.size]
        onset = onset_index(smoothed, smoothed_noise(sweep.shape.noise, smoothed.size))
        if onset is not None:
            onsets.append(float(lrs[onset]))
            sums.append(float(np.sum(lrs[: onset + 1])))
        back = divergence_index(smoothed)
        if back is not None:
            divergences.append(float(lrs[back]))
        elif history.stop != "completed":  # stopped (or NaN) before the smoothed curve showed the rise
            divergences.append(float(history.lr[len(history.loss) - 1]))
    return {
        "onset_lr": geometric_median(onsets),
        "divergence_lr": geometric_median(divergences),
        "sweep_lr_sum_to_onset": geometric_median(sums),
    }


def place_recipe_lr(result: LRFinderResult, training_steps: int | None = None) -> Placement:
    """Judge the recipe's LR against the usable band and the curve's limits.

    The usable range runs from the band's lower edge to its upper edge, or to the suggestion where that sits above
    it (a one-cycle peak, where the loss starts to rise; SGD's constant LR, where the loss is lowest). Within :data:`~dlcheck.lr_finder.thresholds.PLACEMENT_TOLERANCE` of it: pass (repeated
    sweeps differ by that much). Further outside: warn. Far outside: fail, when the LR is past where the loss
    diverged in the range test (back at its starting level), or below where the loss started to move at all
    and so small that the whole run (``training_steps`` x LR) adds up to less than half the sum of the LRs the
    sweep took before its loss began to fall: such a run cannot learn. A long run at a small LR does learn, slowly: a warn. Without
    ``training_steps`` a small LR is never failed. With low confidence a fail is lowered to a warn: the band
    itself is then uncertain.
    """
    recipe_lr, suggested, band = result.recipe_lr, result.suggested_lr, result.band
    if suggested is None or band is None:
        return Placement("pass", recipe_lr, "", [], {})
    limits = _curve_limits(result)
    low = band[0]
    high = max(band[1], suggested)  # a one-cycle peak, and SGD's constant LR, sit above the band
    if result.suggestion_kind == "one_cycle":
        where = "starts to rise"
    else:
        where = "is lowest" if suggested > band[1] else "stops falling"
    tolerance = thresholds.PLACEMENT_TOLERANCE
    onset, divergence, needed = limits["onset_lr"], limits["divergence_lr"], limits["sweep_lr_sum_to_onset"]
    status: Status = "pass"
    if recipe_lr > high * tolerance:
        text = f"is {recipe_lr / high:.0f}x past where the loss {where} ({high:.1e})"
        status = "warn"
        if divergence is not None and recipe_lr > divergence:
            status = "fail"
            text += f" and past where the range test diverged ({divergence:.1e}): training at it will blow up"
        advice = [
            f"Lower optimizer.lr from {recipe_lr:.1e} to about {suggested:.1e} "
            "(dlcheck lr-find RECIPE --write does it; --verify compares the two)."
        ]
    elif recipe_lr < low / tolerance:
        text = f"is {low / recipe_lr:.0f}x below where the loss starts falling ({low:.1e})"
        status = "warn"
        # Far below: even the whole run adds up to less than half the LRs the sweep took before its loss moved.
        starved = training_steps is not None and needed is not None and recipe_lr * training_steps * tolerance < needed
        if onset is not None and recipe_lr < onset and starved:
            status = "fail"
            text += (
                f", below where it first moves ({onset:.1e}), and the whole run ({training_steps} steps at this LR) "
                "adds up to less than half the LRs the range test took before its loss moved: it will not learn"
            )
        else:
            text += ": training will be slow"
        advice = [
            f"Raise optimizer.lr from {recipe_lr:.1e} to about {suggested:.1e} (dlcheck lr-find RECIPE --write does it)."
        ]
    elif recipe_lr > high:
        return Placement(
            "pass",
            recipe_lr,
            f"is near where the loss {where} ({high:.1e}), within the sweeps' spread",
            [],
            limits,
        )
    elif recipe_lr < low:
        return Placement(
            "pass",
            recipe_lr,
            f"is near where the loss starts falling ({low:.1e}), within the sweeps' spread",
            [],
            limits,
        )
    else:
        return Placement("pass", recipe_lr, "is within the usable range", [], limits)
    if status == "fail" and result.confidence == "low":
        status = "warn"
        text += " (not failed: confidence in the band is low)"
    return Placement(status, recipe_lr, text, advice, limits)


_SEVERITY: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2, "error": 3}


def result_to_check(result: LRFinderResult, *, training_steps: int | None = None) -> CheckResult:
    """Judge an :class:`LRFinderResult` as the ``lr_range`` check (status, summary, metrics, advice).

    ``training_steps`` (optimiser steps of the recipe's whole run) lets a recipe LR too small to learn anything
    in that many steps fail; without it such an LR only warns.
    """
    shape_status = _shape_status(result)
    placement = place_recipe_lr(result, training_steps)
    status: Status = max(shape_status, placement.status, key=lambda value: _SEVERITY[value])
    suggested = result.suggested_lr
    if not result.checksum.restored:
        summary = "The model or optimiser state was not restored bit for bit after the range test (a dlcheck bug)."
    elif suggested is None:
        summary = f"No learning rate to suggest: {result.shape.message}"
    else:
        band = result.band
        band_text = f", band {band[0]:.1e}-{band[1]:.1e}" if band is not None else ""
        if band is not None and result.suggestion_kind == "one_cycle" and suggested > band[1]:
            band_text += "; a one-cycle peak sits above it, where the loss starts to rise (Smith 2018)"
        elif band is not None and suggested > band[1]:
            band_text += "; SGD's constant LR sits above it, where the loss is lowest (its stability edge)"
        kind = "" if result.suggestion_kind == "constant" else f"peak of the {result.schedule} schedule, "
        summary = (
            f"Suggested lr {suggested:.1e} ({kind}batch {result.batch_size}, {result.confidence} confidence"
            f"{band_text})" + (f"; {placement.text}." if placement.text else ".")
        )
    advice = [*placement.advice]
    if shape_status != "pass":
        advice.extend(result.shape.advice)
        if result.confidence == "low" and not result.shape.advice:
            advice.append("Confidence is low: " + "; ".join(result.reasons) + ". Check with --verify.")
    ratio = result.recipe_lr / suggested if suggested else None
    metrics: dict[str, Any] = {
        "suggested_lr": suggested,
        "suggestion_kind": result.suggestion_kind,
        **{f"{kind}_lr": value for kind, value in result.suggestions.items()},
        "band_low": result.band[0] if result.band else None,
        "band_high": result.band[1] if result.band else None,
        "confidence": result.confidence,
        "recipe_lr": result.recipe_lr,
        "recipe_to_suggested": ratio,
        "placement": placement.status,
        **placement.limits,
        "training_steps": training_steps,
        "shape": result.shape.name,
        "batch_size": result.batch_size,
        "sweeps": len(result.sweeps),
        "repeat_spread": result.repeat_spread,
        "steps": len(result.history.lr),
        "state_restored": result.checksum.restored,
    }
    details = {"result": result, "placement": placement}
    return CheckResult("lr_range", status, summary, metrics, advice, details, result.seconds)
