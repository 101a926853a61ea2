"""load_recipe / parse_recipe: every problem reported at once, with its dotted key and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlcheck.errors import DlcheckError, RecipeError, RecipeIssue
from dlcheck.recipe import LoadedRecipe, load_recipe, parse_recipe, recipe_json_schema, recipe_to_yaml
from tests.bounded import within_seconds

REPOSITORY = Path(__file__).resolve().parents[2]

VALID = """\
version: 1
name: test
seed: 0
data:
  source: digits
  val_fraction: 0.2
model:
  layers:
    - {type: linear, out: 32}
    - {type: relu}
    - {type: linear, out: 10}
loss: cross_entropy
optimizer:
  name: adam
  lr: 1e-3
  weight_decay: 1e-4
schedule: {name: cosine, interval: step, warmup: {epochs: 1}}
early_stopping: {monitor: val/accuracy, patience: 3}
train: {epochs: 3, batch_size: 32}
device: cpu
"""


def issues_of(text: str, overrides: tuple[str, ...] = ()) -> list[RecipeIssue]:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, source="r.yaml", overrides=overrides)
    return caught.value.issues


def only_issue(text: str, overrides: tuple[str, ...] = ()) -> RecipeIssue:
    issues = issues_of(text, overrides)
    assert len(issues) == 1, [str(issue) for issue in issues]
    return issues[0]


def test_valid_recipe_loads_from_a_file(tmp_path: Path) -> None:
    file = tmp_path / "recipe.yaml"
    file.write_text(VALID)
    loaded = load_recipe(file)
    assert isinstance(loaded, LoadedRecipe)
    assert loaded.path == file.absolute() and loaded.directory == tmp_path.absolute()
    recipe = loaded.recipe
    assert recipe.optimizer.lr == 0.001 and recipe.optimizer.weight_decay == 0.0001
    assert [layer.type for layer in recipe.model.layers or []] == ["linear", "relu", "linear"]
    assert recipe.schedule.warmup is not None and recipe.schedule.warmup.epochs == 1


@pytest.mark.parametrize("name", sorted(path.name for path in (REPOSITORY / "recipes").glob("*.yaml")))
def test_every_example_recipe_loads_and_round_trips(name: str) -> None:
    # Ludwig #3198: schema and shipped configs drift apart unless every example is checked.
    loaded = load_recipe(REPOSITORY / "recipes" / name, check_factories=False)
    again = parse_recipe(recipe_to_yaml(loaded.recipe), directory=loaded.directory, check_factories=False)
    assert again.recipe == loaded.recipe


@pytest.mark.parametrize(
    ("old", "new", "path", "line", "words"),
    [
        ("  lr: 1e-3", "  lrr: 1e-3", "optimizer.lrr", 15, ["unknown key", "did you mean `lr`"]),
        ("device: cpu", "device: cpu\nlr: 0.1", "lr", 21, ["belongs in `optimizer`"]),
        ("epochs: 3", 'epochs: "10"', "train.epochs", 19, ["whole number", "remove the quotes"]),
        ("lr: 1e-3", 'lr: "1e-3"', "optimizer.lr", 15, ["expected a number", "quoted", "remove the quotes: 1e-3"]),
        ("{type: relu}", "{type: relux}", "model.layers.1.type", 10, ["unknown layer type `relux`", "`relu`"]),
        ("lr: 1e-3", "lr: -1", "optimizer.lr", 15, ["greater than 0"]),
        ("source: digits", "source: csv", "data.source", 5, ["needs data.path"]),
        ("name: adam", "name: adamm", "optimizer.name", 14, ["must be one of", "did you mean `adam`"]),
        ("patience: 3}", "patience: 3, mode: min}", "early_stopping.mode", 18, ["set `mode: max`"]),
        ("device: cpu", "device: gpu", "device", 20, ["cuda:N"]),
        ("    - {type: relu}", "    - relu", "model.layers.1", 10, ["{type: relu}"]),
        ("warmup: {epochs: 1}", "warmup: {}", "schedule.warmup", 17, ["exactly one of `steps` or `epochs`"]),
    ],
)
def test_mistake_names_key_line_and_fix(old: str, new: str, path: str, line: int, words: list[str]) -> None:
    assert old in VALID
    issue = only_issue(VALID.replace(old, new, 1))
    assert (issue.path, issue.line, issue.source) == (path, line, "r.yaml")
    text = str(issue)
    for word in words:
        assert word in text, text


def test_missing_section_has_no_line_but_names_the_section() -> None:
    issue = only_issue(VALID.replace("data:\n  source: digits\n  val_fraction: 0.2\n", ""))
    assert issue.path == "data" and issue.line is None
    assert "missing" in issue.message and issue.hint is not None and "source:" in issue.hint


def test_missing_layer_field_points_at_the_layer() -> None:
    issue = only_issue(VALID.replace("{type: linear, out: 10}", "{type: linear}"))
    assert issue.path == "model.layers.2.out" and issue.line == 11


def test_every_mistake_is_reported_at_once_in_file_order() -> None:
    text = VALID.replace("lr: 1e-3", "lrr: 1e-3").replace("epochs: 3", "epochs: 0").replace("out: 32", "out: x")
    issues = issues_of(text)
    assert [(issue.path, issue.line) for issue in issues] == [
        ("model.layers.0.out", 9),
        ("optimizer.lrr", 15),
        ("train.epochs", 19),
    ]
    message = str(RecipeError(issues, source="r.yaml"))
    assert message.startswith("r.yaml: 3 problems") and "r.yaml:15:3: optimizer.lrr" in message


def test_override_is_applied() -> None:
    loaded = parse_recipe(VALID, overrides=["optimizer.lr=0.01", "train.epochs=7", "model.layers.0.out=64"])
    assert loaded.recipe.optimizer.lr == 0.01 and loaded.recipe.train.epochs == 7
    assert loaded.recipe.model.layers is not None and loaded.recipe.model.layers[0].out == 64  # type: ignore[union-attr]
    assert loaded.overrides == ("optimizer.lr=0.01", "train.epochs=7", "model.layers.0.out=64")


def test_override_can_set_a_mapping_and_create_a_section() -> None:
    loaded = parse_recipe(VALID, overrides=["data.augment={flip: horizontal}", "regularization.l1=1e-5"])
    assert loaded.recipe.data.augment is not None and loaded.recipe.data.augment.flip == "horizontal"
    assert loaded.recipe.regularization.l1 == 1e-5


def test_override_of_unknown_key_gets_did_you_mean_and_source_set() -> None:
    issue = only_issue(VALID, ("optimizer.lrr=1",))
    assert (issue.path, issue.source, issue.line) == ("optimizer.lrr", "--set", None)
    assert issue.hint == "did you mean `lr`?"


def test_override_with_wrong_type() -> None:
    issue = only_issue(VALID, ("train.epochs=abc",))
    assert (issue.path, issue.source) == ("train.epochs", "--set")
    assert "whole number" in issue.message and issue.found == '"abc"'


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("optimizer.lr", "needs `=`"),
        ("optimizer..lr=1", "not a dotted key"),
        ("model.layers.7.out=3", "has 3 items"),
        ("optimizer.lr.x=1", "not a section"),
        ("model.layers.type=relu", "is a list"),
    ],
)
def test_malformed_override_is_named(override: str, words: str) -> None:
    issue = only_issue(VALID, (override,))
    assert issue.source == "--set" and words in issue.message and override in (issue.found or "")


def test_override_errors_and_file_errors_come_together() -> None:
    issues = issues_of(VALID.replace("lr: 1e-3", "lr: 0"), ("train.epochs=abc",))
    assert [(issue.path, issue.source) for issue in issues] == [("optimizer.lr", "r.yaml"), ("train.epochs", "--set")]


def test_round_trip_of_the_resolved_recipe() -> None:
    recipe = parse_recipe(VALID, overrides=["optimizer.eps=1e-8", "name=on"]).recipe
    text = recipe_to_yaml(recipe)
    assert "lr: 0.001" in text and "eps: 1.0e-08" in text and 'name: "on"' in text
    assert "    - {type: linear, out: 32, bias: true}" in text
    assert parse_recipe(text).recipe == recipe


def test_round_trip_of_nested_layers_and_factory_args(tmp_path: Path) -> None:
    (tmp_path / "nets_round_trip.py").write_text("def make(width=1, names=(), extra=None):\n    return None\n")
    text = VALID.replace(
        "  layers:\n    - {type: linear, out: 32}\n    - {type: relu}\n    - {type: linear, out: 10}\n",
        "  factory: nets_round_trip:make\n  args: {width: 3, names: [a, 'on'], extra: {'k: v': 1.5e-7}}\n",
    )
    recipe = parse_recipe(text, directory=tmp_path).recipe
    assert parse_recipe(recipe_to_yaml(recipe), directory=tmp_path).recipe == recipe
    nested = VALID.replace(
        "    - {type: relu}\n",
        "    - type: residual\n      layers: [{type: linear, out: 32}, {type: gelu}]\n      activation: relu\n",
    )
    recipe = parse_recipe(nested).recipe
    assert parse_recipe(recipe_to_yaml(recipe)).recipe == recipe


def test_missing_file_and_folder_are_errors_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "digits.yaml").write_text(VALID)
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "digts.yaml")
    assert "not found" in str(caught.value) and "digits.yaml" in str(caught.value)
    with pytest.raises(RecipeError, match="is a folder") as caught:
        load_recipe(tmp_path)
    assert isinstance(caught.value, DlcheckError) and caught.value.exit_code == 2


@pytest.mark.parametrize(("text", "words"), [("", "empty"), ("- a\n- b\n", "found a list"), ("7\n", "single value")])
def test_recipe_must_be_a_mapping(text: str, words: str) -> None:
    assert words in only_issue(text).message


def test_json_schema_describes_the_sections() -> None:
    schema = recipe_json_schema()
    assert {"data", "model", "optimizer"} <= set(schema["properties"])
    assert schema["required"] == ["data", "model"]


# ------------------------------------------------------------------------- hostile files and numbers


def test_recipe_that_is_a_device_or_fifo_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "recipe.yaml"
    os.mkfifo(fifo)  # nobody writes: opening it would block forever
    with within_seconds(20), pytest.raises(RecipeError, match="not a regular file"):
        load_recipe(fifo)
    if Path("/dev/zero").exists():  # an endless file: reading it grew to GBs
        with within_seconds(20), pytest.raises(RecipeError, match="not a regular file"):
            load_recipe("/dev/zero")


def test_recipe_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024**3)  # sparse: 50 GB to stat, nothing on disk
    with within_seconds(20), pytest.raises(RecipeError, match=r"bytes; a recipe is at most 1,000,000 characters"):
        load_recipe(big)


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("lr: 1e-3", "lr: 1e999", "optimizer.lr", "finite"),  # infinity passed `recipe check` (issue 12)
        ("lr: 1e-3", "lr: -.inf", "optimizer.lr", "finite"),
        ("lr: 1e-3", "lr: .nan", "optimizer.lr", "finite"),
        ("lr: 1e-3", "lr: 1.0e+38", "optimizer.lr", "±1e+12"),  # Adam overflowed float32 at this rate
        ("weight_decay: 1e-4", "weight_decay: 1e-320", "optimizer.weight_decay", "float32 cannot hold it"),
        ("seed: 0", "seed: 100000000000000000000", "seed", "32-bit integer"),
        ("out: 32}", "out: 10000000000}", "model.layers.0.out", "32-bit integer"),
        ("epochs: 3", "epochs: 2147483648", "train.epochs", "32-bit integer"),
        ("val_fraction: 0.2", "val_fraction: .nan", "data.val_fraction", "finite"),
    ],
)
def test_numbers_outside_sane_ranges_are_refused_with_the_key(old: str, new: str, key: str, words: str) -> None:
    assert old in VALID
    issue = only_issue(VALID.replace(old, new, 1))
    assert issue.path == key and words in issue.message and issue.line is not None


def test_list_items_out_of_range_name_the_item() -> None:
    issue = only_issue(VALID.replace("{name: cosine,", "{name: multistep, milestones: [2, 99999999999],"))
    assert issue.path == "schedule.milestones.1" and issue.found == "99999999999"


@pytest.mark.parametrize(
    ("override", "words"),
    [("optimizer.lr=1e999", "finite"), ("optimizer.lr=.inf", "finite"), ("train.epochs=9999999999999", "32-bit")],
)
def test_numbers_from_overrides_are_checked_too(override: str, words: str) -> None:
    issue = only_issue(VALID, (override,))
    assert issue.source == "--set" and words in issue.message


def test_numbers_at_the_edges_of_the_ranges_are_accepted() -> None:
    recipe = parse_recipe(
        VALID,
        overrides=["seed=2147483647", "optimizer.lr=1e12", "optimizer.weight_decay=1e-30", "regularization.l1=0.0"],
    ).recipe
    assert recipe.seed == 2**31 - 1 and recipe.optimizer.lr == 1e12 and recipe.optimizer.weight_decay == 1e-30


def test_factory_args_are_the_users_business() -> None:
    text = VALID.replace(
        "model:\n  layers:\n    - {type: linear, out: 32}\n    - {type: relu}\n    - {type: linear, out: 10}\n",
        "model: {factory: 'my_nets:make', args: {big: 100000000000000000000, tiny: 1e-320}}\n",
    )
    assert parse_recipe(text, check_factories=False).recipe.model.args["big"] == 10**20
