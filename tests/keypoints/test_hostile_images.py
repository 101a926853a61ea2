"""Hostile images: a corpus of nasty files and hypothesis properties of the image loader (issue 12).

Whatever the bytes, ``load_image`` returns validated pixels or raises one InputError line (exit 2): never a
traceback, a hang, or gigabytes decoded from a header that lies (100000x100000 used 6.8 GB before).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcheck.errors import InputError
from dlcheck.keypoints import load_image
from tests.bounded import within_seconds
from tests.cli_runner import run_cli

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nasty_images"

# file -> None when the image is usable (its shape), else words of the one-line error
EXPECTED: dict[str, tuple[int, ...] | str] = {
    "huge_header.png": "declares 10,000 megapixels",
    "max_header.png": "declares 4,611,686,014,132 megapixels",
    "wide_header.png": "declares 6,442 megapixels",
    "huge_header.bmp": "declares 10,000 megapixels",
    "huge_header.gif": "declares 4,295 megapixels",
    "huge_header.tif": "declares 200000x200000 pixels",
    "huge_header.jpg": "declares 4,290 megapixels",
    "huge_header.npy": "declares 200000x200000 pixels",
    "bomb_150mp.png": "declares 150 megapixels",  # a real 15000x10000 image, 146 KB on disk
    "truncated.png": "cannot read as an image",
    "text.png": "cannot read as an image",
    "empty.png": "cannot read as an image",
    "garbage.png": "cannot read as an image",
    "object.npy": "cannot read as an image",
    "grey_alpha.png": (16, 24),
    "palette.png": (16, 24, 3),
    "sixteen_bit.png": (16, 24),
    "animated.gif": (16, 24),  # the first frame (grey frames: Pillow reads them as "L")
}


def test_the_corpus_and_the_table_agree() -> None:
    assert sorted(path.name for path in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nasty_image(name: str) -> None:
    expected = EXPECTED[name]
    with within_seconds(60):
        if isinstance(expected, tuple):
            image, _ = load_image(str(CORPUS / name))
            assert image.shape == expected
            return
        with pytest.raises(InputError) as caught:
            load_image(str(CORPUS / name))
    message = str(caught.value)
    assert expected in message and "\n" not in message and " at 0x" not in message


def test_nasty_images_on_the_command_line_exit_2_each(capsys, monkeypatch) -> None:
    refused = [str(CORPUS / name) for name, expected in sorted(EXPECTED.items()) if isinstance(expected, str)]
    for path in refused:
        with within_seconds(60):
            code, _, err = run_cli(capsys, monkeypatch, "keypoints", path)
        assert code == 2 and "Traceback (most recent" not in err and Path(path).name in err


# ------------------------------------------------------------------------------- hypothesis properties

HOSTILE_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, color_type: int, rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


VALID_PNG = _png(12, 10, 0, b"".join(b"\x00" + bytes(range(row, row + 12)) for row in range(10)))


def _loads_or_refuses(path: Path) -> None:
    """The property: pixels that pass validation, or one InputError line. Anything else is a bug."""
    try:
        image, _ = load_image(str(path), max_pixels=1_000_000)
    except InputError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        return
    assert image.ndim in (2, 3) and min(image.shape[:2]) >= 3 and image.shape[0] * image.shape[1] <= 1_000_000


@HOSTILE_SETTINGS
@given(st.binary(max_size=2_000), st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp", ".npy", ".img"]))
def test_any_bytes_load_or_are_refused(tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str) -> None:
    path = tmp_path_factory.mktemp("bytes") / f"image{suffix}"
    path.write_bytes(content)
    _loads_or_refuses(path)


@HOSTILE_SETTINGS
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(VALID_PNG) - 1), st.integers(0, 255)), max_size=12))
def test_a_png_with_flipped_bytes_loads_or_is_refused(tmp_path_factory: pytest.TempPathFactory, flips: list) -> None:
    content = bytearray(VALID_PNG)
    for position, value in flips:
        content[position] = value
    path = tmp_path_factory.mktemp("flips") / "image.png"
    path.write_bytes(bytes(content))
    _loads_or_refuses(path)


@HOSTILE_SETTINGS
@given(
    st.integers(min_value=1, max_value=2**31 - 1),
    st.integers(min_value=1, max_value=2**31 - 1),
    st.sampled_from([0, 2, 4, 6]),
    st.binary(max_size=512),
)
def test_any_declared_size_is_checked_before_decoding(
    tmp_path_factory: pytest.TempPathFactory, width: int, height: int, color_type: int, rows: bytes
) -> None:
    path = tmp_path_factory.mktemp("sizes") / "image.png"
    path.write_bytes(_png(width, height, color_type, rows))
    if width * height > 1_000_000:
        with pytest.raises(InputError, match="megapixels"):
            load_image(str(path), max_pixels=1_000_000)
    else:
        _loads_or_refuses(path)


@HOSTILE_SETTINGS
@given(
    st.lists(st.integers(min_value=0, max_value=2**33), min_size=0, max_size=4), st.sampled_from(["<f8", "|u1", "<i4"])
)
def test_npy_headers_of_any_shape_load_or_are_refused(
    tmp_path_factory: pytest.TempPathFactory, shape: list[int], dtype: str
) -> None:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    path = tmp_path_factory.mktemp("npy") / "image.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + np.zeros(64, np.uint8).tobytes())
    _loads_or_refuses(path)
