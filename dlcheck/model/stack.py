"""Walk a recipe layer list with the current per-sample shape and build a :class:`LayerStack`.

Each layer is built by its builder in :mod:`dlcheck.model.layers` (or here, for ``residual``, whose body is
a stack of its own) and initialised right away with the gain of the activation that follows it, so that
the random numbers are drawn in a fixed order. A ``linear`` layer on a ``(C, ...)`` input gets an
``nn.Flatten`` inserted before it: a recipe's MLP works on images without a flatten layer.

Child names are the layers' indices in the list (``"0"``, ``"1"``, ...), so state-dict keys (``0.weight``)
match the recipe keys (``model.layers.0``); an inserted flatten is named ``inserted_flatten``.
"""

from __future__ import annotations

__all__ = ["LayerRowInfo", "LayerStack", "build_layer_stack"]

from collections.abc import Sequence
from typing import Any, NamedTuple

from torch import nn

from dlcheck.errors import ModelError
from dlcheck.model.init import initialize_module, nonlinearity_after, nonlinearity_of
from dlcheck.model.layers import LAYER_BUILDERS, BuiltLayer, LayerContext, Layout, check_layout, flat_size
from dlcheck.model.residual import Residual, make_shortcut
from dlcheck.recipe.schema import InitConfig

Shape = tuple[int, ...]

INSERTED_FLATTEN = "inserted_flatten"

_RESIDUAL_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class LayerRowInfo(NamedTuple):
    """How the summary shows one child of a :class:`LayerStack`."""

    name: str  # recipe key, e.g. "model.layers.3", or "(inserted)"
    kind: str  # layer type, e.g. "conv2d", "residual (projection)"


class LayerStack(nn.Sequential):
    """An ``nn.Sequential`` built from a recipe layer list.

    Attributes
    ----------
    rows : dict of str to LayerRowInfo
        For each child name, the recipe key and the layer type the summary shows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, LayerRowInfo] = {}

    def append_layer(self, name: str, module: nn.Module, row: LayerRowInfo) -> None:
        """Add ``module`` as child ``name``, remembering how the summary shows it."""
        self.add_module(name, module)
        self.rows[name] = row


def build_layer_stack(
    layers: Sequence[Any],
    input_shape: Shape,
    *,
    init: InitConfig,
    prefix: str = "model.layers",
    origin: str = "from the data",
    trailing: str | None = None,
    flattened_by: tuple[str, str] | None = None,
    layout: Layout = "plain",
    vocabulary_size: int | None = None,
    embedding: nn.Embedding | None = None,
) -> tuple[LayerStack, Shape]:
    """Build and initialise the modules of a layer list for per-sample inputs of ``input_shape``.

    Parameters
    ----------
    layers : sequence of layer specs
        ``ModelConfig.layers`` or a residual block's ``layers``.
    input_shape : tuple of int
        One sample's shape, e.g. ``(1, 8, 8)``.
    init : InitConfig
        Initialisation of the linear, convolution and norm layers.
    prefix : str
        Dotted key of the list, used in error messages and summary rows.
    origin : str
        Where the input comes from, for error messages.
    trailing : str or None
        The activation applied after the list (a residual block's ``activation``), for init gains.
    flattened_by : tuple of (str, str) or None
        Path and type of the layer that made the input a vector, for error messages.
    layout : {"plain", "tokens", "sequence"}
        What ``input_shape`` means: ``tokens`` for ``(T,)`` token ids from the data.
    vocabulary_size : int or None
        V, for token data: the rows of an embedding and the outputs of an ``lm_head``.
    embedding : torch.nn.Embedding or None
        A token embedding built before the list (for a residual body).

    Returns
    -------
    stack : LayerStack
    output_shape : tuple of int
        One sample's output shape.

    Raises
    ------
    ModelError
        When a layer cannot take the shape it receives; the message names ``prefix.N``.
    """
    stack = LayerStack()
    shape = tuple(input_shape)
    for index, spec in enumerate(layers):
        path = f"{prefix}.{index}"
        if spec.type == "linear" and len(shape) > 1 and layout == "plain":
            # nn.Linear would act on the last dim only; a recipe linear sees the whole sample: (C, H, W) → (C*H*W,)
            stack.append_layer(INSERTED_FLATTEN, nn.Flatten(), LayerRowInfo("(inserted)", "flatten"))
            shape = (flat_size(shape),)
            flattened_by = (path, "linear")
        context = LayerContext(path, spec.type, shape, origin, flattened_by, layout, vocabulary_size, embedding)
        check_layout(context)
        if spec.type == "residual":
            built = _build_residual(spec, context, init)
        elif spec.type in LAYER_BUILDERS:
            built = LAYER_BUILDERS[spec.type](spec, context)
        else:
            raise ModelError(f"{path}: no builder for layer type {spec.type!r}; this is a bug in dlcheck")
        initialize_module(built.module, init, nonlinearity_after(layers, index, trailing))
        stack.append_layer(str(index), built.module, LayerRowInfo(path, built.kind))
        if len(built.shape) == 1 and len(shape) > 1:
            flattened_by = (path, spec.type)
        if isinstance(built.module, nn.Embedding):
            embedding = built.module
        layout = built.layout or layout
        shape = built.shape
        origin = f"after {path} ({spec.type})"
    return stack, shape


def _build_residual(spec: Any, context: LayerContext, init: InitConfig) -> BuiltLayer:
    trailing = None if spec.activation == "none" else spec.activation
    body, body_shape = build_layer_stack(
        spec.layers,
        context.shape,
        init=init,
        prefix=f"{context.path}.layers",
        origin=f"at the start of {context.path} (residual), {context.origin}",
        trailing=trailing,
        flattened_by=context.flattened_by,
        layout=context.layout,
        vocabulary_size=context.vocabulary_size,
        embedding=context.embedding,
    )
    shortcut, projected = make_shortcut(context, body_shape)
    # the projection's output is summed, then goes through the block's activation
    initialize_module(shortcut, init, nonlinearity_of(trailing))
    activation = nn.Identity() if trailing is None else _RESIDUAL_ACTIVATIONS[trailing]()
    kind = "residual (projection)" if projected else "residual"
    return BuiltLayer(Residual(body, shortcut, activation), body_shape, kind)
