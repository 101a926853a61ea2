"""Read a dlcheck run directory: ``metrics.jsonl`` plus the facts in ``run.json`` and ``recipe.yaml``.

``dlcheck train`` logs a ``step`` record every ``logging.every_steps`` steps (the window mean of the
training loss) and an ``epoch`` record after each validation; :mod:`dlcheck.curves.jsonl` names them
``train/loss`` and ``train/loss@epoch``. ``run.json`` holds the data description (classes, validation
size) and the steps per epoch; older runs without them fall back on the resolved recipe (a
cross-entropy model's last layer width is the number of classes).
"""

from __future__ import annotations

__all__ = ["is_dlcheck_run", "read_dlcheck_run", "recipe_classes"]

import json
from pathlib import Path
from typing import Any

from dlcheck.curves.jsonl import read_jsonl_log
from dlcheck.curves.log_run import LogRun


def is_dlcheck_run(directory: Path) -> bool:
    """A folder written by ``dlcheck train``: ``metrics.jsonl`` with ``run.json`` or ``recipe.yaml``."""
    return (directory / "metrics.jsonl").is_file() and (
        (directory / "run.json").is_file() or (directory / "recipe.yaml").is_file()
    )


def recipe_classes(recipe: Any) -> int | None:
    """Classes of a resolved recipe (a mapping): ``data.classes``, else a cross-entropy model's last width.

    >>> recipe_classes({"loss": "cross_entropy", "model": {"layers": [{"type": "linear", "out": 7}]}, "data": {}})
    7
    >>> recipe_classes({"loss": "bce_with_logits", "data": {}}), recipe_classes({"loss": "mse", "data": {}})
    (2, None)
    """
    if not isinstance(recipe, dict):
        return None
    loss = recipe.get("loss", "cross_entropy")
    if loss == "bce_with_logits":
        return 2
    if loss != "cross_entropy":
        return None
    data = recipe.get("data") or {}
    if isinstance(data, dict) and isinstance(data.get("classes"), int):
        return int(data["classes"])
    model = recipe.get("model") or {}
    layers = model.get("layers") if isinstance(model, dict) else None
    if isinstance(layers, list):
        for layer in reversed(layers):
            if isinstance(layer, dict) and isinstance(layer.get("out"), int):
                return int(layer["out"])
    return None


def read_dlcheck_run(directory: Path, *, name: str) -> LogRun:
    """One dlcheck run: its metrics and what ``run.json``/``recipe.yaml`` say about the data."""
    run = read_jsonl_log(directory / "metrics.jsonl", name=name, format_name="dlcheck")
    run.path = directory
    facts = run.facts
    info: dict[str, Any] = {}
    run_file = directory / "run.json"
    if run_file.is_file():
        try:
            loaded = json.loads(run_file.read_text(encoding="utf-8"))
            info = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError:
            facts.notes.append("run.json is not valid JSON; its facts were not used")
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    assert isinstance(data, dict)
    if isinstance(data.get("num_classes"), int):
        facts.num_classes, facts.num_classes_source = int(data["num_classes"]), "run.json"
    if isinstance(data.get("val_size"), int) and data["val_size"] > 0:
        facts.val_size, facts.val_size_source = int(data["val_size"]), "run.json"
    if isinstance(info.get("steps_per_epoch"), (int, float)) and info["steps_per_epoch"] > 0:
        facts.steps_per_epoch, facts.steps_per_epoch_source = float(info["steps_per_epoch"]), "run.json"
    recipe_file = directory / "recipe.yaml"
    if facts.num_classes is None and recipe_file.is_file():
        import yaml

        try:
            recipe = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            recipe = None
        classes = recipe_classes(recipe)
        if classes is not None:
            facts.num_classes, facts.num_classes_source = classes, "recipe.yaml"
    return run
