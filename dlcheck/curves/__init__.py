"""Curve diagnosis: read training logs of any tool, map their series, find what went wrong and where.

``diagnose(paths)`` returns a :class:`~dlcheck.curves.diagnosis.Diagnosis`; the readers, the detectors
(functions of numpy arrays) and the live monitor used by ``dlcheck train`` live in the submodules.
Names are loaded on first use, so importing this package stays light.
"""

from __future__ import annotations

__all__ = ["DEFAULT_THRESHOLDS", "Diagnosis", "Finding", "RunDiagnosis", "Series", "Thresholds", "diagnose"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlcheck.curves.diagnosis import Diagnosis, RunDiagnosis, diagnose
    from dlcheck.curves.findings import Finding
    from dlcheck.curves.series import Series
    from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds

_HOMES = {
    "Diagnosis": "dlcheck.curves.diagnosis",
    "RunDiagnosis": "dlcheck.curves.diagnosis",
    "diagnose": "dlcheck.curves.diagnosis",
    "Finding": "dlcheck.curves.findings",
    "Series": "dlcheck.curves.series",
    "Thresholds": "dlcheck.curves.thresholds",
    "DEFAULT_THRESHOLDS": "dlcheck.curves.thresholds",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dlcheck.curves' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
