"""``digits``: the UCI 8x8 handwritten digits, shipped with dlcheck so that recipes run offline.

1797 grayscale images of the digits 0-9, each pixel a count in ``0..16`` (the number of "on" pixels of a 4x4
block of the original 32x32 bitmap). Source and licence: ``_assets/DIGITS_LICENSE.md`` (CC BY 4.0).
"""

from __future__ import annotations

__all__ = ["load_digits"]

import io
from importlib import resources

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The bundled digits, unnormalised.

    Returns
    -------
    images : numpy.ndarray
        ``(1797, 1, 8, 8)`` float32 with values ``0..16``.
    targets : numpy.ndarray
        ``(1797,)`` int64 digit labels ``0..9``.
    class_names : list of str
        ``["0", ..., "9"]``.

    Examples
    --------
    >>> images, targets, names = load_digits()
    >>> images.shape, int(images.max()), names[3]
    ((1797, 1, 8, 8), 16, '3')
    """
    # importlib.resources works from a wheel, a zip or an editable install alike.
    payload = resources.files("dlcheck.data").joinpath("_assets/digits.npz").read_bytes()
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        images = archive["images"].astype(np.float32)[:, None]  # (N, 8, 8) -> (N, 1, 8, 8)
        targets = archive["targets"].astype(np.int64)
    return images, targets, [str(digit) for digit in range(10)]
