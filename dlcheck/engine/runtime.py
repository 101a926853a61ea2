"""Where and how a run executes: process group, device, precision.

One entry point for every launch mode (as nanoGPT and Lightning do): a plain ``dlcheck train`` is a world of one;
under ``torchrun`` the ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` variables make it a process group, with
NCCL on CUDA and gloo on the CPU (so distributed code is testable without a GPU).
"""

from __future__ import annotations

__all__ = [
    "ChannelsLastInputs",
    "DistributedContext",
    "Precision",
    "configure_kernels",
    "resolve_device",
    "resolve_precision",
    "setup_distributed",
]

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch

from dlcheck.errors import InputError


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the run; a world of one when not launched by torchrun."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        # A torchrun job of one process is a process group too: it takes the N-process path (DDP, collectives
        # on nccl or gloo), so `torchrun --nproc_per_node=1` tests that path on a machine with one GPU.
        return self.world_size > 1 or self.initialized_here

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (the run directory: chosen by each rank, the names would differ)."""
        if not self.is_distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank (``[value]`` in a world of one)."""
        if not self.is_distributed:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.is_distributed:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    def shutdown(self) -> None:
        if self.initialized_here:
            import torch.distributed as dist

            if dist.is_initialized():
                # Let every rank finish its last collective before the group goes away: without it
                # gloo can abort a slower rank at exit ("terminate called without an active exception").
                dist.barrier()
                dist.destroy_process_group()


def setup_distributed(device_spec: str) -> DistributedContext:
    """Join the process group torchrun describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:  # not launched by torchrun: a world of one
        return DistributedContext()
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():
        return DistributedContext(rank, local_rank, world_size, initialized_here=False)
    wants_cuda = device_spec.startswith("cuda") or (device_spec == "auto" and torch.cuda.is_available())
    backend = "nccl" if wants_cuda else "gloo"
    if wants_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return DistributedContext(rank, local_rank, world_size, initialized_here=True)


def resolve_device(spec: str, context: DistributedContext | None = None) -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a device that exists, or explain why it cannot."""
    local_rank = context.local_rank if context is not None and context.is_distributed else None
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank if local_rank is not None else 0)
        if torch.backends.mps.is_available() and local_rank is None:
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(
                "device: mps was asked for, but this machine has no Apple GPU (MPS) backend available. "
                "Use `device: auto` or `--set device=cpu`."
            )
        return torch.device("mps")
    # cuda or cuda:N
    if not torch.cuda.is_available():
        raise InputError(
            f"device: {spec} was asked for, but PyTorch sees no CUDA device (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'no'}). Use `device: auto` to fall back to the CPU, "
            "or `--set device=cpu`."
        )
    index = int(spec.split(":", 1)[1]) if ":" in spec else (local_rank or 0)
    if local_rank is not None and ":" in spec:
        raise InputError(
            f"device: {spec} names one GPU, but torchrun started {context.world_size if context else '?'} processes; "
            "use `device: cuda` so each process takes the GPU of its LOCAL_RANK."
        )
    if index >= torch.cuda.device_count():
        raise InputError(
            f"device: {spec} was asked for, but only {torch.cuda.device_count()} CUDA device(s) exist "
            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})."
        )
    return torch.device("cuda", index)


@dataclass(frozen=True)
class Precision:
    """Autocast settings for a precision name (Lightning's explicit names: ``bf16-mixed``, not ``16``)."""

    name: str
    autocast_dtype: torch.dtype | None
    device_type: str

    @property
    def uses_scaler(self) -> bool:
        # fp16 has too little range for small gradients; bf16 has fp32's exponent and needs no scaling.
        return self.autocast_dtype is torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The autocast context for one forward pass (a no-op context for fp32: nothing to enter per step)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.autocast_dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.uses_scaler)


def resolve_precision(name: str, device: torch.device) -> Precision:
    """Check that ``name`` can run on ``device``; refuse with the reason where it cannot."""
    if name == "fp32":
        return Precision(name, None, device.type)
    if name == "fp16-mixed":
        if device.type != "cuda":
            raise InputError(
                f"train.precision: fp16-mixed needs a CUDA GPU, but the run is on {device}. CPU autocast supports "
                "bfloat16 only; use `train.precision: bf16-mixed` or `fp32`."
            )
        return Precision(name, torch.float16, "cuda")
    if name == "bf16-mixed":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise InputError(
                f"train.precision: bf16-mixed is not supported by {torch.cuda.get_device_name(device)} "
                "(needs compute capability 8.0 or newer); use `fp16-mixed`."
            )
        if device.type == "mps":
            raise InputError("train.precision: bf16-mixed autocast is not supported on mps; use `fp32`.")
        return Precision(name, torch.bfloat16, device.type)
    raise InputError(f"train.precision: unknown precision {name!r}; expected fp32, bf16-mixed or fp16-mixed.")


def configure_kernels(device: torch.device, *, deterministic: bool) -> None:
    """cuDNN autotuning for speed, or deterministic kernels on request (``train.deterministic``).

    ``cudnn.benchmark`` times the convolution algorithms for each new input shape and keeps the fastest: a
    few slow first steps, then faster ones, and results that may differ in the last bits between runs.
    """
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        import os

        # cuBLAS needs a fixed workspace to be deterministic (PyTorch's reproducibility notes).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


class ChannelsLastInputs(torch.nn.Module):
    """Run ``model`` on image batches converted to channels-last (NHWC) memory layout.

    The model's own weights are converted once (``model.to(memory_format=torch.channels_last)``); this
    wrapper converts each ``(B, C, H, W)`` batch, so convolutions need no layout change inside. Only the
    forward pass goes through it: checkpoints hold the wrapped model's ``state_dict`` unchanged.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.model(inputs)
