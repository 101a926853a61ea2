"""Flat, wide optima (issue 14, item 8): where the loss keeps falling over a wide range of LRs, the LR to hold
constant must not sit at the conservative end, with SGD, RMSprop and AdamW alike."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from dlcheck.lr_finder.analysis import analyse_sweep
from dlcheck.lr_finder.range_test import SweepHistory
from dlcheck.lr_finder.rules import geometric_median


def _wide_descent(seed: int, optimizer: str) -> SweepHistory:
    """A loss that falls slowly over three decades (1.2 per decade of slope, not 3), then diverges past 1."""
    lrs = np.exp(np.linspace(math.log(1e-7), math.log(10.0), 100))
    position = np.log10(lrs)
    clean = 0.3 + 2.0 / (1 + np.exp(1.2 * (position + 2.5))) + np.exp(2.5 * (position - 0.3))
    loss = clean + 0.03 * np.random.default_rng(seed).standard_normal(100)
    stop = int(np.argmax(clean > 3.0))
    return SweepHistory(lrs[:stop], loss[:stop], 100, "diverged", seed, 0.0, optimizer)


@pytest.mark.parametrize("seed", range(3))
def test_on_a_wide_descent_the_constant_lr_sits_near_where_the_loss_stops_falling(seed: int) -> None:
    analysis = analyse_sweep(_wide_descent(seed, "AdamW"))
    assert analysis.band is not None and analysis.suggestion is not None
    low, high = analysis.band
    assert math.log10(high / low) > 2.5  # the descent is wide
    middle = geometric_median(list(analysis.rules.values()))
    assert middle is not None and math.log10(high / middle) > 0.7  # the rules mark its middle, most of a decade down
    assert math.sqrt(middle * high) * 0.999 <= analysis.suggestion <= high  # half way up from there, never above
    assert math.log10(analysis.suggestion / low) >= 0.75 * math.log10(high / low)  # in the top quarter of the band


@pytest.mark.parametrize("seed", range(3))
def test_sgd_holds_the_lr_where_the_loss_is_lowest(seed: int) -> None:
    analysis = analyse_sweep(_wide_descent(seed, "SGD"))
    lowest = float(analysis.history.lr[int(np.argmin(analysis.smoothed))])
    assert analysis.suggestion == pytest.approx(lowest)
    assert analysis.band is not None and analysis.suggestion > analysis.band[1]


SOFTMAX_REGRESSION = """\
name: digits-softmax-regression
seed: 0
data: {source: digits, val_fraction: 0.2}
model: {layers: [{type: flatten}, {type: linear, out: 10}]}
loss: cross_entropy
optimizer: OPTIMIZER
train: {epochs: 5, batch_size: 32}
device: cpu
logging: {tensorboard: false}
"""
OPTIMIZERS = {  # the recipe's optimiser, and the half-decade grid around its best LR (a grid from 1e-4 to 3.2 had
    # its best at 1, 1e-2 and 3e-2 respectively; the regret against fewer points can only be smaller)
    "sgd": ("{name: sgd, lr: 0.01}", [0.1, 0.32, 1.0, 3.2]),
    "rmsprop": ("{name: rmsprop, lr: 1.0e-3}", [1e-3, 3.2e-3, 1e-2, 3.2e-2]),
    "adamw": ("{name: adamw, lr: 1.0e-3, weight_decay: 1.0e-2}", [3.2e-3, 1e-2, 3.2e-2, 0.1]),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_a_softmax_regression_trains_within_1_2_of_the_best_lr_with_each_optimiser(
    optimizer: str, tmp_path: Path
) -> None:
    # Softmax regression on the digits: a convex problem whose loss keeps falling up to large LRs, the flat, wide
    # optimum of item 8. With the rules' median held constant, SGD's final loss was 1.8x and RMSprop's 1.3x the
    # best of the grid after these 5 epochs. (After 3 epochs both are 1.3x: the shorter the run, the larger its best
    # LR, and the range test does not know the run's length.)
    from dlcheck.checks.subject import prepare_subject
    from dlcheck.lr_finder import find_lr
    from dlcheck.recipe import load_recipe
    from dlcheck.train import Trainer

    path = tmp_path / "softmax.yaml"
    spec, grid = OPTIMIZERS[optimizer]
    path.write_text(SOFTMAX_REGRESSION.replace("OPTIMIZER", spec), encoding="utf-8")
    suggested = find_lr(prepare_subject(load_recipe(path))).suggested_lr
    assert suggested is not None

    def final_loss(lr: float) -> float:
        losses = []
        for seed in (0, 1):
            loaded = load_recipe(path, [f"optimizer.lr={lr!r}", f"seed={seed}"])
            run = tmp_path / f"run-{lr:.3e}-{seed}"
            result = Trainer(loaded, run_directory=run, handle_signals=False).run()
            losses.append(result.final_metrics.get("val/loss", math.inf) if result.ok else math.inf)
        return statistics.fmean(losses)

    best = min(final_loss(lr) for lr in grid)
    assert final_loss(suggested) <= 1.2 * best
