"""Data and model of a recipe, built and checked against each other: what a run needs before its devices.

Used by ``dlcheck train`` and by ``dlcheck recipe check``, which builds everything short of training so
that shape mistakes (a last layer of the wrong size, a convolution on vectors) are caught by the check.
"""

from __future__ import annotations

__all__ = ["BuiltRecipe", "build_data_and_model", "check_built", "check_trainable"]

import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.data import DataBundle, load_data
from dlcheck.data.bundle import split_size
from dlcheck.engine.losses import is_classification_loss
from dlcheck.errors import DataError, ModelError
from dlcheck.model import ModelSummary, check_output_shape, summarize_model
from dlcheck.model.build import build_model
from dlcheck.recipe import LoadedRecipe, Recipe


@dataclass
class BuiltRecipe:
    data: DataBundle
    model: torch.nn.Module  # on the CPU, initialised
    summary: ModelSummary
    warnings: list[str] = field(default_factory=list)  # valid but probably not what the user meant


def build_data_and_model(loaded: LoadedRecipe, *, check: bool = True) -> BuiltRecipe:
    """Load the data, build the model for its shapes, and (``check``) refuse what no run can train on.

    ``check=False`` leaves the value checks to the caller (the checklist reports bad data as a failed
    ``data_sanity`` check rather than refusing it); call :func:`check_built` later.
    """
    recipe = loaded.recipe
    data = load_data(recipe.data, seed=recipe.seed, directory=loaded.directory)
    if check:  # before the model: bad data fails fast
        check_trainable(data, recipe)
    model = build_model(
        recipe.model,
        data.input_shape,
        seed=recipe.seed,
        directory=loaded.directory,
        vocabulary_size=data.vocabulary_size,
    )
    summary = summarize_model(model, data.input_shape, input_dtype=data.input_dtype)
    if check:
        check_built(data, summary, recipe)
    return BuiltRecipe(data, model, summary, recipe_warnings(recipe, data))


def check_built(data: DataBundle, summary: ModelSummary, recipe: Recipe, *, trainable: bool = False) -> None:
    """Refuse a model whose outputs do not fit the data and loss (and, with ``trainable``, untrainable data)."""
    if trainable:
        check_trainable(data, recipe)
    if is_classification_loss(recipe.loss) and data.num_classes is None:
        raise ModelError(
            f"loss: {recipe.loss} needs integer class labels, but the data ({data.source}) has "
            "real-valued targets; use `loss: mse` (or l1/huber) for regression."
        )
    check_output_shape(
        summary.output_shape,
        num_classes=data.num_classes,
        loss=recipe.loss,
        target_shape=_target_shape(data.train),
        sequence=data.sequence,
    )


def recipe_warnings(recipe: Recipe, data: DataBundle) -> list[str]:
    """Settings that are valid but rarely meant, now that the data's size is known."""
    warnings: list[str] = []
    train_size = split_size(data.train)
    batch_size = recipe.train.batch_size
    if batch_size > train_size:
        warnings.append(
            f"train.batch_size = {batch_size} is larger than the {train_size} training samples: every epoch is a "
            "single step on all of them; choose a batch size below the data size."
        )
    steps_per_epoch = math.ceil(train_size / batch_size)  # one process and no accumulation: an estimate
    total_steps = steps_per_epoch * recipe.train.epochs
    warmup = recipe.schedule.warmup
    if warmup is not None:
        warmup_steps = warmup.steps if warmup.steps is not None else (warmup.epochs or 0) * steps_per_epoch
        if warmup_steps >= total_steps:
            warnings.append(
                f"schedule.warmup lasts {warmup_steps} steps but the run has {total_steps}: the learning rate never "
                "reaches optimizer.lr; shorten the warm-up or train longer."
            )
    cores = os.cpu_count() or 1
    if recipe.data.num_workers > cores:
        warnings.append(
            f"data.num_workers = {recipe.data.num_workers} is more than this machine's {cores} CPU cores; "
            f"use at most {cores}."
        )
    if recipe.train.channels_last and len(data.input_shape) != 3:
        warnings.append(
            f"train.channels_last has no effect: the inputs are {tuple(data.input_shape)}, not (C, H, W) images; "
            "remove it."
        )
    if data.val is not None and 0 < split_size(data.val) < 20:
        warnings.append(
            f"the validation split has only {split_size(data.val)} samples: its loss and accuracy will be noisy "
            "(and early stopping with it); use more data or a larger data.val_fraction."
        )
    return warnings


def _target_shape(data: Any) -> tuple[int, ...]:
    if isinstance(data, tuple):
        return tuple(data[1].shape[1:])
    target = data[0][1]
    return tuple(torch.as_tensor(target).shape)


def check_trainable(data: DataBundle, recipe: Recipe) -> None:
    """Refuse data no run can learn from: non-finite inputs, an empty split, a single class."""
    if split_size(data.train) == 0:
        raise DataError(
            f"data ({data.source}): the training split is empty; use more samples or a smaller val_fraction."
        )
    if data.val is not None and split_size(data.val) == 0:
        raise DataError(
            f"data.val_fraction = {recipe.data.val_fraction} of {split_size(data.train)} samples leaves an empty "
            "validation split; use more samples, a larger val_fraction, or val_fraction: 0 (no validation)."
        )
    for name, split in (("training", data.train), ("validation", data.val)):
        if isinstance(split, tuple) and split[0].is_floating_point():
            finite = torch.isfinite(split[0].reshape(split[0].shape[0], -1)).all(dim=1)  # (N,)
            if not bool(finite.all()):
                bad = (~finite).nonzero().flatten()
                raise DataError(
                    f"data ({data.source}): {len(bad)} {name} sample(s) hold NaN or infinite inputs (first: sample "
                    f"{int(bad[0])} of the split); clean or drop them before training."
                )
    if data.num_classes is not None and data.num_classes < 2:
        raise DataError(
            f"data ({data.source}): only {data.num_classes} class found; classification needs at least two "
            "(an image_folder needs one sub-folder per class)."
        )
