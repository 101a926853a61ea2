"""Seeds derived from the recipe seed, one independent stream per purpose.

Library code never touches the global RNG (STYLE habit 7). Every random choice in ``dlcheck.data`` seeds its own
generator from ``(recipe seed, purpose, ...)`` so that, e.g., changing the augmentation does not change the split,
and a resumed run can rebuild the exact generator of any epoch or batch.
"""

from __future__ import annotations

__all__ = ["Purpose", "derive_seed", "numpy_generator"]

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    """Which random stream a seed is for; the values are part of the reproducibility contract: never reuse one."""

    GENERATE = 1  # synthetic data
    SPLIT = 2  # train/val split
    ORDER = 3  # per-epoch sample order
    AUGMENT = 4  # per-batch augmentation
    STATISTICS = 5  # the sample of a Dataset used for normalisation statistics
    LOADER = 6  # the DataLoader's own generator (worker base seed), kept off the global RNG
    DROPOUT = 7  # a process's global RNG (dropout masks) when a run resumes with another number of processes


def derive_seed(seed: int, purpose: Purpose, *parts: int) -> int:
    """A non-negative 63-bit seed that depends on every argument.

    numpy's ``SeedSequence`` hashes the parts, so nearby inputs (epoch 3 and epoch 4) give unrelated seeds.

    Parameters
    ----------
    seed : int
        The recipe seed (>= 0).
    purpose : Purpose
        The random stream the seed is for.
    *parts : int
        Further non-negative integers, e.g. the epoch and batch index.

    Returns
    -------
    int
        A seed in ``[0, 2**63)``, valid for ``torch.Generator.manual_seed`` and ``numpy.random.default_rng``.

    Examples
    --------
    >>> derive_seed(0, Purpose.ORDER, 3) == derive_seed(0, Purpose.ORDER, 3)
    True
    >>> derive_seed(0, Purpose.ORDER, 3) == derive_seed(0, Purpose.ORDER, 4)
    False
    """
    words = np.random.SeedSequence([int(seed), int(purpose), *(int(part) for part in parts)]).generate_state(
        2, dtype=np.uint32
    )
    return (int(words[0]) << 31) ^ int(words[1])


def numpy_generator(seed: int, purpose: Purpose, *parts: int) -> np.random.Generator:
    """A numpy generator seeded by :func:`derive_seed` (same arguments)."""
    return np.random.default_rng(derive_seed(seed, purpose, *parts))
