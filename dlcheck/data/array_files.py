"""``npz`` and ``pt`` sources: inputs and targets saved together in one file.

Keys are taken from ``data.inputs`` / ``data.target`` or guessed from the usual names; when neither is found the
message lists the keys the file does hold, which is usually all the user needs to fix the recipe.
"""

from __future__ import annotations

__all__ = ["INPUT_KEYS", "TARGET_KEYS", "read_npz", "read_pt"]

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcheck.data._targets import as_input_tensor, as_target_tensor
from dlcheck.errors import DataError
from dlcheck.limits import check_memory

INPUT_KEYS = ("x", "inputs", "data", "X")
TARGET_KEYS = ("y", "targets", "labels", "target")

ArrayData = tuple[torch.Tensor, torch.Tensor, list[str] | None]


def _pick(keys: list[str], wanted: str | None, candidates: tuple[str, ...], option: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in keys:
            raise DataError(f"data.{option}: {path.name} has no key {wanted!r}; its keys are {keys}")
        return wanted
    for key in candidates:
        if key in keys:
            return key
    raise DataError(
        f"data.{option}: {path.name} has none of the keys {list(candidates)}; its keys are {keys}; "
        f"name the right one with `{option}: KEY`"
    )


def _from_mapping(
    mapping: Mapping[str, Any], *, inputs_key: str | None, target_key: str | None, path: Path
) -> ArrayData:
    keys = [str(key) for key in mapping]
    inputs_name = _pick(keys, inputs_key, INPUT_KEYS, "inputs", path)
    target_name = _pick(keys, target_key, TARGET_KEYS, "target", path)
    inputs = as_input_tensor(mapping[inputs_name], f"data.path ({path.name}), key {inputs_name!r}")
    targets, names = as_target_tensor(mapping[target_name], f"data.path ({path.name}), key {target_name!r}")
    return inputs, targets, names


def _check_npz_sizes(path: Path) -> None:
    """Check what the archive's arrays declare before numpy allocates it.

    An ``.npy`` header states the array's shape; numpy allocates that much and then reads, so a 2 MB archive
    whose header claims 40 GB (a compressed bomb, or plain corruption) would take the memory first. Here
    each header is read (a few hundred bytes), and the declared size is held against the bytes really in
    the archive and against the memory limit.
    """
    import math
    import zipfile

    declared_total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        continue  # numpy itself judges other versions below
                    header_bytes = member.tell()
                declared = math.prod(shape) * dtype.itemsize
                if declared > info.file_size - header_bytes:
                    raise DataError(
                        f"data.path: {path.name}: array {info.filename!r} declares shape {tuple(shape)} of "
                        f"{dtype} ({declared:,} bytes) but holds {info.file_size - header_bytes:,} bytes; the "
                        "archive is truncated or corrupt: write it again with numpy.savez"
                    )
                declared_total += declared
    except DataError:
        raise
    except Exception as error:  # zipfile and numpy raise many kinds for a damaged archive
        raise DataError(
            f"data.path: {path} is not a readable .npz archive ({type(error).__name__}: {error})"
        ) from error
    check_memory(
        declared_total, f"data.path: {path.name} (its arrays, uncompressed)", DataError, "use a smaller data set"
    )


def read_npz(path: Path, *, inputs_key: str | None, target_key: str | None) -> ArrayData:
    """Read inputs and targets from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path : pathlib.Path
        The archive.
    inputs_key, target_key : str or None
        ``data.inputs`` / ``data.target``; ``None`` tries :data:`INPUT_KEYS` / :data:`TARGET_KEYS` in order.

    Returns
    -------
    inputs : torch.Tensor
        ``(N, *sample_shape)`` float32.
    targets : torch.Tensor
        ``(N,)`` int64 labels or ``(N, ...)`` float32 values.
    class_names : list of str or None
        Sorted names when the labels were strings.

    Raises
    ------
    DataError
        When the file is not an archive, is damaged, declares arrays larger than it holds or than the memory
        limit, a key is missing, or an array holds Python objects.
    """
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"PK\x03\x04":  # .npz files are zip archives; numpy's own error here talks of pickles
        raise DataError(
            f"data.path: {path} is not an .npz archive (it does not start like a zip file); write one with "
            "numpy.savez(path, x=inputs, y=targets)"
        )
    _check_npz_sizes(path)
    try:
        archive = np.load(path, allow_pickle=False)  # pickles can run code: never load them
    except Exception as error:
        raise DataError(
            f"data.path: {path} is not a readable .npz archive ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"data.path: {path} holds a single array, not an .npz archive of inputs and targets")
    with archive:
        try:
            return _from_mapping(
                {key: archive[key] for key in archive.files}, inputs_key=inputs_key, target_key=target_key, path=path
            )
        except DataError:
            raise
        except ValueError as error:  # object arrays refused by allow_pickle=False
            raise DataError(
                f"data.path: {path.name} holds Python objects ({error}); save numeric (or string) arrays instead"
            ) from error
        except Exception as error:  # a damaged member: zlib, zipfile and numpy each have their own errors
            raise DataError(
                f"data.path: {path} is not a readable .npz archive ({type(error).__name__}: {error})"
            ) from error


def read_pt(path: Path, *, inputs_key: str | None, target_key: str | None) -> ArrayData:
    """Read inputs and targets saved with ``torch.save``: a dict of tensors or an ``(inputs, targets)`` tuple.

    The file is loaded with ``weights_only=True``, which refuses arbitrary pickled objects.

    Returns
    -------
    inputs, targets, class_names
        As :func:`read_npz`.

    Raises
    ------
    DataError
        When the file cannot be loaded safely or holds something else.
    """
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(
            f"data.path: {path} could not be loaded with torch.load(weights_only=True) "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); save plain tensors, "
            "e.g. torch.save({'x': inputs, 'y': targets}, path)"
        ) from error
    if isinstance(content, Mapping):
        return _from_mapping(content, inputs_key=inputs_key, target_key=target_key, path=path)
    if isinstance(content, (tuple, list)) and len(content) == 2:
        where = f"data.path ({path.name})"
        inputs = as_input_tensor(content[0], f"{where}, item 0")
        targets, names = as_target_tensor(content[1], f"{where}, item 1")
        return inputs, targets, names
    raise DataError(
        f"data.path: {path.name} holds a {type(content).__name__}; expected a dict with inputs and targets "
        "(keys like 'x' and 'y') or an (inputs, targets) tuple"
    )
