"""``lr_find``: what ``dlcheck lr-find`` does, as one call: the range test, judged, then optionally checked by
short runs (``verify``), repeated at other batch sizes (``batch_sizes``) and written into the recipe (``write``).

The result, :class:`LRFindReport`, is a :class:`~dlcheck.verdict.Verdict` like the checklist's report: the command
line prints it, writes its JSON and JUnit and picks the exit code the same way for both.
"""

from __future__ import annotations

__all__ = ["LRFindReport", "lr_find"]

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcheck.engine.parts import RecipeParts, as_parts
from dlcheck.errors import InvalidArgument
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.batch_scaling import BatchScalingResult, batch_size_sweep
from dlcheck.lr_finder.check import result_to_check, training_steps
from dlcheck.lr_finder.finder import LRFinderResult, find_lr
from dlcheck.lr_finder.range_test import Mode
from dlcheck.lr_finder.verify import VerifyResult, verify_suggestion
from dlcheck.lr_finder.write import WriteOutcome, write_learning_rate
from dlcheck.recipe import LoadedRecipe
from dlcheck.verdict import CheckResult, OverallStatus, json_report, overall_status


@dataclass(frozen=True)
class LRFindReport:
    """What :func:`lr_find` found.

    Attributes
    ----------
    name : str
        The recipe's name.
    result : LRFinderResult
        The range test.
    check : CheckResult
        The range test judged (the ``lr_range`` check of ``babysit``).
    verify : VerifyResult, optional
        The bracket runs, when asked for and there was a suggestion to verify.
    scaling : BatchScalingResult, optional
        The range test at other batch sizes and the fitted scaling.
    written : WriteOutcome, optional
        The recipe file edited with the suggestion.
    notes : list of str
        What was asked for but could not be done (nothing to verify or write without a suggestion).
    """

    name: str
    result: LRFinderResult
    check: CheckResult
    verify: VerifyResult | None = None
    scaling: BatchScalingResult | None = None
    written: WriteOutcome | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def checks(self) -> list[CheckResult]:
        return [self.check]

    @property
    def status(self) -> OverallStatus:
        return overall_status(check.status for check in self.checks)

    def to_json(self, command: str = "lr-find") -> dict[str, Any]:
        """The JSON report: the envelope, then ``suggested_lr``, ``band``, ``confidence``, ``rules``,
        ``batch_size`` and the raw ``history`` (a contract), then the details."""
        return json_report(command, self.checks, self._fields())

    def _fields(self) -> dict[str, Any]:
        result, verify, scaling, written = self.result, self.verify, self.scaling, self.written
        history = result.history
        fields: dict[str, Any] = {
            "suggested_lr": result.suggested_lr,
            "suggestion_kind": result.suggestion_kind,
            "suggestions": dict(result.suggestions),
            "schedule": result.schedule,
            "band": list(result.band) if result.band else None,
            "confidence": result.confidence,
            "rules": dict(result.rules),
            "batch_size": result.batch_size,
            "history": {"lr": history.lr.tolist(), "loss": history.loss.tolist()},
            "shape": result.shape.name,
            "messages": result.messages,
            "recipe_lr": result.recipe_lr,
            "settings": {
                "start_lr": result.settings.start_lr,
                "end_lr": result.settings.end_lr,
                "steps": result.settings.steps,
                "mode": result.settings.mode,
                "val_batches": result.settings.val_batches,
                "gradient_accumulation": result.accumulation,
                "device": result.device,
                "precision": result.precision,
            },
            "sweeps": [
                {
                    "seed": sweep.history.seed,
                    "steps": len(sweep.history.lr),
                    "stop": sweep.history.stop,
                    "shape": sweep.shape.name,
                    "suggested_lr": sweep.suggestion,
                    "rules": dict(sweep.rules),
                }
                for sweep in result.sweeps
            ],
            "state_restored": result.checksum.restored,
            "checksum": {"before": result.checksum.before, "after": result.checksum.after},
        }
        if verify is not None:
            fields["verify"] = {
                "steps": verify.steps,
                "split": verify.split,
                "best_lr": verify.best.lr if verify.best else None,
                "runs": [
                    {"lr": run.lr, "factor": run.factor, "held_out_loss": run.held_out_loss, "diverged": run.diverged}
                    for run in verify.runs
                ],
                "message": verify.message,
            }
        if scaling is not None:
            fit = scaling.fit
            fields["batch_scaling"] = {
                "batch_sizes": scaling.batch_sizes,
                "suggested_lrs": scaling.suggestions,
                "exponent": fit.exponent if fit else None,
                "exponent_standard_error": fit.standard_error if fit else None,
                "nearest_rule": fit.nearest_rule if fit else None,
                "target_batch_size": scaling.target_batch_size,
                "target_lr": scaling.target_lr,
                "message": scaling.message,
            }
        if written is not None:
            fields["written"] = {"path": str(written.path), "lr": written.new_lr, "line": written.line}
        return fields


def lr_find(
    recipe: str | Path | LoadedRecipe | RecipeParts,
    /,
    *,
    overrides: Sequence[str] = (),
    start_lr: float = thresholds.START_LR,
    end_lr: float = thresholds.END_LR,
    steps: int = thresholds.STEPS,
    mode: Mode = "exp",
    repeats: int | None = None,
    val_batches: int = 0,
    seed: int | None = None,
    verify: bool = False,
    verify_steps: int = thresholds.VERIFY_STEPS,
    batch_sizes: Sequence[int] = (),
    target_batch_size: int | None = None,
    write: bool = False,
) -> LRFindReport:
    """Run the LR range test on a recipe, judge it, and optionally verify, rescale and write the suggestion.

    Parameters
    ----------
    recipe : str, pathlib.Path, LoadedRecipe or RecipeParts
        A recipe file, a recipe loaded with :func:`dlcheck.load_recipe`, or its parts already built. Positional
        only: the plain-PyTorch form, ``lr_find(model, optimizer, loss_function, batches)`` in the manner of
        torch-lr-finder, is meant to take the same place (its sweeps are :func:`~dlcheck.lr_finder.finder.run_sweeps`
        on an :class:`~dlcheck.engine.step.OptimizerStep` around the user's objects).
    overrides : sequence of str
        ``KEY=VALUE`` recipe overrides, as ``--set`` takes them (for a file only).
    start_lr, end_lr, steps, mode, repeats, val_batches, seed
        The sweeps, as for :func:`~dlcheck.lr_finder.find_lr`.
    verify : bool
        Train briefly at the suggestion, a third of it and three times it, and compare held-out losses
        (:func:`~dlcheck.lr_finder.verify_suggestion`, ``verify_steps`` steps each).
    batch_sizes : sequence of int
        Also run the test at these global batch sizes and fit how the LR scales with the batch
        (:func:`~dlcheck.lr_finder.batch_size_sweep`, recommending an LR for ``target_batch_size``).
    write : bool
        Write the suggestion into the recipe file's ``optimizer.lr``, keeping everything else as written.

    Returns
    -------
    LRFindReport
        ``report.status`` is ``fail`` when no LR of the range trains the model.

    Raises
    ------
    InvalidArgument
        For a bad range, step count, repeat count or batch size (the message names the parameter).
    DlcheckError
        When the recipe, its data or its model cannot be used.

    Examples
    --------
    >>> import dlcheck
    >>> report = dlcheck.lr_find("recipes/spirals_mlp.yaml", steps=60, repeats=1)  # doctest: +SKIP
    >>> report.status, report.result.suggested_lr  # doctest: +SKIP
    ('pass', 0.0034)
    """
    if verify_steps < 1:
        raise InvalidArgument("verify_steps", f"verify_steps={verify_steps}: must be at least 1, e.g. 200.")
    parts = as_parts(recipe, overrides=overrides)
    options: dict[str, Any] = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "steps": steps,
        "mode": mode,
        "repeats": repeats,
        "val_batches": val_batches,
        "seed": seed,
    }
    result = find_lr(parts, **options)
    suggested, notes = result.suggested_lr, []
    verified = scaling = written = None
    if verify:
        if suggested is not None:
            verified = verify_suggestion(parts, suggested, steps=verify_steps, seed=seed)
        else:
            notes.append("No suggestion, so nothing to verify.")
    if batch_sizes:
        scaling = batch_size_sweep(
            parts, batch_sizes, target_batch_size=target_batch_size, known={result.batch_size: result}, **options
        )
    if write:
        if suggested is not None:
            written = write_learning_rate(parts.loaded.path, suggested)
        else:
            notes.append(f"No suggestion, so {parts.loaded.path} was left as it was.")
    check = result_to_check(result, training_steps=training_steps(parts))
    return LRFindReport(parts.recipe.name, result, check, verified, scaling, written, notes)
