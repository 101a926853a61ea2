"""``load_data``: from a recipe's ``data`` section to a :class:`DataBundle`.

Order of work: read or generate the samples, split them (seeded, stratified), compute normalisation statistics
on the train split only, then describe. In-memory sources give tensor pairs on the CPU (the batcher moves them
to the device once); ``image_folder`` and Dataset factories stay lazy.
"""

from __future__ import annotations

__all__ = ["SOURCES", "STATISTICS_SAMPLE", "load_data"]

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcheck.data._dataset_scan import DatasetScan, scan_dataset
from dlcheck.data._paths import resolve_data_path
from dlcheck.data._targets import count_classes
from dlcheck.data.array_files import read_npz, read_pt
from dlcheck.data.augment import augment_is_active, check_augment_shape
from dlcheck.data.bundle import DataBundle, Split, split_size
from dlcheck.data.csv_file import read_csv
from dlcheck.data.digits import load_digits
from dlcheck.data.factory_source import load_factory
from dlcheck.data.image_folder import scan_image_folder
from dlcheck.data.normalization import Normalization, normalization_from_tensor
from dlcheck.data.shapes import make_shapes
from dlcheck.data.split import split_indices
from dlcheck.data.synthetic import make_points
from dlcheck.data.text import read_text_tokens, split_token_stream, token_windows
from dlcheck.errors import DataError
from dlcheck.recipe.schema import FILE_SOURCES, SYNTHETIC_SOURCES, DataConfig

SOURCES = ("digits", *SYNTHETIC_SOURCES, *FILE_SOURCES, "text", "factory")
STATISTICS_SAMPLE = 2048  # Dataset items read for normalisation statistics (and labels, when not exposed)


def _read_in_memory(
    config: DataConfig, *, seed: int, directory: Path
) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    source = config.source
    if source == "digits":
        images, labels, names = load_digits()
        return torch.from_numpy(images), torch.from_numpy(labels), names
    if source == "shapes":
        images, labels, names = make_shapes(
            samples=config.samples, classes=config.classes, image_size=config.image_size, noise=config.noise, seed=seed
        )
        return torch.from_numpy(images), torch.from_numpy(labels), names
    if source in ("spirals", "blobs", "moons", "xor"):
        points, labels = make_points(
            source, samples=config.samples, classes=config.classes, noise=config.noise, seed=seed
        )
        return torch.from_numpy(points), torch.from_numpy(labels), None
    assert source is not None
    path = resolve_data_path(config.path, directory=directory, source=source)
    try:
        if source == "npz":
            return read_npz(path, inputs_key=config.inputs, target_key=config.target)
        if source == "pt":
            return read_pt(path, inputs_key=config.inputs, target_key=config.target)
        if source == "csv":
            return read_csv(path, features=config.features, target=config.target)
    except OSError as error:  # e.g. permissions, or a special file such as /proc/self/mem (EIO)
        raise DataError(f"data.path: cannot read {path}: {error.strerror or error}; check the file") from error
    raise DataError(f"data.source: unknown source {source!r}; choose one of {', '.join(SOURCES)}")  # pragma: no cover


def _labels_for_split(config: DataConfig, targets: torch.Tensor, num_classes: int | None) -> np.ndarray | None:
    # Stratify only what has classes; regression targets get a plain random split.
    return targets.numpy() if config.stratify and num_classes is not None else None


def _from_tensors(
    inputs: torch.Tensor, targets: torch.Tensor, names: list[str] | None, config: DataConfig, *, seed: int, source: str
) -> DataBundle:
    where = f"data.source: {source}"
    if inputs.shape[0] != targets.shape[0]:
        raise DataError(
            f"{where}: {inputs.shape[0]} inputs but {targets.shape[0]} targets; both need one row per sample"
        )
    if inputs.shape[0] == 0:
        raise DataError(f"{where}: the data hold no samples")
    num_classes = count_classes([targets], names, where)
    train_index, val_index = split_indices(
        inputs.shape[0],
        val_fraction=config.val_fraction,
        seed=seed,
        labels=_labels_for_split(config, targets, num_classes),
    )
    train_rows, val_rows = torch.from_numpy(train_index), torch.from_numpy(val_index)
    train = (inputs[train_rows], targets[train_rows])  # (N_train, *input_shape), (N_train, ...)
    val = (inputs[val_rows], targets[val_rows]) if len(val_index) else None
    normalization = None
    if config.normalize == "auto" and inputs.is_floating_point():
        normalization = normalization_from_tensor(train[0])  # train split only: nothing leaks from val
    return DataBundle(
        train=train,
        val=val,
        input_shape=tuple(inputs.shape[1:]),
        num_classes=num_classes,
        class_names=names,
        normalization=normalization,
        source=source,
    )


def _from_image_folder(config: DataConfig, *, seed: int, directory: Path) -> DataBundle:
    root = resolve_data_path(config.path, directory=directory, source="image_folder", folder=True)
    dataset = scan_image_folder(root, image_size=config.image_size, grayscale=config.grayscale)
    labels = dataset.targets.numpy() if config.stratify else None
    train_index, val_index = split_indices(len(dataset), val_fraction=config.val_fraction, seed=seed, labels=labels)
    train = dataset.subset(train_index)
    val = dataset.subset(val_index) if len(val_index) else None
    notes: list[str] = []
    normalization = None
    if config.normalize == "auto":
        scan = scan_dataset(train, seed=seed, limit=STATISTICS_SAMPLE, statistics=True, where="data.path")
        normalization = scan.normalization
        if not scan.exhaustive:
            notes.append(
                f"normalisation statistics from a sample of {STATISTICS_SAMPLE} of {len(train)} training images"
            )
    return DataBundle(
        train=train,
        val=val,
        input_shape=(dataset.channels, *dataset.size),
        num_classes=len(dataset.classes),
        class_names=list(dataset.classes),
        normalization=normalization,
        source="image_folder",
        notes=notes,
    )


def _from_text(config: DataConfig, *, directory: Path) -> DataBundle:
    """Token windows of a text file: the splits are contiguous blocks of the token stream, cut before windowing."""
    assert config.context_length is not None  # a recipe rule requires it for source: text
    path = None if config.path is None else resolve_data_path(config.path, directory=directory, source="text")
    text = read_text_tokens(
        path, tokenizer=config.tokenizer, tokenizer_args=dict(config.tokenizer_args), directory=directory
    )
    length = config.context_length
    stride = config.window_stride or length
    train_tokens, val_tokens = split_token_stream(text.tokens, config.val_fraction)
    train = token_windows(train_tokens, context_length=length, stride=stride)
    if train[0].shape[0] == 0:
        raise DataError(
            f"data.context_length = {length}: the training block of {text.name} has {train_tokens.numel()} tokens, "
            f"fewer than context_length + 1 = {length + 1}; use a shorter context_length or more text"
        )
    val = None
    if config.val_fraction > 0:
        val = token_windows(val_tokens, context_length=length, stride=stride)
        if val[0].shape[0] == 0:
            raise DataError(
                f"data.val_fraction = {config.val_fraction} of the {text.tokens.numel()} tokens of {text.name} leaves "
                f"{val_tokens.numel()} for validation, fewer than context_length + 1 = {length + 1}; use a larger "
                "val_fraction, a shorter context_length, or val_fraction: 0 (no validation)"
            )
    notes = [
        f"{text.tokens.numel():,} tokens ({text.vocabulary.describe()}) from {text.name}; validation is the last "
        f"{val_tokens.numel() if val is not None else 0:,} tokens, one block that shares no text with training"
    ]
    return DataBundle(
        train=train,
        val=val,
        input_shape=(length,),
        num_classes=text.vocabulary.size,
        class_names=None,
        normalization=None,  # token ids are indices, never standardised
        source="text",
        notes=notes,
        sequence=True,
        vocabulary=text.vocabulary,
        ignore_index=config.ignore_index,
    )


def _token_sequences(train: Split, val: Split | None, ignore_index: int | None) -> int | None:
    """The vocabulary size when a factory returns token sequences: integer (N, T) inputs and (N, T) targets.

    Returns ``None`` for anything else (then the targets are class labels or regression values).
    """
    splits = [split for split in (train, val) if split is not None]
    if not all(isinstance(split, tuple) for split in splits):
        return None
    pairs = [split for split in splits if isinstance(split, tuple)]
    for inputs, targets in pairs:
        integer = not inputs.is_floating_point() and not targets.is_floating_point()
        if not (integer and inputs.ndim == 2 and inputs.shape == targets.shape):
            return None
    largest, smallest = 0, 0
    for inputs, targets in pairs:
        counted = targets if ignore_index is None else targets[targets != ignore_index]
        for values in (inputs, counted):
            if values.numel():
                largest, smallest = max(largest, int(values.max())), min(smallest, int(values.min()))
    if smallest < 0:
        hint = "" if ignore_index is not None else "; mark padding targets with data.ignore_index"
        raise DataError(f"data.factory: token ids must be 0, 1, 2, ...; found the id {smallest}{hint}")
    return largest + 1


def _exposed_targets(dataset: Any) -> torch.Tensor | None:
    # torchvision-style datasets expose all labels as `.targets`: exact class counts without reading samples.
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return None
    try:
        tensor = torch.as_tensor(np.asarray(targets))
    except Exception:
        return None
    return tensor if tensor.ndim >= 1 and tensor.shape[0] == len(dataset) else None


def _split_facts(
    split: Split, *, name: str, seed: int, statistics: bool
) -> tuple[tuple[int, ...], torch.Tensor, DatasetScan | None]:
    if isinstance(split, tuple):
        return tuple(split[0].shape[1:]), split[1], None
    scan = scan_dataset(
        split, seed=seed, limit=STATISTICS_SAMPLE, statistics=statistics, where=f"data.factory ({name})"
    )
    exposed = _exposed_targets(split)
    return scan.input_shape, (exposed if exposed is not None else scan.targets), scan


def _from_factory(config: DataConfig, *, seed: int, directory: Path) -> DataBundle:
    assert config.factory is not None
    train, val = load_factory(config.factory, dict(config.args), directory=directory)
    vocabulary_size = _token_sequences(train, val, config.ignore_index)
    if vocabulary_size is not None:
        return DataBundle(
            train=train,
            val=val,
            input_shape=tuple(train[0].shape[1:]),
            num_classes=vocabulary_size,
            class_names=None,
            normalization=None,
            source="factory",
            notes=[f"token sequences: integer inputs and next-token targets, {vocabulary_size} token ids"],
            sequence=True,
            ignore_index=config.ignore_index,
        )
    auto = config.normalize == "auto"
    input_shape, train_targets, train_scan = _split_facts(train, name="train", seed=seed, statistics=auto)
    all_targets = [train_targets]
    notes: list[str] = []
    if val is not None:
        val_shape, val_targets, _ = _split_facts(val, name="val", seed=seed, statistics=False)
        if val_shape != input_shape:
            raise DataError(
                f"data.factory: train inputs have shape {input_shape} but val inputs {val_shape}; they must match"
            )
        if val_targets.is_floating_point() != train_targets.is_floating_point():
            raise DataError(
                f"data.factory: train targets are {train_targets.dtype} but val targets {val_targets.dtype}; "
                "use integer class labels in both (classification) or floats in both (regression)"
            )
        all_targets.append(val_targets)
    names = getattr(train, "classes", None)
    class_names = [str(name) for name in names] if isinstance(names, (list, tuple)) and names else None
    num_classes = count_classes(all_targets, class_names, "data.factory")
    exact = all(
        isinstance(split, tuple) or _exposed_targets(split) is not None for split in (train, val) if split is not None
    )
    if num_classes is not None and not exact:
        notes.append(
            f"number of classes ({num_classes}) read from a sample of at most {STATISTICS_SAMPLE} items per split"
        )
    normalization: Normalization | None = None
    if auto:
        if isinstance(train, tuple):
            normalization = normalization_from_tensor(train[0]) if train[0].is_floating_point() else None
        else:
            assert train_scan is not None
            normalization = train_scan.normalization
            if not train_scan.exhaustive:
                notes.append(
                    f"normalisation statistics from a sample of {STATISTICS_SAMPLE} of {split_size(train)} training items"
                )
        if normalization is None:
            notes.append("integer inputs are not normalised")
    return DataBundle(
        train=train,
        val=val,
        input_shape=input_shape,
        num_classes=num_classes,
        class_names=class_names,
        normalization=normalization,
        source="factory",
        notes=notes,
    )


def load_data(config: DataConfig, *, seed: int, directory: Path) -> DataBundle:
    """Load, split and describe the data named by a recipe's ``data`` section.

    Parameters
    ----------
    config : DataConfig
        The validated ``data`` section.
    seed : int
        The recipe seed; synthetic data, the split and any sampling each derive their own stream from it.
    directory : pathlib.Path
        The recipe's folder: relative ``data.path`` and factory modules are found there.

    Returns
    -------
    DataBundle
        Train and val splits (tensor pairs on the CPU, or Datasets), shapes, classes and the train-split
        normalisation (not applied yet: the batcher applies it per batch on the device).

    Raises
    ------
    DataError
        For anything wrong with the data: missing files, unreadable cells, inconsistent shapes, augmentation
        asked for non-image inputs, ...

    Examples
    --------
    >>> from dlcheck.recipe.schema import DataConfig
    >>> bundle = load_data(DataConfig(source="spirals", samples=300), seed=0, directory=Path("."))
    >>> bundle.input_shape, bundle.num_classes, bundle.describe()["train_size"]
    ((2,), 3, 240)
    """
    directory = Path(directory)
    if config.factory is not None:
        bundle = _from_factory(config, seed=seed, directory=directory)
    elif config.source == "image_folder":
        bundle = _from_image_folder(config, seed=seed, directory=directory)
    elif config.source == "text":
        bundle = _from_text(config, directory=directory)
    else:
        assert config.source is not None
        inputs, targets, names = _read_in_memory(config, seed=seed, directory=directory)
        bundle = _from_tensors(inputs, targets, names, config, seed=seed, source=config.source)
    if config.ignore_index is not None and not bundle.sequence:
        raise DataError(
            f"data.ignore_index = {config.ignore_index}: ignoring a target id works for token sequences (source text, "
            "or a factory returning integer (N, T) inputs and targets), and these data have one label per sample; "
            "remove `ignore_index` (drop unlabelled samples in the data instead)"
        )
    if bundle.sequence and augment_is_active(config.augment):
        raise DataError(
            "data.augment: augmentation works on images, and these data are token ids, which cannot be flipped, "
            "cropped or noised; remove `augment`"
        )
    check_augment_shape(config.augment, bundle.input_shape)
    return bundle
