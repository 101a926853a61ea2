"""The training loop of ``dlcheck train``.

Written out in full, in the order it runs (the nanoGPT habit); the step itself is
:class:`~dlcheck.engine.step.OptimizerStep`, the one the LR finder and the checks take too. The loop adds the few
things a good hand-written loop does and a naive one forgets:

- in-memory data is sliced from device tensors, not collated sample by sample (PyTorch #106704, airbench);
- ``train.batch_size`` is the *global* batch: it is split over processes and accumulation steps, so a recipe
  means the same thing on 1 CPU and on N GPUs;
- epoch losses are sums over samples divided by the count, not means of batch means;
- the losses stay on the device and are read back every ``logging.every_steps`` steps, where a NaN or infinite
  loss is named at its exact step: no host sync per step, no blow-up missed;
- a stop request (Ctrl-C, SIGTERM) is honoured at the next optimiser step with a checkpoint that resumes
  exactly: data order and augmentation are functions of (seed, epoch, batch), the RNG state is saved.

Every way the loop can end is a :class:`~dlcheck.train.records.Stop` value returned by a small function; the
loop itself only passes it on.
"""

from __future__ import annotations

__all__ = ["TrainResult", "Trainer", "train"]

import contextlib
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from dlcheck.curves.live import LiveMonitor, SpikeRecorder
from dlcheck.engine.batches import accumulation_groups
from dlcheck.engine.step import evaluate
from dlcheck.errors import DlcheckError, InvalidArgument
from dlcheck.recipe import LoadedRecipe, load_recipe
from dlcheck.train.checkpoint import find_resume_checkpoint
from dlcheck.train.events import EpochRecord, StepRecord, TrainingEvents
from dlcheck.train.meter import EpochMeter
from dlcheck.train.records import Stop, TrainResult
from dlcheck.train.setup import TrainingSetup, build_training_setup, open_run_files
from dlcheck.train.state import capture_state, restore_state


class Trainer:
    """Train one recipe; :meth:`run` returns a :class:`TrainResult` and prints nothing.

    Parameters
    ----------
    loaded : LoadedRecipe
        The recipe (:func:`dlcheck.load_recipe`).
    events : TrainingEvents, optional
        Hooks called as the run goes (progress displays, tests that stop a run mid-epoch).
    resume : str, optional
        ``"auto"`` (the latest run of this recipe), a run directory or a checkpoint file.
    run_directory : pathlib.Path, optional
        Write the run here instead of ``logging.directory/NAME-TIME``.
    handle_signals : bool
        Turn Ctrl-C and SIGTERM into a stop at the next optimiser step with a checkpoint (what ``dlcheck train``
        does); off by default, so a Python caller's own handlers stay in place.
    command : sequence of str, optional
        The command line recorded in ``run.json``.

    Examples
    --------
    >>> from dlcheck.recipe import parse_recipe
    >>> loaded = parse_recipe("data: {source: blobs, samples: 200, classes: 3, val_fraction: 0.2}\\n"
    ...                       "model: {layers: [{type: linear, out: 3}]}\\ntrain: {epochs: 2, batch_size: 32}\\n"
    ...                       "logging: {tensorboard: false}\\ndevice: cpu\\n")
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = Trainer(loaded, run_directory=Path(folder) / "run").run()
    >>> result.status, result.epochs_completed, sorted(result.final_metrics)
    ('completed', 2, ['lr', 'train/accuracy', 'train/loss', 'val/accuracy', 'val/loss'])
    """

    def __init__(
        self,
        loaded: LoadedRecipe,
        *,
        events: TrainingEvents | None = None,
        resume: str | None = None,
        run_directory: Path | None = None,
        handle_signals: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.events = events or TrainingEvents()
        self.resume = resume
        self.requested_run_directory = run_directory
        self.handle_signals = handle_signals
        self.command = command
        self._stop_requested = False
        self._interrupts = 0

    # ------------------------------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Finish the current optimiser step, write a checkpoint and return (what Ctrl-C does)."""
        self._stop_requested = True

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._interrupts += 1
        if self._interrupts > 1:  # a second Ctrl-C means "now"
            raise KeyboardInterrupt
        self.request_stop()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        previous: dict[signal.Signals, Any] = {}
        if self.handle_signals:
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                for signum in (signal.SIGINT, signal.SIGTERM):
                    previous[signum] = signal.signal(signum, self._on_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # ---------------------------------------------------------------------------------------------- run
    def run(self) -> TrainResult:
        with self._signals():
            setup: TrainingSetup | None = None
            try:
                setup = build_training_setup(self.loaded, resume=self.resume)
                if setup.resume_state is not None:
                    restore_state(setup, setup.resume_state)
                    setup.resume_state = None
                open_run_files(setup, run_directory=self.requested_run_directory, command=self.command)
                return self._train(setup)
            finally:
                if setup is not None:
                    setup.close()

    def _train(self, s: TrainingSetup) -> TrainResult:
        started = time.perf_counter()
        epochs, progress = self.recipe.train.epochs, s.progress
        monitor = self._monitor(s)
        self.events.on_start(s.info())
        stop = self._max_steps_already_reached(s)
        epoch = progress.epoch
        while stop is None and epoch < epochs:
            epoch_started = time.perf_counter()
            meter = self._epoch_meter(s, epoch)
            stop = self._train_epoch(s, epoch, meter, monitor)
            if stop is None or stop.finish_epoch:
                stop = self._end_epoch(s, epoch, meter, epoch_started) or stop
            epoch += 1
        stop = stop or Stop("completed", f"trained {epochs} epochs")
        return self._finish(s, stop, monitor, started)

    def _train_epoch(self, s: TrainingSetup, epoch: int, meter: EpochMeter, monitor: _Monitor) -> Stop | None:
        """The optimiser steps of one epoch; a :class:`Stop` when the run must end before the epoch does."""
        progress, every = s.progress, self.recipe.logging.every_steps
        accumulation, batches = self.recipe.train.gradient_accumulation, len(s.train_batcher)
        batch = meter.batches  # > 0 only when resuming mid-epoch
        s.model.train()
        self.events.on_epoch_start(epoch, batches, batch)
        grad_norm: torch.Tensor | None = None  # read at logging time only
        for group in accumulation_groups(s.train_batcher.epoch(epoch, batch), accumulation):
            window = (progress.step + 1) % every == 0
            result = s.step(group, measure_grad_norm=window)  # forward, backward, update: engine/step.py
            meter.record(result)
            grad_norm = result.grad_norm if result.grad_norm is not None else grad_norm
            for index in range(batch, batch + len(group)):
                self.events.on_batch(epoch, index)
            batch += len(group)
            progress.step += 1
            s.learning_rate.on_step_end(progress.step)
            stop = self._log_window(s, epoch, meter, grad_norm, monitor) if window else None
            stop = stop or self._stop_requested_or_max_steps(s, epoch, meter, at_window=window)
            if stop is not None:
                return stop
        return None

    def _end_epoch(self, s: TrainingSetup, epoch: int, meter: EpochMeter, epoch_started: float) -> Stop | None:
        """Reduce over processes, validate, schedule, track the best epoch, checkpoint; an early stop."""
        progress = s.progress
        stop = self._non_finite(s, epoch, meter, meter.check_window())  # the epoch's last, partial window
        if stop is not None:
            return stop
        reduce = s.context.distributed.all_reduce_sum
        totals = reduce(meter.totals())  # [loss sum, correct, samples]
        metrics: dict[str, float] = {"train/loss": float(totals[0] / totals[2])}
        if s.parts.classification:
            metrics["train/accuracy"] = float(totals[1] / totals[2])
        if s.val_batcher is not None:
            # the unwrapped model: no DDP synchronisation or compiled graph for a pass without gradients
            totals = reduce(
                evaluate(
                    s.model, s.step.loss_function, s.val_batcher.epoch(0), s.policy.precision, metric=s.step.metric
                )
            )
            metrics["val/loss"] = float(totals[0] / totals[2])
            if s.parts.classification:
                metrics["val/accuracy"] = float(totals[1] / totals[2])
        metrics["lr"] = s.learning_rate.current_lr
        s.learning_rate.on_epoch_end(epoch, metrics)
        improved, stop_early = s.best.update(epoch, metrics, s.model)
        seconds = time.perf_counter() - epoch_started
        progress.history.append({"epoch": epoch + 1, "step": progress.step, **metrics, "seconds": seconds})
        progress.update(epoch=epoch + 1, batch=0, partial=None)
        s.log({"kind": "epoch", "step": progress.step, "epoch": epoch + 1, **metrics})
        state = capture_state(s, progress)  # a collective under torchrun: every rank takes part
        if s.files is not None:
            config = self.recipe.checkpoint
            s.files.save_epoch(
                state,
                epoch=epoch + 1,
                improved=improved,
                every_epochs=config.every_epochs,
                keep_last=config.keep_last,
                save_best=config.save_best,
            )
        self.events.on_epoch_end(EpochRecord(epoch + 1, progress.step, seconds, metrics, improved))
        return Stop("early_stopped", s.best.stop_message()) if stop_early else None

    # ---------------------------------------------------------------------------- the ways a run ends
    def _epoch_meter(self, s: TrainingSetup, epoch: int) -> EpochMeter:
        progress = s.progress
        start = progress.batch if epoch == progress.epoch else 0
        meter = EpochMeter(s.device, first_step=progress.step - start // self.recipe.train.gradient_accumulation)
        if start:
            meter.restore(progress.partial)
        return meter

    def _log_window(
        self, s: TrainingSetup, epoch: int, meter: EpochMeter, grad_norm: torch.Tensor | None, monitor: _Monitor
    ) -> Stop | None:
        """Every ``logging.every_steps`` steps: the one host sync; log the window, judge it for NaN and divergence."""
        progress = s.progress
        window = meter.check_window()
        stop = self._non_finite(s, epoch, meter, window)
        if stop is not None:
            return stop
        metrics = {"train/loss": window.mean, "lr": s.learning_rate.current_lr}
        if grad_norm is not None:
            metrics["train/grad_norm"] = float(grad_norm)
        s.log({"kind": "step", "step": progress.step, "epoch": epoch, **metrics})
        self.events.on_step(StepRecord(progress.step, epoch, meter.batches - 1, metrics))
        if monitor.watch(s, meter, epoch, window.mean):
            return Stop("diverged", monitor.diverged_message(s, epoch))
        return None

    def _non_finite(self, s: TrainingSetup, epoch: int, meter: EpochMeter, window: Any) -> Stop | None:
        if window.first_non_finite is None:
            return None
        step = meter.first_step + window.first_non_finite // self.recipe.train.gradient_accumulation + 1
        kept = s.last_good_checkpoint()
        where = f"the last good checkpoint is {kept}" if kept else "no checkpoint was written before it"
        return Stop(
            "non_finite",
            f"the training loss became NaN or infinite at step {step} (epoch {epoch + 1}, seen at step "
            f"{s.progress.step}); training stopped and {where}. Try a lower optimizer.lr (or schedule.max_lr), "
            "train.gradient_clip: {max_norm: 1.0}, or train.precision: fp32.",
        )

    def _stop_requested_or_max_steps(
        self, s: TrainingSetup, epoch: int, meter: EpochMeter, *, at_window: bool
    ) -> Stop | None:
        """Ctrl-C/SIGTERM, or ``train.max_steps``: mid-epoch, save the position and leave; at the epoch's last
        batch, finish the epoch first."""
        progress, max_steps = s.progress, self.recipe.train.max_steps
        batch, batches = meter.batches, len(s.train_batcher)
        interrupted = self._stop_requested_everywhere(s, at_window=at_window)
        reached = max_steps is not None and progress.step >= max_steps
        if not interrupted and not reached:
            return None
        if reached and not interrupted and batch == batches:
            return Stop("max_steps", f"reached train.max_steps = {max_steps}", finish_epoch=True)
        # Mid-epoch: save the position and the partial epoch, so a resume continues exactly.
        progress.update(epoch=epoch, batch=batch, partial=meter.state())
        state = capture_state(s, progress)
        if s.files is not None:
            s.files.save_last(state, wait=True)
        where = f"step {progress.step} (epoch {epoch + 1}, batch {batch}/{batches})"
        if interrupted:
            return Stop("interrupted", f"stopped at {where}; continue with {self._resume_hint(s)}")
        return Stop(
            "max_steps", f"reached train.max_steps = {max_steps} at {where}; continue with {self._resume_hint(s)}"
        )

    def _max_steps_already_reached(self, s: TrainingSetup) -> Stop | None:
        max_steps, step = self.recipe.train.max_steps, s.progress.step
        if max_steps is not None and step >= max_steps:  # a resumed run already there
            return Stop("max_steps", f"train.max_steps = {max_steps} was already reached at step {step}")
        return None

    def _stop_requested_everywhere(self, s: TrainingSetup, *, at_window: bool) -> bool:
        if not s.context.is_distributed:
            return self._stop_requested
        # Ranks see a signal at different steps; they agree at the next logging window (the same step on
        # every rank), so no rank waits on a collective alone and no step pays an extra host sync.
        if not at_window:
            return False
        flag = torch.tensor([1.0 if self._stop_requested else 0.0], device=s.device)
        return bool(s.context.distributed.all_reduce_sum(flag).item() > 0)

    def _monitor(self, s: TrainingSetup) -> _Monitor:
        config = self.recipe.monitor
        recorder = None
        if config.enabled and config.record_spikes and s.run_path is not None and s.context.is_main:
            recorder = SpikeRecorder(s.run_path)
        return _Monitor(
            LiveMonitor() if config.enabled else None, recorder, stop_on_divergence=config.stop_on_divergence
        )

    def _resume_hint(self, s: TrainingSetup) -> str:
        """``--resume auto`` when it finds this run (the latest under logging.directory), else the path."""
        if s.run_path is None:
            return "--resume auto"
        try:
            found = find_resume_checkpoint(
                "auto", runs_directory=Path(self.recipe.logging.directory), name=self.recipe.name
            )
        except DlcheckError:
            found = None
        if found is not None and found.parent.parent.resolve() == s.run_path.resolve():
            return "--resume auto"
        return f"--resume {s.run_path}"

    def _finish(self, s: TrainingSetup, stop: Stop, monitor: _Monitor, started: float) -> TrainResult:
        progress = s.progress
        message = stop.message + monitor.spike_note()
        restored = s.best.restore_if_asked(s.model)
        best_metrics = None
        if s.best.epoch is not None:
            best_metrics = next((row for row in progress.history if row.get("epoch") == s.best.epoch), None)
        final = dict(progress.history[-1]) if progress.history else {}
        result = TrainResult(
            name=self.recipe.name,
            status=stop.reason,
            message=message,
            run_directory=s.run_path,
            epochs_completed=progress.epoch,
            global_step=progress.step,
            seconds=time.perf_counter() - started,
            history=list(progress.history),
            final_metrics={k: v for k, v in final.items() if k not in ("epoch", "step", "seconds")},
            best_epoch=s.best.epoch,
            best_metrics=best_metrics,
            monitor=s.best.monitor,
            last_checkpoint=s.last_good_checkpoint(),
            restored_best=restored,
            is_main=s.context.is_main,
            warnings=list(s.warnings),
        )
        self.events.on_end(result)
        return result


class _Monitor:
    """The live curve monitor (:mod:`dlcheck.curves.live`) and, on rank 0 of a run with a directory, its spike
    file; both optional (``monitor.enabled``)."""

    def __init__(self, live: LiveMonitor | None, spikes: SpikeRecorder | None, *, stop_on_divergence: bool) -> None:
        self.live, self.spikes, self.stop_on_divergence = live, spikes, stop_on_divergence

    def watch(self, s: TrainingSetup, meter: EpochMeter, epoch: int, loss: float) -> bool:
        """Judge one logging window's loss; record a spike's batch; True when a divergence must stop the run."""
        if self.live is None:
            return False
        spike = self.live.observe(s.progress.step, loss)
        if spike is not None and self.spikes is not None:
            # The window's worst batch, and which samples it held (the epoch plan knows).
            losses = meter.losses()
            recipe = s.recipe
            window = losses[-recipe.logging.every_steps * recipe.train.gradient_accumulation :]
            worst = max(range(len(window)), key=window.__getitem__)
            batch = len(losses) - len(window) + worst
            plan = getattr(s.train_batcher, "plan", None)  # EpochPlan: which samples each batch holds
            samples = plan.indices(epoch, batch)[: plan.batch_size].tolist() if plan is not None else []
            self.spikes.record(spike, epoch=epoch, batch=batch, batch_loss=float(window[worst]), samples=samples)
        diverged = bool(self.live.diverged and self.stop_on_divergence)
        if s.context.is_distributed:  # every rank must stop at the same window, or DDP waits forever
            flag = torch.tensor([1.0 if diverged else 0.0], device=s.device)
            diverged = bool(s.context.distributed.all_reduce_sum(flag).item() > 0)
        return diverged

    def diverged_message(self, s: TrainingSetup, epoch: int) -> str:
        kept = s.last_good_checkpoint()
        where = f"the last checkpoint is {kept}" if kept else "no checkpoint was written before it"
        what = (
            self.live.divergence_text(f"step {s.progress.step} (epoch {epoch + 1})")
            if self.live is not None and self.live.diverged
            else "another process saw the training loss diverge"
        )
        return (
            f"{what}; training stopped and {where}. Restart with optimizer.lr 3-10x lower, a warm-up "
            "(schedule.warmup) or train.gradient_clip: {max_norm: 1.0}; `dlcheck diagnose` on the run directory "
            "shows the curves."
        )

    def spike_note(self) -> str:
        if self.spikes is None or not self.spikes.count:
            return ""
        count = self.spikes.count
        return f"; {count} loss spike{'s' if count > 1 else ''} recorded in {self.spikes.path}"


def train(
    recipe: str | Path | LoadedRecipe,
    *,
    overrides: Sequence[str] = (),
    events: TrainingEvents | None = None,
    resume: str | None = None,
    run_directory: Path | None = None,
    handle_signals: bool = False,
    command: Sequence[str] | None = None,
) -> TrainResult:
    """Train a recipe and return how the run ended; ``dlcheck.train(...)`` is this function.

    Parameters
    ----------
    recipe : str, pathlib.Path or LoadedRecipe
        A recipe file, or a recipe loaded with :func:`dlcheck.load_recipe`.
    overrides : sequence of str
        ``KEY=VALUE`` recipe overrides, as ``--set`` takes them (for a file only).
    events, resume, run_directory, handle_signals, command
        As for :class:`Trainer`.

    Returns
    -------
    TrainResult
        ``result.status`` says how the run ended (``result.ok`` for the three successful endings).

    Raises
    ------
    DlcheckError
        When the recipe, its data or its model cannot be used (the command line's exit code 2).
    """
    if isinstance(recipe, LoadedRecipe):
        if overrides:
            raise InvalidArgument("overrides", "overrides= apply to a recipe file; this recipe is already loaded.")
        loaded = recipe
    elif isinstance(recipe, (str, Path)):
        loaded = load_recipe(Path(recipe), list(overrides))
    else:
        raise InvalidArgument(
            "recipe", f"recipe={type(recipe).__name__}: expected a recipe file (str or pathlib.Path) or a LoadedRecipe."
        )
    trainer = Trainer(
        loaded,
        events=events,
        resume=resume,
        run_directory=run_directory,
        handle_signals=handle_signals,
        command=command,
    )
    return trainer.run()
