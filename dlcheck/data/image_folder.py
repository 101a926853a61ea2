"""``image_folder`` source: one subfolder per class, read lazily by a map-style Dataset.

Only the image headers are read when the data are loaded (to check sizes and channels early, before any
training starts); pixels are read by :class:`ImageFolderDataset` item by item, in DataLoader workers when
``data.num_workers > 0``. Images become float32 in ``[0, 1]``, channels first.

Layout::

    my_images/
        cat/  001.png 002.jpg ...
        dog/  001.png ...
"""

from __future__ import annotations

__all__ = ["IMAGE_SUFFIXES", "ImageFolderDataset", "scan_image_folder"]

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dlcheck.errors import DataError
from dlcheck.limits import MAX_IMAGE_PIXELS_VARIABLE, check_image_pixels, max_image_pixels, pillow_pixel_limit

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Pillow modes that hold one intensity (plus alpha for "LA"); every other mode is read as colour.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


class ImageFolderDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images read from files on demand.

    Parameters
    ----------
    files : sequence of pathlib.Path
        One path per sample.
    targets : sequence of int
        The class index of each file.
    class_names : list of str
        Folder names, sorted; index ``i`` is ``class_names[i]``.
    channels : int
        1 (gray) or 3 (RGB); gray files are repeated to 3 channels, RGB files converted to gray for 1.
    size : tuple of int
        ``(H, W)`` of every sample; files of another size are resized to it (bilinear, anti-aliased).

    Attributes
    ----------
    targets : torch.Tensor
        ``(N,)`` int64, so that class counts and the split need no file reads.
    classes : list of str
        Same as ``class_names`` (the name torchvision uses).
    """

    def __init__(
        self,
        files: Sequence[Path],
        targets: Sequence[int] | np.ndarray | torch.Tensor,
        class_names: list[str],
        *,
        channels: int,
        size: tuple[int, int],
    ) -> None:
        self.files = list(files)
        self.targets = torch.as_tensor(np.asarray(targets), dtype=torch.int64).reshape(-1)
        self.classes = list(class_names)
        self.channels = channels
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageFolderDataset:
        """The samples ``indices`` as a new dataset (no file is read)."""
        return ImageFolderDataset(
            [self.files[int(index)] for index in indices],
            self.targets[torch.as_tensor(np.asarray(indices, dtype=np.int64))],
            self.classes,
            channels=self.channels,
            size=self.size,
        )

    def read(self, path: Path) -> torch.Tensor:
        """One image file as a float32 tensor ``(C, H, W)`` in ``[0, 1]``."""
        # Heavy imports happen in the function that needs them (STYLE habit 1); cached by Python after the first.
        from skimage import color, io, transform, util

        try:
            with pillow_pixel_limit(max_image_pixels()):  # sizes were checked from the headers at scan time
                image = io.imread(path)
        except Exception as error:
            raise DataError(f"{path}: not a readable image ({type(error).__name__}: {error})") from error
        if image.ndim == 4:  # an animated GIF or a multi-page TIFF: use the first frame
            image = image[0]
        image = util.img_as_float32(image)  # (H, W) or (H, W, C); uint8/uint16 scaled to [0, 1]
        if image.ndim == 3 and image.shape[2] == 4:
            image = color.rgba2rgb(image)  # composite on white, as a viewer would show it
        elif image.ndim == 3 and image.shape[2] == 2:
            image = image[..., 0]  # gray + alpha: keep the gray
        if self.channels == 1 and image.ndim == 3:
            image = color.rgb2gray(image)
        elif self.channels == 3 and image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.shape[:2] != self.size:
            # A trailing channel axis is kept by `resize` (output_shape has one dimension fewer).
            image = transform.resize(image, self.size, order=1, anti_aliasing=True)
        if image.ndim == 2:
            image = image[..., None]
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))  # (C, H, W)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.read(self.files[index]), int(self.targets[index])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int]]:
        # A list of samples, as `default_collate` expects, so this works with any DataLoader; file reading
        # dominates here, the batched call only saves the per-item dispatch.
        targets = self.targets[torch.as_tensor(list(indices), dtype=torch.int64)].tolist()
        return [(self.read(self.files[index]), target) for index, target in zip(indices, targets, strict=True)]


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def scan_image_folder(root: Path, *, image_size: int | None, grayscale: bool) -> ImageFolderDataset:
    """Index ``root`` (one subfolder per class) and check the images' sizes from their headers.

    Parameters
    ----------
    root : pathlib.Path
        The folder named by ``data.path``.
    image_size : int or None
        ``data.image_size``: resize every image to ``(image_size, image_size)``; ``None`` requires one size.
    grayscale : bool
        ``data.grayscale``: one channel. Otherwise one channel when every file is gray, else three.

    Returns
    -------
    ImageFolderDataset
        Every image, in class then file-name order.

    Raises
    ------
    DataError
        For no class folders, an empty class folder, an unreadable file, an image over the pixel limit
        (:func:`dlcheck.limits.max_image_pixels`, from its header), or sizes that differ without
        ``image_size``.
    """
    from PIL import Image  # scikit-image reads through imageio, which depends on Pillow

    folders = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    if not folders:
        raise DataError(
            f"data.path: {root} has no subfolders; image_folder expects one subfolder per class "
            "(e.g. my_images/cat/*.png, my_images/dog/*.png)"
        )
    files: list[Path] = []
    targets: list[int] = []
    for label, folder in enumerate(folders):
        found = _image_files(folder)
        if not found:
            raise DataError(
                f"data.path: the class folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                "add images or remove the folder"
            )
        files.extend(found)
        targets.extend([label] * len(found))
    sizes: dict[tuple[int, int], Path] = {}
    all_gray = True
    max_pixels = max_image_pixels()
    for path in files:
        try:
            with pillow_pixel_limit(max_pixels), Image.open(path) as image:  # reads the header only
                width, height = image.size
                all_gray = all_gray and image.mode in _GRAY_MODES
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise DataError(
                f"{path}: over the limit of {max_pixels / 1e6:,.4g} megapixels per image ({error}); downscale or "
                f"remove it, or raise the limit with {MAX_IMAGE_PIXELS_VARIABLE}=N"
            ) from None
        except Exception as error:
            raise DataError(f"{path}: not a readable image ({type(error).__name__}: {error})") from error
        check_image_pixels(
            width, height, str(path), max_pixels=max_pixels, error=DataError, fix="downscale or remove it"
        )
        sizes.setdefault((height, width), path)
    if image_size is None and len(sizes) > 1:
        (first, first_path), (second, second_path) = list(sizes.items())[:2]
        raise DataError(
            f"data.image_size: the images in {root} differ in size ({first[0]}x{first[1]} in {first_path.name}, "
            f"{second[0]}x{second[1]} in {second_path.name}, {len(sizes)} sizes in all); "
            "set `image_size: N` to resize every image to NxN"
        )
    size = (image_size, image_size) if image_size is not None else next(iter(sizes))
    channels = 1 if grayscale or all_gray else 3
    return ImageFolderDataset(files, targets, [folder.name for folder in folders], channels=channels, size=size)
