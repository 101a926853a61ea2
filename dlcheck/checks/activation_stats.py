"""``activation_stats``: dead ReLUs, saturated tanh/sigmoid, and activation scale across depth, at init.

Forward hooks on a copy of the model (training mode, as the first step sees it, with dropout off), fed a
real batch of :data:`~dlcheck.checks.thresholds.ACTIVATION_SAMPLES` samples:

- *dead units*: per ReLU layer, the share of units (features, or channels of images) that are not positive
  for any sample. Dead units receive no gradient, so they rarely recover. Units are also found dead where a
  factory model applies ``F.relu`` itself: an input unit of a linear or convolution layer (not the first)
  that is exactly zero for every sample.
- *saturation*: per tanh/sigmoid layer, the share of values in the flat tails (Karpathy's makemore test).
- *scale across depth*: the standard deviation of each linear/convolution output in execution order. A
  healthy initialisation keeps it within a small factor through any depth; a gain compounding per layer makes
  it explode or collapse by orders of magnitude. The output layer is left out: a small or zero last layer
  is good practice (``initial_loss`` judges the outputs).
"""

from __future__ import annotations

__all__ = ["NAME", "activation_stats", "check_activation_stats"]

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._probe import disable_dropout, timed
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.regularization import WEIGHT_LAYER_TYPES
from dlcheck.formatting import number, percent
from dlcheck.seeding import Purpose, derive_seed, seeded
from dlcheck.verdict import CheckResult, Status

NAME = "activation_stats"
MIN_SAMPLES = 32  # fewer samples cannot tell a dead unit from one that is rarely on
_RELU_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)


@dataclass
class _Layer:
    name: str
    kind: str  # "relu", "tanh", "sigmoid", "weight", "weight-input"
    order: int
    value: float  # dead share, saturated share, or std
    non_finite: bool = False


def _unit_axes(tensor: torch.Tensor) -> list[int]:
    """Axes reduced over for per-unit statistics: all but the feature (N, F) or channel (N, C, ...) axis."""
    return [0, *range(2, tensor.ndim)] if tensor.ndim >= 2 else [0]


def _dead_share(tensor: torch.Tensor) -> float:
    if tensor.ndim < 2:
        return 0.0
    alive = (
        (tensor > 0).any(dim=0)
        if tensor.ndim == 2
        else (tensor > 0).transpose(0, 1).reshape(tensor.shape[1], -1).any(dim=1)
    )
    return 1.0 - float(alive.float().mean())


def _zero_share(tensor: torch.Tensor) -> float:
    if tensor.ndim < 2:
        return 0.0
    units = tensor.transpose(0, 1).reshape(tensor.shape[1], -1)  # (units, N * positions)
    return float((units == 0).all(dim=1).float().mean())


def _display(model: nn.Module, name: str, module: nn.Module) -> str:
    """``model.layers.3 (ReLU)`` for a recipe's layer list, ``layer encoder.1 (ReLU)`` for a factory model."""
    rows = getattr(model, "rows", None)  # dlcheck LayerStack: child "3" is recipe key model.layers.3
    head, _, rest = name.partition(".")
    if isinstance(rows, dict) and head in rows and rows[head].name.startswith("model."):
        return f"{rows[head].name}{'.' + rest if rest else ''} ({type(module).__name__})"
    return f"layer {name} ({type(module).__name__})" if name else f"the model ({type(module).__name__})"


def _record(model: nn.Module, inputs: torch.Tensor, seed: int) -> list[_Layer]:
    layers: list[_Layer] = []
    counter = [0]
    handles = []

    def output_hook(name: str, kind: str) -> Any:
        def hook(module: nn.Module, arguments: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor) or not output.is_floating_point() or output.shape[0] < 1:
                return
            values = output.detach().float()
            counter[0] += 1
            finite = bool(torch.isfinite(values).all())
            if kind == "relu":
                value = _dead_share(values)
            elif kind == "tanh":
                value = float((values.abs() > 0.97).float().mean())
            elif kind == "sigmoid":
                value = float(((values < 0.03) | (values > 0.97)).float().mean())
            else:
                value = float(values.std()) if values.numel() > 1 and finite else 0.0
            layers.append(_Layer(name, kind, counter[0], value, not finite))

        return hook

    def input_hook(name: str) -> Any:
        def hook(module: nn.Module, arguments: Any) -> None:
            if arguments and isinstance(arguments[0], torch.Tensor) and arguments[0].is_floating_point():
                counter[0] += 1
                layers.append(_Layer(name, "weight-input", counter[0], _zero_share(arguments[0].detach())))

        return hook

    for name, module in model.named_modules():
        label = _display(model, name, module)
        if isinstance(module, _RELU_TYPES):
            handles.append(module.register_forward_hook(output_hook(label, "relu")))
        elif isinstance(module, nn.Tanh):
            handles.append(module.register_forward_hook(output_hook(label, "tanh")))
        elif isinstance(module, nn.Sigmoid):
            handles.append(module.register_forward_hook(output_hook(label, "sigmoid")))
        elif isinstance(module, WEIGHT_LAYER_TYPES):
            handles.append(module.register_forward_pre_hook(input_hook(label)))
            handles.append(module.register_forward_hook(output_hook(label, "weight")))
    try:
        with seeded(derive_seed(seed, Purpose.PROBE), inputs.device), torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return layers


def _verdict(share: float, warn: float, fail: float) -> Status:
    return "fail" if share >= fail else ("warn" if share >= warn else "pass")


def _judge(layers: list[_Layer], samples: int) -> CheckResult:
    metrics: dict[str, Any] = {"samples": samples}
    findings: list[tuple[Status, str, str]] = []
    non_finite = [layer for layer in layers if layer.non_finite]
    if non_finite:
        findings.append(
            (
                "fail",
                f"Activations of {non_finite[0].name} are NaN or infinite at initialisation.",
                "Check the inputs (data_sanity) and the initialisation scale; look for log/sqrt/division in forward().",
            )
        )
    weights = [layer for layer in layers if layer.kind == "weight"]
    # ReLU modules, and the inputs of every weight layer but the first (those are the data, where constant
    # features are fine): an input unit that is zero for every sample is a unit that died before it
    first_input = min((layer.order for layer in layers if layer.kind == "weight-input"), default=None)
    dead_layers = [
        layer
        for layer in layers
        if layer.kind == "relu" or (layer.kind == "weight-input" and layer.order != first_input)
    ]
    if dead_layers and samples >= MIN_SAMPLES:
        worst = max(dead_layers, key=lambda layer: layer.value)
        metrics["dead_units_max"] = worst.value
        status = _verdict(worst.value, thresholds.DEAD_UNITS_WARN, thresholds.DEAD_UNITS_FAIL)
        if status != "pass":
            findings.append(
                (
                    status,
                    f"{percent(worst.value)} of the units of {worst.name} are dead (never positive on {samples} samples): "
                    "they get no gradient.",
                    "Look for large negative biases or a bad input scale before the ReLU; use He initialisation with zero "
                    "biases, or LeakyReLU/GELU.",
                )
            )
    saturating = [layer for layer in layers if layer.kind in ("tanh", "sigmoid")]
    if saturating:
        worst = max(saturating, key=lambda layer: layer.value)
        metrics["saturated_max"] = worst.value
        status = _verdict(worst.value, thresholds.SATURATION_WARN, thresholds.SATURATION_FAIL)
        if status != "pass":
            findings.append(
                (
                    status,
                    f"{percent(worst.value)} of the {worst.kind} outputs of {worst.name} are saturated (in the flat tails, "
                    "where gradients vanish).",
                    "Scale the weights before it down (Glorot/Xavier initialisation, gain 5/3 for tanh), normalise the "
                    "inputs, or add a normalisation layer before the activation.",
                )
            )
    hidden = weights[:-1]  # the output layer is judged by initial_loss
    if len(hidden) >= 2:
        stds = [layer.value for layer in hidden]
        metrics["activation_std_first"], metrics["activation_std_last"] = stds[0], stds[-1]
        largest, smallest = max(stds), min(stds)
        drift = largest / smallest if smallest > 0 else math.inf
        metrics["scale_drift"] = drift
        status = _verdict(drift, thresholds.SCALE_DRIFT_WARN, thresholds.SCALE_DRIFT_FAIL)
        if status != "pass":
            low, high = stds.index(smallest), stds.index(largest)
            direction = "grows" if low < high else "collapses"
            findings.append(
                (
                    status,
                    f"Activation scale {direction} with depth: std {number(hidden[low if low < high else high].value)} at "
                    f"{hidden[low if low < high else high].name}, {number(hidden[high if low < high else low].value)} at "
                    f"{hidden[high if low < high else low].name} ({number(drift)}x).",
                    "Use an initialisation whose gain matches the activation (He for ReLU: std sqrt(2 / fan_in); Glorot "
                    "for tanh) rather than a fixed std, or add normalisation layers.",
                )
            )
    if findings:
        order = {"fail": 0, "warn": 1}
        findings.sort(key=lambda finding: order[finding[0]])
        summary = findings[0][1] + (
            " (+" + str(len(findings) - 1) + " more: " + " ".join(finding[1] for finding in findings[1:]) + ")"
            if len(findings) > 1
            else ""
        )
        return CheckResult(NAME, findings[0][0], summary, metrics, list(dict.fromkeys(f[2] for f in findings)))
    parts = []
    if "dead_units_max" in metrics:
        parts.append(f"dead units at most {percent(metrics['dead_units_max'])}")
    if "saturated_max" in metrics:
        parts.append(f"saturation at most {percent(metrics['saturated_max'])}")
    if "scale_drift" in metrics:
        parts.append(
            f"activation std {number(metrics['activation_std_first'])} to {number(metrics['activation_std_last'])} "
            f"across {len(hidden)} hidden layers"
        )
    if not parts:
        return CheckResult(
            NAME, "pass", "No ReLU, tanh, sigmoid or hidden linear/convolution layer to inspect.", metrics
        )
    return CheckResult(NAME, "pass", "Healthy at init: " + "; ".join(parts) + ".", metrics)


@timed
def check_activation_stats(model: nn.Module, inputs: torch.Tensor, *, seed: int = 0) -> CheckResult:
    """Dead ReLU units, saturated tanh/sigmoid and activation scale across depth, on one batch at init.

    Parameters
    ----------
    model : torch.nn.Module
        The freshly initialised model; a copy is run (training mode, dropout off, no gradients).
    inputs : torch.Tensor
        ``(N, ...)`` with N >= 32 for the dead-unit test (a few hundred is better), on the model's device.
    seed : int
        Seeds any randomness in the forward pass.

    Returns
    -------
    CheckResult
        ``activation_stats`` with metrics ``dead_units_max``, ``saturated_max`` (shares of the worst layer) and
        ``scale_drift`` (largest / smallest hidden-layer std).

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    >>> inputs = torch.randn(256, 8)
    >>> check_activation_stats(model, inputs).status
    'pass'
    >>> with torch.no_grad():
    ...     _ = model[2].bias.fill_(-100.0)  # every unit of the second layer dies
    >>> check_activation_stats(model, inputs).status
    'fail'
    """
    probe = probe_copy(model)
    disable_dropout(probe)
    probe.train()
    inputs = inputs[: thresholds.ACTIVATION_SAMPLES]
    return _judge(_record(probe, inputs, seed), int(inputs.shape[0]))


@timed
def activation_stats(parts: RecipeParts, *, seed: int | None = None) -> CheckResult:
    """:func:`check_activation_stats` on a recipe's fresh model and a seeded sample of its training split."""
    seed = parts.recipe.seed if seed is None else seed
    model = parts.fresh_model(seed)
    inputs, _ = parts.sample_batch(thresholds.ACTIVATION_SAMPLES, seed=seed)
    return check_activation_stats(model, inputs, seed=seed)
