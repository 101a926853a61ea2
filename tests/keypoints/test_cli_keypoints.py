"""`dlcheck keypoints` as a user runs it: overlay PNG, JSON, CSV, comparison, bad images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from tests.cli_runner import run_cli


def test_checkerboard_overlay_and_json(tmp_path: Path, capsys, monkeypatch) -> None:
    out, report = tmp_path / "overlay.png", tmp_path / "points.json"
    code, stdout, err = run_cli(
        capsys, monkeypatch, "keypoints", "checkerboard", "--num-peaks", "49", "--out", str(out), "--json", str(report)
    )
    assert code == 0, err
    assert "Clark-Evans" in stdout and "random" in stdout
    payload = json.loads(report.read_text())
    assert payload["command"] == "keypoints" and payload["status"] == "pass"
    (method,) = payload["images"][0]["methods"]
    assert method["method"] == "anms"
    points = np.array(method["keypoints"])[:, :2]  # (49, 2) row, col
    assert len(points) == 49
    # the checkerboard's 7x7 inner corners lie on a 25-pixel lattice (corners of the squares)
    lattice = points / 25.0
    assert np.abs(lattice - np.round(lattice)).max() * 25.0 <= 1.0
    assert len({(round(r), round(c)) for r, c in lattice}) == 49
    overlay = io.imread(out)
    assert overlay.shape == (200, 200, 3) and overlay.dtype == np.uint8
    row, col = np.round(points[0]).astype(int)
    ring = overlay[max(row - 5, 0) : row + 6, max(col - 5, 0) : col + 6].reshape(-1, 3)
    assert any(tuple(pixel) == (255, 40, 40) for pixel in ring)  # the ANMS colour is drawn around the point


def test_compare_puts_three_methods_side_by_side(tmp_path: Path, capsys, monkeypatch) -> None:
    out, table = tmp_path / "compare.png", tmp_path / "points.csv"
    code, stdout, err = run_cli(
        capsys, monkeypatch, "keypoints", "camera", "--compare", "-n", "100", "--out", str(out), "--csv", str(table)
    )
    assert code == 0, err
    for method in ("strongest", "min_distance", "anms"):
        assert method in stdout
    overlay = io.imread(out)
    assert overlay.shape == (512, 3 * 512 + 2 * 8, 3)
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert len(rows) == 300
    assert {row["method"] for row in rows} == {"strongest", "min_distance", "anms"}


@pytest.mark.parametrize("spec", ["missing.png", "astronot"])
def test_bad_image_exits_2(spec: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", spec)
    assert code == 2
    assert spec in err and "Traceback" not in err


def test_unreadable_file_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", str(broken))
    assert code == 2
    assert "broken.png" in err


def test_subpixel_and_noble_response(tmp_path: Path, capsys, monkeypatch) -> None:
    report = tmp_path / "points.json"
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "keypoints",
        "checkerboard",
        "-n",
        "49",
        "--subpixel",
        "--harris-method",
        "eps",
        "--json",
        str(report),
    )
    assert code == 0, err
    points = np.array(json.loads(report.read_text())["images"][0]["methods"][0]["keypoints"])[:, :2]
    assert np.isfinite(points).all()
    # the true corners of the 25-pixel squares sit between pixels 24 and 25, 49 and 50, ...
    assert np.abs((points + 0.5) / 25.0 - np.round((points + 0.5) / 25.0)).max() * 25.0 <= 0.5


def test_unknown_harris_method_exits_2(capsys, monkeypatch) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", "camera", "--harris-method", "shi")
    assert code == 2 and "--harris-method" in err


# ------------------------------------------------------------------ --out with several images (issue 14)


def test_out_with_bundled_images_writes_one_overlay_each(tmp_path: Path, capsys, monkeypatch) -> None:
    # `camera coins --out o.png` wrote one file, both overlays under one name.
    out = tmp_path / "o.png"
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", "camera", "coins", "-n", "20", "--out", str(out))
    assert code == 0, err
    camera, coins = io.imread(tmp_path / "o-camera.png"), io.imread(tmp_path / "o-coins.png")
    assert camera.shape[:2] == (512, 512) and coins.shape[:2] == (303, 384)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["o-camera.png", "o-coins.png"]


def test_out_with_files_of_one_name_in_two_folders(tmp_path: Path, capsys, monkeypatch) -> None:
    # `a/img.png b/img.png --out o.png` wrote one file.
    for folder, side in (("a", 40), ("b", 60)):
        (tmp_path / folder).mkdir()
        io.imsave(
            tmp_path / folder / "img.png", np.tile(np.eye(side, dtype=np.uint8) * 255, (1, 1)), check_contrast=False
        )
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", "a/img.png", "b/img.png", "-n", "5", "--out", "o.png")
    assert code == 0, err
    assert io.imread(tmp_path / "o-a-img.png").shape[:2] == (40, 40)
    assert io.imread(tmp_path / "o-b-img.png").shape[:2] == (60, 60)


def test_out_never_overwrites_an_input_image(tmp_path: Path, capsys, monkeypatch) -> None:
    image = tmp_path / "photo.png"
    io.imsave(image, np.eye(32, dtype=np.uint8) * 255, check_contrast=False)
    before = image.read_bytes()
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", str(image), "--out", str(image))
    assert code == 2 and "would overwrite the input image" in " ".join(err.split())
    assert image.read_bytes() == before


def test_non_image_file_is_one_clean_line(tmp_path: Path, capsys, monkeypatch) -> None:
    script = tmp_path / "model.py"
    script.write_text("print('hello')\n")
    code, _, err = run_cli(capsys, monkeypatch, "keypoints", str(script))
    assert code == 2 and "cannot read as an image" in " ".join(err.split())
    assert " at 0x" not in err and "BytesIO" not in err and "Traceback" not in err
