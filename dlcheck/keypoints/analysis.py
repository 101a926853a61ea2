"""One image through the whole keypoint pipeline: Harris response once, each selection method, metrics.

What ``dlcheck keypoints`` runs per image; a function of its inputs, returning plain data for the
renderers in :mod:`dlcheck.report.keypoints`.
"""

from __future__ import annotations

__all__ = ["ImageAnalysis", "analyse_image"]

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from dlcheck.keypoints.harris import harris_response, refine_subpixel
from dlcheck.keypoints.select import Keypoints, select_keypoints
from dlcheck.keypoints.uniformity import random_reference, uniformity_metrics


@dataclass
class ImageAnalysis:
    """Keypoints of one image by one or more methods, with their uniformity metrics."""

    name: str
    image: np.ndarray  # as loaded, for overlays
    selections: list[Keypoints]
    metrics: dict[str, dict[str, float]]  # method -> uniformity metrics
    reference: dict[str, float]  # the same metrics for as many uniform random points
    parameters: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])


def analyse_image(
    image: np.ndarray,
    name: str,
    methods: Sequence[str],
    *,
    num_peaks: int,
    min_distance: int = 5,
    c_robust: float = 0.9,
    sigma: float = 1.0,
    threshold_rel: float = 0.001,
    harris_method: str = "k",
    k: float = 0.05,
    subpixel: bool = False,
    seed: int = 0,
) -> ImageAnalysis:
    """Detect Harris corners in ``image`` and select ``num_peaks`` of them by each of ``methods``.

    Examples
    --------
    >>> from skimage import data
    >>> result = analyse_image(data.checkerboard(), "checkerboard", ["anms", "strongest"], num_peaks=20)
    >>> [len(selection) for selection in result.selections]
    [20, 20]
    """
    # (H, W), computed once for every method
    response = harris_response(image, method=harris_method, k=k, sigma=sigma)  # type: ignore[arg-type]
    selections = [
        select_keypoints(
            response,
            method,  # type: ignore[arg-type]
            num_peaks,
            min_distance=min_distance,
            c_robust=c_robust,
            threshold_rel=threshold_rel,
        )
        for method in methods
    ]
    if subpixel:  # Förstner refinement; points it cannot classify keep their pixel position
        selections = [replace(selection, coords=refine_subpixel(image, selection.coords)) for selection in selections]
    shape = (int(image.shape[0]), int(image.shape[1]))
    metrics = {selection.method: uniformity_metrics(selection.coords, shape) for selection in selections}
    count = max((len(selection) for selection in selections), default=0)
    return ImageAnalysis(
        name=name,
        image=image,
        selections=selections,
        metrics=metrics,
        reference=random_reference(count, shape, seed=seed),
        parameters={
            "num_peaks": num_peaks,
            "min_distance": min_distance,
            "c_robust": c_robust,
            "sigma": sigma,
            "threshold_rel": threshold_rel,
            "harris_method": harris_method,
            "k": k,
            "subpixel": int(subpixel),
        },
    )
