"""Choose a fixed number of keypoints from a corner response: ANMS, strongest, or skimage spacing."""

from __future__ import annotations

__all__ = ["SELECTION_METHODS", "Keypoints", "select_keypoints"]

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from dlcheck.keypoints.anms import anms, anms_radii
from dlcheck.keypoints.harris import candidate_peaks

SelectionMethod = Literal["anms", "strongest", "min_distance"]
SELECTION_METHODS: tuple[str, ...] = ("anms", "strongest", "min_distance")


@dataclass(frozen=True)
class Keypoints:
    """Selected keypoints and how they were chosen.

    Attributes
    ----------
    coords : numpy.ndarray, shape (N, 2), float64
        ``(row, col)`` in pixels, in selection order (ANMS: decreasing radius; otherwise strongest first).
    responses : numpy.ndarray, shape (N,), float64
        Corner response at each keypoint.
    method : str
        ``"anms"``, ``"strongest"`` or ``"min_distance"``.
    parameters : dict
        Every parameter that influenced the selection (for reports and reproducibility).
    radii : numpy.ndarray or None, shape (N,)
        ANMS suppression radius of each keypoint in pixels (``method="anms"`` only).
    candidate_count : int
        Number of candidate peaks the keypoints were chosen from.
    """

    coords: np.ndarray
    responses: np.ndarray
    method: str
    parameters: dict[str, float | int | str] = field(default_factory=dict)
    radii: np.ndarray | None = None
    candidate_count: int = 0

    def __len__(self) -> int:
        return int(self.coords.shape[0])


def _min_distance_peaks(
    values: np.ndarray, num_peaks: int, min_distance: int, threshold_rel: float, border: int
) -> tuple[np.ndarray, np.ndarray, int]:
    from skimage.feature import corner_peaks

    # skimage.feature.corner_peaks semantics (research/keypoints.md §2.3), made explicit here:
    # - threshold: its default is image.min(), which floods flat regions with candidates (a 79 s
    #   case on `retina`); we pass threshold_abs=0 so only positive responses count, plus threshold_rel.
    # - exclude_border=True would mean a border of min_distance pixels; we pass our own `border`.
    # - spacing: greedy by strength, rejecting others within Chebyshev distance <= min_distance
    #   (p_norm=inf, inclusive), so kept corners are > min_distance apart on at least one axis.
    # - num_peaks is applied after suppression (the docstring claiming "before" is stale).
    if not np.any(values > 0):
        return np.zeros((0, 2)), np.zeros(0), 0
    threshold = max(0.0, threshold_rel * float(values.max()))
    peaks = corner_peaks(
        values,
        min_distance=min_distance,
        threshold_abs=threshold,
        exclude_border=border,
        num_peaks=num_peaks,
    )
    peaks = np.asarray(peaks, dtype=np.intp).reshape(-1, 2)
    strengths = values[peaks[:, 0], peaks[:, 1]]
    raster = np.lexsort((peaks[:, 1], peaks[:, 0]))
    peaks, strengths = peaks[raster], strengths[raster]
    order = np.argsort(-strengths, kind="stable")
    return peaks[order].astype(np.float64), strengths[order], int(peaks.shape[0])


def select_keypoints(
    response: npt.ArrayLike,
    method: SelectionMethod,
    num_peaks: int,
    *,
    min_distance: int = 5,
    c_robust: float = 0.9,
    threshold_rel: float = 0.001,
    border: int = 5,
) -> Keypoints:
    """Select up to ``num_peaks`` keypoints from a corner response.

    Parameters
    ----------
    response : array_like, shape (H, W)
        Corner strength, e.g. from :func:`dlcheck.keypoints.harris_response`.
    method : {"anms", "strongest", "min_distance"}
        ``"anms"``: exact adaptive non-maximal suppression (Brown, Szeliski & Winder 2005) over the
        candidate peaks of :func:`dlcheck.keypoints.candidate_peaks`. ``"strongest"``: the candidates
        with the largest responses. ``"min_distance"``: :func:`skimage.feature.corner_peaks`, greedy
        suppression within a Chebyshev distance ``<= min_distance``, then the strongest ``num_peaks``.
    num_peaks : int
        Maximum number of keypoints (``>= 0``); fewer when there are fewer candidates.
    min_distance : int, default 5
        Spacing in pixels for ``"min_distance"`` (ignored otherwise).
    c_robust : float, default 0.9
        ANMS robustness factor (``"anms"`` only).
    threshold_rel : float, default 0.001
        A candidate must exceed ``max(0, threshold_rel * response.max())``.
    border : int, default 5
        Pixels along each edge where no keypoint is reported.

    Returns
    -------
    Keypoints

    Raises
    ------
    ValueError
        For an unknown method or out-of-range parameters.

    Examples
    --------
    >>> from skimage.data import checkerboard
    >>> from dlcheck.keypoints.harris import harris_response
    >>> keypoints = select_keypoints(harris_response(checkerboard()), "anms", 10)
    >>> len(keypoints), keypoints.coords[0].tolist()
    (10, [24.5, 24.5])
    """
    if method not in SELECTION_METHODS:
        raise ValueError(f"method must be one of {', '.join(SELECTION_METHODS)}; got {method!r}")
    if isinstance(num_peaks, bool) or not isinstance(num_peaks, int | np.integer) or num_peaks < 0:
        raise ValueError(f"num_peaks must be an integer >= 0; got {num_peaks!r}")
    if isinstance(min_distance, bool) or not isinstance(min_distance, int | np.integer) or min_distance < 1:
        raise ValueError(f"min_distance must be an integer >= 1; got {min_distance!r}")
    values = np.asarray(response, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"response must be a 2-D array; got shape {values.shape}")
    parameters: dict[str, float | int | str] = {
        "num_peaks": int(num_peaks),
        "threshold_rel": float(threshold_rel),
        "border": int(border),
    }
    if method == "min_distance":
        parameters["min_distance"] = int(min_distance)
        coords, strengths, count = _min_distance_peaks(values, int(num_peaks), int(min_distance), threshold_rel, border)
        return Keypoints(coords[:num_peaks], strengths[:num_peaks], method, parameters, None, count)

    coords, strengths = candidate_peaks(values, threshold_rel=threshold_rel, border=border)
    count = int(coords.shape[0])
    if method == "strongest":
        # candidate_peaks already orders strongest first with raster-order ties.
        return Keypoints(coords[:num_peaks], strengths[:num_peaks], method, parameters, None, count)
    parameters["c_robust"] = float(c_robust)
    radii = anms_radii(coords, strengths, c_robust)
    chosen = anms(coords, strengths, int(num_peaks), c_robust)
    return Keypoints(coords[chosen], strengths[chosen], method, parameters, radii[chosen], count)
