"""Hostile log files (issue 12): nothing crashes, hangs or reads without bound.

Every file of ``tests/data/nasty_logs`` goes through ``dlcheck diagnose`` and must end with exit 0, 1 or
2 and no traceback; FIFOs, devices and links out of the folder are made at test time and must be skipped
with a note, not opened; and every reader takes arbitrary bytes (hypothesis, bounded examples) without
raising anything but InputError.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcheck.curves.discover import read_logs
from dlcheck.curves.safe_io import read_bytes
from dlcheck.errors import InputError
from tests.cli_runner import run_cli

NASTY = Path(__file__).resolve().parents[1] / "data" / "nasty_logs"
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", sorted(path.name for path in NASTY.iterdir() if path.name != "README.md"))
def test_every_nasty_file_gives_a_verdict_or_a_message(name: str, capsys, monkeypatch) -> None:
    code, out, err = run_cli(capsys, monkeypatch, "diagnose", str(NASTY / name))
    assert code in (0, 1, 2), (code, out, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert "error:" in err or "nothing could be judged" in err


def test_the_nasty_folder_as_a_whole(capsys, monkeypatch) -> None:
    code, out, err = run_cli(capsys, monkeypatch, "diagnose", str(NASTY))
    assert code in (0, 1) and "Traceback" not in out + err
    assert "skipped" in out  # the unreadable files are named, the readable ones judged


def test_named_problems_get_named_messages(capsys, monkeypatch) -> None:
    _, _, err = run_cli(capsys, monkeypatch, "diagnose", str(NASTY / "lfs_pointer.csv"))
    assert "is a Git LFS pointer" in err and "git lfs pull" in err
    code, out, _ = run_cli(capsys, monkeypatch, "diagnose", str(NASTY / "latin1_training.log"))
    assert code == 0 and "undecodable byte(s) replaced" in out  # a Keras CSVLogger file, by content
    _, out, _ = run_cli(capsys, monkeypatch, "diagnose", str(NASTY / "giant_field.csv"))
    assert "longer than 100,000 characters skipped" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_devices_and_links_out_of_the_folder_are_not_opened(tmp_path: Path, capsys, monkeypatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{1.0 / i}\n" for i in range(1, 30)))
    os.mkfifo(logs / "training.log")  # opening it would block forever
    outside = tmp_path / "secret.csv"
    outside.write_text("step,loss\n1,1.0\n2,0.5\n")
    (logs / "linked.csv").symlink_to(outside)
    (logs / "zero.csv").symlink_to("/dev/zero")  # endless
    code, out, err = run_cli(capsys, monkeypatch, "diagnose", str(logs))
    assert code == 0, err
    assert "is a FIFO" in out and "outside" in out
    code, _, err = run_cli(capsys, monkeypatch, "diagnose", str(logs / "training.log"))
    assert code == 2 and "is a FIFO" in err and "not a regular file" in err
    code, _, err = run_cli(capsys, monkeypatch, "diagnose", "/dev/zero")
    assert code == 2 and "character device" in err


def test_reads_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"step,loss\n" + b"1,0.5\n" * 1000)
    data, truncated = read_bytes(path, limit=100)
    assert len(data) == 100 and truncated


def _reads(path: Path) -> None:
    with contextlib.suppress(InputError):  # a clear message is fine; anything else is a bug
        read_logs([path])


@EXAMPLES
@given(content=st.binary(max_size=2000))
def test_any_bytes_as_csv_jsonl_text_or_trainer_state(tmp_path: Path, content: bytes) -> None:
    for name in ("metrics.csv", "log.jsonl", "training.log", "trainer_state.json"):
        path = tmp_path / name
        path.write_bytes(content)
        _reads(path)


@EXAMPLES
@given(
    cells=st.lists(
        st.lists(
            st.one_of(
                st.text(max_size=12),
                st.floats(allow_nan=True, allow_infinity=True).map(repr),
                st.integers(min_value=-(10**40), max_value=10**40).map(str),
            ),
            min_size=1,
            max_size=5,
        ),
        max_size=30,
    )
)
def test_csv_tables_of_anything(tmp_path: Path, cells: list[list[str]]) -> None:
    lines = ["epoch,step,loss,val_loss,val_accuracy"] + [
        ",".join(cell.replace("\n", " ") for cell in row) for row in cells
    ]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="replace")
    _reads(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@EXAMPLES
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from(["step", "epoch", "loss", "eval_loss", "it", "x"]), _JSON), max_size=20
    )
)
def test_json_records_of_anything(tmp_path: Path, records: list[dict]) -> None:
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    _reads(jsonl)
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": records, "max_steps": 10, "num_train_epochs": 1}))
    _reads(state)


@EXAMPLES
@given(records=st.lists(st.binary(max_size=64), max_size=20), cut=st.integers(min_value=0, max_value=400))
def test_event_files_with_any_records(tmp_path: Path, records: list[bytes], cut: int) -> None:
    # TFRecord framing around random payloads (random protobufs), then cut anywhere
    data = b"".join(struct.pack("<QI", len(record), 0) + record + b"\0\0\0\0" for record in records)
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(data[: max(0, len(data) - cut)])
    _reads(path)
