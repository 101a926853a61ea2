"""The layer vocabulary: one builder per recipe layer type, each inferring the shape it outputs.

A builder receives the layer's spec and a :class:`LayerContext` (the layer's dotted key, the per-sample
shape it receives and where that shape came from) and returns a concrete torch module together with the
per-sample shape it outputs. Concrete modules (never ``nn.Lazy*``) mean that parameter counts and
initialisation are known before any data flows, and that a layer which cannot take its input fails here
with the recipe key, not later inside a matmul.

Shapes are per sample, without the batch dimension: ``(F,)`` feature vectors, ``(C, L)`` signals and
``(C, H, W)`` images. ``residual`` is not here: its body needs the whole stack builder, so it is handled by
:mod:`dlcheck.model.stack` (which also inserts the flatten a linear layer needs on a ``(C, ...)`` input).
"""

from __future__ import annotations

__all__ = ["LAYER_BUILDERS", "BuiltLayer", "LayerBuilder", "LayerContext", "flat_size"]

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from dlcheck.errors import ModelError
from dlcheck.recipe import schema_layers as schema

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerContext:
    """Where a layer sits in the recipe and what it receives.

    Attributes
    ----------
    path : str
        Dotted recipe key, e.g. ``model.layers.3`` or ``model.layers.4.layers.0``.
    type : str
        The layer's ``type``.
    shape : tuple of int
        Per-sample input shape, e.g. ``(16, 8, 8)``.
    origin : str
        Where that shape came from, e.g. ``"from the data"`` or ``"after model.layers.2 (flatten)"``.
    flattened_by : tuple of (str, str) or None
        Path and type of the layer that turned an image or signal into a vector, e.g.
        ``("model.layers.2", "flatten")``; ``None`` when the input is not a vector or came as one.
    """

    path: str
    type: str
    shape: Shape
    origin: str
    flattened_by: tuple[str, str] | None = None

    def error(self, problem: str, fix: str) -> ModelError:
        """A :class:`ModelError` naming this layer, its type, the problem and the fix."""
        return ModelError(f"{self.path} ({self.type}): {problem}; {fix}")


@dataclass
class BuiltLayer:
    """A concrete module, the per-sample shape it outputs and the kind shown in the summary."""

    module: nn.Module
    shape: Shape
    kind: str


LayerBuilder = Callable[[Any, LayerContext], BuiltLayer]


def flat_size(shape: Shape) -> int:
    """Number of values in one sample of this shape, e.g. 64 for ``(1, 8, 8)``."""
    return math.prod(shape)


# --------------------------------------------------------------------------------------- input ranks

_IMAGE = "an image input (C, H, W)"
_SIGNAL = "a signal input (C, L)"

# The layer to use instead when a layer receives an input of another rank: conv2d on (C, L) → conv1d.
_ALTERNATIVES: dict[str, dict[int, str]] = {
    "conv1d": {3: "conv2d"},
    "conv2d": {2: "conv1d"},
    "maxpool1d": {3: "maxpool2d"},
    "maxpool2d": {2: "maxpool1d"},
    "avgpool1d": {3: "avgpool2d"},
    "avgpool2d": {2: "avgpool1d"},
    "adaptive_avgpool1d": {3: "adaptive_avgpool2d"},
    "adaptive_avgpool2d": {2: "adaptive_avgpool1d"},
    "adaptive_maxpool2d": {2: "adaptive_avgpool1d"},
    "batchnorm1d": {3: "batchnorm2d"},
    "batchnorm2d": {1: "batchnorm1d", 2: "batchnorm1d"},
    "dropout2d": {1: "dropout", 2: "dropout"},
    "instancenorm2d": {2: "groupnorm` with `groups` equal to the channels"},
}


def _require_rank(context: LayerContext, ranks: tuple[int, ...], needed: str) -> None:
    """Raise a ModelError that says what the layer needed and how to fix the recipe."""
    rank = len(context.shape)
    if rank in ranks:
        return
    alternative = _ALTERNATIVES.get(context.type, {}).get(rank)
    if alternative is not None:
        fix = f"use `type: {alternative}` for an input of shape {context.shape}"
    elif rank == 1 and context.flattened_by is not None and context.flattened_by[1] == "flatten":
        fix = f"move the flatten ({context.flattened_by[0]}) after the convolution and pooling layers"
    elif rank == 1 and context.flattened_by is not None:
        path, kind = context.flattened_by
        fix = f"a {kind} layer flattens its input, so put the convolution and pooling layers before {path}"
    elif rank == 1:
        fix = f"the data's samples are feature vectors of shape {context.shape}; use linear layers instead"
    else:
        fix = f"remove it, or choose a layer that accepts inputs of shape {context.shape}"
    raise context.error(f"needs {needed} but receives {context.shape} {context.origin}", fix)


def _channels(context: LayerContext) -> int:
    # (C, ...) inputs carry their channels first; a feature vector (F,) counts its features as channels
    return context.shape[0]


# ------------------------------------------------------------------------------------ spatial sizes


def _padding(context: LayerContext, spec: schema.Conv1d | schema.Conv2d) -> int | str:
    if spec.padding != "same":
        return spec.padding
    if spec.stride != 1:
        # torch only pads 'same' for stride 1; for stride s a side shrinks to ceil(side / s) anyway
        raise context.error(
            f"padding 'same' only works with stride 1 (found stride {spec.stride}, input {context.shape} "
            f"{context.origin})",
            f"use `padding: {spec.kernel // 2}` with `stride: {spec.stride}` (the output is then about "
            f"1/{spec.stride} of the input's size), or `stride: 1`",
        )
    return "same"


def _shrink(context: LayerContext, sides: Shape, kernel: int, stride: int, padding: int) -> Shape:
    """Sizes of the spatial sides after a kernel slides over them; a side below 1 is an error."""
    # floor((side + 2 * padding - kernel) / stride) + 1, as torch computes it for conv and pooling
    out = tuple((side + 2 * padding - kernel) // stride + 1 for side in sides)
    if min(out) < 1:
        shrunk = (context.shape[0], *(max(side, 0) for side in out))
        how = f"kernel {kernel}, stride {stride} and padding {padding}"
        raise context.error(
            f"{how} shrink the input {context.shape} {context.origin} to {shrunk}",
            "use a smaller kernel, `padding: same` on the convolutions before it, or fewer pooling layers",
        )
    return out


# ------------------------------------------------------------------------------------------ builders


def _linear(spec: schema.Linear, context: LayerContext) -> BuiltLayer:
    # the stack builder has already inserted a flatten before a linear layer on a (C, ...) input
    _require_rank(context, (1,), "a feature vector (F,)")
    return BuiltLayer(nn.Linear(context.shape[0], spec.out, bias=spec.bias), (spec.out,), spec.type)


def _conv1d(spec: schema.Conv1d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (2,), _SIGNAL)
    padding = _padding(context, spec)
    channels, length = context.shape
    if padding == "same":
        out_length = length
    else:
        assert isinstance(padding, int)
        (out_length,) = _shrink(context, (length,), spec.kernel, spec.stride, padding)
    module = nn.Conv1d(channels, spec.out, spec.kernel, stride=spec.stride, padding=padding, bias=spec.bias)
    return BuiltLayer(module, (spec.out, out_length), spec.type)


def _conv2d(spec: schema.Conv2d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (3,), _IMAGE)
    padding = _padding(context, spec)
    channels, height, width = context.shape
    if padding == "same":
        sides: Shape = (height, width)
    else:
        assert isinstance(padding, int)
        sides = _shrink(context, (height, width), spec.kernel, spec.stride, padding)
    module = nn.Conv2d(channels, spec.out, spec.kernel, stride=spec.stride, padding=padding, bias=spec.bias)
    return BuiltLayer(module, (spec.out, *sides), spec.type)


def _batchnorm1d(spec: schema.BatchNorm1d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (1, 2), "a feature vector (F,) or a signal (C, L)")
    return BuiltLayer(nn.BatchNorm1d(_channels(context), momentum=spec.momentum), context.shape, spec.type)


def _batchnorm2d(spec: schema.BatchNorm2d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (3,), _IMAGE)
    return BuiltLayer(nn.BatchNorm2d(_channels(context), momentum=spec.momentum), context.shape, spec.type)


def _layernorm(spec: schema.LayerNorm, context: LayerContext) -> BuiltLayer:
    # Normalises over the whole sample: the last dim for (F,), all of (C, H, W) for images, with one
    # weight and bias per value (as nn.LayerNorm([C, H, W]) does). Use groupnorm with groups 1 for the
    # per-channel-affine variant.
    return BuiltLayer(nn.LayerNorm(list(context.shape)), context.shape, spec.type)


def _groupnorm(spec: schema.GroupNorm, context: LayerContext) -> BuiltLayer:
    channels = _channels(context)
    if channels % spec.groups:
        divisors = [groups for groups in range(1, channels + 1) if channels % groups == 0]
        shown = ", ".join(str(groups) for groups in divisors[:8]) + (", ..." if len(divisors) > 8 else "")
        raise context.error(
            f"groups {spec.groups} must divide the {channels} channels of its input {context.shape} {context.origin}",
            f"use one of groups {shown}",
        )
    return BuiltLayer(nn.GroupNorm(spec.groups, channels), context.shape, spec.type)


def _instancenorm2d(spec: schema.InstanceNorm2d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (3,), _IMAGE)
    if context.shape[1] * context.shape[2] == 1:
        # torch refuses to normalise a single value per channel in training mode
        raise context.error(
            f"needs more than one pixel per channel but receives {context.shape} {context.origin}",
            "move it before the pooling that shrinks the image to 1x1, or use batchnorm2d",
        )
    return BuiltLayer(nn.InstanceNorm2d(_channels(context), affine=spec.affine), context.shape, spec.type)


def _dropout(spec: schema.Dropout, context: LayerContext) -> BuiltLayer:
    return BuiltLayer(nn.Dropout(spec.p), context.shape, spec.type)


def _dropout2d(spec: schema.Dropout2d, context: LayerContext) -> BuiltLayer:
    _require_rank(context, (3,), _IMAGE)
    return BuiltLayer(nn.Dropout2d(spec.p), context.shape, spec.type)


def _pool(spec: Any, context: LayerContext) -> BuiltLayer:
    two_dimensional = spec.type.endswith("2d")
    _require_rank(context, (3,) if two_dimensional else (2,), _IMAGE if two_dimensional else _SIGNAL)
    stride = spec.kernel if spec.stride is None else spec.stride
    sides = _shrink(context, context.shape[1:], spec.kernel, stride, 0)
    classes: dict[str, type[nn.Module]] = {
        "maxpool1d": nn.MaxPool1d,
        "maxpool2d": nn.MaxPool2d,
        "avgpool1d": nn.AvgPool1d,
        "avgpool2d": nn.AvgPool2d,
    }
    module = classes[spec.type](spec.kernel, stride=stride)
    return BuiltLayer(module, (context.shape[0], *sides), spec.type)


def _adaptive_pool(spec: Any, context: LayerContext) -> BuiltLayer:
    two_dimensional = spec.type.endswith("2d")
    _require_rank(context, (3,) if two_dimensional else (2,), _IMAGE if two_dimensional else _SIGNAL)
    classes: dict[str, type[nn.Module]] = {
        "adaptive_avgpool1d": nn.AdaptiveAvgPool1d,
        "adaptive_avgpool2d": nn.AdaptiveAvgPool2d,
        "adaptive_maxpool2d": nn.AdaptiveMaxPool2d,
    }
    sides = (spec.output, spec.output) if two_dimensional else (spec.output,)
    return BuiltLayer(classes[spec.type](spec.output), (context.shape[0], *sides), spec.type)


def _flatten(spec: schema.Flatten, context: LayerContext) -> BuiltLayer:
    # nn.Flatten keeps the batch dim: (N, C, H, W) → (N, C*H*W)
    return BuiltLayer(nn.Flatten(), (flat_size(context.shape),), spec.type)


def _activation(spec: Any, context: LayerContext) -> BuiltLayer:
    module: nn.Module
    if spec.type == "leaky_relu":
        module = nn.LeakyReLU(spec.negative_slope)
    elif spec.type == "elu":
        module = nn.ELU(spec.alpha)
    elif spec.type == "prelu":
        # One learned slope per channel for (C, L) and (C, H, W) inputs, one shared slope for feature
        # vectors (F,), as in He et al. 2015 ("channel-wise" and "channel-shared" variants).
        module = nn.PReLU(num_parameters=context.shape[0] if len(context.shape) >= 2 else 1)
    else:
        classes: dict[str, type[nn.Module]] = {
            "relu": nn.ReLU,
            "selu": nn.SELU,
            "gelu": nn.GELU,
            "silu": nn.SiLU,
            "tanh": nn.Tanh,
            "sigmoid": nn.Sigmoid,
        }
        module = classes[spec.type]()
    return BuiltLayer(module, context.shape, spec.type)


LAYER_BUILDERS: dict[str, LayerBuilder] = {
    "linear": _linear,
    "conv1d": _conv1d,
    "conv2d": _conv2d,
    "batchnorm1d": _batchnorm1d,
    "batchnorm2d": _batchnorm2d,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "instancenorm2d": _instancenorm2d,
    "dropout": _dropout,
    "dropout2d": _dropout2d,
    "maxpool1d": _pool,
    "maxpool2d": _pool,
    "avgpool1d": _pool,
    "avgpool2d": _pool,
    "adaptive_avgpool1d": _adaptive_pool,
    "adaptive_avgpool2d": _adaptive_pool,
    "adaptive_maxpool2d": _adaptive_pool,
    "flatten": _flatten,
    **{name: _activation for name in schema.ACTIVATION_TYPES},
}
"""Builder of every layer type but ``residual`` (see :mod:`dlcheck.model.stack`)."""
