"""`dlcheck babysit`, `dlcheck init-loss` and `dlcheck overfit`: the babysitting checklist on a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcheck.checks import thresholds  # torch-free: the defaults --help shows
from dlcheck.cli._app import app
from dlcheck.cli._options import (
    JsonOption,
    JunitOption,
    RecipeArgument,
    SeedOption,
    SetOption,
    StrictOption,
    check_writable,
    emit,
    naming_the_recipe,
)
from dlcheck.errors import InputError

SamplesOption = Annotated[
    int,
    typer.Option("--samples-per-class", min=1, help="Samples per class in the tiny batch of the overfit check."),
]
StepsOption = Annotated[int, typer.Option("--steps", min=1, help="Step budget of the overfit check.")]
LossThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--loss-threshold",
        help="Loss at which the tiny batch counts as fitted (default: 2% of its initial loss).",
        show_default=False,
    ),
]
QuickOption = Annotated[bool, typer.Option("--quick", help="Skip the LR range test (the slowest step).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display; only the report.")]
Fp32Option = Annotated[
    bool,
    typer.Option(
        "--fp32",
        help="Run the checks that train in full precision, not in the recipe's train.precision (the default: "
        "they judge the step training takes).",
    ),
]


def _run(
    command: str,
    recipe: Path,
    names: tuple[str, ...] | None,
    *,
    set_: list[str] | None,
    json_path: Path | None,
    junit_path: Path | None,
    strict: bool,
    seed: int | None,
    quiet: bool,
    quick: bool = False,
    samples_per_class: int | None = None,
    steps: int | None = None,
    loss_threshold: float | None = None,
    fp32: bool = False,
) -> None:
    # Imported here, not at the top: torch and pydantic, which `dlcheck --help` must not pay for.
    from dlcheck.checklist import babysit
    from dlcheck.recipe import load_recipe
    from dlcheck.report.checks import CheckProgress, checklist_report

    if loss_threshold is not None and not loss_threshold > 0:
        raise InputError(f"--loss-threshold {loss_threshold}: must be a positive loss, e.g. --loss-threshold 0.05.")
    check_writable(json_path, "--json")
    check_writable(junit_path, "--junit")
    loaded = load_recipe(recipe, set_ or ())
    subset = {"checks": names} if names is not None else {}  # default: the whole checklist
    with CheckProgress(quiet=quiet) as progress, naming_the_recipe(loaded.path):
        report = babysit(
            loaded,
            **subset,
            quick=quick,
            seed=seed,
            overfit_samples_per_class=samples_per_class or thresholds.OVERFIT_SAMPLES_PER_CLASS,
            overfit_steps=steps or thresholds.OVERFIT_STEPS,
            loss_threshold=loss_threshold,
            precision="fp32" if fp32 else "recipe",
            on_check_start=progress.on_check_start,
            on_check_end=progress.on_check_end,
        )
    renderable = checklist_report(report, command, strict=strict)
    emit(command, report, renderable, json_path=json_path, junit_path=junit_path, strict=strict)


@app.command()
def babysit(
    recipe: RecipeArgument,
    samples_per_class: SamplesOption = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    steps: StepsOption = thresholds.OVERFIT_STEPS,
    loss_threshold: LossThresholdOption = None,
    quick: QuickOption = False,
    strict: StrictOption = False,
    json_path: JsonOption = None,
    junit_path: JunitOption = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
    fp32: Fp32Option = False,
) -> None:
    """Run the whole babysitting checklist on a recipe, with one verdict.

    In order: data sanity, loss at init, gradient flow, batch independence, activation statistics, overfit a tiny batch (regularisation off, then on), LR range test. Exit 0 when nothing failed (1 with --strict on a warning), 1 when a check failed, 2 when the recipe cannot be used.

    Example: dlcheck babysit recipes/digits_mlp.yaml --quick --json report.json
    """
    _run(
        "babysit",
        recipe,
        None,
        set_=set_,
        json_path=json_path,
        junit_path=junit_path,
        strict=strict,
        seed=seed,
        quiet=quiet,
        quick=quick,
        samples_per_class=samples_per_class,
        steps=steps,
        loss_threshold=loss_threshold,
        fp32=fp32,
    )


@app.command("init-loss")
def init_loss(
    recipe: RecipeArgument,
    strict: StrictOption = False,
    json_path: JsonOption = None,
    junit_path: JunitOption = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> None:
    """Compare the loss at initialisation with chance (log C for C classes, the target variance for MSE, ...).

    Runs the data checks first: a NaN input or a label outside the outputs would make the loss meaningless.

    Example: dlcheck init-loss recipes/digits_cnn.yaml
    """
    _run(
        "init-loss",
        recipe,
        ("data_sanity", "initial_loss"),
        set_=set_,
        json_path=json_path,
        junit_path=junit_path,
        strict=strict,
        seed=seed,
        quiet=quiet,
    )


@app.command()
def overfit(
    recipe: RecipeArgument,
    samples_per_class: SamplesOption = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    steps: StepsOption = thresholds.OVERFIT_STEPS,
    loss_threshold: LossThresholdOption = None,
    strict: StrictOption = False,
    json_path: JsonOption = None,
    junit_path: JunitOption = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
    fp32: Fp32Option = False,
) -> None:
    """Overfit a tiny batch with regularisation off (it must reach a near-zero loss), then on (the loss must end higher).

    On failure the report says how the loss failed (flat, rising, exploding, oscillating, stuck above a floor, too slow) and what that usually means.

    Example: dlcheck overfit recipes/spirals_mlp.yaml --samples-per-class 2 --steps 200
    """
    _run(
        "overfit",
        recipe,
        ("overfit_batch", "regularization_effect"),
        set_=set_,
        json_path=json_path,
        junit_path=junit_path,
        strict=strict,
        seed=seed,
        quiet=quiet,
        samples_per_class=samples_per_class,
        steps=steps,
        loss_threshold=loss_threshold,
        fp32=fp32,
    )
