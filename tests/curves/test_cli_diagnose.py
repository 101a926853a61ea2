"""`dlcheck diagnose` as users and CI scripts see it: report, JSON (DESIGN 2.2), JUnit, PNG, exit codes."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from dlcheck.curves.diagnosis import diagnose
from dlcheck.report.curves import render_diagnosis
from tests.cli_runner import run_cli

from .gallery import keras_events


def _jsonl(path: Path, train: np.ndarray, val: np.ndarray | None = None, every: int = 100) -> Path:
    lines = []
    for step, loss in enumerate(train, 1):
        lines.append(json.dumps({"step": step, "train_loss": float(loss) if np.isfinite(loss) else None}))
        if val is not None and step % every == 0:
            lines.append(json.dumps({"step": step, "val_loss": float(val[step // every - 1])}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _overfitting_log(path: Path) -> Path:
    steps = np.arange(1, 2001)
    train = (2.3 * np.exp(-steps / 200.0) + 0.02) * np.exp(np.random.default_rng(0).normal(0, 0.2, steps.size))
    evals = np.arange(100, 2001, 100)
    val = 0.5 + 0.4 * ((evals - 600) / 1400.0) ** 2 + np.where(evals < 600, (600 - evals) / 300.0, 0.0)
    return _jsonl(path, train, val)


def test_report_json_and_exit_code_for_a_warning(tmp_path: Path, capsys, monkeypatch) -> None:
    log = _overfitting_log(tmp_path / "run.jsonl")
    report = tmp_path / "report.json"
    code, out, err = run_cli(capsys, monkeypatch, "diagnose", str(log), "--json", str(report), "--num-classes", "10")
    assert code == 0, err  # warnings exit 0
    assert "overfitting" in out and "WARN" in out and "best step 600" in out
    document = json.loads(report.read_text())
    assert (document["schema_version"], document["command"], document["status"]) == (1, "diagnose", "warn")
    assert [check["name"] for check in document["checks"]] == ["curves"]
    finding = next(item for item in document["findings"] if item["kind"] == "overfitting")
    assert set(finding) >= {"kind", "severity", "series", "step", "end_step", "message", "advice"}
    assert (finding["severity"], finding["series"], finding["step"], finding["end_step"]) == (
        "warn",
        "val_loss",
        600,
        2000,
    )
    assert document["best_step"] == 600 and isinstance(finding["advice"], list)
    assert document["runs"][0]["mapping"][0]["role"] in ("train_loss", "val_loss")
    code, _, _ = run_cli(capsys, monkeypatch, "diagnose", str(log), "--strict")
    assert code == 1


def test_a_failing_run_exits_1_and_writes_junit(tmp_path: Path, capsys, monkeypatch) -> None:
    train = 2.0 * np.exp(-np.arange(1, 501) / 100.0) + 0.1
    train[300:] = np.nan
    log = _jsonl(tmp_path / "nan.jsonl", train)
    junit = tmp_path / "junit.xml"
    code, out, _ = run_cli(capsys, monkeypatch, "diagnose", str(log), "--junit", str(junit))
    assert code == 1
    assert "nan" in out and "FAIL" in out and "step 301" in out
    case = ElementTree.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None and case.get("name") == "curves" and case.find("failure") is not None


def test_several_runs_are_compared_and_plotted(tmp_path: Path, capsys, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    keras_events(tmp_path / "a", {"train": [1.0, 0.6, 0.4, 0.3, 0.25], "validation": [0.9, 0.6, 0.5, 0.45, 0.44]})
    keras_events(tmp_path / "b", {"train": [1.0, 0.5, 0.3, 0.2, 0.1], "validation": [0.9, 0.5, 0.4, 0.38, 0.37]})
    plot = tmp_path / "curves.png"
    code, out, err = run_cli(
        capsys, monkeypatch, "diagnose", str(tmp_path / "a"), str(tmp_path / "b"), "--plot", str(plot)
    )
    assert code == 0, err
    assert "runs compared" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overrides_name_the_curves_and_unknown_names_are_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "custom.csv"
    rows = "\n".join(f"{step},{2.0 / step:.5f},{1.0 / step + 0.5:.5f}" for step in range(1, 41))
    path.write_text("iteration,objective,holdout_error\n" + rows + "\n")
    code, out, _ = run_cli(
        capsys, monkeypatch, "diagnose", str(path), "--train", "objective", "--val", "loss=holdout_error"
    )
    assert code == 0 and "named by --train" in out and "named by --val" in out
    code, _, err = run_cli(capsys, monkeypatch, "diagnose", str(path), "--train", "objectiv")
    assert code == 2 and "no series named 'objectiv'" in err and "did you mean 'objective'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing-folder"], "no such file or folder"),
        (["{log}", "--num-classes", "1"], "--num-classes 1"),
        (["{log}", "--patience", "0"], "--patience 0"),
        (["{log}", "--json", "{folder}"], "is a folder"),
        (["{empty}"], "no training logs found"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    arguments: list[str], message: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    log = _overfitting_log(tmp_path / "run.jsonl")
    (tmp_path / "empty").mkdir()
    values = {"log": str(log), "folder": str(tmp_path), "empty": str(tmp_path / "empty")}
    code, _, err = run_cli(capsys, monkeypatch, "diagnose", *[argument.format(**values) for argument in arguments])
    assert code == 2 and message in err and "Traceback" not in err


def test_the_report_reads_well_at_80_columns(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    steps = np.arange(1, 1001)
    train = (2.3 * np.exp(-steps / 150.0) + 0.05) * np.exp(np.random.default_rng(1).normal(0, 0.15, steps.size))
    train[700] = 40.0
    _jsonl(tmp_path / "spiky.jsonl", train)
    diagnosis = diagnose(["spiky.jsonl"])
    buffer = io.StringIO()
    render_diagnosis(diagnosis, Console(file=buffer, width=80, highlight=False, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert lines[0] == "dlcheck diagnose spiky.jsonl (jsonl)"
    # a loss alone is no class count (issue 11): it needs an agreeing accuracy
    assert lines[1].startswith("number of classes unknown")
    assert "train_loss   1,000  1-1,000  train loss" in text  # the mapping table
    spark = next(line for line in lines if line.startswith("train loss "))
    marks = lines[lines.index(spark) + 1]
    bars = spark.split()[3]  # label (2 words), first value, the sparkline, last value
    assert marks.index("S") == spark.index(bars) + int(700 / 999 * len(bars))  # in the bin of step 701
    assert "INFO spike [S] train_loss · step 701" in text
    assert "loss spike at step 701" in text and "→ Inspect the batch at step 701" in text
    assert lines[-1].startswith("verdict pass")
