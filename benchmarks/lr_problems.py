"""The problems of ``lr_quality.py``: 13 recipes across optimisers, model kinds, tasks and noise levels.

**Development and held-out problems.** The split was decided and written here before any of the new problems was
run (issue 14): rules may be changed while looking at the ``dev`` problems only; the ``held-out`` ones are run to
report, never to tune. The four problems of the earlier benchmark the rules were first built on are ``dev``; the
two added to it later as held-out stay held-out.

=====  ==================  =========================  ===================  ==============  =========================
split  problem             optimiser                  model                task            noise
=====  ==================  =========================  ===================  ==============  =========================
dev    digits MLP          Adam, cosine               MLP, dropout         classification  low
dev    spirals MLP         SGD Nesterov, one-cycle    MLP                  classification  medium
dev    regression MLP      Adam, cosine               MLP                  regression      low
dev    digits CNN          AdamW, warm-up cosine      CNN, BN              classification  low
dev    blobs MLP           SGD, no momentum           MLP                  classification  high (overlapping blobs)
dev    moons MLP           RMSprop                    MLP                  classification  medium
dev    sequences GRU       Adam                       GRU (factory)        classification  medium
held   shapes CNN          Adam, step                 CNN, residual block  classification  low
held   digits custom       AdamW                      factory MLP          classification  low
held   noisy regression    SGD momentum               MLP                  regression      high (noise = signal)
held   spirals residual    Adagrad                    residual MLP         classification  medium
held   GRU regression      RMSprop                    GRU (factory)        regression      medium
held   noisy labels        AdamW, cosine              MLP                  classification  high (20 % labels random)
=====  ==================  =========================  ===================  ==============  =========================

Every generated data set has its own fixed numpy seed; the training seed changes only the split's order, the
initialisation and the batches.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _mlp(outputs: int) -> str:
    return (
        "model:\n  layers:\n    - {type: linear, out: 64}\n    - {type: relu}\n    - {type: linear, out: 64}\n"
        f"    - {{type: relu}}\n    - {{type: linear, out: {outputs}}}\n"
    )


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _regression(directory: Path, name: str, seed: int, noise: float, training: str, *, quadratic: bool) -> Path:
    """An MLP regression recipe on 2000 samples of 8 Gaussian features; ``training`` holds its optimiser lines.

    Targets: ``sin(x.w1) + 0.5 (x.w2)^2`` (``quadratic``) or ``x.w1 + 0.5 sin(2 x.w2)``, plus Gaussian noise of
    standard deviation ``noise``.
    """
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((2000, 8)).astype(np.float32)
    first, second = rng.standard_normal(8) / math.sqrt(8), rng.standard_normal(8) / math.sqrt(8)
    if quadratic:
        signal = np.sin(inputs @ first) + 0.5 * (inputs @ second) ** 2
    else:
        signal = inputs @ first + 0.5 * np.sin(2 * inputs @ second)
    targets = signal + noise * rng.standard_normal(2000)
    np.savez(directory / f"{name}.npz", x=inputs, y=targets.astype(np.float32))
    text = (
        f"name: {name}\nseed: 0\ndata: {{source: npz, path: {name}.npz, val_fraction: 0.2}}\n"
        + _mlp(1)
        + f"loss: mse\n{training}device: cpu\n"
    )
    return _write(directory, f"{name}.yaml", text)


def regression_recipe(directory: Path) -> Path:
    """A smooth non-linear regression with a little noise (0.1); Adam with a cosine schedule."""
    training = (
        "optimizer: {name: adam, lr: 1.0e-3}\nschedule: {name: cosine, interval: step}\n"
        "train: {epochs: 20, batch_size: 64}\n"
    )
    return _regression(directory, "regression", 1234, 0.1, training, quadratic=True)


def blobs_sgd_recipe(directory: Path) -> Path:
    """Four overlapping Gaussian blobs; plain SGD without momentum, constant LR."""
    text = (
        "name: blobs-sgd\nseed: 0\ndata: {source: blobs, samples: 2000, classes: 4, noise: 1.5, val_fraction: 0.2}\n"
        + _mlp(4)
        + "loss: cross_entropy\noptimizer: {name: sgd, lr: 0.05}\ntrain: {epochs: 10, batch_size: 32}\ndevice: cpu\n"
    )
    return _write(directory, "blobs_sgd.yaml", text)


def moons_rmsprop_recipe(directory: Path) -> Path:
    """Two interleaved moons; RMSprop, constant LR."""
    text = (
        "name: moons-rmsprop\nseed: 0\ndata: {source: moons, samples: 2000, noise: 0.25, val_fraction: 0.2}\n"
        + _mlp(2)
        + "loss: cross_entropy\noptimizer: {name: rmsprop, lr: 1.0e-3}\ntrain: {epochs: 10, batch_size: 64}\n"
        "device: cpu\n"
    )
    return _write(directory, "moons_rmsprop.yaml", text)


def noisy_regression_recipe(directory: Path) -> Path:
    """y = x.w + 0.5 sin(2 x.v) + e, e of standard deviation 1: about as much noise as signal; SGD momentum."""
    training = "optimizer: {name: sgd, lr: 1.0e-2, momentum: 0.9}\ntrain: {epochs: 12, batch_size: 64}\n"
    return _regression(directory, "noisy_regression", 4321, 1.0, training, quadratic=False)


def residual_adagrad_recipe(directory: Path) -> Path:
    """Spirals through two residual blocks; Adagrad."""
    block = (
        "    - type: residual\n      activation: relu\n"
        "      layers: [{type: linear, out: 64}, {type: relu}, {type: linear, out: 64}]\n"
    )
    text = (
        "name: spirals-residual-adagrad\nseed: 0\n"
        "data: {source: spirals, samples: 1500, classes: 3, noise: 0.2, val_fraction: 0.2}\n"
        "model:\n  layers:\n    - {type: linear, out: 64}\n    - {type: relu}\n"
        + block
        + block
        + "    - {type: linear, out: 3}\n"
        "loss: cross_entropy\noptimizer: {name: adagrad, lr: 1.0e-2}\ntrain: {epochs: 12, batch_size: 64}\n"
        "device: cpu\n"
    )
    return _write(directory, "residual_adagrad.yaml", text)


def noisy_labels_recipe(directory: Path) -> Path:
    """Four Gaussian blobs in 10 dimensions with 20 % of the labels replaced by random ones; AdamW, cosine."""
    rng = np.random.default_rng(99)
    centres = 1.5 * rng.standard_normal((4, 10))
    labels = rng.integers(0, 4, 3000)
    inputs = (centres[labels] + rng.standard_normal((3000, 10))).astype(np.float32)
    labels = np.where(rng.random(3000) < 0.2, rng.integers(0, 4, 3000), labels)
    np.savez(directory / "noisy_labels.npz", x=inputs, y=labels.astype(np.int64))
    text = (
        "name: noisy-labels-adamw\nseed: 0\ndata: {source: npz, path: noisy_labels.npz, val_fraction: 0.2}\n"
        + _mlp(4)
        + "loss: cross_entropy\noptimizer: {name: adamw, lr: 1.0e-3, weight_decay: 1.0e-2}\n"
        "schedule: {name: cosine, interval: step}\ntrain: {epochs: 10, batch_size: 64}\ndevice: cpu\n"
    )
    return _write(directory, "noisy_labels.yaml", text)


def _gru(directory: Path, name: str, data_file: str, loss: str, outputs: int, optimizer: str) -> Path:
    shutil.copy(HERE / "recipes" / "sequence_models.py", directory / "sequence_models.py")
    text = (
        f"name: {name}\nseed: 0\ndata: {{source: npz, path: {data_file}, val_fraction: 0.2}}\n"
        f'model: {{factory: "sequence_models:make_gru", args: {{features: 4, hidden: 32, outputs: {outputs}}}}}\n'
        f"loss: {loss}\noptimizer: {optimizer}\ntrain: {{epochs: 8, batch_size: 64}}\ndevice: cpu\n"
    )
    return _write(directory, f"{name}.yaml", text)


def gru_classification_recipe(directory: Path) -> Path:
    """Which of three channels has the largest sum over the last 10 of 20 steps (noisy); a GRU with Adam."""
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((2000, 20, 4)).astype(np.float32)  # (N, T, F)
    labels = np.argmax(inputs[:, 10:, :3].sum(axis=1) + 0.5 * rng.standard_normal((2000, 3)), axis=1)
    np.savez(directory / "sequences.npz", x=inputs, y=labels.astype(np.int64))
    return _gru(directory, "gru-classes", "sequences.npz", "cross_entropy", 3, "{name: adam, lr: 1.0e-3}")


def gru_regression_recipe(directory: Path) -> Path:
    """A decaying sum of channel 0 minus channel 1 over time, plus noise: the GRU integrates; RMSprop."""
    rng = np.random.default_rng(8)
    inputs = rng.standard_normal((2000, 20, 4)).astype(np.float32)  # (N, T, F)
    decay = 0.8 ** np.arange(19, -1, -1)  # recent steps count most
    targets = (inputs[:, :, 0] - inputs[:, :, 1]) @ decay / 2 + 0.3 * rng.standard_normal(2000)
    np.savez(directory / "sequence_regression.npz", x=inputs, y=targets.astype(np.float32))
    return _gru(directory, "gru-regression", "sequence_regression.npz", "mse", 1, "{name: rmsprop, lr: 1.0e-3}")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: its recipe, the training budget, the optimiser in words and its side of the split."""

    source: str | Callable[[Path], Path]  # a recipe under the repository, or a builder writing one into a folder
    epochs: int
    optimiser: str
    split: str  # "dev" or "held-out"

    def recipe(self, root: Path, scratch: Path) -> Path:
        return root / self.source if isinstance(self.source, str) else self.source(scratch)


PROBLEMS: dict[str, Problem] = {
    "digits MLP": Problem("recipes/digits_mlp.yaml", 6, "adam, cosine", "dev"),
    "spirals MLP": Problem("recipes/spirals_mlp.yaml", 12, "sgd nesterov, one-cycle", "dev"),
    "regression MLP": Problem(regression_recipe, 12, "adam, cosine", "dev"),
    "digits CNN": Problem("recipes/digits_cnn.yaml", 4, "adamw, warm-up cosine", "dev"),
    "blobs MLP": Problem(blobs_sgd_recipe, 10, "sgd", "dev"),
    "moons MLP": Problem(moons_rmsprop_recipe, 10, "rmsprop", "dev"),
    "sequences GRU": Problem(gru_classification_recipe, 8, "adam", "dev"),
    "shapes CNN": Problem("recipes/shapes_cnn.yaml", 4, "adam, step", "held-out"),
    "digits custom": Problem("recipes/custom_model.yaml", 6, "adamw", "held-out"),
    "noisy regression": Problem(noisy_regression_recipe, 12, "sgd momentum", "held-out"),
    "spirals residual": Problem(residual_adagrad_recipe, 12, "adagrad", "held-out"),
    "GRU regression": Problem(gru_regression_recipe, 8, "rmsprop", "held-out"),
    "noisy labels": Problem(noisy_labels_recipe, 10, "adamw, cosine", "held-out"),
}
