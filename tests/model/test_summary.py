"""The model summary: rows per top-level layer, totals, and the state the forward pass must not change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dlcheck.errors import ModelError
from dlcheck.model import build_model, summarize_model
from dlcheck.recipe.schema import ModelConfig


def test_training_flags_and_batch_norm_statistics_are_restored() -> None:
    layers = [{"type": "linear", "out": 8}, {"type": "batchnorm1d"}, {"type": "dropout"}, {"type": "linear", "out": 2}]
    model = build_model(ModelConfig.model_validate({"layers": layers}), (4,), seed=0, directory=Path("."))
    model.train()
    model[2].eval()  # a mixed state must come back as it was
    statistics = {name: buffer.clone() for name, buffer in model.named_buffers()}

    summarize_model(model, (4,))

    assert [module.training for module in model.children()] == [True, True, False, True]
    for name, buffer in model.named_buffers():
        assert torch.equal(buffer, statistics[name]), name


def test_trainable_count_excludes_frozen_parameters() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    summary = summarize_model(model, (4,))
    assert (summary.total_parameters, summary.trainable_parameters) == (15 + 8, 8)


class _Scaled(nn.Module):
    """Parameters on the top-level module itself, beside a child."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layer(inputs) * self.scale


def test_parameters_of_the_top_level_module_get_a_row() -> None:
    summary = summarize_model(_Scaled(), (4,))
    assert [(row.name, row.kind, row.parameters) for row in summary.rows] == [
        ("layer", "Linear", 10),
        ("(top level)", "_Scaled", 2),
    ]
    assert summary.total_parameters == 12


class _Pair(nn.Module):
    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs, inputs


def test_a_model_that_returns_a_tuple_is_an_error() -> None:
    with pytest.raises(ModelError, match=r"model\.factory: the model returned a tuple"):
        summarize_model(_Pair(), (4,))
