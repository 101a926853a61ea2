"""Does the model's output fit the loss and the targets? Checked once, before training starts.

The rules follow the shapes :mod:`dlcheck.engine.losses` accepts, per sample (no batch dimension):

=================  ==============================  =================================================
loss               targets                         model output
=================  ==============================  =================================================
cross_entropy      ``()`` class index              ``(num_classes,)``
cross_entropy      ``(*dims)`` dense labels        ``(num_classes, *dims)`` (e.g. per-pixel labels)
bce_with_logits    ``()`` 0/1 label, 2 classes     ``(1,)`` or ``()``
bce_with_logits    ``(C,)`` multi-label            ``(C,)``, the targets' shape
mse, l1, huber     any shape                       the targets' shape; ``(1,)`` and ``()`` match
cross_entropy      ``(T,)`` next tokens (sequence) ``(T, V)``, the vocabulary last
=================  ==============================  =================================================
"""

from __future__ import annotations

__all__ = ["check_output_shape"]

import math

from dlcheck.errors import ModelError

Shape = tuple[int, ...]

_SCALARS = ((), (1,))


def check_output_shape(
    model_output_shape: Shape, *, num_classes: int | None, loss: str, target_shape: Shape, sequence: bool = False
) -> None:
    """Raise a :class:`ModelError` when the model's outputs cannot feed ``loss`` with these targets.

    Parameters
    ----------
    model_output_shape : tuple of int
        One sample's output shape, e.g. ``(10,)`` (``ModelSummary.output_shape``).
    num_classes : int or None
        Classes in the data; ``None`` for real-valued targets.
    loss : str
        ``cross_entropy``, ``bce_with_logits``, ``mse``, ``l1`` or ``huber``.
    target_shape : tuple of int
        One sample's target shape: ``()`` for a class index or a scalar.
    sequence : bool
        Token sequences: ``(T,)`` targets, ``num_classes`` the vocabulary size V, ``(T, V)`` outputs.

    Raises
    ------
    ModelError
        The message says what the last layer outputs, what the loss needs and which ``out`` to set.

    Examples
    --------
    >>> check_output_shape((10,), num_classes=10, loss="cross_entropy", target_shape=())
    >>> check_output_shape((8,), num_classes=10, loss="cross_entropy", target_shape=())
    Traceback (most recent call last):
    ...
    dlcheck.errors.ModelError: model: the last layer outputs 8 values per sample but the data has 10 classes; set `out: 10` on the last linear layer (or make the factory's model output 10 values)
    """
    output, target = tuple(model_output_shape), tuple(target_shape)
    if sequence:
        _check_sequence(output, target, num_classes, loss)
    elif loss == "cross_entropy":
        _check_cross_entropy(output, target, num_classes)
    elif loss == "bce_with_logits":
        _check_binary(output, target, num_classes)
    elif loss in ("mse", "l1", "huber"):
        if output != target and not (output in _SCALARS and target in _SCALARS):
            raise ModelError(
                f"model: the model outputs {output} per sample but the targets have shape {target} per sample, "
                f"and loss: {loss} compares them element by element; {_out_fix(target)}"
            )
    else:
        raise ValueError(f"unknown loss {loss!r}")


def _out_fix(target: Shape) -> str:
    if len(target) <= 1:
        size = math.prod(target)
        return f"set `out: {size}` on the last linear layer (or make the factory's model output {size} values)"
    return f"make the last layer output {target} per sample"


def _check_cross_entropy(output: Shape, target: Shape, num_classes: int | None) -> None:
    if num_classes is None:
        raise ModelError(
            "loss: cross_entropy needs integer class labels, but the data has real-valued targets; "
            "use `loss: mse` (or l1/huber) for regression"
        )
    # cross_entropy takes (N, C) scores for (N,) labels and (N, C, *dims) for (N, *dims) labels
    expected = (num_classes, *target)
    if output == expected:
        return
    if len(output) != len(expected):
        fix = (
            f"end the model with a flatten (or adaptive_avgpool2d then flatten) and a `linear` with `out: {num_classes}`"
            if not target
            else f"make the last layer output {expected} per sample"
        )
        raise ModelError(
            f"model: the model outputs {output} per sample but loss: cross_entropy with targets of shape "
            f"{target} per sample needs {expected}, one score per class; {fix}"
        )
    if output[0] != num_classes:
        raise ModelError(
            f"model: the last layer outputs {output[0]} values per sample but the data has {num_classes} classes; "
            f"set `out: {num_classes}` on the last linear layer (or make the factory's model output "
            f"{num_classes} values)"
        )
    raise ModelError(
        f"model: the model outputs {output} per sample but the targets have shape {target}; cross_entropy needs "
        f"{expected}; make the last layer keep the targets' spatial size"
    )


def _check_sequence(output: Shape, target: Shape, vocabulary_size: int | None, loss: str) -> None:
    if loss != "cross_entropy":
        raise ModelError(
            f"loss: {loss} cannot score next-token predictions; token sequences need `loss: cross_entropy` over "
            "the vocabulary"
        )
    expected = (*target, vocabulary_size)
    if output == expected:
        return
    if len(output) == len(expected) and output[:-1] == tuple(target):
        raise ModelError(
            f"model: the last layer outputs {output[-1]} values per position but the vocabulary has {vocabulary_size} "
            f"tokens; end the model with `{{type: lm_head}}` (or make the factory's model output {vocabulary_size} "
            "logits per position)"
        )
    raise ModelError(
        f"model: the model outputs {output} per sample but next-token prediction on windows of {target[0]} tokens "
        f"needs {expected}, logits over the {vocabulary_size} tokens at every position (the vocabulary last); keep "
        "the positions (no flatten) and end the model with `{type: lm_head}`"
    )


def _check_binary(output: Shape, target: Shape, num_classes: int | None) -> None:
    if target == ():
        # one 0/1 label per sample: one logit per sample
        if num_classes is not None and num_classes > 2:
            raise ModelError(
                f"loss: bce_with_logits takes 0/1 labels, but the data has {num_classes} classes with one label per "
                f"sample; use `loss: cross_entropy` with `out: {num_classes}` on the last linear layer"
            )
        if output not in _SCALARS:
            raise ModelError(
                f"model: the model outputs {output} per sample but bce_with_logits with one 0/1 label per sample "
                "needs a single logit, (1,); set `out: 1` on the last linear layer (or use `loss: cross_entropy` "
                "with `out: 2`)"
            )
        return
    if output != target:
        # multi-label: one logit per label
        raise ModelError(
            f"model: the model outputs {output} per sample but the multi-label targets have shape {target}; "
            f"bce_with_logits needs one logit per label; {_out_fix(target)}"
        )
