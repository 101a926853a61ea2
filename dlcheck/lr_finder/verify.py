"""``--verify``: short bracket runs at suggestion / 3, suggestion and suggestion x 3, compared on held-out loss.

A range test reads a curve drawn while the LR keeps rising, a few steps per LR; the best LR for real training
can differ (the Hugging Face maintainers' reason to ship no finder). Smith's third way to set the LR is to train
briefly at a few candidates and compare ("Cyclical Learning Rates for Training Neural Networks", 2017). This does
that, from the same starting state, with the same batches and dropout masks for every candidate (so the
comparison is not blurred by sampling noise), and reports which reached the lowest held-out loss.

Each candidate is ``optimizer.lr`` of the recipe in miniature: the recipe's schedule (warm-up, cosine,
one-cycle...) is compressed into the run's steps, epochs keeping their proportions (``reduce_on_plateau``,
which needs validation metrics, is held constant).
"""

from __future__ import annotations

__all__ = ["BracketRun", "VerifyResult", "verify_suggestion"]

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dlcheck.engine.isolation import ChecksumReport, StateGuard
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.schedules import LearningRateController
from dlcheck.engine.step import evaluate
from dlcheck.engine.tape import LossTape
from dlcheck.errors import InvalidArgument
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.finder import seed_dropout
from dlcheck.recipe import Recipe

_CHECK_EVERY = 25  # read the losses back every 25 steps, to stop a run that has already diverged


@dataclass(frozen=True)
class BracketRun:
    """One candidate LR trained for the bracket's steps.

    Attributes
    ----------
    factor : float
        Multiple of the suggestion (1/3, 1 or 3 by default).
    lr : float
    held_out_loss : float
        Loss on the held-out batches after the run; NaN when the run diverged.
    train_loss : float
        Mean training loss over the last tenth of the run.
    diverged : bool
    """

    factor: float
    lr: float
    held_out_loss: float
    train_loss: float
    diverged: bool


@dataclass(frozen=True)
class VerifyResult:
    """The bracket's outcome: the runs, the best one, and a sentence saying what follows."""

    runs: list[BracketRun]
    steps: int
    split: str
    best: BracketRun | None
    message: str
    checksum: ChecksumReport
    seconds: float


def _miniature_schedule(
    recipe: Recipe, optimizer: torch.optim.Optimizer, lr: float, steps: int
) -> Callable[[int], None]:
    """Drive ``optimizer``'s LR through the recipe's schedule squeezed into ``steps`` steps; returns the step hook."""
    schedule = recipe.schedule
    if schedule.name == "reduce_on_plateau":  # needs validation metrics every epoch: hold the LR instead
        schedule = schedule.model_copy(update={"name": "constant"})
    if schedule.max_lr is not None:  # a one-cycle peak set apart from optimizer.lr: the candidate replaces it
        schedule = schedule.model_copy(update={"max_lr": lr})
    epochs = recipe.train.epochs
    per_epoch = max(1, steps // epochs)
    controller = LearningRateController(
        optimizer, schedule, base_lr=lr, steps_per_epoch=per_epoch, total_epochs=max(1, math.ceil(steps / per_epoch))
    )

    def advance(step: int) -> None:
        controller.on_step_end(step)
        if step % per_epoch == 0:
            controller.on_epoch_end(step // per_epoch - 1, {})

    return advance


def _message(runs: list[BracketRun], best: BracketRun | None, steps: int, split: str) -> str:
    if best is None:
        return f"Every candidate diverged within {steps} steps: the suggestion is too high; run lr-find again."
    others = ", ".join(
        f"{run.lr:.1e}: {'diverged' if run.diverged else f'{run.held_out_loss:.4g}'}" for run in runs if run is not best
    )
    head = f"After {steps} steps, lr {best.lr:.1e} reached {split} loss {best.held_out_loss:.4g} ({others})."
    if best.factor == 1.0:
        return head + " The suggestion holds up: no other candidate did more than 2 % better."
    if best.factor > 1.0:
        return head + f" The suggestion is conservative for this run: consider {best.lr:.1e}."
    return head + f" The suggestion is too aggressive for this run: use {best.lr:.1e}."


def verify_suggestion(
    parts: RecipeParts,
    suggested_lr: float,
    *,
    model: nn.Module | None = None,
    steps: int = thresholds.VERIFY_STEPS,
    factor: float = thresholds.VERIFY_FACTOR,
    batch_size: int | None = None,
    seed: int | None = None,
) -> VerifyResult:
    """Train briefly at ``suggested_lr / factor``, ``suggested_lr`` and ``suggested_lr * factor`` and compare.

    Each run starts from the same state of ``model`` (default ``parts.model``, left untouched afterwards) with a
    fresh recipe optimiser whose ``lr`` is the candidate, the recipe's schedule compressed into the run, its
    batch size, loss and regularisation, and the same batches; it ends with the loss on the validation split (up
    to 4096 samples; the training split when the recipe has none, which the result names).

    Parameters
    ----------
    parts : RecipeParts
    suggested_lr : float
    model : torch.nn.Module, optional
    steps : int
        Optimiser steps per run (default 200).
    factor : float
        Bracket ratio (default 3).
    batch_size : int, optional
        Global batch (default ``train.batch_size``).
    seed : int, optional
        Data order and dropout seed (default the recipe's).

    Returns
    -------
    VerifyResult
    """
    if not (math.isfinite(suggested_lr) and suggested_lr > 0):
        raise InvalidArgument(
            "suggested_lr", f"suggested_lr={suggested_lr}: the LR to check must be a positive number."
        )
    if steps < 1:
        raise InvalidArgument("verify_steps", f"verify_steps={steps}: must be at least 1 (e.g. 200).")
    started = time.perf_counter()
    recipe = parts.recipe
    model = model if model is not None else parts.model
    policy = parts.step_policy()
    loss_function = parts.loss_function(regularized=True)
    held_out, split = parts.held_out(
        micro_batch_size=parts.micro_batch_size(batch_size), max_samples=thresholds.EVALUATION_MAX_SAMPLES
    )
    base_seed = recipe.seed if seed is None else seed
    runs: list[BracketRun] = []
    with StateGuard(model, parts.optimizer(model)) as guard:
        for index, multiple in enumerate((1.0 / factor, 1.0, factor)):
            if index:
                guard.restore()
            seed_dropout(base_seed, 0)  # the same masks for every candidate
            lr = suggested_lr * multiple
            optimizer = parts.optimizer(model, lr=lr)
            advance = _miniature_schedule(recipe, optimizer, lr, steps)
            step = parts.optimizer_step(model, optimizer, policy=policy)
            batches = parts.train_batches(batch_size=batch_size, seed=base_seed)
            tape = LossTape(every=_CHECK_EVERY)
            diverged = False
            for number in range(steps):
                tape.append(step([next(batches) for _ in range(policy.accumulation)]).loss)
                advance(number + 1)
                if tape.due() and tape.read().first_non_finite is not None:
                    diverged = True
                    break
            tape.read()
            recorded = tape.values
            diverged = diverged or not all(math.isfinite(value) for value in recorded)
            tail = recorded[-max(1, len(recorded) // 10) :]
            held = math.nan
            if not diverged:
                totals = evaluate(model, loss_function, held_out, policy.precision)
                held = float(totals[0] / totals[2])
            diverged = diverged or not math.isfinite(held)
            runs.append(BracketRun(multiple, lr, held, math.fsum(tail) / len(tail), diverged))
    assert guard.report is not None
    finished = [run for run in runs if not run.diverged]
    best = min(finished, key=lambda run: run.held_out_loss) if finished else None
    suggestion = runs[1]
    if best is not None and not suggestion.diverged:
        tolerance = thresholds.VERIFY_TIE_FRACTION * abs(suggestion.held_out_loss)
        if suggestion.held_out_loss - best.held_out_loss <= tolerance:
            best = suggestion  # a near tie: no reason to move away from the suggestion
    return VerifyResult(
        runs, steps, split, best, _message(runs, best, steps, split), guard.report, time.perf_counter() - started
    )
