"""Whether a data set may live on the accelerator, or must stream to it from host memory."""

from __future__ import annotations

__all__ = ["DEVICE_DATA_BUDGET", "fits_on_device"]

import torch

# Share of the free accelerator memory the resident training data may take; the rest is left for the model,
# its activations and the optimiser state (airbench keeps CIFAR-10 resident: 150 MB of an 80 GB GPU).
DEVICE_DATA_BUDGET = 0.25


def fits_on_device(inputs: torch.Tensor, targets: torch.Tensor, device: torch.device) -> bool:
    """Whether the data (as float32 inputs, the way :class:`TensorBatcher` holds them) fits the device budget.

    Always true for the CPU, where the tensors already live. On CUDA: at most ``DEVICE_DATA_BUDGET`` of the
    memory free now (``torch.cuda.mem_get_info``).

    Examples
    --------
    >>> fits_on_device(torch.zeros(10, 3), torch.zeros(10), torch.device("cpu"))
    True
    """
    if device.type != "cuda":
        return True
    free_bytes, _ = torch.cuda.mem_get_info(device)
    needed = inputs.numel() * 4 + targets.numel() * targets.element_size()
    return needed <= DEVICE_DATA_BUDGET * free_bytes
