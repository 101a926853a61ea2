"""The layer vocabulary of ``model.layers``: one strict model per layer type, tagged by ``type``.

:mod:`dlcheck.model.layers` has one builder per class here; a test fails when a type is added to
:data:`LAYER_TYPES` without a builder.
"""

from __future__ import annotations

__all__ = [
    "ACTIVATION_TYPES",
    "ELU",
    "GELU",
    "GRU",
    "LAYER_TYPES",
    "LSTM",
    "SELU",
    "SEQUENCE_LAYER_TYPES",
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
    "Embedding",
    "Flatten",
    "GroupNorm",
    "InstanceNorm2d",
    "LanguageModelHead",
    "LayerNorm",
    "LayerSpec",
    "LeakyReLU",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "PReLU",
    "Positions",
    "ReLU",
    "Residual",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "TransformerBlock",
]

from typing import Annotated, Literal

from pydantic import Field

from dlcheck.recipe._schema_base import NonNegativeFloat, PositiveFloat, PositiveInt, Probability, _Strict

ACTIVATION_TYPES = ("relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid")
SEQUENCE_LAYER_TYPES = ("embedding", "positions", "transformer_block", "gru", "lstm", "lm_head")


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


# ------------------------------------------------------------------------------------ token sequences
# A sequence sample is (T,) token ids from the data; after `embedding` it is (T, D), one feature vector per
# position (channels last, as nn.Linear and nn.LayerNorm expect), and `lm_head` gives (T, V) logits.


class Embedding(_Layer):
    """Token ids (T,) to vectors (T, D); the vocabulary size comes from the data."""

    type: Literal["embedding"]
    dim: PositiveInt = Field(description="Features per token (D).")


class Positions(_Layer):
    """Adds a vector per position to (T, D); the longest sequence is the data's context length."""

    type: Literal["positions"]
    kind: Literal["learned", "sinusoidal"] = Field(
        "learned", description="`learned`: one trained vector per position; `sinusoidal`: Vaswani et al. 2017, fixed."
    )


class TransformerBlock(_Layer):
    """Pre-norm transformer block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``, on (T, D)."""

    type: Literal["transformer_block"]
    heads: PositiveInt = Field(4, description="Attention heads; must divide the features D.")
    mlp_ratio: PositiveInt = Field(4, description="Hidden width of the MLP, in multiples of D.")
    dropout: Probability = Field(0.0, description="Dropout on the attention weights and after each branch.")
    causal: bool = Field(
        True, description="Each position attends to itself and earlier positions only (false: bidirectional)."
    )


class _Recurrent(_Layer):
    hidden: PositiveInt = Field(description="Hidden features per direction.")
    num_layers: PositiveInt = Field(1, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Also run backwards in time (the output sees the future).")
    dropout: Probability = Field(0.0, description="Dropout between stacked layers.")


class GRU(_Recurrent):
    """A GRU over (T, D) giving its output at every position, (T, hidden) (x2 when bidirectional)."""

    type: Literal["gru"]


class LSTM(_Recurrent):
    """An LSTM over (T, D) giving its output at every position, (T, hidden) (x2 when bidirectional)."""

    type: Literal["lstm"]


class LanguageModelHead(_Layer):
    """Logits over the vocabulary at every position: (T, D) to (T, V)."""

    type: Literal["lm_head"]
    tie: bool = Field(False, description="Share the weight of the embedding layer (Press & Wolf 2017).")
    bias: bool = True


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
        | Embedding
        | Positions
        | TransformerBlock
        | GRU
        | LSTM
        | LanguageModelHead
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
    *SEQUENCE_LAYER_TYPES,
    "residual",
)
