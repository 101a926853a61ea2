"""``dlcheck sample``: text from a trained language-model run, so a user can see what a loss means.

Everything comes from the checkpoint: the recipe rebuilds the model, the weights fill it, and the vocabulary
(plain values, :class:`dlcheck.data.text.Vocabulary`) turns ids back into text. The checkpoint is read with
``torch.load(weights_only=True)``: sampling a run someone sent you runs none of its pickled code.
"""

from __future__ import annotations

__all__ = ["SampleResult", "sample_from_run"]

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlcheck.errors import DlcheckError, InputError


@dataclass(frozen=True)
class SampleResult:
    """A generated text and how it was made."""

    prompt: str
    text: str  # the continuation alone
    checkpoint: Path
    tokens: int
    temperature: float
    seed: int
    epoch: int | None  # epochs completed when the checkpoint was written
    val_loss: float | None  # val/loss of the checkpoint's last epoch, in nats
    seconds: float


def _checkpoint_of(run: Path) -> Path:
    """A checkpoint file as given, or a run directory's best checkpoint (its last one when there is no best)."""
    if run.is_file():
        return run
    if not run.is_dir():
        raise InputError(f"{run}: no such run directory or checkpoint file; give a run directory (runs/NAME-TIME)")
    for name in ("best.pt", "last.pt"):
        candidate = run / "checkpoints" / name
        if candidate.is_file():
            return candidate
    raise InputError(f"{run}: holds no checkpoints/best.pt or checkpoints/last.pt; is it a `dlcheck train` run?")


def _read(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(
            f"{path}: could not be read as a dlcheck checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(state, dict) or "recipe" not in state or "model" not in state:
        raise InputError(f"{path}: is not a checkpoint written by `dlcheck train`")
    return state


def _recipe_directory(checkpoint: Path) -> Path:
    """Where the run's recipe was (for factory modules and tokenizers): from run.json, else the run's folder."""
    run = checkpoint.parent.parent
    facts = run / "run.json"
    try:
        recipe_file = json.loads(facts.read_text(encoding="utf-8")).get("recipe_file")
    except (OSError, ValueError, AttributeError):
        recipe_file = None
    if isinstance(recipe_file, str) and Path(recipe_file).parent.is_dir():
        return Path(recipe_file).parent
    return run


def _last_metrics(state: dict[str, Any]) -> tuple[int | None, float | None]:
    history = (state.get("progress") or {}).get("history") or []
    if not history:
        return None, None
    last = history[-1]
    loss = last.get("val/loss")
    return int(last.get("epoch", 0)) or None, float(loss) if isinstance(loss, (int, float)) else None


def sample_from_run(
    run: Path, *, tokens: int, temperature: float = 0.0, seed: int = 0, prompt: str | None = None
) -> SampleResult:
    """Generate ``tokens`` tokens from a trained run and decode them to text.

    Parameters
    ----------
    run : pathlib.Path
        A run directory (its ``checkpoints/best.pt``, else ``last.pt``) or a checkpoint file.
    tokens : int
        Tokens to generate (characters for a character vocabulary).
    temperature : float
        0: greedy; above 0: sampled at this temperature.
    seed : int
        Seeds the sampling.
    prompt : str or None
        Text to continue; by default a newline (the first token when the vocabulary has no newline).

    Returns
    -------
    SampleResult

    Raises
    ------
    InputError
        When the run has no checkpoint, was not trained on text (no vocabulary), or the prompt holds
        characters the vocabulary lacks.
    """
    from dlcheck.data.text import Vocabulary, load_codec
    from dlcheck.model import build_model
    from dlcheck.model.generate import generate_tokens
    from dlcheck.recipe import parse_recipe

    started = time.perf_counter()
    if tokens < 1:
        raise InputError(f"--tokens {tokens}: give at least 1")
    checkpoint = _checkpoint_of(Path(run))
    state = _read(checkpoint)
    if state.get("vocabulary") is None:
        raise InputError(
            f"{checkpoint}: the run has no token vocabulary (it was not trained on `data.source: text`), so its "
            "outputs cannot be turned into text"
        )
    vocabulary = Vocabulary.from_state(state["vocabulary"], where=str(checkpoint))
    directory = _recipe_directory(checkpoint)
    recipe = parse_recipe(state["recipe"], source=f"{checkpoint} (saved recipe)", check_factories=False).recipe
    context_length = recipe.data.context_length
    assert context_length is not None  # a text recipe always has one
    model = build_model(
        recipe.model, (context_length,), seed=recipe.seed, directory=directory, vocabulary_size=vocabulary.size
    )
    model.load_state_dict(state["model"])
    codec = load_codec(vocabulary, directory=directory)
    if not callable(getattr(codec, "decode", None)):
        raise InputError(f"data.tokenizer {vocabulary.tokenizer}: the tokenizer has no decode(ids) method to make text")
    try:
        prompt_ids = [int(index) for index in codec.encode(prompt or "\n")]
    except Exception as error:  # a user's tokenizer may raise anything
        if prompt:
            reason = str(error) if isinstance(error, DlcheckError) else f"{type(error).__name__}: {error}"
            raise InputError(f"--prompt {prompt!r}: cannot be encoded: {reason}") from error
        prompt_ids = []
    if not prompt_ids:
        prompt_ids = [0]  # no newline in the vocabulary: start from the first token
    produced = generate_tokens(
        model, prompt_ids, tokens=tokens, context_length=context_length, temperature=temperature, seed=seed
    )
    epoch, val_loss = _last_metrics(state)
    return SampleResult(
        prompt=prompt or "",
        text=codec.decode(produced),
        checkpoint=checkpoint,
        tokens=tokens,
        temperature=temperature,
        seed=seed,
        epoch=epoch,
        val_loss=val_loss,
        seconds=time.perf_counter() - started,
    )
