"""Data for dlcheck runs: sources, split, normalisation, augmentation and batching.

``load_data`` turns a recipe's ``data`` section into a :class:`DataBundle`; ``make_batcher`` turns one split
into batches on the training device. This package imports torch, so ``dlcheck/__init__.py`` does not import it.
"""

from __future__ import annotations

__all__ = [
    "SOURCES",
    "Batcher",
    "DataBundle",
    "LoaderBatcher",
    "Normalization",
    "TensorBatcher",
    "TensorPair",
    "load_data",
    "make_batcher",
]

from dlcheck.data.batching import Batcher, LoaderBatcher, TensorBatcher, make_batcher
from dlcheck.data.bundle import DataBundle, TensorPair
from dlcheck.data.load import SOURCES, load_data
from dlcheck.data.normalization import Normalization
