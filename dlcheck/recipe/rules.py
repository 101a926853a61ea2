"""Cross-field rules: settings that are valid alone but wrong together.

One registry (Ludwig's pattern, research A5 rule 4): each rule is a small function of a validated
:class:`Recipe` returning issues, and each message is one sentence naming both fields and the fix.
Rules look at *values*, not at which keys were written, so the resolved recipe that ``recipe show``
prints (every default filled in) passes the same rules as the file it came from.

Examples
--------
>>> from dlcheck.recipe.schema import Recipe
>>> recipe = Recipe.model_validate({"data": {"source": "digits"}, "model": {"layers": [{"type": "relu"}]},
...                                 "optimizer": {"name": "adam", "nesterov": True}})
>>> [issue.path for issue in check_rules(recipe)]
['optimizer.nesterov']
"""

from __future__ import annotations

__all__ = ["CLASSIFICATION_LOSSES", "MONITORED_METRICS", "RULES", "Rule", "check_rules", "rule"]

import itertools
from collections.abc import Callable
from typing import Any

from dlcheck.errors import RecipeIssue
from dlcheck.recipe._text import did_you_mean, one_of, short_value
from dlcheck.recipe.schema import FILE_SOURCES, SYNTHETIC_SOURCES, TOKENIZERS, Recipe, ScheduleConfig

Rule = Callable[[Recipe], list[RecipeIssue]]
RULES: list[Rule] = []

CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits")  # the losses for which accuracy is logged
MONITORED_METRICS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy")  # what the trainer logs
_ADAM_FAMILY = ("adam", "adamw", "nadam", "radam", "adamax")
_MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
_NO_AUGMENT_SOURCES = ("spirals", "blobs", "moons", "xor", "csv", "text")  # feature vectors or tokens, not images


def rule(function: Rule) -> Rule:
    """Register ``function`` as a cross-field rule (decorator)."""
    RULES.append(function)
    return function


def check_rules(recipe: Recipe) -> list[RecipeIssue]:
    """Run every registered rule; all issues, in registry order."""
    return [issue for function in RULES for issue in function(recipe)]


def _issue(path: str, message: str, hint: str | None = None, found: Any = None) -> RecipeIssue:
    return RecipeIssue(path=path, message=message, hint=hint, found=None if found is None else short_value(found))


# ------------------------------------------------------------------------------------------ optimizer
@rule
def _nesterov(recipe: Recipe) -> list[RecipeIssue]:
    optimizer = recipe.optimizer
    if not optimizer.nesterov:
        return []
    if optimizer.name != "sgd":
        return [
            _issue(
                "optimizer.nesterov",
                f"nesterov works only with optimizer.name sgd, not {optimizer.name}",
                "remove `nesterov: true` or use `name: sgd`",
                True,
            )
        ]
    if optimizer.momentum == 0:
        return [
            _issue(
                "optimizer.nesterov", "nesterov needs optimizer.momentum greater than 0", "set `momentum: 0.9`", True
            )
        ]
    return []


@rule
def _momentum(recipe: Recipe) -> list[RecipeIssue]:
    optimizer = recipe.optimizer
    if optimizer.momentum == 0 or optimizer.name in _MOMENTUM_OPTIMIZERS:
        return []
    hint = (
        "remove it; Adam-style optimizers set their momentum with `betas`"
        if optimizer.name in _ADAM_FAMILY
        else "remove it"
    )
    return [
        _issue(
            "optimizer.momentum",
            f"optimizer.momentum is used by sgd and rmsprop only, not {optimizer.name}",
            hint,
            optimizer.momentum,
        )
    ]


@rule
def _betas(recipe: Recipe) -> list[RecipeIssue]:
    optimizer = recipe.optimizer
    if optimizer.betas is None or optimizer.name in _ADAM_FAMILY:
        return []
    return [
        _issue(
            "optimizer.betas",
            f"optimizer.betas is used by {one_of(_ADAM_FAMILY)} only, not {optimizer.name}",
            "remove `betas`, or use `momentum` with sgd/rmsprop",
            optimizer.betas,
        )
    ]


@rule
def _eps(recipe: Recipe) -> list[RecipeIssue]:
    if recipe.optimizer.eps is None or recipe.optimizer.name != "sgd":
        return []
    return [_issue("optimizer.eps", "optimizer.eps is not used by sgd", "remove `eps`", recipe.optimizer.eps)]


# --------------------------------------------------------------------------------------- loss, metrics
@rule
def _label_smoothing(recipe: Recipe) -> list[RecipeIssue]:
    smoothing = recipe.regularization.label_smoothing
    if smoothing == 0 or recipe.loss == "cross_entropy":
        return []
    return [
        _issue(
            "regularization.label_smoothing",
            f"regularization.label_smoothing works with loss cross_entropy only, not {recipe.loss}",
            "remove `label_smoothing` or use `loss: cross_entropy`",
            smoothing,
        )
    ]


def _monitor_issues(recipe: Recipe, section: str, monitor: str, mode: str) -> list[RecipeIssue]:
    path = f"{section}.monitor"
    if monitor not in MONITORED_METRICS:
        guess = did_you_mean(monitor, MONITORED_METRICS)
        hint = f"did you mean `{guess}`?" if guess else f"use one of {one_of(MONITORED_METRICS)}"
        return [_issue(path, f"{path} must be a logged metric: {one_of(MONITORED_METRICS)}", hint, monitor)]
    issues = []
    if monitor.endswith("accuracy") and recipe.loss not in CLASSIFICATION_LOSSES:
        issues.append(
            _issue(
                path,
                f"{monitor} is logged only for classification losses "
                f"({one_of(CLASSIFICATION_LOSSES)}), and loss is {recipe.loss}",
                f"monitor {monitor.split('/')[0]}/loss instead",
                monitor,
            )
        )
    if monitor.startswith("val/") and recipe.data.factory is None and recipe.data.val_fraction == 0:
        issues.append(
            _issue(
                path,
                f"{path} {monitor} needs a validation split, but data.val_fraction is 0",
                "set `data.val_fraction: 0.2`, or monitor train/loss",
                monitor,
            )
        )
    wanted = "max" if monitor.endswith("accuracy") else "min"
    if mode not in ("auto", wanted):
        issues.append(
            _issue(
                f"{section}.mode",
                f"{section}.mode {mode} is backwards for {monitor}, "
                f"which improves as it {'rises' if wanted == 'max' else 'falls'}",
                f"set `mode: {wanted}`",
                mode,
            )
        )
    return issues


@rule
def _early_stopping_monitor(recipe: Recipe) -> list[RecipeIssue]:
    stopping = recipe.early_stopping
    return [] if stopping is None else _monitor_issues(recipe, "early_stopping", stopping.monitor, stopping.mode)


@rule
def _plateau_monitor(recipe: Recipe) -> list[RecipeIssue]:
    schedule = recipe.schedule
    if schedule.name != "reduce_on_plateau":
        return []
    return _monitor_issues(recipe, "schedule", schedule.monitor, schedule.mode)


# -------------------------------------------------------------------------------------------- schedule
# Which schedule reads which parameter; a non-default value for a schedule that ignores it is a mistake.
_SCHEDULE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "step_size": ("step",),
    "milestones": ("multistep",),
    "gamma": ("step", "multistep", "exponential"),
    "decay_rate": ("inverse_time",),
    "min_lr": ("cosine", "reduce_on_plateau"),
    "restart_period": ("cosine",),
    "restart_multiplier": ("cosine",),
    "max_lr": ("one_cycle",),
    "pct_start": ("one_cycle",),
    "monitor": ("reduce_on_plateau",),
    "mode": ("reduce_on_plateau",),
    "factor": ("reduce_on_plateau",),
    "patience": ("reduce_on_plateau",),
}


@rule
def _unused_schedule_parameters(recipe: Recipe) -> list[RecipeIssue]:
    schedule, issues = recipe.schedule, []
    for name, users in _SCHEDULE_PARAMETERS.items():
        value = getattr(schedule, name)
        if schedule.name in users or value == ScheduleConfig.model_fields[name].default:
            continue
        suggestion = f"set `schedule.name: {users[0]}`" if len(users) == 1 else f"use {one_of(users)}"
        issues.append(
            _issue(
                f"schedule.{name}",
                f"schedule.{name} is used by {one_of(users)} only, not {schedule.name}",
                f"remove it, or {suggestion}",
                value,
            )
        )
    return issues


@rule
def _schedule_requirements(recipe: Recipe) -> list[RecipeIssue]:
    schedule, issues = recipe.schedule, []
    if schedule.name == "one_cycle" and schedule.warmup is not None:
        issues.append(
            _issue(
                "schedule.warmup",
                "schedule.warmup cannot be used with one_cycle, which warms up "
                "itself for schedule.pct_start of training",
                "remove `warmup`",
            )
        )
    if schedule.name == "step" and schedule.step_size is None:
        issues.append(
            _issue(
                "schedule.step_size",
                "schedule step needs schedule.step_size",
                "add `step_size: 10` (intervals between decays)",
            )
        )
    if schedule.name == "multistep":
        milestones = schedule.milestones
        if not milestones:
            issues.append(
                _issue(
                    "schedule.milestones",
                    "schedule multistep needs schedule.milestones",
                    "add e.g. `milestones: [30, 60]`",
                )
            )
        elif any(later <= earlier for earlier, later in itertools.pairwise(milestones)):
            issues.append(
                _issue(
                    "schedule.milestones",
                    "schedule.milestones must be strictly increasing",
                    f"write them in order without repeats: {sorted(set(milestones))}",
                    milestones,
                )
            )
    if schedule.name == "cosine" and schedule.restart_multiplier != 1 and schedule.restart_period is None:
        issues.append(
            _issue(
                "schedule.restart_multiplier",
                "schedule.restart_multiplier needs schedule.restart_period",
                "add `restart_period`",
                schedule.restart_multiplier,
            )
        )
    return issues


# ------------------------------------------------------------------------------------------------ data
# Which data sources read which key; the value `None` (or False) means "not set".
_DATA_KEYS: dict[str, tuple[str, ...]] = {
    "samples": SYNTHETIC_SOURCES,
    "noise": SYNTHETIC_SOURCES,
    "classes": ("spirals", "blobs", "shapes"),  # moons and xor are two-class by construction
    "image_size": ("shapes", "image_folder"),
    "path": (*FILE_SOURCES, "text"),  # text: optional, the bundled novel otherwise
    "features": ("csv",),
    "target": ("csv", "npz", "pt"),
    "inputs": ("npz", "pt"),
    "grayscale": ("image_folder",),
    "tokenizer": ("text",),
    "context_length": ("text",),
    "window_stride": ("text",),
}


@rule
def _data_keys(recipe: Recipe) -> list[RecipeIssue]:
    data, issues = recipe.data, []
    origin = data.source if data.source is not None else "data.factory"
    for name, users in _DATA_KEYS.items():
        value = getattr(data, name)
        if value is None or value is False or data.source in users:
            continue
        if data.factory is not None:
            hint = f"pass it to the factory as `data.args.{name}` instead"
        elif name == "classes" and data.source in ("moons", "xor"):
            hint = f"remove it; {data.source} always has two classes"
        else:
            hint = "remove it"
        issues.append(
            _issue(f"data.{name}", f"data.{name} is used by sources {one_of(users)} only, not {origin}", hint, value)
        )
    if data.source in FILE_SOURCES and data.path is None:
        issues.append(
            _issue(
                "data.source",
                f"data.source {data.source} needs data.path",
                "add `path:` (relative to the recipe's folder)",
                data.source,
            )
        )
    if data.factory is None and data.args:
        issues.append(
            _issue(
                "data.args",
                "data.args is used only with data.factory",
                "remove `args`, or use `factory:` instead of `source:`",
                data.args,
            )
        )
    issues.extend(_token_keys(recipe))
    if data.augment is not None and data.source in _NO_AUGMENT_SOURCES:
        issues.append(
            _issue(
                "data.augment",
                f"data.augment works on images, and data.source {data.source} gives "
                + (
                    "token ids, which cannot be flipped, cropped or noised"
                    if data.source == "text"
                    else "feature vectors"
                ),
                "remove `augment`",
            )
        )
    return issues


def _token_keys(recipe: Recipe) -> list[RecipeIssue]:
    """The keys of token sequences: a tokenizer name or path, its arguments, a window length, a loss to ignore in."""
    data, issues = recipe.data, []
    if data.tokenizer is not None and data.tokenizer not in TOKENIZERS and ":" not in data.tokenizer:
        guess = did_you_mean(data.tokenizer, TOKENIZERS)
        issues.append(
            _issue(
                "data.tokenizer",
                f"data.tokenizer must be {one_of(TOKENIZERS)}, or 'module:callable' naming your own tokenizer",
                f"did you mean `{guess}`?" if guess else "e.g. `tokenizer: characters`, or 'my_tokenizer:load'",
                data.tokenizer,
            )
        )
    if data.tokenizer_args and (data.tokenizer is None or data.tokenizer in TOKENIZERS):
        issues.append(
            _issue(
                "data.tokenizer_args",
                "data.tokenizer_args is used only with a 'module:callable' tokenizer",
                "remove `tokenizer_args`, or set `tokenizer: 'my_module:make_tokenizer'`",
                data.tokenizer_args,
            )
        )
    if data.source == "text" and data.context_length is None:
        issues.append(
            _issue(
                "data.source",
                "data.source text needs data.context_length, the tokens per window",
                "add `context_length: 128`",
                data.source,
            )
        )
    if data.ignore_index is not None and recipe.loss != "cross_entropy":
        issues.append(
            _issue(
                "data.ignore_index",
                f"data.ignore_index is used by loss cross_entropy only, not {recipe.loss}",
                "remove `ignore_index`, or use `loss: cross_entropy`",
                data.ignore_index,
            )
        )
    return issues


# ------------------------------------------------------------------------------------------- training
@rule
def _precision_on_cpu(recipe: Recipe) -> list[RecipeIssue]:
    if recipe.train.precision != "fp16-mixed" or recipe.device != "cpu":
        return []
    return [
        _issue(
            "train.precision",
            "train.precision fp16-mixed needs a CUDA GPU, and device is cpu: CPU autocast supports bf16 only",
            "use `precision: bf16-mixed` or `fp32` on the CPU",
            recipe.train.precision,
        )
    ]


@rule
def _accumulation(recipe: Recipe) -> list[RecipeIssue]:
    train = recipe.train
    if train.batch_size % train.gradient_accumulation == 0:
        return []
    lower = train.batch_size - train.batch_size % train.gradient_accumulation
    choices = [str(size) for size in (lower, lower + train.gradient_accumulation) if size > 0]
    return [
        _issue(
            "train.gradient_accumulation",
            f"train.gradient_accumulation {train.gradient_accumulation} does not divide "
            f"train.batch_size {train.batch_size} (the global batch is split into equal micro-batches)",
            f"use batch_size {' or '.join(choices)}",
            train.gradient_accumulation,
        )
    ]
