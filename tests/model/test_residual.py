"""Residual blocks: identity shortcuts when shapes match, projections (strided when needed) otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlcheck.errors import ModelError
from dlcheck.model import build_model, summarize_model
from dlcheck.model.residual import Residual
from dlcheck.recipe.schema import ModelConfig


def _residual(input_shape: tuple[int, ...], body: list[dict[str, Any]], activation: str = "relu") -> nn.Module:
    config = ModelConfig.model_validate({"layers": [{"type": "residual", "activation": activation, "layers": body}]})
    return build_model(config, input_shape, seed=0, directory=Path("."))


def _block(model: nn.Module) -> Residual:
    block = model[0]
    assert isinstance(block, Residual)
    return block


def test_equal_shapes_use_the_identity_shortcut() -> None:
    body = [
        {"type": "conv2d", "out": 8, "padding": "same"},
        {"type": "batchnorm2d"},
        {"type": "relu"},
        {"type": "conv2d", "out": 8, "padding": "same"},
        {"type": "batchnorm2d"},
    ]
    model = _residual((8, 6, 6), body)
    block = _block(model)
    summary = summarize_model(model, (8, 6, 6))

    assert isinstance(block.shortcut, nn.Identity) and isinstance(block.activation, nn.ReLU)
    assert (summary.rows[0].kind, summary.rows[0].output_shape) == ("residual", (8, 6, 6))
    assert summary.total_parameters == 2 * (8 * 8 * 9 + 8) + 2 * 16
    inputs = torch.randn(2, 8, 6, 6)
    model.eval()
    torch.testing.assert_close(model(inputs), torch.relu(block.body(inputs) + inputs))


def test_channel_change_uses_a_one_by_one_projection() -> None:
    model = _residual((8, 6, 6), [{"type": "conv2d", "out": 16, "padding": 1}], activation="none")
    block = _block(model)
    summary = summarize_model(model, (8, 6, 6))

    assert isinstance(block.shortcut, nn.Conv2d)
    assert block.shortcut.kernel_size == (1, 1) and block.shortcut.stride == (1, 1)
    assert isinstance(block.activation, nn.Identity)
    assert (summary.rows[0].kind, summary.output_shape) == ("residual (projection)", (16, 6, 6))
    assert summary.total_parameters == (16 * 8 * 9 + 16) + (16 * 8 + 16)


@pytest.mark.parametrize(("side", "out_side"), [(8, 4), (7, 4)])
def test_strided_convolution_inside_gives_a_strided_projection(side: int, out_side: int) -> None:
    body = [{"type": "conv2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1}, {"type": "relu"}]
    model = _residual((8, side, side), body)
    block = _block(model)
    summary = summarize_model(model, (8, side, side))  # runs the forward pass: shapes must add up

    assert isinstance(block.shortcut, nn.Conv2d) and block.shortcut.stride == (2, 2)
    assert summary.output_shape == (16, out_side, out_side)


def test_vectors_and_signals_get_linear_and_conv1d_projections() -> None:
    vector = _block(_residual((32,), [{"type": "linear", "out": 64}, {"type": "gelu"}], activation="gelu"))
    signal = _block(_residual((4, 16), [{"type": "conv1d", "out": 8, "stride": 2, "padding": 1}]))
    assert isinstance(vector.shortcut, nn.Linear) and vector.shortcut.out_features == 64
    assert isinstance(signal.shortcut, nn.Conv1d) and signal.shortcut.stride == (2,)
    assert summarize_model(nn.Sequential(signal), (4, 16)).output_shape == (8, 8)


def test_a_body_that_changes_the_rank_cannot_be_matched() -> None:
    with pytest.raises(ModelError, match=r"model\.layers\.0 \(residual\): its body turns the input \(8, 4, 4\)"):
        _residual((8, 4, 4), [{"type": "flatten"}, {"type": "linear", "out": 8}])


def test_a_body_that_shrinks_by_a_non_integer_factor_cannot_be_matched() -> None:
    with pytest.raises(ModelError, match="no strided 1x1 projection"):
        _residual((8, 8, 8), [{"type": "conv2d", "out": 8, "kernel": 3}])
