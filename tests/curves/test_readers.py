"""Log readers: TensorBoard (PyTorch writer and Keras' TF2 layout), CSV, JSONL, trainer_state.json, dlcheck runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dlcheck.curves.discover import read_logs
from dlcheck.errors import InputError

from .gallery import keras_events


def _only(paths: list[Path]):
    runs, _ = read_logs(paths)
    assert len(runs) == 1, [run.name for run in runs]
    return runs[0]


def _values(run, name: str) -> tuple[list[float], list[float]]:
    series = run.find(name)
    assert series is not None, [item.name for item in run.series]
    return series.steps.tolist(), series.values.tolist()


def test_tensorboard_written_by_pytorch_with_hugging_face_tags(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path / "runs" / "Nov23_host"))
    for step in range(10, 201, 10):
        writer.add_scalar("train/loss", 2.0 / step, step)
        writer.add_scalar("train/epoch", step / 50.0, step)
    for step in (50, 100, 150, 200):
        writer.add_scalar("eval/loss", 1.0 / step, step)
    writer.add_histogram("weights", np.arange(10.0), 10)  # not a scalar: ignored
    writer.close()
    run = _only([tmp_path])
    assert run.format == "tensorboard" and run.name == "runs/Nov23_host"
    steps, values = _values(run, "eval/loss")
    assert steps == [50.0, 100.0, 150.0, 200.0] and values == pytest.approx([0.02, 0.01, 1 / 150, 0.005])
    assert run.facts.steps_per_epoch == pytest.approx(50.0)
    assert run.facts.epoch_at(100.0) == pytest.approx(2.0)


def test_keras_layout_with_tf2_scalar_tensors_is_one_run(tmp_path: Path) -> None:
    keras_events(tmp_path / "logs", {"train": [0.9, 0.5, 0.3], "validation": [0.8, 0.6, 0.55]})
    run = _only([tmp_path / "logs"])
    assert run.format == "keras"
    assert _values(run, "validation/epoch_loss") == ([0.0, 1.0, 2.0], pytest.approx([0.8, 0.6, 0.55]))
    assert run.find("train/epoch_loss").units == "epoch"


def test_a_resumed_run_keeps_the_later_values_like_tensorboard(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    first = SummaryWriter(log_dir=str(tmp_path))
    for step in range(10):
        first.add_scalar("loss", 1.0, step)
    first.close()
    resumed = SummaryWriter(log_dir=str(tmp_path), purge_step=5)  # SessionLog.START at step 5
    for step in range(5, 8):
        resumed.add_scalar("loss", 2.0, step)
    resumed.close()
    assert _values(_only([tmp_path]), "loss") == ([0, 1, 2, 3, 4, 5, 6, 7], [1.0] * 5 + [2.0] * 3)


def test_a_file_cut_short_is_read_up_to_the_cut(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    for step in range(100):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    path = next(tmp_path.glob("events.out.tfevents.*"))
    path.write_bytes(path.read_bytes()[:-7])  # a writer killed mid-record
    steps, _ = _values(_only([path]), "loss")
    assert steps == list(range(99))


def test_the_reader_agrees_with_event_accumulator(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    generator = np.random.default_rng(0)
    writer = SummaryWriter(log_dir=str(tmp_path))
    for step in range(500):
        writer.add_scalar("train/loss", float(generator.random()), step)
        if step % 50 == 0:
            writer.add_scalar("val/accuracy", float(generator.random()), step)
    writer.close()
    accumulator = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    accumulator.Reload()
    run = _only([tmp_path])
    for tag in accumulator.Tags()["scalars"]:
        events = accumulator.Scalars(tag)
        steps, values = _values(run, tag)
        assert steps == [event.step for event in events]
        assert values == [event.value for event in events]


def test_lightning_csv_with_sparse_rows(tmp_path: Path) -> None:
    path = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "epoch,step,train_loss_step,val_loss,val_acc,train_loss_epoch\n"
        "0,9,2.1,,,\n0,19,1.8,,,\n0,19,,1.7,0.4,\n0,19,,,,1.95\n"
        "1,29,1.2,,,\n1,39,nan,,,\n1,39,,1.1,0.7,\n1,39,,,,1.3\n"
    )
    (path.parent / "hparams.yaml").write_text("num_classes: 10\nlr: 0.001\n")
    run = _only([tmp_path])
    assert run.format == "lightning-csv"
    assert _values(run, "val_acc") == ([19.0, 39.0], [0.4, 0.7])
    steps, values = _values(run, "train_loss_step")
    assert steps == [9.0, 19.0, 29.0, 39.0] and math.isnan(values[-1])  # logged nan, kept as non-finite
    assert (run.facts.num_classes, run.facts.steps_per_epoch) == (10, 20.0)


def test_keras_csv_logger_counts_epochs(tmp_path: Path) -> None:
    path = tmp_path / "training.csv"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.2,0.6,1.0\n1,0.7,0.8,0.65,0.9\n")
    run = _only([path])
    assert run.find("val_loss").units == "epoch"
    assert _values(run, "loss") == ([0.0, 1.0], [1.2, 0.8])


def test_jsonl_with_null_for_non_finite_values_and_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = [
        {"step": 1, "train": {"loss": 2.0}},
        {"step": 2, "train": {"loss": None}},
        {"step": 3, "train": {"loss": "inf"}, "phase": "train"},
        {"step": 3, "val_loss": 1.5},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"step": 4, "train": {"lo')
    run = _only([path])
    steps, values = _values(run, "train/loss")
    assert steps == [1.0, 2.0, 3.0] and values[0] == 2.0 and math.isnan(values[1]) and values[2] == math.inf
    assert run.find("phase") is None  # text is not a series


def test_a_damaged_jsonl_line_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\nnot json\n{"step": 2, "loss": 0.5}\n{"step": 3, "loss": 0.4}\n')
    run = _only([path])
    assert _values(run, "loss") == ([1.0, 2.0, 3.0], [1.0, 0.5, 0.4])
    assert any("1 line(s) that are not JSON objects were skipped (first: line 2)" in note for note in run.facts.notes)
    path.write_text("not json\nnor this\n")
    with pytest.raises(InputError, match=r"log\.jsonl: line 1 is not a JSON object of metrics"):
        read_logs([path])


def test_hugging_face_trainer_state(tmp_path: Path) -> None:
    state = {
        "max_steps": 300,
        "num_train_epochs": 3,
        "log_history": [
            {"loss": 2.0, "epoch": 0.33, "step": 100},
            {"eval_loss": 1.5, "eval_accuracy": 0.5, "epoch": 1.0, "step": 100},
            {"loss": 1.0, "epoch": 0.66, "step": 200},
            {"train_loss": 1.4, "train_runtime": 10.0, "epoch": 1.0, "step": 300},
        ],
    }
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    (tmp_path / "checkpoint-100").mkdir()
    (tmp_path / "checkpoint-100" / "trainer_state.json").write_text(json.dumps(state))  # a copy: skipped
    run = _only([tmp_path])
    assert run.format == "hf-trainer-state" and run.facts.steps_per_epoch == 100.0
    assert _values(run, "eval_loss") == ([100.0], [1.5])


def test_dlcheck_run_directory_facts(tmp_path: Path) -> None:
    run_directory = tmp_path / "digits-20260101-000000"
    (run_directory / "tensorboard").mkdir(parents=True)
    records = [
        {"kind": "step", "step": 10, "epoch": 0, "train/loss": 2.0, "lr": 0.001},
        {"kind": "step", "step": 20, "epoch": 0, "train/loss": "nan", "lr": 0.001},
        {"kind": "epoch", "step": 20, "epoch": 1, "train/loss": 1.5, "val/loss": 1.4, "val/accuracy": 0.5},
    ]
    (run_directory / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    facts = {"steps_per_epoch": 20, "data": {"num_classes": 10, "val_size": 360}}
    (run_directory / "run.json").write_text(json.dumps(facts))
    run = _only([tmp_path])
    assert run.format == "dlcheck" and run.name == "digits-20260101-000000"
    assert sorted(series.name for series in run.series) == [
        "lr",
        "train/loss",
        "train/loss@epoch",
        "val/accuracy",
        "val/loss",
    ]
    assert math.isnan(_values(run, "train/loss")[1][1])
    assert (run.facts.num_classes, run.facts.val_size, run.facts.steps_per_epoch) == (10, 360, 20.0)


def test_an_older_dlcheck_run_takes_the_classes_from_its_recipe(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"kind": "step", "step": 10, "train/loss": 1.0}\n')
    (tmp_path / "recipe.yaml").write_text(
        "loss: cross_entropy\ndata: {source: digits}\nmodel:\n  layers:\n    - {type: linear, out: 7}\n"
    )
    run = _only([tmp_path])
    assert (run.facts.num_classes, run.facts.num_classes_source) == (7, "recipe.yaml")


def test_a_folder_without_logs_and_a_missing_path_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")  # a data file, not a log: no loss or accuracy column
    with pytest.raises(InputError, match="no training logs found"):
        read_logs([tmp_path])
    with pytest.raises(InputError, match="no such file or folder"):
        read_logs([tmp_path / "missing"])
    bad = tmp_path / "bad.csv"
    bad.write_text("step,loss\n1,0.5\nten,0.4\n2,0.3\n3,oops\n4,0.2\n")
    run = _only([bad])  # a stray text cell is skipped and counted, never a traceback
    assert _values(run, "loss") == ([1.0, 2.0, 4.0], [0.5, 0.3, 0.2])
    assert "1 row(s) whose `step` is not a number were skipped" in run.facts.notes
    assert "1 non-numeric cell(s) in numeric columns were skipped" in run.facts.notes
