"""The one optimiser step: what it computes, what it leaves, and the hooks around it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from dlcheck.engine.batches import accumulation_groups
from dlcheck.engine.runtime import resolve_precision
from dlcheck.engine.step import OptimizerStep, StepHooks, StepPolicy, evaluate
from dlcheck.engine.tape import LossTape
from dlcheck.recipe.schema import GradientClipConfig


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _batches(count: int, size: int = 6) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(size, 4, generator=generator), torch.arange(size) % 3) for _ in range(count)]


def test_a_group_is_the_gradient_of_its_concatenation() -> None:
    """Two micro-batches of 6 take the same update as one batch of 12 (the group's mean)."""
    grouped, whole = _model(), _model()
    step = OptimizerStep(grouped, torch.optim.SGD(grouped.parameters(), lr=0.5), nn.functional.cross_entropy)
    reference = OptimizerStep(whole, torch.optim.SGD(whole.parameters(), lr=0.5), nn.functional.cross_entropy)
    (a, ya), (b, yb) = _batches(2)
    result = step([(a, ya), (b, yb)])
    reference([(torch.cat([a, b]), torch.cat([ya, yb]))])
    for one, two in zip(grouped.parameters(), whole.parameters(), strict=True):
        torch.testing.assert_close(one, two)
    assert result.sizes == [6, 6] and len(result.losses) == 2
    torch.testing.assert_close(result.loss, (result.losses[0] + result.losses[1]) / 2)


def test_a_short_last_group_is_averaged_over_its_own_length() -> None:
    groups = list(accumulation_groups(_batches(5), 2))
    assert [len(group) for group in groups] == [2, 2, 1]
    alone, single = _model(), _model()
    step = OptimizerStep(alone, torch.optim.SGD(alone.parameters(), lr=0.5), nn.functional.cross_entropy)
    reference = OptimizerStep(single, torch.optim.SGD(single.parameters(), lr=0.5), nn.functional.cross_entropy)
    step(groups[-1])
    reference([groups[-1][0]])  # a group of one is its batch: not divided by the accumulation of 2
    for one, two in zip(alone.parameters(), single.parameters(), strict=True):
        assert torch.equal(one, two)


def test_l1_enters_the_objective_but_not_the_recorded_loss() -> None:
    plain, penalised = _model(), _model()
    batch = _batches(1)[0]
    result = OptimizerStep(plain, torch.optim.SGD(plain.parameters(), lr=0.1), nn.functional.cross_entropy)([batch])
    other = OptimizerStep(
        penalised,
        torch.optim.SGD(penalised.parameters(), lr=0.1),
        nn.functional.cross_entropy,
        StepPolicy(l1=0.1),
    )([batch])
    assert torch.equal(result.loss, other.loss)  # same data loss recorded
    assert not torch.equal(plain[0].weight, penalised[0].weight)  # a different update


def test_clipping_returns_the_norm_before_clipping_and_max_norm_holds_after() -> None:
    model = _model()
    policy = StepPolicy(clip=GradientClipConfig(max_norm=1e-3), max_norm=0.5)
    step = OptimizerStep(model, torch.optim.SGD(model.parameters(), lr=10.0), nn.functional.cross_entropy, policy)
    result = step(_batches(1))
    assert result.grad_norm is not None and float(result.grad_norm) > 1e-3
    assert float(model[0].weight.detach().norm(dim=1).max()) <= 0.5 + 1e-6
    assert all(parameter.grad is None for parameter in model.parameters())  # freed after the step


def test_stale_gradients_never_leak_into_a_step() -> None:
    model, clean = _model(), _model()
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 100.0)
    batch = _batches(1)[0]
    OptimizerStep(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy)([batch])
    OptimizerStep(clean, torch.optim.SGD(clean.parameters(), lr=0.1), nn.functional.cross_entropy)([batch])
    for one, two in zip(model.parameters(), clean.parameters(), strict=True):
        assert torch.equal(one, two)


def test_bf16_autocast_runs_the_forward_in_bf16_on_the_cpu() -> None:
    model = _model()
    seen: list[torch.dtype] = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    policy = StepPolicy(precision=resolve_precision("bf16-mixed", torch.device("cpu")))
    step = OptimizerStep(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, policy)
    assert not step.scaler.is_enabled()  # the scaler is always there, enabled for fp16 only
    step(_batches(1))
    assert seen == [torch.bfloat16] and model[0].weight.dtype == torch.float32


class _Calls(StepHooks):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def after_forward(self, loss: torch.Tensor) -> None:
        self.calls.append("forward")

    def after_backward(self, model: nn.Module) -> None:
        grads = [parameter.grad is not None for parameter in model.parameters()]
        self.calls.append("backward" if all(grads) else "backward without gradients")

    def after_step(self, model: nn.Module) -> None:
        self.calls.append("step")


def test_hooks_see_the_loss_the_gradients_then_the_update() -> None:
    model, hooks = _model(), _Calls()
    step = OptimizerStep(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, hooks=hooks)
    step(_batches(2))
    assert hooks.calls == ["forward", "forward", "backward", "step"]


class _NoSync(nn.Module):
    """DDP's interface: a ``no_sync`` context; records which micro-batches ran inside it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.deferred: list[bool] = []
        self._inside = False

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        self._inside = True
        yield
        self._inside = False

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.deferred.append(self._inside)
        return self.model(inputs)


def test_gradients_are_synchronised_on_the_last_micro_batch_only() -> None:
    model = _model()
    wrapper = _NoSync(model)
    step = OptimizerStep(
        model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, forward=wrapper
    )
    step(_batches(3))
    step(_batches(1))
    assert wrapper.deferred == [True, True, False, False]


def test_evaluate_sums_over_samples_and_puts_the_modes_back() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    batches = _batches(2, size=5) + _batches(1, size=2)
    totals = evaluate(model, nn.functional.cross_entropy, batches)
    with torch.no_grad():
        model.eval()
        expected = sum(float(nn.functional.cross_entropy(model(x), y, reduction="sum")) for x, y in batches)
        model.train()
    assert float(totals[2]) == 12 and float(totals[0]) == pytest.approx(expected)
    assert model.training and model[1].training
    assert torch.isnan(evaluate(model, nn.functional.cross_entropy, [])[0] / 0)


def test_the_loss_tape_finds_the_first_non_finite_value_at_its_step() -> None:
    tape = LossTape(every=4)
    windows = []
    for value in [1.0, 2.0, 3.0, 4.0, 5.0, float("inf"), float("nan")]:
        tape.append(torch.tensor(value))
        if tape.due():
            windows.append(tape.read())
    last = tape.read()
    assert [window.first_non_finite for window in windows] == [None]
    assert last.start == 4 and last.first_non_finite == 5 and len(tape) == 7
    assert windows[0].mean == 2.5
