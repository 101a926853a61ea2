"""Rendering at a fixed width, compared as text (the Rich habit): what users read at 80 columns."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.report.console import error_report
from dlcheck.report.training import summary_table
from dlcheck.train.trainer import TrainResult


def _render(renderable_or_function, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    if callable(renderable_or_function):
        renderable_or_function(console)
    else:
        console.print(renderable_or_function)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def test_recipe_error_lists_every_problem_with_line_key_and_fix() -> None:
    error = RecipeError(
        [
            RecipeIssue(
                "optimizer.momentun",
                "unknown key `momentun`",
                line=9,
                source="bad.yaml",
                hint="did you mean `momentum`?",
            ),
            RecipeIssue(
                "model.layers.1.type",
                "unknown layer type `relux`",
                line=7,
                source="bad.yaml",
                found='"relux"',
                hint="did you mean `relu`?",
            ),
        ],
        source="bad.yaml",
    )
    assert _render(error_report(error)) == (
        "error: bad.yaml has 2 problems\n"
        'line 7  model.layers.1.type  unknown layer type `relux` (found "relux")\n'
        "                             did you mean `relu`?\n"
        "line 9  optimizer.momentun   unknown key `momentun`\n"
        "                             did you mean `momentum`?\n"
        "(run with --debug for the traceback)"
    )


def test_run_summary_at_80_columns() -> None:
    metrics = {"train/loss": 0.0624, "train/accuracy": 0.9861, "val/loss": 0.0762, "val/accuracy": 0.9889}
    best = {"train/loss": 0.1044, "train/accuracy": 0.9722, "val/loss": 0.0972, "val/accuracy": 0.9916}
    result = TrainResult(
        name="digits-mlp",
        status="early_stopped",
        message="val/accuracy did not improve for 8 epochs; best 0.9916 at epoch 11",
        run_directory=Path("runs/digits-mlp-20261123-104724"),
        epochs_completed=19,
        global_step=855,
        seconds=0.94,
        final_metrics={**metrics, "lr": 3e-4},
        best_epoch=11,
        best_metrics={"epoch": 11, **best},
        restored_best=True,
    )
    assert _render(summary_table(result)) == (
        "status   early_stopped: val/accuracy did not improve for 8 epochs; best 0.9916\n"
        "         at epoch 11\n"
        "trained  19 epochs, 855 steps in 0.9 s\n"
        "last     epoch 19: train/loss 0.0624  train/accuracy 0.9861  val/loss 0.0762\n"
        "         val/accuracy 0.9889\n"
        "best     epoch 11 (weights restored): train/loss 0.1044  train/accuracy 0.9722\n"
        "         val/loss 0.0972  val/accuracy 0.9916\n"
        "run      runs/digits-mlp-20261123-104724"
    )
