"""`dlcheck diagnose`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcheck.cli._app import app
from dlcheck.cli._options import JsonOption, JunitOption, StrictOption, check_writable, exit_for_status
from dlcheck.errors import InputError


@app.command()
def diagnose(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Log files or folders: TensorBoard event files or run folders (Keras, Lightning, Hugging Face), "
            "CSV (Lightning metrics.csv, Keras CSVLogger), JSONL, trainer_state.json, dlcheck runs.",
            metavar="PATH...",
            show_default=False,
        ),
    ],
    train: Annotated[
        list[str] | None,
        typer.Option(
            "--train",
            help="Series to use as the training curve: NAME, or loss=NAME / accuracy=NAME (repeatable).",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    val: Annotated[
        list[str] | None,
        typer.Option(
            "--val",
            help="Series to use as the validation curve: NAME, or loss=NAME / accuracy=NAME (repeatable).",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    num_classes: Annotated[
        int | None,
        typer.Option(
            "--num-classes", help="Classes of the task: chance is ln C loss, 1/C accuracy.", show_default=False
        ),
    ] = None,
    val_size: Annotated[
        int | None,
        typer.Option("--val-size", help="Validation samples, for error bars on accuracy.", show_default=False),
    ] = None,
    steps_per_epoch: Annotated[
        float | None,
        typer.Option("--steps-per-epoch", help="Steps per epoch in the log's units (periodicity).", show_default=False),
    ] = None,
    patience: Annotated[int, typer.Option(help="Evaluations without improvement for the replayed early stop.")] = 5,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of the curves with the findings.", show_default=False)
    ] = None,
    json_path: JsonOption = None,
    junit_path: JunitOption = None,
    strict: StrictOption = False,
) -> None:
    """Read training logs of any tool and say what went wrong, where, and what to do.

    Finds spikes, divergence, NaN, plateaus, chance-level performance, no trend, slow convergence, oscillation, overfitting (with the step early stopping would keep), underfitting, train/validation gaps, loss/accuracy disagreement, epoch-periodic curves and suspicious success; the primary diagnosis comes first. Exit 1 when a finding fails (--strict: warns); exit 2 when nothing could be judged (status inconclusive).

    Example: dlcheck diagnose runs/ lightning_logs/version_0 --plot curves.png
    """
    if num_classes is not None and num_classes < 2:
        raise InputError(f"--num-classes {num_classes}: a classifier has at least 2 classes.")
    if val_size is not None and val_size < 1:
        raise InputError(f"--val-size {val_size}: give the number of validation samples (at least 1).")
    if steps_per_epoch is not None and steps_per_epoch <= 0:
        raise InputError(f"--steps-per-epoch {steps_per_epoch:g}: give a positive number of steps.")
    if patience < 1:
        raise InputError(f"--patience {patience}: give at least 1 evaluation.")
    for path, option in ((plot, "--plot"), (json_path, "--json"), (junit_path, "--junit")):
        check_writable(path, option)
    if plot is not None:
        from dlcheck.report.plotting import require_matplotlib

        require_matplotlib("--plot")  # refuse now rather than after reading the logs
    from dlcheck.curves.diagnosis import diagnose as run_diagnosis
    from dlcheck.report.console import stdout_console
    from dlcheck.report.curves import diagnosis_checks, diagnosis_json, render_diagnosis

    diagnosis = run_diagnosis(
        paths,
        train=train or (),
        val=val or (),
        num_classes=num_classes,
        val_size=val_size,
        steps_per_epoch=steps_per_epoch,
        patience=patience,
    )
    console = stdout_console()
    render_diagnosis(diagnosis, console)
    checks = diagnosis_checks(diagnosis)
    if plot is not None:
        from dlcheck.report.curves_plot import plot_diagnosis

        plot_diagnosis(diagnosis, plot)
        console.print(f"plot {plot}", style="dim")
    if json_path is not None:
        from dlcheck.report.json_report import json_report, write_json

        write_json(json_report("diagnose", checks, diagnosis_json(diagnosis), status=diagnosis.status), json_path)
    if junit_path is not None:
        from dlcheck.report.junit import junit_xml

        junit_path.write_text(junit_xml("diagnose", checks, strict=strict), encoding="utf-8")
    if diagnosis.status == "inconclusive":
        # Never a silent pass (issue 11): nothing judged is its own status, exit 2 like unusable input.
        typer.echo(
            f"dlcheck diagnose: nothing could be judged ({diagnosis.inconclusive_reason()}); give longer logs, or name "
            "the curves with --train NAME and --val NAME.",
            err=True,
        )
        raise typer.Exit(2)
    exit_for_status(diagnosis.status, strict=strict)
