"""A recipe's pieces built for probing: the data, a freshly initialised model, the loss and the optimiser.

The checklist (``dlcheck.checks``) and the LR range test (``dlcheck.lr_finder``) both work on these pieces
rather than on a :class:`~dlcheck.train.Trainer`: they need many fresh models from the same
initialisation, optimisers with the regularisation switched off, and batches drawn exactly as training
draws them (same normalisation, same augmentation).
"""

from __future__ import annotations

__all__ = ["CheckSubject", "prepare_subject"]

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.recipe import LoadedRecipe


@dataclass
class CheckSubject:
    """Everything a check needs from a recipe; build it with :func:`prepare_subject`.

    ``model`` is the recipe's model as initialised by its seed; :meth:`fresh_model` builds an identical one.
    """

    loaded: LoadedRecipe
    data: Any  # dlcheck.data.DataBundle
    model: nn.Module
    summary: Any  # dlcheck.model.ModelSummary
    device: torch.device
    warnings: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> Any:
        return self.loaded.recipe

    @property
    def loss_name(self) -> str:
        return str(self.recipe.loss)

    @property
    def classification(self) -> bool:
        from dlcheck.train.losses import is_classification_loss

        return is_classification_loss(self.loss_name)

    @property
    def num_classes(self) -> int | None:
        return self.data.num_classes

    def loss_function(self, *, regularized: bool = True) -> Any:
        """The recipe's loss; ``regularized=False`` drops label smoothing."""
        from dlcheck.train.losses import build_loss

        smoothing = self.recipe.regularization.label_smoothing if regularized else 0.0
        return build_loss(self.loss_name, label_smoothing=smoothing)

    def fresh_model(self, seed: int | None = None) -> nn.Module:
        """A new model on :attr:`device`, initialised exactly as training would (same seed: same weights)."""
        from dlcheck.model import build_model

        model = build_model(
            self.recipe.model,
            self.data.input_shape,
            seed=self.recipe.seed if seed is None else seed,
            directory=self.loaded.directory,
        )
        return model.to(self.device)

    def optimizer(
        self, model: nn.Module, *, lr: float | None = None, regularized: bool = True
    ) -> torch.optim.Optimizer:
        """The recipe's optimiser for ``model``; ``regularized=False`` sets weight decay to 0."""
        from dlcheck.train.optimizers import build_optimizer

        changes: dict[str, Any] = {}
        if lr is not None:
            changes["lr"] = lr
        if not regularized:
            changes["weight_decay"] = 0.0
        config = self.recipe.optimizer.model_copy(update=changes) if changes else self.recipe.optimizer
        return build_optimizer(model, config)

    def batcher(
        self,
        split: str = "train",
        *,
        batch_size: int | None = None,
        shuffle: bool = True,
        augment: bool = True,
        seed: int | None = None,
    ) -> Any:
        """Batches of ``split`` ("train" or "val") exactly as training draws them (normalised, augmented).

        ``batch_size`` defaults to the recipe's global batch; returns None for a missing validation split.
        """
        from dlcheck.data import make_batcher

        data = self.data.train if split == "train" else self.data.val
        if data is None:
            return None
        return make_batcher(
            data,
            batch_size=batch_size or self.recipe.train.batch_size,
            shuffle=shuffle,
            seed=self.recipe.seed if seed is None else seed,
            device=self.device,
            augment=self.recipe.data.augment if augment and split == "train" else None,
            normalization=self.data.normalization,
            loader=self.recipe.data.loader,
            num_workers=0,
        )

    def first_batch(self, split: str = "train", *, batch_size: int | None = None, augment: bool = True) -> Any:
        """One batch ``(inputs, targets)`` on :attr:`device`, in the stored order (no shuffle)."""
        batcher = self.batcher(split, batch_size=batch_size, shuffle=False, augment=augment)
        if batcher is None:
            return None
        return next(iter(batcher.epoch(0)))

    def train_size(self) -> int:
        train = self.data.train
        return int(train[0].shape[0]) if isinstance(train, tuple) else len(train)

    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.train_size() / self.recipe.train.batch_size))


def prepare_subject(loaded: LoadedRecipe, *, device: str | None = None, check: bool = True) -> CheckSubject:
    """Load the data and build the model of a recipe, on ``device`` (default: the recipe's ``device``).

    Raises the same :class:`~dlcheck.errors.DlcheckError` subclasses as ``dlcheck recipe check``;
    ``check=False`` accepts bad data values (NaN inputs, labels out of range) for a check to report.
    """
    from dlcheck.train.build import build_data_and_model
    from dlcheck.train.runtime import resolve_device

    built = build_data_and_model(loaded, check=check)
    target = resolve_device(device or loaded.recipe.device)
    return CheckSubject(
        loaded=loaded,
        data=built.data,
        model=built.model.to(target),
        summary=built.summary,
        device=target,
        warnings=list(built.warnings),
    )
