"""Seeded, optionally stratified train/validation split of sample indices.

Indices rather than tensors are split so that the same function serves in-memory arrays and file lists
(``image_folder`` splits its list of files without reading them).
"""

from __future__ import annotations

__all__ = ["split_indices"]

import numpy as np

from dlcheck.errors import DataError
from dlcheck.seeding import Purpose, numpy_generator


def split_indices(
    count: int, *, val_fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(count)`` into train and validation indices.

    With ``labels`` the split is stratified: each class sends ``round(n_class * val_fraction)`` samples to
    validation, but at least one and at most ``n_class - 1`` when the class has two or more samples, so every
    class appears in both splits (a class with one sample stays in train).

    Parameters
    ----------
    count : int
        Number of samples.
    val_fraction : float
        Fraction held out, in ``[0, 1)``; ``0`` gives an empty validation split.
    seed : int
        Recipe seed; the split has its own stream, so it does not move when other random choices change.
    labels : numpy.ndarray, optional
        ``(count,)`` integer class labels to stratify by; ``None`` for a plain random split.

    Returns
    -------
    train : numpy.ndarray
        ``(count - n_val,)`` int64 indices, ascending.
    val : numpy.ndarray
        ``(n_val,)`` int64 indices, ascending.

    Raises
    ------
    DataError
        When ``val_fraction > 0`` but there are fewer than two samples.

    Examples
    --------
    >>> train, val = split_indices(10, val_fraction=0.2, seed=0)
    >>> len(train), len(val), sorted([*train, *val]) == list(range(10))
    (8, 2, True)
    """
    everything = np.arange(count, dtype=np.int64)
    if val_fraction <= 0:
        return everything, np.empty(0, dtype=np.int64)
    if count < 2:
        raise DataError(
            f"data.val_fraction: {val_fraction} needs at least 2 samples to split, found {count}; "
            "set `val_fraction: 0` or provide more data"
        )
    generator = numpy_generator(seed, Purpose.SPLIT)
    if labels is None:
        size = min(max(round(count * val_fraction), 1), count - 1)
        chosen = generator.permutation(count)[:size]
    else:
        labels = np.asarray(labels).reshape(-1)
        parts = []
        for label in np.unique(labels):  # sorted, so the stream is consumed in a fixed order
            members = np.flatnonzero(labels == label)
            # At least one sample on each side for classes with two or more; a singleton stays in train.
            size = min(max(round(len(members) * val_fraction), 1), len(members) - 1) if len(members) >= 2 else 0
            parts.append(generator.permutation(members)[:size])
        chosen = np.concatenate(parts)
    mask = np.zeros(count, dtype=bool)
    mask[chosen] = True
    return everything[~mask], everything[mask]
