"""One step for everyone: the trainer, the LR sweep and the overfit fitter train a model bit for bit alike.

The same recipe, the same batches and a fixed learning rate through the three callers of
:class:`~dlcheck.engine.step.OptimizerStep` must give identical parameters: a check or an LR suggestion then
judges exactly the step that training takes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcheck.checks._fitting import fit_batch, fitting_step
from dlcheck.engine.parts import RecipeParts, prepare_parts
from dlcheck.lr_finder.range_test import run_ladder
from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer

STEPS = 8  # 2 epochs of 4 batches
LR = 0.01
RECIPE = f"""
name: golden
seed: 0
data: {{source: spirals, samples: 256, val_fraction: 0.0}}
model: {{layers: [{{type: linear, out: 16}}, {{type: tanh}}, {{type: linear, out: 3}}]}}
optimizer: {{name: adam, lr: {LR}}}
train: {{epochs: 2, batch_size: 64}}
logging: {{tensorboard: false, every_steps: 3}}
device: cpu
"""


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """The same thread count for every caller: the fitter runs on one, and reductions may split by threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _parameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def _assert_identical(one: dict[str, torch.Tensor], two: dict[str, torch.Tensor]) -> None:
    assert one.keys() == two.keys()
    for name in one:
        assert torch.equal(one[name], two[name]), name


def _trained_by_the_trainer(text: str, directory: Path) -> dict[str, torch.Tensor]:
    result = Trainer(parse_recipe(text, directory=directory), run_directory=directory / "run").run()
    assert result.status == "completed" and result.global_step == STEPS
    state = torch.load(directory / "run" / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    return dict(state["model"])


def _swept(parts: RecipeParts) -> dict[str, torch.Tensor]:
    model = parts.fresh_model()
    step = parts.optimizer_step(model, parts.optimizer(model))
    history = run_ladder(step, parts.train_batches(), np.full(STEPS, LR), seed=0)
    assert len(history.loss) == STEPS and history.stop == "completed"
    return _parameters(model)


def _fitted(parts: RecipeParts) -> dict[str, torch.Tensor]:
    model = parts.fresh_model()
    batches = list(itertools.islice(parts.train_batches(), STEPS))  # the trainer's batches, in its order
    loss = parts.loss_function(regularized=False)
    step = fitting_step(model, parts.optimizer(model, regularized=False), loss, parts.loss_name, parts.step_policy())
    history = fit_batch(
        step, batches.__getitem__, steps=STEPS, loss_name=parts.loss_name, seed=0, stop_when_fitted=False
    )
    assert history.steps_run == STEPS
    return _parameters(model)


def test_the_trainer_the_sweep_and_the_fitter_take_the_same_steps(tmp_path: Path) -> None:
    trained = _trained_by_the_trainer(RECIPE, tmp_path)
    parts = prepare_parts(parse_recipe(RECIPE, directory=tmp_path))
    _assert_identical(trained, _swept(parts))
    _assert_identical(trained, _fitted(parts))
    untrained = _parameters(parts.fresh_model())
    assert not torch.equal(untrained["0.weight"], trained["0.weight"])  # they did train


def test_with_accumulation_clipping_and_l1_too(tmp_path: Path) -> None:
    text = RECIPE.replace(
        "batch_size: 64}", "batch_size: 64, gradient_accumulation: 2, gradient_clip: {max_norm: 0.5}}"
    )
    text += "regularization: {l1: 1.0e-3, max_norm: 2.0}\n"
    trained = _trained_by_the_trainer(text, tmp_path)
    parts = prepare_parts(parse_recipe(text, directory=tmp_path))
    assert parts.step_policy().accumulation == 2 and parts.step_policy().l1 == 1e-3
    _assert_identical(trained, _swept(parts))
