"""Generate tokens from a language model, one at a time: greedy, or sampled at a temperature.

The loop of nanoGPT's ``generate`` (Karpathy 2022): feed the last ``context_length`` tokens, take the logits
at the last position, pick the next token, append it. There is no key-value cache: every step runs the model
on the whole window, which costs little for the small models dlcheck trains and works with any model that
takes ``(1, t)`` token ids for ``t <= context_length`` and returns ``(1, t, V)`` logits.
"""

from __future__ import annotations

__all__ = ["generate_tokens"]

from collections.abc import Sequence

import torch
from torch import nn

from dlcheck.errors import InputError


@torch.no_grad()
def generate_tokens(
    model: nn.Module,
    prompt: Sequence[int],
    *,
    tokens: int,
    context_length: int,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[int]:
    """Continue ``prompt`` by ``tokens`` token ids.

    Parameters
    ----------
    model : torch.nn.Module
        Takes ``(1, t)`` int64 ids and returns ``(1, t, V)`` logits; it is run in eval mode on its own
        device and left in the mode it was in.
    prompt : sequence of int
        At least one token id.
    tokens : int
        How many tokens to add.
    context_length : int
        The longest window the model takes; longer contexts keep their last ``context_length`` tokens.
    temperature : float
        0 picks the most likely token (greedy); above 0 samples from ``softmax(logits / temperature)``.
    seed : int
        Seeds the sampling (a private generator; the global random state is not touched).

    Returns
    -------
    list of int
        The ``tokens`` new ids (without the prompt).

    Raises
    ------
    InputError
        For an empty prompt, a negative temperature, or a model that does not return ``(1, t, V)`` logits.

    Examples
    --------
    >>> class Next(nn.Module):  # always predicts "previous id + 1"
    ...     def forward(self, ids):
    ...         return torch.nn.functional.one_hot((ids + 1) % 5, 5).float() * 10
    >>> generate_tokens(Next(), [0], tokens=6, context_length=3)
    [1, 2, 3, 4, 0, 1]
    """
    if not prompt:
        raise InputError("the prompt has no tokens; give at least one (e.g. a newline)")
    if temperature < 0:
        raise InputError(f"--temperature {temperature}: must be 0 (greedy) or above")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator(device="cpu").manual_seed(seed)
    training = model.training
    model.eval()
    context = torch.tensor([list(prompt)], dtype=torch.long, device=device)  # (1, t)
    produced: list[int] = []
    try:
        for _ in range(tokens):
            window = context[:, -context_length:]  # (1, min(t, T))
            logits = model(window)
            if isinstance(logits, (tuple, list)):
                logits = logits[0]
            if not isinstance(logits, torch.Tensor) or logits.ndim != 3 or logits.shape[:2] != window.shape:
                shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise InputError(
                    f"the model returned {shape} for token ids of shape {tuple(window.shape)}; generation needs "
                    "logits (1, t, V) at every position"
                )
            last = logits[0, -1].float().cpu()  # (V,)
            if temperature == 0:
                chosen = int(last.argmax())
            else:
                probabilities = torch.softmax(last / temperature, dim=0)
                chosen = int(torch.multinomial(probabilities, 1, generator=generator))
            produced.append(chosen)
            next_token = torch.tensor([[chosen]], dtype=torch.long, device=device)
            context = torch.cat([context, next_token], dim=1)[:, -context_length:]
    finally:
        model.train(training)
    return produced
