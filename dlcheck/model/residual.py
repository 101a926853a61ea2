"""Residual blocks: ``y = activation(body(x) + shortcut(x))`` (He et al. 2016).

The shortcut is the identity when the body keeps the shape. Otherwise it is a projection, the "option B"
of the ResNet paper: a 1x1 convolution for images ``(C, H, W)`` and signals ``(C, L)``, strided when the
body shrinks the spatial sides, or a linear layer for feature vectors ``(F,)``.
"""

from __future__ import annotations

__all__ = ["Residual", "make_shortcut"]

import torch
from torch import nn

from dlcheck.model.layers import LayerContext

Shape = tuple[int, ...]


class Residual(nn.Module):
    """``activation(body(x) + shortcut(x))``.

    Parameters
    ----------
    body : torch.nn.Module
        The residual branch, (N, *input_shape) → (N, *output_shape).
    shortcut : torch.nn.Module
        ``nn.Identity`` or a projection with the same output shape as ``body``.
    activation : torch.nn.Module
        Applied after the sum (``nn.Identity`` for none).
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module, activation: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.activation = activation

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(inputs) + self.shortcut(inputs))


def _stride(side: int, out_side: int) -> int | None:
    """The stride that takes a 1x1 kernel from ``side`` to ``out_side``: ceil(side / stride) == out_side."""
    for stride in range(1, side + 1):
        # a 1x1 kernel without padding outputs floor((side - 1) / stride) + 1 = ceil(side / stride)
        if (side - 1) // stride + 1 == out_side:
            return stride
    return None


def make_shortcut(context: LayerContext, body_shape: Shape) -> tuple[nn.Module, bool]:
    """The shortcut that brings the block's input to the body's output shape.

    Parameters
    ----------
    context : LayerContext
        The residual layer; ``context.shape`` is the block's per-sample input shape.
    body_shape : tuple of int
        The body's per-sample output shape.

    Returns
    -------
    shortcut : torch.nn.Module
        ``nn.Identity()``, or a projection (``nn.Conv1d``/``nn.Conv2d`` with a 1x1 kernel, ``nn.Linear``).
    projected : bool
        Whether the shortcut is a projection (it then has parameters to initialise).

    Raises
    ------
    ModelError
        When the body changes the rank (e.g. flattens) or grows a spatial side.
    """
    shape = context.shape
    if body_shape == shape:
        return nn.Identity(), False
    if len(body_shape) != len(shape):
        raise context.error(
            f"its body turns the input {shape} {context.origin} into {body_shape}, and a shortcut cannot "
            "change the rank of a sample",
            "move the flatten or linear layers out of the residual block, after it",
        )
    if context.layout == "sequence":  # (T, D) -> (T, D'): the same projection at every position
        if body_shape[0] != shape[0]:
            raise context.error(
                f"its body turns the sequence {shape} {context.origin} into {body_shape}, changing its length",
                "keep the number of positions in the residual body",
            )
        return nn.Linear(shape[-1], body_shape[-1]), True
    if len(shape) == 1:
        return nn.Linear(shape[0], body_shape[0]), True
    if len(shape) > 3:
        raise context.error(f"cannot project an input of shape {shape}", "keep the shape in the residual body")
    strides = [_stride(side, out_side) for side, out_side in zip(shape[1:], body_shape[1:], strict=True)]
    if any(stride is None for stride in strides):
        raise context.error(
            f"its body turns the input {shape} {context.origin} into {body_shape}, which no strided 1x1 "
            "projection of the shortcut can match",
            "keep the spatial sides in the body (`padding: same`) or shrink them by a whole factor (`stride: 2`)",
        )
    kernel_strides = [stride for stride in strides if stride is not None]
    if len(shape) == 3:
        return nn.Conv2d(shape[0], body_shape[0], kernel_size=1, stride=(kernel_strides[0], kernel_strides[1])), True
    return nn.Conv1d(shape[0], body_shape[0], kernel_size=1, stride=kernel_strides[0]), True
