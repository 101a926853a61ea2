"""Harris response, candidate peaks and keypoint selection on scikit-image's sample images."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import astronaut, camera, checkerboard

from dlcheck.keypoints import (
    candidate_peaks,
    harris_response,
    refine_subpixel,
    select_keypoints,
    uniformity_metrics,
)

# checkerboard(): 200x200, 8x8 squares of 25 px; inner corners sit between pixels 25k-1 and 25k.
LATTICE = np.array([[25.0 * r, 25.0 * c] for r in range(1, 8) for c in range(1, 8)])


def _nearest_lattice_distance(coords: np.ndarray) -> np.ndarray:
    return np.sqrt(((coords[:, None, :] - LATTICE[None, :, :]) ** 2).sum(-1)).min(axis=1)


@pytest.mark.parametrize("method", ["anms", "strongest", "min_distance"])
def test_checkerboard_gives_its_49_inner_corners(method: str) -> None:
    keypoints = select_keypoints(harris_response(checkerboard()), method, 100)  # type: ignore[arg-type]
    # Our candidates sit at the 2x2 plateau centroids (0.71 px off); corner_peaks keeps the plateau's
    # first pixel (1.41 px off).
    tolerance = 1.5 if method == "min_distance" else 0.75
    assert len(keypoints) == 49
    assert _nearest_lattice_distance(keypoints.coords).max() <= tolerance
    # Every lattice corner is found once.
    to_keypoint = np.sqrt(((LATTICE[:, None, :] - keypoints.coords[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert to_keypoint.max() <= tolerance


def test_checkerboard_plateaus_are_merged_and_subpixel_refines_to_half_pixels() -> None:
    coords, responses = candidate_peaks(harris_response(checkerboard()))
    assert coords.shape == (49, 2)
    assert np.all(coords % 1 == 0.5)
    assert np.all(responses > 0)
    refined = refine_subpixel(checkerboard(), np.floor(coords))
    np.testing.assert_allclose(refined, coords, atol=0.05)


def test_uint8_and_float_images_give_the_same_keypoints() -> None:
    image = camera()
    as_uint8 = select_keypoints(harris_response(image), "anms", 300)
    as_float = select_keypoints(harris_response(image / 255.0), "anms", 300)
    # Float in 0..255: response scaled by ~255**4; relative thresholds keep the selection.
    as_wide_float = select_keypoints(harris_response(image.astype(np.float64)), "anms", 300)
    np.testing.assert_array_equal(as_uint8.coords, as_float.coords)
    np.testing.assert_array_equal(as_uint8.coords, as_wide_float.coords)


def test_rgb_and_rgba_images_are_converted_to_grey() -> None:
    rgb = astronaut()[:128, :128]
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, dtype=np.uint8)], axis=2)
    np.testing.assert_allclose(harris_response(rgb), harris_response(rgba))
    with pytest.raises(ValueError, match="method"):
        harris_response(rgb, method="kk")  # type: ignore[arg-type]


def test_flat_and_negative_responses_give_no_candidates() -> None:
    assert candidate_peaks(np.zeros((50, 50)))[0].shape == (0, 2)
    assert candidate_peaks(-np.ones((50, 50)))[0].shape == (0, 2)
    assert len(select_keypoints(np.zeros((50, 50)), "min_distance", 10)) == 0


def test_anms_spreads_keypoints_more_than_strongest() -> None:
    response = harris_response(camera())
    strongest = select_keypoints(response, "strongest", 300)
    spread = select_keypoints(response, "anms", 300)
    assert len(strongest) == len(spread) == 300
    assert spread.radii is not None and np.all(np.diff(spread.radii) <= 0)
    assert spread.parameters["c_robust"] == 0.9
    assert (
        uniformity_metrics(spread.coords, response.shape)["clark_evans"]
        > uniformity_metrics(strongest.coords, response.shape)["clark_evans"] + 0.3
    )


def test_min_distance_respects_chebyshev_spacing() -> None:
    keypoints = select_keypoints(harris_response(camera()), "min_distance", 200, min_distance=8)
    gaps = np.abs(keypoints.coords[:, None, :] - keypoints.coords[None, :, :]).max(-1)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 8
    assert np.all(np.diff(keypoints.responses) <= 0)


def test_select_keypoints_validates_arguments() -> None:
    response = np.zeros((20, 20))
    with pytest.raises(ValueError, match="method"):
        select_keypoints(response, "best", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_peaks"):
        select_keypoints(response, "anms", -1)
    with pytest.raises(ValueError, match="min_distance"):
        select_keypoints(response, "min_distance", 5, min_distance=0)
    with pytest.raises(ValueError, match="2-D"):
        select_keypoints(np.zeros(5), "anms", 5)
