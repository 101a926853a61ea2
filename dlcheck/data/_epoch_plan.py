"""Which samples a process sees in each epoch, and in which order: the one plan both batchers follow."""

from __future__ import annotations

__all__ = ["EpochPlan"]

import torch

from dlcheck.seeding import Purpose, derive_seed


class EpochPlan:
    """Which sample indices this rank sees in each epoch, and in which order.

    Every rank draws the same permutation and takes every ``world_size``-th entry from ``rank`` on (as
    ``DistributedSampler`` does), so the shards are disjoint and together cover the epoch. With ``drop_last`` the
    permutation is first cut to a multiple of ``world_size`` and each shard to whole batches, so that every rank
    takes the same number of steps (a rank with one batch more would hang the others in DDP's all-reduce).
    """

    def __init__(
        self, count: int, *, batch_size: int, shuffle: bool, seed: int, rank: int, world_size: int, drop_last: bool
    ) -> None:
        self.count, self.batch_size, self.shuffle, self.seed = count, batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        usable = count - count % world_size if drop_last else count
        shard = len(range(rank, usable, world_size))
        self.batches = shard // batch_size if drop_last else -(-shard // batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """The whole epoch's order ``(count,)`` int64 on the CPU, before sharding."""
        if not self.shuffle:
            return torch.arange(self.count)
        # A CPU generator, so that CPU and GPU runs (and every rank) draw the same permutation.
        generator = torch.Generator().manual_seed(derive_seed(self.seed, Purpose.ORDER, epoch))
        return torch.randperm(self.count, generator=generator)

    def indices(self, epoch: int, start_batch: int) -> torch.Tensor:
        """This rank's sample indices from batch ``start_batch`` to the end of the epoch ``(M,)`` int64 (CPU)."""
        if not 0 <= start_batch <= self.batches:
            raise ValueError(f"start_batch must be in [0, {self.batches}], got {start_batch}")
        order = self.order(epoch)
        if self.drop_last:
            order = order[: self.count - self.count % self.world_size]
        shard = order[self.rank :: self.world_size]
        # Slicing skips the first batches without loading them; the end drops a partial batch under drop_last.
        return shard[start_batch * self.batch_size : self.batches * self.batch_size]
