"""Data and model of a recipe, built and checked against each other: what a run needs before its devices.

Used by ``dlcheck train`` and by ``dlcheck recipe check``, which builds everything short of training so
that shape mistakes (a last layer of the wrong size, a convolution on vectors) are caught by the check.
"""

from __future__ import annotations

__all__ = ["BuiltRecipe", "build_data_and_model", "check_trainable"]

from dataclasses import dataclass
from typing import Any

import torch

from dlcheck.errors import DataError, ModelError
from dlcheck.recipe import LoadedRecipe
from dlcheck.train.losses import is_classification_loss


@dataclass
class BuiltRecipe:
    data: Any  # dlcheck.data.DataBundle
    model: torch.nn.Module  # on the CPU, initialised
    summary: Any  # dlcheck.model.ModelSummary


def build_data_and_model(loaded: LoadedRecipe) -> BuiltRecipe:
    """Load the data, build the model for its shapes, and check that they fit together."""
    from dlcheck.data import load_data
    from dlcheck.model import build_model, check_output_shape, summarize_model

    recipe = loaded.recipe
    data = load_data(recipe.data, seed=recipe.seed, directory=loaded.directory)
    check_trainable(data, recipe)
    if is_classification_loss(recipe.loss) and data.num_classes is None:
        raise ModelError(
            f"loss: {recipe.loss} needs integer class labels, but the data ({data.source}) has "
            "real-valued targets; use `loss: mse` (or l1/huber) for regression."
        )
    model = build_model(recipe.model, data.input_shape, seed=recipe.seed, directory=loaded.directory)
    summary = summarize_model(model, data.input_shape)
    check_output_shape(
        summary.output_shape,
        num_classes=data.num_classes,
        loss=recipe.loss,
        target_shape=_target_shape(data.train),
    )
    return BuiltRecipe(data, model, summary)


def _target_shape(data: Any) -> tuple[int, ...]:
    if isinstance(data, tuple):
        return tuple(data[1].shape[1:])
    target = data[0][1]
    return tuple(torch.as_tensor(target).shape)


def _length(split: Any) -> int:
    return int(split[0].shape[0]) if isinstance(split, tuple) else len(split)


def check_trainable(data: Any, recipe: Any) -> None:
    """Refuse data no run can learn from: non-finite inputs, an empty split, a single class."""
    if _length(data.train) == 0:
        raise DataError(
            f"data ({data.source}): the training split is empty; use more samples or a smaller val_fraction."
        )
    if data.val is not None and _length(data.val) == 0:
        raise DataError(
            f"data.val_fraction = {recipe.data.val_fraction} of {_length(data.train)} samples leaves an empty "
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
