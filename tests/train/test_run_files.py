"""Checkpoints written in the background: the same files as a direct write, and a failed write is not lost."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer, run_files

RECIPE = (
    "name: files\ndata: {source: blobs, samples: 200, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}\n"
    "train: {epochs: 2, batch_size: 32}\nlogging: {tensorboard: false}\ndevice: cpu\n"
)


def _models(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {
        path.name: torch.load(path, map_location="cpu", weights_only=False)["model"]
        for path in sorted((run / "checkpoints").glob("*.pt"))
    }


def test_a_state_too_large_to_copy_is_written_directly_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = parse_recipe(RECIPE, directory=tmp_path)
    Trainer(loaded, run_directory=tmp_path / "background").run()
    monkeypatch.setattr(run_files, "BACKGROUND_LIMIT_BYTES", 0)
    Trainer(loaded, run_directory=tmp_path / "direct").run()
    background, direct = _models(tmp_path / "background"), _models(tmp_path / "direct")
    assert list(background) == list(direct) == ["best.pt", "epoch-0001.pt", "epoch-0002.pt", "last.pt"]
    for name, state in background.items():
        for key, tensor in state.items():
            assert torch.equal(tensor, direct[name][key]), (name, key)


def test_a_failed_background_write_ends_the_run_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(path: Path, data: object) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(run_files, "write_checkpoint_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        Trainer(parse_recipe(RECIPE, directory=tmp_path), run_directory=tmp_path / "run").run()
