"""How evenly keypoints cover an image, with a uniform-random reference to compare against.

Metric choice and reference values follow ``research/keypoints.md`` §9: the Clark–Evans ratio, the
nearest-neighbour-distance coefficient of variation, the minimum spacing, grid occupancy and entropy
on cells of the mean spacing, and disk coverage / covering radius. For exact ANMS with
``c_robust = 1`` (Brown, Szeliski & Winder 2005) the minimum spacing is at least the last radius kept.
"""

from __future__ import annotations

__all__ = ["METRIC_NAMES", "random_reference", "uniformity_metrics"]

import math

import numpy as np
import numpy.typing as npt

METRIC_NAMES: tuple[str, ...] = (
    "count",
    "clark_evans",
    "clark_evans_edge_corrected",
    "nn_distance_cv",
    "min_spacing",
    "grid_occupancy",
    "grid_entropy",
    "disk_coverage",
    "covering_radius",
)
# Pixel grids larger than this are sampled on a coarser lattice for the coverage metrics, so a 4k
# image costs the same as a 1k one (the metrics are fractions, insensitive to a uniform subsample).
_MAX_COVERAGE_SAMPLES = 1 << 20


def _validate(coords: npt.ArrayLike, shape: tuple[int, ...]) -> tuple[np.ndarray, int, int]:
    points = np.asarray(coords, dtype=np.float64)
    if points.size == 0:
        points = points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"coords must have shape (N, 2) as (row, col); got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("coords contain NaN or inf")
    if len(shape) < 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise ValueError(f"shape must be (height, width, ...) with positive sizes; got {shape!r}")
    return points, int(shape[0]), int(shape[1])


def uniformity_metrics(coords: npt.ArrayLike, shape: tuple[int, ...]) -> dict[str, float]:
    """Spatial-uniformity metrics of points in an image of the given shape.

    With ``A = height * width``, ``N`` points, mean spacing ``s = sqrt(A / N)`` and nearest-neighbour
    distances ``γ_i``:

    - ``clark_evans``: ``mean(γ) / (0.5 s)``; 1 for uniform random (Poisson) points, < 1 clustered,
      > 1 regular (2.149 for a hexagonal lattice). Biased upwards for small ``N`` by the image edges.
    - ``clark_evans_edge_corrected``: the same with Donnelly's (1978) edge-corrected expectation
      ``0.5 s + (0.0514 + 0.041 / sqrt(N)) P / N`` (``P`` the perimeter).
    - ``nn_distance_cv``: ``std(γ) / mean(γ)``; 0 on a regular grid, about 0.52 for Poisson points.
    - ``min_spacing``: ``min(γ)`` in pixels.
    - ``grid_occupancy``: fraction of cells (about ``s × s`` each, ``N`` cells in all) holding a point;
      about 0.63 for Poisson points, 1 ideal.
    - ``grid_entropy``: entropy of the cell counts divided by ``log(#cells)``; 1 is perfectly even.
    - ``disk_coverage``: fraction of pixels within ``sqrt(A / (π N))`` of a point; ~0.63 for Poisson.
    - ``covering_radius``: largest distance from a pixel to its nearest point, divided by ``s``
      (small means no large empty region).

    Metrics needing two points (or one) are NaN when there are too few.

    Parameters
    ----------
    coords : array_like, shape (N, 2)
        ``(row, col)`` positions in pixels.
    shape : tuple of int
        Image shape ``(height, width, ...)``.

    Returns
    -------
    dict[str, float]
        Keys in :data:`METRIC_NAMES` order.

    Raises
    ------
    ValueError
        If the coordinates are not finite ``(N, 2)`` or the shape is not positive.

    Examples
    --------
    >>> rows, cols = np.meshgrid(np.arange(5, 100, 10), np.arange(5, 100, 10), indexing="ij")
    >>> grid = np.stack([rows.ravel(), cols.ravel()], axis=1)  # 10 x 10 lattice
    >>> metrics = uniformity_metrics(grid, (100, 100))
    >>> round(metrics["clark_evans"], 2), metrics["nn_distance_cv"], metrics["grid_occupancy"]
    (2.0, 0.0, 1.0)
    """
    from scipy.spatial import cKDTree  # arrives with scikit-image; lazy so the package imports fast

    points, height, width = _validate(coords, shape)
    count = points.shape[0]
    area = float(height * width)
    nan = float("nan")
    metrics = dict.fromkeys(METRIC_NAMES, nan)
    metrics["count"] = float(count)
    if count == 0:
        return metrics
    spacing = math.sqrt(area / count)
    tree = cKDTree(points)

    if count >= 2:
        distances, _ = tree.query(points, k=2)
        nearest = distances[:, 1]  # column 0 is the point itself
        mean_nearest = float(nearest.mean())
        metrics["clark_evans"] = mean_nearest / (0.5 * spacing)
        perimeter = 2.0 * (height + width)
        donnelly = 0.5 * spacing + (0.0514 + 0.041 / math.sqrt(count)) * perimeter / count
        metrics["clark_evans_edge_corrected"] = mean_nearest / donnelly
        metrics["nn_distance_cv"] = float(nearest.std() / mean_nearest) if mean_nearest > 0 else nan
        metrics["min_spacing"] = float(nearest.min())

    # Cells that tile the image exactly, as close to s x s as integers allow (about N cells).
    cell_rows = max(1, round(height / spacing))
    cell_cols = max(1, round(width / spacing))
    row_cell = np.clip((points[:, 0] * cell_rows / height).astype(np.intp), 0, cell_rows - 1)
    col_cell = np.clip((points[:, 1] * cell_cols / width).astype(np.intp), 0, cell_cols - 1)
    cell_counts = np.bincount(row_cell * cell_cols + col_cell, minlength=cell_rows * cell_cols)
    cells = cell_counts.size
    metrics["grid_occupancy"] = float(np.count_nonzero(cell_counts) / cells)
    if cells > 1:
        share = cell_counts[cell_counts > 0] / count
        metrics["grid_entropy"] = float(-(share * np.log(share)).sum() / math.log(cells))

    # Coverage metrics on pixel centres (integer coordinates), subsampled for very large images.
    stride = max(1, math.ceil(math.sqrt(area / _MAX_COVERAGE_SAMPLES)))
    sample_rows, sample_cols = np.meshgrid(
        np.arange(0, height, stride, dtype=np.float64), np.arange(0, width, stride, dtype=np.float64), indexing="ij"
    )
    samples = np.stack([sample_rows.ravel(), sample_cols.ravel()], axis=1)
    to_nearest, _ = tree.query(samples, k=1)
    metrics["disk_coverage"] = float(np.mean(to_nearest <= math.sqrt(area / (math.pi * count))))
    metrics["covering_radius"] = float(to_nearest.max() / spacing)
    return metrics


def random_reference(count: int, shape: tuple[int, ...], seed: int = 0, draws: int = 5) -> dict[str, float]:
    """Mean of :func:`uniformity_metrics` over ``draws`` sets of ``count`` uniform random points.

    Gives the "no better than chance" baseline for the same ``N`` and image size, edge effects
    included, so it is fairer than the textbook Poisson values for small ``N``.

    Parameters
    ----------
    count : int
        Number of points per draw (``>= 0``).
    shape : tuple of int
        Image shape ``(height, width, ...)``.
    seed : int, default 0
        Seed of the :class:`numpy.random.Generator`; the result is deterministic.
    draws : int, default 5
        Number of random point sets averaged (``>= 1``).

    Returns
    -------
    dict[str, float]
        Same keys as :func:`uniformity_metrics`.

    Raises
    ------
    ValueError
        If ``count < 0`` or ``draws < 1``.

    Examples
    --------
    >>> reference = random_reference(400, (200, 200), seed=0)
    >>> 0.9 < reference["clark_evans"] < 1.15
    True
    """
    if count < 0 or draws < 1:
        raise ValueError(f"need count >= 0 and draws >= 1; got count={count!r}, draws={draws!r}")
    _, height, width = _validate(np.zeros((0, 2)), shape)
    generator = np.random.default_rng(seed)
    results = []
    for _ in range(draws):
        points = generator.uniform(0.0, 1.0, size=(count, 2)) * np.array([height, width], dtype=np.float64)
        results.append(uniformity_metrics(points, shape))
    # nanmean would warn on all-NaN columns (pytest turns warnings into errors); average by hand.
    averaged: dict[str, float] = {}
    for name in METRIC_NAMES:
        values = np.array([result[name] for result in results])
        finite = values[np.isfinite(values)]
        averaged[name] = float(finite.mean()) if finite.size else float("nan")
    return averaged
