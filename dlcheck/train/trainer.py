"""The training loop of ``dlcheck train``.

Written out in full, in the order it runs (the nanoGPT habit), with the few things a good hand-written
loop does and a naive one forgets:

- in-memory data is sliced from device tensors, not collated sample by sample (research A7);
- ``train.batch_size`` is the *global* batch: it is split over processes and accumulation steps, so a
  recipe means the same thing on 1 CPU and on N GPUs (nanoGPT; research A3);
- epoch losses are sums over samples divided by the count, not means of batch means;
- the loss is checked for NaN/inf on the device every step without a host sync, and read back every
  ``logging.every_steps`` steps, so a blow-up is named at its exact step at no cost to speed;
- a stop request (Ctrl-C, SIGTERM) is honoured at the next optimiser step with a checkpoint that resumes
  exactly: data order and augmentation are functions of (seed, epoch, batch), the RNG state is saved.
"""

from __future__ import annotations

__all__ = ["TrainResult", "Trainer", "train"]

import contextlib
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dlcheck.errors import DlcheckError
from dlcheck.recipe import LoadedRecipe
from dlcheck.train.events import EpochRecord, StepRecord, TrainingEvents
from dlcheck.train.losses import build_loss, count_correct, is_classification_loss
from dlcheck.train.meter import EpochMeter
from dlcheck.train.setup import TrainingSetup, build_training_setup
from dlcheck.train.state import capture_state


@dataclass
class TrainResult:
    """How a run ended and what it reached."""

    name: str
    status: str  # completed | early_stopped | max_steps | interrupted | non_finite | diverged
    message: str
    run_directory: Path | None
    epochs_completed: int
    global_step: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None
    best_metrics: dict[str, float] | None = None
    monitor: str | None = None
    last_checkpoint: Path | None = None
    restored_best: bool = False
    is_main: bool = True  # False on the other ranks of a torchrun job
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "early_stopped", "max_steps")


class Trainer:
    """Train one recipe. ``run()`` returns a :class:`TrainResult`; nothing is printed."""

    def __init__(
        self,
        loaded: LoadedRecipe,
        *,
        events: TrainingEvents | None = None,
        resume: str | None = None,
        run_directory: Path | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.events = events or TrainingEvents()
        self.resume = resume
        self.requested_run_directory = run_directory
        self.handle_signals = handle_signals
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

    # ---------------------------------------------------------------------------------------------- run
    def run(self) -> TrainResult:
        previous_handlers: dict[signal.Signals, Any] = {}
        if self.handle_signals:
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                for signum in (signal.SIGINT, signal.SIGTERM):
                    previous_handlers[signum] = signal.signal(signum, self._on_signal)
        setup: TrainingSetup | None = None
        try:
            setup = build_training_setup(self.loaded, resume=self.resume, run_directory=self.requested_run_directory)
            return self._train(setup)
        finally:
            for signal_number, handler in previous_handlers.items():
                signal.signal(signal_number, handler)
            if setup is not None:
                setup.close()

    def _train(self, s: TrainingSetup) -> TrainResult:
        recipe = self.recipe
        started = time.perf_counter()
        loss_function = build_loss(
            recipe.loss,
            label_smoothing=recipe.regularization.label_smoothing,
            ignore_index=s.data.ignore_index,
            sequence=s.data.sequence,
        )
        classification = is_classification_loss(recipe.loss)
        accumulation = recipe.train.gradient_accumulation
        batches = len(s.train_batcher)
        l1 = recipe.regularization.l1
        clip = recipe.train.gradient_clip
        every_steps = recipe.logging.every_steps

        scaling = s.precision.uses_scaler
        progress = s.progress
        self.events.on_start(s.info)
        status, message = "completed", f"trained {recipe.train.epochs} epochs"
        last_grad_norm: torch.Tensor | None = None  # read at logging time only
        max_steps = recipe.train.max_steps
        monitor, spikes = self._make_monitor(s)
        first_epoch = progress.epoch
        if max_steps is not None and progress.step >= max_steps:  # a resumed run already there
            first_epoch = recipe.train.epochs
            status, message = "max_steps", f"train.max_steps = {max_steps} was already reached at step {progress.step}"

        for epoch in range(first_epoch, recipe.train.epochs):
            epoch_started = time.perf_counter()
            s.model.train()
            start_batch = progress.batch if epoch == progress.epoch else 0
            meter = EpochMeter(s.device, first_step=progress.step - start_batch // accumulation)
            if start_batch:
                meter.restore(progress.partial)
            self.events.on_epoch_start(epoch, batches, start_batch)
            stop_now = False

            for batch_index, (inputs, targets) in enumerate(s.train_batcher.epoch(epoch, start_batch), start_batch):
                group_start = batch_index - batch_index % accumulation
                group_size = min(accumulation, batches - group_start)
                steps_optimizer = batch_index + 1 == group_start + group_size
                # Under DDP, skip the gradient all-reduce on accumulation micro-steps (research A3 rule 5).
                sync = contextlib.nullcontext() if steps_optimizer or not s.ddp else s.forward_model.no_sync()  # type: ignore[operator]
                with sync:
                    with s.precision.autocast():
                        outputs = s.forward_model(inputs)  # (B, C) logits or (B, ...) predictions
                        loss = loss_function(outputs, targets)
                        total = loss + l1 * s.l1_penalty() if l1 else loss
                    if group_size > 1:  # mean over the accumulation group (no extra kernel when there is none)
                        total = total / group_size
                    if scaling:
                        total = s.scaler.scale(total)
                    total.backward()
                meter.record(
                    loss.detach(),
                    inputs.shape[0],
                    count_correct(outputs.detach(), targets, loss_function) if classification else None,
                )
                self.events.on_batch(epoch, batch_index)
                if not steps_optimizer:
                    continue

                # ---- optimiser step
                if clip is not None:
                    if scaling:
                        s.scaler.unscale_(s.optimizer)
                    last_grad_norm = s.clip(clip)
                elif progress.step % every_steps == every_steps - 1:
                    if scaling:
                        s.scaler.unscale_(s.optimizer)
                    last_grad_norm = s.gradient_norm()
                if scaling:  # fp16: skips the step on inf/NaN gradients and adapts the scale
                    s.scaler.step(s.optimizer)
                    s.scaler.update()
                else:
                    s.optimizer.step()
                s.optimizer.zero_grad(set_to_none=True)
                if recipe.regularization.max_norm is not None:
                    s.max_norm(recipe.regularization.max_norm)
                progress.step += 1
                s.learning_rate.on_step_end(progress.step)

                if progress.step % every_steps == 0:
                    window = meter.check_window()  # the one host sync per logging window
                    if window.first_bad_batch is not None:
                        stop_now = True
                        bad_step = meter.first_step + window.first_bad_batch // accumulation + 1
                        status, message = "non_finite", self._non_finite_message(bad_step, epoch, s)
                        break
                    step_metrics = {"train/loss": window.mean_loss, "lr": s.learning_rate.current_lr}
                    if last_grad_norm is not None:
                        step_metrics["train/grad_norm"] = float(last_grad_norm)
                    s.log({"kind": "step", "step": progress.step, "epoch": epoch, **step_metrics})
                    self.events.on_step(StepRecord(progress.step, epoch, batch_index, step_metrics))
                    if monitor is not None and self._watch(s, monitor, spikes, meter, epoch, window.mean_loss):
                        stop_now = True
                        status, message = "diverged", self._diverged_message(s, monitor, epoch)
                        break

                interrupted = self._stop_requested_everywhere(s, at_window=progress.step % every_steps == 0)
                reached = max_steps is not None and progress.step >= max_steps
                if interrupted or (reached and batch_index + 1 < batches):
                    # Mid-epoch: save the position and the partial epoch, so a resume continues exactly.
                    progress.update(epoch=epoch, batch=batch_index + 1, partial=meter.state())
                    s.save_last(capture_state(s, progress))
                    resume_hint = self._resume_hint(s)
                    where = f"step {progress.step} (epoch {epoch + 1}, batch {batch_index + 1}/{batches})"
                    if interrupted:
                        status, message = "interrupted", f"stopped at {where}; continue with {resume_hint}"
                    else:
                        status = "max_steps"
                        message = f"reached train.max_steps = {max_steps} at {where}; continue with {resume_hint}"
                    break
                if reached:  # at the end of an epoch: finish it normally, then stop
                    stop_now = True
                    status, message = "max_steps", f"reached train.max_steps = {max_steps}"
                    break

            if status in ("non_finite", "interrupted", "diverged") or (status == "max_steps" and not stop_now):
                break
            window = meter.check_window()
            if window.first_bad_batch is not None:
                bad_step = meter.first_step + window.first_bad_batch // accumulation + 1
                status, message = "non_finite", self._non_finite_message(bad_step, epoch, s)
                break

            # ---- end of epoch: reduce over processes, validate, schedule, early-stop, checkpoint
            totals = s.context.all_reduce_sum(meter.totals())
            metrics: dict[str, float] = {"train/loss": float(totals[0] / totals[2])}
            if classification:
                metrics["train/accuracy"] = float(totals[1] / totals[2])
            metrics.update(self._evaluate(s, loss_function, classification))
            metrics["lr"] = s.learning_rate.current_lr
            s.learning_rate.on_epoch_end(epoch, metrics)
            improved, stop_early = s.update_early_stopping(epoch, metrics)
            seconds = time.perf_counter() - epoch_started
            row = {"epoch": epoch + 1, "step": progress.step, **metrics, "seconds": seconds}
            progress.history.append(row)
            progress.update(epoch=epoch + 1, batch=0, partial=None)
            s.log({"kind": "epoch", "step": progress.step, "epoch": epoch + 1, **metrics})
            s.save_epoch(capture_state(s, progress), epoch=epoch + 1, improved=improved)
            self.events.on_epoch_end(EpochRecord(epoch + 1, progress.step, seconds, metrics, improved))
            if stop_early:
                status = "early_stopped"
                message = s.early_stopping_message()
                break
            if stop_now:
                break

        if spikes is not None and spikes.count:
            message += f"; {spikes.count} loss spike{'s' if spikes.count > 1 else ''} recorded in {spikes.path}"
        return self._finish(s, status, message, started)

    # ------------------------------------------------------------------------------------------ helpers
    def _make_monitor(self, s: TrainingSetup) -> tuple[Any, Any]:
        """The live curve monitor (dlcheck.curves.live) and, on rank 0 of a run with a directory, its spike file."""
        config = self.recipe.monitor
        if not config.enabled:
            return None, None
        from dlcheck.curves.live import LiveMonitor, SpikeRecorder

        recorder = None
        if config.record_spikes and s.run_path is not None and s.context.is_main:
            recorder = SpikeRecorder(s.run_path)
        return LiveMonitor(), recorder

    def _watch(self, s: TrainingSetup, monitor: Any, spikes: Any, meter: EpochMeter, epoch: int, loss: float) -> bool:
        """Judge one logging window's loss; record a spike's batch; True when a divergence must stop the run."""
        spike = monitor.observe(s.progress.step, loss)
        if spike is not None and spikes is not None:
            # Only now read the epoch's per-batch losses back (one small copy): the window's worst batch.
            losses = meter.state()["losses"]
            window = losses[-self.recipe.logging.every_steps * self.recipe.train.gradient_accumulation :]
            worst = max(range(len(window)), key=window.__getitem__)
            batch = len(losses) - len(window) + worst
            plan = getattr(s.train_batcher, "plan", None)  # EpochPlan: which samples each batch holds
            samples = plan.indices(epoch, batch)[: plan.batch_size].tolist() if plan is not None else []
            spikes.record(spike, epoch=epoch, batch=batch, batch_loss=float(window[worst]), samples=samples)
        diverged = bool(monitor.diverged and self.recipe.monitor.stop_on_divergence)
        if s.context.is_distributed:  # every rank must stop at the same window, or DDP waits forever
            flag = torch.tensor([1.0 if diverged else 0.0], device=s.device)
            diverged = bool(s.context.all_reduce_sum(flag).item() > 0)
        return diverged

    def _diverged_message(self, s: TrainingSetup, monitor: Any, epoch: int) -> str:
        kept = s.last_good_checkpoint()
        where = f"the last checkpoint is {kept}" if kept else "no checkpoint was written before it"
        what = (
            monitor.divergence_text(f"step {s.progress.step} (epoch {epoch + 1})")
            if monitor.diverged
            else "another process saw the training loss diverge"
        )
        return (
            f"{what}; training stopped and {where}. Restart with optimizer.lr 3-10x lower, a warm-up "
            "(schedule.warmup) or train.gradient_clip: {max_norm: 1.0}; `dlcheck diagnose` on the run directory "
            "shows the curves."
        )

    def _stop_requested_everywhere(self, s: TrainingSetup, *, at_window: bool) -> bool:
        if not s.context.is_distributed:
            return self._stop_requested
        # Ranks see a signal at different steps; they agree at the next logging window (the same step on
        # every rank), so no rank waits on a collective alone and no step pays an extra host sync.
        if not at_window:
            return False
        flag = torch.tensor([1.0 if self._stop_requested else 0.0], device=s.device)
        return bool(s.context.all_reduce_sum(flag).item() > 0)

    @torch.no_grad()
    def _evaluate(self, s: TrainingSetup, loss_function: Any, classification: bool) -> dict[str, float]:
        if s.val_batcher is None:
            return {}
        s.model.eval()
        loss_sum = torch.zeros((), device=s.device, dtype=torch.float64)
        correct = torch.zeros((), device=s.device, dtype=torch.float64)  # token sequences count fractions
        seen = 0
        for inputs, targets in s.val_batcher.epoch(0):
            with s.precision.autocast():
                outputs = s.model(inputs)
                loss_sum += loss_function(outputs, targets, reduction="sum").double()
            if classification:
                correct += count_correct(outputs, targets, loss_function)
            seen += inputs.shape[0]
        totals = s.context.all_reduce_sum(
            torch.stack([loss_sum, correct, torch.tensor(float(seen), device=s.device, dtype=torch.float64)])
        )
        metrics = {"val/loss": float(totals[0] / totals[2])}
        if classification:
            metrics["val/accuracy"] = float(totals[1] / totals[2])
        s.model.train()
        return metrics

    def _resume_hint(self, s: TrainingSetup) -> str:
        """``--resume auto`` when it finds this run (the latest under logging.directory), else the path."""
        from dlcheck.train.checkpoint import find_resume_checkpoint

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

    def _non_finite_message(self, step: int, epoch: int, s: TrainingSetup) -> str:
        kept = s.last_good_checkpoint()
        where = f"the last good checkpoint is {kept}" if kept else "no checkpoint was written before it"
        return (
            f"the training loss became NaN or infinite at step {step} (epoch {epoch + 1}, seen at step "
            f"{s.progress.step}); training stopped and {where}. Try a lower optimizer.lr (or schedule.max_lr), "
            "train.gradient_clip: {max_norm: 1.0}, or train.precision: fp32."
        )

    def _finish(self, s: TrainingSetup, status: str, message: str, started: float) -> TrainResult:
        progress = s.progress
        best_epoch, best_metrics, restored = s.restore_best_if_asked(progress.history)
        final = dict(progress.history[-1]) if progress.history else {}
        result = TrainResult(
            name=self.recipe.name,
            status=status,
            message=message,
            run_directory=s.run_path,
            epochs_completed=progress.epoch,
            global_step=progress.step,
            seconds=time.perf_counter() - started,
            history=list(progress.history),
            final_metrics={k: v for k, v in final.items() if k not in ("epoch", "step", "seconds")},
            best_epoch=best_epoch,
            best_metrics=best_metrics,
            monitor=s.monitor,
            last_checkpoint=s.last_good_checkpoint(),
            restored_best=restored,
            is_main=s.context.is_main,
            warnings=list(s.warnings),
        )
        self.events.on_end(result)
        return result


def train(loaded: LoadedRecipe, **options: Any) -> TrainResult:
    """Train ``loaded`` and return the result; see :class:`Trainer` for the options."""
    return Trainer(loaded, **options).run()
