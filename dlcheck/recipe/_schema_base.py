"""Shared pieces of the recipe schema: the strict base model, the sane range of every number, and
constrained number types.

Numbers (the reasoning, once for every field, present and future). A recipe number is a count, a size, a
seed, a rate or a coefficient. Counts and sizes end up in C integers of torch and numpy and in loop
bounds; rates and coefficients end up as float32 scalars in tensor arithmetic (torch converts every
Python float it multiplies a float32 tensor by). A value outside the ranges below is never a setting,
only a typo or a hostile file, and without the check it surfaces much later as a traceback
(``lr: 1.0e+38`` with Adam: "value cannot be converted to type float without overflow") or never
(``lr: 1e999`` is infinity and trained a model of NaNs). Each field keeps its own finer bounds on top
(``lr > 0``, ``momentum < 1``, ...).

- Every float is finite (``allow_inf_nan=False``).
- ``|x| <= MAX_FLOAT_MAGNITUDE`` (1e12). float32 ends at 3.4e38 and optimisers amplify a rate: Adam divides
  ``lr`` by its bias correction ``1 - beta1**t``, at most ~9e15 for the largest float below 1, so 1e12
  keeps every step finite in float32 (1e12 * 9e15 = 9e27) with ten orders to spare for the gradients it
  multiplies. It is still ten orders above the largest value of any such field in practice (learning
  rates ~10, clipping norms ~1e4).
- A non-zero ``|x| >= MIN_FLOAT_MAGNITUDE`` (1e-30). float32's smallest normal number is 1.2e-38; below it
  a positive ``eps`` or ``lr`` becomes zero or loses its precision on the device; 1e-30 leaves eight orders
  for the products it enters. Write 0 for zero.
- ``|n| <= MAX_INTEGER`` (2**31 - 1). Every count, size and seed fits a C ``int`` on every platform
  (numpy's default integer was 32-bit on Windows before numpy 2; CUDA launch grids and many kernels index
  with int32); no real epoch count, layer width or image side comes near it.

Memory is a separate question (a layer of 2**31 - 1 units fits the range but not in memory): the data
sources and the model builder check their sizes against :func:`dlcheck.limits.memory_budget_bytes`.
``args`` of a factory are the user's own business and are not checked here.
"""

from __future__ import annotations

__all__ = [
    "MAX_FLOAT_MAGNITUDE",
    "MAX_INTEGER",
    "MIN_FLOAT_MAGNITUDE",
    "NonNegativeFloat",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "number_range_problem",
]

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

MAX_INTEGER = 2**31 - 1
MAX_FLOAT_MAGNITUDE = 1e12
MIN_FLOAT_MAGNITUDE = 1e-30


def number_range_problem(value: Any) -> str | None:
    """Why a number is outside the sane range of recipe numbers, or ``None`` when it is inside.

    Examples
    --------
    >>> number_range_problem(1e-3) is None and number_range_problem(0.0) is None
    True
    >>> number_range_problem(2**40)
    'must lie within ±2147483647 (2**31 - 1): every count, size and seed fits a 32-bit integer'
    >>> number_range_problem(1e-40)
    'must be 0 or at least 1e-30 in magnitude: float32 cannot hold it (write 0 for zero)'
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            return f"must lie within ±{MAX_INTEGER} (2**31 - 1): every count, size and seed fits a 32-bit integer"
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return "must be a finite number (YAML reads .inf, .nan and literals past 1.8e308 such as 1e999 as such)"
        if abs(value) > MAX_FLOAT_MAGNITUDE:
            return f"must lie within ±{MAX_FLOAT_MAGNITUDE:g}: larger values overflow float32 arithmetic"
        if value != 0.0 and abs(value) < MIN_FLOAT_MAGNITUDE:
            return (
                f"must be 0 or at least {MIN_FLOAT_MAGNITUDE:g} in magnitude: float32 cannot hold it (write 0 for zero)"
            )
    return None


class _Strict(BaseModel):
    # strict: "2" is not an int and "1e-3" is not a float; extra keys are errors (research A5, rule 3).
    # allow_inf_nan=False: `lr: 1e999` (infinity) or `.nan` is refused for every float field.
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _sane_numbers(cls, value: Any) -> Any:
        # Every field of every section: a number, or a list of numbers (milestones, betas). Sections are
        # models with their own check; dicts are factory `args`, passed to the user's code as written.
        items = value if isinstance(value, (list, tuple)) else [value]
        for index, item in enumerate(items):
            problem = number_range_problem(item)
            if problem is not None:
                context = {"problem": problem, "number": item, "index": index if items is value else None}
                raise PydanticCustomError("number_out_of_range", "{problem}", context)
        return value


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
