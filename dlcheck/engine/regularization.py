"""Penalties and constraints on weights, gradient clipping, and which parameters count as weights.

Only the weights of linear, bilinear and convolution layers are penalised or constrained (:data:`WEIGHT_LAYER_TYPES`):
biases and the scale and shift of normalisation layers are not "weights" in the sense of these methods (see the
weight-decay note in :mod:`dlcheck.engine.optimizers`). The same list tells the activation-statistics check which
layers are weight layers.

The gradient-flow check asks a wider question of single tensors, which :func:`matrix_weights` answers: any
parameter of two or more dimensions that multiplies its input (an attention block's ``in_proj_weight`` or a custom
layer's raw ``nn.Parameter`` too), but not an embedding table, whose rows are looked up rather than multiplied.
"""

from __future__ import annotations

__all__ = [
    "WEIGHT_LAYER_TYPES",
    "apply_max_norm",
    "clip_gradients",
    "gradient_norm",
    "l1_penalty",
    "matrix_weights",
    "weight_layers",
]

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from dlcheck.recipe.schema import GradientClipConfig

WEIGHT_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def weight_layers(model: nn.Module) -> Iterator[nn.Module]:
    """The linear and convolution modules of ``model``, each once even when shared."""
    seen: set[int] = set()
    for module in model.modules():  # modules() already skips repeated modules; weights may still be tied
        if isinstance(module, WEIGHT_LAYER_TYPES) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            yield module


def matrix_weights(model: nn.Module) -> set[int]:
    """The ``id`` of every parameter of ``model`` that multiplies its input: two or more dimensions, not an
    embedding table.

    Examples
    --------
    >>> model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    >>> sorted(name for name, parameter in model.named_parameters() if id(parameter) in matrix_weights(model))
    ['1.weight']
    """
    tables = {id(module.weight) for module in model.modules() if isinstance(module, (nn.Embedding, nn.EmbeddingBag))}
    return {id(parameter) for parameter in model.parameters() if parameter.ndim >= 2 and id(parameter) not in tables}


def _weight_of(module: nn.Module) -> torch.Tensor:
    weight = module.weight
    assert isinstance(weight, torch.Tensor)  # for the type checker: nn.Module attributes are untyped
    return weight


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute values of the linear and convolution weights (not biases, not norm layers).

    Parameters
    ----------
    model : torch.nn.Module
        The model.

    Returns
    -------
    torch.Tensor
        0-dim, differentiable, on the device of the model's weights (CPU zero for a model without any).

    Examples
    --------
    >>> layer = nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[1.0, -2.0]]))
    >>> float(l1_penalty(nn.Sequential(layer)).detach())
    3.0
    """
    weights = [_weight_of(module) for module in weight_layers(model)]
    if not weights:
        parameter = next(model.parameters(), None)
        return torch.zeros((), device=parameter.device if parameter is not None else "cpu")
    # One reduction per layer then one sum: no concatenated copy of all the weights.
    return torch.stack([weight.abs().sum() for weight in weights]).sum()


@torch.no_grad()
def apply_max_norm(model: nn.Module, max_norm: float) -> None:
    """Rescale, in place, each output unit's incoming weight vector to an L2 norm of at most ``max_norm``.

    The max-norm constraint of Srivastava et al. 2014 ("Dropout: A Simple Way to Prevent Neural Networks
    from Overfitting", section 5.1), applied after each optimiser step. A unit is a row of a Linear weight
    ``(out, in)``, an output channel of a convolution weight ``(out, in / groups, *kernel)``, or of a
    transposed convolution weight ``(in, out / groups, *kernel)``. Biases are not constrained.

    Examples
    --------
    >>> layer = nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))
    >>> apply_max_norm(layer, 1.0)
    >>> layer.weight.detach().norm(dim=1)
    tensor([1.0000, 0.5000])
    """
    for module in weight_layers(model):
        weight = _weight_of(module)
        if isinstance(module, _TRANSPOSED):
            groups = int(module.groups)
            # (in, out/g, *k) -> (g, in/g, out/g, K): a unit is (group, output channel), summed over in and K
            units = weight.view(groups, weight.shape[0] // groups, weight.shape[1], -1)
            norms = units.pow(2).sum(dim=(1, 3)).sqrt()  # (g, out/g)
            scale = (max_norm / (norms + 1e-7)).clamp(max=1.0)
            units.mul_(scale[:, None, :, None])
        else:
            # torch.renorm scales each slice along dim 0 (an output unit) whose norm exceeds max_norm
            weight.renorm_(p=2, dim=0, maxnorm=max_norm)


def gradient_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of the gradients, a 0-dim tensor on their device (0 if no parameter has one).

    A tensor, not a float: reading it would make the host wait for the GPU at every step; the trainer
    reads it once per logging window.

    Examples
    --------
    >>> weight = nn.Parameter(torch.zeros(2))
    >>> weight.grad = torch.tensor([3.0, 4.0])
    >>> float(gradient_norm([weight, nn.Parameter(torch.zeros(1))]))
    5.0
    """
    gradients = [parameter.grad for parameter in parameters if parameter.grad is not None]
    if not gradients:
        return torch.zeros(())
    # norm of the per-tensor norms: the global L2 norm (works on every torch >= 2.2, unlike get_total_norm)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(gradient) for gradient in gradients]))


def clip_gradients(parameters: Iterable[torch.Tensor], config: GradientClipConfig) -> torch.Tensor:
    """Clip gradients in place by global norm or by value; return the global norm *before* clipping.

    Parameters
    ----------
    parameters : iterable of torch.Tensor
        Usually ``model.parameters()``; gradients must be unscaled already under fp16 (``scaler.unscale_``).
    config : GradientClipConfig
        ``max_norm`` (``clip_grad_norm_``) or ``max_value`` (``clip_grad_value_``).

    Returns
    -------
    torch.Tensor
        The pre-clip global L2 norm (0-dim, on the gradients' device, not synchronised), for logging;
        non-finite if a gradient is (nothing is raised here).

    Examples
    --------
    >>> weight = nn.Parameter(torch.zeros(2))
    >>> weight.grad = torch.tensor([3.0, 4.0])
    >>> float(clip_gradients([weight], GradientClipConfig(max_norm=1.0))), weight.grad
    (5.0, tensor([0.6000, 0.8000]))
    """
    with_gradients = [parameter for parameter in parameters if parameter.grad is not None]
    if not with_gradients:
        return torch.zeros(())
    if config.max_norm is not None:
        # foreach=None picks the fused multi-tensor kernels where the device has them.
        return torch.nn.utils.clip_grad_norm_(with_gradients, config.max_norm, foreach=None)
    assert config.max_value is not None
    total_norm = gradient_norm(with_gradients)
    torch.nn.utils.clip_grad_value_(with_gradients, config.max_value, foreach=None)
    return total_norm
