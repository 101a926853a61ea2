"""Standardisation with statistics of the training split, stored in checkpoints and reapplied on the device.

The statistics are computed from the train split only, so nothing about the validation data leaks into
training. They are kept apart from the stored tensors (not baked in) so that a checkpoint can carry them and
``dlcheck`` can apply them again to new inputs.
"""

from __future__ import annotations

__all__ = ["Normalization", "RunningMoments", "normalization_from_tensor", "reduction_dims"]

from dataclasses import dataclass
from typing import Any

import torch

# A feature or channel whose standard deviation is below this is constant; dividing by it would blow up
# (e.g. the always-blank border pixels of the digits), so it is divided by 1 instead.
_CONSTANT_STD = 1e-8


@dataclass
class Normalization:
    """``(inputs - mean) / std`` with statistics broadcastable to one sample.

    Attributes
    ----------
    mean : torch.Tensor
        ``(C, 1, 1)`` for images ``(C, H, W)``, ``(C, 1)`` for sequences ``(C, L)``, ``(F,)`` for tabular ``(F,)``.
    std : torch.Tensor
        Same shape as ``mean``; never zero.

    Examples
    --------
    >>> norm = Normalization(mean=torch.tensor([1.0, 2.0]), std=torch.tensor([2.0, 4.0]))
    >>> norm.apply(torch.tensor([[3.0, 6.0]])).tolist()
    [[1.0, 1.0]]
    >>> Normalization.from_state_dict(norm.state_dict()) == norm
    True
    """

    mean: torch.Tensor
    std: torch.Tensor

    def apply(self, inputs: torch.Tensor) -> torch.Tensor:
        """Standardise a batch ``(N, *sample_shape)``; integer inputs are converted to float32 first."""
        if not inputs.is_floating_point():
            inputs = inputs.float()
        # `.to` is a no-op when the statistics already live on the batch's device (see `to`).
        mean = self.mean.to(device=inputs.device, dtype=inputs.dtype)
        std = self.std.to(device=inputs.device, dtype=inputs.dtype)
        return (inputs - mean) / std

    def to(self, device: torch.device | str) -> Normalization:
        """A copy whose statistics live on ``device``, so that :meth:`apply` copies nothing per batch."""
        return Normalization(mean=self.mean.to(device), std=self.std.to(device))

    def state_dict(self) -> dict[str, Any]:
        """Plain nested lists (JSON- and ``weights_only``-safe); the nesting keeps the shape."""
        return {"mean": self.mean.cpu().tolist(), "std": self.std.cpu().tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Normalization:
        """Rebuild from :meth:`state_dict` (float32 tensors on the CPU)."""
        return cls(
            mean=torch.tensor(state["mean"], dtype=torch.float32), std=torch.tensor(state["std"], dtype=torch.float32)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalization):
            return NotImplemented
        return (
            self.mean.shape == other.mean.shape
            and bool(torch.equal(self.mean.cpu(), other.mean.cpu()))
            and bool(torch.equal(self.std.cpu(), other.std.cpu()))
        )


def reduction_dims(batch_ndim: int) -> tuple[int, ...]:
    """Dimensions averaged over for a batch with ``batch_ndim`` dimensions.

    Per feature for ``(N, F)`` (and for scalar samples ``(N,)``), per channel (dimension 1) otherwise:
    ``(N, C, H, W)`` reduces over ``(0, 2, 3)``.
    """
    if batch_ndim <= 2:
        return (0,)
    return (0, *range(2, batch_ndim))


class RunningMoments:
    """Mean and variance accumulated over chunks (Chan et al.'s parallel update, in float64).

    Merging per-chunk moments avoids the cancellation of the naive ``E[x^2] - E[x]^2`` when the data sit far
    from zero (raw pixel values, timestamps), and lets a Dataset be scanned without holding it in memory.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None  # sum of squared deviations from the mean

    def update(self, batch: torch.Tensor) -> None:
        """Add a batch ``(N, *sample_shape)``."""
        batch = batch.detach().to(device="cpu", dtype=torch.float64)
        dims = reduction_dims(batch.ndim)
        count = 1
        for dim in dims:
            count *= batch.shape[dim]
        if count == 0:
            return
        var, mean = torch.var_mean(batch, dim=dims, correction=0, keepdim=True)
        mean, m2 = mean.squeeze(0), var.squeeze(0) * count  # (C, 1, 1) / (F,)
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * count / total)
        self.count = total

    def normalization(self) -> Normalization:
        """The population statistics seen so far, as float32; constant channels get ``std = 1``."""
        if self.mean is None or self.m2 is None:
            raise ValueError("no samples were added")
        std = (self.m2 / self.count).sqrt()
        std = torch.where(std < _CONSTANT_STD, torch.ones_like(std), std)
        return Normalization(mean=self.mean.float(), std=std.float())


def normalization_from_tensor(inputs: torch.Tensor) -> Normalization:
    """Per-channel (images) or per-feature (tabular) population mean and standard deviation.

    Parameters
    ----------
    inputs : torch.Tensor
        The training inputs, ``(N, C, H, W)``, ``(N, C, L)`` or ``(N, F)``.

    Returns
    -------
    Normalization
        ``mean``/``std`` of shape ``(C, 1, 1)``, ``(C, 1)`` or ``(F,)``.

    Examples
    --------
    >>> norm = normalization_from_tensor(torch.tensor([[0.0, 5.0], [2.0, 5.0]]))
    >>> norm.mean.tolist(), norm.std.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    """
    moments = RunningMoments()
    moments.update(inputs)
    return moments.normalization()
