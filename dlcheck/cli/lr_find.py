"""Commands of issue work in progress: filled in by the module's owner."""

from __future__ import annotations
