"""Language models end to end: the sequence loss and accuracy, `dlcheck train` on the char LM recipe
(shortened), resume, and `dlcheck sample` from the run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dlcheck.engine.losses import build_loss, count_correct
from dlcheck.engine.step import StepResult
from dlcheck.train.meter import EpochMeter
from tests.cli_runner import run_cli
from tests.threads import one_thread  # noqa: F401  (the fixture)

ROOT = Path(__file__).parents[2]
CHAR_LM = ROOT / "recipes" / "char_lm.yaml"
SHORT = ["--set", "device=cpu", "--set", "logging.tensorboard=false", "--set", "logging.every_steps=4"]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_sequence_cross_entropy_is_torchs_over_every_token() -> None:
    generator = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 5, 7, generator=generator), torch.randint(0, 7, (3, 5), generator=generator)
    loss = build_loss("cross_entropy", sequence=True)
    flat = F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1))
    assert torch.allclose(loss(logits, targets), flat)
    assert torch.allclose(loss(logits, targets, reduction="sum") / 3, flat)  # no padding: per sample = per token
    right = (logits.argmax(dim=-1) == targets).sum()
    assert torch.allclose(count_correct(logits, targets, loss) / 3, right / 15)  # per-token accuracy


def test_padding_counts_nowhere() -> None:
    generator = torch.Generator().manual_seed(1)
    logits, targets = torch.randn(2, 6, 4, generator=generator), torch.randint(0, 4, (2, 6), generator=generator)
    padded = targets.clone()
    padded[1, 3:] = -1
    loss = build_loss("cross_entropy", ignore_index=-1, sequence=True)
    kept = torch.cat([logits[0], logits[1, :3]]), torch.cat([padded[0], padded[1, :3]])
    assert torch.allclose(loss(logits, padded), F.cross_entropy(*kept))  # the mean over the 9 real tokens
    per_sample = loss(logits, padded, reduction="none")
    assert torch.allclose(per_sample[1], F.cross_entropy(logits[1, :3], padded[1, :3]))
    logits[1, 3:] = 100.0  # anything at padded positions changes nothing
    assert torch.allclose(per_sample, loss(logits, padded, reduction="none"))
    correct = count_correct(logits, padded, loss)
    expected = (logits[0].argmax(-1) == padded[0]).float().mean() + (
        logits[1, :3].argmax(-1) == padded[1, :3]
    ).float().mean()
    assert torch.allclose(correct, expected)


def test_fractional_correct_counts_survive_a_mid_epoch_checkpoint() -> None:
    meter = EpochMeter(torch.device("cpu"), first_step=0)
    meter.record(StepResult([torch.tensor(1.0)], [4], [torch.tensor(2.75)]))  # one step: loss, size, correct
    state = json.loads(json.dumps(meter.state()))  # plain values
    resumed = EpochMeter(torch.device("cpu"), first_step=0)
    resumed.restore(state)
    resumed.record(StepResult([torch.tensor(1.0)], [4], [torch.tensor(1.5)]))
    assert float(resumed.totals()[1]) == 4.25


def _runs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs").glob("char-lm-*"))


def test_char_lm_recipe_trains_resumes_and_samples(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # shortened: windows of 16 characters every 512, so an epoch is 12 steps
    short = [*SHORT, "--set", "data.context_length=16", "--set", "data.window_stride=512"]
    report = tmp_path / "report.json"
    code, out, err = run_cli(
        capsys, monkeypatch, "train", str(CHAR_LM), *short, "--set", "train.epochs=1", "--json", str(report)
    )
    assert code == 0, err + out
    assert "vocabulary of 75 characters" in out and "bits/token" in out
    (run,) = _runs(tmp_path)
    summary = json.loads(report.read_text())
    assert summary["status"] == "pass" and summary["run"]["global_step"] == 12
    first = summary["run"]["final_metrics"]
    assert math.isfinite(first["val/loss"]) and 0 <= first["val/accuracy"] <= 1  # per-token accuracy
    facts = json.loads((run / "run.json").read_text())
    assert facts["data"]["task"] == "sequence" and facts["data"]["vocabulary_size"] == 75
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # plain values and tensors only
    assert checkpoint["vocabulary"]["kind"] == "characters" and len(checkpoint["vocabulary"]["characters"]) == 75

    code, out, err = run_cli(
        capsys, monkeypatch, "train", str(CHAR_LM), *short, "--set", "train.epochs=2", "--resume", str(run)
    )
    assert code == 0, err + out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in records if record["kind"] == "epoch"] == [1, 2]  # one run, continued
    steps = [record["step"] for record in records if record["kind"] == "step"]
    assert steps == list(range(4, 25, 4))

    code, out, err = run_cli(capsys, monkeypatch, "sample", str(run), "--tokens", "30")
    assert code == 0, err
    assert len(out.rstrip("\n")) >= 20 and "best.pt" in err and "epoch 2" in err and "greedy" in err
    code, again, _ = run_cli(capsys, monkeypatch, "sample", str(run), "--tokens", "30")
    assert again == out  # greedy is deterministic
    code, prompted, err = run_cli(
        capsys, monkeypatch, "sample", str(run), "-n", "10", "--temperature", "0.8", "--seed", "1", "--prompt", "Anne "
    )
    assert code == 0 and prompted.startswith("Anne ") and "temperature 0.8, seed 1" in err
    code, _, err = run_cli(capsys, monkeypatch, "sample", str(run), "--prompt", "Zoë")
    assert code == 2 and "--prompt" in err and "'ë'" in err


def test_sample_refuses_runs_without_a_vocabulary(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "spirals.yaml"
    recipe.write_text(
        "name: spirals\ndata: {source: spirals, samples: 90}\n"
        "model: {layers: [{type: linear, out: 8}, {type: relu}, {type: linear, out: 3}]}\n"
        "train: {epochs: 1, batch_size: 30}\nlogging: {tensorboard: false}\ndevice: cpu\n"
    )
    assert run_cli(capsys, monkeypatch, "train", str(recipe), "-q")[0] == 0
    (run,) = sorted((tmp_path / "runs").glob("spirals-*"))
    code, _, err = run_cli(capsys, monkeypatch, "sample", str(run))
    assert code == 2 and "no token vocabulary" in err
    code, _, err = run_cli(capsys, monkeypatch, "sample", str(tmp_path / "nowhere"))
    assert code == 2 and "no such run directory" in err


@pytest.mark.parametrize("value", [math.log(2) * 2])
def test_bits_per_token_in_the_summary(value: float) -> None:
    from io import StringIO

    from rich.console import Console

    from dlcheck.report.training import summary_table
    from dlcheck.train.trainer import TrainResult

    result = TrainResult(
        name="lm", status="completed", message="trained 1 epochs", run_directory=None, epochs_completed=1,
        global_step=10, seconds=1.0, final_metrics={"train/loss": value, "val/loss": value},
    )  # fmt: skip
    console = Console(file=StringIO(), width=120)
    console.print(summary_table(result, bits_per_token=True))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "train/loss 1.3863 (2.000 bits/token)" in text and "val/loss 1.3863 (2.000 bits/token)" in text
    console = Console(file=StringIO(), width=120)
    console.print(summary_table(result))
    assert "bits/token" not in console.file.getvalue()  # type: ignore[attr-defined]


FACTORY_MODEL = """
import torch
from torch import nn


class TinyLanguageModel(nn.Module):
    def __init__(self, vocab_size, dim=16):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, ids):
        return self.head(self.gru(self.tokens(ids))[0])
"""


def test_a_factory_model_trains_on_text(tmp_path: Path) -> None:
    from dlcheck.errors import ModelError
    from dlcheck.recipe import parse_recipe
    from dlcheck.train import Trainer

    (tmp_path / "tiny_lm.py").write_text(FACTORY_MODEL, encoding="utf-8")
    text = (
        "name: factory-lm\ndata: {source: text, context_length: 16, window_stride: 512, val_fraction: 0.1}\n"
        "model: {factory: 'tiny_lm:TinyLanguageModel', args: {vocab_size: VOCABULARY}}\n"
        "train: {epochs: 1, batch_size: 32}\n"
        f"logging: {{directory: '{tmp_path / 'runs'}', tensorboard: false}}\ndevice: cpu\n"
    )
    loaded = parse_recipe(text.replace("VOCABULARY", "75"), source="lm.yaml", directory=tmp_path)
    result = Trainer(loaded, handle_signals=False).run()
    assert result.status == "completed" and math.isfinite(result.final_metrics["val/loss"])
    wrong = parse_recipe(text.replace("VOCABULARY", "70"), source="lm.yaml", directory=tmp_path)
    with pytest.raises(ModelError, match="outputs 70 values per position but the vocabulary has 75 tokens"):
        Trainer(wrong, handle_signals=False).run()
