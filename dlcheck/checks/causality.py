"""``causality``: in a causal sequence model, the output at position t must not depend on any input after t.

A wrong attention mask, a convolution padded on both sides or a shift in the wrong direction leaks the
future: the training loss looks superb (the model reads the answer) and generation is garbage. Karpathy's
recipe suggests charting dependencies with backprop; this check does it for a few positions t:

- **gradients**: the output at t, projected on a random vector (a plain sum is blind to outputs that sum to
  1), is back-propagated to the token embeddings (token ids are integers: a forward hook on the
  ``nn.Embedding`` that receives them swaps its output for a leaf tensor); the gradient at every position
  after t must be exactly zero. The pattern of a leak names its usual cause: every later position (no
  mask, or a bidirectional layer), later positions but no earlier one (an inverted mask), or a few
  positions ahead (a convolution padded on both sides, a shift the wrong way);
- **forward**: the later tokens are replaced; the outputs up to t must not change. This needs no gradient
  path, so it also covers models without an ``nn.Embedding`` (one-hot inputs) and leaks through
  integer paths;
- **positions**: one token repeated at every position must not give the same output everywhere; otherwise
  the model reads its context as a set of tokens: positions were never added. A causal transformer without
  positions still learns some order from its mask (Haviv et al. 2022), so this is a warning.

The model is probed in eval mode (dropout off, batch norm on running statistics), as it generates.
Bidirectional models (a GRU or LSTM with ``bidirectional=True``, attention with ``is_causal = False``, or
``bidirectional=True`` given) see the future by design: the check is skipped with a note.

Data that trains a model to copy its input (targets not shifted) or to predict two tokens ahead is a bug the
model cannot show: :func:`check_target_shift` finds it in the windows themselves.
"""

from __future__ import annotations

__all__ = ["NAME", "SHIFT_NAME", "check_causality", "check_target_shift", "declared_bidirectional"]

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._probe import timed
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.step import as_tensor_output
from dlcheck.formatting import number, percent, plural
from dlcheck.verdict import CheckResult

NAME = "causality"
SHIFT_NAME = "target_shift"

_DECLARE_ADVICE = (
    "If the model is meant to see the whole sequence (an encoder such as BERT, a tagger), it is not a causal "
    "language model: declare it with check_causality(model, inputs, bidirectional=True)."
)
_MASK_ADVICE = (
    "A missing causal mask: pass is_causal=True to torch.nn.functional.scaled_dot_product_attention, or a mask "
    "that hides later positions (nn.Transformer.generate_square_subsequent_mask(T), or "
    "masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float('-inf')) on the scores); or a "
    "bidirectional=True recurrent layer."
)
_INVERTED_ADVICE = (
    "An inverted causal mask: the allowed positions are the lower triangle, torch.tril(torch.ones(T, T)); "
    "masking with torch.tril (or keeping torch.triu) hides the past and shows the future."
)
_AHEAD_ADVICE = (
    "A convolution padded on both sides (padding=k for a kernel of 2k+1) sees k positions ahead: pad on the left "
    "only, F.pad(x, (kernel_size - 1, 0)), then convolve with padding=0 (a causal convolution, van den Oord et "
    "al. 2016). Or the inputs shifted the wrong way inside the model (x[:, 1:] where x[:, :-1] was meant, "
    "torch.roll(x, -1)): shift the targets in the data, not the inputs in the model."
)
_ORDER_ADVICE = (
    "Add positions to the token embeddings (learned, nn.Embedding(T, D) of torch.arange(T), or sinusoidal) and "
    "make sure their sum, not the bare token embedding, feeds the blocks: x = tokens(ids) + positions(arange(T))."
)


# ------------------------------------------------------------------------------------------ declarations


def declared_bidirectional(model: nn.Module) -> str | None:
    """Name the first module that declares it sees the future, or ``None``.

    A module declares it with ``bidirectional = True`` (torch's GRU, LSTM and RNN) or ``is_causal = False``
    (dlcheck's and Hugging Face's attention modules).

    Examples
    --------
    >>> declared_bidirectional(nn.Sequential(nn.Linear(4, 4), nn.GRU(4, 4, bidirectional=True)))
    '1 (GRU, bidirectional=True)'
    >>> declared_bidirectional(nn.GRU(4, 4)) is None
    True
    """
    for name, module in model.named_modules():
        where = name or "the model"
        if getattr(module, "bidirectional", False) is True:
            return f"{where} ({type(module).__name__}, bidirectional=True)"
        if getattr(module, "is_causal", True) is False:
            return f"{where} ({type(module).__name__}, is_causal=False)"
    return None


# ---------------------------------------------------------------------------------------------- probes


def _probe_positions(length: int, count: int, chosen: Sequence[int] | None) -> list[int]:
    """Positions with a future to leak from (t < T - 1): 0, 1, then spread over the window."""
    if chosen is not None:
        return sorted({int(position) for position in chosen if 0 <= int(position) < length - 1})
    candidates = [0, 1, length // 4, length // 2, (3 * length) // 4, length - 2]
    return sorted({position for position in candidates if 0 <= position < length - 1})[: max(1, count)]


def _forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return as_tensor_output(model(inputs))


def _scale(outputs: torch.Tensor) -> float:
    return float(outputs.detach().float().pow(2).mean().sqrt()) or 1.0


class _EmbeddingTap:
    """Forward hooks on every ``nn.Embedding``: the one fed these token ids hands out a leaf to differentiate."""

    def __init__(self, model: nn.Module, inputs: torch.Tensor) -> None:
        self.inputs = inputs
        self.leaves: list[torch.Tensor] = []
        self.names: list[str] = []
        self._handles = [
            module.register_forward_hook(self._hook(name))
            for name, module in model.named_modules()
            if isinstance(module, nn.Embedding)
        ]

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, arguments: tuple[Any, ...], output: Any) -> Any:
            ids = arguments[0] if arguments else None
            if not isinstance(ids, torch.Tensor) or not isinstance(output, torch.Tensor):
                return None
            # the token embedding, not a position embedding of torch.arange(T): it receives the inputs themselves
            if ids.shape != self.inputs.shape or not torch.equal(ids.to(self.inputs.device), self.inputs):
                return None
            leaf = output.detach().requires_grad_(True)  # (B, T, D)
            self.leaves.append(leaf)
            self.names.append(name or "the model")
            return leaf

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _dependence_map(
    outputs: torch.Tensor, leaves: list[torch.Tensor], positions: list[int], seed: int
) -> dict[int, torch.Tensor]:
    """For each probed t, the gradient norm of the output at t at every (sample, input position): (B, T)."""
    generator = torch.Generator().manual_seed(seed)
    batch = outputs.shape[0]
    maps: dict[int, torch.Tensor] = {}
    for position in positions:
        projection = torch.randn((batch, *outputs.shape[2:]), generator=generator).to(outputs.device, outputs.dtype)
        gradients = torch.autograd.grad(
            (outputs[:, position] * projection).sum(), leaves, retain_graph=True, allow_unused=True
        )
        total = torch.zeros(batch, leaves[0].shape[1], dtype=torch.float64)
        for gradient in gradients:
            if gradient is not None:
                total += gradient.detach().double().cpu().reshape(batch, gradient.shape[1], -1).norm(dim=2)
        maps[position] = total  # (B, T)
    return maps


def _replacement(inputs: torch.Tensor, changed_positions: slice, generator: torch.Generator) -> torch.Tensor | None:
    """``inputs`` with the tokens at ``changed_positions`` changed: to other token ids already present, or by
    noise for real-valued inputs; ``None`` when the inputs hold a single token id."""
    changed = inputs.clone()
    part = changed[:, changed_positions]
    if inputs.is_floating_point():
        changed[:, changed_positions] = part + torch.randn(part.shape, generator=generator).to(part.device, part.dtype)
        return changed
    pool = torch.unique(inputs.cpu())
    if pool.numel() < 2:
        return None
    # id + a random non-zero offset within the pool: every position gets a different token, still a valid id
    index = torch.searchsorted(pool, part.cpu().contiguous())
    offset = torch.randint(1, pool.numel(), index.shape, generator=generator)
    changed[:, changed_positions] = pool[(index + offset) % pool.numel()].to(inputs.device)
    return changed


def _change_up_to(
    model: nn.Module,
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    position: int,
    changed_positions: slice,
    generator: torch.Generator,
) -> float | None:
    """How much the outputs at positions 0..``position`` move when the tokens at ``changed_positions`` change,
    relative to the outputs' scale."""
    changed = _replacement(inputs, changed_positions, generator)
    if changed is None:
        return None
    with torch.no_grad():
        again = _forward(model, changed)
    if again.shape != outputs.shape:
        return None
    difference = (again[:, : position + 1].float() - outputs[:, : position + 1].float()).abs().max()
    return float(difference) / _scale(outputs)


def _forward_leaks(
    model: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor, positions: list[int], seed: int
) -> dict[int, float] | None:
    """For each probed t, how much the outputs up to t change when every token after t changes (relative)."""
    generator = torch.Generator().manual_seed(seed + 1)
    changes: dict[int, float] = {}
    for position in positions:
        change = _change_up_to(model, inputs, outputs, position, slice(position + 1, None), generator)
        if change is None:
            return None
        changes[position] = change
    return changes


def _forward_reach(
    model: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor, position: int, seed: int
) -> tuple[bool, bool]:
    """Whether the outputs up to ``position`` see the next token alone, and tokens two or more ahead."""
    generator = torch.Generator().manual_seed(seed + 2)
    tolerance = thresholds.CAUSALITY_FORWARD_TOLERANCE
    following = slice(position + 1, position + 2)
    beyond = slice(position + 2, None)
    next_change = _change_up_to(model, inputs, outputs, position, following, generator) or 0.0
    later_change = (
        _change_up_to(model, inputs, outputs, position, beyond, generator) or 0.0
        if position + 2 < inputs.shape[1]
        else 0.0
    )
    return next_change > tolerance, later_change > tolerance


def _position_spread(model: nn.Module, inputs: torch.Tensor) -> float:
    """Feed one token repeated at every position; return how much the outputs differ across positions.

    A model that knows where it is gives each position its own output (positions added, a recurrence, a
    convolution's zero padding at the start). A model that reads its context as a set of tokens cannot tell
    the positions of a constant sequence apart: every output is the same.
    """
    constant = inputs[:1, :1].expand(1, inputs.shape[1], *inputs.shape[2:]).clone()  # (1, T, ...)
    with torch.no_grad():
        outputs = _forward(model, constant)[0].float()  # (T, ...)
    spread = (outputs - outputs[-1:]).abs().max()
    return float(spread) / _scale(outputs)


# ---------------------------------------------------------------------------------------------- verdicts


def _leak_of(dependence: torch.Tensor, position: int) -> tuple[float, list[int], bool]:
    """(future / own-and-past gradient ratio, leaking later positions, whether any earlier position counts)."""
    per_position = dependence.max(dim=0).values  # (T,), over the batch
    own_and_past = float(per_position[: position + 1].max())
    future = per_position[position + 1 :]
    largest_future = float(future.max()) if future.numel() else 0.0
    if largest_future == 0.0:
        return 0.0, [], bool((per_position[:position] > 0).any())
    reference = max(own_and_past, 1e-300)
    ratio = largest_future / reference if own_and_past > 0 else float("inf")
    threshold = thresholds.CAUSALITY_GRADIENT_TOLERANCE * reference
    leaking = [position + 1 + index for index, value in enumerate(future.tolist()) if value > threshold]
    past = per_position[:position]
    sees_past = bool((past > thresholds.CAUSALITY_GRADIENT_TOLERANCE * max(largest_future, own_and_past)).any())
    return ratio, leaking, sees_past


def _span_words(position: int, leaking: list[int], length: int) -> str:
    if len(leaking) == 1:
        return f"the input at position {leaking[0]}"
    if leaking == list(range(position + 1, length)):
        return f"the inputs at positions {leaking[0]} to {leaking[-1]}, every later position"
    return f"the inputs at {plural(len(leaking), 'later position')} ({leaking[0]} to {leaking[-1]})"


def _gradient_verdict(
    maps: dict[int, torch.Tensor], length: int, metrics: dict[str, Any]
) -> tuple[str, list[str]] | None:
    """The summary and advice of a gradient leak, ``None`` when the future gets exactly no gradient."""
    leaks = {position: _leak_of(dependence, position) for position, dependence in maps.items()}
    metrics["future_gradient"] = max(ratio for ratio, _, _ in leaks.values())
    leaking = [position for position, (_, later, _) in leaks.items() if later]
    if not leaking:
        return None
    first = leaking[0]
    _, later, _ = leaks[first]
    ahead = max(max(leaks[position][1]) - position for position in leaking)
    whole = all(leaks[position][1] == list(range(position + 1, length)) for position in leaking)
    blind_to_past = all(not leaks[position][2] for position in leaking if position > 0) and any(
        position > 0 for position in leaking
    )
    metrics.update(
        leaking_position=first,
        leaking_from=later[0],
        positions_ahead=ahead,
        leaking_probes=len(leaking),
    )
    summary = f"The output at position {first} depends on {_span_words(first, later, length)}"
    if blind_to_past:
        metrics["cause"] = "inverted_mask"
        return (
            f"{summary} and on no earlier one: the causal mask is inverted (it hides the past and shows the future).",
            [_INVERTED_ADVICE, _DECLARE_ADVICE],
        )
    if whole and ahead > 1:
        metrics["cause"] = "no_mask"
        return f"{summary}: the model sees the future, so the causal mask is missing.", [_MASK_ADVICE, _DECLARE_ADVICE]
    metrics["cause"] = "sees_ahead"
    words = "one position" if ahead == 1 else f"up to {ahead} positions"
    return (
        f"{summary}, {words} ahead: a convolution padded on both sides, or the inputs shifted the wrong way.",
        [_AHEAD_ADVICE, _DECLARE_ADVICE],
    )


def _forward_verdict(
    model: nn.Module,
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    position: int,
    change: float,
    seed: int,
    metrics: dict[str, Any],
) -> tuple[str, list[str]]:
    """A leak the gradients did not show (no embedding to differentiate at, the tokens transformed before it, or
    a path without gradient): how far ahead it reaches, from single-token changes."""
    sees_next, sees_beyond = _forward_reach(model, inputs, outputs, position, seed)
    metrics.update(leaking_position=position, cause="forward_only")
    summary = (
        f"Changing the tokens after position {position} changes the outputs up to position {position} (by "
        f"{number(change)} of their scale): the model sees the future"
    )
    if sees_next and not sees_beyond:
        metrics.update(leaking_from=position + 1, positions_ahead=1, cause="sees_ahead")
        return (
            f"{summary}, exactly one position ahead: the tokens are shifted the wrong way before the model reads them, "
            "or a convolution is padded on both sides.",
            [_AHEAD_ADVICE, _DECLARE_ADVICE],
        )
    path = (
        " through a path without gradient (indexing, argmax, .detach())"
        if metrics.get("gradient_test", "").startswith("at")
        else ""
    )
    return f"{summary}{path}.", [_MASK_ADVICE, _AHEAD_ADVICE, _DECLARE_ADVICE]


@timed
def check_causality(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    bidirectional: bool | None = None,
    positions: Sequence[int] | None = None,
    seed: int = 0,
) -> CheckResult:
    """Check that the output at each position depends on no later input, and on the order of earlier ones.

    Parameters
    ----------
    model : torch.nn.Module
        The sequence model; a copy is probed in eval mode, the model itself is not changed. It takes
        ``inputs`` and returns ``(B, T, ...)`` outputs (a tuple counts by its first element).
    inputs : torch.Tensor
        ``(B, T)`` token ids on the model's device (or ``(B, T, ...)`` real-valued sequences). Gradients are
        taken at the output of the ``nn.Embedding`` that receives these ids; without one, the forward test
        alone decides.
    bidirectional : bool, optional
        ``True`` skips the check (the model sees the whole sequence by design); ``False`` checks even a model
        whose modules declare ``bidirectional`` or ``is_causal = False``; by default those declarations decide.
    positions : sequence of int, optional
        Output positions to probe (default: 0, 1 and four more across the window).
    seed : int
        Seeds the random projections and replacement tokens.

    Returns
    -------
    CheckResult
        ``causality``: ``fail`` when an output depends on later inputs (metrics ``leaking_position``,
        ``leaking_from``, ``positions_ahead``, ``cause``); ``warn`` when it cannot tell positions apart
        (``position_spread``: positions not added); ``skip`` for bidirectional models.

    Examples
    --------
    >>> class Causal(nn.Module):  # a GRU: position t sees 0..t
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embedding, self.gru, self.head = nn.Embedding(10, 8), nn.GRU(8, 8, batch_first=True), nn.Linear(8, 10)
    ...     def forward(self, ids):
    ...         return self.head(self.gru(self.embedding(ids))[0])  # (B, T, 10)
    >>> ids = torch.randint(0, 10, (4, 12), generator=torch.Generator().manual_seed(0))
    >>> result = check_causality(Causal(), ids)
    >>> result.status, result.metrics["future_gradient"]
    ('pass', 0.0)
    >>> class Leaky(Causal):  # the mean over the whole window
    ...     def forward(self, ids):
    ...         return self.head(self.embedding(ids).mean(dim=1, keepdim=True).expand(-1, ids.shape[1], -1))
    >>> result = check_causality(Leaky(), ids)
    >>> result.status, result.metrics["leaking_position"], result.metrics["cause"]
    ('fail', 0, 'no_mask')
    """
    metrics: dict[str, Any] = {}
    if inputs.ndim < 2 or inputs.shape[1] < 2:
        return CheckResult(NAME, "skip", "Needs sequences (B, T) of at least 2 positions.", metrics)
    length = int(inputs.shape[1])
    metrics.update(batch_size=int(inputs.shape[0]), length=length)
    declared = (
        declared_bidirectional(model) if bidirectional is None else ("bidirectional=True" if bidirectional else None)
    )
    if declared is not None:
        metrics["bidirectional"] = declared
        return CheckResult(
            NAME,
            "skip",
            f"The model is bidirectional ({declared}): every output may see the whole sequence by design, so "
            "causality does not apply. A model that generates text must be causal.",
            metrics,
        )
    probe = probe_copy(model).eval()
    probed = _probe_positions(length, thresholds.CAUSALITY_PROBES, positions)
    metrics["probed_positions"] = probed

    # ---- gradients at the token embeddings (or at real-valued inputs)
    if inputs.is_floating_point():
        leaves = [inputs.detach().clone().requires_grad_(True)]
        outputs = _forward(probe, leaves[0])
        tapped = "the inputs"
    else:
        tap = _EmbeddingTap(probe, inputs)
        try:
            outputs = _forward(probe, inputs)
        finally:
            tap.remove()
        leaves, tapped = tap.leaves, ", ".join(dict.fromkeys(tap.names))
    if outputs.ndim < 2 or outputs.shape[:2] != inputs.shape[:2]:
        return CheckResult(
            NAME,
            "error",
            f"The model returns outputs of shape {tuple(outputs.shape)} for inputs {tuple(inputs.shape)}; the check "
            "needs an output per position, (B, T, ...), with the batch first and then time.",
            metrics,
            ["Return (B, T, V) logits (batch_first); a time-major model needs a wrapper that transposes."],
        )
    maps: dict[int, torch.Tensor] = {}
    if leaves and outputs.requires_grad:
        maps = _dependence_map(outputs, leaves, [*probed, length - 1], seed)
        metrics["gradient_test"] = f"at {tapped}"
    else:
        metrics["gradient_test"] = (
            "skipped (no nn.Embedding receives the token ids)" if not leaves else "skipped (outputs carry no gradient)"
        )
    outputs = outputs.detach()

    # ---- the verdicts: gradient leak, forward leak, order
    problems: list[tuple[str, list[str]]] = []
    causal_maps = {position: dependence for position, dependence in maps.items() if position in probed}
    gradient = _gradient_verdict(causal_maps, length, metrics) if causal_maps else None
    if gradient is not None:
        problems.append(gradient)
    changes = _forward_leaks(probe, inputs, outputs, probed, seed)
    if changes is None:
        metrics["forward_test"] = "skipped (a single distinct token, or outputs change shape)"
    else:
        metrics["forward_change"] = max(changes.values())
        moved = [position for position, change in changes.items() if change > thresholds.CAUSALITY_FORWARD_TOLERANCE]
        if moved and gradient is None:
            problems.append(_forward_verdict(probe, inputs, outputs, moved[0], changes[moved[0]], seed, metrics))
    warning: tuple[str, list[str]] | None = None
    if not problems and maps:
        last = maps[length - 1]
        metrics["uses_context"] = bool((last[:, : length - 1] > 0).any())
        if metrics["uses_context"]:
            spread = _position_spread(probe, inputs)
            metrics["position_spread"] = spread
            if spread <= thresholds.POSITION_SPREAD_TOLERANCE:
                warning = (
                    f"The model uses earlier tokens but gives the same output at every position of a sequence of "
                    f"one repeated token (spread {number(spread)} of its scale): it reads its context as a set, so "
                    "positions are not added (or are added to something the blocks never read). A causal "
                    "transformer still learns a little order from its mask, but worse.",
                    [_ORDER_ADVICE],
                )
    if problems:
        summary, advice = problems[0]
        return CheckResult(NAME, "fail", summary, metrics, advice)
    if warning is not None:
        return CheckResult(NAME, "warn", warning[0], metrics, warning[1])
    how = "gradients and forward passes" if maps else "forward passes"
    summary = (
        f"No output depends on a later input ({plural(len(probed), 'probed position')} of {length}, {how}, eval mode)."
    )
    if maps and not metrics.get("uses_context", True):
        summary += " The last output uses no earlier position: a model without context (a bigram model)."

    return CheckResult(NAME, "pass", summary, metrics)


# ------------------------------------------------------------------------------------------ target shift


@timed
def check_target_shift(inputs: torch.Tensor, targets: torch.Tensor, *, ignore_index: int | None = None) -> CheckResult:
    """Check that next-token targets are the inputs shifted by exactly one position.

    For shifts k from -3 to 3 the share of positions with ``targets[:, t] == inputs[:, t + k]`` is measured:
    next-token data match everywhere at k = 1. Targets equal to the inputs (k = 0) teach the model to copy;
    k = 2 asks for the token after next (an off-by-one in the windowing); k < 0 asks for a previous token.

    Parameters
    ----------
    inputs, targets : torch.Tensor
        ``(B, T)`` integer token ids, as a batch of windows.
    ignore_index : int, optional
        Target id of padding positions, left out.

    Returns
    -------
    CheckResult
        ``target_shift``: ``fail`` for a shift other than 1 (metrics ``shift`` and ``match``), ``skip`` when
        the targets are not a shifted copy of the inputs at all (not next-token prediction).

    Examples
    --------
    >>> tokens = torch.randint(0, 50, (4, 33), generator=torch.Generator().manual_seed(0))
    >>> check_target_shift(tokens[:, :-1], tokens[:, 1:]).status
    'pass'
    >>> result = check_target_shift(tokens[:, :-1], tokens[:, :-1])
    >>> result.status, result.metrics["shift"]
    ('fail', 0)
    """
    metrics: dict[str, Any] = {}
    if inputs.shape != targets.shape or inputs.ndim != 2 or inputs.is_floating_point() or targets.is_floating_point():
        return CheckResult(
            SHIFT_NAME,
            "skip",
            f"Needs integer (B, T) inputs and targets of one shape; found {tuple(inputs.shape)} and "
            f"{tuple(targets.shape)}.",
            metrics,
        )
    length = inputs.shape[1]
    matches: dict[int, float] = {}
    for shift in range(-thresholds.TARGET_SHIFT_RANGE, thresholds.TARGET_SHIFT_RANGE + 1):
        if abs(shift) >= length:
            continue
        if shift >= 0:
            target_part, input_part = targets[:, : length - shift], inputs[:, shift:]
        else:
            target_part, input_part = targets[:, -shift:], inputs[:, : length + shift]
        counted = torch.ones_like(target_part, dtype=torch.bool)
        if ignore_index is not None:
            counted = target_part != ignore_index
        if int(counted.sum()) == 0:
            continue
        matches[shift] = float(((target_part == input_part) & counted).sum()) / float(counted.sum())
    metrics["matches"] = {str(shift): match for shift, match in matches.items()}
    if not matches:
        return CheckResult(SHIFT_NAME, "skip", "No target to compare (every target is ignored).", metrics)
    if len(torch.unique(inputs)) < 2:
        return CheckResult(SHIFT_NAME, "skip", "The inputs hold a single token: any shift matches.", metrics)
    threshold = thresholds.TARGET_SHIFT_MATCH
    if matches.get(1, 0.0) >= threshold:
        metrics.update(shift=1, match=matches[1])
        return CheckResult(
            SHIFT_NAME,
            "pass",
            f"The targets are the inputs shifted by one position ({percent(matches[1])} of the positions match): "
            "each target is the next token.",
            metrics,
        )
    shift = max(matches, key=lambda key: matches[key])
    if matches[shift] < threshold:
        metrics.update(shift=None, match=matches[shift])
        return CheckResult(
            SHIFT_NAME,
            "skip",
            f"The targets are no shifted copy of the inputs (at best {percent(matches[shift])} of the positions "
            f"match, at shift {shift}): not next-token prediction, nothing to check.",
            metrics,
        )
    metrics.update(shift=shift, match=matches[shift])
    share = percent(matches[shift])
    if shift == 0:
        summary = (
            f"The targets equal the inputs ({share} of the positions): they were not shifted, so the model learns "
            "to copy its input; its loss falls to almost 0 and it cannot generate."
        )
        advice = "Shift the targets by one: inputs = tokens[s : s + T], targets = tokens[s + 1 : s + T + 1]."
    elif shift > 1:
        summary = (
            f"The targets are the inputs shifted by {shift} positions ({share} of the positions match): the model is "
            f"asked for the token {shift} steps ahead, an off-by-one in the windowing."
        )
        advice = "Shift by exactly one: targets = tokens[s + 1 : s + T + 1] for inputs tokens[s : s + T]."
    else:
        summary = (
            f"The targets are the inputs shifted by {shift} ({share} of the positions match): each target is an "
            "earlier token, the shift goes the wrong way."
        )
        advice = "Shift the other way: targets = tokens[s + 1 : s + T + 1] for inputs tokens[s : s + T]."
    return CheckResult(SHIFT_NAME, "fail", summary, metrics, [advice])
