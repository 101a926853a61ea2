"""Image loading errors (exit code 2) and overlay drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlcheck.errors import InputError
from dlcheck.keypoints import BUNDLED_IMAGES, draw_overlay, load_image, validate_image


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
