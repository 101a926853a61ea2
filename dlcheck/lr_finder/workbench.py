"""The recipe's training pieces, assembled once for the finder's sweeps and short runs.

Built from a :class:`~dlcheck.checks.subject.CheckSubject`: its model (or one the caller passes), the recipe's
optimiser, loss with label smoothing, L1, max-norm, gradient clipping, accumulation and precision, and batches
drawn exactly as training draws them (normalised, augmented, on the device).
"""

from __future__ import annotations

__all__ = ["Workbench"]

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlcheck.errors import InputError
from dlcheck.lr_finder.thresholds import EVALUATION_MAX_SAMPLES
from dlcheck.lr_finder.training_step import Batch, TrainingStep, endless_batches, held_out_batches


@dataclass
class Workbench:
    """What one finder run trains, and how.

    Attributes
    ----------
    subject : CheckSubject
    model : torch.nn.Module
        Trained in place by the sweeps (inside a :class:`~dlcheck.lr_finder.isolation.StateGuard`).
    optimizer : torch.optim.Optimizer
    batch_size : int
        Global batch of one optimiser step (micro-batch x accumulation).
    accumulation : int
    precision : dlcheck.train.runtime.Precision
    loss_function : callable
    """

    subject: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    batch_size: int
    accumulation: int
    precision: Any
    loss_function: Any

    @classmethod
    def build(
        cls,
        subject: Any,
        *,
        model: nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        batch_size: int | None = None,
    ) -> Workbench:
        """Assemble the pieces; ``model`` defaults to ``subject.model``, ``optimizer`` to the recipe's for it."""
        from dlcheck.train.runtime import resolve_precision

        recipe = subject.recipe
        accumulation = recipe.train.gradient_accumulation
        size = batch_size or recipe.train.batch_size
        if size < 1 or size % accumulation:
            raise InputError(
                f"batch size {size}: a global batch must be a positive multiple of "
                f"train.gradient_accumulation = {accumulation} (it is split into {accumulation} micro-batches)."
            )
        chosen = model if model is not None else subject.model
        return cls(
            subject=subject,
            model=chosen,
            optimizer=optimizer if optimizer is not None else subject.optimizer(chosen),
            batch_size=size,
            accumulation=accumulation,
            precision=resolve_precision(recipe.train.precision, subject.device),
            loss_function=subject.loss_function(regularized=True),
        )

    @property
    def micro_batch_size(self) -> int:
        return self.batch_size // self.accumulation

    def training_step(self, optimizer: torch.optim.Optimizer | None = None) -> TrainingStep:
        """A :class:`TrainingStep` with a fresh GradScaler (fp16 only) and the recipe's regularisation."""
        recipe = self.subject.recipe
        return TrainingStep(
            model=self.model,
            optimizer=optimizer if optimizer is not None else self.optimizer,
            loss_function=self.loss_function,
            precision=self.precision,
            scaler=self.precision.make_scaler() if self.precision.uses_scaler else None,
            accumulation=self.accumulation,
            l1=recipe.regularization.l1,
            clip=recipe.train.gradient_clip,
            max_norm=recipe.regularization.max_norm,
        )

    def train_batches(self, seed: int) -> Iterator[Batch]:
        """Endless training micro-batches in the order (and with the augmentation) that ``seed`` gives."""
        batcher = self.subject.batcher("train", batch_size=self.micro_batch_size, shuffle=True, seed=seed)
        return endless_batches(batcher)

    def held_out(self, *, max_batches: int | None = None) -> tuple[list[Batch], str]:
        """Fixed held-out batches (stored order, no augmentation) and which split they come from.

        The validation split, up to :data:`EVALUATION_MAX_SAMPLES` samples; the training split when the recipe
        has no validation split (said in the second value, so reports can say so).
        """
        size = max(self.micro_batch_size, 256) if max_batches is None else self.micro_batch_size
        batcher = self.subject.batcher("val", batch_size=size, shuffle=False)
        split = "validation"
        if batcher is None:
            batcher = self.subject.batcher("train", batch_size=size, shuffle=False, augment=False)
            split = "training"
        return held_out_batches(batcher, EVALUATION_MAX_SAMPLES, max_batches), split

    @staticmethod
    def seed_dropout(seed: int, repeat: int) -> None:
        """Seed the global torch RNG (dropout masks) for one run; callers restore it with a StateGuard."""
        from dlcheck.data._seeding import Purpose, derive_seed

        torch.manual_seed(derive_seed(seed, Purpose.DROPOUT, 1_000_000 + repeat))
