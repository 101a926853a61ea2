"""Batchers: the same batches from slicing and from a DataLoader, exact resume, and disjoint rank shards."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from dlcheck.data import DataBundle, LoaderBatcher, Normalization, TensorBatcher, make_batcher
from dlcheck.recipe.schema import AugmentConfig

from .conftest import CPU

AUGMENT = AugmentConfig(flip="horizontal", crop_padding=1, noise_std=0.1, cutout=2)


def _indexed(count: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs whose single feature is the sample index, so batches reveal which samples they hold."""
    return torch.arange(count, dtype=torch.float32)[:, None], torch.arange(count)


def _same(first: list[tuple[torch.Tensor, torch.Tensor]], second: list[tuple[torch.Tensor, torch.Tensor]]) -> bool:
    return len(first) == len(second) and all(
        torch.equal(a_inputs, b_inputs) and torch.equal(a_targets, b_targets)
        for (a_inputs, a_targets), (b_inputs, b_targets) in zip(first, second, strict=True)
    )


def test_auto_picks_the_tensor_batcher_for_tensors() -> None:
    assert isinstance(make_batcher(_indexed(), batch_size=8, shuffle=True, seed=0, device=CPU), TensorBatcher)
    assert isinstance(
        make_batcher(_indexed(), batch_size=8, shuffle=True, seed=0, device=CPU, loader="dataloader"), LoaderBatcher
    )


def test_every_sample_once_per_epoch_in_a_new_order() -> None:
    batcher = make_batcher(_indexed(50), batch_size=8, shuffle=True, seed=0, device=CPU)
    assert len(batcher) == 7
    orders = [torch.cat([targets for _, targets in batcher.epoch(epoch)]) for epoch in (0, 1, 0)]
    assert sorted(orders[0].tolist()) == list(range(50))
    assert not torch.equal(orders[0], orders[1])
    assert torch.equal(orders[0], orders[2])  # a function of (seed, epoch) only


def test_shuffle_false_keeps_the_stored_order_and_drop_last_drops() -> None:
    batcher = make_batcher(_indexed(10), batch_size=4, shuffle=False, seed=0, device=CPU)
    assert [targets.tolist() for _, targets in batcher.epoch(0, start_batch=1)] == [[4, 5, 6, 7], [8, 9]]
    dropping = make_batcher(_indexed(10), batch_size=4, shuffle=True, seed=0, device=CPU, drop_last=True)
    assert len(dropping) == 2 and [len(targets) for _, targets in dropping.epoch(0)] == [4, 4]


@pytest.mark.parametrize("augment", [None, AUGMENT])
def test_tensor_and_loader_batchers_give_identical_batches(digits: DataBundle, augment: AugmentConfig | None) -> None:
    options = dict(batch_size=64, shuffle=True, seed=3, device=CPU, augment=augment, normalization=digits.normalization)
    tensor = make_batcher(digits.train, loader="tensor", **options)  # type: ignore[arg-type]
    loader = make_batcher(digits.train, loader="dataloader", **options)  # type: ignore[arg-type]
    assert len(tensor) == len(loader) == 23
    for epoch in (0, 4):
        assert _same(list(tensor.epoch(epoch)), list(loader.epoch(epoch)))


def test_loader_workers_give_the_same_batches(digits: DataBundle) -> None:
    options = dict(
        batch_size=256, shuffle=True, seed=1, device=CPU, augment=AUGMENT, normalization=digits.normalization
    )
    in_process = make_batcher(digits.train, loader="dataloader", **options)  # type: ignore[arg-type]
    workers = make_batcher(digits.train, loader="dataloader", num_workers=2, **options)  # type: ignore[arg-type]
    assert _same(list(in_process.epoch(2)), list(workers.epoch(2)))
    assert _same(list(in_process.epoch(3, start_batch=4)), list(workers.epoch(3, start_batch=4)))


@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_resume_mid_epoch_sees_the_same_batches(digits: DataBundle, loader: str) -> None:
    batcher = make_batcher(
        digits.train,
        batch_size=64,
        shuffle=True,
        seed=0,
        device=CPU,
        augment=AUGMENT,
        normalization=digits.normalization,
        loader=loader,
    )
    assert _same(list(batcher.epoch(3, start_batch=2)), list(batcher.epoch(3))[2:])
    assert list(batcher.epoch(3, start_batch=len(batcher))) == []
    with pytest.raises(ValueError, match="start_batch"):
        batcher.epoch(3, start_batch=len(batcher) + 1)


class _CountingDataset(Dataset[tuple[torch.Tensor, int]]):
    def __init__(self, count: int) -> None:
        self.count = count
        self.read: list[int] = []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.read.append(index)
        return torch.tensor([float(index)]), index


def test_skipped_batches_are_not_loaded() -> None:
    dataset = _CountingDataset(40)
    batcher = make_batcher(dataset, batch_size=8, shuffle=True, seed=0, device=CPU)
    batches = list(batcher.epoch(1, start_batch=3))
    assert len(batches) == 2 and len(dataset.read) == 16
    assert sorted(dataset.read) == sorted(torch.cat([targets for _, targets in batches]).tolist())


@pytest.mark.parametrize("drop_last", [False, True])
def test_rank_shards_are_disjoint_and_cover_the_epoch(drop_last: bool) -> None:
    count, world = 53, 3
    shards = []
    for rank in range(world):
        batcher = make_batcher(
            _indexed(count),
            batch_size=5,
            shuffle=True,
            seed=4,
            device=CPU,
            rank=rank,
            world_size=world,
            drop_last=drop_last,
        )
        shards.append(torch.cat([targets for _, targets in batcher.epoch(2)]).tolist())
    seen = [index for shard in shards for index in shard]
    assert len(seen) == len(set(seen))  # disjoint
    if drop_last:
        assert {len(shard) for shard in shards} == {15}  # equal steps on every rank: 17 samples -> 3 batches of 5
    else:
        assert sorted(seen) == list(range(count))
    single = make_batcher(_indexed(count), batch_size=5, shuffle=True, seed=4, device=CPU)
    order = torch.cat([targets for _, targets in single.epoch(2)]).tolist()
    assert shards[1][:5] == order[1::3][:5]  # every rank takes its stride of the one shared permutation


def test_normalization_and_float64_targets_on_the_way_out() -> None:
    inputs = torch.tensor([[1.0], [3.0], [5.0], [7.0]])
    targets = torch.tensor([0.5, 1.5, 2.5, 3.5], dtype=torch.float64)
    norm = Normalization(mean=torch.tensor([4.0]), std=torch.tensor([2.0]))
    batcher = make_batcher((inputs, targets), batch_size=4, shuffle=False, seed=0, device=CPU, normalization=norm)
    batch_inputs, batch_targets = next(iter(batcher.epoch(0)))
    assert batch_inputs[:, 0].tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert batch_targets.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_gpu_batches_follow_the_cpu_order(digits: DataBundle) -> None:
    cuda = torch.device("cuda")
    for loader in ("tensor", "dataloader"):
        gpu = make_batcher(
            digits.train,
            batch_size=64,
            shuffle=True,
            seed=0,
            device=cuda,
            loader=loader,
            augment=AUGMENT,
            normalization=digits.normalization,
        )
        cpu = make_batcher(digits.train, batch_size=64, shuffle=True, seed=0, device=CPU)
        gpu_batches, cpu_batches = list(gpu.epoch(1)), list(cpu.epoch(1))
        assert all(inputs.device.type == "cuda" for inputs, _ in gpu_batches)
        assert all(torch.equal(a.cpu(), b) for (_, a), (_, b) in zip(gpu_batches, cpu_batches, strict=True))
        assert _same(list(gpu.epoch(1, start_batch=3)), gpu_batches[3:])
