"""What the trainer, the LR finder and the checks share: one assembly of a recipe and one training step.

- :class:`RecipeParts` (:mod:`~dlcheck.engine.parts`): a recipe's data, model, loss, optimiser and batches,
  built once; :func:`as_parts` accepts a recipe file, a loaded recipe or parts;
- :class:`OptimizerStep` and :class:`StepPolicy` (:mod:`~dlcheck.engine.step`): the one optimiser step, with
  accumulation, autocast, the fp16 scaler, L1, clipping, max-norm and hooks; :func:`evaluate`;
- :class:`LossTape` (:mod:`~dlcheck.engine.tape`): device losses read back a window at a time;
- :class:`StateGuard` (:mod:`~dlcheck.engine.isolation`): leave a model, its optimiser and the RNGs as they were;
- the ingredients: losses, optimisers, schedules, regularisation, runtime (devices, precision, processes).

Names load on first use: this package imports torch.
"""

from __future__ import annotations

__all__ = [
    "LossTape",
    "OptimizerStep",
    "RecipeParts",
    "StateGuard",
    "StepHooks",
    "StepPolicy",
    "StepResult",
    "as_parts",
    "evaluate",
    "prepare_parts",
    "state_checksum",
]

from typing import TYPE_CHECKING

from dlcheck._lazy import attach

if TYPE_CHECKING:
    from dlcheck.engine.isolation import StateGuard, state_checksum
    from dlcheck.engine.parts import RecipeParts, as_parts, prepare_parts
    from dlcheck.engine.step import OptimizerStep, StepHooks, StepPolicy, StepResult, evaluate
    from dlcheck.engine.tape import LossTape

__getattr__, __dir__ = attach(
    __name__,
    {
        "LossTape": "dlcheck.engine.tape",
        "OptimizerStep": "dlcheck.engine.step",
        "StepHooks": "dlcheck.engine.step",
        "StepPolicy": "dlcheck.engine.step",
        "StepResult": "dlcheck.engine.step",
        "evaluate": "dlcheck.engine.step",
        "RecipeParts": "dlcheck.engine.parts",
        "as_parts": "dlcheck.engine.parts",
        "prepare_parts": "dlcheck.engine.parts",
        "StateGuard": "dlcheck.engine.isolation",
        "state_checksum": "dlcheck.engine.isolation",
    },
)
