"""Rendering of keypoint analyses: a rich table of uniformity metrics, JSON, CSV and overlay PNGs."""

from __future__ import annotations

__all__ = ["keypoints_csv", "keypoints_json", "keypoints_table", "overlay_image", "overlay_paths", "save_png"]

import collections
import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from dlcheck._version import __version__
from dlcheck.errors import InputError
from dlcheck.keypoints.analysis import ImageAnalysis
from dlcheck.keypoints.images import draw_overlay

# One colour per method, readable on photographs and on black-and-white patterns.
METHOD_COLORS: dict[str, tuple[int, int, int]] = {
    "strongest": (255, 200, 0),
    "min_distance": (0, 190, 255),
    "anms": (255, 40, 40),
}
_COLUMNS = (
    ("clark_evans", "Clark-Evans"),
    ("nn_distance_cv", "NN CV"),
    ("min_spacing", "min gap"),
    ("grid_occupancy", "occupied"),
    ("grid_entropy", "entropy"),
    ("disk_coverage", "coverage"),
)


def _number(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def keypoints_table(analysis: ImageAnalysis) -> Table:
    """Methods as rows, uniformity metrics as columns, with uniform random points as the reference row."""
    height, width = analysis.shape
    candidates = analysis.selections[0].candidate_count if analysis.selections else 0
    table = Table(
        title=f"{analysis.name} ({width}x{height}), {candidates} Harris candidates",
        title_justify="left",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    table.add_column("method")
    table.add_column("points", justify="right")
    for _, label in _COLUMNS:
        table.add_column(label, justify="right")
    for selection in analysis.selections:
        metrics = analysis.metrics[selection.method]
        table.add_row(
            selection.method, str(len(selection)), *(_number(metrics.get(key, math.nan)) for key, _ in _COLUMNS)
        )
    reference = analysis.reference
    table.add_row(
        "random",
        _number(reference.get("count", math.nan)).split(".")[0],
        *(_number(reference.get(key, math.nan)) for key, _ in _COLUMNS),
        style="dim",
    )
    return table


def keypoints_json(analyses: list[ImageAnalysis]) -> dict[str, Any]:
    """The ``--json`` report: every image, method, parameter, keypoint and metric."""

    def clean(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    return {
        "schema_version": 1,
        "tool": "dlcheck",
        "version": __version__,
        "command": "keypoints",
        "status": "pass",
        "images": [
            {
                "image": analysis.name,
                "shape": list(analysis.shape),
                "parameters": analysis.parameters,
                "random_reference": {key: clean(value) for key, value in analysis.reference.items()},
                "methods": [
                    {
                        "method": selection.method,
                        "candidates": selection.candidate_count,
                        "metrics": {key: clean(value) for key, value in analysis.metrics[selection.method].items()},
                        # (row, col, response), strongest-first for `strongest`, by radius for `anms`
                        "keypoints": [
                            [float(row), float(col), float(response)]
                            for (row, col), response in zip(selection.coords, selection.responses, strict=True)
                        ],
                    }
                    for selection in analysis.selections
                ],
            }
            for analysis in analyses
        ],
    }


def keypoints_csv(analyses: list[ImageAnalysis]) -> str:
    """One row per keypoint: image, method, rank, row, col, response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "method", "rank", "row", "col", "response"])
    for analysis in analyses:
        for selection in analysis.selections:
            for rank, ((row, col), response) in enumerate(zip(selection.coords, selection.responses, strict=True)):
                writer.writerow([analysis.name, selection.method, rank, f"{row:.2f}", f"{col:.2f}", f"{response:.6g}"])
    return buffer.getvalue()


def overlay_image(analysis: ImageAnalysis, *, radius: int = 4, gap: int = 8) -> np.ndarray:
    """Each method's keypoints drawn on the image, methods side by side (RGB uint8, (H, W*k + gap*(k-1), 3))."""
    panels = [
        draw_overlay(
            analysis.image, selection.coords, color=METHOD_COLORS.get(selection.method, (255, 0, 0)), radius=radius
        )
        for selection in analysis.selections
    ]
    if len(panels) == 1:
        return panels[0]
    height = panels[0].shape[0]
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    pieces: list[np.ndarray] = []
    for index, panel in enumerate(panels):
        if index:
            pieces.append(spacer)
        pieces.append(panel)
    return np.concatenate(pieces, axis=1)


def save_png(image: np.ndarray, path: Path) -> None:
    from skimage import io as skimage_io

    path.parent.mkdir(parents=True, exist_ok=True)
    skimage_io.imsave(str(path), image, check_contrast=False)


def _name_parts(spec: str) -> list[str]:
    """``"a/b/img.png"`` -> ``["a", "b", "img"]``; a bundled name is itself; odd characters become ``_``."""
    path = Path(spec)
    parts = [*path.parent.parts, path.stem] if path.suffix else [*path.parts]
    parts = [part for part in parts if part not in (path.anchor, "", ".")] or ["image"]
    return [re.sub(r"[^A-Za-z0-9._-]", "_", part) for part in parts]


def overlay_paths(out: Path, images: Sequence[str]) -> list[Path]:
    """Where each image's overlay is written: ``out`` for one image, ``OUT-NAME.png`` each for several.

    NAME is the bundled image's name or the file's name without suffix. Where names repeat
    (``a/img.png b/img.png``), parent folders are added until they differ (``out-a-img.png``,
    ``out-b-img.png``); an image given twice gets ``-2``. So no overlay overwrites another.

    Raises
    ------
    InputError
        When an overlay would overwrite one of the input images.

    Examples
    --------
    >>> [str(path) for path in overlay_paths(Path("out.png"), ["camera", "coins"])]
    ['out-camera.png', 'out-coins.png']
    >>> [str(path) for path in overlay_paths(Path("out.png"), ["a/img.png", "b/img.png", "b/img.png"])]
    ['out-a-img.png', 'out-b-img.png', 'out-b-img-2.png']
    """
    if len(images) == 1:
        targets = [out]
    else:
        parts = [_name_parts(spec) for spec in images]
        depth = [1] * len(images)
        while True:  # lengthen only the names that still collide, while they have folders left
            names = ["-".join(item[-count:]) for item, count in zip(parts, depth, strict=True)]
            counts = collections.Counter(names)
            grow = [i for i, name in enumerate(names) if counts[name] > 1 and depth[i] < len(parts[i])]
            if not grow:
                break
            for index in grow:
                depth[index] += 1
        seen: collections.Counter[str] = collections.Counter()
        targets = []
        for name in names:
            seen[name] += 1
            unique = name if seen[name] == 1 else f"{name}-{seen[name]}"
            targets.append(out.with_name(f"{out.stem}-{unique}{out.suffix or '.png'}"))
    inputs = {Path(spec).resolve(): spec for spec in images if Path(spec).exists()}
    for target in targets:
        if target.resolve() in inputs:
            raise InputError(
                f"--out {out}: the overlay {target} would overwrite the input image {inputs[target.resolve()]}; "
                "choose another --out"
            )
    return targets
