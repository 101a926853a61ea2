"""Host-device synchronisations in ``dlcheck train``'s loop, counted per step from a torch profiler trace.

A step that makes the host wait for the GPU (``.item()``, a device-to-host copy, ``torch.cuda.synchronize``)
stalls the CPU from queueing the next kernels: on a fast GPU the loop then runs at the speed of Python. The
trainer is written to read values back once per logging window (``logging.every_steps``) and at epoch
ends, never inside a window. This script checks that on real hardware, two ways:

1. a torch profiler trace of ``--steps`` training steps of the CIFAR-sized CNN in bf16, with a profiler step
   per micro-batch; every ``cudaStreamSynchronize``/``cudaDeviceSynchronize``/``cudaEventSynchronize`` and
   blocking ``cudaMemcpy`` is counted in the step range it falls in;
2. ``torch.cuda.set_sync_debug_mode("warn")``, which warns at every synchronising call, with the Python
   line that made it, so each sync is attributed to its source.

Prints the syncs of each step, which steps end a logging window, and where each sync came from; writes the
trace (``--trace PATH``, Chrome trace format, gzip) for a closer look. Run on a machine with CUDA.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import shutil
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import torch

from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer, TrainingEvents

RECIPE = Path(__file__).parent / "recipes" / "cifar_sized_cnn.yaml"
SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--every-steps", type=int, default=10, help="logging.every_steps of the profiled run.")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--trace", type=Path, default=None, help="Write the Chrome trace here (.json.gz).")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark counts CUDA synchronisations")
        return 1
    samples = args.steps * args.batch_size  # one epoch of exactly --steps steps
    loaded = load_recipe(
        RECIPE,
        [
            f"data.args.train_samples={samples}",
            "data.args.val_samples=0",
            f"train.batch_size={args.batch_size}",
            "train.epochs=2",  # the first epoch warms up cuDNN and the allocator; the second is profiled
            "train.precision=bf16-mixed",
            f"logging.every_steps={args.every_steps}",
            "logging.tensorboard=false",
            "device=cuda",
        ],
    )

    # Where each synchronising call came from: sync debug mode warns at each, we keep the dlcheck frame.
    origins: collections.Counter[str] = collections.Counter()

    def record(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        frames = [f for f in traceback.extract_stack()[:-1] if "/dlcheck/" in f.filename]
        where = (
            f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].line}" if frames else "outside dlcheck"
        )
        origins[where] += 1

    class _Warm(TrainingEvents):
        def __init__(self) -> None:
            self.profiler: torch.profiler.profile | None = None
            self.epoch = 0

        def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
            self.epoch = epoch
            if epoch == 1:  # profile the second epoch only
                torch.cuda.synchronize()
                self.profiler = torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA],
                    # a schedule makes profile.step() mark each step as a ProfilerStep#N range
                    schedule=torch.profiler.schedule(wait=0, warmup=0, active=args.steps + 1, repeat=1),
                )
                self.profiler.__enter__()
                torch.cuda.set_sync_debug_mode("warn")

        def on_batch(self, epoch: int, batch: int) -> None:
            if self.profiler is not None and epoch == 1:
                self.profiler.step()

        def on_epoch_end(self, record) -> None:  # type: ignore[no-untyped-def]
            if self.profiler is not None and self.epoch == 1:
                torch.cuda.set_sync_debug_mode("default")

    events = _Warm()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        previous = warnings.showwarning
        warnings.showwarning = record
        try:
            with tempfile.TemporaryDirectory() as run_directory:
                result = Trainer(loaded, events=events, run_directory=Path(run_directory), handle_signals=False).run()
        finally:
            warnings.showwarning = previous
            torch.cuda.set_sync_debug_mode("default")
    profiler = events.profiler
    assert profiler is not None
    profiler.__exit__(None, None, None)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}; run status {result.status}")

    # Step ranges from the ProfilerStep#N markers, then the sync calls inside each.
    function_events = profiler.events()
    ranges = sorted(
        (int(e.name.split("#")[1]), e.time_range.start, e.time_range.end)
        for e in function_events
        if e.name.startswith("ProfilerStep#")
    )
    syncs: collections.Counter[int] = collections.Counter()
    outside = 0
    for event in function_events:
        if not event.name.startswith(SYNC_CALLS) or "Async" in event.name:
            continue
        start = event.time_range.start
        hit = next((number for number, begin, end in ranges if begin <= start < end), None)
        if hit is None:
            outside += 1
        else:
            syncs[hit] += 1
    every = args.every_steps
    last = max(number for number, _, _ in ranges)

    def role(number: int) -> str:
        # ProfilerStep#N runs from micro-batch N-1's on_batch hook to micro-batch N's: it holds optimiser
        # step N of the epoch (the logging window check when the global step is a multiple of `every`)
        # and the forward/backward of batch N. The last range also holds the epoch end.
        if number == last:
            return "last step + epoch end (metrics, checkpoint)"
        if number >= 1 and (args.steps + number) % every == 0:
            return "logging window ends"
        return ""

    print(f"\nprofiled steps: {last} of one epoch; logging.every_steps = {every}")
    print(f"{'step':>6} {'syncs':>6}  role")
    for number, _, _ in ranges:
        count = syncs.get(number, 0)
        if count or role(number):
            print(f"{number:>6} {count:>6}  {role(number)}")
    inside = sum(count for number, count in syncs.items() if not role(number))
    print(f"sync calls outside every step range: {outside}")
    print(f"\nsynchronisations inside logging windows: {inside} over {last} steps")
    print("\nsync debug mode, by source line (dlcheck frame):")
    for where, count in origins.most_common():
        print(f"  {count:>4}  {where}")
    if args.trace is not None:
        with tempfile.TemporaryDirectory() as scratch:
            raw = Path(scratch) / "trace.json"
            profiler.export_chrome_trace(str(raw))
            with raw.open("rb") as source, gzip.open(args.trace, "wb") as target:
                shutil.copyfileobj(source, target)
        print(f"\ntrace written to {args.trace}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
