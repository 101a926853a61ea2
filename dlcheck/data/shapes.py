"""``shapes``: a synthetic grayscale image set for convolutional networks.

Each image is one filled shape (circle, square, triangle, cross, ring, diamond, in that class order) of random
size, position and brightness on a black background, plus Gaussian pixel noise. A small CNN separates the
classes easily, a linear model less so, and the images are cheap: 2000 16x16 images take well under a second.
"""

from __future__ import annotations

__all__ = ["SHAPE_NAMES", "make_shapes"]

import numpy as np

from dlcheck.errors import DataError
from dlcheck.limits import check_memory
from dlcheck.seeding import Purpose, numpy_generator

SHAPE_NAMES = ("circle", "square", "triangle", "cross", "ring", "diamond")
_DEFAULT_SAMPLES, _DEFAULT_CLASSES, _DEFAULT_SIZE, _DEFAULT_NOISE = 1500, 3, 16, 0.1


def _draw(name: str, size: int, generator: np.random.Generator) -> np.ndarray:
    """One ``(size, size)`` float image holding the shape ``name`` with value 1 on 0."""
    from skimage import draw  # heavy import: only when shapes are drawn (STYLE habit 1)

    image = np.zeros((size, size), dtype=np.float32)
    # Small enough to fit with a half-pixel margin, large enough to stay recognisable.
    radius = min(generator.uniform(0.22, 0.42) * size, (size - 2) / 2)
    margin = radius + 0.5
    row, column = generator.uniform(margin, size - 1 - margin, 2)
    shape = (size, size)
    if name == "circle":
        image[draw.disk((row, column), radius, shape=shape)] = 1.0
    elif name == "ring":
        image[draw.disk((row, column), radius, shape=shape)] = 1.0
        image[draw.disk((row, column), radius * 0.55, shape=shape)] = 0.0
    elif name == "square":
        half = radius * 0.8  # same area scale as the circle, roughly
        image[
            draw.polygon(
                [row - half, row - half, row + half, row + half],
                [column - half, column + half, column + half, column - half],
                shape=shape,
            )
        ] = 1.0
    elif name in ("triangle", "diamond"):
        corners = 3 if name == "triangle" else 4
        # A triangle may point anywhere; a diamond stays a square rotated by 45 degrees (else it is a square).
        start = generator.uniform(0.0, 2 * np.pi) if name == "triangle" else 0.0
        angles = start + 2 * np.pi * np.arange(corners) / corners
        image[draw.polygon(row + radius * np.sin(angles), column + radius * np.cos(angles), shape=shape)] = 1.0
    elif name == "cross":
        half_width = max(radius / 4.0, 0.75)
        image[
            draw.polygon(
                [row - half_width, row - half_width, row + half_width, row + half_width],
                [column - radius, column + radius, column + radius, column - radius],
                shape=shape,
            )
        ] = 1.0
        image[
            draw.polygon(
                [row - radius, row - radius, row + radius, row + radius],
                [column - half_width, column + half_width, column + half_width, column - half_width],
                shape=shape,
            )
        ] = 1.0
    else:  # pragma: no cover - guarded by the class count check
        raise ValueError(name)
    return image


def make_shapes(
    *, samples: int | None, classes: int | None, image_size: int | None, noise: float | None, seed: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Draw the ``shapes`` image set.

    Parameters
    ----------
    samples : int or None
        Number of images (default 1500), balanced over the classes.
    classes : int or None
        Number of classes, the first of :data:`SHAPE_NAMES` (default 3, at most 6).
    image_size : int or None
        Side in pixels (default 16).
    noise : float or None
        Standard deviation of the Gaussian pixel noise (default 0.1); shapes have brightness in ``[0.6, 1]``.
    seed : int
        Recipe seed.

    Returns
    -------
    images : numpy.ndarray
        ``(N, 1, S, S)`` float32.
    targets : numpy.ndarray
        ``(N,)`` int64.
    class_names : list of str

    Raises
    ------
    DataError
        For more classes than there are shapes, fewer samples than classes, or images that would not fit the
        memory limit (:func:`dlcheck.limits.check_memory`).
    """
    samples = _DEFAULT_SAMPLES if samples is None else samples
    classes = _DEFAULT_CLASSES if classes is None else classes
    size = _DEFAULT_SIZE if image_size is None else image_size
    noise = _DEFAULT_NOISE if noise is None else noise
    if classes > len(SHAPE_NAMES):
        raise DataError(
            f"data.classes: shapes has {len(SHAPE_NAMES)} classes ({', '.join(SHAPE_NAMES)}), found {classes}; "
            f"use at most {len(SHAPE_NAMES)}"
        )
    if samples < classes:
        raise DataError(f"data.samples: {samples} is fewer than the {classes} classes of shapes; ask for more samples")
    # Per pixel while drawing: the float32 stack, float64 noise and three float32 results (~24 bytes).
    check_memory(
        samples * size * size * 24,
        f"data.samples x data.image_size^2: {samples:,} images of {size}x{size}",
        DataError,
        "ask for fewer or smaller images",
    )
    generator = numpy_generator(seed, Purpose.GENERATE)
    targets = np.arange(samples, dtype=np.int64) % classes  # balanced, then shuffled
    generator.shuffle(targets)
    images = np.stack([_draw(SHAPE_NAMES[label], size, generator) for label in targets])  # (N, S, S)
    brightness = generator.uniform(0.6, 1.0, (samples, 1, 1)).astype(np.float32)
    images = images * brightness + noise * generator.standard_normal(images.shape).astype(np.float32)
    return images[:, None].astype(np.float32), targets, list(SHAPE_NAMES[:classes])  # (N, 1, S, S)
