"""Everything a run needs before its first step, built in the order errors should surface.

A run is three things put together: where it executes (:class:`RunContext`: the process group, the device,
this process's share of the global batch), the recipe's parts (:class:`~dlcheck.engine.parts.RecipeParts`: data,
model, loss, optimiser, the step), and its files (:class:`~dlcheck.train.run_files.RunFiles`, rank 0 only).
:func:`build_training_setup` checks the cheap things first (devices, precision, batch split, the resume
checkpoint), then loads the data, then builds the model, so a bad option fails in milliseconds rather than
after loading data.
"""

from __future__ import annotations

__all__ = ["RunContext", "TrainingSetup", "build_training_setup", "check_compatible", "open_run_files"]

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dlcheck.data import Batcher, make_batcher
from dlcheck.engine.optimizers import describe_param_groups
from dlcheck.engine.parts import RecipeParts, prepare_parts
from dlcheck.engine.runtime import (
    DistributedContext,
    configure_kernels,
    resolve_device,
    setup_distributed,
)
from dlcheck.engine.schedules import LearningRateController
from dlcheck.engine.step import OptimizerStep, StepPolicy
from dlcheck.errors import InputError
from dlcheck.recipe import LoadedRecipe, Recipe, parse_recipe, recipe_to_yaml
from dlcheck.seeding import Purpose, derive_seed
from dlcheck.train.checkpoint import find_resume_checkpoint, load_checkpoint
from dlcheck.train.early_stopping import BestEpoch
from dlcheck.train.events import RunInfo
from dlcheck.train.records import Progress
from dlcheck.train.run_files import RunFiles, run_facts


@dataclass(frozen=True)
class RunContext:
    """Where this process runs: its place in the process group, its device, its share of the global batch.

    ``train.batch_size`` is the *global* batch: it is split over processes and accumulation steps, so a recipe
    means the same thing on 1 CPU and on N GPUs (nanoGPT's convention).
    """

    distributed: DistributedContext
    device: torch.device
    micro_batch_size: int

    @property
    def is_main(self) -> bool:
        return self.distributed.is_main

    @property
    def is_distributed(self) -> bool:
        return self.distributed.is_distributed

    @classmethod
    def start(cls, recipe: Recipe) -> RunContext:
        """Join the process group (under torchrun), choose the device and split the global batch."""
        distributed = setup_distributed(recipe.device)
        device = resolve_device(recipe.device, distributed)
        world, accumulation = distributed.world_size, recipe.train.gradient_accumulation
        if recipe.train.batch_size % (world * accumulation):
            raise InputError(
                f"train.batch_size = {recipe.train.batch_size} is the global batch and must divide evenly over "
                f"{world} process(es) x {accumulation} accumulation step(s); choose a multiple of {world * accumulation}."
            )
        return cls(distributed, device, recipe.train.batch_size // (world * accumulation))


@dataclass
class TrainingSetup:
    """The objects of one run: its context, the recipe's parts, and what the loop drives."""

    loaded: LoadedRecipe
    context: RunContext
    parts: RecipeParts
    policy: StepPolicy
    model: nn.Module  # the parameters (what checkpoints hold)
    forward_model: nn.Module  # what inputs go through: channels-last, compiled and DDP wrappers of `model`
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    step: OptimizerStep
    train_batcher: Batcher
    val_batcher: Batcher | None
    learning_rate: LearningRateController
    best: BestEpoch
    steps_per_epoch: int
    recipe_text: str  # the resolved recipe: saved in recipe.yaml and in every checkpoint
    warnings: list[str] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    resumed_from: Path | None = None
    resume_state: dict[str, Any] | None = None
    files: RunFiles | None = None  # rank 0 only
    run_path: Path | None = None  # on every rank

    @property
    def recipe(self) -> Recipe:
        return self.loaded.recipe

    @property
    def device(self) -> torch.device:
        return self.context.device

    def info(self) -> RunInfo:
        """The facts of the run for the header of a report."""
        recipe, context = self.recipe, self.context
        return RunInfo(
            name=recipe.name,
            run_directory=self.run_path,
            device=str(self.device),
            precision=self.policy.precision.name,
            world_size=context.distributed.world_size,
            seed=recipe.seed,
            epochs=recipe.train.epochs,
            steps_per_epoch=self.steps_per_epoch,
            batches_per_epoch=len(self.train_batcher),
            batch_size=recipe.train.batch_size,
            per_process_batch_size=context.micro_batch_size,
            gradient_accumulation=recipe.train.gradient_accumulation,
            data=self.parts.data.describe(),
            model_summary=self.parts.summary,
            optimizer=recipe.optimizer.name,
            parameter_groups=describe_param_groups(self.optimizer),
            loader=type(self.train_batcher).__name__,
            is_main=context.is_main,
            warnings=list(self.warnings),
            resumed_from=self.resumed_from,
            start_epoch=self.progress.epoch,
            start_batch=self.progress.batch,
        )

    def log(self, record: dict[str, Any]) -> None:
        if self.files is not None:
            self.files.log(record)

    def last_good_checkpoint(self) -> Path | None:
        return self.files.last_good_checkpoint() if self.files is not None else None

    def close(self) -> None:
        try:
            if self.files is not None:
                self.files.close()
        finally:
            if self.context.is_distributed:
                # Free the DDP wrapper (its reducer holds gloo work objects) while the process group and the
                # interpreter are alive: freed at interpreter exit, they abort the process ("terminate called
                # without an active exception"; pytorch/pytorch#179291), seen here in about 1 run in 20.
                import gc  # only here: a torchrun job's last step

                self.forward_model = self.model
                self.step.forward = self.model
                gc.collect()
            self.context.distributed.shutdown()


def build_training_setup(loaded: LoadedRecipe, *, resume: str | None) -> TrainingSetup:
    """Build a run's objects; the checkpoint to resume from is loaded (and checked) but not yet applied.

    The trainer applies it with :func:`dlcheck.train.state.restore_state`, then opens the run's files
    (:func:`open_run_files`).
    """
    recipe = loaded.recipe
    context = RunContext.start(recipe)
    world = context.distributed.world_size
    resume_state: dict[str, Any] | None = None
    resumed_from: Path | None = None
    if resume is not None:
        resumed_from = find_resume_checkpoint(resume, runs_directory=Path(recipe.logging.directory), name=recipe.name)
        resume_state = load_checkpoint(resumed_from)
        check_compatible(resume_state, loaded, resumed_from, world_size=world)
    policy = StepPolicy.from_recipe(recipe, context.device)

    # Dropout draws from the global generator; seed it per rank and save its state in checkpoints.
    torch.manual_seed(derive_seed(recipe.seed, Purpose.TRAIN_DROPOUT, context.distributed.rank))

    parts = prepare_parts(loaded, device=str(context.device))
    warnings = list(parts.warnings)
    model = parts.model
    if recipe.train.sync_batchnorm:
        model = _synchronised_batchnorm(model, context, warnings)
        parts.model = model
    configure_kernels(context.device, deterministic=recipe.train.deterministic)
    if recipe.train.channels_last:  # the weights once here; the inputs of every batch in forward_module
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    forward_model = parts.forward_module(model)
    if recipe.train.compile:
        forward_model = torch.compile(forward_model)  # type: ignore[assignment]
    if context.is_distributed:
        ids = [context.device.index] if context.device.type == "cuda" else None
        forward_model = DistributedDataParallel(forward_model, device_ids=ids)

    optimizer = parts.optimizer(model)
    scaler = policy.precision.make_scaler()
    train_batcher, val_batcher = _batchers(parts, context)
    steps_per_epoch = math.ceil(len(train_batcher) / recipe.train.gradient_accumulation)
    step = OptimizerStep(
        model,
        optimizer,
        parts.loss_function(regularized=True),
        policy,
        forward=forward_model,
        scaler=scaler,
        metric=parts.metric(),
    )
    return TrainingSetup(
        loaded=loaded,
        context=context,
        parts=parts,
        policy=policy,
        model=model,
        forward_model=forward_model,
        optimizer=optimizer,
        scaler=scaler,
        step=step,
        train_batcher=train_batcher,
        val_batcher=val_batcher,
        learning_rate=LearningRateController(
            optimizer,
            recipe.schedule,
            base_lr=recipe.optimizer.lr,
            steps_per_epoch=steps_per_epoch,
            total_epochs=recipe.train.epochs,
        ),
        best=BestEpoch(recipe.early_stopping, has_validation=val_batcher is not None),
        steps_per_epoch=steps_per_epoch,
        recipe_text=recipe_to_yaml(recipe),
        warnings=warnings,
        resumed_from=resumed_from,
        resume_state=resume_state,
    )


def open_run_files(setup: TrainingSetup, *, run_directory: Path | None, command: Sequence[str] | None) -> None:
    """Rank 0 chooses the run directory and tells the others (hydra#2070 is what happens otherwise).

    A collective under torchrun: every rank calls it.
    """
    recipe, context = setup.recipe, setup.context
    chosen: str | None = None
    if context.is_main:
        resumed = setup.resumed_from is not None
        files = RunFiles.open(
            base=Path(recipe.logging.directory),
            name=recipe.name,
            resumed_from=setup.resumed_from,
            run_directory=run_directory,
            tensorboard=recipe.logging.tensorboard,
            resume_step=setup.progress.step if resumed else None,
        )
        facts = run_facts(
            name=recipe.name,
            recipe_file=setup.loaded.path,
            overrides=setup.loaded.overrides,
            command=command,
            seed=recipe.seed,
            world_size=context.distributed.world_size,
            batch_size=recipe.train.batch_size,
            per_process_batch_size=context.micro_batch_size,
            gradient_accumulation=recipe.train.gradient_accumulation,
            device=str(setup.device),
            precision=setup.policy.precision.name,
            steps_per_epoch=setup.steps_per_epoch,  # read by `dlcheck diagnose` (periodicity, epochs)
            data=setup.parts.data.describe(),  # classes and validation size, for `dlcheck diagnose`
            resumed_from=str(setup.resumed_from) if setup.resumed_from else None,
        )
        files.write_description(setup.recipe_text, facts, resumed_at_step=setup.progress.step if resumed else None)
        setup.files = files
        chosen = str(files.path)
    chosen = context.distributed.broadcast(chosen)
    setup.run_path = Path(chosen) if chosen else None


def _batchers(parts: RecipeParts, context: RunContext) -> tuple[Batcher, Batcher | None]:
    recipe, distributed = parts.recipe, context.distributed
    world = distributed.world_size
    common: dict[str, Any] = {
        "seed": recipe.seed,
        "device": context.device,
        "normalization": parts.data.normalization,
        "loader": recipe.data.loader,
        "num_workers": recipe.data.num_workers,
        "rank": distributed.rank,
        "world_size": world,
    }
    train = make_batcher(
        parts.data.train,
        batch_size=context.micro_batch_size,
        shuffle=True,
        augment=recipe.data.augment,
        drop_last=context.is_distributed,  # every rank must take the same number of steps
        **common,
    )
    if len(train) == 0:
        raise InputError(
            f"train.batch_size = {recipe.train.batch_size} leaves no full batch for each of {world} process(es) "
            "in the training split; use a smaller batch size."
        )
    if parts.data.val is None:
        return train, None
    return train, make_batcher(parts.data.val, batch_size=max(context.micro_batch_size, 256), shuffle=False, **common)


def _synchronised_batchnorm(model: nn.Module, context: RunContext, warnings: list[str]) -> nn.Module:
    """``train.sync_batchnorm``: batch statistics over every process's samples (DDP on GPUs only)."""
    if not context.is_distributed:
        warnings.append(
            "train.sync_batchnorm has no effect in a single process: its batch norms already see the whole batch."
        )
        return model
    if context.device.type != "cuda":
        raise InputError(
            f"train.sync_batchnorm: PyTorch's SyncBatchNorm runs on GPUs only, but this run is on {context.device}; "
            "set `train.sync_batchnorm: false` for CPU processes (each then normalises its own share of the batch)."
        )
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def check_compatible(state: dict[str, Any], loaded: LoadedRecipe, path: Path, *, world_size: int) -> None:
    """Refuse to resume into a different model or data (nanoGPT forces the model args to match)."""
    saved = parse_recipe(state["recipe"], source=f"{path} (saved recipe)", check_factories=False).recipe
    current = loaded.recipe
    for section in ("model", "data", "loss", "seed"):
        if getattr(saved, section) != getattr(current, section):
            raise InputError(
                f"resume={path}: the checkpoint was trained with a different `{section}` section than "
                f"{loaded.path}; resuming would not continue the same run. Use the recipe saved in "
                f"{path.parent.parent / 'recipe.yaml'}, or start a new run."
            )
    saved_world = state.get("world_size", 1)
    if saved_world != world_size and state["progress"]["batch"] != 0:
        # The position inside an epoch is counted in this world size's per-process batches; at an epoch's end
        # nothing depends on it (the global batch, the epoch order and the optimiser state do not change).
        raise InputError(
            f"resume={path}: saved in the middle of an epoch by {saved_world} process(es), and this run has "
            f"{world_size}; a mid-epoch position cannot move to another number of processes. Resume with "
            f"{saved_world} process(es), or from an end-of-epoch checkpoint of the same run "
            f"({path.parent / 'epoch-N.pt'})."
        )
