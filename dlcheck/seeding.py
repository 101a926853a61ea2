"""Seeds derived from the recipe seed, one independent stream per purpose.

Every random choice seeds its own generator from ``(recipe seed, purpose, ...)``, so that, e.g., changing the
augmentation does not change the split, two purposes never share draws by accident (a plain ``seed + step`` for
one and ``seed + 1`` for another would), and a resumed run can rebuild the exact generator of any epoch or batch.

Only dropout draws from torch's *global* generator (modules offer no other way). The trainer seeds it once per
process (:attr:`Purpose.TRAIN_DROPOUT`) and saves its state in checkpoints; every other user forks it with
:func:`seeded`, so the caller's random state is left as it was.
"""

from __future__ import annotations

__all__ = ["Purpose", "derive_seed", "numpy_generator", "seeded"]

import contextlib
from collections.abc import Iterator
from enum import IntEnum

import numpy as np
import torch


class Purpose(IntEnum):
    """Which random stream a seed is for; the values are part of the reproducibility contract: never reuse one."""

    GENERATE = 1  # synthetic data
    SPLIT = 2  # train/val split
    ORDER = 3  # per-epoch sample order
    AUGMENT = 4  # per-batch augmentation
    STATISTICS = 5  # the sample of a Dataset used for normalisation statistics
    LOADER = 6  # the DataLoader's own generator (worker base seed), kept off the global RNG
    DROPOUT = 7  # a process's global RNG (dropout masks) when a run resumes with another number of processes
    TRAIN_DROPOUT = 8  # a process's global RNG (dropout masks) at the start of a run, per rank
    SWEEP_DROPOUT = 9  # dropout of one LR-finder sweep or --verify run, per repeat
    PROBE = 10  # dropout while a check probes a model (gradient flow: per step)
    FIT = 11  # dropout while a check fits a tiny batch (overfit_batch, regularization_effect)
    FIT_AUGMENT = 12  # augmentation of the tiny batch in regularization_effect, per step


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


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run the block with torch's global generators (CPU, and ``device`` if CUDA) seeded; restore them after.

    Dropout and other modules draw from the global generators; forking them keeps the caller's random state as
    it was and makes the block's result a function of ``seed``.

    Examples
    --------
    >>> with seeded(derive_seed(0, Purpose.PROBE, 0)):
    ...     first = torch.rand(2)
    >>> with seeded(derive_seed(0, Purpose.PROBE, 0)):
    ...     bool(torch.equal(torch.rand(2), first))
    True
    """
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.manual_seed(seed)
        yield
