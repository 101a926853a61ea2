"""How much dlcheck lets one input take: memory for data and models, pixels per image.

Inputs come from other people (a recipe from a colleague, a downloaded data set, an image from the web), so
sizes are checked *before* the work that would need them: a file's size before reading it, an image's
header before decoding it, a model's parameter count before allocating it. A refused input is a
:class:`dlcheck.errors.DlcheckError` naming the limit and the way to raise it, never a traceback, a hang or
a machine thrashing in swap (issue 12: ``data.path: /dev/zero`` grew to 6 GB; an image whose header declared
huge dimensions took 6.8 GB).

The person running dlcheck, never the input, sets the limits, through the environment:

- ``DLCHECK_MAX_MEMORY_GB``: the memory one input may need (data read into memory, a model's parameters
  with their gradients and optimiser state). Default: half of what this process may use, the machine's
  physical memory or the address-space limit (``ulimit -v``), whichever is lower; in-memory tensors are
  copied at least once on the way (split, normalisation), so half is what is left for the second copy.
- ``DLCHECK_MAX_IMAGE_PIXELS``: pixels of one image, checked from its header. Default
  :data:`DEFAULT_MAX_IMAGE_PIXELS` (100 megapixels, a little above Pillow's own decompression-bomb warning
  at 89 megapixels; keypoint detection holds several float64 copies, about 40 bytes a pixel).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "MAX_IMAGE_PIXELS_VARIABLE",
    "MAX_MEMORY_VARIABLE",
    "check_image_pixels",
    "check_memory",
    "describe_bytes",
    "max_image_pixels",
    "memory_budget_bytes",
    "pillow_pixel_limit",
]

import contextlib
import os
import warnings
from collections.abc import Iterator

from dlcheck.errors import DlcheckError, InputError

MAX_MEMORY_VARIABLE = "DLCHECK_MAX_MEMORY_GB"
MAX_IMAGE_PIXELS_VARIABLE = "DLCHECK_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
_FALLBACK_MEMORY_BYTES = 8 * 1024**3  # where the platform does not say (no sysconf)


def _positive_number(variable: str) -> float | None:
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"{variable}={text!r}: expected a positive number; unset it to use the default")
    return value


def _usable_bytes() -> int:
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        physical = _FALLBACK_MEMORY_BYTES
    try:
        import resource  # Unix only
    except ImportError:  # pragma: no cover - Windows
        return physical
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return min(physical, soft) if soft != resource.RLIM_INFINITY and soft > 0 else physical


def memory_budget_bytes() -> int:
    """The memory one input may need, in bytes (``DLCHECK_MAX_MEMORY_GB``, or half of what is usable).

    Raises
    ------
    InputError
        When ``DLCHECK_MAX_MEMORY_GB`` is set to something else than a positive number.

    Examples
    --------
    >>> memory_budget_bytes() > 0
    True
    """
    gigabytes = _positive_number(MAX_MEMORY_VARIABLE)
    if gigabytes is not None:
        return int(gigabytes * 1024**3)
    return _usable_bytes() // 2


def max_image_pixels() -> int:
    """Pixels one image may have (``DLCHECK_MAX_IMAGE_PIXELS``, default 100 megapixels).

    Examples
    --------
    >>> max_image_pixels() >= 1
    True
    """
    pixels = _positive_number(MAX_IMAGE_PIXELS_VARIABLE)
    return DEFAULT_MAX_IMAGE_PIXELS if pixels is None else int(pixels)


def describe_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KB'``; binary units, one decimal.

    Examples
    --------
    >>> describe_bytes(3 * 1024**3), describe_bytes(512)
    ('3.0 GB', '512 bytes')
    """
    if size < 1024:
        return f"{int(size)} bytes"
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        size /= 1024
        if size < 1024 or unit == "PB":
            break
    return f"{size:.1f} {unit}"


def check_memory(needed_bytes: float, what: str, error: type[DlcheckError] = InputError, fix: str = "") -> None:
    """Refuse ``what`` when it needs more than :func:`memory_budget_bytes`.

    Parameters
    ----------
    needed_bytes : float
        The estimate, made before allocating anything.
    what : str
        The input and its key, e.g. ``"data.path: train.csv (12.0 GB)"``; starts the message.
    error : type
        The :class:`DlcheckError` subclass to raise (``DataError`` for data, ``ModelError`` for models).
    fix : str
        What the user can do instead, besides raising the limit.

    Raises
    ------
    DlcheckError
        Of type ``error``, naming the need, the budget and ``DLCHECK_MAX_MEMORY_GB``.

    Examples
    --------
    >>> check_memory(1024, "a kilobyte")
    >>> check_memory(1e30, "data.samples: 10**29 points")
    Traceback (most recent call last):
    ...
    dlcheck.errors.InputError: data.samples: 10**29 points needs ... more than the ... memory limit; ...
    """
    budget = memory_budget_bytes()
    if needed_bytes <= budget:
        return
    advice = f"{fix}; or " if fix else ""
    raise error(
        f"{what} needs {describe_bytes(needed_bytes)}, more than the {describe_bytes(budget)} memory limit; "
        f"{advice}raise the limit with {MAX_MEMORY_VARIABLE}=N (gigabytes) if this machine has the memory"
    )


def check_image_pixels(
    width: int, height: int, source: str, *, max_pixels: int, error: type[DlcheckError] = InputError, fix: str = ""
) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels, before it is decoded.

    Examples
    --------
    >>> check_image_pixels(640, 480, "photo.png", max_pixels=1_000_000)
    >>> check_image_pixels(100_000, 100_000, "bomb.png", max_pixels=100_000_000)
    Traceback (most recent call last):
    ...
    dlcheck.errors.InputError: bomb.png: the header declares 100000x100000 pixels (10,000 megapixels), over the limit of 100 megapixels; ...
    """
    pixels = width * height
    if pixels <= max_pixels:
        return
    advice = f"{fix}; " if fix else ""
    raise error(
        f"{source}: the header declares {width}x{height} pixels ({pixels / 1e6:,.0f} megapixels), over the limit of "
        f"{max_pixels / 1e6:,.4g} megapixels; decoding it would take at least {describe_bytes(pixels)}. "
        f"{advice}if the image is genuine, raise the limit with {MAX_IMAGE_PIXELS_VARIABLE}=N (pixels)"
    )


@contextlib.contextmanager
def pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's own decompression-bomb check, held to ``max_pixels`` and raised as an error.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` (89 megapixels) and refuses twice that; a warning scrolls
    past, or is silenced by whoever reads the image. Inside this block its limit is ``max_pixels`` and its
    warning is an exception (``PIL.Image.DecompressionBombWarning``), so every image or frame Pillow opens
    or decodes meets the same limit as our header check. Pillow's setting is restored on exit.
    """
    from PIL import Image  # heavy; only image readers need it

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved
