"""PNG plots need matplotlib, an optional extra: import it only when a plot is asked for."""

from __future__ import annotations

__all__ = ["require_matplotlib"]

from typing import Any

from dlcheck.errors import InputError


def require_matplotlib(option: str = "--plot") -> Any:
    """Return ``matplotlib.pyplot`` with the non-interactive Agg backend, or explain how to install it."""
    try:
        import matplotlib
    except ImportError as error:
        raise InputError(
            f"{option} needs matplotlib, which is not installed: pip install 'dlcheck[plot]' (or pip install "
            "matplotlib), or leave out the option."
        ) from error
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    return pyplot
