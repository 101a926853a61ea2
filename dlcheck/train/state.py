"""What a checkpoint holds, and putting it back.

Exact resume needs more than weights: optimiser moments, the plateau scheduler's memory, the fp16 scaler,
early stopping's best weights and patience counter (Lightning #1463/#18727 forgot those), the global RNG
state (dropout), the position in the epoch with the partial epoch sums, and the epoch history. Data order
and augmentation need nothing: they are functions of (seed, epoch, batch).
"""

from __future__ import annotations

__all__ = ["capture_state", "restore_state"]

from typing import TYPE_CHECKING, Any

import torch

from dlcheck import __version__
from dlcheck.data._seeding import Purpose, derive_seed

if TYPE_CHECKING:
    from dlcheck.train.setup import Progress, TrainingSetup


def capture_state(setup: TrainingSetup, progress: Progress) -> dict[str, Any]:
    """A checkpoint dict of everything :func:`restore_state` needs."""
    state: dict[str, Any] = {
        "dlcheck_version": __version__,
        "recipe": setup.recipe_text,
        "world_size": setup.context.world_size,
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "learning_rate": setup.learning_rate.state_dict(),
        "scaler": setup.scaler.state_dict(),
        "early_stopping": setup.early_stopping.state_dict() if setup.early_stopping is not None else None,
        "best": {"value": setup.best_value, "epoch": setup.best_epoch},
        "progress": {
            "epoch": progress.epoch,
            "batch": progress.batch,
            "step": progress.step,
            "partial": progress.partial,
            "history": list(progress.history),
        },
        "normalization": setup.data.normalization.state_dict() if setup.data.normalization is not None else None,
        # token data: how ids map to text, as plain values (`dlcheck sample` decodes with it)
        "vocabulary": setup.data.vocabulary.to_state() if setup.data.vocabulary is not None else None,
    }
    rng = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    # Every rank draws its own dropout masks: keep each rank's generator, not only rank 0's, so a
    # resumed torchrun job continues exactly too. A collective: every rank calls capture_state.
    state["rng"] = rng
    distributed = setup.context.is_distributed
    state["rng_per_rank"] = setup.context.gather(rng) if distributed else None
    # A mid-epoch stop: each rank's partial-epoch sums, so the epoch's all-reduced loss is the same too.
    state["partial_per_rank"] = setup.context.gather(progress.partial) if distributed else None
    return state


def restore_state(setup: TrainingSetup, state: dict[str, Any]) -> None:
    """Load ``state`` (from :func:`capture_state`) into a freshly built ``setup``."""
    setup.model.load_state_dict(state["model"])
    setup.optimizer.load_state_dict(state["optimizer"])
    setup.learning_rate.load_state_dict(state["learning_rate"])
    setup.scaler.load_state_dict(state["scaler"])
    if setup.early_stopping is not None and state.get("early_stopping") is not None:
        setup.early_stopping.load_state_dict(state["early_stopping"])
    best = state.get("best") or {}
    setup.best_value, setup.best_epoch = best.get("value"), best.get("epoch")
    progress = state["progress"]
    partial = progress["partial"]
    partial_per_rank = state.get("partial_per_rank")
    if partial_per_rank and len(partial_per_rank) == setup.context.world_size:
        partial = partial_per_rank[setup.context.rank]
    setup.progress.update(
        epoch=progress["epoch"],
        batch=progress["batch"],
        step=progress["step"],
        partial=partial,
        history=list(progress["history"]),
    )
    rng = state["rng"]
    per_rank = state.get("rng_per_rank")
    if per_rank and len(per_rank) == setup.context.world_size:
        rng = per_rank[setup.context.rank]
    elif setup.context.rank > 0:
        # Resumed with another number of processes (at an epoch's end): the new ranks get fresh dropout
        # streams of their own rather than copies of rank 0's.
        torch.manual_seed(derive_seed(setup.recipe.seed, Purpose.DROPOUT, setup.context.rank, progress["step"]))
        return
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
