"""Image loading errors (exit code 2) and overlay drawing."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from dlcheck.errors import InputError
from dlcheck.keypoints import BUNDLED_IMAGES, draw_overlay, load_image, validate_image
from dlcheck.limits import MAX_IMAGE_PIXELS_VARIABLE
from tests.bounded import within_seconds


def test_bundled_images_load_without_network() -> None:
    for name in ("camera", "astronaut", "checkerboard", "horse", "logo"):
        image, source = load_image(name)
        assert source == f"skimage.data.{name}" and image.ndim in (2, 3)
    assert "eagle" not in BUNDLED_IMAGES  # needs a pooch download


def test_missing_name_suggests_bundled_images() -> None:
    with pytest.raises(InputError, match="did you mean 'camera'") as caught:
        load_image("camra")
    assert caught.value.exit_code == 2


def test_missing_path_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file; check the path"):
        load_image(str(tmp_path / "missing.png"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read as an image"):
        load_image(str(broken))
    with pytest.raises(InputError, match="directory"):
        load_image(str(tmp_path))


def test_image_files_are_read_and_validated(tmp_path: Path) -> None:
    from skimage.io import imsave

    path = tmp_path / "square.png"
    image = np.zeros((16, 16), dtype=np.uint8)
    image[4:12, 4:12] = 255
    imsave(path, image, check_contrast=False)
    loaded, source = load_image(str(path))
    np.testing.assert_array_equal(loaded, image)
    assert source == str(path)
    nan_image = tmp_path / "nan.npy"
    np.save(nan_image, np.full((8, 8), np.nan))
    with pytest.raises(InputError, match="NaN or inf"):
        load_image(str(nan_image))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((0, 5)), "empty"),
        (np.zeros((1, 1)), "need at least 3x3"),
        (np.zeros((2, 8, 3)), "need at least 3x3"),
        (np.zeros((5, 5, 5)), "unsupported image shape"),
        (np.array([[np.inf] * 4] * 4), "NaN or inf"),
        (np.full((4, 4), "a"), "unsupported pixel type"),
    ],
)
def test_validate_image_rejects_bad_arrays(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_image(array, "test")


def test_overlay_colours_keypoints_and_clips_to_bounds() -> None:
    image = np.linspace(0, 1, 20 * 30).reshape(20, 30)
    coords = np.array([[10.0, 15.0], [0.0, 0.0], [19.0, 29.0]])
    for marker in ("circle", "cross"):
        overlay = draw_overlay(image, coords, color=(0, 0, 255), radius=4, marker=marker)  # type: ignore[arg-type]
        assert overlay.shape == (20, 30, 3) and overlay.dtype == np.uint8
        for row, col in coords.astype(int):
            assert overlay[row, col].tolist() == [0, 0, 255]
    untouched = draw_overlay(np.zeros((5, 5), dtype=np.uint8), np.zeros((0, 2)))
    assert untouched.shape == (5, 5, 3) and not untouched.any()
    with pytest.raises(ValueError, match="marker"):
        draw_overlay(image, coords, marker="star")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ hostile images (issue 12)


def _png(width: int, height: int, color_type: int = 0, body: bytes | None = None) -> bytes:
    """A PNG built by hand, so its header can declare any size; ``body`` replaces the real pixel rows."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    channels = {0: 1, 4: 2, 6: 4}[color_type]
    rows = body if body is not None else b"".join(b"\x00" + bytes(range(width * channels)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (2**31 - 1, 3), (12_000, 9_000)])
def test_huge_declared_dimensions_are_refused_from_the_header(tmp_path: Path, width: int, height: int) -> None:
    # 100000x100000 used 6.8 GB and died with a traceback (issue 12); only a few rows really follow the header.
    path = tmp_path / "huge.png"
    path.write_bytes(_png(width, height, body=b"\x00" * 4096))
    with pytest.raises(InputError, match=rf"huge\.png: the image declares {width * height / 1e6:,.0f} megapixels"):
        load_image(str(path))


def test_the_pixel_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "small.png"
    path.write_bytes(_png(40, 30))
    assert load_image(str(path))[0].shape == (30, 40)
    with pytest.raises(InputError, match=r"over the limit of 0\.001 megapixels"):
        load_image(str(path), max_pixels=1_000)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_VARIABLE, "1000")
    with pytest.raises(InputError, match=MAX_IMAGE_PIXELS_VARIABLE):
        load_image(str(path))
    assert load_image(str(path), max_pixels=1_200)[0].shape == (30, 40)  # the argument wins over the variable


def test_pillows_bomb_check_is_kept_and_restored(tmp_path: Path) -> None:
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(3_000, 2_000, body=b"\x00" * 3_001 * 2_000))  # a real 6-megapixel all-black image
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning must not pass silently either
        with pytest.raises(InputError, match="decompression-bomb check"):
            load_image(str(path), max_pixels=1_000_000)
    assert before == Image.MAX_IMAGE_PIXELS


def test_grey_and_alpha_png_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    path.write_bytes(_png(16, 12, color_type=4))
    image, _ = load_image(str(path))
    assert image.shape == (12, 16) and image.dtype == np.uint8
    assert image[0].tolist() == list(range(0, 32, 2))  # the grey channel (even bytes), not the alpha
    assert validate_image(np.zeros((5, 5, 2), dtype=np.uint8), "la").shape == (5, 5)


def test_fifo_and_devices_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with within_seconds(20), pytest.raises(InputError, match="not a regular file"):
        load_image(str(fifo))
    if Path("/dev/zero").exists():
        with within_seconds(20), pytest.raises(InputError, match="not a regular file"):
            load_image("/dev/zero")


def test_npy_header_is_checked_before_numpy_allocates(tmp_path: Path) -> None:
    import struct

    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (200000, 200000), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    path = tmp_path / "huge.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 64)
    with pytest.raises(InputError, match="megapixels"):
        load_image(str(path))
    np.save(tmp_path / "short.npy", np.zeros((40, 40)))
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes((tmp_path / "short.npy").read_bytes()[:500])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_image(str(truncated))


@pytest.mark.parametrize(
    "content",
    [b"print('hello')\n", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, bytes(range(256)) * 8],
    ids=["python", "empty", "truncated_png", "binary"],
)
def test_non_images_get_one_clean_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "not_an_image.png"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_image(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read as an image")
    assert "\n" not in message and " at 0x" not in message and "<" not in message
