"""The ``dlcheck`` command line: parse options, call the library, hand the result to a renderer.

Heavy imports (torch, scikit-image, tensorboard) happen inside the commands, so ``dlcheck --help``
answers without loading them. Every :class:`~dlcheck.errors.DlcheckError` becomes a short message and
exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = ["app", "main"]

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from dlcheck import __version__
from dlcheck.errors import InputError

app = typer.Typer(
    name="dlcheck",
    help="A babysitter for deep-learning training runs: sanity checks, diagnosis and training from YAML recipes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
recipe_app = typer.Typer(help="Validate, show and document recipes.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")

_state: dict[str, Any] = {"debug": False}

RecipeArgument = Annotated[Path, typer.Argument(help="Recipe file (YAML).", metavar="RECIPE", show_default=False)]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a recipe value, e.g. --set optimizer.lr=0.01 (repeatable; validated like the file).",
        metavar="KEY=VALUE",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


# ----------------------------------------------------------------------------------------- recipes
@recipe_app.command("check")
def recipe_check(
    recipe: RecipeArgument,
    set_: SetOption = None,
    build: Annotated[
        bool, typer.Option(help="Also load the data and build the model, catching shape mistakes.")
    ] = True,
) -> None:
    """Validate a recipe: schema, cross-field rules, factories, then data and model shapes. Exit 2 on problems.

    Example: dlcheck recipe check recipes/digits_mlp.yaml
    """
    from dlcheck.recipe import load_recipe
    from dlcheck.report.console import stdout_console

    loaded = load_recipe(recipe, set_ or ())
    console = stdout_console()
    if not build:
        console.print(f"[green]ok[/green] {loaded.path}: recipe {loaded.recipe.name!r} is valid")
        return
    from dlcheck.train.build import build_data_and_model

    with _naming_the_recipe(loaded.path):
        built = build_data_and_model(loaded)
    for warning in built.warnings:
        console.print(f"[bold yellow]warning:[/bold yellow] {warning}", highlight=False)
    data = built.data.describe()
    console.print(
        f"[green]ok[/green] {loaded.path}: recipe {loaded.recipe.name!r} is valid; "
        f"model {built.summary.total_parameters:,} parameters, output {tuple(built.summary.output_shape)}; "
        f"data {data.get('train_size')} train / {data.get('val_size') or 0} val, "
        f"inputs {tuple(data.get('input_shape') or ())}"
    )


@recipe_app.command("show")
def recipe_show(recipe: RecipeArgument, set_: SetOption = None) -> None:
    """Print a recipe resolved: every default filled in, overrides applied.

    Example: dlcheck recipe show recipes/digits_mlp.yaml --set optimizer.lr=0.01
    """
    from dlcheck.recipe import load_recipe, recipe_to_yaml

    loaded = load_recipe(recipe, set_ or ())
    typer.echo(recipe_to_yaml(loaded.recipe), nl=False)


@recipe_app.command("schema")
def recipe_schema() -> None:
    """Print the recipe JSON schema (for editors and documentation)."""
    import json

    from dlcheck.recipe import recipe_json_schema

    typer.echo(json.dumps(recipe_json_schema(), indent=2))


# ---------------------------------------------------------------------------------------- training
@app.command()
def train(
    recipe: RecipeArgument,
    set_: SetOption = None,
    resume: Annotated[
        str | None,
        typer.Option(help="Continue a run: `auto` (latest run of this recipe), a run directory or a checkpoint."),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Write the run here instead of logging.directory/NAME-TIME.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON summary of the run here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars; only the final summary.")] = False,
) -> None:
    """Train a recipe on CPU or GPU; under torchrun on many GPUs.

    Writes a run directory with the resolved recipe, TensorBoard scalars, a JSONL metrics log and checkpoints. Ctrl-C stops at the next step with a checkpoint; --resume auto continues exactly.

    Example: dlcheck train recipes/digits_mlp.yaml --set train.epochs=5

    Many GPUs: torchrun --standalone --nproc_per_node=4 -m dlcheck train recipe.yaml
    """  # typer keeps a docstring's line breaks in --help: one paragraph per line
    from dlcheck.recipe import load_recipe
    from dlcheck.report.training import TrainingDisplay, write_train_json

    loaded = load_recipe(recipe, set_ or ())
    _check_writable(json_path, "--json")
    from dlcheck.train import Trainer

    display = TrainingDisplay(quiet=quiet)
    with _naming_the_recipe(loaded.path):
        result = Trainer(loaded, events=display, resume=resume, run_directory=run_dir).run()
    if json_path is not None and result.is_main:
        write_train_json(result, json_path)
    if result.status == "interrupted":
        raise typer.Exit(130)
    if not result.ok:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------- keypoints
_METHODS = {"anms": "anms", "strongest": "strongest", "min-distance": "min_distance"}


@app.command()
def keypoints(
    images: Annotated[
        list[str],
        typer.Argument(
            help="Image files, or scikit-image's bundled images by name (camera, astronaut, checkerboard, ...).",
            metavar="IMAGE...",
            show_default=False,
        ),
    ],
    method: Annotated[str, typer.Option(help="anms | strongest | min-distance.")] = "anms",
    num_peaks: Annotated[int, typer.Option("--num-peaks", "-n", min=1, help="Keypoints per image and method.")] = 250,
    min_distance: Annotated[int, typer.Option(min=1, help="Spacing in pixels for min-distance.")] = 5,
    c_robust: Annotated[float, typer.Option(help="ANMS robustness: j suppresses i when f_i < c * f_j.")] = 0.9,
    sigma: Annotated[float, typer.Option(min=0.1, help="Gaussian sigma of the Harris structure tensor.")] = 1.0,
    threshold_rel: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Candidates must exceed this fraction of the maximum response.")
    ] = 0.001,
    harris_method: Annotated[
        str, typer.Option("--harris-method", help="k: det - k tr^2 (Harris); eps: 2 det / (tr + eps) (Noble).")
    ] = "k",
    k: Annotated[float, typer.Option("--k", help="Harris sensitivity for --harris-method k.")] = 0.05,
    subpixel: Annotated[bool, typer.Option(help="Refine positions to sub-pixel (skimage corner_subpix).")] = False,
    compare: Annotated[
        bool, typer.Option(help="Run strongest, min-distance and ANMS side by side (overlay and table).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Overlay PNG (NAME-IMAGE.png for several images).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write keypoints and metrics as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write one row per keypoint as CSV.")] = None,
) -> None:
    """Harris corners, selected by exact ANMS (or strongest / min-distance), with uniformity metrics.

    Example: dlcheck keypoints astronaut --compare --out compare.png
    """
    if method not in _METHODS:
        raise InputError(f"--method {method!r}: expected one of {', '.join(_METHODS)}.")
    if harris_method not in ("k", "eps"):
        raise InputError(f"--harris-method {harris_method!r}: expected k or eps.")
    for path, option in ((out, "--out"), (json_path, "--json"), (csv_path, "--csv")):
        _check_writable(path, option)
    from dlcheck.keypoints import analyse_image, load_image
    from dlcheck.report.console import stdout_console
    from dlcheck.report.keypoints import keypoints_csv, keypoints_json, keypoints_table, overlay_image, save_png

    methods = ["strongest", "min_distance", "anms"] if compare else [_METHODS[method]]
    loaded = [load_image(spec) for spec in images]  # every bad image is reported before any work
    console = stdout_console()
    analyses = []
    for image, name in loaded:
        analysis = analyse_image(
            image,
            name,
            methods,
            num_peaks=num_peaks,
            min_distance=min_distance,
            c_robust=c_robust,
            sigma=sigma,
            threshold_rel=threshold_rel,
            harris_method=harris_method,
            k=k,
            subpixel=subpixel,
        )
        analyses.append(analysis)
        console.print(keypoints_table(analysis))
        if out is not None:
            target = out if len(loaded) == 1 else out.with_name(f"{out.stem}-{Path(name).stem}{out.suffix or '.png'}")
            save_png(overlay_image(analysis), target)
            console.print(f"overlay {target}", style="dim")
    if json_path is not None:
        import json

        json_path.write_text(json.dumps(keypoints_json(analyses), indent=2) + "\n", encoding="utf-8")
    if csv_path is not None:
        csv_path.write_text(keypoints_csv(analyses), encoding="utf-8")


def _check_writable(path: Path | None, option: str) -> None:
    """Refuse an output path now rather than after a long run."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name, e.g. {path / 'report.json'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: the folder {parent} does not exist; create it or choose another path.")
    import os

    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: the folder {parent} is not writable; choose another path.")


@contextlib.contextmanager
def _naming_the_recipe(path: Path) -> Iterator[None]:
    """Prefix data and model errors with the recipe they come from (their keys are already named)."""
    from dlcheck.errors import DataError, ModelError

    try:
        yield
    except (DataError, ModelError) as error:
        if not str(error).startswith(str(path)):
            error.args = (f"{path}: {error}", *error.args[1:])
        raise


def _debug_first(arguments: list[str]) -> list[str]:
    """Accept ``--debug`` anywhere on the line, as users type it after the subcommand."""
    if "--debug" not in arguments:
        return arguments
    index = arguments.index("--debug")
    if index > 0 and arguments[index - 1] == "--set":  # a --set value, not the flag
        return arguments
    return ["--debug", *arguments[:index], *arguments[index + 1 :]]


def main() -> None:
    """Console-script entry point: run the app and map errors to exit codes (DESIGN 2.1)."""
    from dlcheck.errors import DlcheckError

    arguments = _debug_first(sys.argv[1:])
    _state["debug"] = "--debug" in arguments[:1]
    try:
        code = app(args=arguments, prog_name="dlcheck", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except DlcheckError as error:
        if _state["debug"]:
            raise
        from dlcheck.report.console import render_error

        render_error(error)
        sys.exit(error.exit_code)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except OSError as error:  # a path the user gave cannot be read or written
        if _state["debug"] or error.filename is None:
            raise
        from dlcheck.report.console import render_error

        render_error(InputError(f"{error.filename}: {error.strerror or error}. Check the path and its permissions."))
        sys.exit(2)
    except Exception as error:
        # Usage errors come from click, which typer may vendor (typer._click): match by behaviour, not class.
        if type(error).__name__ == "Abort":  # click's word for Ctrl-C during parsing or start-up
            sys.stderr.write("interrupted\n")
            sys.exit(130)
        show = getattr(error, "show", None)
        if callable(show) and isinstance(getattr(error, "exit_code", None), int):
            show()
            sys.exit(error.exit_code)  # type: ignore[attr-defined]
        raise
