"""A recipe's parts, assembled once: the data, the model, the loss, the optimiser, the batches and the step.

The trainer, the LR finder and the checks all start from :class:`RecipeParts`: it is the only code that turns a
recipe into these objects, so all three train the same thing. The checks and the finder need more than one run
can give them: many fresh models from the same initialisation, optimisers with the regularisation switched off,
and batches drawn exactly as training draws them (same normalisation, same augmentation).

Build it with :func:`prepare_parts` from a loaded recipe, or with :func:`as_parts` from whatever a public function
was given (a path, a loaded recipe, or parts already built).
"""

from __future__ import annotations

__all__ = ["RecipeParts", "as_parts", "prepare_parts"]

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dlcheck.data import Batcher, DataBundle, make_batcher
from dlcheck.data.bundle import split_size
from dlcheck.engine.batches import endless_batches, held_out_batches
from dlcheck.engine.build import build_data_and_model
from dlcheck.engine.losses import LossFunction, build_loss, correct_samples, is_classification_loss
from dlcheck.engine.optimizers import build_optimizer
from dlcheck.engine.runtime import ChannelsLastInputs, resolve_device
from dlcheck.engine.step import Batch, Metric, OptimizerStep, StepHooks, StepPolicy
from dlcheck.errors import InvalidArgument
from dlcheck.model import ModelSummary
from dlcheck.model.build import build_model
from dlcheck.recipe import LoadedRecipe, Recipe, load_recipe


@dataclass
class RecipeParts:
    """Everything a run, a check or the LR finder needs from a recipe; build it with :func:`prepare_parts`.

    Attributes
    ----------
    loaded : LoadedRecipe
        The validated recipe and where it came from.
    data : DataBundle
        The training and validation splits, their normalisation and shapes.
    model : torch.nn.Module
        The recipe's model as initialised by its seed, on :attr:`device`; :meth:`fresh_model` builds an
        identical one.
    summary : ModelSummary
        Layer shapes and parameter counts.
    device : torch.device
    warnings : list of str
        Settings that are valid but probably not what the user meant.

    Examples
    --------
    >>> from dlcheck.recipe import parse_recipe
    >>> parts = prepare_parts(parse_recipe("data: {source: blobs, samples: 60, classes: 3}\\n"
    ...                                    "model: {layers: [{type: linear, out: 3}]}\\ndevice: cpu\\n"))
    >>> model = parts.fresh_model()
    >>> step = parts.optimizer_step(model, parts.optimizer(model))
    >>> batch = parts.first_batch()
    >>> step([batch]).sizes, parts.step_policy().precision.name
    ([32], 'fp32')
    """

    loaded: LoadedRecipe
    data: DataBundle
    model: nn.Module
    summary: ModelSummary
    device: torch.device
    warnings: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> Recipe:
        return self.loaded.recipe

    @property
    def loss_name(self) -> str:
        return str(self.recipe.loss)

    @property
    def classification(self) -> bool:
        return is_classification_loss(self.loss_name)

    @property
    def num_classes(self) -> int | None:
        return self.data.num_classes

    # ---------------------------------------------------------------------------------------- the parts
    def loss_function(self, *, regularized: bool = True) -> LossFunction:
        """The recipe's loss; ``regularized=False`` drops label smoothing."""
        smoothing = self.recipe.regularization.label_smoothing if regularized else 0.0
        data = self.data
        return build_loss(
            self.loss_name, label_smoothing=smoothing, ignore_index=data.ignore_index, sequence=data.sequence
        )

    def metric(self) -> Metric | None:
        """Which samples of a batch are right, for a classification loss (:func:`~dlcheck.engine.losses.correct_samples`):
        the sum over an epoch is its correct count, taken once at the end rather than once per batch."""
        if not self.classification:
            return None
        return functools.partial(_correct_samples, loss=self.loss_function(regularized=False))

    def fresh_model(self, seed: int | None = None) -> nn.Module:
        """A new model on :attr:`device`, initialised exactly as training would (same seed: same weights)."""
        model = build_model(
            self.recipe.model,
            self.data.input_shape,
            seed=self.recipe.seed if seed is None else seed,
            directory=self.loaded.directory,
            vocabulary_size=self.data.vocabulary_size,
        )
        return model.to(self.device)

    def optimizer(
        self, model: nn.Module, *, lr: float | None = None, regularized: bool = True
    ) -> torch.optim.Optimizer:
        """The recipe's optimiser for ``model``; ``regularized=False`` sets weight decay to 0."""
        changes: dict[str, float] = {}
        if lr is not None:
            changes["lr"] = lr
        if not regularized:
            changes["weight_decay"] = 0.0
        config = self.recipe.optimizer.model_copy(update=changes) if changes else self.recipe.optimizer
        return build_optimizer(model, config)

    @functools.cached_property
    def _policy(self) -> StepPolicy:
        return StepPolicy.from_recipe(self.recipe, self.device)

    def step_policy(self, *, regularized: bool = True, precision: str = "recipe") -> StepPolicy:
        """The recipe's step: precision, accumulation, clipping and (``regularized``) L1 and max-norm.

        Parameters
        ----------
        regularized : bool
            ``False`` switches L1 and max-norm off (clipping stays: it is how the recipe steps).
        precision : {"recipe", "fp32"}
            ``"recipe"`` runs ``train.precision`` as training does; ``"fp32"`` in full precision.

        Raises
        ------
        InputError
            When ``train.precision`` cannot run on this device (fp16 needs CUDA).
        """
        if precision not in ("recipe", "fp32"):
            raise InvalidArgument("precision", f"precision={precision!r}: expected 'recipe' or 'fp32'.")
        policy = self._policy if precision == "recipe" else self._policy.in_fp32()
        return policy if regularized else policy.without_regularization()

    def forward_module(self, model: nn.Module) -> nn.Module:
        """What the inputs go through, as in training: ``model``, behind channels-last inputs when
        ``train.channels_last`` asks for them (the same convolution kernels as training).

        ``train.compile`` is left to training: compiling changes speed, not results (up to rounding), and a
        check's or a sweep's few hundred steps would mostly pay for the compilation.
        """
        return ChannelsLastInputs(model) if self.recipe.train.channels_last else model

    def optimizer_step(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        policy: StepPolicy | None = None,
        metric: Metric | None = None,
        hooks: StepHooks | None = None,
    ) -> OptimizerStep:
        """The recipe's :class:`OptimizerStep` for ``model`` and ``optimizer`` (default policy: :meth:`step_policy`).

        The loss is the recipe's with its label smoothing; the inputs go through :meth:`forward_module`.
        """
        return OptimizerStep(
            model,
            optimizer,
            self.loss_function(regularized=True),
            policy if policy is not None else self.step_policy(),
            forward=self.forward_module(model),
            metric=metric,
            hooks=hooks,
        )

    # ------------------------------------------------------------------------------------- the batches
    def batcher(
        self,
        split: str = "train",
        *,
        batch_size: int | None = None,
        shuffle: bool = True,
        augment: bool = True,
        seed: int | None = None,
    ) -> Batcher | None:
        """Batches of ``split`` ("train" or "val") exactly as training draws them (normalised, augmented).

        ``batch_size`` defaults to the recipe's global batch; returns None for a missing validation split.
        """
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

    def first_batch(self, split: str = "train", *, batch_size: int | None = None, augment: bool = True) -> Batch:
        """One batch ``(inputs, targets)`` on :attr:`device`, in the stored order (no shuffle).

        Raises
        ------
        InvalidArgument
            For ``split="val"`` when the recipe has no validation split.
        """
        batcher = self.batcher(split, batch_size=batch_size, shuffle=False, augment=augment)
        if batcher is None:
            raise InvalidArgument("split", f"split={split!r}: the recipe has no validation split.")
        return next(iter(batcher.epoch(0)))

    def sample_batch(self, size: int, *, seed: int) -> Batch:
        """A seeded random sample of ``size`` training samples (fewer in a smaller split), not augmented."""
        batcher = self.batcher("train", batch_size=min(size, self.train_size()), shuffle=True, augment=False, seed=seed)
        assert batcher is not None  # the training split always exists
        return next(iter(batcher.epoch(0)))

    def micro_batch_size(self, batch_size: int | None = None) -> int:
        """Samples per micro-batch for a global ``batch_size`` (default ``train.batch_size``) split over
        ``train.gradient_accumulation``.

        Raises
        ------
        InvalidArgument
            When ``batch_size`` is not a positive multiple of the accumulation.
        """
        accumulation = self.recipe.train.gradient_accumulation
        size = batch_size or self.recipe.train.batch_size
        if size < 1 or size % accumulation:
            raise InvalidArgument(
                "batch_size",
                f"batch_size={size}: a global batch must be a positive multiple of train.gradient_accumulation = "
                f"{accumulation} (it is split into {accumulation} micro-batches).",
            )
        return size // accumulation

    def train_batches(self, *, batch_size: int | None = None, seed: int | None = None) -> Iterator[Batch]:
        """Endless training micro-batches of a global ``batch_size``, in the order (and with the augmentation)
        that ``seed`` gives."""
        batcher = self.batcher("train", batch_size=self.micro_batch_size(batch_size), shuffle=True, seed=seed)
        assert batcher is not None
        return endless_batches(batcher)

    def held_out(
        self, *, micro_batch_size: int, max_samples: int, max_batches: int | None = None
    ) -> tuple[list[Batch], str]:
        """Fixed held-out batches (stored order, no augmentation) and which split they come from.

        The validation split, up to ``max_samples`` samples in batches of at least 256 (or, with ``max_batches``,
        of ``micro_batch_size``); the training split when the recipe has no validation split (said in the second
        value, so reports can say so).
        """
        size = max(micro_batch_size, 256) if max_batches is None else micro_batch_size
        batcher = self.batcher("val", batch_size=size, shuffle=False)
        split = "validation"
        if batcher is None:
            batcher = self.batcher("train", batch_size=size, shuffle=False, augment=False)
            split = "training"
        assert batcher is not None
        return held_out_batches(batcher, max_samples, max_batches), split

    def train_size(self) -> int:
        return split_size(self.data.train)

    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.train_size() / self.recipe.train.batch_size))


def _correct_samples(outputs: torch.Tensor, targets: torch.Tensor, *, loss: LossFunction) -> torch.Tensor:
    return correct_samples(outputs, targets, loss)


def prepare_parts(loaded: LoadedRecipe, *, device: str | None = None, check: bool = True) -> RecipeParts:
    """Load the data and build the model of a recipe, on ``device`` (default: the recipe's ``device``).

    Raises the same :class:`~dlcheck.errors.DlcheckError` subclasses as ``dlcheck recipe check``;
    ``check=False`` accepts bad data values (NaN inputs, labels out of range) for a check to report.
    """
    built = build_data_and_model(loaded, check=check)
    target = resolve_device(device or loaded.recipe.device)
    return RecipeParts(
        loaded=loaded,
        data=built.data,
        model=built.model.to(target),
        summary=built.summary,
        device=target,
        warnings=list(built.warnings),
    )


def as_parts(
    recipe: str | Path | LoadedRecipe | RecipeParts,
    *,
    overrides: Sequence[str] = (),
    device: str | None = None,
    check: bool = True,
) -> RecipeParts:
    """What every public entry point accepts, as :class:`RecipeParts`: a recipe file, a loaded recipe, or parts.

    Parameters
    ----------
    recipe : str, pathlib.Path, LoadedRecipe or RecipeParts
        Parts are returned as they are (``overrides`` and ``device`` must then be left out).
    overrides : sequence of str
        ``KEY=VALUE`` recipe overrides, as ``--set`` takes them (for a path only).
    device : str, optional
        Overrides the recipe's ``device``.
    check : bool
        ``False`` accepts bad data values for a check to report (see :func:`prepare_parts`).

    Raises
    ------
    InvalidArgument
        ``overrides`` for an already loaded recipe, or a value of another type.
    """
    if isinstance(recipe, RecipeParts):
        if overrides or device is not None:
            raise InvalidArgument("overrides", "overrides= and device= apply to a recipe file, not to built parts.")
        return recipe
    if isinstance(recipe, LoadedRecipe):
        if overrides:
            raise InvalidArgument("overrides", "overrides= apply to a recipe file; this recipe is already loaded.")
        return prepare_parts(recipe, device=device, check=check)
    if isinstance(recipe, (str, Path)):
        return prepare_parts(load_recipe(Path(recipe), list(overrides)), device=device, check=check)
    raise InvalidArgument(
        "recipe",
        f"recipe={type(recipe).__name__}: expected a recipe file (str or pathlib.Path), a LoadedRecipe "
        "(dlcheck.load_recipe) or RecipeParts.",
    )
