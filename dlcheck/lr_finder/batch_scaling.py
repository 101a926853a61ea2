"""``--batch-sizes``: measure how the best LR scales with the batch size instead of assuming a rule.

Two rules of thumb compete: linear scaling, ``lr ∝ B`` (Goyal et al. 2017, "Accurate, Large Minibatch SGD"),
and square-root scaling, ``lr ∝ sqrt(B)`` (common for Adam-type optimisers). A toy study found
range-test suggestions reacting much less than either to a 16x batch change while the truly best LR moved
100x, and an LR found at one batch size being reused at another is a known trap (Lightning
#4878). So: run the range test at each batch size, fit ``log lr = a + alpha log B`` by least squares,
compare ``alpha`` with 1 and 0.5, and give the LR the fit predicts for the target global batch.
"""

from __future__ import annotations

__all__ = ["BatchScalingResult", "ScalingFit", "batch_size_sweep", "fit_scaling"]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcheck.engine.parts import RecipeParts
from dlcheck.errors import InvalidArgument
from dlcheck.lr_finder.finder import LRFinderResult, find_lr

RULES = {"linear": 1.0, "square root": 0.5, "constant": 0.0}


@dataclass(frozen=True)
class ScalingFit:
    """``lr(B) = exp(intercept) * B ** exponent``, fitted in log-log space.

    Attributes
    ----------
    exponent : float
        ``alpha``.
    intercept : float
        ``a`` (natural log).
    standard_error : float or None
        Of ``alpha``; None with only two batch sizes (a line through two points has no residual).
    """

    exponent: float
    intercept: float
    standard_error: float | None

    def predict(self, batch_size: float) -> float:
        return float(math.exp(self.intercept + self.exponent * math.log(batch_size)))

    @property
    def nearest_rule(self) -> str:
        return min(RULES, key=lambda name: abs(RULES[name] - self.exponent))


def fit_scaling(batch_sizes: Sequence[float], lrs: Sequence[float]) -> ScalingFit:
    """Least-squares fit of ``log lr`` on ``log B``.

    Examples
    --------
    >>> fit = fit_scaling([32, 64, 128], [1e-3, 2e-3, 4e-3])
    >>> round(fit.exponent, 6), fit.nearest_rule, round(fit.predict(256), 6)
    (1.0, 'linear', 0.008)
    """
    if len(batch_sizes) != len(lrs) or len(set(batch_sizes)) < 2:
        raise ValueError("need at least two different batch sizes, each with an LR")
    x = np.log(np.asarray(batch_sizes, dtype=np.float64))
    y = np.log(np.asarray(lrs, dtype=np.float64))
    slope, intercept = np.polyfit(x, y, 1)
    error = None
    if len(x) > 2:
        residuals = y - (intercept + slope * x)
        variance = float(residuals @ residuals) / (len(x) - 2)
        error = math.sqrt(variance / float(((x - x.mean()) ** 2).sum()))
    return ScalingFit(float(slope), float(intercept), error)


@dataclass(frozen=True)
class BatchScalingResult:
    """The sweep over batch sizes, the fit, and the LR for the target batch."""

    batch_sizes: list[int]
    results: list[LRFinderResult]
    fit: ScalingFit | None
    target_batch_size: int
    target_lr: float | None
    message: str

    @property
    def suggestions(self) -> list[float | None]:
        return [result.suggested_lr for result in self.results]


def _message(fit: ScalingFit | None, target: int, target_lr: float | None, measured: dict[int, float]) -> str:
    if fit is None or target_lr is None:
        return "Fewer than two batch sizes gave a suggestion, so no scaling could be fitted."
    error = f" ± {fit.standard_error:.2f}" if fit.standard_error is not None else ""
    nearest = min(measured, key=lambda size: abs(math.log(size / target)))
    base = measured[nearest]
    linear = base * target / nearest
    root = base * math.sqrt(target / nearest)
    return (
        f"The suggested LR grows as B^{fit.exponent:.2f}{error}: closest to {fit.nearest_rule} scaling. "
        f"For the target batch {target}: lr {target_lr:.1e} from the fit (linear scaling from batch {nearest} "
        f"would give {linear:.1e}, square-root scaling {root:.1e})."
    )


def batch_size_sweep(
    parts: RecipeParts,
    batch_sizes: Sequence[int],
    *,
    target_batch_size: int | None = None,
    known: Mapping[int, LRFinderResult] | None = None,
    **options: Any,
) -> BatchScalingResult:
    """Run :func:`~dlcheck.lr_finder.find_lr` at each batch size and fit the scaling exponent.

    Parameters
    ----------
    parts : RecipeParts
    batch_sizes : sequence of int
        At least two different global batch sizes.
    target_batch_size : int, optional
        The global batch to recommend an LR for (default ``train.batch_size``).
    known : mapping, optional
        Results already computed, by batch size (reused rather than run again).
    **options
        Passed to :func:`find_lr` (``steps``, ``repeats``, ``seed``...).

    Raises
    ------
    InvalidArgument
        Fewer than two different sizes, a size below 1, or one larger than the training split.
    """
    sizes = sorted(set(int(size) for size in batch_sizes))
    train_size = parts.train_size()
    given = ",".join(map(str, batch_sizes))
    if len(sizes) < 2:
        raise InvalidArgument("batch_sizes", f"batch_sizes={given}: give at least two different sizes.")
    for size in sizes:
        if size < 1 or size > train_size:
            raise InvalidArgument(
                "batch_sizes",
                f"batch_sizes={given}: {size} is not between 1 and the training split's {train_size} samples.",
            )
    target = target_batch_size or parts.recipe.train.batch_size
    if target < 1:
        raise InvalidArgument("target_batch_size", f"target_batch_size={target}: must be a positive batch size.")
    known = known or {}
    results = [known[size] if size in known else find_lr(parts, batch_size=size, **options) for size in sizes]
    measured = {size: result.suggested_lr for size, result in zip(sizes, results, strict=True) if result.suggested_lr}
    fit = fit_scaling(list(measured), list(measured.values())) if len(measured) >= 2 else None
    target_lr = fit.predict(target) if fit is not None else None
    return BatchScalingResult(sizes, results, fit, target, target_lr, _message(fit, target, target_lr, measured))
