"""File sources: npz, pt and csv round trips, and the errors a user sees for bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcheck.errors import DataError
from dlcheck.limits import MAX_MEMORY_VARIABLE
from tests.bounded import within_seconds

from .conftest import load


def _arrays(count: int = 40) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(0)
    return generator.normal(size=(count, 3)).astype(np.float32), np.arange(count) % 4


def _all_rows(bundle: object) -> tuple[torch.Tensor, torch.Tensor]:
    train, val = bundle.train, bundle.val  # type: ignore[attr-defined]
    inputs = torch.cat([train[0], val[0]]) if val is not None else train[0]
    targets = torch.cat([train[1], val[1]]) if val is not None else train[1]
    order = inputs[:, 0].argsort()  # undo the split's reordering for the comparison
    return inputs[order], targets[order]


def test_npz_round_trip_with_default_keys(tmp_path: Path) -> None:
    inputs, targets = _arrays()
    np.savez(tmp_path / "train.npz", x=inputs, y=targets)
    bundle = load(tmp_path, source="npz", path="train.npz")
    assert bundle.input_shape == (3,) and bundle.num_classes == 4 and bundle.source == "npz"
    loaded_inputs, loaded_targets = _all_rows(bundle)
    order = np.argsort(inputs[:, 0])
    assert torch.equal(loaded_inputs, torch.from_numpy(inputs[order]))
    assert torch.equal(loaded_targets, torch.from_numpy(targets[order]))


def test_npz_custom_keys_and_regression_targets(tmp_path: Path) -> None:
    inputs, _ = _arrays()
    np.savez(tmp_path / "data.npz", features=inputs, price=inputs.sum(1))
    bundle = load(tmp_path, source="npz", path=str(tmp_path / "data.npz"), inputs="features", target="price")
    assert bundle.num_classes is None and bundle.describe()["task"] == "regression"
    assert bundle.train[1].dtype == torch.float32  # type: ignore[index]


def test_npz_missing_key_lists_the_keys_found(tmp_path: Path) -> None:
    np.savez(tmp_path / "data.npz", pixels=np.zeros((4, 2)), y=np.zeros(4, dtype=int))
    with pytest.raises(
        DataError, match=r"data\.inputs: data\.npz has none of the keys .*its keys are \['pixels', 'y'\]"
    ):
        load(tmp_path, source="npz", path="data.npz")


def test_npz_string_labels_become_sorted_classes(tmp_path: Path) -> None:
    inputs, _ = _arrays(6)
    np.savez(tmp_path / "data.npz", x=inputs, labels=np.array(["dog", "cat", "emu", "dog", "cat", "emu"]))
    bundle = load(tmp_path, source="npz", path="data.npz", val_fraction=0.0)
    assert bundle.class_names == ["cat", "dog", "emu"] and bundle.num_classes == 3
    assert bundle.train[1].tolist() == [1, 0, 2, 1, 0, 2]  # type: ignore[index]


@pytest.mark.parametrize("as_tuple", [False, True])
def test_pt_round_trip(tmp_path: Path, as_tuple: bool) -> None:
    inputs, targets = _arrays()
    content = (
        (torch.from_numpy(inputs), torch.from_numpy(targets))
        if as_tuple
        else {"inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets)}
    )
    torch.save(content, tmp_path / "data.pt")
    bundle = load(tmp_path, source="pt", path="data.pt", val_fraction=0.0)
    assert torch.equal(bundle.train[0], torch.from_numpy(inputs))  # type: ignore[index]
    assert bundle.num_classes == 4


def test_pt_with_anything_else_is_refused(tmp_path: Path) -> None:
    torch.save(torch.zeros(3), tmp_path / "data.pt")
    with pytest.raises(DataError, match=r"data\.pt holds a Tensor; expected a dict"):
        load(tmp_path, source="pt", path="data.pt")


def test_length_mismatch_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "data.npz", x=np.zeros((5, 2)), y=np.zeros(4, dtype=int))
    with pytest.raises(DataError, match="5 inputs but 4 targets"):
        load(tmp_path, source="npz", path="data.npz")


def test_csv_with_string_labels(tmp_path: Path) -> None:
    rows = ["height,width,colour,kind"] + [
        f"{index},{index * 2},{index % 3},{'bcab'[index % 4]}" for index in range(12)
    ]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    bundle = load(tmp_path, source="csv", path="table.csv", val_fraction=0.0)
    assert bundle.input_shape == (3,) and bundle.class_names == ["a", "b", "c"]
    inputs, targets = bundle.train  # type: ignore[misc]
    assert inputs[5].tolist() == [5.0, 10.0, 2.0]
    assert targets[:4].tolist() == [1, 2, 0, 1]


def test_csv_features_and_target_options(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("label,a,b,c\n1,0.5,1.5,9\n0,2.5,3.5,9\n1,4.5,5.5,9\n0,6.5,7.5,9\n")
    bundle = load(tmp_path, source="csv", path="table.csv", target="label", features=["b", "a"], val_fraction=0.5)
    assert bundle.input_shape == (2,) and bundle.num_classes == 2
    train_inputs, _ = bundle.train  # type: ignore[misc]
    assert set(train_inputs[:, 0].tolist()) <= {1.5, 3.5, 5.5, 7.5}


def test_csv_bad_cell_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"table\.csv:3: column 'b' holds 'oops', which is not a number"):
        load(tmp_path, source="csv", path="table.csv")


def test_csv_unknown_column(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match=r"data\.target: table\.csv has no column 'y'; its columns are"):
        load(tmp_path, source="csv", path="table.csv", target="y")


def test_csv_target_among_features_is_refused(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,label\n1,0\n3,1\n")
    with pytest.raises(DataError, match=r"data\.features: lists the target column 'label'"):
        load(tmp_path, source="csv", path="table.csv", features=["a", "label"])


def test_missing_file_names_data_path_and_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"data\.path: 'nowhere\.npz' resolves to .*nowhere\.npz, which does not exist"
    ) as error:
        load(tmp_path, source="npz", path="nowhere.npz")
    assert str(tmp_path.resolve()) in str(error.value)


def test_file_source_without_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.path: source csv reads a file; add `path:`"):
        load(tmp_path, source="csv")


# ------------------------------------------------------------------ hostile data files (issue 12)
# `data.path: /dev/zero` grew to 6 GB in `recipe check`; a FIFO blocked forever; an enormous (here sparse)
# file was read whole; a small .npz whose header claims 40 GB was allocated before it was read.


@pytest.mark.parametrize("source", ["csv", "npz", "pt"])
def test_devices_and_fifos_are_refused_before_reading(tmp_path: Path, source: str) -> None:
    fifo = tmp_path / f"data.{source}"
    os.mkfifo(fifo)
    targets = [fifo.name] + (["/dev/zero"] if Path("/dev/zero").exists() else [])
    for target in targets:
        with within_seconds(20), pytest.raises(DataError, match="not a regular file"):
            load(tmp_path, source=source, path=target)


def test_a_link_to_a_device_is_refused_too(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    (tmp_path / "table.csv").symlink_to("/dev/zero")
    with within_seconds(20), pytest.raises(DataError, match="not a regular file"):
        load(tmp_path, source="csv", path="table.csv")


def test_a_file_over_the_memory_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.write(b"a,b,label\n1,2,0\n")
        handle.truncate(50 * 1024**3)  # sparse: 50 GB to stat, nothing on disk
    with within_seconds(20), pytest.raises(DataError, match=r"data\.path: .*big\.csv \(50\.0 GB.*memory limit"):
        load(tmp_path, source="csv", path="big.csv")


def test_the_memory_limit_is_the_users_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "table.csv").write_text("a,b,label\n" + "1,2,0\n3,4,1\n" * 2000)
    assert load(tmp_path, source="csv", path="table.csv").input_shape == (2,)
    monkeypatch.setenv(MAX_MEMORY_VARIABLE, "0.00001")  # about 10 KB
    with pytest.raises(DataError, match=f"memory limit.*{MAX_MEMORY_VARIABLE}"):
        load(tmp_path, source="csv", path="table.csv")


def _npz_declaring(shape: tuple[int, ...], holding: int) -> bytes:
    import io
    import struct
    import zipfile

    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy + b"\x00" * holding)
        archive.writestr("y.npy", npy + b"\x00" * holding)
    return buffer.getvalue()


def test_npz_whose_header_claims_more_than_it_holds_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bomb.npz").write_bytes(_npz_declaring((100_000, 50_000), 2_000_000))  # claims 40 GB, holds 2 MB
    with within_seconds(20), pytest.raises(DataError, match=r"declares shape \(100000, 50000\).*truncated or corrupt"):
        load(tmp_path, source="npz", path="bomb.npz")


def test_npz_over_the_memory_limit_is_refused_from_its_headers(tmp_path: Path, monkeypatch) -> None:
    np.savez_compressed(tmp_path / "zeros.npz", x=np.zeros((1000, 100)), y=np.zeros(1000, dtype=int))
    monkeypatch.setenv(MAX_MEMORY_VARIABLE, "0.0005")  # ~500 KB: the 800 KB of zeros compress to almost nothing
    with pytest.raises(DataError, match=r"zeros\.npz \(its arrays, uncompressed\) needs"):
        load(tmp_path, source="npz", path="zeros.npz")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"a,b,label\n1,\xff\xfe,0\n", "not UTF-8 text"),
        (b"a,b,label\n1," + b"x" * 200_000 + b",0\n", "not a readable CSV table"),
        (b"a,b,label\n1,2\x00,0\n", "not a number"),
    ],
    ids=["non_utf8", "giant_field", "nul"],
)
def test_broken_csv_gives_a_data_error(tmp_path: Path, content: bytes, words: str) -> None:
    (tmp_path / "table.csv").write_bytes(content)
    with pytest.raises(DataError, match=words):
        load(tmp_path, source="csv", path="table.csv")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"source": "spirals", "samples": 2_000_000_000}, r"data\.samples: 2,000,000,000 spirals points needs"),
        ({"source": "shapes", "image_size": 100_000}, r"data\.samples x data\.image_size\^2"),
    ],
)
def test_synthetic_data_over_the_memory_limit_is_refused_before_generating(data: dict[str, object], words: str) -> None:
    with within_seconds(20), pytest.raises(DataError, match=words):
        load(**data)
