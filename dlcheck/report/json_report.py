"""Writing the JSON report; the report itself (the envelope and ``schema_version``) is :mod:`dlcheck.verdict`."""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "json_report", "write_json"]

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlcheck.verdict import SCHEMA_VERSION, json_report


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """Write strict JSON (no NaN/Infinity tokens), indented, with a final newline."""
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
