"""Augmentation: per-sample random, vectorised, shape-preserving, reproducible from the generator's seed."""

from __future__ import annotations

import pytest
import torch

from dlcheck.data.augment import (
    add_gaussian_noise,
    augment_batch,
    augment_is_active,
    cutout,
    random_crop,
    random_flip,
    random_translate,
)
from dlcheck.errors import DataError
from dlcheck.recipe.schema import AugmentConfig


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(count: int = 64, channels: int = 2, size: int = 7) -> torch.Tensor:
    return torch.randn(count, channels, size, size, generator=_generator(123))  # (N, C, H, W)


def _zero_filled_shift(image: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """Reference: move ``image`` (C, H, W) down ``rows`` and right ``columns`` pixels, filling with zeros."""
    _, height, width = image.shape
    out = torch.zeros_like(image)
    out[:, max(rows, 0) : height + min(rows, 0), max(columns, 0) : width + min(columns, 0)] = image[
        :, max(-rows, 0) : height - max(rows, 0), max(-columns, 0) : width - max(columns, 0)
    ]
    return out


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "both"])
def test_flip_keeps_shape_and_undoes_itself(mode: str) -> None:
    images = _images()
    flipped = random_flip(images, mode, _generator(5))
    assert flipped.shape == images.shape
    assert not torch.equal(flipped, images)
    # The same seed flips the same samples, so flipping twice gives the original back.
    assert torch.equal(random_flip(flipped, mode, _generator(5)), images)


def test_horizontal_flip_mirrors_about_half_of_the_samples() -> None:
    images = _images(count=400)
    flipped = random_flip(images, "horizontal", _generator(1))
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    unchanged = (flipped == images).flatten(1).all(1)
    assert bool((mirrored | unchanged).all())
    assert 150 < int(mirrored.sum()) < 250


def test_crop_with_zero_padding_is_the_identity() -> None:
    images = _images()
    assert torch.equal(random_crop(images, 0, _generator()), images)
    assert torch.equal(random_translate(images, 0, _generator()), images)


@pytest.mark.parametrize("function", [random_crop, random_translate])
def test_each_sample_is_a_zero_filled_shift_within_range(function) -> None:  # type: ignore[no-untyped-def]
    images, limit = _images(count=40), 2
    shifted = function(images, limit, _generator(3))
    assert shifted.shape == images.shape
    offsets = set()
    for image, result in zip(images, shifted, strict=True):
        matches = [
            (rows, columns)
            for rows in range(-limit, limit + 1)
            for columns in range(-limit, limit + 1)
            if torch.equal(result, _zero_filled_shift(image, rows, columns))
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 5  # per-sample offsets, not one for the whole batch


def test_cutout_zeroes_one_square_per_sample() -> None:
    images = torch.ones(200, 3, 8, 8)
    size = 3
    out = cutout(images, size, _generator(2))
    zeroed = (out == 0).all(1)  # (N, H, W): all channels zeroed together
    assert bool(((out == 0) == zeroed[:, None]).all())
    per_sample = zeroed.flatten(1).sum(1)
    assert bool((per_sample >= 1).all() and (per_sample <= size * size).all())
    assert bool((per_sample < size * size).any())  # some squares hang over the border
    assert bool((per_sample == size * size).any())


def test_noise_has_the_requested_spread() -> None:
    images = torch.zeros(100, 1, 16, 16)
    noisy = add_gaussian_noise(images, 0.5, _generator())
    assert abs(float(noisy.std()) - 0.5) < 0.02 and abs(float(noisy.mean())) < 0.02


def test_augment_batch_is_reproducible_from_the_seed() -> None:
    config = AugmentConfig(flip="both", crop_padding=1, translate=1, noise_std=0.1, cutout=2)
    images = _images()
    first = augment_batch(images, config, _generator(9))
    assert first.shape == images.shape
    assert torch.equal(first, augment_batch(images, config, _generator(9)))
    assert not torch.equal(first, augment_batch(images, config, _generator(10)))


def test_augment_batch_refuses_non_images() -> None:
    with pytest.raises(DataError, match=r"data\.augment: augmentation works on image batches"):
        augment_batch(torch.zeros(4, 2), AugmentConfig(noise_std=0.1), _generator())


def test_default_config_is_inactive() -> None:
    assert not augment_is_active(None) and not augment_is_active(AugmentConfig())
    assert augment_is_active(AugmentConfig(cutout=1))
