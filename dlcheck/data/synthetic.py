"""Two-dimensional toy classification problems, generated from the recipe seed.

Each generator returns ``(inputs, targets)``: float32 points ``(N, 2)`` and int64 labels ``(N,)``, with the
classes as balanced as ``N`` allows and the rows shuffled. They are small enough to train in seconds and hard
enough that a linear model fails on all but ``blobs``, which makes them good probes of a training set-up.
"""

from __future__ import annotations

__all__ = ["POINT_SOURCES", "SyntheticPoints", "make_blobs", "make_moons", "make_points", "make_spirals", "make_xor"]

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlcheck.errors import DataError
from dlcheck.limits import check_memory
from dlcheck.seeding import Purpose, numpy_generator

Points = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SyntheticPoints:
    """Defaults of one point source; ``fixed_classes`` is set when the problem defines its own classes."""

    make: Callable[[int, int, float, np.random.Generator], Points]
    samples: int
    classes: int
    noise: float
    fixed_classes: bool = False


def _class_sizes(samples: int, classes: int) -> list[int]:
    # Balanced classes; the first `samples % classes` classes get one extra sample.
    return [samples // classes + (1 if label < samples % classes else 0) for label in range(classes)]


def _shuffled(inputs: np.ndarray, targets: np.ndarray, generator: np.random.Generator) -> Points:
    order = generator.permutation(len(targets))
    return inputs[order].astype(np.float32), targets[order].astype(np.int64)


def make_spirals(samples: int, classes: int, noise: float, generator: np.random.Generator) -> Points:
    """``classes`` interleaved spiral arms (the CS231n toy problem, with random rather than even spacing).

    Arm ``k`` is ``r * (sin a, cos a)`` with radius ``r ~ U(0, 1)`` and angle ``a = 2 pi k / K + 4 r`` plus
    Gaussian angle noise of standard deviation ``noise`` (radians).

    Returns
    -------
    inputs : numpy.ndarray
        ``(samples, 2)`` float32, inside the unit disc.
    targets : numpy.ndarray
        ``(samples,)`` int64 in ``[0, classes)``.
    """
    inputs, targets = [], []
    for label, size in enumerate(_class_sizes(samples, classes)):
        radius = generator.uniform(0.0, 1.0, size)
        angle = 2 * np.pi * label / classes + 4.0 * radius + noise * generator.standard_normal(size)
        inputs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        targets.append(np.full(size, label))
    return _shuffled(np.concatenate(inputs), np.concatenate(targets), generator)


def make_blobs(samples: int, classes: int, noise: float, generator: np.random.Generator) -> Points:
    """Isotropic Gaussian clusters with standard deviation ``noise``, centred evenly on a circle of radius 3."""
    inputs, targets = [], []
    for label, size in enumerate(_class_sizes(samples, classes)):
        angle = 2 * np.pi * label / classes
        centre = 3.0 * np.array([np.cos(angle), np.sin(angle)])
        inputs.append(centre + noise * generator.standard_normal((size, 2)))
        targets.append(np.full(size, label))
    return _shuffled(np.concatenate(inputs), np.concatenate(targets), generator)


def make_moons(samples: int, classes: int, noise: float, generator: np.random.Generator) -> Points:
    """Two interleaving half circles (as scikit-learn's ``make_moons``) plus Gaussian noise ``noise``."""
    outer, inner = _class_sizes(samples, 2)
    angle_outer = generator.uniform(0.0, np.pi, outer)
    angle_inner = generator.uniform(0.0, np.pi, inner)
    inputs = np.concatenate(
        [
            np.stack([np.cos(angle_outer), np.sin(angle_outer)], axis=1),
            np.stack([1.0 - np.cos(angle_inner), 0.5 - np.sin(angle_inner)], axis=1),
        ]
    )
    inputs = inputs + noise * generator.standard_normal(inputs.shape)
    targets = np.concatenate([np.zeros(outer), np.ones(inner)])
    return _shuffled(inputs, targets, generator)


def make_xor(samples: int, classes: int, noise: float, generator: np.random.Generator) -> Points:
    """Four Gaussian clusters at ``(+-1, +-1)``; the label is 1 where the signs of x and y differ."""
    centres = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    inputs, targets = [], []
    for quadrant, size in enumerate(_class_sizes(samples, 4)):
        inputs.append(centres[quadrant] + noise * generator.standard_normal((size, 2)))
        targets.append(np.full(size, labels[quadrant]))
    return _shuffled(np.concatenate(inputs), np.concatenate(targets), generator)


POINT_SOURCES: dict[str, SyntheticPoints] = {
    "spirals": SyntheticPoints(make_spirals, samples=1500, classes=3, noise=0.2),
    "blobs": SyntheticPoints(make_blobs, samples=1500, classes=4, noise=0.5),
    "moons": SyntheticPoints(make_moons, samples=1500, classes=2, noise=0.1, fixed_classes=True),
    "xor": SyntheticPoints(make_xor, samples=1500, classes=2, noise=0.25, fixed_classes=True),
}


def make_points(
    name: str, *, samples: int | None, classes: int | None, noise: float | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Generate the point source ``name`` with the recipe's overrides of its defaults.

    Parameters
    ----------
    name : str
        One of :data:`POINT_SOURCES`.
    samples, classes, noise : int, int, float or None
        ``data.samples``, ``data.classes`` and ``data.noise``; ``None`` keeps the source's default.
    seed : int
        Recipe seed.

    Returns
    -------
    inputs : numpy.ndarray
        ``(N, 2)`` float32.
    targets : numpy.ndarray
        ``(N,)`` int64.

    Raises
    ------
    DataError
        When ``classes`` is given for a two-class problem, there are fewer samples than classes, or the points
        would not fit the memory limit (:func:`dlcheck.limits.check_memory`).
    """
    spec = POINT_SOURCES[name]
    if spec.fixed_classes and classes is not None and classes != spec.classes:
        raise DataError(
            f"data.classes: {name} always has {spec.classes} classes, found {classes}; remove `classes` "
            "or use `spirals` or `blobs`, which take any number"
        )
    samples = spec.samples if samples is None else samples
    classes = spec.classes if classes is None else classes
    if samples < classes:
        raise DataError(f"data.samples: {samples} is fewer than the {classes} classes of {name}; ask for more samples")
    # float64 points, their noise and the float32 result, with int64 labels: under 100 bytes a sample.
    check_memory(samples * 100, f"data.samples: {samples:,} {name} points", DataError, "ask for fewer samples")
    generator = numpy_generator(seed, Purpose.GENERATE)
    return spec.make(samples, classes, spec.noise if noise is None else noise, generator)
