"""Exact ANMS (Brown, Szeliski & Winder 2005) vs brute force and skimage's corner_peaks.

Random points (uniform coordinates in a 1000x1000 image, uniform random responses, seeded). For each
n: median time of ``dlcheck.keypoints.anms_radii`` + top-500 selection, of a chunked vectorised
O(n²) brute force (n <= 20k only, radii checked bit-identical), and of
``skimage.feature.corner_peaks(min_distance=5)`` on a response image holding the same points as
peaks (a different, greedy method: the usual alternative, timed for scale, not for equality).

Run: ``.venv/bin/python benchmarks/anms.py`` (about a minute).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from dlcheck.keypoints import anms, anms_radii

SIZES = (1_000, 20_000, 100_000, 1_000_000)
BRUTE_FORCE_MAX = 20_000
CORNER_PEAKS_MAX = 100_000  # its Python loop over peaks takes minutes beyond this
IMAGE_SIDE = 1000
NUM_PEAKS = 500
C_ROBUST = 0.9


def brute_force_radii(coords: np.ndarray, responses: np.ndarray, c_robust: float, chunk: int = 512) -> np.ndarray:
    """O(n²) reference, vectorised over blocks of rows, same distance formula as the library."""
    radii = np.empty(responses.size)
    scaled = c_robust * responses
    for start in range(0, responses.size, chunk):
        rows = slice(start, start + chunk)
        dr = coords[rows, 0][:, None] - coords[None, :, 0]
        dc = coords[rows, 1][:, None] - coords[None, :, 1]
        squared = dr * dr + dc * dc
        suppressors = responses[rows][:, None] < scaled[None, :]
        suppressors[np.arange(squared.shape[0]), np.arange(start, start + squared.shape[0])] = False
        squared[~suppressors] = np.inf
        radii[rows] = np.sqrt(squared.min(axis=1))
    return radii


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def points(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    coords = generator.uniform(0, IMAGE_SIDE, size=(count, 2))
    return coords, generator.random(count)


def main() -> None:
    from skimage.feature import corner_peaks

    header = f"{'n':>9} | {'dlcheck exact':>13} | {'brute O(n²)':>11} | {'speed-up':>8} | {'identical':>9} | {'corner_peaks':>12}"
    print(header)
    print("-" * len(header))
    for count in SIZES:
        repeats = 1 if count >= 1_000_000 else 3
        coords, responses = points(count, seed=count)
        ours = median_seconds(
            lambda coords=coords, responses=responses: anms(coords, responses, NUM_PEAKS, C_ROBUST), repeats
        )
        brute_text, speedup_text, identical_text = "-", "-", "-"
        if count <= BRUTE_FORCE_MAX:
            brute = median_seconds(
                lambda coords=coords, responses=responses: brute_force_radii(coords, responses, C_ROBUST), repeats
            )
            identical = np.array_equal(
                anms_radii(coords, responses, C_ROBUST), brute_force_radii(coords, responses, C_ROBUST)
            )
            brute_text, speedup_text, identical_text = f"{brute:.3f} s", f"{brute / ours:.0f}x", str(identical)
        peaks_text = "-"
        if count <= CORNER_PEAKS_MAX:
            # Integer pixels for the image (distinct positions keep every point a peak candidate).
            pixels = np.unique(np.round(coords).clip(0, IMAGE_SIDE - 1).astype(np.intp), axis=0)
            image = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
            image[pixels[:, 0], pixels[:, 1]] = np.random.default_rng(count).random(pixels.shape[0]) + 1e-3
            seconds = median_seconds(
                lambda image=image: corner_peaks(image, min_distance=5, threshold_abs=0, num_peaks=NUM_PEAKS), repeats
            )
            peaks_text = f"{seconds:.3f} s"
        print(
            f"{count:>9,} | {ours:>11.3f} s | {brute_text:>11} | {speedup_text:>8} | {identical_text:>9} | {peaks_text:>12}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
