"""``image_folder``: a lazy Dataset over one subfolder per class, read through a DataLoader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import io

from dlcheck.data import LoaderBatcher, make_batcher
from dlcheck.data.image_folder import ImageFolderDataset
from dlcheck.errors import DataError

from .conftest import CPU, load


def _write_images(root: Path, sizes: dict[str, list[tuple[int, int]]], *, gray_first: bool = False) -> None:
    generator = np.random.default_rng(0)
    for class_name, shapes in sizes.items():
        (root / class_name).mkdir(parents=True)
        for index, (height, width) in enumerate(shapes):
            if gray_first and index == 0:
                image = generator.integers(0, 256, (height, width), dtype=np.uint8)
            else:
                image = generator.integers(0, 256, (height, width, 3), dtype=np.uint8)
            io.imsave(root / class_name / f"{index:03d}.png", image, check_contrast=False)


def test_same_size_images_load_lazily(tmp_path: Path) -> None:
    _write_images(tmp_path / "images", {"cat": [(6, 6)] * 4, "dog": [(6, 6)] * 4}, gray_first=True)
    bundle = load(tmp_path, source="image_folder", path="images", val_fraction=0.25)
    assert isinstance(bundle.train, ImageFolderDataset) and not bundle.in_memory
    assert bundle.input_shape == (3, 6, 6) and bundle.class_names == ["cat", "dog"] and bundle.num_classes == 2
    assert len(bundle.train) == 6 and len(bundle.val) == 2  # type: ignore[arg-type]
    assert bundle.describe()["val_class_counts"] == [1, 1]  # stratified over the file list
    image, label = bundle.train[0]
    assert (
        image.shape == (3, 6, 6) and image.dtype == torch.float32 and 0 <= float(image.min()) <= float(image.max()) <= 1
    )
    assert label in (0, 1)
    assert bundle.normalization is not None and bundle.normalization.mean.shape == (3, 1, 1)
    batcher = make_batcher(
        bundle.train, batch_size=4, shuffle=True, seed=0, device=CPU, normalization=bundle.normalization
    )
    assert isinstance(batcher, LoaderBatcher)
    batches = list(batcher.epoch(0))
    assert [tuple(inputs.shape) for inputs, _ in batches] == [(4, 3, 6, 6), (2, 3, 6, 6)]
    assert batches[0][1].dtype == torch.int64


def test_different_sizes_need_image_size(tmp_path: Path) -> None:
    _write_images(tmp_path / "images", {"a": [(6, 6), (8, 5)], "b": [(6, 6)]})
    with pytest.raises(DataError, match=r"data\.image_size: the images in .* differ in size .*set `image_size: N`"):
        load(tmp_path, source="image_folder", path="images")
    bundle = load(tmp_path, source="image_folder", path="images", image_size=4, grayscale=True, val_fraction=0.0)
    assert bundle.input_shape == (1, 4, 4)
    assert [tuple(bundle.train[index][0].shape) for index in range(3)] == [(1, 4, 4)] * 3


def test_tensor_loader_is_refused_for_files(tmp_path: Path) -> None:
    _write_images(tmp_path / "images", {"a": [(5, 5)] * 2, "b": [(5, 5)] * 2})
    bundle = load(tmp_path, source="image_folder", path="images")
    with pytest.raises(DataError, match=r"data\.loader: tensor slices tensors held in memory"):
        make_batcher(bundle.train, batch_size=2, shuffle=False, seed=0, device=CPU, loader="tensor")


def test_folder_without_class_subfolders(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match="has no subfolders; image_folder expects one subfolder per class"):
        load(tmp_path, source="image_folder", path="images")


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:
    # An image whose header declares huge dimensions is refused at scan time, before any pixel is decoded.
    import struct
    import zlib

    _write_images(tmp_path / "images", {"cat": [(6, 6)] * 2, "dog": [(6, 6)] * 2})
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
    (tmp_path / "images" / "dog" / "huge.png").write_bytes(huge + chunk(b"IEND", b""))
    with pytest.raises(DataError, match=r"huge\.png: over the limit of 100 megapixels per image"):
        load(tmp_path, source="image_folder", path="images", image_size=6)
    (tmp_path / "images" / "dog" / "huge.png").unlink()
    monkeypatch.setenv("DLCHECK_MAX_IMAGE_PIXELS", "30")  # 6x6 = 36 pixels
    with pytest.raises(DataError, match="DLCHECK_MAX_IMAGE_PIXELS"):
        load(tmp_path, source="image_folder", path="images")
