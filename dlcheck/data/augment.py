"""Training-time augmentation of image batches ``(N, C, H, W)`` on the device.

Pure functions of a batch and a ``torch.Generator``: every sample gets its own random draw, with no Python loop
over samples, and nothing touches the global RNG, so a batch's augmentation is reproduced exactly from the
generator's seed (the batcher seeds it from ``(seed, epoch, batch index)``, which makes resumed runs exact).

The batcher normalises before augmenting, so the zeros that padding, translation and cutout write are the
training mean, and ``noise_std`` is in units of the training standard deviation.

Random numbers are drawn on the generator's device and moved to the batch's, so a CPU generator also works
for a batch on a device that has no generator of its own.
"""

from __future__ import annotations

__all__ = [
    "add_gaussian_noise",
    "augment_batch",
    "augment_is_active",
    "check_augment_shape",
    "cutout",
    "random_crop",
    "random_flip",
    "random_translate",
]

import torch
import torch.nn.functional as F

from dlcheck.errors import DataError
from dlcheck.recipe.schema import AugmentConfig


def augment_is_active(config: AugmentConfig | None) -> bool:
    """Whether ``config`` changes anything (every field at its default means no augmentation)."""
    return config is not None and bool(
        config.flip or config.crop_padding or config.translate or config.noise_std or config.cutout
    )


def check_augment_shape(config: AugmentConfig | None, input_shape: tuple[int, ...]) -> None:
    """Refuse augmentation for inputs that are not images.

    Raises
    ------
    DataError
        When augmentation is asked for and one sample is not ``(C, H, W)``.
    """
    if augment_is_active(config) and len(input_shape) != 3:
        raise DataError(
            f"data.augment: augmentation works on images (C, H, W), but one input has shape {input_shape}; "
            "remove `augment` (add noise to tabular data in a data factory instead)"
        )


def _uniform(count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(count, generator=generator, device=generator.device).to(device)  # (count,)


def _integers(low: int, high: int, count: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Uniform in [low, high), one per sample.
    return torch.randint(low, high, (count,), generator=generator, device=generator.device).to(device)  # (count,)


def random_flip(images: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right (``"horizontal"``), upside down (``"vertical"``) or either (``"both"``).

    Each flip is applied to each sample with probability 0.5 (independently for ``"both"``).

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)``.
    mode : {"horizontal", "vertical", "both"}
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    if mode not in ("horizontal", "vertical", "both"):
        raise ValueError(f"unknown flip mode {mode!r}; expected horizontal, vertical or both")
    count = images.shape[0]
    if mode in ("horizontal", "both"):
        flipped = _uniform(count, generator, images.device) < 0.5  # (N,)
        images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
    if mode in ("vertical", "both"):
        flipped = _uniform(count, generator, images.device) < 0.5
        images = torch.where(flipped[:, None, None, None], images.flip(-2), images)
    return images


def _shift(images: torch.Tensor, row_shift: torch.Tensor, column_shift: torch.Tensor, limit: int) -> torch.Tensor:
    """Move image ``n`` down by ``row_shift[n]`` and right by ``column_shift[n]`` pixels (|shift| <= limit), zero fill.

    One gather from the zero-padded batch: output pixel ``(i, j)`` of sample ``n`` reads padded pixel
    ``(i + limit - row_shift[n], j + limit - column_shift[n])``.
    """
    count, _, height, width = images.shape
    padded = F.pad(images, (limit, limit, limit, limit))  # (N, C, H + 2L, W + 2L)
    rows = torch.arange(height, device=images.device)[None, :] + (limit - row_shift)[:, None]  # (N, H)
    columns = torch.arange(width, device=images.device)[None, :] + (limit - column_shift)[:, None]  # (N, W)
    samples = torch.arange(count, device=images.device)[:, None, None]  # (N, 1, 1)
    # Advanced indices around a slice: the indexed dimensions come first, giving (N, H, W, C).
    gathered = padded[samples, :, rows[:, :, None], columns[:, None, :]]
    return gathered.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)


def random_translate(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by a random whole number of pixels in ``[-max_shift, max_shift]`` along each axis.

    Vacated pixels become 0.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)``.
    max_shift : int
        Largest shift in pixels; 0 returns ``images`` unchanged.
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    if max_shift <= 0:
        return images
    count = images.shape[0]
    row_shift = _integers(-max_shift, max_shift + 1, count, generator, images.device)  # (N,)
    column_shift = _integers(-max_shift, max_shift + 1, count, generator, images.device)
    return _shift(images, row_shift, column_shift, max_shift)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Pad each image with ``padding`` zeros per side and crop a random window of the original size.

    The usual CIFAR augmentation ("pad 4, random crop 32"). A crop at offset ``o`` in ``[0, 2 * padding]`` is a
    shift by ``padding - o``, so this draws from the same distribution as :func:`random_translate` with
    ``max_shift = padding``; both exist because recipes from different traditions name it differently.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)``.
    padding : int
        Zero padding per side; 0 returns ``images`` unchanged.
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    return random_translate(images, padding, generator)


def cutout(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero one ``size`` x ``size`` square per image, centred at a uniformly random pixel.

    As in DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout" (2017,
    arXiv:1708.04552), the centre may lie near the border, so the square can be partly outside the image.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)``.
    size : int
        Side of the square in pixels; 0 returns ``images`` unchanged.
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``.
    """
    if size <= 0:
        return images
    count, _, height, width = images.shape
    top = _integers(0, height, count, generator, images.device) - size // 2  # (N,)
    left = _integers(0, width, count, generator, images.device) - size // 2
    rows = torch.arange(height, device=images.device)[None, :]  # (1, H)
    columns = torch.arange(width, device=images.device)[None, :]  # (1, W)
    inside_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)  # (N, H)
    inside_columns = (columns >= left[:, None]) & (columns < left[:, None] + size)  # (N, W)
    square = inside_rows[:, None, :, None] & inside_columns[:, None, None, :]  # (N, 1, H, W)
    return images.masked_fill(square, 0.0)


def add_gaussian_noise(images: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """Add independent Gaussian noise of standard deviation ``std`` to every pixel (0 returns ``images``)."""
    if std <= 0:
        return images
    noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=images.dtype)
    return images + std * noise.to(images.device)


def augment_batch(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Apply every augmentation ``config`` asks for: crop, translate, flip, cutout, then noise.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)`` floating point (already normalised).
    config : AugmentConfig
        ``data.augment``.
    generator : torch.Generator
        Source of every random draw, consumed in a fixed order.

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)``; ``images`` itself when nothing is asked for.

    Raises
    ------
    DataError
        When ``images`` is not a 4-D batch.

    Examples
    --------
    >>> batch = torch.ones(2, 1, 4, 4)
    >>> out = augment_batch(batch, AugmentConfig(cutout=2), torch.Generator().manual_seed(0))
    >>> out.shape, bool((out == 0).any())
    (torch.Size([2, 1, 4, 4]), True)
    """
    if images.ndim != 4:
        raise DataError(
            f"data.augment: augmentation works on image batches (N, C, H, W), got shape {tuple(images.shape)}"
        )
    images = random_crop(images, config.crop_padding, generator)
    images = random_translate(images, config.translate, generator)
    if config.flip is not None:
        images = random_flip(images, config.flip, generator)
    images = cutout(images, config.cutout, generator)
    return add_gaussian_noise(images, config.noise_std, generator)
