"""Sequence layers: token ids to (T, D) to (T, V), shapes from the data, refusals that name the fix."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlcheck.errors import ModelError
from dlcheck.model import build_model, check_output_shape, summarize_model
from dlcheck.model.generate import generate_tokens
from dlcheck.model.sequence import LanguageModelHead, LearnedPositions, SinusoidalPositions
from dlcheck.recipe.schema import ModelConfig
from dlcheck.recipe.schema_layers import SEQUENCE_LAYER_TYPES

LENGTH, VOCABULARY = 12, 30
EMBED = {"type": "embedding", "dim": 16}


def _build(*layers: dict[str, Any], vocabulary_size: int | None = VOCABULARY, shape: tuple[int, ...] = (LENGTH,)):
    config = ModelConfig.model_validate({"layers": list(layers)})
    return build_model(config, shape, seed=0, directory=Path("."), vocabulary_size=vocabulary_size)


# Each sequence layer type after an embedding of 16 features, with the shape it outputs per sample.
SEQUENCE_EXAMPLES: dict[str, tuple[list[dict[str, Any]], tuple[int, ...]]] = {
    "embedding": ([EMBED], (LENGTH, 16)),
    "positions": ([EMBED, {"type": "positions", "kind": "sinusoidal"}], (LENGTH, 16)),
    "transformer_block": ([EMBED, {"type": "transformer_block", "heads": 2, "dropout": 0.1}], (LENGTH, 16)),
    "gru": ([EMBED, {"type": "gru", "hidden": 8, "num_layers": 2, "dropout": 0.1}], (LENGTH, 8)),
    "lstm": ([EMBED, {"type": "lstm", "hidden": 8, "bidirectional": True}], (LENGTH, 16)),
    "lm_head": ([EMBED, {"type": "lm_head"}], (LENGTH, VOCABULARY)),
}


def test_every_sequence_layer_type_has_an_example() -> None:
    assert set(SEQUENCE_EXAMPLES) == set(SEQUENCE_LAYER_TYPES)


@pytest.mark.parametrize("layer_type", SEQUENCE_LAYER_TYPES)
def test_every_sequence_layer_builds_and_runs(layer_type: str) -> None:
    layers, expected = SEQUENCE_EXAMPLES[layer_type]
    model = _build(*layers)
    summary = summarize_model(model, (LENGTH,))  # token ids fed as int64 zeros: the stack starts with an embedding
    assert summary.output_shape == expected == summary.rows[-1].output_shape
    ids = torch.randint(0, VOCABULARY, (3, LENGTH))
    assert model(ids).shape == (3, *expected)
    assert model(ids[:, :5]).shape == (3, 5, *expected[1:])  # shorter windows work (generation)


def test_a_small_transformer_language_model() -> None:
    model = _build(
        EMBED,
        {"type": "positions"},
        {"type": "transformer_block", "heads": 4},
        {"type": "layernorm"},
        {"type": "linear", "out": 16},
        {"type": "gelu"},
        {"type": "lm_head", "tie": True},
    )
    summary = summarize_model(model, (LENGTH,))
    assert [row.kind for row in summary.rows] == [
        "embedding", "positions (learned)", "transformer_block", "layernorm", "linear", "gelu", "lm_head (tied)",
    ]  # fmt: skip
    assert [row.output_shape for row in summary.rows][-3:] == [(LENGTH, 16), (LENGTH, 16), (LENGTH, VOCABULARY)]
    norm = model[3]
    assert isinstance(norm, nn.LayerNorm) and norm.normalized_shape == (16,)  # per position, never over time
    head, embedding = model[6], model[0]
    assert isinstance(head, LanguageModelHead) and head.weight is embedding.weight  # one tensor, two uses
    assert summary.total_parameters == sum(parameter.numel() for parameter in model.parameters())
    assert len(list(model.parameters())) == len({id(parameter) for parameter in model.parameters()})


def test_sequence_layers_are_initialised_for_unit_scale_logits() -> None:
    model = _build(
        {"type": "embedding", "dim": 64}, {"type": "positions"}, {"type": "layernorm"}, {"type": "lm_head", "tie": True}
    )
    embedding, positions = model[0], model[1]
    assert isinstance(positions, LearnedPositions)
    # N(0, 1/D): vectors of unit norm, so a head tied to them gives logits of std about 1 on normalised inputs
    assert embedding.weight.std().item() == pytest.approx(1 / math.sqrt(64), rel=0.1)
    assert positions.weight.std().item() == pytest.approx(1 / math.sqrt(64), rel=0.1)
    logits = model(torch.randint(0, VOCABULARY, (64, LENGTH)))
    assert 0.6 < logits.std().item() < 1.6
    seeded = _build({"type": "embedding", "dim": 64}, {"type": "lm_head"})
    assert torch.equal(seeded[0].weight, _build({"type": "embedding", "dim": 64}, {"type": "lm_head"})[0].weight)


def test_sinusoidal_positions_hold_no_parameters_and_differ_per_position() -> None:
    model = _build(EMBED, {"type": "positions", "kind": "sinusoidal"})
    positions = model[1]
    assert isinstance(positions, SinusoidalPositions)
    assert not list(positions.parameters()) and not any("table" in key for key in model.state_dict())
    zeros = torch.zeros(1, LENGTH, 16)
    added = positions(zeros)[0]  # (T, D)
    assert torch.allclose(added.norm(dim=1), torch.ones(LENGTH)) and not torch.allclose(added[0], added[1])


@pytest.mark.parametrize(
    ("layers", "path", "words"),
    [
        (
            [{"type": "linear", "out": 8}],
            "model.layers.0 (linear)",
            "receives token ids.*start the model with an embedding",
        ),
        ([EMBED, {"type": "conv1d", "out": 8}], "model.layers.1 (conv1d)", "takes channels first.*features last"),
        ([EMBED, {"type": "batchnorm1d"}], "model.layers.1 (batchnorm1d)", "use linear, layernorm"),
        ([EMBED, {"type": "transformer_block", "heads": 3}], "model.layers.1", "3 heads must divide the 16 features"),
        ([EMBED, {"type": "embedding", "dim": 4}], "model.layers.1 (embedding)", "takes token ids"),
        (
            [EMBED, {"type": "linear", "out": 8}, {"type": "lm_head", "tie": True}],
            "model.layers.2",
            "shares the embedding",
        ),
        ([EMBED, {"type": "flatten"}, {"type": "gru", "hidden": 4}], "model.layers.2 (gru)", "works on sequences"),
    ],
)
def test_layers_that_cannot_take_a_sequence_name_the_fix(layers: list[dict[str, Any]], path: str, words: str) -> None:
    with pytest.raises(ModelError, match=words) as caught:
        _build(*layers)
    assert str(caught.value).startswith(path)


def test_sequence_layers_on_data_that_are_not_tokens() -> None:
    with pytest.raises(ModelError, match=r"model.layers.0 \(embedding\): takes token ids.*on token data"):
        _build(EMBED, vocabulary_size=None, shape=(6,))
    with pytest.raises(ModelError, match=r"model.layers.0 \(lm_head\).*works on sequences"):
        _build({"type": "lm_head"}, vocabulary_size=None, shape=(6,))


def test_a_residual_around_a_per_position_mlp() -> None:
    model = _build(EMBED, {"type": "residual", "layers": [{"type": "linear", "out": 24}, {"type": "gelu"}]})
    assert model(torch.randint(0, VOCABULARY, (2, LENGTH))).shape == (2, LENGTH, 24)
    assert isinstance(model[1].shortcut, nn.Linear) and model[1].shortcut.in_features == 16


def test_output_check_for_next_token_logits() -> None:
    check_output_shape(
        (LENGTH, VOCABULARY), num_classes=VOCABULARY, loss="cross_entropy", target_shape=(LENGTH,), sequence=True
    )
    with pytest.raises(ModelError, match="outputs 16 values per position but the vocabulary has 30 tokens"):
        check_output_shape(
            (LENGTH, 16), num_classes=VOCABULARY, loss="cross_entropy", target_shape=(LENGTH,), sequence=True
        )
    with pytest.raises(ModelError, match=r"needs \(12, 30\).*keep the positions"):
        check_output_shape((192,), num_classes=VOCABULARY, loss="cross_entropy", target_shape=(LENGTH,), sequence=True)
    with pytest.raises(ModelError, match="need `loss: cross_entropy`"):
        check_output_shape(
            (LENGTH, VOCABULARY), num_classes=VOCABULARY, loss="mse", target_shape=(LENGTH,), sequence=True
        )


def test_a_factory_model_is_summarised_on_token_ids() -> None:
    class Bigram(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Embedding(VOCABULARY, VOCABULARY)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.table(ids)

    summary = summarize_model(Bigram(), (LENGTH,), input_dtype=torch.int64)
    assert summary.output_shape == (LENGTH, VOCABULARY)


def test_generation_is_greedy_or_seeded_and_leaves_the_model_as_it_was() -> None:
    model = _build(EMBED, {"type": "gru", "hidden": 16}, {"type": "lm_head"})
    model.train()
    greedy = generate_tokens(model, [1, 2], tokens=20, context_length=LENGTH)
    assert greedy == generate_tokens(model, [1, 2], tokens=20, context_length=LENGTH) and model.training
    sampled = generate_tokens(model, [1, 2], tokens=20, context_length=LENGTH, temperature=1.0, seed=3)
    assert sampled == generate_tokens(model, [1, 2], tokens=20, context_length=LENGTH, temperature=1.0, seed=3)
    assert sampled != generate_tokens(model, [1, 2], tokens=20, context_length=LENGTH, temperature=1.0, seed=4)
    assert len(greedy) == 20 and all(0 <= token < VOCABULARY for token in sampled)
