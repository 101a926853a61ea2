"""Where the seed streams used to live; they are now :mod:`dlcheck.seeding` (kept so older imports work)."""

from __future__ import annotations

__all__ = ["Purpose", "derive_seed", "numpy_generator"]

from dlcheck.seeding import Purpose, derive_seed, numpy_generator
