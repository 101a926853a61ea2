"""`dlcheck keypoints`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dlcheck.cli._app import app
from dlcheck.cli._options import check_writable
from dlcheck.errors import InputError
from dlcheck.report.console import stdout_console

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
    out: Annotated[
        Path | None,
        typer.Option(
            help="Overlay PNG; for several images OUT-IMAGE.png each, never overwriting an input or each other."
        ),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write keypoints and metrics as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write one row per keypoint as CSV.")] = None,
    max_pixels: Annotated[
        int | None,
        typer.Option(
            "--max-pixels",
            min=1,
            help="Refuse image files with more pixels, read from the header before decoding "
            "[default: 100000000, or DLCHECK_MAX_IMAGE_PIXELS].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Harris corners, selected by exact ANMS (or strongest / min-distance), with uniformity metrics.

    Example: dlcheck keypoints astronaut --compare --out compare.png
    """
    if method not in _METHODS:
        raise InputError(f"--method {method!r}: expected one of {', '.join(_METHODS)}.")
    if harris_method not in ("k", "eps"):
        raise InputError(f"--harris-method {harris_method!r}: expected k or eps.")
    for path, option in ((out, "--out"), (json_path, "--json"), (csv_path, "--csv")):
        check_writable(path, option)
    # Imported here, not at the top: numpy and scikit-image, which `dlcheck --help` must not pay for.
    from dlcheck.keypoints import analyse_image, load_image
    from dlcheck.report.keypoints import (
        keypoints_csv,
        keypoints_json,
        keypoints_table,
        overlay_image,
        overlay_paths,
        save_png,
    )

    methods = ["strongest", "min_distance", "anms"] if compare else [_METHODS[method]]
    targets = overlay_paths(out, images) if out is not None else []  # refused before any work
    loaded = [load_image(spec, max_pixels=max_pixels) for spec in images]  # every bad image is reported first
    console = stdout_console()
    analyses = []
    for index, (image, name) in enumerate(loaded):
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
        if targets:
            save_png(overlay_image(analysis), targets[index])
            console.print(f"overlay {targets[index]}", style="dim")
    if json_path is not None:
        json_path.write_text(json.dumps(keypoints_json(analyses), indent=2) + "\n", encoding="utf-8")
    if csv_path is not None:
        csv_path.write_text(keypoints_csv(analyses), encoding="utf-8")
