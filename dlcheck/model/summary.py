"""A per-layer table of a built model: output shapes from one forward pass, parameter counts.

Output shapes are recorded by forward hooks on the model's top-level children during a forward pass on a
batch of two zero samples, in eval mode and without gradients. The model's training flags are restored
afterwards, module by module.
"""

from __future__ import annotations

__all__ = ["LayerRow", "ModelSummary", "summarize_model"]

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlcheck.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

_SUMMARY_BATCH = 2  # two samples: batch norm layers in eval mode are fine with any batch; 2 catches batch-dim mix-ups


@dataclass
class LayerRow:
    """One top-level layer of the model.

    Attributes
    ----------
    name : str
        Recipe key (``model.layers.3``), ``(inserted)`` for an inserted flatten, or the child's attribute
        name for a factory model.
    kind : str
        Layer type (``conv2d``, ``residual (projection)``) or the module's class name for factory models.
    output_shape : tuple of int
        One sample's output shape; ``()`` if the layer was not called in the forward pass.
    parameters : int
        Number of parameter values in the layer and its children.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


@dataclass
class ModelSummary:
    """Rows per top-level layer, parameter totals and the per-sample output shape."""

    rows: list[LayerRow] = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0
    output_shape: tuple[int, ...] = ()


def summarize_model(model: nn.Module, input_shape: tuple[int, ...], *, input_dtype: Any = None) -> ModelSummary:
    """Run one forward pass on zeros and tabulate the top-level layers.

    Parameters
    ----------
    model : torch.nn.Module
        A model from :func:`~dlcheck.model.build_model`; its training flags are restored afterwards.
    input_shape : tuple of int
        One sample's shape, e.g. ``(1, 8, 8)``; the batch fed is ``(2, *input_shape)``.
    input_dtype : torch.dtype, optional
        The data's inputs' dtype: an integer dtype feeds token id 0 (for an embedding). By default the
        model's floating dtype, or int64 for a layer stack that starts with an embedding.

    Returns
    -------
    ModelSummary

    Raises
    ------
    ModelError
        When a factory model fails on inputs of this shape or returns something other than one tensor; the
        message names ``model.factory``, the batch shape fed and the exception.
    """
    import torch  # here: ModelSummary itself is read without torch (reports, the command line)
    from torch import nn

    from dlcheck.model.stack import LayerStack  # imports torch, as above

    children = list(model.named_children())
    recorded: dict[str, tuple[int, ...]] = {}
    handles = [child.register_forward_hook(_recorder(recorded, name)) for name, child in children]
    training = {module: module.training for module in model.modules()}
    # zeros on the model's device, in its floating dtype (float32 unless the factory chose another)
    first = next((parameter for parameter in model.parameters() if parameter.is_floating_point()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    if input_dtype is not None and not input_dtype.is_floating_point:
        dtype = input_dtype  # token ids
    elif input_dtype is None and isinstance(model, LayerStack) and isinstance(next(iter(model), None), nn.Embedding):
        dtype = torch.long
    batch = torch.zeros((_SUMMARY_BATCH, *input_shape), device=device, dtype=dtype)
    try:
        model.eval()
        with torch.no_grad():
            output = model(batch)
    except Exception as error:
        if isinstance(model, LayerStack):
            raise  # shapes were inferred when it was built: a failure here is a bug in dlcheck
        raise ModelError(_forward_failure(error, tuple(batch.shape), input_shape)) from error
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in training.items():
            module.training = flag
    if not isinstance(output, torch.Tensor):
        raise ModelError(
            f"model.factory: the model returned a {type(output).__name__} for inputs of shape {tuple(batch.shape)}; "
            "dlcheck needs one tensor of outputs (N, ...), e.g. class scores (N, classes)"
        )

    rows = [_row(model, name, child, recorded) for name, child in children]
    own = sum(parameter.numel() for parameter in model.parameters(recurse=False))
    if not children or own:
        # parameters held by the top-level module itself (or a model without children) get a row too
        rows.append(LayerRow("(top level)", type(model).__name__, tuple(output.shape[1:]), own))
    return ModelSummary(
        rows=rows,
        total_parameters=sum(parameter.numel() for parameter in model.parameters()),
        trainable_parameters=sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad),
        output_shape=tuple(output.shape[1:]),
    )


def _recorder(recorded: dict[str, tuple[int, ...]], name: str) -> Any:
    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        import torch  # torch-free module: see summarize_model

        # the first call counts; a tuple output (e.g. an LSTM's) shows its first tensor
        tensor = output[0] if isinstance(output, (tuple, list)) and output else output
        if name not in recorded and isinstance(tensor, torch.Tensor):
            recorded[name] = tuple(tensor.shape[1:])

    return hook


def _row(model: nn.Module, name: str, child: nn.Module, recorded: dict[str, tuple[int, ...]]) -> LayerRow:
    from dlcheck.model.stack import LayerStack  # torch-free module: see summarize_model

    parameters = sum(parameter.numel() for parameter in child.parameters())
    shape = recorded.get(name, ())
    if isinstance(model, LayerStack) and name in model.rows:
        info = model.rows[name]
        return LayerRow(info.name, info.kind, shape, parameters)
    return LayerRow(name, type(child).__name__, shape, parameters)


def _forward_failure(error: Exception, batch_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> str:
    message = str(error).strip() or "(no message)"
    features = math.prod(input_shape)
    hint = (
        f"check the model's first layer: it must take samples of shape {tuple(input_shape)}, e.g. "
        f"nn.Conv2d(in_channels={input_shape[0]}, ...) for images, or nn.Flatten() then "
        f"nn.Linear({features}, ...)"
        if len(input_shape) > 1
        else f"check the model's first layer: it must take samples of shape {tuple(input_shape)}, e.g. "
        f"nn.Linear({features}, ...)"
    )
    return (
        f"model.factory: the model received inputs of shape {batch_shape} and raised "
        f"{type(error).__name__}: {message}; {hint}"
    )
