"""Harris corner response and its candidate peaks, on scikit-image.

scikit-image is imported inside the functions so that ``import dlcheck.keypoints`` stays light.
Semantics and traps of the underlying calls are in ``research/keypoints.md`` §2.
"""

from __future__ import annotations

__all__ = ["candidate_peaks", "harris_response", "refine_subpixel", "to_gray_float"]

from typing import Literal

import numpy as np
import numpy.typing as npt


def to_gray_float(image: npt.ArrayLike) -> np.ndarray:
    """Grey float64 version of an image, on scikit-image's intensity scale.

    Integer images are rescaled by :func:`skimage.util.img_as_float` (uint8 to [0, 1]); float images are
    kept as they are. RGB is converted with :func:`skimage.color.rgb2gray`, RGBA is first composited on
    white with :func:`skimage.color.rgba2rgb`.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 3) or (H, W, 4)
        Grey, RGB or RGBA image of any numeric or boolean dtype.

    Returns
    -------
    numpy.ndarray, shape (H, W), float64

    Raises
    ------
    ValueError
        If the image is not 2-D grey, RGB or RGBA.

    Examples
    --------
    >>> to_gray_float(np.array([[0, 255]], dtype=np.uint8))
    array([[0., 1.]])
    """
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.util import img_as_float

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = rgba2rgb(array)
    if array.ndim == 3 and array.shape[2] == 3:
        return np.asarray(rgb2gray(img_as_float(array)), dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image; got shape {array.shape}")
    return np.asarray(img_as_float(array), dtype=np.float64)


def harris_response(
    image: npt.ArrayLike,
    *,
    method: Literal["k", "eps"] = "k",
    k: float = 0.05,
    eps: float = 1e-6,
    sigma: float = 1.0,
) -> np.ndarray:
    """Harris corner strength of every pixel (:func:`skimage.feature.corner_harris`).

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 3) or (H, W, 4)
        Grey, RGB or RGBA image; converted by :func:`to_gray_float`. A uint8 image and the same image
        as float in [0, 1] give the same response; a float image in [0, 255] gives a response 255⁴
        times larger (the structure tensor is quadratic in intensity, the response quadratic in the
        tensor), so use relative thresholds, never absolute ones, across dtypes.
    method : {"k", "eps"}, default "k"
        ``"k"``: ``det(A) - k tr(A)²`` (negative on edges). ``"eps"``: Noble's ``2 det(A) / (tr(A) + eps)``,
        twice the harmonic mean used by Brown, Szeliski & Winder (2005).
    k : float, default 0.05
        Harris sensitivity for ``method="k"``.
    eps : float, default 1e-6
        Normalisation for ``method="eps"``.
    sigma : float, default 1.0
        Standard deviation, in pixels, of the Gaussian that weights the structure tensor.

    Returns
    -------
    numpy.ndarray, shape (H, W), float64

    Raises
    ------
    ValueError
        If ``method`` is neither ``"k"`` nor ``"eps"`` or the image shape is not supported.

    Examples
    --------
    >>> image = np.zeros((9, 9)); image[4:, 4:] = 1.0
    >>> response = harris_response(image)
    >>> tuple(int(v) for v in np.unravel_index(response.argmax(), response.shape))
    (4, 4)
    """
    from skimage.feature import corner_harris

    # skimage treats *any* method other than "k" as "eps"; refuse typos instead.
    if method not in ("k", "eps"):
        raise ValueError(f"method must be 'k' or 'eps'; got {method!r}")
    gray = to_gray_float(image)
    return np.asarray(corner_harris(gray, method=method, k=k, eps=eps, sigma=sigma), dtype=np.float64)


def candidate_peaks(
    response: npt.ArrayLike, *, threshold_rel: float = 0.001, border: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima (3×3) of a corner response that are positive and above a relative threshold.

    Uses :func:`skimage.feature.peak_local_max` with ``min_distance=1`` and threshold
    ``max(0, threshold_rel * response.max())`` (strict ``>``). Touching peaks form a plateau of equal
    values and are reported once, at the plateau's centroid (so coordinates may end in ``.5``). The positive floor matters twice: skimage's
    default threshold is ``response.min()``, which turns flat regions into plateaus of hundreds of
    thousands of candidates (``research/keypoints.md`` §2.4), and ANMS's ``f_i < c f_j`` test is
    meaningless on negative responses. Plateau pixels are all kept (skimage semantics).

    Parameters
    ----------
    response : array_like, shape (H, W)
        Corner strength, e.g. from :func:`harris_response`.
    threshold_rel : float, default 0.001
        Fraction of the maximum response a peak must exceed, in [0, 1].
    border : int, default 5
        Pixels along each edge where no peak is reported (>= 0). skimage pads with zeros, so the
        image frame itself looks like a corner within ~4 px (Sobel + Gaussian of sigma 1 truncated at 4σ).

    Returns
    -------
    coords : numpy.ndarray, shape (N, 2), float64
        ``(row, col)`` of each peak, strongest first (ties in raster order).
    responses : numpy.ndarray, shape (N,), float64
        Response at each peak.

    Raises
    ------
    ValueError
        If ``response`` is not 2-D or the parameters are out of range.

    Examples
    --------
    >>> response = np.zeros((9, 9)); response[4, 4] = 2.0; response[2, 6] = 1.0
    >>> response[6, 2:4] = 1.5  # a two-pixel plateau
    >>> coords, values = candidate_peaks(response, border=1)
    >>> coords.tolist(), values.tolist()
    ([[4.0, 4.0], [6.0, 2.5], [2.0, 6.0]], [2.0, 1.5, 1.0])
    """
    from skimage.feature import peak_local_max
    from skimage.measure import label

    values = np.asarray(response, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"response must be a 2-D array; got shape {values.shape}")
    if not 0.0 <= threshold_rel <= 1.0:
        raise ValueError(f"threshold_rel must be in [0, 1]; got {threshold_rel!r}")
    if isinstance(border, bool) or not isinstance(border, int) or border < 0:
        raise ValueError(f"border must be an integer >= 0; got {border!r}")
    empty = (np.zeros((0, 2)), np.zeros(0))
    if values.size == 0 or not np.any(values > 0):
        return empty
    threshold = max(0.0, threshold_rel * float(values.max()))
    peaks = peak_local_max(values, min_distance=1, threshold_abs=threshold, exclude_border=border)
    if peaks.shape[0] == 0:
        return empty
    # Two 8-adjacent 3x3 maxima are each >= the other, so touching peaks are one plateau (the
    # checkerboard's corners are 2x2 plateaus). Equal responses never suppress each other in ANMS,
    # so an unmerged plateau would survive as a cluster of duplicates: keep one point at its centroid.
    mask = np.zeros(values.shape, dtype=bool)
    mask[peaks[:, 0], peaks[:, 1]] = True
    plateau = label(mask, connectivity=2)
    rows, cols = np.nonzero(mask)  # raster order
    ids = plateau[rows, cols] - 1
    sizes = np.bincount(ids)
    centroids = np.stack([np.bincount(ids, weights=rows) / sizes, np.bincount(ids, weights=cols) / sizes], axis=1)
    first_pixel = np.full(sizes.size, rows.size)
    np.minimum.at(first_pixel, ids, np.arange(rows.size))
    strengths = values[rows[first_pixel], cols[first_pixel]]
    # Strongest first; equal strengths in raster order of each plateau's first pixel (skimage's rule).
    order = np.lexsort((first_pixel, -strengths))
    return centroids[order], strengths[order]


def refine_subpixel(image: npt.ArrayLike, coords: npt.ArrayLike, *, window_size: int = 11) -> np.ndarray:
    """Sub-pixel corner positions by :func:`skimage.feature.corner_subpix` (Förstner's dot/edge test).

    skimage returns NaN for corners its statistical test cannot classify (35-37 % on natural images,
    ``research/keypoints.md`` §2.1); those keep their integer position, so the output never has NaN.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 3) or (H, W, 4)
        The image the corners were found in.
    coords : array_like, shape (N, 2)
        Integer ``(row, col)`` corner positions.
    window_size : int, default 11
        Side, in pixels, of the search window.

    Returns
    -------
    numpy.ndarray, shape (N, 2), float64

    Examples
    --------
    >>> from skimage.data import checkerboard
    >>> refine_subpixel(checkerboard(), [[24, 24]]).tolist()
    [[24.5, 24.5]]
    """
    from skimage.feature import corner_subpix

    points = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] == 0:
        return points.copy()
    refined = np.asarray(
        corner_subpix(to_gray_float(image), np.round(points).astype(np.intp), window_size=window_size),
        dtype=np.float64,
    )
    unclassified = ~np.all(np.isfinite(refined), axis=1)
    refined[unclassified] = points[unclassified]
    return refined
