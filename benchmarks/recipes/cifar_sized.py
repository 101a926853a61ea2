"""CIFAR-10-sized synthetic images for throughput benchmarks: (N, 3, 32, 32) uint8-range floats, 10 classes.

Labels come from a fixed random teacher on a low-resolution version of the image, so the task is learnable
(throughput of a run that learns nothing can mislead: e.g. a loss stuck at log 10 never changes the kernels'
inputs). Generated on the CPU with a seeded generator; no download.
"""

from __future__ import annotations

import torch


def make(train_samples: int = 50_000, val_samples: int = 10_000, seed: int = 0):  # type: ignore[no-untyped-def]
    generator = torch.Generator().manual_seed(seed)
    total = train_samples + val_samples
    inputs = torch.rand(total, 3, 32, 32, generator=generator) * 255.0  # (N, 3, 32, 32), like raw pixels
    coarse = torch.nn.functional.avg_pool2d(inputs, 8).flatten(1)  # (N, 48)
    teacher = torch.randn(coarse.shape[1], 10, generator=generator)
    targets = ((coarse - coarse.mean(0)) @ teacher).argmax(1)
    val = (inputs[train_samples:], targets[train_samples:]) if val_samples else None
    return (inputs[:train_samples], targets[:train_samples]), val
