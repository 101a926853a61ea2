"""State isolation: after the finder, the user's model, optimiser, BN buffers and RNGs are bit-identical."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from dlcheck.engine.isolation import StateGuard, state_checksum
from dlcheck.lr_finder import find_lr


def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:  # type: ignore[type-arg]
    return {
        "model": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
        "gradients": [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
        "training": [module.training for module in model.modules()],
        "optimizer_state": {
            index: {key: value.clone() if torch.is_tensor(value) else value for key, value in state.items()}
            for index, state in optimizer.state_dict()["state"].items()
        },
        "groups": [
            {k: v for k, v in group.items() if k != "params"} for group in optimizer.state_dict()["param_groups"]
        ],
        "python": random.getstate(),
        "numpy": np.random.get_state()[1].copy(),
        "torch": torch.get_rng_state().clone(),
    }


def _assert_identical(before: dict, after: dict) -> None:  # type: ignore[type-arg]
    assert before["model"].keys() == after["model"].keys()
    for name, tensor in before["model"].items():
        assert torch.equal(tensor, after["model"][name]), name  # bit for bit, incl. running_mean/var, counters
    for old, new in zip(before["gradients"], after["gradients"], strict=True):
        assert (old is None and new is None) or torch.equal(old, new)
    assert before["training"] == after["training"]
    assert before["optimizer_state"].keys() == after["optimizer_state"].keys()
    for index, state in before["optimizer_state"].items():
        for key, value in state.items():
            other = after["optimizer_state"][index][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    assert before["groups"] == after["groups"]
    assert before["python"] == after["python"]
    assert np.array_equal(before["numpy"], after["numpy"])
    assert torch.equal(before["torch"], after["torch"])


def _trained_a_little(parts) -> tuple[torch.nn.Module, torch.optim.Optimizer]:  # type: ignore[no-untyped-def]
    """A model and an Adam optimiser with state: moments, step counts, BN statistics moved, a gradient left over."""
    model = parts.fresh_model()
    optimizer = parts.optimizer(model, lr=3e-3)
    inputs, targets = parts.first_batch()
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        parts.loss_function()(model(inputs), targets).backward()
        optimizer.step()
    parts.loss_function()(model(inputs), targets).backward()  # a pending gradient
    model.eval()  # and an unusual mode, to see it restored
    return model, optimizer


def test_find_lr_leaves_model_optimizer_buffers_and_rngs_bit_identical(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    model, optimizer = _trained_a_little(blobs_parts)
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    before = _snapshot(model, optimizer)
    assert before["model"]["1.running_mean"].abs().sum() > 0  # BN statistics have moved (layer 1 of the stack)
    checksum = state_checksum(model, optimizer)

    result = find_lr(blobs_parts, model=model, optimizer=optimizer, steps=40, repeats=2)

    assert len(result.sweeps) == 2 and len(result.history.lr) > 10  # it did train
    _assert_identical(before, _snapshot(model, optimizer))
    assert state_checksum(model, optimizer) == checksum
    assert result.checksum.before == result.checksum.after == checksum
    assert result.checksum.restored


def test_the_default_parts_model_is_untouched(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    checksum = state_checksum(blobs_parts.model)
    find_lr(blobs_parts, steps=30, repeats=1)
    assert state_checksum(blobs_parts.model) == checksum


def test_state_is_restored_when_the_block_fails(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    model, optimizer = _trained_a_little(blobs_parts)
    before = _snapshot(model, optimizer)
    with pytest.raises(RuntimeError, match="boom"), StateGuard(model, optimizer) as guard:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.mul_(3.0)
        optimizer.param_groups[0]["lr"] = 99.0
        torch.rand(5)
        raise RuntimeError("boom")
    _assert_identical(before, _snapshot(model, optimizer))
    assert guard.report is not None and guard.report.restored


def test_the_checksum_sees_a_one_bit_change(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    model, optimizer = _trained_a_little(blobs_parts)
    checksum = state_checksum(model, optimizer)
    state = next(iter(optimizer.state.values()))
    state["exp_avg"].view(-1)[0] = torch.nextafter(state["exp_avg"].view(-1)[0], torch.tensor(1.0))
    assert state_checksum(model, optimizer) != checksum
    assert state_checksum(model) == state_checksum(model)
