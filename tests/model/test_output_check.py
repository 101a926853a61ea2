"""check_output_shape: the model's outputs against the loss and the targets, with the `out` to set."""

from __future__ import annotations

import pytest

from dlcheck.errors import ModelError
from dlcheck.model import check_output_shape


@pytest.mark.parametrize(
    ("output", "num_classes", "loss", "target"),
    [
        ((10,), 10, "cross_entropy", ()),
        ((5, 8, 8), 5, "cross_entropy", (8, 8)),  # per-pixel labels
        ((1,), 2, "bce_with_logits", ()),
        ((), 2, "bce_with_logits", ()),
        ((4,), None, "bce_with_logits", (4,)),  # multi-label
        ((1,), None, "mse", ()),
        ((3,), None, "l1", (3,)),
        ((), None, "huber", (1,)),
    ],
)
def test_matching_shapes_pass(
    output: tuple[int, ...], num_classes: int | None, loss: str, target: tuple[int, ...]
) -> None:
    check_output_shape(output, num_classes=num_classes, loss=loss, target_shape=target)


def _message(output: tuple[int, ...], num_classes: int | None, loss: str, target: tuple[int, ...]) -> str:
    with pytest.raises(ModelError) as caught:
        check_output_shape(output, num_classes=num_classes, loss=loss, target_shape=target)
    return str(caught.value)


def test_cross_entropy_with_the_wrong_number_of_classes() -> None:
    message = _message((8,), 10, "cross_entropy", ())
    assert "the last layer outputs 8 values per sample but the data has 10 classes" in message
    assert "set `out: 10` on the last linear layer" in message


def test_cross_entropy_on_an_unflattened_output() -> None:
    message = _message((10, 4, 4), 10, "cross_entropy", ())
    assert "(10, 4, 4)" in message and "(10,)" in message and "flatten" in message


def test_cross_entropy_needs_class_labels() -> None:
    assert "use `loss: mse`" in _message((1,), None, "cross_entropy", ())


def test_binary_cross_entropy_needs_one_logit_for_two_classes() -> None:
    message = _message((2,), 2, "bce_with_logits", ())
    assert "(2,)" in message and "set `out: 1`" in message and "cross_entropy" in message


def test_binary_cross_entropy_with_many_classes_and_one_label_per_sample() -> None:
    assert "use `loss: cross_entropy` with `out: 10`" in _message((1,), 10, "bce_with_logits", ())


def test_multi_label_outputs_must_match_the_targets() -> None:
    assert "set `out: 5`" in _message((4,), None, "bce_with_logits", (5,))


def test_regression_outputs_must_match_the_targets() -> None:
    message = _message((10,), None, "mse", ())
    assert "(10,)" in message and "set `out: 1`" in message
    assert "set `out: 3`" in _message((2,), None, "huber", (3,))
    assert "output (4, 4)" in _message((16,), None, "l1", (4, 4))
