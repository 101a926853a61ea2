"""The per-check functions on plain PyTorch objects, as a project's own pytest calls them."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcheck.checks._loss_reference import implied_output_scale, loss_reference
from dlcheck.checks.activation_stats import check_activation_stats
from dlcheck.checks.batch_independence import check_batch_independence
from dlcheck.checks.data_sanity import check_data
from dlcheck.checks.gradient_flow import check_gradient_flow
from dlcheck.checks.initial_loss import check_initial_loss
from dlcheck.checks.overfit_batch import check_overfit_batch
from dlcheck.checks.regularization_effect import check_regularization_effect
from dlcheck.errors import InputError


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _blobs(samples: int = 256, features: int = 8, classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    generator = _generator()
    labels = torch.arange(samples) % classes
    centers = 2 * torch.randn(classes, features, generator=generator)
    return centers[labels] + torch.randn(samples, features, generator=generator), labels


def _mlp(features: int = 8, classes: int = 4, hidden: int = 32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


# --------------------------------------------------------------------------------------------- data


def test_check_data_reports_each_problem_with_its_status() -> None:
    inputs, labels = _blobs()
    assert check_data(inputs, labels, num_outputs=4).status == "pass"
    broken = inputs.clone()
    broken[3, 1] = float("inf")
    result = check_data(broken, labels, num_outputs=4)
    assert result.status == "fail" and "sample 3" in result.summary
    result = check_data(inputs * 100 + 500, labels, num_outputs=4)
    assert result.status == "warn" and "far from zero mean" in result.summary
    result = check_data(inputs[:200], labels[:200], inputs[150:], labels[150:], num_outputs=4)
    assert result.status == "warn" and result.metrics["duplicates_across_splits"] == 50
    assert math.isclose(result.metrics["leakage_fraction"], 50 / 106)


def test_check_data_labels_against_outputs_and_bce_targets() -> None:
    inputs, labels = _blobs()
    result = check_data(inputs, labels + 1, num_outputs=4)  # labels 1..4 for outputs 0..3
    assert result.status == "fail" and "found label 4" in result.summary
    assert result.metrics["labels_out_of_range"] == 64
    binary = check_data(inputs, (labels % 2).float() * 2, loss_name="bce_with_logits")
    assert binary.status == "fail" and "outside [0, 1]" in binary.summary


def test_check_data_imbalance_gives_the_majority_baseline() -> None:
    inputs, _ = _blobs(samples=220)
    labels = torch.cat([torch.zeros(200, dtype=torch.long), torch.ones(20, dtype=torch.long)])
    result = check_data(inputs, labels, num_outputs=2)
    assert result.status == "warn"
    assert math.isclose(result.metrics["majority_baseline"], 200 / 220)
    assert result.metrics["imbalance_ratio"] == 10.0


def test_check_data_describes_the_batch_as_the_model_sees_it() -> None:
    inputs, labels = _blobs()
    result = check_data(inputs, labels, batch=(inputs[:32], labels[:32]))
    assert result.metrics["batch_shape"] == [32, 8]
    assert result.metrics["batch_dtype"] == "float32"
    assert result.metrics["batch_min"] == float(inputs[:32].min())


# ------------------------------------------------------------------------------------------ init loss


def test_implied_output_scale_recovers_the_logit_std() -> None:
    generator = _generator()
    labels = torch.arange(2048) % 10
    for sigma in (0.5, 2.0, 8.0):
        logits = sigma * torch.randn(2048, 10, generator=generator)
        measured = float(nn.functional.cross_entropy(logits, labels))
        found = implied_output_scale(nn.functional.cross_entropy, logits, labels, measured, seed=1)
        assert found == pytest.approx(sigma, rel=0.1)


def test_loss_reference_per_loss() -> None:
    targets = torch.tensor([[1.0], [3.0], [5.0], [7.0]])
    mse = loss_reference("mse", nn.functional.mse_loss, torch.zeros(4, 1), targets)
    assert mse.chance == pytest.approx(21.0) and mse.prior == pytest.approx(5.0)  # mean(y^2), var(y)
    l1 = loss_reference("l1", nn.functional.l1_loss, torch.zeros(4, 1), targets)
    assert l1.chance == pytest.approx(4.0) and l1.prior == pytest.approx(2.0)  # mean|y|, mean|y - median|
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)
    labels = torch.tensor([0, 0, 0, 1])
    reference = loss_reference("cross_entropy", smoothed, torch.zeros(4, 2), labels)
    assert reference.chance == pytest.approx(math.log(2), abs=1e-6)
    assert reference.prior < reference.chance


def test_check_initial_loss_verdicts() -> None:
    inputs, labels = _blobs()
    model = _mlp()
    assert check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss()).status == "pass"
    with torch.no_grad():
        model[2].weight.mul_(6)  # logits of std ~3 (PyTorch's default gives ~0.5 here): a hockey stick
    result = check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "warn", result.summary
    with torch.no_grad():
        model[2].weight.mul_(10)
    result = check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "fail" and result.metrics["output_scale"] > 10
    assert any("log of the class prior" in line for line in result.advice)


def test_check_initial_loss_too_good_to_be_true() -> None:
    labels = torch.arange(256) % 4
    inputs = nn.functional.one_hot(labels, 4).float()  # the label leaks into the input
    model = nn.Linear(4, 4)
    with torch.no_grad():
        model.weight.copy_(3 * torch.eye(4))
        model.bias.zero_()
    result = check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "warn" and "too good" in result.summary


def test_check_initial_loss_needs_a_loss_name_for_unknown_functions() -> None:
    inputs, labels = _blobs()
    with pytest.raises(InputError, match="loss_name"):
        check_initial_loss(_mlp(), inputs, labels, lambda outputs, targets: outputs.sum())
    result = check_initial_loss(
        _mlp(), inputs, labels, lambda o, t: nn.functional.cross_entropy(o, t), loss_name="cross_entropy"
    )
    assert result.status == "pass"


def test_check_initial_loss_leaves_the_model_and_rng_alone() -> None:
    inputs, labels = _blobs()
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4)).eval()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    rng = torch.get_rng_state()
    check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss())
    assert not model.training
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


# ------------------------------------------------------------------------------------------ gradients


class _NotOptimised(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 4)
        self.late = nn.Linear(4, 4)  # added after the optimiser was built, in this test

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.late(self.body(inputs))


def test_check_gradient_flow_finds_parameters_outside_the_optimiser_and_restores_state() -> None:
    inputs, labels = _blobs()
    model = _NotOptimised()
    optimizer = torch.optim.SGD(model.body.parameters(), lr=0.1, momentum=0.9)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    result = check_gradient_flow(model, inputs, labels, nn.CrossEntropyLoss(), optimizer)
    assert result.status == "fail" and result.metrics["not_in_optimizer"] == 2
    assert "late.weight" in result.summary
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert optimizer.state_dict()["state"] == {}
    assert all(parameter.grad is None for parameter in model.parameters())


class _FrozenButDrifting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)
        self.scale = nn.Parameter(torch.ones(4), requires_grad=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.scale.data.mul_(1.01)  # a "frozen" statistic updated in place: it changes anyway
        return self.linear(inputs) * self.scale


def test_check_gradient_flow_frozen_parameters_must_stay_fixed() -> None:
    inputs, labels = _blobs()
    result = check_gradient_flow(_FrozenButDrifting(), inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "fail" and result.metrics["frozen_changed"] == 1


def test_check_gradient_flow_warns_about_update_ratios_with_the_users_optimizer() -> None:
    inputs, labels = _blobs()
    model = _mlp()
    result = check_gradient_flow(
        model, inputs, labels, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1.0)
    )
    assert result.status == "warn" and "too high" in result.summary
    result = check_gradient_flow(
        model, inputs, labels, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)
    )
    assert result.status == "pass"


def test_vanishing_gradients_in_a_deep_sigmoid_stack() -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(12):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    model = nn.Sequential(nn.Linear(8, 32), *layers, nn.Linear(32, 4))
    inputs, labels = _blobs()
    result = check_gradient_flow(model, inputs, labels, nn.CrossEntropyLoss())
    assert result.status == "warn" and "vanishing" in result.summary


# -------------------------------------------------------------------------------------- independence


class _BatchCentering(nn.Module):
    """Subtracts the batch mean in eval mode too: the output of a sample depends on the others."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs - inputs.mean(dim=0, keepdim=True))


class _DetachedMixing(nn.Module):
    """Mixes through a detached path: invisible to gradients, seen by the forward check."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs) + inputs.detach().mean(dim=0).sum()


def test_check_batch_independence() -> None:
    inputs, _ = _blobs()
    assert check_batch_independence(_mlp(), inputs).status == "pass"
    result = check_batch_independence(_BatchCentering(), inputs)
    assert result.status == "fail" and result.metrics["gradient_leak"] > 1e-3
    result = check_batch_independence(_DetachedMixing(), inputs)
    assert result.status == "fail" and "alone" in result.summary
    assert check_batch_independence(_mlp(), inputs[:1]).status == "skip"


def test_check_batch_independence_with_token_ids() -> None:
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(8 * 5, 3))
    tokens = torch.randint(0, 50, (16, 5), generator=_generator())
    result = check_batch_independence(model, tokens)
    assert result.status == "pass" and "forward passes" in result.summary


# --------------------------------------------------------------------------------------- activations


def test_check_activation_stats_saturation_and_scale() -> None:
    torch.manual_seed(0)
    tanh = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 4))
    inputs, _ = _blobs()
    assert check_activation_stats(tanh, inputs).status == "pass"
    with torch.no_grad():
        tanh[0].weight.mul_(2.5)
    assert check_activation_stats(tanh, inputs).status == "warn"
    collapsing = nn.Sequential(*[nn.Linear(8 if i == 0 else 64, 64) for i in range(6)], nn.Linear(64, 4))
    with torch.no_grad():
        for layer in list(collapsing)[:-1]:
            layer.weight.mul_(0.1)
            layer.bias.zero_()  # (biases would hold the scale up)
    result = check_activation_stats(collapsing, inputs)
    assert result.status == "fail" and "collapses" in result.summary


def test_check_activation_stats_finds_dead_units_behind_functional_relu() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.out = nn.Linear(8, 64), nn.Linear(64, 4)
            with torch.no_grad():
                self.hidden.bias[:40] = -50.0

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.out(torch.relu(self.hidden(inputs)))

    inputs, _ = _blobs()
    result = check_activation_stats(Functional(), inputs)
    assert result.status == "fail" and "layer out (Linear)" in result.summary


# ------------------------------------------------------------------------------------------- overfit


def test_check_overfit_batch_passes_reports_steps_and_fails_with_a_shape() -> None:
    inputs, labels = _blobs(samples=16)
    result = check_overfit_batch(_mlp, inputs, labels, nn.CrossEntropyLoss(), lr=1e-2)
    assert result.status == "pass" and 0 < result.metrics["steps_to_threshold"] < 500
    assert result.metrics["accuracy"] == 1.0
    result = check_overfit_batch(
        _mlp, inputs, labels, nn.CrossEntropyLoss(), optimizer_factory=lambda p: torch.optim.SGD(p, lr=1e-9)
    )
    assert result.status == "fail" and result.metrics["shape"] == "flat"
    exploding = check_overfit_batch(
        _mlp, inputs, labels, nn.CrossEntropyLoss(), optimizer_factory=lambda p: torch.optim.SGD(p, lr=1e4), steps=50
    )
    assert exploding.status == "fail" and exploding.metrics["shape"] == "exploding"


def test_check_overfit_batch_absolute_threshold_and_regression() -> None:
    inputs, _ = _blobs(samples=16)
    targets = inputs[:, :1] * 3.0
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    result = check_overfit_batch(model, inputs, targets, nn.MSELoss(), lr=1e-2, loss_threshold=1e-3)
    assert result.status == "pass" and result.metrics["target_loss"] == 1e-3
    assert "accuracy" not in result.metrics


def test_check_regularization_effect_with_weight_decay() -> None:
    inputs, labels = _blobs(samples=16)
    result = check_regularization_effect(
        _mlp,
        inputs,
        labels,
        nn.CrossEntropyLoss(),
        lr=1e-2,
        regularized_loss_function=nn.CrossEntropyLoss(label_smoothing=0.2),
    )
    assert result.status == "pass" and result.metrics["loss_with"] > result.metrics["loss_without"]
    same = check_regularization_effect(_mlp, inputs, labels, nn.CrossEntropyLoss(), lr=1e-2)
    assert same.status == "warn" and "changed nothing" in same.summary
