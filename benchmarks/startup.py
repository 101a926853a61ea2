"""Start-up time of the command line against ``python -c "import torch"``, side by side.

``dlcheck --help`` must not pay for torch (target: under 0.3 s); ``dlcheck recipe check`` loads torch,
the data and the model, so its anchor is torch's own import. Each command is run as a fresh process,
interleaved, and the table reports medians.

Run: ``make bench`` or ``python benchmarks/startup.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "python -c pass": [sys.executable, "-c", "pass"],
    "dlcheck --help": [sys.executable, "-m", "dlcheck", "--help"],
    "dlcheck --version": [sys.executable, "-m", "dlcheck", "--version"],
    "dlcheck recipe check digits_mlp": [
        sys.executable,
        "-m",
        "dlcheck",
        "recipe",
        "check",
        str(ROOT / "recipes" / "digits_mlp.yaml"),
    ],
}


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the file cache once
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(_seconds(command))
    torch_import = statistics.median(times['python -c "import torch"'])
    print(f"{args.repeats} runs each, interleaved; medians")
    print(f"{'command':<34} {'seconds':>8} {'vs import torch':>16}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<34} {median:>8.3f} {median / torch_import:>15.2f}x")
    help_seconds = statistics.median(times["dlcheck --help"])
    print(f"\ndlcheck --help: {help_seconds:.3f} s (target < 0.3 s): {'ok' if help_seconds < 0.3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
