"""What a checkpoint holds, and putting it back.

Exact resume needs more than weights: optimiser moments, the plateau scheduler's memory, the fp16 scaler,
early stopping's best weights and patience counter (Lightning #1463/#18727 forgot those), the global RNG
state (dropout), the position in the epoch with the partial epoch sums, and the epoch history. Data order
and augmentation need nothing: they are functions of (seed, epoch, batch).
"""

from __future__ import annotations

__all__ = ["capture_state", "restore_state"]

from typing import Any

import torch

from dlcheck._version import __version__
from dlcheck.seeding import Purpose, derive_seed
from dlcheck.train.records import Progress
from dlcheck.train.setup import TrainingSetup


def capture_state(setup: TrainingSetup, progress: Progress) -> dict[str, Any]:
    """A checkpoint dict of everything :func:`restore_state` needs."""
    context = setup.context.distributed
    normalization = setup.parts.data.normalization
    state: dict[str, Any] = {
        "dlcheck_version": __version__,
        "recipe": setup.recipe_text,
        "world_size": context.world_size,
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "learning_rate": setup.learning_rate.state_dict(),
        "scaler": setup.scaler.state_dict(),
        **setup.best.state_dict(),  # "early_stopping" and "best"
        "progress": {
            "epoch": progress.epoch,
            "batch": progress.batch,
            "step": progress.step,
            "partial": progress.partial,
            "history": list(progress.history),
        },
        "normalization": normalization.state_dict() if normalization is not None else None,
        # token data: how ids map to text, as plain values (`dlcheck sample` decodes with it)
        "vocabulary": setup.parts.data.vocabulary.to_state() if setup.parts.data.vocabulary is not None else None,
    }
    rng = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    # Every rank draws its own dropout masks: keep each rank's generator, not only rank 0's, so a
    # resumed torchrun job continues exactly too. A collective: every rank calls capture_state.
    state["rng"] = rng
    distributed = context.is_distributed
    state["rng_per_rank"] = context.gather(rng) if distributed else None
    # A mid-epoch stop: each rank's partial-epoch sums, so the epoch's all-reduced loss is the same too.
    state["partial_per_rank"] = context.gather(progress.partial) if distributed else None
    return state


def restore_state(setup: TrainingSetup, state: dict[str, Any]) -> None:
    """Load ``state`` (from :func:`capture_state`) into a freshly built ``setup``."""
    setup.model.load_state_dict(state["model"])
    setup.optimizer.load_state_dict(state["optimizer"])
    setup.learning_rate.load_state_dict(state["learning_rate"])
    setup.scaler.load_state_dict(state["scaler"])
    setup.best.load_state_dict(state)
    context = setup.context.distributed
    progress = state["progress"]
    partial = progress["partial"]
    partial_per_rank = state.get("partial_per_rank")
    if partial_per_rank and len(partial_per_rank) == context.world_size:
        partial = partial_per_rank[context.rank]
    setup.progress.update(
        epoch=progress["epoch"],
        batch=progress["batch"],
        step=progress["step"],
        partial=partial,
        history=list(progress["history"]),
    )
    rng = state["rng"]
    per_rank = state.get("rng_per_rank")
    if per_rank and len(per_rank) == context.world_size:
        rng = per_rank[context.rank]
    elif context.rank > 0:
        # Resumed with another number of processes (at an epoch's end): the new ranks get fresh dropout
        # streams of their own rather than copies of rank 0's.
        torch.manual_seed(derive_seed(setup.recipe.seed, Purpose.DROPOUT, context.rank, progress["step"]))
        return
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
