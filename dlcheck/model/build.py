"""Build the model a recipe describes: a layer list with inferred shapes, or a user's factory.

The parameters are a function of ``seed`` alone: construction and initialisation run on a forked CPU
generator seeded with it, so the caller's global random state is the same before and after.
"""

from __future__ import annotations

__all__ = ["build_model"]

from pathlib import Path

import torch
from torch import nn

from dlcheck.errors import ModelError
from dlcheck.limits import check_memory
from dlcheck.model.factory_model import build_factory_model
from dlcheck.model.init import initialize_factory_model
from dlcheck.model.layers import Layout
from dlcheck.model.stack import build_layer_stack
from dlcheck.recipe.schema import InitConfig, ModelConfig
from dlcheck.seeding import seeded

_COPIES_TO_TRAIN = 4  # weights, gradients and two optimiser moments (Adam), as float32


def _check_model_size(
    config: ModelConfig, shape: tuple[int, ...], init: InitConfig, layout: Layout, vocabulary_size: int | None
) -> None:
    """Count the layer list's parameters on the meta device (no memory) before building it for real.

    ``out: 2000000000`` is a valid number but a 512 GB layer; without this the allocator fails with a
    traceback, or the machine swaps.
    """
    assert config.layers is not None
    with torch.device("meta"):
        meta, _ = build_layer_stack(config.layers, shape, init=init, layout=layout, vocabulary_size=vocabulary_size)
    elements = sum(tensor.numel() for tensor in (*meta.parameters(), *meta.buffers()))
    check_memory(
        elements * 4 * _COPIES_TO_TRAIN,
        f"model.layers: {elements:,} parameters (trained with gradients and optimiser state)",
        ModelError,
        "use fewer or narrower layers",
    )


def build_model(
    config: ModelConfig,
    input_shape: tuple[int, ...],
    *,
    seed: int,
    directory: Path,
    vocabulary_size: int | None = None,
) -> nn.Module:
    """Build and initialise the model of ``config`` for samples of ``input_shape``.

    Parameters
    ----------
    config : ModelConfig
        The recipe's ``model`` section.
    input_shape : tuple of int
        One sample's shape, without the batch dimension: ``(F,)``, ``(C, L)`` or ``(C, H, W)``.
    seed : int
        Seeds construction and initialisation; the caller's global RNG state is left untouched.
    directory : pathlib.Path
        The recipe's folder, where ``model.factory`` modules are looked up first.
    vocabulary_size : int or None
        For token data: V, and ``input_shape`` is ``(T,)`` token ids, which an ``embedding`` layer takes first.

    Returns
    -------
    torch.nn.Module
        A :class:`~dlcheck.model.stack.LayerStack` (an ``nn.Sequential``) for ``layers``, or the factory's
        module, in training mode, on the CPU.

    Raises
    ------
    ModelError
        When a layer cannot take the shape it receives (the message names ``model.layers.N``), the layers would
        not fit the memory limit (:func:`dlcheck.limits.check_memory`), or the factory cannot be imported,
        raises or returns something else than a module (the message names ``model.factory``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from dlcheck.recipe.schema import ModelConfig
    >>> config = ModelConfig.model_validate(
    ...     {"layers": [{"type": "linear", "out": 64}, {"type": "relu"}, {"type": "linear", "out": 10}]}
    ... )
    >>> model = build_model(config, (1, 8, 8), seed=0, directory=Path("."))
    >>> list(dict(model.named_children()))
    ['inserted_flatten', '0', '1', '2']
    """
    shape = tuple(int(size) for size in input_shape)
    if not shape or min(shape) < 1:
        raise ModelError(
            f"model: the data's samples have shape {shape}; a model needs samples with at least one "
            "dimension of size >= 1, e.g. (F,) features or (C, H, W) images"
        )
    # Initialisation draws from the CPU generator, forked and seeded (the caller's random state is kept): the
    # same seed gives the same weights on every device.
    with seeded(seed):
        if config.layers is not None:
            # InitConfig's defaults: kaiming_normal weights, zero biases
            init = config.init or InitConfig.model_validate({})
            layout: Layout = "tokens" if vocabulary_size is not None else "plain"
            _check_model_size(config, shape, init, layout, vocabulary_size)
            stack, _ = build_layer_stack(
                config.layers, shape, init=init, layout=layout, vocabulary_size=vocabulary_size
            )
            return stack
        assert config.factory is not None  # the schema requires exactly one of layers / factory
        model = build_factory_model(config.factory, dict(config.args), directory=directory)
        if config.init is not None:
            initialize_factory_model(model, config.init)
        return model
