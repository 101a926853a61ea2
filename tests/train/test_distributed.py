"""torchrun on CPU (gloo): processes split the global batch and train like one process; resume across world sizes."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlcheck.errors import InputError
from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer

# No batch norm and no dropout: one process and two must then compute the same steps (up to float rounding).
RECIPE = (
    "name: ddp\ndata: {source: spirals, samples: 1280, val_fraction: 0.0}\n"
    "model: {layers: [{type: linear, out: 32}, {type: tanh}, {type: linear, out: 3}]}\n"
    "optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\ntrain: {epochs: 2, batch_size: 64}\n"
    "logging: {tensorboard: false}\ndevice: cpu\n"
)
COMMAND = ["-m", "dlcheck", "train", "recipe.yaml", "--quiet"]


def _torchrun() -> str:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    return torchrun


def _run(directory: Path, *arguments: str, processes: int = 1) -> subprocess.CompletedProcess[str]:
    launcher = [_torchrun(), "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable]
    completed = subprocess.run(
        [*launcher, *COMMAND, *arguments], cwd=directory, capture_output=True, text=True, timeout=180
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def _parameters(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)["model"]


def _assert_same_training(one: Path, two: Path) -> None:
    history_one = json.loads((one.parent / f"{one.name}.json").read_text())["history"]
    history_two = json.loads((two.parent / f"{two.name}.json").read_text())["history"]
    assert [row["step"] for row in history_one] == [row["step"] for row in history_two]
    for a, b in zip(history_one, history_two, strict=True):
        assert math.isclose(a["train/loss"], b["train/loss"], rel_tol=1e-5)
    parameters_one, parameters_two = _parameters(one), _parameters(two)
    assert parameters_one.keys() == parameters_two.keys()
    for name, value in parameters_one.items():
        torch.testing.assert_close(parameters_two[name], value, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.slow
def test_two_processes_under_torchrun_train_like_one(tmp_path: Path) -> None:
    """The global batch is split over 2 gloo processes: same steps, same losses, same final parameters."""
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    two = _run(tmp_path, "--run-dir", "two", "--json", "two.json", processes=2)
    assert two.stdout.count("status") == 1  # rank 0 reports, rank 1 stays silent
    assert sorted(path.name for path in (tmp_path / "two" / "checkpoints").iterdir()) == [
        "best.pt",
        "epoch-0001.pt",
        "epoch-0002.pt",
        "last.pt",
    ]  # one set of checkpoints, written by rank 0
    _run(tmp_path, "--run-dir", "one", "--json", "one.json")
    assert json.loads((tmp_path / "two" / "run.json").read_text())["world_size"] == 2
    _assert_same_training(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_a_run_resumes_at_an_epoch_end_with_another_number_of_processes(tmp_path: Path) -> None:
    """1 process trains epoch 1, 2 processes resume it for epoch 2: the same as 1 process for both epochs."""
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    _run(tmp_path, "--run-dir", "whole", "--json", "whole.json")
    _run(tmp_path, "--run-dir", "moved", "--set", "train.epochs=1")
    _run(tmp_path, "--resume", "moved", "--json", "moved.json", processes=2)
    resumed = json.loads(next((tmp_path / "moved").glob("run-resumed-step*.json")).read_text())
    assert resumed["world_size"] == 2
    _assert_same_training(tmp_path / "whole", tmp_path / "moved")


def test_a_mid_epoch_checkpoint_cannot_move_to_another_number_of_processes(tmp_path: Path) -> None:
    from dlcheck.train.checkpoint import load_checkpoint
    from dlcheck.train.setup import check_compatible

    loaded = parse_recipe(RECIPE.replace("epochs: 2", "epochs: 1, max_steps: 5"), directory=tmp_path)
    Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    assert state["progress"]["batch"] == 5  # stopped inside the epoch
    check_compatible(state, loaded, path, world_size=1)
    with pytest.raises(InputError, match=r"middle of an epoch by 1 process\(es\), and this run has 2"):
        check_compatible(state, loaded, path, world_size=2)


def test_sync_batchnorm_in_one_process_is_a_warning(tmp_path: Path) -> None:
    text = RECIPE.replace("{type: tanh}", "{type: batchnorm1d}, {type: tanh}").replace(
        "batch_size: 64}", "batch_size: 64, sync_batchnorm: true, max_steps: 2}"
    )
    result = Trainer(parse_recipe(text, directory=tmp_path), run_directory=tmp_path / "r", handle_signals=False).run()
    assert any("sync_batchnorm has no effect in a single process" in warning for warning in result.warnings)


def test_one_process_under_torchrun_is_a_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # `torchrun --nproc_per_node=1` must take the N-process path (DDP, collectives): it is how a machine with
    # one GPU tests that path with nccl. On the GPU machine it ran as a plain process before (no NCCL at all).
    import socket

    import torch.distributed as dist

    from dlcheck.engine.runtime import setup_distributed

    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**environment, "MASTER_PORT": str(port), "TORCHELASTIC_RUN_ID": "test"}.items():
        monkeypatch.setenv(name, value)
    context = setup_distributed("cpu")
    try:
        assert context.is_distributed and dist.is_initialized() and dist.get_backend() == "gloo"
    finally:
        context.shutdown()
    assert not dist.is_initialized()
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")  # the same variables without torchrun: a plain process
    assert not setup_distributed("cpu").is_distributed
