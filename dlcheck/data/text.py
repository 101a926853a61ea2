"""``text``: a text file read as token ids and cut into ``(inputs, next-token targets)`` windows.

The file becomes one stream of token ids: its characters (the vocabulary is the sorted set of characters
in the file), its raw bytes (a fixed vocabulary of 256), or the ids of the user's own tokenizer. The stream
is split *before* it is cut into windows: the training windows come from the first ``1 - val_fraction`` of
the tokens and the validation windows from the last block, so no validation window shares a token with a
training window (cutting first and splitting windows at random, overlapping windows would put the same
text on both sides). This is how nanoGPT splits its character data (the first 90% trains).

A window of ``context_length`` T starting at token ``s`` has inputs ``tokens[s : s + T]`` and targets
``tokens[s + 1 : s + T + 1]``: the target at each position is the token that follows it. Windows start every
``window_stride`` tokens (by default T, so every token is predicted once per epoch).

The vocabulary travels with a run as plain values (:meth:`Vocabulary.to_state`), never as a pickled
object, so ``dlcheck sample`` can decode a checkpoint's tokens back to text.
"""

from __future__ import annotations

__all__ = [
    "BUNDLED_TEXT",
    "ByteCodec",
    "CharacterCodec",
    "TextTokens",
    "TokenCodec",
    "Vocabulary",
    "build_tokenizer",
    "load_codec",
    "read_text_tokens",
    "split_token_stream",
    "token_windows",
]

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from dlcheck.errors import DataError

BUNDLED_TEXT = "persuasion_volume1.txt"  # Jane Austen, public domain: see _assets/PERSUASION_LICENSE.md
_KEY = "data.tokenizer"
_BYTE_VOCABULARY = 256


class TokenCodec(Protocol):
    """What a tokenizer offers: text to ids and back."""

    def encode(self, text: str) -> Sequence[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class CharacterCodec:
    """One id per character of a fixed alphabet.

    Examples
    --------
    >>> codec = CharacterCodec(["\\n", " ", "a", "b"])
    >>> codec.encode("ab a"), codec.decode([3, 2, 0])
    ([2, 3, 1, 2], 'ba\\n')
    """

    def __init__(self, characters: Sequence[str]) -> None:
        self.characters = list(characters)
        self._ids = {character: index for index, character in enumerate(self.characters)}

    def encode(self, text: str) -> list[int]:
        unknown = sorted({character for character in text if character not in self._ids})
        if unknown:
            shown = ", ".join(repr(character) for character in unknown[:8])
            raise DataError(
                f"the text holds {len(unknown)} character(s) the run's vocabulary lacks ({shown}); use only the "
                f"{len(self.characters)} characters the model was trained on"
            )
        return [self._ids[character] for character in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.characters[index] for index in ids)


class ByteCodec:
    """The UTF-8 bytes of the text, one id (0..255) per byte; undecodable byte runs show as U+FFFD.

    Examples
    --------
    >>> ByteCodec().encode("é!"), ByteCodec().decode([195, 169, 33])
    ([195, 169, 33], 'é!')
    """

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Vocabulary:
    """How token ids map to text, as plain values that a checkpoint or a JSON file can hold.

    Attributes
    ----------
    kind : {"characters", "bytes", "tokenizer"}
    size : int
        Number of token ids (V): the model's embedding rows and output logits.
    characters : tuple of str
        ``characters``: the character of each id.
    tokenizer : str or None
        ``tokenizer``: the ``module:callable`` that builds the user's tokenizer.
    tokenizer_args : dict
        Its keyword arguments.
    """

    kind: Literal["characters", "bytes", "tokenizer"]
    size: int
    characters: tuple[str, ...] = ()
    tokenizer: str | None = None
    tokenizer_args: dict[str, Any] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        """Plain JSON-ready values (str, int, list, dict) for checkpoints.

        Examples
        --------
        >>> Vocabulary("characters", 2, ("a", "b")).to_state()
        {'kind': 'characters', 'size': 2, 'characters': ['a', 'b'], 'tokenizer': None, 'tokenizer_args': {}}
        """
        return {
            "kind": self.kind,
            "size": self.size,
            "characters": list(self.characters),
            "tokenizer": self.tokenizer,
            "tokenizer_args": dict(self.tokenizer_args),
        }

    @classmethod
    def from_state(cls, state: Any, *, where: str) -> Vocabulary:
        """Read :meth:`to_state`'s values back; ``where`` names their file in errors.

        Raises
        ------
        DataError
            When the values are not a vocabulary.
        """
        if not isinstance(state, dict) or state.get("kind") not in ("characters", "bytes", "tokenizer"):
            raise DataError(f"{where}: holds no token vocabulary (found {type(state).__name__})")
        size, characters = state.get("size"), state.get("characters") or []
        if not isinstance(size, int) or size < 1 or not all(isinstance(item, str) for item in characters):
            raise DataError(f"{where}: the token vocabulary is damaged (size {size!r})")
        if state["kind"] == "characters" and len(characters) != size:
            raise DataError(f"{where}: the vocabulary lists {len(characters)} characters for {size} token ids")
        return cls(
            kind=state["kind"],
            size=size,
            characters=tuple(characters),
            tokenizer=state.get("tokenizer"),
            tokenizer_args=dict(state.get("tokenizer_args") or {}),
        )

    def describe(self) -> str:
        """A few words for reports, e.g. ``"75 characters"``."""
        if self.kind == "characters":
            return f"{self.size} characters"
        if self.kind == "bytes":
            return "256 byte values"
        return f"{self.size} tokens of {self.tokenizer}"


@dataclass
class TextTokens:
    """A text file as one stream of token ids."""

    tokens: torch.Tensor  # (N,) int64
    vocabulary: Vocabulary
    name: str  # the file, for messages


def _bundled_text() -> str:
    # importlib.resources works from a wheel, a zip or an editable install alike.
    return resources.files("dlcheck.data").joinpath(f"_assets/{BUNDLED_TEXT}").read_text(encoding="utf-8")


def _read_characters(path: Path | None) -> tuple[str, str]:
    if path is None:
        return _bundled_text(), f"the bundled text ({BUNDLED_TEXT})"
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), str(path)
    except UnicodeDecodeError as error:
        raise DataError(
            f"data.path ({path}): byte {error.start} is not UTF-8 ({error.reason}); save the file as UTF-8, or "
            "read it as bytes with `tokenizer: bytes`"
        ) from error


def _declared_size(tokenizer: Any) -> int | None:
    """The vocabulary size a tokenizer declares: the largest of ``vocab_size`` (Hugging Face, or a method in
    SentencePiece), ``n_vocab`` (tiktoken) and ``len()`` (Hugging Face counts added special tokens there)."""
    sizes: list[int] = []
    for name in ("vocab_size", "n_vocab", "__len__"):
        value = getattr(tokenizer, name, None)
        if callable(value):
            try:
                value = value()
            except Exception:
                value = None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            sizes.append(value)
    return max(sizes, default=None)


def build_tokenizer(spec: str, args: dict[str, Any], *, directory: Path) -> Any:
    """Call the user's ``module:callable`` with ``args``; the result must have ``encode``.

    Raises
    ------
    RecipeError
        When the callable cannot be found or takes other arguments (from the factory resolver).
    DataError
        When it raises, or returns something without an ``encode`` method.
    """
    from dlcheck.recipe.factory import resolve_factory

    factory: Callable[..., Any] = resolve_factory(spec, directory=directory, key=_KEY, args=args)
    try:
        tokenizer = factory(**args)
    except Exception as error:
        raise DataError(
            f"{_KEY}: {spec} raised {type(error).__name__}: {error}; fix the tokenizer or `data.tokenizer_args`"
        ) from error
    if not callable(getattr(tokenizer, "encode", None)):
        raise DataError(
            f"{_KEY}: {spec} returned a {type(tokenizer).__name__} without an `encode` method; return an object "
            "with encode(text) -> list of int ids and decode(ids) -> text (a tiktoken, SentencePiece or Hugging "
            "Face tokenizer works)"
        )
    return tokenizer


def _encode_with(tokenizer: Any, text: str, spec: str) -> list[int]:
    try:
        ids = tokenizer.encode(text)
    except Exception as error:
        raise DataError(f"{_KEY}: {spec}'s encode() raised {type(error).__name__}: {error}") from error
    ids = getattr(ids, "ids", ids)  # Hugging Face `tokenizers` return an Encoding whose ids are `.ids`
    try:
        originals = list(ids)
        values = [int(value) for value in originals]
    except (TypeError, ValueError) as error:
        raise DataError(
            f"{_KEY}: {spec}'s encode() returned {type(ids).__name__}, not a sequence of integer ids"
        ) from error
    if any(isinstance(original, bool) or value != original for value, original in zip(values, originals, strict=True)):
        raise DataError(f"{_KEY}: {spec}'s encode() returned ids that are not integers")
    return values


def read_text_tokens(
    path: Path | None, *, tokenizer: str | None = None, tokenizer_args: dict[str, Any] | None = None, directory: Path
) -> TextTokens:
    """Read a text file (or the bundled text) as one stream of token ids.

    Parameters
    ----------
    path : pathlib.Path or None
        The file; ``None`` reads the bundled public-domain text.
    tokenizer : str or None
        ``"characters"`` (default), ``"bytes"`` or ``"module:callable"`` (called with ``tokenizer_args``, it returns
        an object with ``encode`` and ``decode``).
    tokenizer_args : dict, optional
        Keyword arguments of a ``module:callable`` tokenizer.
    directory : pathlib.Path
        The recipe's folder, where a tokenizer's module is found first.

    Returns
    -------
    TextTokens
        ``tokens`` (N,) int64 and the :class:`Vocabulary` that decodes them.

    Raises
    ------
    DataError
        For a file that is not UTF-8 (characters, tokenizer), an empty file, or ids outside the tokenizer's vocabulary.

    Examples
    --------
    >>> text = read_text_tokens(None, directory=Path("."))
    >>> text.vocabulary.kind, text.vocabulary.size, text.tokens.shape[0] > 200_000
    ('characters', 75, True)
    """
    kind = tokenizer or "characters"
    if kind == "bytes":
        if path is None:
            raw, name = _bundled_text().encode("utf-8"), f"the bundled text ({BUNDLED_TEXT})"
        else:
            raw, name = path.read_bytes(), str(path)
        tokens = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int64)
        vocabulary = Vocabulary("bytes", _BYTE_VOCABULARY)
    else:
        text, name = _read_characters(path)
        if kind == "characters":
            characters = sorted(set(text))
            codec = CharacterCodec(characters)
            tokens = torch.tensor(codec.encode(text), dtype=torch.int64)
            vocabulary = Vocabulary("characters", len(characters), tuple(characters))
        else:
            user = build_tokenizer(kind, dict(tokenizer_args or {}), directory=directory)
            ids = _encode_with(user, text, kind)
            largest = max(ids, default=-1)
            if ids and min(ids) < 0:
                raise DataError(f"{_KEY}: {kind}'s encode() returned the negative id {min(ids)}")
            declared = _declared_size(user)
            if declared is not None and largest >= declared:
                raise DataError(
                    f"{_KEY}: {kind}'s encode() returned the id {largest}, but the tokenizer declares {declared} ids"
                )
            size = declared if declared is not None else largest + 1
            tokens = torch.tensor(ids, dtype=torch.int64)
            vocabulary = Vocabulary("tokenizer", size, tokenizer=kind, tokenizer_args=dict(tokenizer_args or {}))
    if tokens.numel() == 0:
        raise DataError(f"data.path ({name}): the text is empty; give a file with some text in it")
    if vocabulary.size < 2:
        raise DataError(
            f"data.path ({name}): the text has a single distinct token; a language model needs at least two"
        )
    return TextTokens(tokens, vocabulary, name)


def load_codec(vocabulary: Vocabulary, *, directory: Path) -> Any:
    """The encoder/decoder of ``vocabulary``: built in for characters and bytes, rebuilt for a user's tokenizer.

    Raises
    ------
    RecipeError, DataError
        When a user's tokenizer cannot be rebuilt from ``directory``.
    """
    if vocabulary.kind == "characters":
        return CharacterCodec(vocabulary.characters)
    if vocabulary.kind == "bytes":
        return ByteCodec()
    assert vocabulary.tokenizer is not None
    return build_tokenizer(vocabulary.tokenizer, dict(vocabulary.tokenizer_args), directory=directory)


def token_windows(tokens: torch.Tensor, *, context_length: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a token stream into windows and their next-token targets.

    Parameters
    ----------
    tokens : torch.Tensor
        ``(N,)`` token ids.
    context_length : int
        Tokens per window (T).
    stride : int
        Tokens between the starts of two windows.

    Returns
    -------
    inputs, targets : torch.Tensor
        ``(W, T)`` each, contiguous copies; ``targets[w, t] == inputs[w, t + 1]`` for ``t < T - 1``. ``W = 0``
        when the stream is shorter than ``T + 1``.

    Examples
    --------
    >>> inputs, targets = token_windows(torch.arange(10), context_length=4, stride=3)
    >>> inputs.tolist()
    [[0, 1, 2, 3], [3, 4, 5, 6]]
    >>> targets.tolist()
    [[1, 2, 3, 4], [4, 5, 6, 7]]
    """
    if tokens.numel() < context_length + 1:
        empty = tokens.new_empty((0, context_length))
        return empty, empty.clone()
    # unfold gives views into the stream; the copies keep each split's tensors independent of the others
    inputs = tokens[:-1].unfold(0, context_length, stride).clone()  # (W, T)
    targets = tokens[1:].unfold(0, context_length, stride).clone()  # (W, T)
    return inputs, targets


def split_token_stream(tokens: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The training block (the first ``1 - val_fraction`` of the tokens) and the validation block (the rest).

    Examples
    --------
    >>> train, val = split_token_stream(torch.arange(10), 0.2)
    >>> train.tolist(), val.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    cut = tokens.numel() - math.floor(tokens.numel() * val_fraction)
    return tokens[:cut], tokens[cut:]
