"""The ``lr_range`` check: the range test as one step of ``dlcheck babysit`` (and the verdict of ``lr-find``)."""

from __future__ import annotations

__all__ = ["check_lr_range", "lr_range_check", "result_to_check"]

import dataclasses
import time
from typing import Any

from dlcheck.engine.parts import RecipeParts
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.finder import LRFinderResult, find_lr
from dlcheck.verdict import CheckResult, Status


def check_lr_range(parts: RecipeParts, *, seed: int | None = None, steps: int | None = None) -> CheckResult:
    """Run the LR range test on a recipe's ``parts`` and judge it.

    ``fail`` when the curve shows the model learns at no LR of the range (it diverges at once, rises from the
    start, or stays flat); ``warn`` for low confidence or another non-canonical shape; ``pass`` otherwise.
    Advice names a better ``optimizer.lr`` when the recipe's lies outside the usable band.

    Parameters
    ----------
    parts : RecipeParts
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
    result = find_lr(parts, seed=seed, steps=steps or thresholds.STEPS)
    return dataclasses.replace(result_to_check(result), seconds=time.perf_counter() - started)


def _status(result: LRFinderResult) -> Status:
    if not result.checksum.restored:
        return "error"
    if result.failed:
        return "fail"
    if result.confidence == "low" or result.shape.name != "canonical":
        return "warn"
    return "pass"


def _placement(result: LRFinderResult) -> tuple[str, list[str]]:
    """Where the recipe's LR sits against the usable range, and the advice that follows.

    The range runs from the band's lower edge to the band's upper edge, or, for a one-cycle peak, to where the
    loss starts to rise. Advice is given only beyond a factor of 2 outside it: repeated sweeps differ by up
    to that much, so closer than that the test cannot tell.
    """
    recipe_lr, suggested, band = result.recipe_lr, result.suggested_lr, result.band
    if suggested is None or band is None:
        return "", []
    low = band[0]
    high = max(band[1], suggested) if result.suggestion_kind == "one_cycle" else band[1]
    where = "starts to rise" if result.suggestion_kind == "one_cycle" else "stops falling"
    tolerance = thresholds.PLACEMENT_TOLERANCE
    if recipe_lr > high * tolerance:
        return (
            f"the recipe's {recipe_lr:.1e} is {recipe_lr / high:.0f}x past where the loss {where} ({high:.1e})",
            [
                f"Lower optimizer.lr from {recipe_lr:.1e} to about {suggested:.1e} "
                "(dlcheck lr-find RECIPE --write does it; --verify compares the two)."
            ],
        )
    if recipe_lr < low / tolerance:
        return (
            f"the recipe's {recipe_lr:.1e} is {low / recipe_lr:.0f}x below where the loss starts falling ({low:.1e})",
            [
                f"Raise optimizer.lr from {recipe_lr:.1e} to about {suggested:.1e}: training at the current LR "
                "will be slow (dlcheck lr-find RECIPE --write does it)."
            ],
        )
    if recipe_lr > high:
        return (
            f"the recipe's {recipe_lr:.1e} is near where the loss {where} ({high:.1e}), within the sweeps' spread",
            [],
        )
    if recipe_lr < low:
        return (
            f"the recipe's {recipe_lr:.1e} is near where the loss starts falling ({low:.1e}), within the sweeps' spread",
            [],
        )
    return f"the recipe's {recipe_lr:.1e} is within the usable range", []


def result_to_check(result: LRFinderResult) -> CheckResult:
    """Judge an :class:`LRFinderResult` as the ``lr_range`` check (status, summary, metrics, advice)."""
    status = _status(result)
    placement, placement_advice = _placement(result)
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
        kind = "" if result.suggestion_kind == "constant" else f"peak of the {result.schedule} schedule, "
        summary = (
            f"Suggested lr {suggested:.1e} ({kind}batch {result.batch_size}, {result.confidence} confidence"
            f"{band_text})" + (f"; {placement}." if placement else ".")
        )
    advice = [*placement_advice]
    if status != "pass":
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
        "shape": result.shape.name,
        "batch_size": result.batch_size,
        "sweeps": len(result.sweeps),
        "repeat_spread": result.repeat_spread,
        "steps": len(result.history.lr),
        "state_restored": result.checksum.restored,
    }
    return CheckResult("lr_range", status, summary, metrics, advice, {"result": result}, result.seconds)


lr_range_check = check_lr_range  # its earlier name, kept for existing callers
