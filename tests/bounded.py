"""A time bound for tests whose failure mode is a hang (reading a FIFO, an endless device, a bomb)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def within_seconds(seconds: float) -> Iterator[None]:
    """Fail with an AssertionError, instead of hanging, when the block runs longer than ``seconds``.

    A generous bound (the work takes milliseconds): it only turns a hang into a failure, never times code.
    """

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"still running after {seconds} s: this input hangs")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
