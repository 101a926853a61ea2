"""Where the recipe's parts used to be assembled; they are now :mod:`dlcheck.engine.parts` (kept so older imports
work: ``CheckSubject`` is :class:`~dlcheck.engine.parts.RecipeParts`, ``prepare_subject`` is
:func:`~dlcheck.engine.parts.prepare_parts`)."""

from __future__ import annotations

__all__ = ["CheckSubject", "prepare_subject"]

from dlcheck.engine.parts import RecipeParts as CheckSubject
from dlcheck.engine.parts import prepare_parts as prepare_subject
