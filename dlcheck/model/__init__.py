"""Models from recipes: a layer vocabulary with shape inference, initialisation, factories, summaries.

``from dlcheck.model import ModelSummary`` does not import torch; ``build_model`` loads it on first use.
"""

from __future__ import annotations

__all__ = ["LayerRow", "ModelSummary", "build_model", "check_output_shape", "summarize_model"]

from typing import TYPE_CHECKING, Any

from dlcheck.model.output_check import check_output_shape
from dlcheck.model.summary import LayerRow, ModelSummary, summarize_model

if TYPE_CHECKING:
    from dlcheck.model.build import build_model


def __getattr__(name: str) -> Any:
    if name == "build_model":
        from dlcheck.model.build import build_model

        return build_model
    raise AttributeError(f"module 'dlcheck.model' has no attribute {name!r}")
