"""The layer vocabulary of ``model.layers``: one strict model per layer type, tagged by ``type``.

:mod:`dlcheck.model.layers` has one builder per class here; a test fails when a type is added to
:data:`LAYER_TYPES` without a builder.
"""

from __future__ import annotations

__all__ = [
    "ACTIVATION_TYPES",
    "ELU",
    "GELU",
    "LAYER_TYPES",
    "SELU",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Dropout2d",
    "Flatten",
    "GroupNorm",
    "InstanceNorm2d",
    "LayerNorm",
    "LayerSpec",
    "LeakyReLU",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "PReLU",
    "ReLU",
    "Residual",
    "SiLU",
    "Sigmoid",
    "Tanh",
]

from typing import Annotated, Literal

from pydantic import Field

from dlcheck.recipe._schema_base import NonNegativeFloat, PositiveFloat, PositiveInt, Probability, _Strict

ACTIVATION_TYPES = ("relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid")


class _Layer(_Strict):
    pass


class Linear(_Layer):
    type: Literal["linear"]
    out: PositiveInt = Field(description="Output features.")
    bias: bool = True


class Conv1d(_Layer):
    type: Literal["conv1d"]
    out: PositiveInt = Field(description="Output channels.")
    kernel: PositiveInt = 3
    stride: PositiveInt = 1
    padding: Annotated[int, Field(ge=0)] | Literal["same"] = 0
    bias: bool = True


class Conv2d(_Layer):
    type: Literal["conv2d"]
    out: PositiveInt = Field(description="Output channels.")
    kernel: PositiveInt = 3
    stride: PositiveInt = 1
    padding: Annotated[int, Field(ge=0)] | Literal["same"] = 0
    bias: bool = True


class BatchNorm1d(_Layer):
    type: Literal["batchnorm1d"]
    momentum: Probability = 0.1


class BatchNorm2d(_Layer):
    type: Literal["batchnorm2d"]
    momentum: Probability = 0.1


class LayerNorm(_Layer):
    type: Literal["layernorm"]


class GroupNorm(_Layer):
    type: Literal["groupnorm"]
    groups: PositiveInt = Field(description="Number of channel groups; must divide the channels.")


class InstanceNorm2d(_Layer):
    type: Literal["instancenorm2d"]
    affine: bool = True


class Dropout(_Layer):
    type: Literal["dropout"]
    p: Probability = 0.5


class Dropout2d(_Layer):
    type: Literal["dropout2d"]
    p: Probability = 0.5


class _Pool(_Layer):
    kernel: PositiveInt = 2
    stride: PositiveInt | None = Field(None, description="Defaults to `kernel`.")


class MaxPool1d(_Pool):
    type: Literal["maxpool1d"]


class MaxPool2d(_Pool):
    type: Literal["maxpool2d"]


class AvgPool1d(_Pool):
    type: Literal["avgpool1d"]


class AvgPool2d(_Pool):
    type: Literal["avgpool2d"]


class AdaptiveAvgPool1d(_Layer):
    type: Literal["adaptive_avgpool1d"]
    output: PositiveInt = 1


class AdaptiveAvgPool2d(_Layer):
    type: Literal["adaptive_avgpool2d"]
    output: PositiveInt = 1


class AdaptiveMaxPool2d(_Layer):
    type: Literal["adaptive_maxpool2d"]
    output: PositiveInt = 1


class Flatten(_Layer):
    type: Literal["flatten"]


class _Activation(_Layer):
    pass


class ReLU(_Activation):
    type: Literal["relu"]


class LeakyReLU(_Activation):
    type: Literal["leaky_relu"]
    negative_slope: NonNegativeFloat = 0.01


class PReLU(_Activation):
    type: Literal["prelu"]


class ELU(_Activation):
    type: Literal["elu"]
    alpha: PositiveFloat = 1.0


class SELU(_Activation):
    type: Literal["selu"]


class GELU(_Activation):
    type: Literal["gelu"]


class SiLU(_Activation):
    type: Literal["silu"]


class Tanh(_Activation):
    type: Literal["tanh"]


class Sigmoid(_Activation):
    type: Literal["sigmoid"]


class Residual(_Layer):
    """``y = body(x) + shortcut(x)``; the shortcut is a 1x1 projection when the shapes differ."""

    type: Literal["residual"]
    layers: list[LayerSpec] = Field(min_length=1, description="The residual branch.")
    activation: Literal["relu", "gelu", "silu", "none"] = Field("none", description="Applied after the sum.")


LayerSpec = Annotated[
    (
        Linear
        | Conv1d
        | Conv2d
        | BatchNorm1d
        | BatchNorm2d
        | LayerNorm
        | GroupNorm
        | InstanceNorm2d
        | Dropout
        | Dropout2d
        | MaxPool1d
        | MaxPool2d
        | AvgPool1d
        | AvgPool2d
        | AdaptiveAvgPool1d
        | AdaptiveAvgPool2d
        | AdaptiveMaxPool2d
        | Flatten
        | ReLU
        | LeakyReLU
        | PReLU
        | ELU
        | SELU
        | GELU
        | SiLU
        | Tanh
        | Sigmoid
        | Residual
    ),
    Field(discriminator="type"),
]
Residual.model_rebuild()

LAYER_TYPES = (
    "linear",
    "conv1d",
    "conv2d",
    "batchnorm1d",
    "batchnorm2d",
    "layernorm",
    "groupnorm",
    "instancenorm2d",
    "dropout",
    "dropout2d",
    "maxpool1d",
    "maxpool2d",
    "avgpool1d",
    "avgpool2d",
    "adaptive_avgpool1d",
    "adaptive_avgpool2d",
    "adaptive_maxpool2d",
    "flatten",
    *ACTIVATION_TYPES,
    "residual",
)
