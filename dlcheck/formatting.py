"""Numbers in words for people: one place for every report, check summary and advice line.

Each function returns ``"-"`` for a missing value (``None``).
"""

from __future__ import annotations

__all__ = ["compact", "fixed", "learning_rate", "number", "percent", "plural"]

import math


def number(value: float | None, digits: int = 3) -> str:
    """A short human number: ``digits`` significant digits, scientific outside [1e-3, 1e5).

    Examples
    --------
    >>> number(2.302585), number(0.000123), number(1e-4), number(123456.0), number(float("nan"))
    ('2.3', '1.23e-04', '1e-04', '1.23e+05', 'nan')
    """
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent):+03d}"
    return f"{value:.{digits}g}"


def percent(fraction: float) -> str:
    """A fraction as a percentage, with more digits only where they matter.

    Examples
    --------
    >>> percent(0.5), percent(0.0004), percent(1.0)
    ('50%', '0.04%', '100%')
    """
    if fraction == 0 or fraction >= 0.01:
        return f"{100 * fraction:.0f}%" if fraction >= 0.1 or fraction == 0 else f"{100 * fraction:.1f}%"
    return f"{100 * fraction:.2g}%"


def plural(count: int, word: str, words: str | None = None) -> str:
    """Examples
    --------
    >>> plural(1, "sample"), plural(3, "class", "classes")
    ('1 sample', '3 classes')
    """
    return f"{count} {word if count == 1 else (words or word + 's')}"


def learning_rate(value: float | None) -> str:
    """A learning rate as it is read and written: two significant digits, always scientific.

    Examples
    --------
    >>> learning_rate(0.0031622), learning_rate(None), learning_rate(float("inf"))
    ('3.2e-03', '-', '-')
    """
    return "-" if value is None or not math.isfinite(value) else f"{value:.1e}"


def compact(value: float) -> str:
    """``1e-7`` rather than ``1e-07``; plain digits for round numbers.

    Examples
    --------
    >>> compact(1e-7), compact(10.0), compact(3e-4)
    ('1e-7', '10', '3e-4')
    """
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def fixed(value: float | None, decimals: int = 4) -> str:
    """A table cell: ``decimals`` decimals, scientific from 1e4 on (a diverging loss stays readable).

    Examples
    --------
    >>> fixed(0.912345), fixed(123456.0), fixed(None), fixed(float("nan"), 2)
    ('0.9123', '1.235e+05', '-', 'nan')
    """
    if value is None:
        return "-"
    return f"{value:.{decimals}f}" if not abs(value) >= 1e4 else f"{value:.3e}"
