"""Leave the user's objects exactly as they were: snapshot, restore in ``finally``, and prove it with a checksum.

Two ways, one module: :class:`StateGuard` trains the caller's own model and optimiser in place and puts them back
(the LR finder, the gradient-flow probe of a caller's optimiser); :func:`probe_copy` trains a deep copy and
leaves the original alone (the checks that probe a model without its optimiser).

State contamination is the most common correctness complaint about LR finders (Lightning #6675 and #9672,
torch-lr-finder #11, fastai #3185). :class:`StateGuard` snapshots, **on the CPU** (no
extra GPU memory, unlike torch-lr-finder's in-memory cache):

- the model's parameters and buffers (BatchNorm running statistics and counters), its gradients and the
  train/eval flag of every module;
- the optimiser's ``state_dict`` (moments, step counts, per-group learning rates);
- the global RNG states of Python, NumPy, torch's CPU generator and every CUDA device (Lightning restores
  these; torch-lr-finder and fastai do not).

It restores all of them when the block ends, also on an exception, and compares a checksum of the model
and optimiser taken before and after: :attr:`StateGuard.report` says whether they are bit-identical.
"""

from __future__ import annotations

__all__ = ["ChecksumReport", "StateGuard", "probe_copy", "state_checksum"]

import copy
import hashlib
import random
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcheck.errors import InvalidArgument


@dataclass(frozen=True)
class ChecksumReport:
    """Checksums of the model and optimiser before the test and after the restore.

    Attributes
    ----------
    before, after : str
        Hex BLAKE2b digests (16 bytes) of every parameter, buffer and optimiser-state tensor, bit for bit.
    rng_restored : bool
        Whether the Python, NumPy and torch RNG states read back equal to the snapshot.
    """

    before: str
    after: str
    rng_restored: bool = True

    @property
    def restored(self) -> bool:
        return self.before == self.after and self.rng_restored


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().reshape(-1).contiguous().cpu()
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def _update(digest: Any, name: str, value: Any) -> None:
    digest.update(name.encode())
    if isinstance(value, torch.Tensor):
        digest.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
        digest.update(_tensor_bytes(value))
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _update(digest, f"{name}.{key}", value[key])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _update(digest, f"{name}.{index}", item)
    else:
        digest.update(repr(value).encode())


def state_checksum(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> str:
    """A digest of every parameter and buffer of ``model`` and the full state of ``optimizer``.

    Bit-exact: any change to any element (or to a learning rate, a step count, a dtype) changes it.

    Examples
    --------
    >>> layer = nn.Linear(2, 1)
    >>> before = state_checksum(layer)
    >>> with torch.no_grad():
    ...     _ = layer.bias.add_(1e-7)
    >>> state_checksum(layer) == before
    False
    """
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict(keep_vars=False).items():
        _update(digest, f"model.{name}", tensor)
    if optimizer is not None:
        _update(digest, "optimizer", optimizer.state_dict())
    return digest.hexdigest()


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_to_cpu(item) for item in value)
    return copy.deepcopy(value)


@dataclass
class _RngStates:
    python: Any
    numpy: Any
    torch_cpu: torch.Tensor
    cuda: list[torch.Tensor] | None

    @classmethod
    def capture(cls) -> _RngStates:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        return cls(random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda)

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch_cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)

    def same_as(self, other: _RngStates) -> bool:
        numpy_same = all(
            np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
            for a, b in zip(self.numpy, other.numpy, strict=True)
        )
        return (
            self.python == other.python
            and numpy_same
            and torch.equal(self.torch_cpu, other.torch_cpu)
            and (self.cuda is None or other.cuda is None or all(map(torch.equal, self.cuda, other.cuda)))
        )


class StateGuard:
    """Context manager: snapshot a model and optimiser on entry, restore and verify on exit.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place inside the block.
    optimizer : torch.optim.Optimizer, optional
        Stepped in place inside the block (its learning rates changed, its state grown).

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> with StateGuard(model, optimizer) as guard:
    ...     model(torch.randn(8, 3)).sum().backward()
    ...     optimizer.step()
    ...     optimizer.param_groups[0]["lr"] = 5.0
    >>> guard.report.restored, optimizer.param_groups[0]["lr"]
    (True, 0.1)
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.report: ChecksumReport | None = None

    def __enter__(self) -> StateGuard:
        self._checksum = state_checksum(self.model, self.optimizer)
        self._rng = _RngStates.capture()
        self._model_state = _to_cpu(self.model.state_dict())
        self._optimizer_state = _to_cpu(self.optimizer.state_dict()) if self.optimizer is not None else None
        self._modes = [(module, module.training) for module in self.model.modules()]
        self._gradients = [
            (parameter, None if parameter.grad is None else parameter.grad.detach().to("cpu", copy=True))
            for parameter in self.model.parameters()
        ]
        return self

    def restore(self) -> None:
        """Put everything back as it was on entry (also used between repeated sweeps)."""
        self.model.load_state_dict(self._model_state)  # copies into the existing tensors: identities kept
        if self.optimizer is not None and self._optimizer_state is not None:
            # load_state_dict keeps our snapshot intact (it copies), so restore() may be called again.
            self.optimizer.load_state_dict(copy.deepcopy(self._optimizer_state))
        for module, training in self._modes:
            module.training = training
        for parameter, gradient in self._gradients:
            parameter.grad = None if gradient is None else gradient.to(parameter.device, copy=True)
        self._rng.restore()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.restore()
        after = state_checksum(self.model, self.optimizer)
        self.report = ChecksumReport(self._checksum, after, rng_restored=_RngStates.capture().same_as(self._rng))


def probe_copy(model: nn.Module) -> nn.Module:
    """A deep copy to probe (train mode, optimiser steps, hooks) without touching the caller's model.

    Raises
    ------
    InvalidArgument
        When the model cannot be copied (it holds an open file, a lock, a generator...).
    """
    try:
        return copy.deepcopy(model)
    except Exception as error:
        raise InvalidArgument(
            "model",
            f"model={type(model).__name__}: cannot be copied with copy.deepcopy ({type(error).__name__}: {error}); "
            "pass a function that builds the model instead, or make the model copyable.",
        ) from error
