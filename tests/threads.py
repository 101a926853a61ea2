"""``one_thread``: a fixture that runs a test on one intra-op CPU thread, restored afterwards.

Small tensors gain nothing from a second thread, and on a busy shared machine a parallel region waits for
a descheduled thread (measured here: the char LM shortened, 42 s on two threads, 5 s on one). Import it
into a test module and mark the module: ``pytestmark = pytest.mark.usefixtures("one_thread")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
