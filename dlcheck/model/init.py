"""Initialisation of linear and convolution weights, with gains matched to the activation that follows.

Functions of their inputs: the caller owns the random state (``build_model`` forks the CPU generator and
seeds it, so the caller's global RNG is untouched).

Matching the activation (``InitConfig.weight`` names the scheme, the activation picks the gain):

==============================  ==================================================================
next activation                 nonlinearity given to ``torch.nn.init``
==============================  ==================================================================
relu                            ``relu`` (gain sqrt(2), He et al. 2015)
leaky_relu                      ``leaky_relu`` with ``a = negative_slope``
tanh, sigmoid                   ``tanh`` (gain 5/3), ``sigmoid`` (gain 1)
selu                            ``linear`` (gain 1): with ``fan_in`` this is LeCun normal, the
                                initialisation self-normalising networks assume (Klambauer et al.
                                2017); torch's own ``selu`` gain of 3/4 is meant for other schemes
gelu, silu, elu, prelu          ``relu``: the usual approximation, as all four are close to relu
                                for positive inputs
none (e.g. the last layer)      ``linear`` (gain 1)
==============================  ==================================================================

Sequence layers: token embeddings and learned positions get ``normal`` with ``std``, torch's N(0, 1) for
``default``, and otherwise N(0, 1/D): vectors of unit expected norm, so that a head tied to the embedding
starts with logits of standard deviation about 1 (GPT-2's 0.02 at D = 768 is about 0.55/sqrt(D)). Inside a
transformer block the query-key-value and output projections take the gain of no activation and the MLP's
first layer that of its GELU; a language-model head is a last layer (gain 1) unless it is tied, when it is the
embedding. Recurrent layers keep torch's own initialisation (uniform in +-1/sqrt(hidden)).

The next activation of a layer is the first activation after it in the same layer list, looking past
norm, dropout, pooling and flatten layers but not past another linear, convolution or residual layer
(``linear, linear, relu``: the first linear has no activation). At the end of a residual body the block's
``activation`` (applied after the sum) is the next one; the projection shortcut uses it too.
"""

from __future__ import annotations

__all__ = [
    "Nonlinearity",
    "initialize_factory_model",
    "initialize_module",
    "initialize_weight",
    "nonlinearity_after",
    "nonlinearity_of",
]

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from dlcheck.recipe.schema import ACTIVATION_TYPES, InitConfig

_WEIGHTED_TYPES = ("linear", "conv1d", "conv2d", "residual", "embedding", "transformer_block", "gru", "lstm", "lm_head")


class Nonlinearity(NamedTuple):
    """The ``nonlinearity`` and ``a`` arguments of ``torch.nn.init.kaiming_*``."""

    name: str
    slope: float = 0.0


def nonlinearity_of(activation: str | None, negative_slope: float = 0.01) -> Nonlinearity:
    """The nonlinearity whose gain suits a layer followed by ``activation`` (see the module docstring).

    Parameters
    ----------
    activation : str or None
        A recipe activation type (``relu``, ``leaky_relu``, ...) or ``None`` when none follows.
    negative_slope : float
        The slope of a ``leaky_relu``.

    Returns
    -------
    Nonlinearity

    Examples
    --------
    >>> nonlinearity_of("leaky_relu", 0.2)
    Nonlinearity(name='leaky_relu', slope=0.2)
    >>> nonlinearity_of("selu").name, nonlinearity_of(None).name, nonlinearity_of("gelu").name
    ('linear', 'linear', 'relu')
    """
    if activation is None or activation == "selu":
        return Nonlinearity("linear")
    if activation == "leaky_relu":
        return Nonlinearity("leaky_relu", negative_slope)
    if activation in ("relu", "tanh", "sigmoid"):
        return Nonlinearity(activation)
    if activation in ("gelu", "silu", "elu", "prelu"):
        return Nonlinearity("relu")
    raise ValueError(f"unknown activation {activation!r}")


def nonlinearity_after(layers: Sequence[Any], index: int, trailing: str | None = None) -> Nonlinearity:
    """The nonlinearity matched to ``layers[index]`` from the activation that follows it.

    Parameters
    ----------
    layers : sequence of layer specs
        A recipe layer list (``model.layers`` or a residual block's ``layers``).
    index : int
        Position of the linear or convolution layer in ``layers``.
    trailing : str or None
        The activation applied after the list ends (a residual block's ``activation``), if any.

    Returns
    -------
    Nonlinearity
    """
    for spec in layers[index + 1 :]:
        if spec.type in ACTIVATION_TYPES:
            return nonlinearity_of(spec.type, getattr(spec, "negative_slope", 0.01))
        if spec.type in _WEIGHTED_TYPES:
            return nonlinearity_of(None)
    return nonlinearity_of(trailing)


def _gain(nonlinearity: Nonlinearity) -> float:
    parameter = nonlinearity.slope if nonlinearity.name == "leaky_relu" else None
    return float(nn.init.calculate_gain(nonlinearity.name, parameter))  # type: ignore[arg-type]


def initialize_weight(weight: torch.Tensor, scheme: str, nonlinearity: Nonlinearity, *, std: float = 0.02) -> None:
    """Fill a linear or convolution weight in place.

    Parameters
    ----------
    weight : torch.Tensor
        ``(out, in)`` for linear layers, ``(out, in, *kernel)`` for convolutions; fans as torch computes them.
    scheme : str
        ``default`` (leave it), ``kaiming_normal``, ``kaiming_uniform`` (``fan_in`` mode), ``xavier_normal``,
        ``xavier_uniform``, ``orthogonal`` or ``normal``.
    nonlinearity : Nonlinearity
        Sets the kaiming ``nonlinearity`` and ``a``, and the gain of the xavier and orthogonal schemes.
    std : float
        Standard deviation of ``normal`` (mean 0).
    """
    with torch.no_grad():
        if scheme == "default":
            return
        if scheme in ("kaiming_normal", "kaiming_uniform"):
            fill = nn.init.kaiming_normal_ if scheme == "kaiming_normal" else nn.init.kaiming_uniform_
            fill(weight, a=nonlinearity.slope, mode="fan_in", nonlinearity=nonlinearity.name)  # type: ignore[arg-type]
        elif scheme == "xavier_normal":
            nn.init.xavier_normal_(weight, gain=_gain(nonlinearity))
        elif scheme == "xavier_uniform":
            nn.init.xavier_uniform_(weight, gain=_gain(nonlinearity))
        elif scheme == "orthogonal":
            # rows of the (out, in * prod(kernel)) matrix are orthogonal with norm `gain`
            nn.init.orthogonal_(weight, gain=_gain(nonlinearity))
        elif scheme == "normal":
            nn.init.normal_(weight, mean=0.0, std=std)
        else:
            raise ValueError(f"unknown initialisation scheme {scheme!r}")


def _initialize_bias(bias: torch.Tensor | None, config: InitConfig) -> None:
    if bias is None or config.bias == "default":
        return
    with torch.no_grad():
        bias.fill_(0.0 if config.bias == "zeros" else config.bias_value)


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _initialize_vectors(weight: torch.Tensor, config: InitConfig) -> None:
    """Token embeddings and learned positions, ``(rows, D)``: see the module docstring."""
    with torch.no_grad():
        if config.weight == "default":
            nn.init.normal_(weight)  # torch's nn.Embedding default, N(0, 1)
        elif config.weight == "normal":
            nn.init.normal_(weight, mean=0.0, std=config.std)
        else:
            nn.init.normal_(weight, mean=0.0, std=weight.shape[-1] ** -0.5)


def _initialize_sequence_module(module: nn.Module, config: InitConfig) -> bool:
    """The sequence layers of :mod:`dlcheck.model.sequence`; ``False`` for any other module."""
    from dlcheck.model.sequence import LanguageModelHead, LearnedPositions, TransformerBlock

    if isinstance(module, (nn.Embedding, LearnedPositions)):
        _initialize_vectors(module.weight, config)
        return True
    if isinstance(module, TransformerBlock):
        linear = Nonlinearity("linear")
        for layer, nonlinearity in (
            (module.attention.qkv, linear),
            (module.attention.projection, linear),
            (module.mlp[0], Nonlinearity("relu")),  # followed by a GELU
            (module.mlp[2], linear),
        ):
            initialize_module(layer, config, nonlinearity)
        for norm in (module.norm1, module.norm2):
            initialize_module(norm, config, linear)
        return True
    if isinstance(module, LanguageModelHead):
        if not module.tied:  # a tied weight is the embedding's, initialised there
            initialize_weight(module.weight, config.weight, Nonlinearity("linear"), std=config.std)
        _initialize_bias(module.bias, config)
        return True
    return False


def initialize_module(module: nn.Module, config: InitConfig, nonlinearity: Nonlinearity) -> None:
    """Initialise one module (not its children) following ``config``.

    Linear and convolution layers get ``config.weight`` with ``nonlinearity`` and ``config.bias``; batch,
    instance, layer and group norms get weight 1 and bias 0; embeddings and dlcheck's sequence layers follow
    the module docstring; every other module is left alone.

    Parameters
    ----------
    module : torch.nn.Module
    config : InitConfig
    nonlinearity : Nonlinearity
        From :func:`nonlinearity_after` for a recipe layer.
    """
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        initialize_weight(module.weight, config.weight, nonlinearity, std=config.std)
        _initialize_bias(module.bias, config)
    elif _initialize_sequence_module(module, config):
        return
    elif isinstance(module, _NORMS):
        with torch.no_grad():
            if getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
            if getattr(module, "bias", None) is not None:
                module.bias.fill_(0.0)


def initialize_factory_model(model: nn.Module, config: InitConfig) -> None:
    """Initialise every linear, convolution, embedding and norm layer of a user's model.

    A factory model has no layer list to read the next activation from, so every linear and convolution
    layer is treated as followed by a relu: kaiming gets ``nonlinearity='relu'`` and xavier and orthogonal
    the relu gain sqrt(2).

    Parameters
    ----------
    model : torch.nn.Module
    config : InitConfig
    """
    for module in model.modules():
        initialize_module(module, config, Nonlinearity("relu"))
