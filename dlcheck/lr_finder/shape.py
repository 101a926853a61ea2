"""What kind of curve a sweep drew, and what to do about it.

A range test answers "which LR?" only for the canonical curve: flat at tiny LRs, a clear descent, then
divergence. Every other shape says something about the set-up instead (research section 7.3), and each gets
a message and advice here. The shapes, checked in this order (the first that matches wins):

``diverges_at_once``  the sweep stopped, or met NaN, within its first 15 % of steps (or as soon as the stop rule
                      had measured the noise);
``rises_from_start``  the minimum is in the first 10 % and the loss is already up a third of the way in;
``flat``              the loss fell by less than 3 standard errors, or by less than 2 % of its value;
``nan``               a NaN/inf while the loss was still near its minimum (numerics, not divergence);
``never_diverges``    the loss was still at its minimum when the ramp ended;
``too_noisy``         the smoothed curve's noise is more than a tenth of the total fall;
``canonical``         none of the above.
"""

from __future__ import annotations

__all__ = ["FAILING_SHAPES", "SHAPES", "CurveShape", "classify_shape"]

import math
from dataclasses import dataclass, field

import numpy as np

from dlcheck.lr_finder import thresholds as limits
from dlcheck.lr_finder.range_test import SweepHistory, noise_points
from dlcheck.lr_finder.rules import start_level
from dlcheck.lr_finder.smoothing import noise_scale, smoothed_noise, smoother_noise_at

SHAPES = ("canonical", "flat", "never_diverges", "diverges_at_once", "rises_from_start", "too_noisy", "nan")
FAILING_SHAPES = ("diverges_at_once", "rises_from_start", "flat")
"""Shapes for which no LR of the range trains the model: the check fails and no LR is suggested."""


@dataclass(frozen=True)
class CurveShape:
    """The shape of one sweep's curve.

    Attributes
    ----------
    name : str
        One of :data:`SHAPES`.
    message : str
        One sentence: what the curve shows, with the numbers.
    advice : list of str
        What to try, most likely first (empty for a canonical curve).
    fall : float
        Starting level minus minimum of the smoothed curve, in loss units.
    noise : float
        Batch-to-batch standard deviation of the raw loss.
    """

    name: str
    message: str
    advice: list[str] = field(default_factory=list)
    fall: float = math.nan
    noise: float = math.nan


def classify_shape(history: SweepHistory, smoothed: np.ndarray) -> CurveShape:
    """Classify a sweep.

    Parameters
    ----------
    history : SweepHistory
        The raw record.
    smoothed : numpy.ndarray
        The zero-lag smoothed loss of the finite prefix of the record, ``(history.usable,)``.

    Returns
    -------
    CurveShape
    """
    usable = history.usable
    lrs = history.lr
    raw = history.loss[:usable]
    # The stop rule cannot stop on a rise before it has measured the noise: its first chance is "at once" too.
    first_chance = noise_points(history.planned_steps) + limits.STOP_PATIENCE
    early = max(3, math.ceil(limits.EARLY_FRACTION * history.planned_steps), first_chance)
    if usable < 5 or (history.stop != "completed" and len(history.loss) <= early):
        return _diverges_at_once(history)

    noise = noise_scale(raw)
    lowest = int(np.argmin(smoothed))
    starting = start_level(smoothed)
    fall = starting - float(smoothed[lowest])
    head = max(3, math.ceil(limits.START_FRACTION * usable))

    def significant(difference: float, first: int, second: int) -> bool:
        # More than 3 standard errors of the smoothed values at both points, and more than 2 % of the start.
        error = math.hypot(smoother_noise_at(first, usable, noise), smoother_noise_at(second, usable, noise))
        return difference > max(limits.FLAT_NOISE_MULTIPLE * error, limits.FLAT_RELATIVE_DROP * abs(starting))

    third = usable // 3
    rise = float(smoothed[third]) - float(smoothed[lowest])
    if lowest < limits.MINIMUM_EARLY_FRACTION * usable and significant(rise, third, lowest):
        return CurveShape(
            "rises_from_start",
            f"The loss rose from the first steps, at learning rates too small to matter "
            f"({lrs[0]:.1e}-{lrs[usable // 3]:.1e}): the optimiser is not descending this loss.",
            [
                "Check the loss and the targets: a sign error, or targets that do not belong to the inputs "
                "(run dlcheck babysit).",
                f"If the set-up is right, the ramp starts too high: lower --start-lr (now {lrs[0]:.0e}).",
            ],
            fall=fall,
            noise=noise,
        )
    if not significant(fall, head // 2, lowest):
        return CurveShape(
            "flat",
            f"The loss hardly moved from {lrs[0]:.1e} to {lrs[usable - 1]:.1e} (it fell by {fall:.3g}, "
            f"batch noise {noise:.3g}): the model does not learn at any LR tried.",
            _flat_advice(history, noise, starting),
            fall=fall,
            noise=noise,
        )
    first_bad = history.first_non_finite
    if first_bad is not None and float(smoothed[-1]) - float(smoothed[lowest]) < limits.NAN_RISE_FRACTION * fall:
        return CurveShape(
            "nan",
            f"The loss became NaN or infinite at step {first_bad} (lr {lrs[first_bad]:.1e}) while it was still "
            "near its lowest: a numerical problem, not ordinary divergence. The suggestion uses the curve "
            "before it.",
            [
                "Use train.precision: fp32 (or bf16-mixed instead of fp16-mixed), or add train.gradient_clip.",
                "Look for log(0), division by zero or unnormalised inputs in the model and loss.",
            ],
            fall=fall,
            noise=noise,
        )
    tail_start = usable * (1.0 - limits.NEVER_DIVERGES_TAIL_FRACTION) - 1
    if (
        history.stop == "completed"
        and lowest >= tail_start
        and float(smoothed[-1]) - float(smoothed[lowest]) <= limits.NEVER_DIVERGES_RISE_FRACTION * fall
    ):
        return CurveShape(
            "never_diverges",
            f"The loss was still falling at the end of the ramp (lr {lrs[-1]:.1e}): where it stops falling, "
            "the upper edge of the band, is not known.",
            [f"Raise --end-lr (now {lrs[-1]:.0e}) so that the sweep reaches divergence."],
            fall=fall,
            noise=noise,
        )
    if smoothed_noise(noise, usable) > limits.NOISY_FRACTION * fall:
        return CurveShape(
            "too_noisy",
            f"The loss is noisy next to its fall (batch noise {noise:.3g}, fall {fall:.3g}): the rules' positions "
            "are unreliable.",
            [
                "Use --val-batches 4 (fixed held-out batches: no sampling noise) or a larger --batch-size.",
                "Use --repeats 5 to average over more sweeps.",
            ],
            fall=fall,
            noise=noise,
        )
    return CurveShape(
        "canonical",
        f"flat at small LRs, a clear descent (the loss fell by {fall:.3g}), then "
        + ("divergence." if history.stop != "completed" else "a rise before the end of the ramp."),
        fall=fall,
        noise=noise,
    )


def _flat_advice(history: SweepHistory, noise: float, starting: float) -> list[str]:
    """What to try when the loss did not move: the way out depends on how the sweep ended."""
    advice = []
    if history.stop == "completed":
        advice.append(
            f"The loss neither fell nor diverged up to {history.lr[-1]:.0e}: the range is too low for this model, "
            f"raise --end-lr (now {history.lr[-1]:.0e})."
        )
    else:
        advice.append(
            f"The loss went from flat straight to divergence at {history.lr[len(history.loss) - 1]:.1e}: no LR "
            "trains this set-up. Check that the targets belong to the inputs and that gradients flow "
            "(dlcheck babysit)."
        )
    if noise > limits.FLAT_NOISY_RELATIVE * abs(starting):
        advice.append(
            f"The batch loss is noisy (standard deviation {noise:.3g} at a level of {starting:.3g}) and can hide a "
            "small fall: use --val-batches 4 (fixed held-out batches) or a larger --batch-size."
        )
    advice.append(
        "If the model is already trained (fine-tuning), a range test says little: use a small LR and compare with "
        "--verify."
    )
    if history.stop == "completed":
        advice.append(
            "Otherwise check that the targets belong to the inputs and that gradients flow (dlcheck babysit)."
        )
    return advice


def _diverges_at_once(history: SweepHistory) -> CurveShape:
    """The sweep ended at its first chance; the advice depends on whether its start could train anything."""
    last = len(history.loss) - 1
    finite = history.loss[: history.usable]
    head = finite[: noise_points(history.planned_steps)]
    what = "became NaN or infinite" if history.stop == "non_finite" else "blew up"
    evidence = ""
    if history.stop != "non_finite" and finite.size >= 2:
        evidence = f" (from {float(finite[0]):.3g} at the first step to {float(finite[-1]):.3g}"
        if head.size >= limits.STOP_NOISE_MIN_POINTS:
            evidence += f"; batch noise {noise_scale(head):.3g}"
        evidence += ")"
    message = (
        f"The loss {what} within the first {last + 1} steps of {history.planned_steps}, at lr <= "
        f"{history.lr[last]:.1e}{evidence}"
    )
    set_up = (
        "Suspect the set-up: the loss at initialisation (dlcheck init-loss), the scale of the inputs "
        "(data.normalize: auto) and the initialisation."
    )
    start_lr = float(history.lr[0])
    if start_lr < limits.TRAINING_LR_FLOOR:
        # A ramp that starts this low changes no weights noticeably before it stops: the start is not too high.
        message += ": at these LRs the weights hardly move, so no healthy set-up diverges there."
        advice = [set_up, "If the loss is noisy from batch to batch, use --val-batches 4 or a larger --batch-size."]
    else:
        message += ": the ramp starts at an LR this model does not survive."
        advice = [
            f"Lower --start-lr (now {start_lr:.0e}), e.g. to 1e-7, so that the sweep starts where nothing moves.",
            "If it still diverges at once, " + set_up[0].lower() + set_up[1:],
        ]
    return CurveShape("diverges_at_once", message, advice)
