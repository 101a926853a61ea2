"""dlcheck diagnose held to expert labels on real training logs from public repositories.

Each corpus run is diagnosed with default options: no traceback, no exit-2 error on a readable log, and
agreement with its label (``real_log_labels.judge``). Runs where dlcheck still disagrees carry a
``known_disagreement`` with the reason in ``labels.yaml``; the test fails when such a run starts to agree
(update the label file) or when any other run disagrees. Runs whose log files were not committed
(fetched files, see the corpus' .gitignore) are skipped.
"""

from __future__ import annotations

import pytest

from .real_log_labels import judge, load_labels, present

LABELS = load_labels()


@pytest.mark.parametrize("name", sorted(LABELS))
def test_real_log_agrees_with_its_label(name: str) -> None:
    if not present(name):
        pytest.skip("log files not committed (fetched): see tests/data/real_logs/.gitignore")
    label = LABELS[name]
    outcome = judge(name, label)
    assert outcome.error is None or label["verdicts"] == ["inconclusive"], outcome.error
    if "known_disagreement" in label:
        assert not outcome.agrees, f"{name} now agrees with its label: remove its known_disagreement"
    else:
        assert outcome.agrees, outcome.reasons
