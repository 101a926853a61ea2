"""Rendering of ``dlcheck sample``: the generated text on standard output, where it came from on standard error."""

from __future__ import annotations

__all__ = ["sample_header", "sample_text"]

import math
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from dlcheck.train.sampling import SampleResult


def sample_header(result: SampleResult) -> Text:
    """One dim line: checkpoint, its epoch and validation loss (nats and bits per token), how it was sampled.

    Examples
    --------
    >>> from pathlib import Path
    >>> from dlcheck.train.sampling import SampleResult
    >>> result = SampleResult("", "ab", Path("runs/x/checkpoints/best.pt"), 2, 0.0, 0, 3, 1.3863, 0.1)
    >>> sample_header(result).plain
    'runs/x/checkpoints/best.pt · epoch 3 · val/loss 1.386 (2.000 bits/token) · 2 tokens, greedy'
    """
    parts = [str(result.checkpoint)]
    if result.epoch is not None:
        parts.append(f"epoch {result.epoch}")
    if result.val_loss is not None and math.isfinite(result.val_loss):
        parts.append(f"val/loss {result.val_loss:.3f} ({result.val_loss / math.log(2):.3f} bits/token)")
    how = "greedy" if result.temperature == 0 else f"temperature {result.temperature:g}, seed {result.seed}"
    parts.append(f"{result.tokens} tokens, {how}")
    return Text(" · ".join(parts), style="dim")


def sample_text(result: SampleResult) -> Text:
    """The prompt (bold) followed by the generated continuation, exactly as decoded."""
    return Text.assemble((result.prompt, "bold"), result.text)
