"""Exact ANMS (Brown, Szeliski & Winder 2005) against an O(n²) brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest

from dlcheck.keypoints import anms, anms_radii, candidate_peaks, harris_response


def brute_force_radii(coords: np.ndarray, responses: np.ndarray, c_robust: float) -> np.ndarray:
    """The definition, literally: r_i = min ||x_i - x_j|| over j != i with f_i < c * f_j."""
    points = np.asarray(coords, dtype=np.float64)
    strengths = np.asarray(responses, dtype=np.float64)
    radii = np.full(strengths.size, np.inf)
    for i in range(strengths.size):
        dr = points[i, 0] - points[:, 0]
        dc = points[i, 1] - points[:, 1]
        distance = np.sqrt(dr * dr + dc * dc)
        suppressors = strengths[i] < c_robust * strengths
        suppressors[i] = False
        if suppressors.any():
            radii[i] = distance[suppressors].min()
    return radii


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("c_robust", [0.9, 1.0, 0.5])
def test_random_points_match_brute_force_exactly(seed: int, c_robust: float) -> None:
    generator = np.random.default_rng(seed)
    count = [1, 2, 50, 400, 1000, 2000][seed]
    coords = generator.uniform(0, 512, size=(count, 2))
    responses = generator.random(count)
    np.testing.assert_array_equal(
        anms_radii(coords, responses, c_robust), brute_force_radii(coords, responses, c_robust)
    )


@pytest.mark.parametrize("c_robust", [0.9, 1.0, 0.5, 1.5, 0.0, -0.8])
def test_ties_duplicates_and_negative_responses_match_brute_force(c_robust: float) -> None:
    generator = np.random.default_rng(7)
    # Integer coordinates on a small grid force duplicate points; few distinct responses force ties;
    # signed responses exercise c * f_j on both sides of zero.
    coords = generator.integers(0, 20, size=(1500, 2)).astype(np.float64)
    responses = generator.integers(-3, 4, size=1500).astype(np.float64)
    np.testing.assert_array_equal(
        anms_radii(coords, responses, c_robust), brute_force_radii(coords, responses, c_robust)
    )


def test_clustered_points_with_position_dependent_responses() -> None:
    # Strong points far from a dense weak cluster: many rows need more than one k-NN round.
    generator = np.random.default_rng(3)
    cluster = generator.normal(100, 2, size=(1200, 2))
    far = generator.uniform(0, 1000, size=(300, 2))
    coords = np.concatenate([cluster, far])
    responses = np.concatenate([generator.random(1200), 1 + generator.random(300)])
    np.testing.assert_array_equal(anms_radii(coords, responses), brute_force_radii(coords, responses, 0.9))


def test_real_harris_candidates_of_camera_match_brute_force() -> None:
    from skimage.data import camera

    coords, responses = candidate_peaks(harris_response(camera()), threshold_rel=0.0001)
    assert 2000 < coords.shape[0] < 3000
    for c_robust in (0.9, 1.0):
        np.testing.assert_array_equal(
            anms_radii(coords, responses, c_robust), brute_force_radii(coords, responses, c_robust)
        )


def test_definition_edge_cases() -> None:
    assert anms_radii(np.zeros((0, 2)), np.zeros(0)).shape == (0,)
    assert anms_radii([[1.0, 2.0]], [5.0]).tolist() == [np.inf]
    # Equal responses never suppress each other (strict <), even at the same position.
    assert anms_radii([[0, 0], [0, 0]], [1.0, 1.0], c_robust=1.0).tolist() == [np.inf, np.inf]
    # Negative responses: the weaker -1.05 suppresses -1 because -1 < 0.9 * -1.05 (documented trap).
    # (and -1.05 < 0.9 * -1 too, so with negative values both suppress each other).
    assert anms_radii([[0, 0], [0, 2]], [-1.0, -1.05]).tolist() == [2.0, 2.0]
    # c > 1 lets a slightly weaker point suppress, but never the point itself.
    assert anms_radii([[0, 0], [3, 4]], [1.0, 0.95], c_robust=1.1).tolist() == [5.0, 5.0]


@pytest.mark.parametrize(
    ("coords", "responses", "message"),
    [
        (np.zeros((3, 3)), np.zeros(3), "coords must have shape"),
        (np.zeros((3, 2)), np.zeros(2), "responses must have shape"),
        ([[0, np.nan], [1, 1]], [1, 2], "coords contain NaN"),
        ([[0, 0], [1, 1]], [1, np.inf], "responses contain NaN"),
    ],
)
def test_invalid_inputs_raise(coords: object, responses: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        anms_radii(coords, responses)  # type: ignore[arg-type]


def test_invalid_num_peaks_and_c_robust() -> None:
    with pytest.raises(ValueError, match="num_peaks"):
        anms([[0, 0]], [1.0], num_peaks=-1)
    with pytest.raises(ValueError, match="num_peaks"):
        anms([[0, 0]], [1.0], num_peaks=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="c_robust"):
        anms_radii([[0, 0]], [1.0], c_robust=float("nan"))


def test_anms_order_and_tie_rules() -> None:
    coords = [[0, 0], [0, 10], [0, 20], [0, 1], [50, 50], [50, 60]]
    responses = [5.0, 5.0, 7.0, 1.0, 5.0, 2.0]
    # Radii: 2 is the unique maximum (inf); 0, 1, 4 tie at 5.0 and are suppressed by 2 only -> 1: 10,
    # 0: 20, 4: dist to 2 = sqrt(50² + 30²); 3: 1 (by 0); 5: 10 (by 4).
    radii = anms_radii(coords, responses)
    assert radii[2] == np.inf
    order = anms(coords, responses, num_peaks=6)
    assert order.tolist() == [2, 4, 0, 1, 5, 3]
    assert order.dtype == np.intp
    # Equal radii: stronger response first, then lower index.
    tied = anms([[0, 0], [9, 9], [20, 20]], [1.0, 3.0, 3.0], num_peaks=3, c_robust=1.0)
    assert tied.tolist() == [1, 2, 0]
    assert anms(coords, responses, num_peaks=0).tolist() == []
    assert anms(coords, responses, num_peaks=100).tolist() == order.tolist()


def test_selection_is_nested() -> None:
    generator = np.random.default_rng(11)
    coords, responses = generator.uniform(0, 100, (300, 2)), generator.random(300)
    assert anms(coords, responses, 50).tolist() == anms(coords, responses, 120)[:50].tolist()


def test_packing_lemma_with_c_robust_one() -> None:
    generator = np.random.default_rng(5)
    coords, responses = generator.uniform(0, 300, (2000, 2)), generator.random(2000)
    radii = anms_radii(coords, responses, 1.0)
    chosen = anms(coords, responses, 200, 1.0)
    smallest = radii[chosen].min()
    points = coords[chosen]
    gaps = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= smallest
