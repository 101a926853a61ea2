"""Agreement of ``dlcheck diagnose`` with expert labels on real training logs from public repositories.

Every run of ``tests/data/real_logs/labels.yaml`` whose files are present is diagnosed with default
options and held to its label (``tests/curves/real_log_labels.py`` says how). Prints one line per run that
disagrees, then the agreement, the false alarms on healthy runs (warn or fail where the label allows only
pass) and the misses, for the development and the held-out set separately.

``--committed`` judges only the runs whose log files are committed (what CI checks); the others were fetched
and stay on a developer's disk (see the corpus' .gitignore).

Run: ``.venv/bin/python benchmarks/real_logs.py [--set dev|heldout|all] [--committed] [--verbose]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.curves.real_log_labels import CORPUS, Outcome, judge, load_labels, present, summary


def _committed() -> set[str]:
    """Runs with a committed log file (``git ls-files`` in the corpus folder), i.e. the runs CI checks."""
    listed = subprocess.run(["git", "-C", str(CORPUS), "ls-files"], capture_output=True, text=True, check=True).stdout
    return {
        Path(line).parts[0]
        for line in listed.splitlines()
        if len(Path(line).parts) >= 2 and Path(line).name != "SOURCE"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--verbose", action="store_true", help="print every run, not only disagreements")
    parser.add_argument("--committed", action="store_true", help="only runs whose log files are committed (CI)")
    options = parser.parse_args()
    labels = load_labels()
    committed = _committed() if options.committed else None
    by_set: dict[str, list[Outcome]] = {"dev": [], "heldout": []}
    missing = 0
    for name, label in labels.items():
        if options.set != "all" and label["set"] != options.set:
            continue
        if not present(name) or (committed is not None and name not in committed):
            missing += 1
            continue
        outcome = judge(name, label)
        by_set[label["set"]].append(outcome)
        if options.verbose or not outcome.agrees:
            kinds = ", ".join(f"{kind}:{severity}" for kind, severity in sorted(outcome.kinds.items())) or "-"
            mark = "ok  " if outcome.agrees else "DIFF"
            print(f"{mark} {name:<34} {outcome.status:<12} {kinds}")
            for reason in outcome.reasons:
                print(f"       {reason}")
    if missing:
        print(f"\n{missing} labelled runs not judged here (fetched files are not committed).")
    print(f"\n{'set':<9}{'runs':>6}{'agree':>7}{'%':>7}{'healthy':>9}{'false alarms':>14}{'per 20':>8}{'misses':>8}")
    for name, outcomes in by_set.items():
        if not outcomes:
            continue
        figures = summary(outcomes)
        misses = sum(not outcome.agrees and not outcome.false_alarm for outcome in outcomes)
        print(
            f"{name:<9}{figures['runs']:>6}{figures['agreed']:>7}{100 * figures['agreement']:>6.0f}%"
            f"{figures['healthy']:>9}{figures['false_alarms']:>14}{figures['false_alarms_per_20_healthy']:>8.2f}"
            f"{misses:>8}"
        )
    seconds = [outcome.seconds for outcomes in by_set.values() for outcome in outcomes]
    if seconds:
        print(f"\nseconds per run (read + diagnose): median {statistics.median(seconds):.3f}, max {max(seconds):.3f}")


if __name__ == "__main__":
    main()
