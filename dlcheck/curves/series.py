"""A logged scalar series, and how series are mapped to roles (train/val x loss/accuracy) by name.

Every tool names things its own way: Keras ``epoch_loss`` under ``train/`` and ``validation/``, Hugging
Face ``train/loss`` and ``eval/loss``, Lightning ``train_loss_step`` and ``val_acc``, plain loops
``Loss/train``. A name is split into lowercase words (on ``/ _ - . @`` and camelCase) and the words decide:

- the **metric**: a word of :data:`LOSS_WORDS` or :data:`ACCURACY_WORDS`;
- the **split**: a word of :data:`TRAIN_WORDS` or :data:`VALIDATION_WORDS` (``test`` only when no
  validation series exists), training when there is none (Keras' ``loss`` and ``accuracy``);
- names with a word of :data:`IGNORED_WORDS` (learning rate, gradient norm, runtime ...) are not used.

When several series claim one role, the one with the fewest unexplained words wins (``loss`` beats
``kl_loss``), then the one with the most points (per-step ``train_loss_step`` beats ``train_loss_epoch``).
``--train``/``--val`` overrides name the series for a role directly.

A tool that logs a quantity per step and per epoch (Lightning ``train_loss_step``/``train_loss_epoch``, Keras
``batch_loss``/``epoch_loss``) gives two series for one role: the per-step one is chosen (noise, spikes and
periodicity live there) and the per-epoch one is kept as its **aggregate** (:attr:`Mapping.aggregates`), on
which the trend and the level are judged (issue 11, 2.5).
"""

from __future__ import annotations

__all__ = [
    "ACCURACY_WORDS",
    "IGNORED_WORDS",
    "LOSS_WORDS",
    "ROLES",
    "TRAIN_WORDS",
    "VALIDATION_WORDS",
    "WEAK_VALIDATION_WORDS",
    "Mapping",
    "MappingRow",
    "NameClass",
    "Role",
    "Series",
    "classify_name",
    "map_series",
    "name_words",
    "parse_override",
    "role_label",
]

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["train_loss", "val_loss", "train_accuracy", "val_accuracy"]
ROLES: tuple[Role, ...] = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")

LOSS_WORDS = frozenset({"loss", "nll", "xent", "crossentropy", "objective", "cost"})
ACCURACY_WORDS = frozenset({"acc", "accuracy", "top1"})
TRAIN_WORDS = frozenset({"train", "training", "trn"})
VALIDATION_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev", "holdout"})
TEST_WORDS = frozenset({"test", "testing"})
WEAK_VALIDATION_WORDS = frozenset({"metrics"})
"""Words that mean validation only when no split word is given: Ultralytics logs its validation metrics as
``metrics/accuracy_top1`` and ``metrics/mAP50(B)`` beside ``train/loss`` and ``val/loss``."""
_STEP_WORDS = frozenset({"step", "batch"})
_EPOCH_WORDS = frozenset({"epoch"})
# Words that say how a value was aggregated, or describe the metric, without changing what it is.
NEUTRAL_WORDS = frozenset(
    {"epoch", "step", "batch", "mean", "avg", "average", "sparse", "categorical", "binary", "total", "running", "on"}
)
IGNORED_WORDS = frozenset(
    {
        "lr",
        "learning",
        "rate",
        "grad",
        "gradient",
        "norm",
        "runtime",
        "second",
        "seconds",
        "samples",
        "flos",
        "time",
        "memory",
        "scale",
        "weight",
        "weights",
        "param",
        "params",
        "momentum",
        "throughput",
        "tokens",
        "hp",
        "gpu",
        "count",
        "num",
        "size",
    }
)
_SPLIT_RE = re.compile(r"[^0-9A-Za-z]+")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True, eq=False)
class Series:
    """One logged scalar over steps.

    Attributes
    ----------
    name : str
        The name as logged (a TensorBoard tag, a CSV column, a JSON key; Keras' ``train/`` and
        ``validation/`` folders become a prefix).
    steps : ndarray (n,), float64
        Increasing, in the log's own units.
    values : ndarray (n,), float64
        May hold NaN and +-inf (a non-finite logged value, not a missing one).
    units : str
        What a step counts: ``step`` (optimiser steps), ``epoch``, or ``row`` (no step column).
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    units: str = "step"

    def __post_init__(self) -> None:
        if self.steps.shape != self.values.shape or self.steps.ndim != 1:
            raise ValueError(f"{self.name}: steps {self.steps.shape} and values {self.values.shape} must be (n,)")

    @property
    def points(self) -> int:
        return int(self.values.size)

    @property
    def finite_points(self) -> int:
        return int(np.isfinite(self.values).sum())


@dataclass(frozen=True)
class NameClass:
    """What a series' name says: its split and metric, or why it is not used."""

    split: Literal["train", "val", "test"] | None
    metric: Literal["loss", "accuracy"] | None
    unexplained: int  # words that are neither split, metric nor neutral: fewer is a better match
    split_given: bool  # False when the split was assumed (training)
    ignored_because: str | None = None

    @property
    def role(self) -> Role | None:
        if self.metric is None or self.split is None:
            return None
        split = "val" if self.split == "test" else self.split
        return f"{split}_{self.metric}"  # type: ignore[return-value]


def name_words(name: str) -> list[str]:
    """Lowercase words of a name.

    >>> name_words("Loss/train"), name_words("val_sparse_categorical_accuracy"), name_words("trainLoss@epoch")
    (['loss', 'train'], ['val', 'sparse', 'categorical', 'accuracy'], ['train', 'loss', 'epoch'])
    """
    spaced = _CAMEL_RE.sub(" ", name)
    return [word.lower() for word in _SPLIT_RE.split(spaced) if word]


def classify_name(name: str) -> NameClass:
    """Split and metric of a series name.

    Examples
    --------
    >>> [classify_name(name).role for name in ("epoch_loss", "eval/loss", "val_acc", "train_loss_step", "lr")]
    ['train_loss', 'val_loss', 'val_accuracy', 'train_loss', None]
    >>> classify_name("metrics/accuracy_top1").role, classify_name("metrics/train_acc").role
    ('val_accuracy', 'train_accuracy')
    >>> classify_name("train/learning_rate").ignored_because
    'not a loss or accuracy (learning)'
    """
    words = name_words(name)
    ignored = next((word for word in words if word in IGNORED_WORDS), None)
    if ignored is not None:
        return NameClass(None, None, len(words), False, f"not a loss or accuracy ({ignored})")
    metric: Literal["loss", "accuracy"] | None = None
    split: Literal["train", "val", "test"] | None = None
    unexplained = 0
    for word in words:
        if word in LOSS_WORDS and metric is None:
            metric = "loss"
        elif word in ACCURACY_WORDS and metric is None:
            metric = "accuracy"
        elif word in TRAIN_WORDS:
            split = split or "train"
        elif word in VALIDATION_WORDS:
            split = "val" if split in (None, "train", "test") else split
        elif word in TEST_WORDS:
            split = split or "test"
        elif word in WEAK_VALIDATION_WORDS:
            continue
        elif word not in NEUTRAL_WORDS:
            unexplained += 1
    if split is None and WEAK_VALIDATION_WORDS.intersection(words):
        split = "val"
    if metric is None:
        return NameClass(split, None, unexplained, split is not None, "not a loss or accuracy")
    given = split is not None
    return NameClass(split or "train", metric, unexplained, given)


def role_label(role: str) -> str:
    """``train_loss`` -> ``train loss``."""
    return role.replace("_", " ")


@dataclass(frozen=True)
class MappingRow:
    """One series of a run and what was made of it (a row of the report's mapping table)."""

    name: str
    points: int
    first_step: float | None
    last_step: float | None
    units: str
    role: Role | None
    note: str  # how the role was decided, or why the series is not used


@dataclass(frozen=True)
class Mapping:
    """The series chosen for each role, the other candidates, and the table of every series.

    ``aggregates`` holds, per role, the per-epoch version of a chosen per-step series (same name but for its
    ``step``/``batch`` vs ``epoch`` word): the trend and the level are judged on it, the noise on the steps.
    """

    roles: dict[Role, Series]
    candidates: dict[Role, list[Series]] = field(default_factory=dict)
    rows: list[MappingRow] = field(default_factory=list)
    aggregates: dict[Role, Series] = field(default_factory=dict)

    def get(self, role: Role) -> Series | None:
        return self.roles.get(role)


def _override_role(name: str, split: Literal["train", "val"]) -> Role:
    metric = classify_name(name).metric or "loss"
    return f"{split}_{metric}"  # type: ignore[return-value]


def parse_override(text: str, split: Literal["train", "val"]) -> tuple[Role, str]:
    """``--train NAME`` / ``--train accuracy=NAME`` -> (role, series name).

    >>> parse_override("accuracy=my_acc", "val"), parse_override("objective", "train")
    (('val_accuracy', 'my_acc'), ('train_loss', 'objective'))
    """
    metric, separator, name = text.partition("=")
    if separator and metric.strip() in ("loss", "accuracy"):
        return f"{split}_{metric.strip()}", name.strip()  # type: ignore[return-value]
    return _override_role(text, split), text


def map_series(series: Sequence[Series], overrides: dict[Role, str] | None = None) -> Mapping:
    """Choose one series per role by name conventions; ``overrides`` name the series of a role.

    Examples
    --------
    >>> def make(name, n):
    ...     return Series(name, np.arange(float(n)), np.ones(n))
    >>> mapping = map_series([make("train_loss_step", 50), make("train_loss_epoch", 5), make("val_loss", 5)])
    >>> {role: chosen.name for role, chosen in mapping.roles.items()}
    {'train_loss': 'train_loss_step', 'val_loss': 'val_loss'}
    """
    overrides = overrides or {}
    overridden = {name: role for role, name in overrides.items()}
    classes = {item.name: classify_name(item.name) for item in series}
    has_validation = any(cls.split == "val" and cls.metric for cls in classes.values())
    candidates: dict[Role, list[Series]] = {role: [] for role in ROLES}
    notes: dict[str, str] = {}
    for item in series:
        name_class = classes[item.name]
        role = overridden.get(item.name) or name_class.role
        if role is not None and item.name in overridden:
            notes[item.name] = "named by --" + role.split("_")[0]
        elif role is None:
            notes[item.name] = name_class.ignored_because or "not a loss or accuracy"
            continue
        elif name_class.split == "test" and has_validation:
            notes[item.name] = "not used: a validation series exists (this is the test split)"
            continue
        if item.points < 2:
            notes[item.name] = f"not used: {item.points} point{'s' if item.points != 1 else ''}"
            continue
        candidates[role].append(item)

    def preference(item: Series) -> tuple[int, int, int, int, str]:
        name_class = classes[item.name]
        return (
            0 if item.name in overridden else 1,
            1 if name_class.split == "test" else 0,
            name_class.unexplained,
            -item.points,
            item.name,
        )

    chosen: dict[Role, Series] = {}
    for role in ROLES:
        ranked = sorted(candidates[role], key=preference)
        candidates[role] = ranked
        if ranked and (role not in overrides or ranked[0].name == overrides[role]):
            chosen[role] = ranked[0]
    aggregates: dict[Role, Series] = {}
    for role, picked in chosen.items():
        partner = _aggregate_of(picked, candidates[role])
        if partner is not None:
            aggregates[role] = partner
            notes[partner.name] = f"aggregate of {picked.name}: the trend and level are judged on it"
    rows = []
    for item in series:
        role = next((role for role, picked in chosen.items() if picked is item), None)
        if role is not None:
            name_class = classes[item.name]
            how = notes.get(item.name) or ("by name" if name_class.split_given else "by name (split assumed: train)")
            note = how
        else:
            claimed = next((role for role, listed in candidates.items() if item in listed), None)
            note = notes.get(item.name) or (
                f"not used: {chosen[claimed].name} was chosen as {role_label(claimed)}"
                if claimed is not None and claimed in chosen
                else "not used"
            )
        first = float(item.steps[0]) if item.points else None
        last = float(item.steps[-1]) if item.points else None
        rows.append(MappingRow(item.name, item.points, first, last, item.units, role, note))
    return Mapping(chosen, candidates, rows, aggregates)


def _aggregate_of(picked: Series, candidates: list[Series]) -> Series | None:
    """The per-epoch series logged beside a per-step one (``loss_step``/``loss_epoch``, ``batch_acc``/``epoch_acc``).

    >>> step = Series("train_loss_step", np.arange(10.0), np.ones(10))
    >>> epoch = Series("train_loss_epoch", np.arange(2.0), np.ones(2))
    >>> _aggregate_of(step, [step, epoch]).name, _aggregate_of(epoch, [step, epoch])
    ('train_loss_epoch', None)
    """
    words = name_words(picked.name)
    if not _STEP_WORDS.intersection(words) or _EPOCH_WORDS.intersection(words):
        return None
    core = [word for word in words if word not in _STEP_WORDS]
    for item in candidates:
        other = name_words(item.name)
        same = [word for word in other if word not in _EPOCH_WORDS] == core
        if item is not picked and _EPOCH_WORDS.intersection(other) and same:
            return item
    return None
