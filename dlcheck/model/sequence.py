"""Modules of the sequence layers: positions, a pre-norm transformer block, recurrent layers, a language-model head.

Shapes are ``(B, T, D)`` throughout: one feature vector per position, features last, the layout of
``nn.Linear``, ``nn.LayerNorm`` and ``batch_first`` recurrent layers. The token embedding is a plain
``nn.Embedding`` (so that :func:`dlcheck.checks.check_causality` finds it by type in any model).

The transformer block follows nanoGPT's ``Block`` (Karpathy 2022; GPT-2's pre-norm arrangement, Radford et al.
2019): ``x + attention(norm(x))`` then ``x + mlp(norm(x))``, attention through
``torch.nn.functional.scaled_dot_product_attention`` with ``is_causal``, which picks a fused kernel where one
exists. Each module that can see the future says so: ``is_causal`` on attention, ``bidirectional`` on
recurrent layers, the attributes torch's own modules use.
"""

from __future__ import annotations

__all__ = [
    "LanguageModelHead",
    "LearnedPositions",
    "Recurrent",
    "SelfAttention",
    "SinusoidalPositions",
    "TransformerBlock",
    "sinusoidal_table",
]

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlcheck.errors import InputError


def _check_length(length: int, maximum: int, what: str) -> None:
    if length > maximum:
        raise InputError(
            f"{what}: a sequence of {length} positions is longer than the {maximum} it was built for (the data's "
            f"context_length); feed at most the last {maximum} tokens"
        )


class LearnedPositions(nn.Module):
    """Adds a trained vector per position: ``x + weight[:T]`` for ``x`` of shape ``(B, T, D)``."""

    def __init__(self, context_length: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(context_length, dim))  # (T_max, D); filled by the initialiser

    def extra_repr(self) -> str:
        return f"context_length={self.weight.shape[0]}, dim={self.weight.shape[1]}"

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        _check_length(length, self.weight.shape[0], "positions")
        return inputs + self.weight[:length]


def sinusoidal_table(context_length: int, dim: int) -> torch.Tensor:
    """Vaswani et al. (2017) sinusoids, scaled so that each position's vector has unit norm.

    ``PE[t, 2i] = sin(t / 10000^(2i/D))``, ``PE[t, 2i+1] = cos(...)``; unscaled, a vector's norm is ``sqrt(D/2)``,
    which would drown token embeddings of unit norm, so each row is divided by its norm.

    Examples
    --------
    >>> table = sinusoidal_table(8, 6)
    >>> tuple(table.shape), round(float(table[3].norm()), 4)
    ((8, 6), 1.0)
    """
    positions = torch.arange(context_length, dtype=torch.float64)[:, None]  # (T, 1)
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (ceil(D/2),)
    table = torch.zeros(context_length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies[: dim // 2])
    norms = table.norm(dim=1, keepdim=True)  # sqrt(D/2) for even D; close to it for odd D
    return (table / norms).to(torch.float32)


class SinusoidalPositions(nn.Module):
    """Adds fixed sinusoids (:func:`sinusoidal_table`); no parameters, nothing in the state dict."""

    def __init__(self, context_length: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal_table(context_length, dim), persistent=False)  # (T_max, D)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        table: torch.Tensor = self.table  # type: ignore[assignment]
        _check_length(length, table.shape[0], "positions")
        return inputs + table[:length].to(inputs.dtype)


class SelfAttention(nn.Module):
    """Multi-head self-attention over ``(B, T, D)``; causal unless built with ``causal=False``."""

    def __init__(self, dim: int, heads: int, dropout: float, causal: bool) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.is_causal = causal  # the attribute name torch's and Hugging Face's attention modules use
        self.qkv = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)
        self.output_dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        batch, length, dim = inputs.shape
        query, key, value = self.qkv(inputs).split(dim, dim=2)  # 3 x (B, T, D)
        # (B, T, D) -> (B, heads, T, D / heads)
        query, key, value = (
            tensor.view(batch, length, self.heads, dim // self.heads).transpose(1, 2) for tensor in (query, key, value)
        )
        attended = F.scaled_dot_product_attention(
            query, key, value, dropout_p=self.dropout if self.training else 0.0, is_causal=self.is_causal
        )  # (B, heads, T, D / heads)
        merged = attended.transpose(1, 2).reshape(batch, length, dim)  # (B, T, D)
        return self.output_dropout(self.projection(merged))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(norm1(x))``, then ``x + mlp(norm2(x))``, with a GELU MLP ``mlp_ratio * D`` wide."""

    def __init__(self, dim: int, *, heads: int, mlp_ratio: int, dropout: float, causal: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, dropout, causal)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim), nn.Dropout(dropout)
        )

    @property
    def is_causal(self) -> bool:
        return self.attention.is_causal

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs + self.attention(self.norm1(inputs))  # (B, T, D)
        return hidden + self.mlp(self.norm2(hidden))


class Recurrent(nn.Module):
    """A ``batch_first`` GRU or LSTM that returns its output at every position, ``(B, T, hidden * directions)``.

    torch's recurrent modules return ``(output, state)``; a layer of a stack passes one tensor on.
    """

    def __init__(
        self, kind: str, dim: int, *, hidden: int, num_layers: int, bidirectional: bool, dropout: float
    ) -> None:
        super().__init__()
        recurrent_class = nn.GRU if kind == "gru" else nn.LSTM
        self.recurrent: nn.GRU | nn.LSTM = recurrent_class(
            dim,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,  # torch applies it between layers only
        )

    @property
    def bidirectional(self) -> bool:
        return bool(self.recurrent.bidirectional)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.recurrent(inputs)
        return outputs


class LanguageModelHead(nn.Module):
    """Logits over the vocabulary at every position: ``(B, T, D) -> (B, T, V)``.

    With ``tied`` the weight is the embedding's own parameter (Press & Wolf 2017, "Using the Output Embedding
    to Improve Language Models"): one tensor, trained by both uses, listed once by ``model.parameters()``.
    """

    def __init__(self, dim: int, vocabulary_size: int, *, bias: bool, tied: nn.Embedding | None = None) -> None:
        super().__init__()
        self.tied = tied is not None
        if tied is not None:
            self.weight = tied.weight  # (V, D), shared
        else:
            self.weight = nn.Parameter(torch.empty(vocabulary_size, dim))  # filled by the initialiser
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.zeros(vocabulary_size))
        else:
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        vocabulary, dim = self.weight.shape
        return f"dim={dim}, vocabulary_size={vocabulary}, bias={self.bias is not None}, tied={self.tied}"

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.linear(inputs, self.weight, self.bias)
