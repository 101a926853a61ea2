"""``find_lr``: the whole range test on a recipe's parts, from sweeps to a suggestion with a band and a confidence."""

from __future__ import annotations

__all__ = [
    "LRFinderResult",
    "find_lr",
    "recipe_learning_rate",
    "run_sweeps",
    "seed_dropout",
    "suggestion_kind",
]

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcheck.engine.isolation import ChecksumReport, StateGuard
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import Batch, OptimizerStep, evaluate
from dlcheck.errors import InvalidArgument
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.analysis import SweepAnalysis, analyse_sweep, combine_sweeps
from dlcheck.lr_finder.range_test import Mode, SweepHistory, SweepSettings, run_sweep
from dlcheck.lr_finder.shape import FAILING_SHAPES, CurveShape
from dlcheck.recipe import Recipe
from dlcheck.seeding import Purpose, derive_seed


@dataclass(frozen=True)
class LRFinderResult:
    """The outcome of :func:`find_lr`.

    Attributes
    ----------
    suggested_lr : float or None
        The recommended ``optimizer.lr`` for the recipe's global batch and schedule: ``suggestions[kind]``;
        None when the curve's shape allows none.
    suggestion_kind : {"constant", "annealed", "one_cycle"}
        How the recipe's schedule uses ``optimizer.lr`` (:func:`suggestion_kind`).
    suggestions : dict
        The suggestion for each kind: ``constant`` (the rules' median within the band), ``annealed`` (the
        band's upper edge: the peak of a decaying or warmed-up schedule), ``one_cycle`` (where the loss starts
        to rise: the peak of a one-cycle schedule).
    schedule : str
        The recipe's schedule name (with ``+warmup`` when it warms up).
    band : tuple of float or None
        ``(lo, hi)``: from where the loss starts to fall to where it stops falling.
    confidence : {"high", "medium", "low"}
    reasons : list of str
        Why the confidence is not high.
    rules : dict
        ``valley``, ``minimum`` (already divided by sqrt(10)) and ``steepest``: each rule's LR (median over sweeps).
    shape : CurveShape
        The curve's shape, message and advice.
    sweeps : list of SweepAnalysis
        Every sweep: raw history, zero-lag smoothed curve, its own rules, band and shape.
    settings : SweepSettings
    batch_size : int
        Global batch of one optimiser step (always print it with the LR: the two go together).
    accumulation : int
        Micro-batches per step.
    device, precision : str
    loss_source : str
        What the curve measures: the training loss, or the loss on fixed held-out batches.
    repeat_spread : float or None
        ``max / min`` of the sweeps' suggestions.
    checksum : ChecksumReport
        The model and optimiser before the test and after the restore; ``checksum.restored`` must be True.
    recipe_lr : float
        The recipe's (peak) LR, to compare with the suggestion.
    seconds : float
    """

    suggested_lr: float | None
    suggestion_kind: str
    suggestions: dict[str, float | None]
    schedule: str
    band: tuple[float, float] | None
    confidence: str
    reasons: list[str]
    rules: dict[str, float | None]
    shape: CurveShape
    sweeps: list[SweepAnalysis]
    settings: SweepSettings
    batch_size: int
    accumulation: int
    device: str
    precision: str
    loss_source: str
    repeat_spread: float | None
    checksum: ChecksumReport
    recipe_lr: float
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def history(self) -> SweepHistory:
        """The first sweep's raw record (the JSON ``history``)."""
        return self.sweeps[0].history

    @property
    def smoothed(self) -> np.ndarray:
        """The first sweep's zero-lag smoothed curve, over its finite prefix."""
        return self.sweeps[0].smoothed

    @property
    def failed(self) -> bool:
        """True when the curve shows that no LR of the range trains the model."""
        return self.shape.name in FAILING_SHAPES

    @property
    def messages(self) -> list[str]:
        """The shape's message, the reasons for the confidence, then the advice."""
        return [self.shape.message, *self.reasons, *self.shape.advice, *self.notes]


def recipe_learning_rate(recipe: Recipe) -> float:
    """The recipe's peak LR: ``schedule.max_lr`` for a one-cycle schedule that sets it, else ``optimizer.lr``."""
    if recipe.schedule.name == "one_cycle" and recipe.schedule.max_lr is not None:
        return float(recipe.schedule.max_lr)
    return float(recipe.optimizer.lr)


def suggestion_kind(recipe: Recipe) -> str:
    """How the recipe uses ``optimizer.lr``: ``"one_cycle"``, ``"annealed"`` (the peak of a decaying or warmed-up
    schedule) or ``"constant"``. See :data:`~dlcheck.lr_finder.thresholds.ANNEALED_SCHEDULES` for the reasoning.
    """
    schedule = recipe.schedule
    if schedule.name == "one_cycle":
        return "one_cycle"
    return "annealed" if schedule.name in thresholds.ANNEALED_SCHEDULES or schedule.warmup is not None else "constant"


def _agree(sweeps: list[SweepAnalysis], kind: str) -> bool:
    first, second = sweeps[0], sweeps[1]
    if first.shape.name in FAILING_SHAPES and first.shape.name == second.shape.name:
        return True
    one, two = first.suggestions[kind], second.suggestions[kind]
    if one is None or two is None:
        return False
    return max(one, two) / min(one, two) <= thresholds.REPEAT_AGREEMENT_FACTOR


def seed_dropout(seed: int, repeat: int) -> None:
    """Seed the global torch RNG (dropout masks) for one sweep or ``--verify`` run; callers restore it with a
    :class:`~dlcheck.engine.isolation.StateGuard`."""
    torch.manual_seed(derive_seed(seed, Purpose.SWEEP_DROPOUT, repeat))


def run_sweeps(
    make_step: Callable[[], OptimizerStep],
    batches_for: Callable[[int], Iterator[Batch]],
    settings: SweepSettings,
    *,
    repeats: int | None,
    kind: str,
    seed: int,
    probe: Callable[[], torch.Tensor] | None = None,
) -> tuple[list[SweepAnalysis], ChecksumReport]:
    """The sweeps of one range test on a step's model and optimiser, restored afterwards and checked.

    Works on any :class:`OptimizerStep`, a recipe's or one built around a user's own model, optimiser and loss.

    Parameters
    ----------
    make_step : callable
        A fresh step (a fresh fp16 scaler) over the same model and optimiser, for each sweep.
    batches_for : callable
        ``batches_for(repeat)``: endless training micro-batches for sweep number ``repeat``, each repeat in
        another order.
    repeats : int, optional
        Number of sweeps; None for the adaptive 2, and a third when the first two disagree (for ``kind``).
    seed : int
        Base seed of the dropout masks (one stream per repeat).
    """
    sweeps: list[SweepAnalysis] = []
    planned = repeats if repeats is not None else 3
    step = make_step()
    with StateGuard(step.model, step.optimizer) as guard:
        for repeat in range(planned):
            if repeat:
                guard.restore()
                step = make_step()
            seed_dropout(seed, repeat)
            history = run_sweep(step, batches_for(repeat), settings, seed=seed + repeat, probe=probe)
            sweeps.append(analyse_sweep(history))
            if repeats is None and repeat == 1 and _agree(sweeps, kind):
                break
    assert guard.report is not None
    return sweeps, guard.report


def find_lr(
    parts: RecipeParts,
    *,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    start_lr: float = thresholds.START_LR,
    end_lr: float = thresholds.END_LR,
    steps: int = thresholds.STEPS,
    mode: Mode = "exp",
    repeats: int | None = None,
    val_batches: int = 0,
    batch_size: int | None = None,
    seed: int | None = None,
) -> LRFinderResult:
    """Run the LR range test on a recipe and recommend an LR with a band and a confidence grade.

    The sweeps train ``model`` in place and leave it, its optimiser and the global RNG states exactly as they
    were (checked: :attr:`LRFinderResult.checksum`). Each sweep raises the LR from ``start_lr`` to ``end_lr``
    over ``steps`` optimiser steps with the recipe's optimiser, batch size, loss, regularisation, gradient
    accumulation and precision, and stops once the loss has clearly diverged.

    The suggestion depends on how the recipe's schedule uses ``optimizer.lr``: held constant, the median of
    the rules (valley, minimum, steepest) within the band; as the peak of a decaying or warmed-up schedule
    (cosine, exponential...), the band's upper edge, where the loss stops falling; as the peak of a one-cycle
    schedule, where the loss starts to rise. All three are in the result.

    Parameters
    ----------
    parts : RecipeParts
        The recipe's parts (:func:`dlcheck.engine.parts.prepare_parts`).
    model : torch.nn.Module, optional
        Model to test (e.g. a partly trained one); default ``parts.model``, the recipe's initialisation.
    optimizer : torch.optim.Optimizer, optional
        Its optimiser, with its state; default a fresh one built from the recipe.
    start_lr, end_lr : float
        Ends of the ramp (defaults 1e-7 and 10).
    steps : int
        Steps of one sweep (default 100).
    mode : {"exp", "linear"}
        Ramp shape.
    repeats : int, optional
        Number of sweeps, each with another data order and dropout seed. Default: adaptive, 2 sweeps and a
        third only when the first two disagree by more than 2x.
    val_batches : int
        0: the curve is the training loss. k > 0: the loss on k fixed validation batches after each step.
    batch_size : int, optional
        Global batch (default ``train.batch_size``).
    seed : int, optional
        Base seed of data order and dropout (default the recipe's seed).

    Returns
    -------
    LRFinderResult

    Raises
    ------
    InvalidArgument
        For a bad range, step count, repeat count or batch size, or ``val_batches`` without a validation split.

    Examples
    --------
    >>> from dlcheck.recipe import parse_recipe
    >>> from dlcheck.engine.parts import prepare_parts
    >>> loaded = parse_recipe("data: {source: blobs, samples: 300, classes: 3}\\nmodel: {layers: [{type: linear, out: 3}]}\\n"
    ...                       "train: {batch_size: 32}\\ndevice: cpu\\n")
    >>> result = find_lr(prepare_parts(loaded), steps=60, repeats=1)
    >>> result.checksum.restored, result.batch_size, result.shape.name in ("canonical", "never_diverges")
    (True, 32, True)
    """
    started = time.perf_counter()
    settings = SweepSettings(start_lr=start_lr, end_lr=end_lr, steps=steps, mode=mode, val_batches=val_batches)
    if repeats is not None and repeats < 1:
        raise InvalidArgument(
            "repeats", f"repeats={repeats}: must be at least 1 (leave it out for the adaptive 2-3 sweeps)."
        )
    recipe = parts.recipe
    micro_batch_size = parts.micro_batch_size(batch_size)
    model = model if model is not None else parts.model
    optimizer = optimizer if optimizer is not None else parts.optimizer(model)
    policy = parts.step_policy()
    loss_function = parts.loss_function(regularized=True)
    base_seed = recipe.seed if seed is None else seed
    probe_batches: list[Any] = []
    loss_source = "training loss"
    if val_batches:
        probe_batches, split = parts.held_out(
            micro_batch_size=micro_batch_size, max_samples=thresholds.EVALUATION_MAX_SAMPLES, max_batches=val_batches
        )
        if split != "validation":
            raise InvalidArgument(
                "val_batches",
                f"val_batches={val_batches}: needs a validation split, but the recipe has data.val_fraction = 0; "
                "set one, e.g. data.val_fraction=0.2, or leave val_batches at 0.",
            )
        samples = sum(int(batch[0].shape[0]) for batch in probe_batches)
        loss_source = f"held-out loss on {len(probe_batches)} fixed validation batches ({samples} samples)"
    kind = suggestion_kind(recipe)

    def probe() -> torch.Tensor:
        totals = evaluate(model, loss_function, probe_batches, policy.precision)
        return totals[0] / totals[2]

    sweeps, checksum = run_sweeps(
        lambda: parts.optimizer_step(model, optimizer, policy=policy),
        lambda repeat: parts.train_batches(batch_size=batch_size, seed=base_seed + repeat),
        settings,
        repeats=repeats,
        kind=kind,
        seed=base_seed,
        probe=probe if probe_batches else None,
    )
    combined = combine_sweeps(sweeps, kind)
    notes = []
    if not checksum.restored:  # never seen; reported rather than hidden if it ever happens
        notes.append("The model or optimiser state differs after the restore: report this as a dlcheck bug.")
    return LRFinderResult(
        suggested_lr=combined.suggested_lr,
        suggestion_kind=kind,
        suggestions=combined.suggestions,
        schedule=recipe.schedule.name + ("+warmup" if recipe.schedule.warmup is not None else ""),
        band=combined.band,
        confidence=combined.confidence,
        reasons=combined.reasons,
        rules=combined.rules,
        shape=combined.shape,
        sweeps=sweeps,
        settings=settings,
        batch_size=micro_batch_size * policy.accumulation,
        accumulation=policy.accumulation,
        device=str(parts.device),
        precision=recipe.train.precision,
        loss_source=loss_source,
        repeat_spread=combined.repeat_spread,
        checksum=checksum,
        recipe_lr=recipe_learning_rate(recipe),
        seconds=time.perf_counter() - started,
        notes=notes,
    )
