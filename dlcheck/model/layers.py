"""The layer vocabulary: one builder per recipe layer type, each inferring the shape it outputs.

A builder receives the layer's spec and a :class:`LayerContext` (the layer's dotted key, the per-sample
shape it receives and where that shape came from) and returns a concrete torch module together with the
per-sample shape it outputs. Concrete modules (never ``nn.Lazy*``) mean that parameter counts and
initialisation are known before any data flows, and that a layer which cannot take its input fails here
with the recipe key, not later inside a matmul.

Shapes are per sample, without the batch dimension: ``(F,)`` feature vectors, ``(C, L)`` signals and
``(C, H, W)`` images. Token sequences have a *layout* of their own (:data:`Layout`): ``(T,)`` token ids from
the data, which only an ``embedding`` takes, then ``(T, D)`` with the features *last*, one vector per
position; there ``linear`` and ``layernorm`` act on each position alone (a layer norm over the whole
``(T, D)`` sample would let every position see the future) and channels-first layers (convolutions,
pooling, batch norm) are refused. ``residual`` is not here: its body needs the whole stack builder, so it is handled by
:mod:`dlcheck.model.stack` (which also inserts the flatten a linear layer needs on a ``(C, ...)`` input).
"""

from __future__ import annotations

__all__ = ["LAYER_BUILDERS", "BuiltLayer", "LayerBuilder", "LayerContext", "Layout", "check_layout", "flat_size"]

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from dlcheck.errors import ModelError
from dlcheck.recipe import schema_layers as schema

Shape = tuple[int, ...]
Layout = Literal["plain", "tokens", "sequence"]
"""``plain``: features, signals or images; ``tokens``: (T,) token ids; ``sequence``: (T, D), features last."""


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
    layout : {"plain", "tokens", "sequence"}
        What the shape means (:data:`Layout`).
    vocabulary_size : int or None
        V, for token sequences.
    embedding : torch.nn.Embedding or None
        The stack's token embedding, built before this layer (what ``lm_head`` with ``tie`` shares).
    """

    path: str
    type: str
    shape: Shape
    origin: str
    flattened_by: tuple[str, str] | None = None
    layout: Layout = "plain"
    vocabulary_size: int | None = None
    embedding: nn.Embedding | None = None

    def error(self, problem: str, fix: str) -> ModelError:
        """A :class:`ModelError` naming this layer, its type, the problem and the fix."""
        return ModelError(f"{self.path} ({self.type}): {problem}; {fix}")


@dataclass
class BuiltLayer:
    """A concrete module, the per-sample shape it outputs, the kind shown in the summary, and the layout it
    outputs (``None``: the layout it received)."""

    module: nn.Module
    shape: Shape
    kind: str
    layout: Layout | None = None


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
    if context.layout == "sequence":  # (T, D) -> (T, out): the same linear map at every position
        length, features = context.shape
        return BuiltLayer(nn.Linear(features, spec.out, bias=spec.bias), (length, spec.out), spec.type)
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
    if context.layout == "sequence":  # each position alone: over (T, D) the statistics would carry the future
        return BuiltLayer(nn.LayerNorm(context.shape[-1]), context.shape, spec.type)
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
    return BuiltLayer(nn.Flatten(), (flat_size(context.shape),), spec.type, layout="plain")


def _activation(spec: Any, context: LayerContext) -> BuiltLayer:
    module: nn.Module
    if spec.type == "leaky_relu":
        module = nn.LeakyReLU(spec.negative_slope)
    elif spec.type == "elu":
        module = nn.ELU(spec.alpha)
    elif spec.type == "prelu":
        # One learned slope per channel for (C, L) and (C, H, W) inputs, one shared slope for feature
        # vectors (F,), as in He et al. 2015 ("channel-wise" and "channel-shared" variants).
        # A sequence (T, D) shares one slope: nn.PReLU's per-channel slopes are for channels first.
        channel_wise = len(context.shape) >= 2 and context.layout == "plain"
        module = nn.PReLU(num_parameters=context.shape[0] if channel_wise else 1)
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


# ------------------------------------------------------------------------------------ token sequences

# Layers that act on each position's features (or, for flatten and residual, keep to their contract) and so
# work on (T, D); channels-first layers would take the positions for channels.
_SEQUENCE_LAYERS = (
    "linear",
    "layernorm",
    "dropout",
    "flatten",
    "residual",
    *schema.ACTIVATION_TYPES,
    *schema.SEQUENCE_LAYER_TYPES,
)
_SEQUENCE_START = "{type: embedding, dim: 64}"


def check_layout(context: LayerContext) -> None:
    """Refuse a layer that cannot take the layout it receives: token ids need an embedding first, sequence
    layers need a sequence, channels-first layers cannot take one.

    Raises
    ------
    ModelError
        Naming the layer, what it received and the fix.
    """
    kind, layout = context.type, context.layout
    if layout == "tokens" and kind != "embedding":
        raise context.error(
            f"receives token ids {context.shape} {context.origin}, integers that index a vocabulary",
            f"start the model with an embedding layer, e.g. {_SEQUENCE_START}",
        )
    if kind == "embedding" and layout != "tokens":
        raise context.error(
            f"takes token ids, but receives {context.shape} {context.origin}",
            "use an embedding as the first layer only, on token data (data.source text, or a factory returning "
            "integer (N, T) inputs and targets)",
        )
    if kind in schema.SEQUENCE_LAYER_TYPES and kind != "embedding" and layout != "sequence":
        raise context.error(
            f"works on sequences (T, D) but receives {context.shape} {context.origin}",
            f"use it on token data after an embedding layer, e.g. {_SEQUENCE_START}",
        )
    if layout == "sequence" and kind not in _SEQUENCE_LAYERS:
        raise context.error(
            f"takes channels first, but receives a sequence {context.shape} {context.origin}: one vector of "
            f"{context.shape[-1]} features per position, features last",
            "on sequences use linear, layernorm, dropout, activations, positions, transformer_block, gru or lstm",
        )


def _embedding(spec: schema.Embedding, context: LayerContext) -> BuiltLayer:
    assert context.vocabulary_size is not None  # the stack builder sends only token ids here
    (length,) = context.shape
    module = nn.Embedding(context.vocabulary_size, spec.dim)
    return BuiltLayer(module, (length, spec.dim), spec.type, layout="sequence")


def _positions(spec: schema.Positions, context: LayerContext) -> BuiltLayer:
    from dlcheck.model.sequence import LearnedPositions, SinusoidalPositions

    length, features = context.shape
    module = LearnedPositions(length, features) if spec.kind == "learned" else SinusoidalPositions(length, features)
    return BuiltLayer(module, context.shape, f"positions ({spec.kind})")


def _transformer_block(spec: schema.TransformerBlock, context: LayerContext) -> BuiltLayer:
    from dlcheck.model.sequence import TransformerBlock

    features = context.shape[-1]
    if features % spec.heads:
        divisors = [heads for heads in range(1, features + 1) if features % heads == 0]
        raise context.error(
            f"{spec.heads} heads must divide the {features} features of its input {context.shape} {context.origin}",
            f"use one of heads {', '.join(str(heads) for heads in divisors[:8])}, or change the embedding's `dim`",
        )
    module = TransformerBlock(
        features, heads=spec.heads, mlp_ratio=spec.mlp_ratio, dropout=spec.dropout, causal=spec.causal
    )
    return BuiltLayer(module, context.shape, spec.type if spec.causal else f"{spec.type} (bidirectional)")


def _recurrent(spec: Any, context: LayerContext) -> BuiltLayer:
    from dlcheck.model.sequence import Recurrent

    length, features = context.shape
    module = Recurrent(
        spec.type,
        features,
        hidden=spec.hidden,
        num_layers=spec.num_layers,
        bidirectional=spec.bidirectional,
        dropout=spec.dropout,
    )
    directions = 2 if spec.bidirectional else 1
    kind = spec.type if not spec.bidirectional else f"{spec.type} (bidirectional)"
    return BuiltLayer(module, (length, spec.hidden * directions), kind)


def _lm_head(spec: schema.LanguageModelHead, context: LayerContext) -> BuiltLayer:
    from dlcheck.model.sequence import LanguageModelHead

    assert context.vocabulary_size is not None
    length, features = context.shape
    tied = None
    if spec.tie:
        if context.embedding is None:
            raise context.error(
                "`tie: true` shares the embedding's weight, but no embedding layer comes before it",
                "remove `tie`, or start the model with `{type: embedding, dim: ...}`",
            )
        if context.embedding.embedding_dim != features:
            raise context.error(
                f"`tie: true` shares the embedding's weight ({context.vocabulary_size} x "
                f"{context.embedding.embedding_dim}), but the head receives {features} features per position "
                f"{context.origin}",
                f"make the layer before the head output {context.embedding.embedding_dim} features, or remove `tie`",
            )
        tied = context.embedding
    module = LanguageModelHead(features, context.vocabulary_size, bias=spec.bias, tied=tied)
    return BuiltLayer(module, (length, context.vocabulary_size), "lm_head (tied)" if tied is not None else spec.type)


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
    "embedding": _embedding,
    "positions": _positions,
    "transformer_block": _transformer_block,
    "gru": _recurrent,
    "lstm": _recurrent,
    "lm_head": _lm_head,
}
"""Builder of every layer type but ``residual`` (see :mod:`dlcheck.model.stack`)."""
