"""Load an image for keypoint detection, and draw keypoints over it.

Bad images are the user's doing, so they raise :class:`dlcheck.errors.InputError` (exit code 2) with
the path, what was found and the fix.
"""

from __future__ import annotations

__all__ = ["BUNDLED_IMAGES", "draw_overlay", "load_image", "validate_image"]

import difflib
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dlcheck.errors import InputError
from dlcheck.limits import MAX_IMAGE_PIXELS_VARIABLE, check_image_pixels, max_image_pixels, pillow_pixel_limit

# scikit-image sample images shipped inside the wheel (no pooch, no network), checked by loading each
# with scikit-image 0.26; e.g. `eagle`, `cells3d`, `brain` need a download and are left out.
BUNDLED_IMAGES: tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "shepp_logan_phantom",
    "text",
)
_MIN_SIDE = 3  # Harris needs a 3x3 neighbourhood for its derivatives and peak test
_FORMATS = "PNG, JPEG, TIFF, BMP, GIF, WebP and other formats Pillow reads, or a .npy array"
_PIXELS_FIX = "downscale it, or pass --max-pixels N"


def validate_image(image: npt.ArrayLike, source: str) -> np.ndarray:
    """Check that an array is a usable grey, RGB or RGBA image; return it as an array.

    Parameters
    ----------
    image : array_like
        Pixel values, shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (grey and alpha), ``(H, W, 3)`` or
        ``(H, W, 4)``.
    source : str
        Where the image came from (path or bundled name), used in error messages.

    Returns
    -------
    numpy.ndarray
        The same pixels; ``(H, W, 1)`` is squeezed to ``(H, W)``, and grey+alpha ``(H, W, 2)`` keeps its grey
        channel (alpha is ignored, as it is for RGBA).

    Raises
    ------
    InputError
        If the image is empty, smaller than 3×3, of an unsupported shape or dtype, or has NaN/inf pixels.

    Examples
    --------
    >>> validate_image(np.zeros((4, 4), dtype=np.uint8), "zeros").shape
    (4, 4)
    >>> validate_image(np.zeros((2, 8)), "strip")
    Traceback (most recent call last):
    ...
    dlcheck.errors.InputError: strip: image is 2x8 pixels; need at least 3x3 for corner detection
    """
    array = np.asarray(image)
    if array.size == 0:
        raise InputError(f"{source}: image is empty (shape {array.shape}); check that the file holds pixels")
    if array.ndim == 3 and array.shape[2] in (1, 2):  # grey, or grey + alpha (e.g. an "LA" PNG)
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InputError(
            f"{source}: unsupported image shape {array.shape}; expected grey (H, W), grey+alpha (H, W, 2), "
            "RGB (H, W, 3) or RGBA (H, W, 4)"
        )
    if array.dtype.kind not in "buif":
        raise InputError(f"{source}: unsupported pixel type {array.dtype}; expected integers, floats or booleans")
    if min(array.shape[:2]) < _MIN_SIDE:
        raise InputError(
            f"{source}: image is {array.shape[0]}x{array.shape[1]} pixels; need at least 3x3 for corner detection"
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"{source}: {bad} pixel value(s) are NaN or inf; replace them before detecting corners")
    return array


def _one_line(error: BaseException) -> str:
    """An exception's first line without object reprs such as ``<_io.BytesIO object at 0x7f...>``."""
    text = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
    return re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the file", text)


def _read_npy(path: Path, spec: str, max_pixels: int) -> np.ndarray:
    # The header states the shape; check it against the limit and the file's size before numpy allocates.
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        header_bytes = handle.tell()
    if len(shape) >= 2:
        check_image_pixels(int(shape[1]), int(shape[0]), spec, max_pixels=max_pixels, fix=_PIXELS_FIX)
    declared = math.prod(shape) * dtype.itemsize
    held = path.stat().st_size - header_bytes
    if declared > held:
        raise InputError(
            f"{spec}: the .npy header declares shape {tuple(shape)} ({declared:,} bytes) but the file holds "
            f"{held:,}; it is truncated or corrupt"
        )
    return np.load(path, allow_pickle=False)


def _pillow_pixels(image: Any) -> np.ndarray:
    """Pixels of the first frame, as scikit-image's reader gives them (palettes expanded, CMYK as RGB)."""
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    return np.asarray(image)


def _read_tiff(path: Path, spec: str, max_pixels: int) -> np.ndarray | None:
    """The first page of a TIFF with tifffile (16-bit colour and float stay as stored), or ``None``."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            width, height = int(page.imagewidth), int(page.imagelength)
            check_image_pixels(width, height, spec, max_pixels=max_pixels, fix=_PIXELS_FIX)
            return np.asarray(page.asarray())
    except InputError:
        raise
    except Exception:  # not a TIFF tifffile reads: Pillow has its say
        return None


def _read_image_file(path: Path, spec: str, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() in (".tif", ".tiff"):
        pixels = _read_tiff(path, spec, max_pixels)
        if pixels is not None:
            return pixels
    with pillow_pixel_limit(max_pixels):
        try:
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
                check_image_pixels(width, height, spec, max_pixels=max_pixels, fix=_PIXELS_FIX)
                return _pillow_pixels(image)
        except UnidentifiedImageError:
            raise InputError(f"{spec}: cannot read as an image: not a format this tool reads ({_FORMATS})") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            # Pillow's own check, held to the same limit, fired first (while opening, or for a later frame).
            found = re.search(r"\((\d+) pixels\)", str(error))
            declared = f"declares {int(found[1]) / 1e6:,.0f} megapixels" if found else "is too large"
            raise InputError(
                f"{spec}: the image {declared}, over the limit of {max_pixels / 1e6:,.4g} megapixels (Pillow's "
                f"decompression-bomb check); {_PIXELS_FIX}, or raise the limit with {MAX_IMAGE_PIXELS_VARIABLE}=N"
            ) from None


def load_image(spec: str, *, max_pixels: int | None = None) -> tuple[np.ndarray, str]:
    """Load a bundled scikit-image sample by name, or an image file by path.

    Parameters
    ----------
    spec : str
        A name from :data:`BUNDLED_IMAGES` (e.g. ``"camera"``), or a path: PNG, JPEG, TIFF, BMP, GIF, WebP
        and the other formats Pillow reads (the first frame of an animation), or a ``.npy`` array.
    max_pixels : int, optional
        The most pixels an image file may have, checked from its header before any pixel is decoded
        (default :func:`dlcheck.limits.max_image_pixels`: 100 megapixels or ``DLCHECK_MAX_IMAGE_PIXELS``).

    Returns
    -------
    image : numpy.ndarray
        Validated pixels (see :func:`validate_image`), dtype as stored.
    source : str
        ``"skimage.data.<name>"`` or the path, for reports.

    Raises
    ------
    InputError
        If the file is missing (with a did-you-mean over bundled names when ``spec`` looks like a name), not
        a regular file (a FIFO or device), over the pixel limit, unreadable, or not a usable image; always
        one line, naming the path.

    Examples
    --------
    >>> image, source = load_image("checkerboard")
    >>> image.shape, source
    ((200, 200), 'skimage.data.checkerboard')
    """
    if spec in BUNDLED_IMAGES:
        import skimage.data

        return validate_image(getattr(skimage.data, spec)(), f"skimage.data.{spec}"), f"skimage.data.{spec}"
    limit = max_image_pixels() if max_pixels is None else max_pixels
    path = Path(spec)
    if not path.exists():
        looks_like_name = os.sep not in spec and "/" not in spec and not path.suffix
        if looks_like_name:
            close = difflib.get_close_matches(spec, BUNDLED_IMAGES, n=3)
            hint = f"did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
            names = ", ".join(BUNDLED_IMAGES)
            raise InputError(
                f"{spec}: no such file and not a bundled image; {hint or 'bundled images are: ' + names}".rstrip()
            )
        raise InputError(f"{spec}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{spec}: is a directory; give an image file or a bundled name")
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block, /dev/zero never ends
        raise InputError(f"{spec}: not a regular file (a device, FIFO or socket); give an image file")
    read = _read_npy if path.suffix.lower() == ".npy" else _read_image_file
    try:
        pixels = read(path, spec, limit)
    except InputError:
        raise
    except Exception as error:  # any decoder failure means the same thing to the user
        raise InputError(f"{spec}: cannot read as an image: {_one_line(error)}") from error
    return validate_image(pixels, spec), spec


def _to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]  # drop alpha: the overlay is for looking at, not compositing
    if array.dtype == np.uint8:
        scaled = array
    elif array.dtype == np.bool_:
        scaled = array.astype(np.uint8) * 255
    else:
        # Stretch any other dtype's own range to 0..255 so float images outside [0, 1] stay visible.
        values = array.astype(np.float64)
        low, high = float(values.min()), float(values.max())
        span = high - low if high > low else 1.0
        scaled = np.round((values - low) / span * 255.0).astype(np.uint8)
    if scaled.ndim == 2:
        scaled = np.stack([scaled] * 3, axis=-1)
    return np.ascontiguousarray(scaled, dtype=np.uint8)


def draw_overlay(
    image: npt.ArrayLike,
    coords: npt.ArrayLike,
    *,
    color: tuple[int, int, int] = (255, 0, 0),
    radius: int = 3,
    marker: Literal["circle", "cross"] = "circle",
) -> np.ndarray:
    """Draw keypoints on a copy of an image.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 3) or (H, W, 4)
        Background; uint8 is used as is, other dtypes are stretched from their min..max to 0..255.
    coords : array_like, shape (N, 2)
        ``(row, col)`` keypoints (rounded to the nearest pixel).
    color : tuple of 3 int, default (255, 0, 0)
        RGB colour of the markers.
    radius : int, default 3
        Circle radius or cross half-length in pixels (``>= 0``).
    marker : {"circle", "cross"}, default "circle"
        Circle outline (with the centre pixel) or a "+" cross. Markers are clipped to the image.

    Returns
    -------
    numpy.ndarray, shape (H, W, 3), uint8

    Raises
    ------
    ValueError
        If ``marker`` is unknown, ``radius`` negative or ``coords`` not ``(N, 2)``.

    Examples
    --------
    >>> overlay = draw_overlay(np.zeros((9, 9)), [[4, 4]], color=(0, 255, 0), marker="cross")
    >>> overlay.shape, overlay.dtype.name, overlay[4, 4].tolist(), overlay[4, 6].tolist()
    ((9, 9, 3), 'uint8', [0, 255, 0], [0, 255, 0])
    """
    from skimage.draw import circle_perimeter

    if marker not in ("circle", "cross"):
        raise ValueError(f"marker must be 'circle' or 'cross'; got {marker!r}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0; got {radius!r}")
    points = np.asarray(coords, dtype=np.float64)
    if points.size == 0:
        points = np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"coords must have shape (N, 2); got {points.shape}")
    canvas = _to_rgb_uint8(np.asarray(image)).copy()
    height, width = canvas.shape[:2]
    paint = np.asarray(color, dtype=np.uint8)
    centres = np.round(points[np.all(np.isfinite(points), axis=1)]).astype(np.intp)
    offsets = np.arange(-radius, radius + 1)
    for row, col in centres:
        if marker == "circle":
            rows, cols = circle_perimeter(int(row), int(col), int(radius), shape=(height, width))
            rows, cols = np.append(rows, row), np.append(cols, col)
        else:
            rows = np.concatenate([row + offsets, np.full(offsets.size, row)])
            cols = np.concatenate([np.full(offsets.size, col), col + offsets])
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        canvas[rows[inside], cols[inside]] = paint
    return canvas
