"""Read scalars from TensorBoard event files, fast.

An event file is a TFRecord stream: ``uint64 length, uint32 masked CRC of the length, the bytes of an
Event protocol buffer, uint32 masked CRC of the bytes``. We read the framing with :mod:`struct` from one
in-memory copy of the file and parse each record with tensorboard's own ``Event`` class (the C ``upb``
parser), keeping only scalar summaries: ``simple_value`` (PyTorch's SummaryWriter, Lightning, Hugging
Face) and scalar tensors of the ``scalars`` plugin (TF2 / Keras ``tf.summary.scalar``). What
``EventAccumulator`` adds on top - reservoir sampling, plugin migrations, per-event Python objects - is
what makes it slow, and none of it is needed here (``benchmarks/curves.py`` measures both).

Like TensorBoard, a step logged again replaces what was logged from that step on (a resumed run), and a
``SessionLog.START`` event (``SummaryWriter(purge_step=...)``) drops what was logged at or after its
step. CRCs are not checked; a record cut short at the end of a file (a run still writing, or killed)
ends that file quietly.

Folders named like splits (``train/``, ``validation/`` - Keras' layout) are read as one run, their tags
prefixed with the folder name (``validation/epoch_loss``).
"""

from __future__ import annotations

__all__ = ["SPLIT_FOLDERS", "is_event_file", "read_event_files", "read_tensorboard_run"]

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlcheck.curves.log_run import LogRun, RunFacts, assemble_series, epochs_from_series
from dlcheck.curves.safe_io import MAX_FILE_BYTES, read_bytes
from dlcheck.curves.series import Series
from dlcheck.errors import InputError

SPLIT_FOLDERS = frozenset({"train", "training", "validation", "val", "valid", "eval", "evaluation", "test"})
_HEADER = struct.Struct("<QI")
_EVENT_FILE_MARK = "tfevents"
# TensorFlow DataType enum values of scalar dtypes -> which field of TensorProto holds the value.
_TENSOR_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 9: "int64_val", 19: "half_val", 14: "half_val"}
_CONTENT_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}
_SESSION_START = 1  # SessionLog.START


def is_event_file(path: Path) -> bool:
    """``events.out.tfevents.*`` (TensorBoard's own test for event files)."""
    return _EVENT_FILE_MARK in path.name and path.name.startswith("events")


class _Collector:
    """Scalar values per tag in logging order, with TensorBoard's purge rules."""

    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}
        self.values: dict[str, list[float]] = {}
        self.scalar_tags: dict[str, bool] = {}  # tensor tags: is it a scalar summary?
        self.notes: list[str] = []
        self.repeated = 0  # values logged again at an earlier or equal step (a resumed run)

    def add(self, tag: str, step: int, value: float) -> None:
        steps = self.steps.get(tag)
        if steps is None:
            self.steps[tag], self.values[tag] = [step], [value]
            return
        if step <= steps[-1]:
            self.repeated += 1
        steps.append(step)
        self.values[tag].append(value)

    def purge_from(self, step: int) -> None:
        for tag, steps in self.steps.items():
            if steps and steps[-1] >= step:
                keep = [index for index, logged in enumerate(steps) if logged < step]
                self.steps[tag] = [steps[index] for index in keep]
                self.values[tag] = [self.values[tag][index] for index in keep]


def _tensor_scalar(tensor: Any) -> float | None:
    if len(tensor.tensor_shape.dim):  # not a scalar (histograms, images, text are not either)
        return None
    dtype = tensor.dtype
    field = _TENSOR_FIELDS.get(dtype)
    if field is None:
        return None
    listed = getattr(tensor, field)
    if len(listed):
        if field == "half_val":  # float16/bfloat16 bits stored in an int
            bits = np.array([listed[0]], dtype=np.uint16)
            return (
                float(bits.view(np.float16)[0])
                if dtype == 19
                else float((bits.astype(np.uint32) << 16).view(np.float32)[0])
            )
        return float(listed[0])
    content = tensor.tensor_content
    if content and dtype in _CONTENT_DTYPES:
        return float(np.frombuffer(content, dtype=_CONTENT_DTYPES[dtype])[0])
    return None


def _read_file(path: Path, collector: _Collector, prefix: str) -> None:
    from tensorboard.compat.proto.event_pb2 import Event  # tensorboard is a dependency; imported on use

    data, truncated = read_bytes(path)
    if truncated:
        collector.notes.append(f"{path.name}: only the first {MAX_FILE_BYTES // (1024 * 1024)} MiB were read")
    damaged = 0
    view = memoryview(data)
    offset, end = 0, len(data)
    parse = Event.FromString
    header_size = _HEADER.size
    while offset + header_size <= end:
        length, _ = _HEADER.unpack_from(data, offset)
        start = offset + header_size
        stop = start + length
        if stop + 4 > end:  # cut short: a run still writing, or killed mid-record
            break
        offset = stop + 4
        try:
            event = parse(view[start:stop])
        except Exception:  # a damaged record: skip it, as TensorBoard does
            damaged += 1
            continue
        if event.HasField("summary"):
            step = event.step
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                tag = prefix + value.tag
                if kind == "simple_value":
                    collector.add(tag, step, value.simple_value)
                elif kind == "tensor":
                    known = collector.scalar_tags.get(tag)
                    if known is None:
                        plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
                        known = plugin in ("", "scalars")
                        collector.scalar_tags[tag] = known
                    if known:
                        number = _tensor_scalar(value.tensor)
                        if number is not None:
                            collector.add(tag, step, number)
        elif event.HasField("session_log") and event.session_log.status == _SESSION_START:
            collector.purge_from(event.step)
    if damaged or offset < end:
        collector.notes.append(
            f"{path.name}: {damaged} damaged record(s) skipped" + (", the last one cut short" if offset < end else "")
        )


def read_event_files(
    files: Sequence[tuple[Path, str]], *, units_by_prefix: bool = False, notes: list[str] | None = None
) -> list[Series]:
    """Scalar series from event files, read in the order given.

    Parameters
    ----------
    files : sequence of (path, prefix)
        Event files and the prefix their tags get (``"validation/"`` for Keras' folder, else ``""``).
    units_by_prefix : bool
        Keras names epoch-level tags ``epoch_*``: their steps count epochs.
    notes : list of str, optional
        Receives what was odd about the files (damaged records, values logged again).

    Returns
    -------
    list of Series
        One per tag, sorted by name.
    """
    collector = _Collector()
    for path, prefix in files:
        _read_file(path, collector, prefix)
    if notes is not None:
        notes.extend(collector.notes)
        if collector.repeated:
            notes.append(
                f"{collector.repeated} value(s) were logged again at an earlier or equal step (a resumed run): "
                "later values replace earlier ones, as in TensorBoard"
            )
    series = []
    for tag in sorted(collector.steps):
        units = "step"
        if units_by_prefix and tag.rsplit("/", 1)[-1].startswith("epoch_"):
            units = "epoch"
        series.append(assemble_series(tag, collector.steps[tag], collector.values[tag], units))
    return series


def read_tensorboard_run(directory: Path, files: Sequence[tuple[Path, str]], *, name: str) -> LogRun:
    """One run from its event files (those of ``directory`` and, for Keras, of its split folders).

    Examples
    --------
    >>> import tempfile
    >>> from tensorboard.summary.writer.event_file_writer import EventFileWriter
    >>> from tensorboard.compat.proto import event_pb2, summary_pb2
    >>> folder = Path(tempfile.mkdtemp())
    >>> writer = EventFileWriter(str(folder))
    >>> for step in range(3):
    ...     summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))])
    ...     writer.add_event(event_pb2.Event(step=step, summary=summary))
    >>> writer.close()
    >>> run = read_tensorboard_run(folder, [(path, "") for path in folder.iterdir()], name="demo")
    >>> run.series[0].name, run.series[0].values.round(2).tolist()
    ('loss', [1.0, 0.5, 0.33])
    """
    ordered = sorted(files, key=lambda item: (item[1], item[0].name))
    keras = any(prefix for _, prefix in ordered)
    facts = RunFacts()
    try:
        series = read_event_files(ordered, units_by_prefix=keras, notes=facts.notes)
    except OSError as error:
        raise InputError(f"{error.filename}: cannot read the event file ({error.strerror}).") from error
    for epoch_name in ("epoch", "train/epoch"):  # Lightning logs `epoch`, Hugging Face `train/epoch`
        epoch_series = next((item for item in series if item.name == epoch_name), None)
        if epoch_series is not None and epoch_series.points >= 2:
            table_steps, table_epochs, per_epoch = epochs_from_series(epoch_series.steps, epoch_series.values)
            facts.epoch_steps, facts.epoch_values = table_steps, table_epochs
            if per_epoch is not None:
                facts.steps_per_epoch, facts.steps_per_epoch_source = per_epoch, f"the `{epoch_name}` series"
            break
    return LogRun(name, directory, "keras" if keras else "tensorboard", series, facts)
