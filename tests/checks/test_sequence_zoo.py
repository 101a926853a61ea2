"""A zoo of sequence-model bugs, each caught by the right plain check; healthy controls pass every check.

The models are ordinary user code (a nanoGPT-like transformer, a GRU, a convolution), each with at most one
mistake. They are judged by the plain functions a project's own tests would call: ``check_causality`` for the
model, ``check_target_shift`` for the windows, and ``check_batch_independence`` / ``check_initial_loss``
where they apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcheck.checks import check_batch_independence, check_causality, check_initial_loss, check_target_shift
from dlcheck.data.text import read_text_tokens, token_windows
from dlcheck.engine.losses import build_loss
from dlcheck.model import build_model
from dlcheck.recipe.schema import ModelConfig
from tests.threads import one_thread  # noqa: F401  (the fixture)

VOCABULARY, LENGTH, DIM = 24, 16, 32


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------------------------ models


class Attention(nn.Module):
    """Multi-head self-attention written out, with the mask a user might get wrong."""

    def __init__(self, mask: str) -> None:
        super().__init__()
        self.mask, self.heads = mask, 4
        self.qkv, self.out = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in self.qkv(x).split(DIM, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, T, T)
        ones = torch.ones(length, length, dtype=torch.bool, device=x.device)
        if self.mask == "causal":
            scores = scores.masked_fill(torch.triu(ones, 1), float("-inf"))  # hide later keys
        elif self.mask == "inverted":
            scores = scores.masked_fill(torch.tril(ones, -1), float("-inf"))  # hides the past instead
        return self.out((scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, length, DIM))


class Block(nn.Module):
    def __init__(self, mask: str) -> None:
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(DIM), Attention(mask)
        self.norm2 = nn.LayerNorm(DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.GELU(), nn.Linear(4 * DIM, DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    """nanoGPT-shaped; the position embedding is registered (and called) before the token embedding."""

    def __init__(self, mask: str = "causal", add_positions: bool = True) -> None:
        super().__init__()
        self.positions = nn.Embedding(LENGTH, DIM)
        self.tokens = nn.Embedding(VOCABULARY, DIM)
        self.blocks = nn.Sequential(Block(mask), Block(mask))
        self.norm, self.head = nn.LayerNorm(DIM), nn.Linear(DIM, VOCABULARY)
        self.add_positions = add_positions

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        where = self.positions(torch.arange(ids.shape[1], device=ids.device))  # (T, D)
        x = self.tokens(ids)  # (B, T, D)
        if self.add_positions:
            x = x + where
        return self.head(self.norm(self.blocks(x)))  # (B, T, V)


class GRULanguageModel(nn.Module):
    def __init__(self, batch_first: bool = True, shift_inputs: bool = False) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCABULARY, DIM)
        self.gru = nn.GRU(DIM, DIM, batch_first=batch_first)
        self.head = nn.Linear(DIM, VOCABULARY)
        self.shift_inputs = shift_inputs

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.shift_inputs:  # "predict the next token": the inputs rolled where the targets should be
            ids = torch.roll(ids, -1, dims=1)
        outputs, _ = self.gru(self.tokens(ids))  # batch_first=False reads (B, T, D) as (T, B, D)
        return self.head(outputs)


class ConvLanguageModel(nn.Module):
    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.tokens = nn.Embedding(VOCABULARY, DIM)
        self.conv = nn.Conv1d(DIM, DIM, kernel_size=3, padding=0 if causal else 1)
        self.head = nn.Linear(DIM, VOCABULARY)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids).transpose(1, 2)  # (B, D, T)
        if self.causal:
            x = F.pad(x, (2, 0))  # left padding only: position t sees t-2..t
        return self.head(torch.relu(self.conv(x)).transpose(1, 2))


def recipe_transformer() -> nn.Module:
    config = ModelConfig.model_validate(
        {
            "layers": [
                {"type": "embedding", "dim": DIM},
                {"type": "positions"},
                {"type": "transformer_block", "heads": 4},
                {"type": "transformer_block", "heads": 4},
                {"type": "layernorm"},
                {"type": "lm_head", "tie": True},
            ]
        }
    )
    return build_model(config, (LENGTH,), seed=0, directory=Path("."), vocabulary_size=VOCABULARY)


def _seeded(factory: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return factory()


def _tokens(batch: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCABULARY, (batch, LENGTH), generator=torch.Generator().manual_seed(seed))


HEALTHY: dict[str, Callable[[], nn.Module]] = {
    "causal_transformer": lambda: TinyGPT("causal"),
    "gru": GRULanguageModel,
    "causal_convolution": lambda: ConvLanguageModel(causal=True),
    "recipe_transformer": recipe_transformer,
}


# --------------------------------------------------------------------------------------- healthy models


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_sequence_models_pass_every_check(name: str) -> None:
    model = _seeded(HEALTHY[name])
    inputs = _tokens()
    targets = torch.roll(inputs, -1, dims=1)

    causality = check_causality(model, inputs)
    assert causality.status == "pass", causality.summary
    assert causality.metrics["future_gradient"] == 0.0 and causality.metrics["forward_change"] == 0.0
    assert causality.metrics["position_spread"] > 1e-3  # positions, a recurrence or a convolution's padding
    assert causality.metrics["uses_context"] is True

    independence = check_batch_independence(model, inputs)
    assert independence.status == "pass", independence.summary

    initial = check_initial_loss(model, inputs, targets, build_loss("cross_entropy", sequence=True))
    assert initial.status == "pass", initial.summary
    assert initial.metrics["num_classes"] == VOCABULARY
    assert initial.metrics["expected"] == pytest.approx(math.log(VOCABULARY), rel=1e-5)
    assert f"log {VOCABULARY} classes" in initial.summary


def test_initial_loss_of_sequence_logits_with_a_plain_torch_loss() -> None:
    # A user's own loss: (B, T, V) logits flattened for torch's cross_entropy; the classes are found last.
    model = _seeded(GRULanguageModel)
    inputs = _tokens(32)

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))

    result = check_initial_loss(model, inputs, torch.roll(inputs, -1, dims=1), loss, loss_name="cross_entropy")
    assert result.status == "pass", result.summary
    assert result.metrics["num_classes"] == VOCABULARY


def test_initial_loss_knows_the_unigram_entropy_of_token_targets() -> None:
    # Half the targets are token 0: the best input-independent prediction is the unigram distribution.
    model = _seeded(GRULanguageModel)
    inputs = _tokens(64)
    targets = torch.where(torch.rand(inputs.shape, generator=torch.Generator().manual_seed(2)) < 0.5, 0, inputs)
    result = check_initial_loss(model, inputs, targets, build_loss("cross_entropy", sequence=True))
    probabilities = torch.bincount(targets.reshape(-1), minlength=VOCABULARY).double() / targets.numel()
    entropy = float(-(probabilities[probabilities > 0] * probabilities[probabilities > 0].log()).sum())
    assert result.metrics["prior_loss"] == pytest.approx(entropy, rel=0.02)
    assert result.metrics["prior_loss"] < result.metrics["expected"] - 0.5


# ------------------------------------------------------------------------------------------- model bugs


def test_missing_causal_mask_is_named_with_the_first_leaking_position() -> None:
    result = check_causality(_seeded(lambda: TinyGPT("none")), _tokens())
    assert result.status == "fail"
    assert result.metrics["leaking_position"] == 0 and result.metrics["leaking_from"] == 1
    assert result.metrics["cause"] == "no_mask"
    assert "position 0" in result.summary and "the causal mask is missing" in result.summary
    assert "is_causal=True" in result.advice[0]


def test_inverted_causal_mask_is_told_apart_from_a_missing_one() -> None:
    result = check_causality(_seeded(lambda: TinyGPT("inverted")), _tokens())
    assert result.status == "fail"
    assert result.metrics["cause"] == "inverted_mask"
    assert "inverted" in result.summary and "torch.tril" in result.advice[0]


def test_convolution_with_symmetric_padding_sees_one_position_ahead() -> None:
    result = check_causality(_seeded(lambda: ConvLanguageModel(causal=False)), _tokens())
    assert result.status == "fail"
    assert result.metrics["leaking_position"] == 0 and result.metrics["leaking_from"] == 1
    assert result.metrics["positions_ahead"] == 1 and result.metrics["cause"] == "sees_ahead"
    assert "one position ahead" in result.summary
    assert "F.pad(x, (kernel_size - 1, 0))" in result.advice[0]


def test_inputs_shifted_the_wrong_way_inside_the_model() -> None:
    # the off-by-one inside the model: torch.roll(ids, -1) feeds the token at t + 1 to position t
    result = check_causality(_seeded(lambda: GRULanguageModel(shift_inputs=True)), _tokens())
    assert result.status == "fail"
    assert result.metrics["cause"] == "sees_ahead" and result.metrics["positions_ahead"] == 1
    assert "shift the targets in the data" in result.advice[0]


def test_positions_computed_but_not_added() -> None:
    result = check_causality(_seeded(lambda: TinyGPT("causal", add_positions=False)), _tokens())
    assert result.status == "warn"  # still causal, and its mask teaches it a little order: a warning
    assert result.metrics["future_gradient"] == 0.0
    assert result.metrics["position_spread"] < 1e-5
    assert "positions are not added" in result.summary and "x = tokens(ids) + positions" in result.advice[0]


def test_batch_and_time_axes_swapped() -> None:
    # batch_first=False on (B, T, D): the GRU runs along the batch, each sample sees the ones before it
    model = _seeded(lambda: GRULanguageModel(batch_first=False))
    inputs = _tokens()
    independence = check_batch_independence(model, inputs)
    assert independence.status == "fail"
    assert "depends on the rest of the batch" in independence.summary
    causality = check_causality(model, inputs)  # no leak along time, but no context either: a hint
    assert causality.status == "pass"
    assert causality.metrics["uses_context"] is False and "bigram" in causality.summary


def test_models_without_an_embedding_are_judged_by_the_forward_test() -> None:
    class OneHot(nn.Module):  # one-hot inputs into a linear layer: no nn.Embedding to differentiate at
        def __init__(self) -> None:
            super().__init__()
            self.inner = GRULanguageModel()

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            vectors = F.one_hot(ids, VOCABULARY).float() @ self.inner.tokens.weight  # (B, T, D)
            return self.inner.head(vectors + vectors.mean(dim=1, keepdim=True))  # the mean leaks the future

    result = check_causality(_seeded(OneHot), _tokens())
    assert result.status == "fail"
    assert result.metrics["gradient_test"].startswith("skipped")
    assert result.metrics["cause"] == "forward_only" and result.metrics["leaking_position"] == 0


def test_bidirectional_models_are_skipped_with_a_note_unless_checked_on_purpose() -> None:
    class Bidirectional(GRULanguageModel):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(DIM, DIM // 2, batch_first=True, bidirectional=True)

    model = _seeded(Bidirectional)
    skipped = check_causality(model, _tokens())
    assert skipped.status == "skip" and "bidirectional" in skipped.summary and "gru" in skipped.summary
    forced = check_causality(model, _tokens(), bidirectional=False)
    assert forced.status == "fail" and forced.metrics["cause"] == "no_mask"
    assert check_causality(_seeded(GRULanguageModel), _tokens(), bidirectional=True).status == "skip"


def test_recipe_transformer_declared_bidirectional_is_skipped() -> None:
    config = ModelConfig.model_validate(
        {
            "layers": [
                {"type": "embedding", "dim": DIM},
                {"type": "transformer_block", "causal": False},
                {"type": "lm_head"},
            ]
        }
    )
    model = build_model(config, (LENGTH,), seed=0, directory=Path("."), vocabulary_size=VOCABULARY)
    result = check_causality(model, _tokens())
    assert result.status == "skip" and "is_causal=False" in result.summary


# -------------------------------------------------------------------------------------------- data bugs


def _windows() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    stream = read_text_tokens(None, directory=Path(".")).tokens[:5000]
    inputs, targets = token_windows(stream, context_length=32, stride=32)
    return stream, inputs, targets


def test_healthy_windows_are_shifted_by_one() -> None:
    _, inputs, targets = _windows()
    result = check_target_shift(inputs, targets)
    assert result.status == "pass" and result.metrics["shift"] == 1 and result.metrics["match"] == 1.0
    # chance agreement at other shifts is far below the threshold (doubled letters and the like)
    assert max(value for key, value in result.metrics["matches"].items() if key != "1") < 0.2


def test_targets_equal_to_inputs() -> None:
    _, inputs, _ = _windows()
    result = check_target_shift(inputs, inputs.clone())
    assert result.status == "fail" and result.metrics["shift"] == 0
    assert "not shifted" in result.summary


@pytest.mark.parametrize(
    ("offset", "words"),
    [(2, "off-by-one in the windowing"), (-1, "the shift goes the wrong way")],  # two ahead; the previous token
)
def test_targets_shifted_by_another_offset(offset: int, words: str) -> None:
    stream, _, _ = _windows()
    starts = torch.arange(1, 4000, 32)
    inputs = torch.stack([stream[start : start + 32] for start in starts])
    targets = torch.stack([stream[start + offset : start + offset + 32] for start in starts])
    result = check_target_shift(inputs, targets)
    assert result.status == "fail" and result.metrics["shift"] == offset
    assert words in result.summary


def test_padding_is_left_out_and_tagging_data_are_skipped() -> None:
    _, inputs, targets = _windows()
    padded = targets.clone()
    padded[:, 20:] = -100
    assert check_target_shift(inputs, padded, ignore_index=-100).status == "pass"
    tags = (inputs % 3).clone()  # a tag per token: not a shifted copy
    assert check_target_shift(inputs, tags).status == "skip"
