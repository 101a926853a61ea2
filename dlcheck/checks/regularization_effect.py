"""``regularization_effect``: switching the regularisation on must make the tiny batch harder to fit.

The same tiny batch, the same fresh model and seed, the same number of steps as the ``overfit_batch`` run
without regularisation, now with everything the recipe regularises with: dropout, weight decay, label
smoothing, L1, max-norm and augmentation. Its training loss at the end must be higher than without (a
higher floor): if the two runs give the same curve, the regularisation is not applied (a dropout module
created but never called in ``forward``, a penalty never added); if the loss is lower, it is wired wrong.
If the regularised run cannot even remove half of the initial loss, it is too strong. No other tool we know of
(torcheck, torchtest, Lightning's ``overfit_batches``) measures this differential.

Both runs take the recipe's own step (its ``train.precision`` and clipping), the second with L1 and max-norm
switched on; ``precision="fp32"`` runs both in full precision.
"""

from __future__ import annotations

__all__ = ["NAME", "check_regularization_effect", "regularization_effect", "regularizers"]

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._fitting import FitHistory, fit_batch, fitting_step
from dlcheck.checks._probe import disable_dropout, dropout_modules, timed
from dlcheck.checks.overfit_batch import OverfitRun, run_overfit
from dlcheck.data.augment import augment_batch, augment_is_active
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.losses import loss_name_of
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import PLAIN, StepPolicy
from dlcheck.errors import InputError
from dlcheck.formatting import number
from dlcheck.seeding import Purpose, derive_seed
from dlcheck.verdict import CheckResult

NAME = "regularization_effect"


def _tail_mean(losses: list[float]) -> float:
    tail = losses[-max(1, len(losses) // 10) :]
    return sum(tail) / len(tail)


def _judge(without: FitHistory, with_: FitHistory, regularizers_words: str) -> CheckResult:
    off, on = _tail_mean(without.losses), _tail_mean(with_.losses)
    initial = with_.initial_loss
    steps = min(without.steps_run, with_.steps_run)
    differences = [
        abs(a - b) / max(abs(a), abs(b), 1e-12)
        for a, b in zip(without.losses[:steps], with_.losses[:steps], strict=True)
    ]
    largest_difference = max(differences) if differences else 0.0
    metrics: dict[str, Any] = {
        "regularizers": regularizers_words,
        "steps": steps,
        "loss_without": off,
        "loss_with": on,
        "loss_increase": (on - off) / off if off > 0 else None,
        "curve_difference": largest_difference,
        "initial_loss": initial,
    }
    details = {"losses_without": without.losses, "losses_with": with_.losses}
    if largest_difference <= thresholds.REGULARIZATION_IDENTICAL_TOLERANCE:
        return CheckResult(
            NAME,
            "warn",
            f"Regularisation ({regularizers_words}) changed nothing: the loss curve over {steps} steps is identical "
            "with and without it, so it is probably not applied.",
            metrics,
            [
                "Make sure every regulariser is used: a dropout module must be called in forward() (creating it in "
                "__init__ is not enough), penalties must be added to the loss, weight decay needs parameters in "
                "the decayed group.",
            ],
            details,
        )
    if not on > off:
        return CheckResult(
            NAME,
            "warn",
            f"Regularisation ({regularizers_words}) did not raise the tiny-batch loss after {steps} steps "
            f"({number(on)} with it, {number(off)} without): it is too weak to matter here, or not applied as meant.",
            metrics,
            [
                "Check that the regularisation is active in training mode only and applied where intended; if it is "
                "deliberately weak, this warning can be ignored.",
            ],
            details,
        )
    if initial > 0 and (initial - on) / initial < thresholds.REGULARIZATION_MIN_DECREASE:
        return CheckResult(
            NAME,
            "warn",
            f"With regularisation ({regularizers_words}) the tiny batch's loss only fell from {number(initial)} to "
            f"{number(on)} in {steps} steps (without: {number(off)}): it is strong enough to stop learning.",
            metrics,
            ["Weaken the regularisation (lower dropout rate, weight decay, label smoothing or augmentation)."],
            details,
        )
    summary = (
        f"Regularisation ({regularizers_words}) raises the tiny-batch loss after {steps} steps from {number(off)} to "
        f"{number(on)}, as it should."
    )
    return CheckResult(NAME, "pass", summary, metrics, [], details)


def regularizers(parts: RecipeParts, model: nn.Module) -> list[str]:
    """What the recipe regularises with, in words (empty when nothing)."""
    recipe = parts.recipe
    found = []
    dropouts = dropout_modules(model)
    if dropouts:
        rates = sorted({float(getattr(module, "p", 0.0)) for _, module in dropouts})
        found.append("dropout " + "/".join(number(rate) for rate in rates))
    if recipe.optimizer.weight_decay > 0:
        found.append(f"weight decay {number(recipe.optimizer.weight_decay)}")
    if recipe.regularization.label_smoothing > 0 and parts.loss_name == "cross_entropy":
        found.append(f"label smoothing {number(recipe.regularization.label_smoothing)}")
    if recipe.regularization.l1 > 0:
        found.append(f"L1 {number(recipe.regularization.l1)}")
    if recipe.regularization.max_norm is not None:
        found.append(f"max-norm {number(recipe.regularization.max_norm)}")
    if augment_is_active(recipe.data.augment):
        found.append("augmentation")
    return found


@timed
def regularization_effect(
    parts: RecipeParts,
    overfit: OverfitRun | None = None,
    *,
    seed: int | None = None,
    precision: str = "recipe",
) -> CheckResult:
    """Repeat the ``overfit_batch`` run with the recipe's regularisation on and compare the final losses.

    ``overfit`` is the run without regularisation (from :func:`~dlcheck.checks.overfit_batch.run_overfit`); it
    is made here when not given. ``precision`` as for :func:`~dlcheck.checks.overfit_batch.run_overfit`.
    """
    seed = parts.recipe.seed if seed is None else seed
    model = parts.fresh_model(seed)
    found = regularizers(parts, model)
    if not found:
        return CheckResult(
            NAME,
            "skip",
            "The recipe has no regularisation (dropout, weight decay, label smoothing, L1, max-norm, augmentation) "
            "to compare.",
        )
    if overfit is None:
        overfit = run_overfit(parts, seed=seed, precision=precision)
    if not overfit.history.fitted:
        return CheckResult(
            NAME, "skip", "overfit_batch did not fit the tiny batch without regularisation: nothing to compare with."
        )
    recipe = parts.recipe
    inputs, targets = overfit.inputs, overfit.targets
    augment = recipe.data.augment if augment_is_active(recipe.data.augment) else None
    generator = torch.Generator(device=inputs.device) if inputs.device.type == "cuda" else torch.Generator()

    def batch_at(index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if augment is None:
            return inputs, targets
        generator.manual_seed(derive_seed(seed, Purpose.FIT_AUGMENT, index))  # the same draws on every run
        return augment_batch(inputs, augment, generator), targets

    step = fitting_step(
        model,
        parts.optimizer(model, regularized=True),
        parts.loss_function(regularized=True),
        parts.loss_name,
        parts.step_policy(regularized=True, precision=precision),
        forward=parts.forward_module(model),
    )
    with_ = fit_batch(
        step,
        batch_at,
        steps=overfit.history.steps_run,
        loss_name=parts.loss_name,
        seed=seed,
        target_loss=overfit.history.target_loss,
        stop_when_fitted=False,
    )
    return _judge(overfit.history, with_, ", ".join(found))


@timed
def check_regularization_effect(
    model: nn.Module | Callable[[], nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_function: Callable[..., Any],
    *,
    regularized_loss_function: Callable[..., Any] | None = None,
    optimizer_factory: Callable[[list[nn.Parameter]], torch.optim.Optimizer] | None = None,
    regularized_optimizer_factory: Callable[[list[nn.Parameter]], torch.optim.Optimizer] | None = None,
    lr: float = 1e-3,
    steps: int = thresholds.OVERFIT_STEPS,
    loss_name: str | None = None,
    seed: int = 0,
    policy: StepPolicy = PLAIN,
) -> CheckResult:
    """Fit a tiny batch without, then with regularisation; the regularised loss must end higher.

    Without: dropout off, ``loss_function``, ``optimizer_factory`` (default Adam at ``lr``), until the batch is
    fitted. With: the model's dropout as built, ``regularized_loss_function`` (e.g. with label smoothing) and
    ``regularized_optimizer_factory`` (e.g. with weight decay), each defaulting to its plain counterpart, for
    the same number of steps. Both runs take ``policy``'s step (default fp32); its L1 and max-norm apply to the
    second run only.

    Examples
    --------
    >>> class Net(nn.Module):  # a dropout module that forward() never calls
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden, self.dropout, self.out = nn.Linear(4, 32), nn.Dropout(0.5), nn.Linear(32, 3)
    ...     def forward(self, x):
    ...         return self.out(torch.relu(self.hidden(x)))
    >>> inputs, labels = torch.randn(12, 4, generator=torch.Generator().manual_seed(0)), torch.arange(12) % 3
    >>> check_regularization_effect(Net(), inputs, labels, nn.CrossEntropyLoss(), lr=1e-2).status
    'warn'
    """
    try:
        name: str | None = loss_name_of(loss_function, loss_name)
    except InputError:
        name = None

    def build(regularized: bool) -> tuple[nn.Module, torch.optim.Optimizer]:
        fresh = model() if not isinstance(model, nn.Module) else probe_copy(model)
        if not regularized:
            disable_dropout(fresh)
        parameters = [parameter for parameter in fresh.parameters() if parameter.requires_grad]
        factory = regularized_optimizer_factory if regularized and regularized_optimizer_factory else optimizer_factory
        return fresh, factory(parameters) if factory is not None else torch.optim.Adam(parameters, lr=lr)

    def batch_at(index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs, targets

    plain_model, plain_optimizer = build(False)
    plain = fitting_step(plain_model, plain_optimizer, loss_function, name, policy.without_regularization())
    without = fit_batch(plain, batch_at, steps=steps, loss_name=name, seed=seed)
    if not without.fitted:
        return CheckResult(
            NAME, "skip", "The tiny batch was not fitted without regularisation: nothing to compare with."
        )
    regularized_model, regularized_optimizer = build(True)
    regularized = fitting_step(
        regularized_model, regularized_optimizer, regularized_loss_function or loss_function, name, policy
    )
    with_ = fit_batch(
        regularized,
        batch_at,
        steps=without.steps_run,
        loss_name=name,
        seed=seed,
        target_loss=without.target_loss,
        stop_when_fitted=False,
    )
    return _judge(without, with_, "as given")
