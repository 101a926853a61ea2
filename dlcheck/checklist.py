"""``babysit``: the whole checklist on a recipe, in order, with one verdict.

This module sits above :mod:`dlcheck.checks` and :mod:`dlcheck.lr_finder`: it runs the checks of the one and the
range test of the other, which therefore never import each other.

Order: data -> loss at init -> gradient flow -> batch independence -> activations -> overfit
a tiny batch (regularisation off, then on) -> LR range test. The data are checked before the model's output is
matched to them, so a label outside the outputs or a NaN input is reported by ``data_sanity`` (and the checks
that would only repeat it are skipped) instead of surfacing as an index error. A check that crashes becomes an
``error`` result and the others still run.

Examples
--------
>>> from dlcheck import babysit
>>> report = babysit("recipes/spirals_mlp.yaml", quick=True)  # doctest: +SKIP
>>> report.status, [check.name for check in report.checks]  # doctest: +SKIP
('pass', ['data_sanity', 'initial_loss', ..., 'lr_range'])
"""

from __future__ import annotations

__all__ = ["CHECK_NAMES", "ChecklistReport", "babysit", "prepare_checks", "run_checks"]

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcheck.checks import thresholds
from dlcheck.checks.activation_stats import activation_stats
from dlcheck.checks.batch_independence import batch_independence
from dlcheck.checks.data_sanity import data_sanity
from dlcheck.checks.gradient_flow import gradient_flow
from dlcheck.checks.initial_loss import initial_loss
from dlcheck.checks.overfit_batch import OverfitRun, run_overfit
from dlcheck.checks.regularization_effect import regularization_effect
from dlcheck.engine.build import check_built
from dlcheck.engine.parts import RecipeParts, as_parts, prepare_parts
from dlcheck.errors import DlcheckError, InvalidArgument
from dlcheck.lr_finder.check import check_lr_range
from dlcheck.recipe import LoadedRecipe
from dlcheck.verdict import CheckResult, OverallStatus, json_report, overall_status

CHECK_NAMES = (
    "data_sanity",
    "initial_loss",
    "gradient_flow",
    "batch_independence",
    "activation_stats",
    "overfit_batch",
    "regularization_effect",
    "lr_range",
)
StartCallback = Callable[[str, int, int], None]  # (check name, index from 0, total)
EndCallback = Callable[[CheckResult], None]


@dataclass
class ChecklistReport:
    """The results of :func:`babysit`, in checklist order.

    Attributes
    ----------
    checks : list of CheckResult
    recipe : str
        The recipe file (or the recipe's name when it was not read from a file).
    seed : int
    device : str
    seconds : float
        Wall time of the whole checklist, data loading included.
    warnings : list of str
        Valid but unlikely recipe settings (``dlcheck recipe check`` reports the same).
    """

    checks: list[CheckResult]
    recipe: str = ""
    seed: int = 0
    device: str = "cpu"
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> OverallStatus:
        return overall_status(check.status for check in self.checks)

    @property
    def ok(self) -> bool:
        """No check failed or errored (warnings allowed): what exit code 0 means."""
        return self.status != "fail"

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}; the report has {', '.join(c.name for c in self.checks)}")

    def __contains__(self, name: object) -> bool:
        return any(check.name == name for check in self.checks)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for check in self.checks:
            counted[check.status] = counted.get(check.status, 0) + 1
        return counted

    def to_json(self, command: str = "babysit") -> dict[str, Any]:
        """The JSON report (:func:`dlcheck.verdict.json_report`), with ``recipe``, ``seed``, ``device`` and
        ``seconds`` added; ``command`` is ``babysit``, ``init-loss`` or ``overfit``."""
        extra = {"recipe": self.recipe, "seed": self.seed, "device": self.device, "seconds": round(self.seconds, 3)}
        if self.warnings:
            extra["warnings"] = list(self.warnings)
        return json_report(command, self.checks, extra)


def _skip(name: str, reason: str) -> CheckResult:
    return CheckResult(name, "skip", reason)


def _error(name: str, error: BaseException, started: float) -> CheckResult:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    location = f" (at {Path(where.filename).name}:{where.lineno})" if where is not None else ""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return CheckResult(
        name,
        "error",
        f"The check could not run: {type(error).__name__}: {message}{location}.",
        advice=["Run the command with --debug for the traceback; if the model or data raised it, fix them first."],
        seconds=time.perf_counter() - started,
    )


def prepare_checks(loaded: LoadedRecipe, *, device: str | None = None) -> RecipeParts:
    """Build a recipe's parts without refusing bad data values, which ``data_sanity`` reports.

    Structural problems (missing files, a layer that cannot take its input shape, a factory that raises) still
    raise :class:`~dlcheck.errors.DlcheckError`; the match of the model's outputs to the labels is left to
    :func:`finish_preparation`, after ``data_sanity`` has looked at the labels.
    """
    return prepare_parts(loaded, device=device, check=False)


def finish_preparation(parts: RecipeParts) -> None:
    """The refusals ``dlcheck train`` makes (empty splits, one class, outputs that do not fit the loss)."""
    check_built(parts.data, parts.summary, parts.recipe, trainable=True)


def run_checks(
    parts: RecipeParts,
    names: Sequence[str] = CHECK_NAMES,
    *,
    seed: int | None = None,
    quick: bool = False,
    overfit_samples_per_class: int = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    overfit_steps: int = thresholds.OVERFIT_STEPS,
    loss_threshold: float | None = None,
    precision: str = "recipe",
    on_check_start: StartCallback | None = None,
    on_check_end: EndCallback | None = None,
) -> list[CheckResult]:
    """Run the named checks on ``parts`` in checklist order; see :func:`babysit`."""
    unknown = [name for name in names if name not in CHECK_NAMES]
    if unknown:
        raise InvalidArgument("checks", f"checks={unknown}: unknown; choose from {', '.join(CHECK_NAMES)}.")
    ordered = [name for name in CHECK_NAMES if name in names]
    seed = parts.recipe.seed if seed is None else seed
    overfit: list[OverfitRun] = []
    blocked: str | None = None  # why the model checks cannot run

    def run_overfit_check() -> CheckResult:
        run = run_overfit(
            parts,
            seed=seed,
            samples_per_class=overfit_samples_per_class,
            steps=overfit_steps,
            loss_threshold=loss_threshold,
            precision=precision,
        )
        overfit.append(run)
        return run.result

    def run_data_check() -> CheckResult:
        nonlocal blocked
        result = data_sanity(parts)
        if result.status == "fail":
            blocked = "skipped: data_sanity failed; fix the data first."
        else:
            finish_preparation(parts)  # raises a DlcheckError for what the data check cannot fix
        return result

    runners: dict[str, Callable[[], CheckResult]] = {
        "data_sanity": run_data_check,
        "initial_loss": lambda: initial_loss(parts, seed=seed),
        "gradient_flow": lambda: gradient_flow(parts, seed=seed, precision=precision),
        "batch_independence": lambda: batch_independence(parts, seed=seed),
        "activation_stats": lambda: activation_stats(parts, seed=seed),
        "overfit_batch": run_overfit_check,
        "regularization_effect": lambda: regularization_effect(
            parts, overfit[0] if overfit else None, seed=seed, precision=precision
        ),
        "lr_range": lambda: _lr_range(parts, seed=seed, quick=quick),
    }
    if "data_sanity" not in ordered:
        finish_preparation(parts)
    results: list[CheckResult] = []
    for index, name in enumerate(ordered):
        if on_check_start is not None:
            on_check_start(name, index, len(ordered))
        started = time.perf_counter()
        if blocked is not None and name != "data_sanity":
            result = _skip(name, blocked)
        else:
            try:
                result = runners[name]()
            except DlcheckError as error:
                if name == "data_sanity":
                    raise  # the recipe's data or model cannot be used at all: exit 2, like `recipe check`
                result = _error(name, error, started)
            except Exception as error:
                result = _error(name, error, started)
        if name == "overfit_batch" and result.status == "error":
            overfit.clear()
        results.append(result)
        if on_check_end is not None:
            on_check_end(result)
    return results


def _lr_range(parts: RecipeParts, *, seed: int, quick: bool) -> CheckResult:
    if quick:
        return _skip("lr_range", "skipped with quick=True (--quick): the LR range test is the slowest step.")
    return check_lr_range(parts, seed=seed)


def babysit(
    recipe_or_path: str | Path | LoadedRecipe | RecipeParts,
    *,
    quick: bool = False,
    seed: int | None = None,
    overfit_samples_per_class: int = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    overfit_steps: int = thresholds.OVERFIT_STEPS,
    loss_threshold: float | None = None,
    checks: Sequence[str] = CHECK_NAMES,
    precision: str = "recipe",
    on_check_start: StartCallback | None = None,
    on_check_end: EndCallback | None = None,
    overrides: Sequence[str] = (),
) -> ChecklistReport:
    """Run the babysitting checklist on a recipe and return every check's result.

    Parameters
    ----------
    recipe_or_path : str, pathlib.Path, LoadedRecipe or RecipeParts
        A recipe file, a recipe loaded with :func:`dlcheck.load_recipe`, or its parts already built.
    quick : bool
        Skip the LR range test (the slowest step).
    seed : int, optional
        Seed of the models and batches the checks build (default: the recipe's ``seed``).
    overfit_samples_per_class : int
        Samples per class of the tiny batch (``--samples-per-class``).
    overfit_steps : int
        Step budget of the tiny-batch runs (``--steps``).
    loss_threshold : float, optional
        Absolute loss at which the tiny batch counts as fitted (default: 2% of its initial loss).
    checks : sequence of str
        A subset of :data:`CHECK_NAMES` (``dlcheck init-loss`` runs two of them); always run in checklist order.
    precision : {"recipe", "fp32"}
        The checks that train (gradient flow, overfit, regularisation, the LR range test) take the recipe's own
        optimiser step, in its ``train.precision``: they judge the step training will take. ``"fp32"`` runs the
        first three in full precision instead (the range test always runs the recipe's step).
    on_check_start, on_check_end : callable, optional
        Called with ``(name, index, total)`` before and with the :class:`CheckResult` after each check (progress
        displays).
    overrides : sequence of str
        ``KEY=VALUE`` recipe overrides, as ``--set`` takes them (for a path only).

    Returns
    -------
    ChecklistReport
        ``report.status`` is ``pass``, ``warn`` or ``fail``; ``report["overfit_batch"]`` one result.

    Raises
    ------
    DlcheckError
        When the recipe, its data or its model cannot be used at all (the CLI's exit code 2).
    """
    started = time.perf_counter()
    parts = as_parts(recipe_or_path, overrides=overrides, check=False)  # bad data values are data_sanity's to report
    results = run_checks(
        parts,
        checks,
        seed=seed,
        quick=quick,
        overfit_samples_per_class=overfit_samples_per_class,
        overfit_steps=overfit_steps,
        loss_threshold=loss_threshold,
        precision=precision,
        on_check_start=on_check_start,
        on_check_end=on_check_end,
    )
    return ChecklistReport(
        checks=results,
        recipe=str(parts.loaded.path),
        seed=parts.recipe.seed if seed is None else seed,
        device=str(parts.device),
        seconds=time.perf_counter() - started,
        warnings=list(parts.warnings),
    )
