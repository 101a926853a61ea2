"""Shared pieces of the recipe schema: the strict base model and constrained number types."""

from __future__ import annotations

__all__ = ["NonNegativeFloat", "PositiveFloat", "PositiveInt", "Probability"]

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    # strict: "2" is not an int and "1e-3" is not a float; extra keys are errors (research A5, rule 3).
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
