"""The command line as users and CI scripts see it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcheck.cli import main
from tests.cli_runner import run_cli

ROOT = Path(__file__).parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from dlcheck.cli import main\n"
        "sys.argv = ['dlcheck', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "assert 'skimage' not in sys.modules\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "train" in completed.stdout and "recipe" in completed.stdout


def test_python_dash_m_and_version() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dlcheck", "--version"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("dlcheck 0.")


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_every_bundled_recipe_is_valid(recipe: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    extra: list[str] = []
    if "image_folder" in recipe.read_text():
        _write_images(tmp_path / "images")
        extra = ["--set", f"data.path={tmp_path / 'images'}"]
    code, out, err = run_cli(capsys, monkeypatch, "recipe", "check", str(recipe), *extra)
    assert code == 0, err
    assert "is valid" in out and "parameters" in out


def test_recipe_check_catches_a_last_layer_of_the_wrong_size(capsys, monkeypatch) -> None:
    recipe = ROOT / "recipes" / "spirals_mlp.yaml"
    code, _, err = run_cli(capsys, monkeypatch, "recipe", "check", str(recipe), "--set", "model.layers.4.out=5")
    assert code == 2
    assert "spirals_mlp.yaml" in err and "3 classes" in err


def test_recipe_show_prints_the_resolved_recipe_with_overrides(capsys, monkeypatch) -> None:
    code, out, _ = run_cli(
        capsys, monkeypatch, "recipe", "show", str(ROOT / "recipes" / "digits_mlp.yaml"), "--set", "optimizer.lr=0.01"
    )
    assert code == 0
    assert "lr: 0.01" in out
    assert "label_smoothing: 0.0" in out  # defaults are filled in


def test_recipe_schema_is_json(capsys, monkeypatch) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "recipe", "schema")
    assert code == 0
    schema = json.loads(out)
    assert "optimizer" in schema["properties"]


BAD_RECIPES = {
    "unknown key": ("optimizer: {name: adam, lrr: 0.01}", "optimizer.lrr", 4, "lr"),
    "wrong type": ("train: {epochs: ten}", "train.epochs", 4, None),
    "unknown layer": ("model: {layers: [{type: relux}]}", "model.layers.0.type", 4, "relu"),
    "negative lr": ("optimizer: {lr: -1}", "optimizer.lr", 4, None),
    "bad factory": ("model: {factory: 'no_such_module:make'}", "model.factory", 4, None),
}


@pytest.mark.parametrize("name", BAD_RECIPES)
def test_a_bad_recipe_exits_2_naming_the_key_and_line(name: str, tmp_path: Path, capsys, monkeypatch) -> None:
    line, key, line_number, suggestion = BAD_RECIPES[name]
    base = {
        "data": "data: {source: spirals}",
        "model": "model: {layers: [{type: linear, out: 3}]}",
        "optimizer": "optimizer: {name: adam}",
        "train": "train: {epochs: 1}",
    }
    section = line.split(":")[0]
    base[section] = line
    text = "version: 1\nname: bad\nseed: 0\n" + "\n".join(base[k] for k in ("model", "data", "optimizer", "train"))
    # put the section under test on line 4
    lines = text.splitlines()
    index = next(i for i, item in enumerate(lines) if item == line)
    lines.insert(3, lines.pop(index))
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, monkeypatch, "recipe", "check", str(path))
    assert code == 2
    assert "Traceback" not in err + out
    assert key in err
    assert f"line {line_number}" in err
    if suggestion:
        assert suggestion in err


def test_missing_recipe_file_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "train", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml" in err and "Traceback" not in err


def test_missing_data_file_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text("data: {source: csv, path: missing.csv}\nmodel: {layers: [{type: linear, out: 2}]}\n")
    code, _, err = run_cli(capsys, monkeypatch, "train", str(path))
    assert code == 2
    assert "data.path" in err and "missing.csv" in err


def test_debug_shows_the_traceback(tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text("data: {source: digits}\nmodel: {layers: [{type: linear, out: 10}]}\noptimizer: {lr: -1}\n")
    monkeypatch.setattr(sys, "argv", ["dlcheck", "--debug", "recipe", "check", str(path)])
    from dlcheck.errors import RecipeError

    with pytest.raises(RecipeError):
        main()


def test_fp16_on_cpu_exits_2_with_the_reason(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "train",
        str(ROOT / "recipes" / "spirals_mlp.yaml"),
        "--set",
        "device=cpu",
        "--set",
        "train.precision=fp16-mixed",
    )
    assert code == 2
    assert "fp16-mixed" in err and "bf16" in err


def _write_images(folder: Path) -> None:
    import numpy as np
    from skimage import io

    rng = np.random.default_rng(0)
    for label, value in (("cat", 40), ("dog", 200)):
        (folder / label).mkdir(parents=True)
        for index in range(12):
            image = np.clip(rng.normal(value, 20, size=(20, 24, 3)), 0, 255).astype(np.uint8)
            io.imsave(folder / label / f"{index}.png", image, check_contrast=False)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_every_bundled_recipe_trains_shortened(recipe: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    extra: list[str] = []
    if "image_folder" in recipe.read_text():
        _write_images(tmp_path / "images")
        extra = ["--set", f"data.path={tmp_path / 'images'}", "--set", "data.num_workers=0"]
    report = tmp_path / "report.json"
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "train",
        str(recipe),
        "--set",
        "train.epochs=1",
        "--set",
        "device=cpu",
        "--set",
        "logging.tensorboard=false",
        "--json",
        str(report),
        *extra,
    )
    assert code == 0, err + out
    summary = json.loads(report.read_text())
    assert summary["status"] == "pass" and summary["run"]["epochs_completed"] == 1
    assert "status" in out


@pytest.mark.slow
def test_ctrl_c_writes_a_checkpoint_and_resume_auto_finishes(tmp_path: Path) -> None:
    recipe = tmp_path / "slow.yaml"
    recipe.write_text(
        "name: slow\ndata: {source: spirals, samples: 4000}\n"
        "model: {layers: [{type: linear, out: 64}, {type: relu}, {type: linear, out: 3}]}\n"
        "train: {epochs: 1000, batch_size: 8}\nlogging: {tensorboard: false, every_steps: 5}\ndevice: cpu\n"
    )
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlcheck", "train", str(recipe), "--quiet"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    metrics = None
    while time.monotonic() < deadline:
        found = list(tmp_path.glob("runs/slow-*/metrics.jsonl"))
        if found and found[0].stat().st_size > 0:
            metrics = found[0]
            break
        time.sleep(0.1)
    assert metrics is not None, "the run never logged a step"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    words = " ".join(out.split())  # the summary wraps at the terminal width
    assert "interrupted" in words and "continue with --resume auto" in words
    checkpoint = metrics.parent / "checkpoints" / "last.pt"
    assert checkpoint.is_file()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlcheck",
            "train",
            str(recipe),
            "--quiet",
            "--resume",
            "auto",
            "--set",
            "train.max_steps=1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # max_steps=1 is already behind us: the resumed run stops at once, in the same run directory.
    assert completed.returncode == 0, completed.stderr
    assert str(metrics.parent.name) in completed.stdout


@pytest.mark.parametrize(
    "arguments",
    [["lr-fnd"], ["train"], ["train", "recipe.yaml", "--bogus"], ["recipe", "check", "x.yaml", "--set"]],
    ids=["unknown command", "missing argument", "unknown option", "option without value"],
)
def test_usage_errors_exit_2_without_a_traceback(arguments: list[str], capsys, monkeypatch) -> None:
    code, out, err = run_cli(capsys, monkeypatch, *arguments)
    assert code == 2
    assert "Traceback" not in out + err and "Error" in out + err


def test_debug_is_accepted_after_the_subcommand(capsys, monkeypatch) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "recipe", "check", str(ROOT / "recipes" / "digits_mlp.yaml"), "--debug")
    assert code == 0 and "is valid" in out


def test_json_path_in_a_missing_folder_is_refused_before_training(tmp_path: Path, capsys, monkeypatch) -> None:
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "train",
        str(ROOT / "recipes" / "digits_mlp.yaml"),
        "--json",
        str(tmp_path / "no" / "r.json"),
    )
    assert code == 2
    assert "does not exist" in err and "epoch" not in out


def test_valid_but_unlikely_settings_are_warned_about(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = str(ROOT / "recipes" / "spirals_mlp.yaml")
    settings = ["--set", "train.batch_size=5000", "--set", "schedule={name: cosine, warmup: {epochs: 50}}"]
    code, out, _ = run_cli(capsys, monkeypatch, "recipe", "check", recipe, *settings)
    assert code == 0
    words = " ".join(out.split())
    assert "warning: train.batch_size = 5000 is larger than the 1200 training samples" in words
    assert "the learning rate never reaches optimizer.lr" in words
    report = tmp_path / "run.json"
    code, out, _ = run_cli(
        capsys, monkeypatch, "train", recipe, *settings, "--set", "train.epochs=2", "--quiet", "--json", str(report)
    )
    assert code == 0 and "warning:" in out  # shown even with --quiet
    assert len(json.loads(report.read_text())["warnings"]) == 2


def test_library_errors_are_said_with_the_command_line_options() -> None:
    from dlcheck.cli._options import naming_options
    from dlcheck.errors import InvalidArgument

    options = {"start_lr": "--start-lr", "end_lr": "--end-lr", "write": "--write"}
    with pytest.raises(InvalidArgument) as raised, naming_options(options):
        raise InvalidArgument("end_lr", "end_lr=0.5: must be larger than start_lr=1; write=True needs a suggestion.")
    assert str(raised.value) == "--end-lr 0.5: must be larger than --start-lr 1; --write needs a suggestion."
