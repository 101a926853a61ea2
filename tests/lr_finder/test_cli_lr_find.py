"""`dlcheck lr-find` as users and CI scripts see it: output, JSON, exit codes, messages, --write, --plot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

FAST = ("--steps", "60", "--repeats", "1")


def test_json_report_has_the_contract_fields(blobs_recipe: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "lr.json"
    junit = tmp_path / "lr.xml"
    code, out, err = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), *FAST, "--json", str(report), "--junit", str(junit)
    )
    assert code == 0, err
    assert "suggested lr" in out
    document = json.loads(report.read_text())
    assert document["command"] == "lr-find" and document["schema_version"] == 1
    assert [check["name"] for check in document["checks"]] == ["lr_range"]
    assert document["status"] == document["checks"][0]["status"]
    for key in ("suggested_lr", "band", "confidence", "rules", "batch_size", "history"):
        assert key in document, key
    assert document["batch_size"] == 32
    assert document["confidence"] in ("high", "medium", "low")
    assert set(document["rules"]) == {"valley", "minimum", "steepest"}
    lo, hi = document["band"]
    assert lo <= document["suggested_lr"] <= hi
    history = document["history"]
    assert len(history["lr"]) == len(history["loss"]) <= 60 and history["lr"][0] == pytest.approx(1e-7)
    assert document["state_restored"] is True
    assert 'name="lr_range"' in junit.read_text()


def test_a_model_that_diverges_at_once_fails(blobs_recipe: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), "--start-lr", "1e4", "--end-lr", "1e8", *FAST
    )
    assert code == 1
    assert "FAIL" in out and "diverges at once" in out and "--start-lr" in out


def test_a_curve_that_never_diverges_warns_and_fails_under_strict(blobs_recipe: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    options = ("lr-find", str(blobs_recipe), "--start-lr", "1e-4", "--end-lr", "3e-2", *FAST)
    code, out, _ = run_cli(capsys, monkeypatch, *options)
    assert code == 0 and "WARN" in out and "never diverges" in out and "--end-lr" in out
    code, _, _ = run_cli(capsys, monkeypatch, *options, "--strict")
    assert code == 1


def test_write_plot_and_tensorboard(blobs_recipe: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = blobs_recipe.read_text()
    plot = tmp_path / "curve.png"
    logs = tmp_path / "tb"
    code, out, err = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), *FAST, "--write", "--plot", str(plot), "--log-dir", str(logs)
    )
    assert code == 0, err
    after = blobs_recipe.read_text()
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=True) if old != new]
    assert len(changed) == 1 and changed[0][0].startswith("optimizer: {name: adam, lr: 1.0e-3")
    assert "# the recipe's LR" in changed[0][1]  # the comment on that line is kept
    assert "wrote optimizer.lr" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(path.name.startswith("events.out.tfevents") for path in logs.iterdir())


def test_verify_and_batch_sizes_print_their_tables(blobs_recipe: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "lr.json"
    code, out, err = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), *FAST, "--verify", "--verify-steps", "20",
        "--batch-sizes", "16,64", "--json", str(report),
    )  # fmt: skip
    assert code == 0, err
    assert "--verify: 20 steps each" in out and "--batch-sizes" in out and "B^" in out
    document = json.loads(report.read_text())
    assert len(document["verify"]["runs"]) == 3
    assert document["batch_scaling"]["batch_sizes"] == [16, 64]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--mode", "cubic"), "--mode 'cubic'"),
        (("--start-lr", "0"), "--start-lr"),
        (("--start-lr", "1", "--end-lr", "0.5"), "--end-lr 0.5"),
        (("--batch-sizes", "32,abc"), "--batch-sizes '32,abc'"),
        (("--batch-sizes", "32"), "at least two different"),
        (("--repeats", "0"), "--repeats 0"),
        (("--steps", "5"), "--steps 5"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    blobs_recipe: Path, options: tuple[str, ...], message: str, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(capsys, monkeypatch, "lr-find", str(blobs_recipe), *options)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_val_batches_without_a_validation_split(blobs_recipe: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), "--val-batches", "2", "--set", "data.val_fraction=0", *FAST
    )
    assert code == 2 and "data.val_fraction" in err


def test_val_batches_records_the_held_out_loss(blobs_recipe: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capsys, monkeypatch, "lr-find", str(blobs_recipe), "--val-batches", "2", *FAST)
    assert code in (0, 1), err
    assert "held-out loss on 2 fixed validation batches" in re.sub(r"[│\s]+", " ", out)


def test_plot_into_a_missing_folder_is_refused_before_any_work(
    blobs_recipe: Path, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        capsys, monkeypatch, "lr-find", str(blobs_recipe), "--plot", str(tmp_path / "no" / "x.png")
    )
    assert code == 2 and "does not exist" in err and out == ""


def test_a_missing_recipe_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(capsys, monkeypatch, "lr-find", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


def test_the_babysit_check_interface(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    from dlcheck.lr_finder import lr_range_check

    check = lr_range_check(blobs_parts, seed=3, steps=50)
    assert check.name == "lr_range" and check.status in ("pass", "warn")
    for key in ("suggested_lr", "band_low", "band_high", "confidence", "recipe_lr", "recipe_to_suggested"):
        assert key in check.metrics, key
    assert check.metrics["recipe_lr"] == pytest.approx(1e-3)
    assert check.metrics["recipe_to_suggested"] == pytest.approx(1e-3 / check.metrics["suggested_lr"])
    assert check.seconds > 0
    assert check.to_json()["metrics"]["state_restored"] is True
