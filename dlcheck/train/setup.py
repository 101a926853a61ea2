"""Everything a run needs before its first step, built in the order errors should surface.

Cheap checks first (devices, precision, batch split, the resume checkpoint), then data, then the model,
so a bad option fails in milliseconds rather than after loading data. :class:`TrainingSetup` also owns
the few stateful side jobs of the loop (logging, checkpoints, best-epoch tracking) so the loop in
:mod:`dlcheck.train.trainer` reads as the algorithm.
"""

from __future__ import annotations

__all__ = ["Progress", "TrainingSetup", "build_training_setup"]

import json
import math
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dlcheck import __version__
from dlcheck.errors import InputError
from dlcheck.recipe import LoadedRecipe, recipe_to_yaml
from dlcheck.recipe.schema import GradientClipConfig
from dlcheck.train.build import build_data_and_model
from dlcheck.train.checkpoint import (
    RunDirectory,
    copy_checkpoint,
    find_resume_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from dlcheck.train.events import RunInfo
from dlcheck.train.loggers import MetricLogger
from dlcheck.train.runtime import (
    ChannelsLastInputs,
    DistributedContext,
    Precision,
    configure_kernels,
    resolve_device,
    resolve_precision,
    setup_distributed,
)


@dataclass
class Progress:
    """Where the run is; saved in every checkpoint so a resumed run continues exactly."""

    epoch: int = 0  # next epoch to run (0-based) == epochs completed
    batch: int = 0  # next batch of that epoch (> 0 only after a mid-epoch stop)
    step: int = 0  # optimiser steps taken
    partial: dict[str, Any] | None = None  # EpochMeter.state() of a stopped epoch: same epoch loss on resume
    history: list[dict[str, float]] = field(default_factory=list)

    def update(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


class TrainingSetup:
    """The objects of one run and the side jobs around the loop."""

    def __init__(self, loaded: LoadedRecipe, *, resume: str | None, run_directory: Path | None) -> None:
        # Imported here so that `import dlcheck.train` stays light for the CLI.
        from dlcheck.data import make_batcher
        from dlcheck.train.early_stopping import EarlyStopping, resolve_mode
        from dlcheck.train.optimizers import build_optimizer, describe_param_groups
        from dlcheck.train.schedules import LearningRateController

        recipe = loaded.recipe
        self.recipe = recipe
        self.recipe_text = recipe_to_yaml(recipe)  # saved in recipe.yaml and in every checkpoint
        self.context: DistributedContext = setup_distributed(recipe.device)
        self.device = resolve_device(recipe.device, self.context)
        self.precision: Precision = resolve_precision(recipe.train.precision, self.device)

        # The global batch is split over processes and accumulation steps (research A3, rule 1).
        world, accumulation = self.context.world_size, recipe.train.gradient_accumulation
        if recipe.train.batch_size % (world * accumulation):
            raise InputError(
                f"train.batch_size = {recipe.train.batch_size} is the global batch and must divide evenly over "
                f"{world} process(es) x {accumulation} accumulation step(s); choose a multiple of {world * accumulation}."
            )
        self.micro_batch_size = recipe.train.batch_size // (world * accumulation)

        resume_state: dict[str, Any] | None = None
        resumed_from: Path | None = None
        base = Path(recipe.logging.directory)
        if resume is not None:
            resumed_from = find_resume_checkpoint(resume, runs_directory=base, name=recipe.name)
            resume_state = load_checkpoint(resumed_from)
            _check_compatible(resume_state, loaded, resumed_from, world_size=world)

        # Dropout draws from the global generator; seed it per rank and save its state in checkpoints.
        torch.manual_seed(recipe.seed + self.context.rank)

        built = build_data_and_model(loaded)
        self.data, self.model, self.summary = built.data, built.model, built.summary
        self.warnings = list(built.warnings)
        self.ddp = self.context.is_distributed
        if recipe.train.sync_batchnorm:
            self.model = self._synchronised_batchnorm(self.model)
        configure_kernels(self.device, deterministic=recipe.train.deterministic)
        self.model.to(self.device)
        self.forward_model: torch.nn.Module = self.model
        if recipe.train.channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.forward_model = ChannelsLastInputs(self.model)
        if recipe.train.compile:
            self.forward_model = torch.compile(self.forward_model)  # type: ignore[assignment]
        if self.ddp:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(self.forward_model, device_ids=ids)

        self.optimizer = build_optimizer(self.model, recipe.optimizer)
        self.scaler = self.precision.make_scaler()
        normalization = self.data.normalization
        self.train_batcher = make_batcher(
            self.data.train,
            batch_size=self.micro_batch_size,
            shuffle=True,
            seed=recipe.seed,
            device=self.device,
            augment=recipe.data.augment,
            normalization=normalization,
            loader=recipe.data.loader,
            num_workers=recipe.data.num_workers,
            rank=self.context.rank,
            world_size=world,
            drop_last=self.ddp,  # every rank must take the same number of steps
        )
        if len(self.train_batcher) == 0:
            raise InputError(
                f"train.batch_size = {recipe.train.batch_size} leaves no full batch for each of {world} process(es) "
                "in the training split; use a smaller batch size."
            )
        self.val_batcher = None
        if self.data.val is not None:
            self.val_batcher = make_batcher(
                self.data.val,
                batch_size=max(self.micro_batch_size, 256),
                shuffle=False,
                seed=recipe.seed,
                device=self.device,
                normalization=normalization,
                loader=recipe.data.loader,
                num_workers=recipe.data.num_workers,
                rank=self.context.rank,
                world_size=world,
            )
        batches = len(self.train_batcher)
        self.steps_per_epoch = math.ceil(batches / accumulation)
        self.learning_rate = LearningRateController(
            self.optimizer,
            recipe.schedule,
            base_lr=recipe.optimizer.lr,
            steps_per_epoch=self.steps_per_epoch,
            total_epochs=recipe.train.epochs,
        )
        self.early_stopping = EarlyStopping(recipe.early_stopping) if recipe.early_stopping else None
        if recipe.early_stopping is not None:
            self.monitor = recipe.early_stopping.monitor
        else:
            self.monitor = "val/loss" if self.val_batcher is not None else "train/loss"
        self._maximize = resolve_mode(self.monitor, "auto") == "max"
        self.best_value: float | None = None
        self.best_epoch: int | None = None

        self.progress = Progress()
        if resume_state is not None:
            from dlcheck.train.state import restore_state

            restore_state(self, resume_state)

        # Rank 0 chooses the run directory and tells the others (hydra#2070 is what happens otherwise).
        self.run: RunDirectory | None = None
        self.logger: MetricLogger | None = None
        chosen: str | None = None
        if self.context.is_main:
            if resumed_from is not None:
                self.run = RunDirectory(resumed_from.parent.parent)
            elif run_directory is not None:
                self.run = RunDirectory.use(run_directory)
            else:
                self.run = RunDirectory.create(base, recipe.name)
            chosen = str(self.run.path)
            self._write_run_files(loaded, resumed_from)
            self.logger = MetricLogger(
                self.run.path,
                tensorboard=recipe.logging.tensorboard,
                resume_step=self.progress.step if resume_state is not None else None,
            )
        chosen = self.context.broadcast(chosen)
        self.run_path = Path(chosen) if chosen else None

        self.info = RunInfo(
            name=recipe.name,
            run_directory=self.run_path,
            device=str(self.device),
            precision=self.precision.name,
            world_size=world,
            seed=recipe.seed,
            epochs=recipe.train.epochs,
            steps_per_epoch=self.steps_per_epoch,
            batches_per_epoch=batches,
            batch_size=recipe.train.batch_size,
            per_process_batch_size=self.micro_batch_size,
            gradient_accumulation=accumulation,
            data=self.data.describe(),
            model_summary=self.summary,
            optimizer=recipe.optimizer.name,
            parameter_groups=describe_param_groups(self.optimizer),
            loader=type(self.train_batcher).__name__,
            is_main=self.context.is_main,
            warnings=list(self.warnings),
            resumed_from=resumed_from,
            start_epoch=self.progress.epoch,
            start_batch=self.progress.batch,
        )

    # ------------------------------------------------------------------------------- loop side jobs
    def _synchronised_batchnorm(self, model: torch.nn.Module) -> torch.nn.Module:
        """``train.sync_batchnorm``: batch statistics over every process's samples (DDP on GPUs only)."""
        if not self.ddp:
            self.warnings.append(
                "train.sync_batchnorm has no effect in a single process: its batch norms already see the whole batch."
            )
            return model
        if self.device.type != "cuda":
            raise InputError(
                f"train.sync_batchnorm: PyTorch's SyncBatchNorm runs on GPUs only, but this run is on {self.device}; "
                "set `train.sync_batchnorm: false` for CPU processes (each then normalises its own share of the batch)."
            )
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)

    def l1_penalty(self) -> torch.Tensor:
        from dlcheck.train.regularization import l1_penalty

        return l1_penalty(self.model)

    def clip(self, config: GradientClipConfig) -> torch.Tensor:
        from dlcheck.train.regularization import clip_gradients

        return clip_gradients(self.model.parameters(), config)

    def gradient_norm(self) -> torch.Tensor:
        from dlcheck.train.regularization import gradient_norm

        return gradient_norm(self.model.parameters())

    def max_norm(self, value: float) -> None:
        from dlcheck.train.regularization import apply_max_norm

        apply_max_norm(self.model, value)

    def log(self, record: dict[str, Any]) -> None:
        if self.logger is not None:
            self.logger.log(record)

    def update_early_stopping(self, epoch: int, metrics: dict[str, float]) -> tuple[bool, bool]:
        """Return (improved, stop). Tracks the best epoch even without early stopping (for best.pt)."""
        if self.early_stopping is not None:
            decision = self.early_stopping.update(epoch + 1, metrics)
            if decision.improved:
                self.early_stopping.remember(self.model)
                self.best_value, self.best_epoch = metrics.get(self.monitor), epoch + 1
            return decision.improved, decision.stop
        value = metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False, False
        better = self.best_value is None or (value > self.best_value if self._maximize else value < self.best_value)
        if better:
            self.best_value, self.best_epoch = value, epoch + 1
        return better, False

    def early_stopping_message(self) -> str:
        stopping = self.recipe.early_stopping
        assert stopping is not None
        return (
            f"{stopping.monitor} did not improve for {stopping.patience} epochs"
            + (f" (by more than {stopping.min_delta:g})" if stopping.min_delta else "")
            + f"; best {self.best_value:.4g} at epoch {self.best_epoch}"
        )

    def restore_best_if_asked(
        self, history: list[dict[str, float]]
    ) -> tuple[int | None, dict[str, float] | None, bool]:
        """Load early stopping's best weights when the recipe asks; return (epoch, metrics, restored)."""
        best_metrics = None
        if self.best_epoch is not None:
            best_metrics = next((row for row in history if row.get("epoch") == self.best_epoch), None)
        stopping = self.recipe.early_stopping
        restored = False
        if self.early_stopping is not None and stopping is not None and stopping.restore_best:
            state = self.early_stopping.best_state
            if state is not None:
                self.model.load_state_dict(state)
                restored = True
        return self.best_epoch, best_metrics, restored

    def save_last(self, state: dict[str, Any]) -> None:
        if self.run is not None:
            save_checkpoint(self.run.last_checkpoint, state)

    def save_epoch(self, state: dict[str, Any], *, epoch: int, improved: bool) -> None:
        if self.run is None:
            return
        config = self.recipe.checkpoint
        save_checkpoint(self.run.last_checkpoint, state)  # serialised once, linked below
        if epoch % config.every_epochs == 0:
            copy_checkpoint(self.run.last_checkpoint, self.run.epoch_checkpoint(epoch))
            self.run.prune_epoch_checkpoints(config.keep_last)
        if improved and config.save_best:
            copy_checkpoint(self.run.last_checkpoint, self.run.best_checkpoint)

    def last_good_checkpoint(self) -> Path | None:
        if self.run is not None and self.run.last_checkpoint.is_file():
            return self.run.last_checkpoint
        return None

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
        if self.ddp:
            # Free the DDP wrapper (its reducer holds gloo work objects) while the process group and the
            # interpreter are alive: freed at interpreter exit, they abort the process ("terminate called
            # without an active exception"; pytorch/pytorch#179291), seen here in about 1 run in 20.
            import gc

            self.forward_model = self.model
            gc.collect()
        self.context.shutdown()

    def _write_run_files(self, loaded: LoadedRecipe, resumed_from: Path | None) -> None:
        assert self.run is not None
        self.run.path.joinpath("recipe.yaml").write_text(self.recipe_text, encoding="utf-8")
        facts = {
            "name": self.recipe.name,
            "recipe_file": str(loaded.path),
            "overrides": list(loaded.overrides),
            "seed": self.recipe.seed,
            "world_size": self.context.world_size,
            "batch_size": self.recipe.train.batch_size,
            "per_process_batch_size": self.micro_batch_size,
            "gradient_accumulation": self.recipe.train.gradient_accumulation,
            "device": str(self.device),
            "precision": self.precision.name,
            "steps_per_epoch": self.steps_per_epoch,  # read by `dlcheck diagnose` (periodicity, epochs)
            "data": self.data.describe(),  # classes and validation size, for `dlcheck diagnose`
            "resumed_from": str(resumed_from) if resumed_from else None,
            "command": sys.argv,
            "versions": {
                "dlcheck": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "cuda": torch.version.cuda,
            },
        }
        name = "run.json" if resumed_from is None else f"run-resumed-step{self.progress.step}.json"
        self.run.path.joinpath(name).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


def _check_compatible(state: dict[str, Any], loaded: LoadedRecipe, path: Path, *, world_size: int) -> None:
    """Refuse to resume into a different model or data (nanoGPT forces the model args to match)."""
    from dlcheck.recipe import parse_recipe

    saved = parse_recipe(state["recipe"], source=f"{path} (saved recipe)", check_factories=False).recipe
    current = loaded.recipe
    for section in ("model", "data", "loss", "seed"):
        if getattr(saved, section) != getattr(current, section):
            raise InputError(
                f"--resume: the checkpoint {path} was trained with a different `{section}` section than "
                f"{loaded.path}; resuming would not continue the same run. Use the recipe saved in "
                f"{path.parent.parent / 'recipe.yaml'}, or start a new run without --resume."
            )
    saved_world = state.get("world_size", 1)
    if saved_world != world_size and state["progress"]["batch"] != 0:
        # The position inside an epoch is counted in this world size's per-process batches; at an epoch's end
        # nothing depends on it (the global batch, the epoch order and the optimiser state do not change).
        raise InputError(
            f"--resume: {path} was saved in the middle of an epoch by {saved_world} process(es), and this run has "
            f"{world_size}; a mid-epoch position cannot move to another number of processes. Resume with "
            f"{saved_world} process(es), or from an end-of-epoch checkpoint of the same run "
            f"({path.parent / 'epoch-N.pt'})."
        )


def build_training_setup(loaded: LoadedRecipe, *, resume: str | None, run_directory: Path | None) -> TrainingSetup:
    return TrainingSetup(loaded, resume=resume, run_directory=run_directory)
