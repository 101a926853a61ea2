"""Shape inference of the layer vocabulary: built models, parameter counts and the errors users see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlcheck.errors import ModelError
from dlcheck.model import build_model, summarize_model
from dlcheck.model.layers import LAYER_BUILDERS
from dlcheck.recipe.schema import LAYER_TYPES, InitConfig, ModelConfig
from dlcheck.recipe.schema_layers import SEQUENCE_LAYER_TYPES


def _config(*layers: dict[str, Any]) -> ModelConfig:
    return ModelConfig.model_validate({"layers": list(layers)})


def _build(input_shape: tuple[int, ...], *layers: dict[str, Any]) -> nn.Module:
    return build_model(_config(*layers), input_shape, seed=0, directory=Path("."))


def test_design_mlp_on_digit_images_inserts_a_flatten() -> None:
    shape = (1, 8, 8)
    model = _build(shape, {"type": "linear", "out": 64}, {"type": "relu"}, {"type": "linear", "out": 10})
    summary = summarize_model(model, shape)

    assert summary.output_shape == (10,)
    assert summary.total_parameters == 64 * 64 + 64 + 64 * 10 + 10
    assert summary.trainable_parameters == summary.total_parameters
    assert (summary.rows[0].name, summary.rows[0].kind, summary.rows[0].output_shape) == (
        "(inserted)",
        "flatten",
        (64,),
    )
    assert [row.name for row in summary.rows[1:]] == ["model.layers.0", "model.layers.1", "model.layers.2"]
    # state-dict keys follow the recipe indices
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} == set(model.state_dict())


def test_small_cnn_on_digits() -> None:
    shape = (1, 8, 8)
    model = _build(
        shape,
        {"type": "conv2d", "out": 16, "kernel": 3, "padding": 1},
        {"type": "batchnorm2d"},
        {"type": "relu"},
        {"type": "maxpool2d"},
        {"type": "conv2d", "out": 32, "kernel": 3, "padding": "same"},
        {"type": "relu"},
        {"type": "adaptive_avgpool2d"},
        {"type": "flatten"},
        {"type": "linear", "out": 10},
    )
    summary = summarize_model(model, shape)

    assert [row.output_shape for row in summary.rows] == [
        (16, 8, 8), (16, 8, 8), (16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 4, 4), (32, 1, 1), (32,), (10,),
    ]  # fmt: skip
    assert [row.parameters for row in summary.rows] == [16 * 9 + 16, 32, 0, 0, 32 * 16 * 9 + 32, 0, 0, 0, 330]
    assert summary.total_parameters == sum(row.parameters for row in summary.rows)
    assert not any(row.name == "(inserted)" for row in summary.rows)


def test_conv1d_stack_on_signals() -> None:
    shape = (2, 32)
    model = _build(
        shape,
        {"type": "conv1d", "out": 8, "kernel": 5},
        {"type": "batchnorm1d"},
        {"type": "prelu"},
        {"type": "maxpool1d"},
        {"type": "conv1d", "out": 16, "kernel": 3, "stride": 2, "padding": 1},
        {"type": "avgpool1d"},
        {"type": "adaptive_avgpool1d"},
        {"type": "flatten"},
        {"type": "linear", "out": 3},
    )
    summary = summarize_model(model, shape)

    assert [row.output_shape for row in summary.rows] == [
        (8, 28), (8, 28), (8, 28), (8, 14), (16, 7), (16, 3), (16, 1), (16,), (3,),
    ]  # fmt: skip
    assert summary.rows[2].parameters == 8  # prelu: one slope per channel


# One spec and a suitable input shape per layer type; a new schema type without an entry fails below.
# The sequence layers, which need token data, have theirs in test_sequence_layers.py.
EXAMPLES: dict[str, tuple[dict[str, Any], tuple[int, ...], tuple[int, ...]]] = {
    "linear": ({"type": "linear", "out": 5}, (7,), (5,)),
    "conv1d": ({"type": "conv1d", "out": 4, "kernel": 3, "padding": "same"}, (2, 9), (4, 9)),
    "conv2d": ({"type": "conv2d", "out": 4, "kernel": 3, "stride": 2}, (3, 9, 9), (4, 4, 4)),
    "batchnorm1d": ({"type": "batchnorm1d"}, (6,), (6,)),
    "batchnorm2d": ({"type": "batchnorm2d"}, (3, 4, 4), (3, 4, 4)),
    "layernorm": ({"type": "layernorm"}, (3, 4, 4), (3, 4, 4)),
    "groupnorm": ({"type": "groupnorm", "groups": 2}, (4, 5, 5), (4, 5, 5)),
    "instancenorm2d": ({"type": "instancenorm2d"}, (3, 4, 4), (3, 4, 4)),
    "dropout": ({"type": "dropout", "p": 0.2}, (6,), (6,)),
    "dropout2d": ({"type": "dropout2d"}, (3, 4, 4), (3, 4, 4)),
    "maxpool1d": ({"type": "maxpool1d", "kernel": 3}, (2, 10), (2, 3)),
    "maxpool2d": ({"type": "maxpool2d", "kernel": 3, "stride": 1}, (2, 5, 5), (2, 3, 3)),
    "avgpool1d": ({"type": "avgpool1d"}, (2, 9), (2, 4)),
    "avgpool2d": ({"type": "avgpool2d"}, (2, 7, 7), (2, 3, 3)),
    "adaptive_avgpool1d": ({"type": "adaptive_avgpool1d", "output": 2}, (3, 9), (3, 2)),
    "adaptive_avgpool2d": ({"type": "adaptive_avgpool2d", "output": 2}, (3, 9, 9), (3, 2, 2)),
    "adaptive_maxpool2d": ({"type": "adaptive_maxpool2d"}, (3, 9, 9), (3, 1, 1)),
    "flatten": ({"type": "flatten"}, (3, 2, 2), (12,)),
    "relu": ({"type": "relu"}, (6,), (6,)),
    "leaky_relu": ({"type": "leaky_relu", "negative_slope": 0.2}, (6,), (6,)),
    "prelu": ({"type": "prelu"}, (6,), (6,)),
    "elu": ({"type": "elu", "alpha": 0.5}, (3, 4, 4), (3, 4, 4)),
    "selu": ({"type": "selu"}, (6,), (6,)),
    "gelu": ({"type": "gelu"}, (6,), (6,)),
    "silu": ({"type": "silu"}, (6,), (6,)),
    "tanh": ({"type": "tanh"}, (6,), (6,)),
    "sigmoid": ({"type": "sigmoid"}, (6,), (6,)),
    "residual": ({"type": "residual", "layers": [{"type": "linear", "out": 6}]}, (6,), (6,)),
}


def test_every_schema_layer_type_has_a_builder_and_an_example() -> None:
    assert set(LAYER_TYPES) == set(LAYER_BUILDERS) | {"residual"}
    assert set(LAYER_TYPES) - set(SEQUENCE_LAYER_TYPES) == set(EXAMPLES)


@pytest.mark.parametrize("layer_type", sorted(EXAMPLES))
def test_every_layer_type_builds_and_runs(layer_type: str) -> None:
    spec, input_shape, expected = EXAMPLES[layer_type]
    model = _build(input_shape, spec)
    summary = summarize_model(model, input_shape)  # the forward pass checks the inferred shape
    assert summary.rows[-1].name == "model.layers.0"
    assert summary.rows[-1].output_shape == expected == summary.output_shape
    model.train()
    outputs = model(torch.randn(2, *input_shape))
    assert outputs.shape == (2, *expected)


def test_prelu_shares_one_slope_for_feature_vectors_and_layernorm_covers_the_sample() -> None:
    vector = summarize_model(_build((6,), {"type": "prelu"}), (6,))
    image = summarize_model(_build((3, 4, 4), {"type": "layernorm"}), (3, 4, 4))
    assert vector.total_parameters == 1
    assert image.total_parameters == 2 * 3 * 4 * 4


def _error(input_shape: tuple[int, ...], *layers: dict[str, Any]) -> str:
    with pytest.raises(ModelError) as caught:
        _build(input_shape, *layers)
    return str(caught.value)


def test_conv2d_after_a_flatten_names_the_layer_the_shape_and_the_fix() -> None:
    message = _error(
        (1, 8, 8),
        {"type": "conv2d", "out": 4, "padding": 1},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "conv2d", "out": 8},
    )
    assert message.startswith("model.layers.3 (conv2d): needs an image input (C, H, W) but receives (256,)")
    assert "after model.layers.2 (flatten)" in message
    assert "move the flatten (model.layers.2) after the convolution" in message


def test_conv2d_on_feature_vectors_from_the_data() -> None:
    message = _error((64,), {"type": "conv2d", "out": 4})
    assert "model.layers.0 (conv2d)" in message and "(64,) from the data" in message
    assert "use linear layers" in message


def test_conv2d_after_a_linear_layer_and_conv2d_on_signals() -> None:
    after_linear = _error((1, 8, 8), {"type": "linear", "out": 16}, {"type": "conv2d", "out": 4})
    assert "model.layers.1 (conv2d)" in after_linear and "before model.layers.0" in after_linear
    on_signal = _error((2, 32), {"type": "conv2d", "out": 4})
    assert "receives (2, 32)" in on_signal and "`type: conv1d`" in on_signal


def test_groupnorm_groups_must_divide_the_channels() -> None:
    message = _error((1, 8, 8), {"type": "conv2d", "out": 16, "padding": 1}, {"type": "groupnorm", "groups": 3})
    assert message.startswith("model.layers.1 (groupnorm): groups 3 must divide the 16 channels")
    assert "(16, 8, 8)" in message and "1, 2, 4, 8, 16" in message


def test_pooling_that_shrinks_a_side_below_one() -> None:
    message = _error((1, 8, 8), *[{"type": "maxpool2d"}] * 4)
    assert message.startswith("model.layers.3 (maxpool2d)")
    assert "(1, 1, 1)" in message and "(1, 0, 0)" in message and "smaller kernel" in message


def test_convolution_larger_than_its_input() -> None:
    message = _error((2, 4), {"type": "conv1d", "out": 4, "kernel": 5})
    assert message.startswith("model.layers.0 (conv1d)") and "(2, 4)" in message


def test_same_padding_needs_stride_one() -> None:
    message = _error((1, 8, 8), {"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": "same"})
    assert message.startswith(
        "model.layers.0 (conv2d): padding 'same' only works with stride 1 (found stride 2, input (1, 8, 8)"
    )
    assert "`padding: 1`" in message


def test_instancenorm_needs_more_than_one_pixel() -> None:
    message = _error((4, 2, 2), {"type": "maxpool2d"}, {"type": "instancenorm2d"})
    assert message.startswith("model.layers.1 (instancenorm2d)")


def test_errors_inside_a_residual_block_name_the_nested_key() -> None:
    message = _error(
        (8,),
        {"type": "relu"},
        {"type": "residual", "layers": [{"type": "relu"}, {"type": "conv2d", "out": 8}]},
    )
    assert message.startswith("model.layers.1.layers.1 (conv2d)")
    assert "receives (8,) after model.layers.1.layers.0 (relu)" in message


def test_default_init_is_kaiming_normal_with_zero_bias() -> None:
    assert _config({"type": "linear", "out": 2}).init is None
    assert InitConfig().weight == "kaiming_normal" and InitConfig().bias == "zeros"
    model = _build((4,), {"type": "linear", "out": 2})
    assert torch.count_nonzero(model[0].bias) == 0


def test_layers_over_the_memory_limit_are_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    # A valid number, a 512 GB layer: the allocator failed with a traceback (issue 12). Counted on the meta device.
    with pytest.raises(ModelError, match=r"model\.layers: 150,000,000,010 parameters .* needs .*memory limit"):
        _build((64,), {"type": "linear", "out": 2_000_000_000}, {"type": "relu"}, {"type": "linear", "out": 10})
    monkeypatch.setenv("DLCHECK_MAX_MEMORY_GB", "0.0001")  # ~100 KB: 9,610 parameters need ~150 KB to train
    with pytest.raises(ModelError, match="DLCHECK_MAX_MEMORY_GB"):
        _build((64,), {"type": "linear", "out": 128}, {"type": "relu"}, {"type": "linear", "out": 10})
    monkeypatch.setenv("DLCHECK_MAX_MEMORY_GB", "1")
    assert sum(p.numel() for p in _build((64,), {"type": "linear", "out": 10}).parameters()) == 650
