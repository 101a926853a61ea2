"""The loaded data of a run: splits, shapes, classes and normalisation, and a summary for the report."""

from __future__ import annotations

__all__ = ["DataBundle", "TensorPair", "split_size"]

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset

from dlcheck.data.normalization import Normalization

if TYPE_CHECKING:
    from dlcheck.data.text import Vocabulary

TensorPair = tuple[torch.Tensor, torch.Tensor]  # (inputs (N, *sample_shape), targets (N, *target_shape))
Split = TensorPair | Dataset


def split_size(split: Split | None) -> int:
    """Number of samples of a split (0 for ``None``)."""
    if split is None:
        return 0
    if isinstance(split, tuple):
        return int(split[0].shape[0])
    return len(split)  # type: ignore[arg-type]


def _class_counts(split: Split | None, num_classes: int) -> list[int] | None:
    # Only where the labels are at hand without reading samples: tensors, or a Dataset's `targets` attribute.
    if split is None:
        return None
    targets = split[1] if isinstance(split, tuple) else getattr(split, "targets", None)
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.ndim != 1:
        return None
    return torch.bincount(targets.cpu(), minlength=num_classes).tolist()


@dataclass
class DataBundle:
    """Everything :func:`dlcheck.data.load_data` found out about the data.

    Attributes
    ----------
    train : TensorPair or Dataset
        ``(inputs (N, *input_shape), targets (N,))`` held in memory, or a map-style Dataset of
        ``(input, target)`` items read on demand.
    val : TensorPair or Dataset or None
        Likewise; ``None`` when ``val_fraction`` is 0 (or a factory returned no validation split).
    input_shape : tuple of int
        One sample, e.g. ``(1, 8, 8)`` for digits, ``(2,)`` for spirals.
    num_classes : int or None
        Number of classes; ``None`` for regression (floating targets).
    class_names : list of str or None
        Names of the classes when known (folder names, string labels, digits).
    normalization : Normalization or None
        Train-split statistics, applied per batch by the batcher; ``None`` for ``normalize: none``.
    source : str
        ``"digits"``, ``"spirals"``, ``"npz"``, ``"image_folder"``, ``"factory"``, ...
    notes : list of str
        Caveats worth a line in the report (e.g. classes counted from a sample of a Dataset).
    sequence : bool
        Token sequences: inputs ``(N, T)`` token ids, targets ``(N, T)`` the token at each next position,
        ``num_classes`` the vocabulary size V; a model outputs ``(N, T, V)`` logits, the class axis last.
    vocabulary : Vocabulary or None
        How token ids map back to text (``text`` source); ``None`` otherwise.
    ignore_index : int or None
        The target id that marks padding in token sequences (``data.ignore_index``).
    """

    train: TensorPair | Dataset
    val: TensorPair | Dataset | None
    input_shape: tuple[int, ...]
    num_classes: int | None
    class_names: list[str] | None
    normalization: Normalization | None
    source: str
    notes: list[str] = field(default_factory=list)
    sequence: bool = False
    vocabulary: Vocabulary | None = None
    ignore_index: int | None = None

    @property
    def vocabulary_size(self) -> int | None:
        """V, the number of token ids, for token sequences; ``None`` otherwise."""
        return self.num_classes if self.sequence else None

    @property
    def input_dtype(self) -> torch.dtype:
        """The dtype of the inputs held in memory (token ids are int64); float32 for Datasets."""
        return self.train[0].dtype if isinstance(self.train, tuple) else torch.float32

    @property
    def in_memory(self) -> bool:
        """Both splits are tensor pairs (so the tensor batcher can slice them on the device)."""
        return isinstance(self.train, tuple) and (self.val is None or isinstance(self.val, tuple))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for the report: sizes, shapes, classes and where the data came from."""
        task = "regression" if self.num_classes is None else "classification"
        summary: dict[str, Any] = {
            "source": self.source,
            "task": "sequence" if self.sequence else task,
            "train_size": split_size(self.train),
            "val_size": split_size(self.val),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "in_memory": self.in_memory,
            "normalization": None,
            "notes": list(self.notes),
        }
        if self.sequence:
            summary["vocabulary_size"] = self.num_classes
            summary["context_length"] = self.input_shape[0] if self.input_shape else None
            summary["tokens"] = self.vocabulary.describe() if self.vocabulary is not None else None
            return summary  # no per-class counts: V of them say nothing a reader needs
        if self.normalization is not None:
            summary["normalization"] = "per channel" if len(self.input_shape) >= 2 else "per feature"
        if self.num_classes is not None:
            summary["train_class_counts"] = _class_counts(self.train, self.num_classes)
            summary["val_class_counts"] = _class_counts(self.val, self.num_classes)
        return summary
