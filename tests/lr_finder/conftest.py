"""Small recipes and synthetic sweeps shared by the LR finder tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlcheck.engine.parts import RecipeParts, prepare_parts
from dlcheck.lr_finder.range_test import SweepHistory
from dlcheck.recipe import parse_recipe

BLOBS_RECIPE = """\
# a tiny classification recipe for fast tests
name: blobs-bn
seed: 0
data: {source: blobs, samples: 400, classes: 3, noise: 1.0, val_fraction: 0.25}
model:
  layers:
    - {type: linear, out: 16}
    - {type: batchnorm1d}
    - {type: relu}
    - {type: dropout, p: 0.2}
    - {type: linear, out: 3}
loss: cross_entropy
optimizer: {name: adam, lr: 1.0e-3, weight_decay: 1.0e-4}   # the recipe's LR
train: {epochs: 2, batch_size: 32}
device: cpu
"""


@pytest.fixture(autouse=True)
def one_thread():  # type: ignore[no-untyped-def]
    """Tiny models run faster on one thread, and a busy shared machine does not stall them; restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def blobs_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "blobs.yaml"
    path.write_text(BLOBS_RECIPE, encoding="utf-8")
    return path


@pytest.fixture
def blobs_parts(blobs_recipe: Path) -> RecipeParts:
    loaded = parse_recipe(blobs_recipe.read_text(), source=str(blobs_recipe), directory=blobs_recipe.parent)
    return prepare_parts(loaded)


def synthetic_history(
    loss: np.ndarray, *, start: float = 1e-7, end: float = 10.0, planned: int | None = None, stop: str | None = None
) -> SweepHistory:
    """A sweep record over an exponential ladder for a given loss sequence."""
    planned = planned or len(loss)
    lrs = np.exp(np.linspace(np.log(start), np.log(end), planned))[: len(loss)]
    if stop is None:
        stop = "non_finite" if not np.isfinite(loss[-1]) else ("completed" if len(loss) == planned else "diverged")
    return SweepHistory(lrs, np.asarray(loss, dtype=np.float64), planned, stop, 0, 0.0)  # type: ignore[arg-type]


def canonical_loss(
    steps: int = 100,
    *,
    noise: float = 0.05,
    seed: int = 0,
    centre: float = -3.0,
    top: float = 2.3,
    bottom: float = 0.3,
    blow_up: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(lrs, loss): flat at ``top``, a sigmoid descent centred at 10**centre towards ``bottom``, then an
    exponential rise that reaches 1 loss unit at 10**blow_up (the minimum is near 10**(blow_up - 1.3))."""
    rng = np.random.default_rng(seed)
    lrs = np.exp(np.linspace(np.log(1e-7), np.log(10.0), steps))
    position = np.log10(lrs)
    clean = bottom + (top - bottom) / (1 + np.exp(3.0 * (position - centre))) + np.exp(2.5 * (position - blow_up))
    return lrs, clean + noise * rng.standard_normal(steps)
