"""The optimiser named by a recipe, with weight decay kept off biases and normalisation layers.

Weight decay on a bias or on a norm layer's scale and shift does not regularise the function the network
computes (a norm layer's output does not depend on the scale of the weights before it), it only drags those
parameters towards zero; excluding them is the usual practice (Goyal et al. 2017, "Accurate, Large
Minibatch SGD", section 5.1; nanoGPT's ``configure_optimizers``). The parameters are therefore split into
two groups, ``decay`` and ``no_decay``, each carrying a ``name`` key so that reports and checkpoints can say
which is which.

``adamw`` decays the weights directly, decoupled from the gradient-based update (Loshchilov & Hutter 2019,
"Decoupled Weight Decay Regularization"); every other optimiser receives ``weight_decay`` as torch
implements it, an L2 term added to the gradient, which Adam-style rescaling weakens for parameters with
large gradients.

``adam`` and ``adamw`` use torch's fused kernel where the device has one (CUDA, and the CPU since torch 2.4): one
kernel updates every tensor, where the default loops over them in Python. For the digits MLP on a CPU that is
about a third less time per optimiser step (``benchmarks/train_loop.py``); the result differs from the unfused
update only in rounding (nanoGPT fuses its AdamW on CUDA for the same reason).
"""

from __future__ import annotations

__all__ = ["NORM_LAYER_TYPES", "OPTIMIZER_NAMES", "build_optimizer", "describe_param_groups", "split_decay_parameters"]

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe.schema import OptimizerConfig

OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam", "radam", "adamax")

# Found by module type, not by parameter name: a user's factory model may call its LayerNorm "ln_f" or
# "gamma", and a Linear layer may well be called "norm_projection".
NORM_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)

_OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "adamax": torch.optim.Adamax,
}
_TAKES_BETAS = ("adam", "adamw", "nadam", "radam", "adamax")
_FUSED = ("adam", "adamw")  # dense gradients only, as these optimisers require anyway
_TAKES_MOMENTUM = ("sgd", "rmsprop")


def split_decay_parameters(model: nn.Module, no_decay: Sequence[str]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split the trainable parameters of ``model`` into those that get weight decay and those that do not.

    Parameters
    ----------
    model : torch.nn.Module
        The model; parameters with ``requires_grad=False`` are left out, shared parameters appear once.
    no_decay : list of {"bias", "norm"}
        ``"bias"`` excludes every parameter of at most one dimension whose name ends in ``bias``;
        ``"norm"`` excludes every parameter of a normalisation module (:data:`NORM_LAYER_TYPES`).

    Returns
    -------
    decay, excluded : list of torch.nn.Parameter
        Both in the order of ``model.named_parameters()``, so the optimiser's state lines up on resume.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    >>> decay, excluded = split_decay_parameters(model, ["bias", "norm"])
    >>> [tuple(p.shape) for p in decay], len(excluded)
    ([(4, 3)], 3)
    """
    excluded_ids: set[int] = set()
    if "norm" in no_decay:
        for module in model.modules():
            if isinstance(module, NORM_LAYER_TYPES):
                excluded_ids.update(id(parameter) for parameter in module.parameters(recurse=False))
    decay: list[nn.Parameter] = []
    excluded: list[nn.Parameter] = []
    for name, parameter in model.named_parameters():  # deduplicates shared parameters
        if not parameter.requires_grad:
            continue
        is_bias = parameter.ndim <= 1 and name.endswith("bias")
        if id(parameter) in excluded_ids or ("bias" in no_decay and is_bias):
            excluded.append(parameter)
        else:
            decay.append(parameter)
    return decay, excluded


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """Build the optimiser of a recipe's ``optimizer`` section for ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose trainable parameters are optimised.
    config : OptimizerConfig
        Name, learning rate and options. ``betas`` and ``eps`` are passed only when given, so torch's
        defaults apply otherwise.

    Returns
    -------
    torch.optim.Optimizer
        With one group named ``all`` when ``weight_decay`` is 0, otherwise groups named ``decay`` and
        ``no_decay`` (``weight_decay`` 0), empty groups dropped.

    Raises
    ------
    RecipeError
        An option the chosen optimiser does not take (``betas`` for sgd, ``momentum`` for adam,
        ``nesterov`` without momentum...), or a model without trainable parameters.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    >>> optimizer = build_optimizer(model, OptimizerConfig(name="adamw", lr=1e-3, weight_decay=0.01))
    >>> [(group["name"], group["weight_decay"]) for group in optimizer.param_groups]
    [('decay', 0.01), ('no_decay', 0.0)]
    """
    _check_options(config)
    options: dict[str, Any] = {"lr": config.lr}
    if config.name in _TAKES_MOMENTUM:
        options["momentum"] = config.momentum
    if config.name == "sgd":
        options["nesterov"] = config.nesterov
    if config.betas is not None:
        options["betas"] = (config.betas[0], config.betas[1])
    if config.eps is not None:
        options["eps"] = config.eps

    groups: list[dict[str, Any]]
    if config.weight_decay == 0.0:
        trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
        groups = [{"params": trainable, "name": "all", "weight_decay": 0.0}]
    else:
        decay, excluded = split_decay_parameters(model, config.no_decay)
        groups = [
            {"params": decay, "name": "decay", "weight_decay": config.weight_decay},
            {"params": excluded, "name": "no_decay", "weight_decay": 0.0},
        ]
    groups = [group for group in groups if group["params"]]
    if not groups:
        raise RecipeError(
            [
                RecipeIssue(
                    path="model",
                    message="the model has no trainable parameters (all have requires_grad=False), so there is nothing to optimise",
                    hint="unfreeze at least one layer in the model factory",
                )
            ]
        )
    optimizer_class = _OPTIMIZER_CLASSES[config.name]
    if config.name in _FUSED:
        try:
            return optimizer_class(groups, **{**options, "fused": True})
        except (RuntimeError, ValueError):  # no fused kernel for this device or dtype in this torch
            pass
    return optimizer_class(groups, **options)


def describe_param_groups(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """One row per parameter group, for the run report.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Usually from :func:`build_optimizer`; groups without a ``name`` are called ``group0``, ``group1``...

    Returns
    -------
    list of dict
        Keys ``name``, ``tensors`` (parameter tensors), ``parameters`` (scalar parameters),
        ``weight_decay`` and ``lr`` (the group's current rate).

    Examples
    --------
    >>> model = nn.Linear(3, 2)
    >>> optimizer = build_optimizer(model, OptimizerConfig(name="sgd", lr=0.1, weight_decay=1e-4))
    >>> describe_param_groups(optimizer)[0]
    {'name': 'decay', 'tensors': 1, 'parameters': 6, 'weight_decay': 0.0001, 'lr': 0.1}
    """
    rows = []
    for index, group in enumerate(optimizer.param_groups):
        parameters = group["params"]
        rows.append(
            {
                "name": str(group.get("name", f"group{index}")),
                "tensors": len(parameters),
                "parameters": sum(parameter.numel() for parameter in parameters),
                "weight_decay": float(group.get("weight_decay", 0.0)),
                "lr": float(group["lr"]),
            }
        )
    return rows


def _check_options(config: OptimizerConfig) -> None:
    """Refuse options the chosen optimiser would silently ignore (or that torch rejects with a traceback)."""
    issues = []
    name = config.name
    if config.betas is not None and name not in _TAKES_BETAS:
        issues.append(
            RecipeIssue(
                path="optimizer.betas",
                message=f"{name} does not take betas; they are for {', '.join(_TAKES_BETAS)}",
                found=repr(config.betas),
                hint="remove `betas`",
            )
        )
    if config.momentum > 0.0 and name not in _TAKES_MOMENTUM:
        issues.append(
            RecipeIssue(
                path="optimizer.momentum",
                message=f"{name} does not take momentum; it is for sgd and rmsprop (Adam-family use `betas`)",
                found=repr(config.momentum),
                hint="remove `momentum`",
            )
        )
    if config.nesterov and (name != "sgd" or config.momentum == 0.0):
        issues.append(
            RecipeIssue(
                path="optimizer.nesterov",
                message="nesterov needs `name: sgd` with momentum > 0",
                found="true",
                hint="set e.g. `momentum: 0.9`, or remove `nesterov`",
            )
        )
    if config.eps is not None and name == "sgd":
        issues.append(
            RecipeIssue(
                path="optimizer.eps", message="sgd does not take eps", found=repr(config.eps), hint="remove `eps`"
            )
        )
    if issues:
        raise RecipeError(issues)
