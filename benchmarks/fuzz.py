"""Fuzz the command line with hostile recipes, logs and images, each run in its own process (issue 12).

Every input is generated from ``--seed`` (the same seed gives the same corpus), written to a scratch folder and
handed to the real CLI in a fresh subprocess: ``dlcheck recipe check|show`` for recipes, ``dlcheck diagnose`` for
logs, ``dlcheck keypoints`` for images. Each child runs under a wall-clock timeout, with an address-space cap
(``RLIMIT_AS``) so a runaway allocation fails instead of taking the machine, and its peak resident memory is
read from the kernel (``wait4``). The table counts, per kind of input:

- ``traceback``: a Python traceback reached the user (the bug class this benchmark exists for);
- ``timeout``: still running after ``--timeout`` seconds (a hang, e.g. reading a FIFO or ``/dev/zero``);
- ``over memory``: peak RSS above ``--memory-mb`` or an allocation refused by the cap;
- ``code ran``: a factory payload ran (``os:system``, ``subprocess:run``, ... create a canary file) although
  the command should not have run it;
- ``signal``: killed by a signal other than our timeout;
- ``exit 0/1/2``: clean exits by code.

Inputs: mutated copies of the bundled recipes (byte flips, truncations, NUL bytes, non-UTF-8, structural
replacements by huge, negative, infinite or NaN numbers, giant strings, deep lists, dangerous paths and factory
targets) and hand-made hostile documents (deep flow and block nesting, alias and merge-key bombs, self-referencing
merges, 100,000-digit integers, 20 MB documents, binary garbage); logs in every format ``diagnose`` reads (CSV,
JSONL, Hugging Face ``trainer_state.json``, TensorBoard event files, dlcheck run folders), mutated the same way
plus deep JSON, giant fields, FIFOs, ``/dev/zero`` links and sparse 50 GB files; images with headers that declare
huge dimensions (PNG, BMP, GIF, TIFF, JPEG, ``.npy``), truncated and garbage files, grey+alpha PNGs and FIFOs.

Run: ``make fuzz`` (part of ``make bench``) or
``python benchmarks/fuzz.py [--recipes 500] [--logs 300] [--images 50] [--jobs 2] [--timeout 10]``.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CANARY = "CANARY"  # a payload that runs creates this file in its case folder
SPARSE_BYTES = 50 * 1024**3  # sparse files: huge to `stat`, no disk used


@dataclass
class Case:
    """One CLI run on one generated input."""

    kind: str  # "recipe" | "log" | "image"
    name: str  # what was generated, e.g. "alias_bomb" or "mutate:bytes"
    folder: Path  # scratch folder of this case (the child's working directory)
    arguments: list[str]  # after `dlcheck`
    payload_forbidden: bool = False  # a canary file here means code ran that must not have
    victim: Path | None = None  # a file a destructive payload would delete


@dataclass
class Outcome:
    case: Case
    verdict: str  # traceback | timeout | over_memory | code_ran | signal | exit_N
    seconds: float
    peak_rss_mb: float
    last_line: str = ""


# ------------------------------------------------------------------------------------------ helpers


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
    else:
        path.write_bytes(content)
    return path


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _sparse(path: Path, size: int = SPARSE_BYTES, head: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def _link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip, insert, delete and duplicate bytes: what a bad disk, a bad copy or a fuzzer does."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        if not buffer:
            buffer.extend(rng.randbytes(8))
        position = rng.randrange(len(buffer))
        action = rng.random()
        if action < 0.35:
            buffer[position] = rng.randrange(256)
        elif action < 0.55:
            buffer[position:position] = rng.choice(
                [b"\x00", b"\xff\xfe", b"\t", b"&a ", b"*a", b"[", b"{", b":", b"\n"]
            )
        elif action < 0.75:
            del buffer[position : position + rng.randint(1, 16)]
        else:
            chunk = buffer[position : position + rng.randint(1, 64)]
            buffer[position:position] = chunk * rng.randint(2, 50)
    return bytes(buffer)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


# ------------------------------------------------------------------------------------------ recipes

_BASE_RECIPES = ("digits_mlp.yaml", "spirals_mlp.yaml", "shapes_cnn.yaml", "custom_model.yaml", "digits_cnn.yaml")


def _nasty_scalars(rng: random.Random) -> list[Any]:
    return [
        10**40,
        -(10**40),
        2**63,
        2**31,
        2**31 - 1,
        10**9,
        -1,
        0,
        math.inf,
        -math.inf,
        math.nan,
        1e308,
        1e38,
        1e-320,
        -1e-320,
        "",
        "x" * 200_000,
        "\x00",
        "é" * 1000,
        [],
        {},
        None,
        True,
        [[[[[]]]]],
        list(range(5000)),
        {"type": "linear", "out": 10**12},
        "os:system",
        "1e-3",
        rng.random() * 10 ** rng.randint(-30, 30),
        -rng.randint(0, 10**6),
    ]


def _leaf_paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaf_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaf_paths(value, (*prefix, index))


def _set_path(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _structural(base: dict[str, Any], rng: random.Random, scalars: list[Any]) -> str:
    data = json.loads(json.dumps(base))  # deep copy of plain data
    for _ in range(rng.randint(1, 4)):
        paths = [path for path in _leaf_paths(data) if path]
        path = rng.choice(paths)
        choice = rng.random()
        if choice < 0.8:
            data = _set_path(data, path, rng.choice(scalars))
        elif choice < 0.9 and isinstance(path[-1], str):
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            parent.pop(path[-1], None)
        else:
            data = _set_path(data, path, {"unknown_key_" + str(rng.randint(0, 99)): 1})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**9)


def _deep_flow(depth: int, opener: str = "[", closer: str = "]") -> str:
    return "version: 1\ndata: {source: digits}\nmodel: {layers: [{type: linear, out: 10}]}\nextra: " + (
        opener * depth + closer * depth
    )


def _deep_block(depth: int) -> str:
    lines = ["version: 1", "data: {source: digits}", "model: {layers: [{type: linear, out: 10}]}", "extra:"]
    lines += [" " * (level + 1) + f"k{level}:" for level in range(depth)]
    return "\n".join(lines) + " 1\n"


def _alias_bomb(levels: int, width: int) -> str:
    lines = ["version: 1", "data: {source: digits}", "model: {layers: [{type: linear, out: 10}]}", 'a0: &a0 ["lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    lines.append(f"bomb: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int, width: int) -> str:
    lines = ["version: 1", "data: {source: digits}", "model: {layers: [{type: linear, out: 10}]}"]
    lines.append("m0: &m0 {" + ", ".join(f"k{index}: {index}" for index in range(width)) + "}")
    for level in range(1, levels):
        items = ", ".join(f"x{index}: *m{level - 1}" for index in range(width))
        lines.append(f"m{level}: &m{level} {{<<: *m{level - 1}, {items}}}")
    lines.append(f"bomb: {{<<: *m{levels - 1}}}")
    return "\n".join(lines) + "\n"


def _hostile_recipes(rng: random.Random) -> list[tuple[str, str | bytes]]:
    """Hand-made hostile documents: the shapes of input a mutation fuzzer rarely reaches."""
    header = "version: 1\ndata: {source: digits}\nmodel: {layers: [{type: linear, out: 10}]}\n"
    digits = 100_000
    return [
        ("deep_flow_list", _deep_flow(rng.choice([2_000, 20_000, 200_000]))),
        ("deep_flow_map", _deep_flow(rng.choice([2_000, 50_000]), "{a: ", "}")),
        ("deep_block", _deep_block(rng.choice([500, 3_000]))),
        ("alias_bomb", _alias_bomb(rng.choice([8, 9, 10]), rng.choice([9, 10]))),
        ("merge_bomb", _merge_bomb(rng.choice([6, 7, 8]), rng.choice([8, 10]))),
        ("self_merge_flow", header + "loop: &x {a: 1, <<: *x}\n"),
        ("self_merge_block", header + "loop: &x\n  a: 1\n  <<: *x\n"),
        ("recursive_anchor", header + "loop: &x [1, *x]\n"),
        ("huge_int", header.replace("out: 10", "out: " + "9" * rng.choice([5_000, digits]))),
        ("huge_int_seed", header + "seed: " + "1" * rng.choice([4_301, digits]) + "\n"),
        ("huge_hex", header + "seed: 0x" + "f" * rng.choice([1_000, digits]) + "\n"),
        ("huge_float_digits", header + "optimizer: {lr: 0." + "1" * digits + "}\n"),
        ("lr_infinite", header + "optimizer: {lr: 1e999}\n"),
        ("lr_nan", header + "optimizer: {lr: .nan}\n"),
        ("lr_1e38", header + "optimizer: {name: adam, lr: 1.0e+38}\n"),
        ("epochs_huge", header + "train: {epochs: 100000000000000000000}\n"),
        ("nul_byte", header.replace("digits", "dig\x00its")),
        ("nul_key", header + "\x00: 1\n"),
        ("bom_and_nul", "\ufeff" + header + "\x00\x00\x00"),
        ("non_utf8", header.encode() + b"name: \xff\xfe\xfa\n"),
        ("binary_garbage", rng.randbytes(rng.choice([100, 10_000, 1_000_000]))),
        ("giant_document", header + "# " + "x" * 20_000_000 + "\n"),
        ("giant_value", header + "name: " + "a" * 10_000_000 + "\n"),
        ("many_keys", header + "extra:\n" + "".join(f"  k{index}: {index}\n" for index in range(200_000))),
        ("long_list", header + "extra: [" + ", ".join("1" for _ in range(500_000)) + "]\n"),
        ("empty", ""),
        ("only_comment", "# nothing\n"),
        ("many_documents", header + "---\n" * 10_000),
        ("tabs", header.replace("  ", "\t")),
        ("nested_tags", header + "extra: !!python/object/apply:os.system ['touch CANARY']\n"),
        ("python_name_tag", header + "extra: !!python/name:os.system\n"),
        ("set_tag", header + "extra: !!set {a, b}\n"),
        ("binary_tag", header + "extra: !!binary AAAA\n"),
        ("timestamp_tag", header + "extra: !!timestamp 2001-12-14\n"),
        ("weird_keys", header + "? [a, b]\n: 1\n"),
        ("float_key", header + "1.5: 1\n"),
        ("null_key", header + "~: 1\n"),
        ("surrogates", header + 'name: "\\ud800"\n'),
    ]


_DANGEROUS_FACTORIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("os:system", {"command": f"touch {CANARY}"}),
    ("os:popen", {"cmd": f"touch {CANARY}"}),
    ("subprocess:run", {"args": ["touch", CANARY]}),
    ("subprocess:call", {"args": ["touch", CANARY]}),
    ("subprocess:check_output", {"args": ["touch", CANARY]}),
    ("subprocess:Popen", {"args": ["touch", CANARY]}),
    ("runpy:run_path", {"path_name": "payload.py"}),
    ("runpy:run_module", {"mod_name": "payload"}),
    ("builtins:__import__", {"name": "payload"}),
    ("importlib:import_module", {"name": "payload"}),
    ("posix:system", {"command": f"touch {CANARY}"}),
    ("shutil:rmtree", {"path": "victim"}),
    ("shutil:copy", {"src": "payload.py", "dst": CANARY}),
    ("os:remove", {"path": "victim/file"}),
    ("builtins:open", {"file": CANARY, "mode": "w"}),
    ("io:open", {"file": CANARY, "mode": "w"}),
    ("pathlib:Path.touch", {"self": CANARY}),
    ("logging:os.system", {"command": f"touch {CANARY}"}),
    ("aliases:system", {"command": f"touch {CANARY}"}),  # a local module re-exporting os.system
    ("pty:spawn", {"argv": ["touch", CANARY]}),
    ("logging:FileHandler", {"filename": CANARY}),
    ("zipfile:ZipFile", {"file": CANARY, "mode": "w"}),
    ("torch:save", {"obj": "payload", "f": CANARY}),
    ("numpy:save", {"file": CANARY, "arr": [1, 2]}),
    ("torch:load", {"f": "payload.py", "weights_only": False}),
)

_PAYLOAD = f"import pathlib\npathlib.Path(__file__).with_name({CANARY!r}).touch()\n"


def _factory_case(rng: random.Random, folder: Path, base: str) -> tuple[str, list[str]]:
    """A recipe (or a `--set`) naming a dangerous target; the payload must not run without the opt-in."""
    _write(folder / "payload.py", _PAYLOAD)
    _write(folder / "aliases.py", "from os import system\n")
    _write(folder / "victim" / "file", "precious\n")
    spec, args = rng.choice(_DANGEROUS_FACTORIES)
    section = rng.choice(["model", "data"])
    if rng.random() < 0.5:
        data = yaml.safe_load(base)
        data[section] = {"factory": spec, "args": args}
        _write(folder / "recipe.yaml", yaml.safe_dump(data, sort_keys=False))
        return f"factory:{spec}", ["recipe", "check", "recipe.yaml"]
    _write(folder / "recipe.yaml", base)
    value = json.dumps({"factory": spec, "args": args})
    return f"factory_set:{spec}", ["recipe", "check", "recipe.yaml", "--set", f"{section}={value}"]


def _data_files(folder: Path) -> None:
    """Small, valid data files, and a FIFO, a sparse file and links to devices, for `data.path` to point at."""
    import numpy as np

    _write(folder / "table.csv", "a,b,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(60)))
    np.savez(folder / "arrays.npz", x=np.zeros((40, 3), dtype=np.float32), y=np.arange(40) % 2)
    _fifo(folder / "fifo.csv")
    _sparse(folder / "sparse.csv", head=b"a,b,label\n")
    _sparse(folder / "sparse.npz", head=b"PK\x03\x04")
    _link(folder / "zero.csv", "/dev/zero")
    _write(folder / "bomb.npz", _npz_bomb())
    images = folder / "images"
    for label in ("a", "b"):
        for index in range(3):
            _write(images / label / f"{index}.png", _png(8, 8))
    _write(images / "a" / "huge.png", _png_header_only(100_000, 100_000))
    _fifo(images / "b" / "fifo.png")


def _npz_bomb() -> bytes:
    """A zip whose one member declares a 40 GB float64 array: a compressed bomb for `np.load`."""
    import io
    import zipfile

    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 50000), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy + b"\x00" * 2_000_000)
        archive.writestr("y.npy", npy + b"\x00" * 2_000_000)
    return buffer.getvalue()


_DATA_SECTIONS = (
    {"source": "csv", "path": "/dev/zero"},
    {"source": "csv", "path": "zero.csv"},
    {"source": "csv", "path": "fifo.csv"},
    {"source": "csv", "path": "sparse.csv"},
    {"source": "npz", "path": "sparse.npz"},
    {"source": "npz", "path": "bomb.npz"},
    {"source": "pt", "path": "/dev/zero"},
    {"source": "npz", "path": "/dev/urandom"},
    {"source": "csv", "path": "/proc/self/mem"},
    {"source": "csv", "path": "/dev/null"},
    {"source": "csv", "path": "."},
    {"source": "csv", "path": "table.csv"},
    {"source": "npz", "path": "arrays.npz"},
    {"source": "image_folder", "path": "images"},
    {"source": "image_folder", "path": "/dev"},
)


def _recipe_cases(count: int, rng: random.Random, scratch: Path) -> list[Case]:
    bases = {name: (ROOT / "recipes" / name).read_text(encoding="utf-8") for name in _BASE_RECIPES}
    parsed = {name: yaml.safe_load(text) for name, text in bases.items()}
    scalars = _nasty_scalars(rng)
    hostile = _hostile_recipes(rng)
    cases: list[Case] = []
    for index in range(count):
        folder = scratch / "recipes" / f"{index:04d}"
        folder.mkdir(parents=True)
        shutil.copy(ROOT / "recipes" / "my_models.py", folder / "my_models.py")
        base_name = rng.choice(_BASE_RECIPES)
        base = bases[base_name]
        roll = rng.random()
        payload_forbidden = False
        if index < len(hostile):
            name, content = hostile[index]
        elif roll < 0.25:
            name, content = "mutate:bytes", _mutate_bytes(base.encode(), rng)
        elif roll < 0.32:
            name, content = "mutate:truncate", _truncate(base.encode(), rng)
        elif roll < 0.65:
            name, content = "mutate:structure", _structural(parsed[base_name], rng, scalars)
        elif roll < 0.77:
            name, arguments = _factory_case(rng, folder, base)
            cases.append(Case("recipe", name, folder, arguments, True, folder / "victim" / "file"))
            continue
        elif roll < 0.9:
            _data_files(folder)
            data = dict(parsed["digits_mlp.yaml"])
            data["data"] = dict(rng.choice(_DATA_SECTIONS))
            name, content = f"data:{data['data']['source']}:{data['data']['path']}", yaml.safe_dump(data)
            if rng.random() < 0.25:  # `train` reads data.path through the same loaders
                _write(folder / "recipe.yaml", content)
                command = ["train", "recipe.yaml", "--set", "train.epochs=1", "--set", "logging.tensorboard=false"]
                cases.append(Case("recipe", f"train:{name}", folder, command))
                continue
        else:
            # Viewing a recipe must not run the module next to it.
            _write(folder / "my_models.py", _PAYLOAD + (ROOT / "recipes" / "my_models.py").read_text())
            name, content = "view_local_module", bases["custom_model.yaml"]
            command = rng.choice([["recipe", "show"], ["recipe", "check", "--no-build"]])
            _write(folder / "recipe.yaml", content)
            cases.append(Case("recipe", f"{name}:{command[-1]}", folder, [*command, "recipe.yaml"], True))
            continue
        _write(folder / "recipe.yaml", content)
        command = ["recipe", "check"] if rng.random() < 0.8 else ["recipe", "show"]
        cases.append(Case("recipe", name, folder, [*command, "recipe.yaml"], payload_forbidden))
    return cases


# --------------------------------------------------------------------------------------------- logs


def _csv_log(rng: random.Random) -> str:
    rows = ["epoch,step,train_loss,val_loss,val_acc"]
    loss = 2.3
    for epoch in range(rng.randint(5, 60)):
        loss *= 0.93
        rows.append(f"{epoch},{epoch * 10},{loss:.4f},{loss * 1.1:.4f},{1 - loss / 2.5:.4f}")
    return "\n".join(rows) + "\n"


def _jsonl_log(rng: random.Random) -> str:
    loss, lines = 2.3, []
    for step in range(rng.randint(5, 80)):
        loss *= 0.95
        lines.append(json.dumps({"step": step, "loss": loss, "val_loss": loss * 1.1, "accuracy": 1 - loss / 2.5}))
    return "\n".join(lines) + "\n"


def _trainer_state(rng: random.Random) -> str:
    history = [{"step": step, "epoch": step / 10, "loss": 2.0 * 0.97**step} for step in range(rng.randint(5, 50))]
    history += [{"step": 50, "eval_loss": 1.2, "eval_accuracy": 0.6}]
    return json.dumps({"log_history": history, "global_step": 50})


def _event_file(folder: Path, rng: random.Random) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(folder))
    for step in range(rng.randint(5, 40)):
        writer.add_scalar("train/loss", 2.0 * 0.95**step, step)
        writer.add_scalar("val/accuracy", 1 - 0.9**step, step)
    writer.close()
    return next(folder.glob("events.out.tfevents.*"))


def _dlcheck_run(folder: Path, rng: random.Random) -> None:
    _write(folder / "run.json", json.dumps({"tool": "dlcheck", "status": "completed", "recipe": "recipe.yaml"}))
    _write(folder / "recipe.yaml", (ROOT / "recipes" / "digits_mlp.yaml").read_text())
    lines = [json.dumps({"step": step, "epoch": step // 10, "train/loss": 2.3 * 0.97**step}) for step in range(60)]
    _write(folder / "metrics.jsonl", "\n".join(lines) + "\n")


def _deep_json(depth: int) -> str:
    return '{"step": 1, "loss": ' + "[" * depth + "]" * depth + "}\n"


def _hostile_logs(rng: random.Random, folder: Path) -> list[tuple[str, Path]]:
    made: list[tuple[str, Path]] = []

    def add(name: str, path: Path) -> None:
        made.append((name, path))

    add("deep_json", _write(folder / "deep" / "log.jsonl", _jsonl_log(rng) + _deep_json(200_000)))
    add("deep_trainer_state", _write(folder / "deep_hf" / "trainer_state.json", _deep_json(100_000)))
    add("huge_int_jsonl", _write(folder / "int" / "log.jsonl", '{"step": 1, "loss": ' + "9" * 10_000 + "}\n"))
    add("huge_int_csv", _write(folder / "intcsv" / "log.csv", "step,loss\n1," + "9" * 10_000 + "\n2,1.0\n"))
    add("overflow_float", _write(folder / "of" / "log.jsonl", '{"step": 1e400, "loss": 1e400}\n' * 20))
    add(
        "nan_inf", _write(folder / "nan" / "log.csv", "step,loss\n" + "".join(f"{i},nan\n{i},inf\n" for i in range(50)))
    )
    add("giant_field", _write(folder / "field" / "log.csv", "step,loss\n1," + "x" * 5_000_000 + "\n"))
    add("giant_line", _write(folder / "line" / "log.jsonl", '{"step": 1, "loss": "' + "x" * 20_000_000 + '"}\n'))
    add("non_utf8_csv", _write(folder / "enc" / "log.csv", b"step,loss\n1,\xff\xfe\n2,0.5\n"))
    add("non_utf8_jsonl", _write(folder / "encj" / "log.jsonl", b'{"step": 1, "loss": "\xff"}\n'))
    add("nul_csv", _write(folder / "nul" / "log.csv", "step,loss\n1,0.5\x00\n2,0.4\n"))
    add("binary_csv", _write(folder / "bin" / "log.csv", rng.randbytes(100_000)))
    add("binary_event", _write(folder / "binev" / "events.out.tfevents.1.host", rng.randbytes(50_000)))
    add("fifo_in_folder", _fifo(folder / "fifo" / "metrics.csv"))
    add("fifo_folder_arg", folder / "fifo")
    add("fifo_file_arg", folder / "fifo" / "metrics.csv")
    add("dev_zero_link", _link(folder / "zero" / "log.csv", "/dev/zero"))
    add("dev_zero_folder", folder / "zero")
    add("sparse_csv", _sparse(folder / "sparse" / "log.csv", head=b"step,loss\n1,0.5\n"))
    add("sparse_jsonl", _sparse(folder / "sparsej" / "log.jsonl", head=b'{"step": 1, "loss": 0.5}\n'))
    add("many_columns", _write(folder / "cols" / "log.csv", ",".join(f"c{i}" for i in range(100_000)) + "\n"))
    add("empty_csv", _write(folder / "empty" / "log.csv", ""))
    add("symlink_loop", _link(folder / "loop" / "log.csv", "log.csv"))
    add("symlink_out", _link(folder / "out" / "log.csv", "/etc/passwd"))
    return made


def _log_cases(count: int, rng: random.Random, scratch: Path) -> list[Case]:
    cases: list[Case] = []
    hostile_folder = scratch / "logs" / "hostile"
    for name, path in _hostile_logs(rng, hostile_folder):
        cases.append(Case("log", name, hostile_folder, ["diagnose", str(path)]))
    index = 0
    while len(cases) < count:
        folder = scratch / "logs" / f"{index:04d}"
        index += 1
        fmt = rng.choice(["csv", "jsonl", "trainer_state", "tensorboard", "dlcheck_run"])
        if fmt == "tensorboard":
            target = _event_file(folder, rng)
            clean = target.read_bytes()
        elif fmt == "dlcheck_run":
            _dlcheck_run(folder, rng)
            target = folder / rng.choice(["metrics.jsonl", "run.json"])
            clean = target.read_bytes()
        else:
            name = {"csv": "metrics.csv", "jsonl": "log.jsonl", "trainer_state": "trainer_state.json"}[fmt]
            text = {"csv": _csv_log, "jsonl": _jsonl_log, "trainer_state": _trainer_state}[fmt](rng)
            target, clean = _write(folder / name, text), text.encode()
        roll = rng.random()
        if roll < 0.55:
            mutation, content = "bytes", _mutate_bytes(clean, rng)
        elif roll < 0.8:
            mutation, content = "truncate", _truncate(clean, rng)
        elif roll < 0.9:
            mutation = "nan_inf"
            content = clean.replace(b"0.", rng.choice([b"nan", b"inf", b"-inf", b"1e999", b"NaN", b"9" * 5000]), 3)
        else:
            mutation, content = "append_garbage", clean + rng.randbytes(rng.randint(1, 5000))
        _write(target, content)
        argument = str(folder) if rng.random() < 0.5 else str(target)
        cases.append(Case("log", f"{fmt}:{mutation}", folder, ["diagnose", argument]))
    return cases[:count]


# ------------------------------------------------------------------------------------------- images


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, color_type: int = 0, bit_depth: int = 8) -> bytes:
    """A valid PNG (deterministic gradient), built by hand so the generator needs no imaging library."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row_bytes = width * channels * bit_depth // 8
    raw = b"".join(b"\x00" + bytes((x * 7 + y * 13) % 256 for x in range(row_bytes)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _png_header_only(width: int, height: int, color_type: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    # A few compressed rows: a decoder that trusts the header allocates width x height before noticing.
    body = zlib.compress(b"\x00" * min(width + 1, 1_000_000) * 4)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _png_zero_bomb(width: int, height: int) -> bytes:
    """A real, decodable all-black PNG: tiny on disk, `width * height` bytes once decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _bmp_header_only(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\x00" * 64


def _gif_header_only(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


def _tiff_header_only(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1)]
    entries += [(273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *entry) for entry in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 16


def _npy_header_only(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 64


def _jpeg_huge(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    marker = data.find(b"\xff\xc0")
    data[marker + 5 : marker + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _image_cases(count: int, rng: random.Random, scratch: Path) -> list[Case]:
    folder = scratch / "images"
    made: list[tuple[str, list[Path | str]]] = [
        ("png_huge_header", [_write(folder / "huge.png", _png_header_only(100_000, 100_000))]),
        ("png_max_header", [_write(folder / "max.png", _png_header_only(2**31 - 1, 2**31 - 1))]),
        ("png_wide_header", [_write(folder / "wide.png", _png_header_only(2**31 - 1, 3, color_type=6))]),
        ("png_zero_bomb_150mp", [_write(folder / "bomb150.png", _png_zero_bomb(15_000, 10_000))]),
        ("png_zero_bomb_400mp", [_write(folder / "bomb400.png", _png_zero_bomb(20_000, 20_000))]),
        ("bmp_huge_header", [_write(folder / "huge.bmp", _bmp_header_only(100_000, 100_000))]),
        ("gif_huge_header", [_write(folder / "huge.gif", _gif_header_only(65_535, 65_535))]),
        ("tiff_huge_header", [_write(folder / "huge.tif", _tiff_header_only(200_000, 200_000))]),
        ("jpeg_huge_header", [_write(folder / "huge.jpg", _jpeg_huge(65_500, 65_500))]),
        ("npy_huge_header", [_write(folder / "huge.npy", _npy_header_only((200_000, 200_000)))]),
        ("npy_object", [_write(folder / "object.npy", _npy_header_only((4, 4), "|O"))]),
        ("png_grey_alpha", [_write(folder / "la.png", _png(32, 24, color_type=4))]),
        ("png_16bit", [_write(folder / "deep.png", _png(32, 24, bit_depth=16))]),
        ("png_rgba", [_write(folder / "rgba.png", _png(32, 24, color_type=6))]),
        ("text_as_png", [_write(folder / "text.png", "this is not an image\n")]),
        ("empty_png", [_write(folder / "empty.png", b"")]),
        ("fifo_png", [_fifo(folder / "fifo.png")]),
        ("dev_zero_png", [_link(folder / "zero.png", "/dev/zero")]),
        ("sparse_png", [_sparse(folder / "sparse.png", head=_png(8, 8)[:33])]),
        ("directory", [folder]),
        (
            "out_same_stem",
            [_write(folder / "a" / "img.png", _png(32, 32)), _write(folder / "b" / "img.png", _png(32, 32))],
        ),
        ("out_bundled_pair", ["camera", "coins"]),
        ("python_repr_file", [_write(folder / "module.py", "print('hi')\n")]),
    ]
    cases: list[Case] = []
    for name, inputs in made:
        arguments = ["keypoints", *map(str, inputs)]
        if name.startswith("out_"):
            arguments += ["--out", str(folder / f"{name}.png")]
        cases.append(Case("image", name, folder, arguments))
    clean = [_png(rng.randint(8, 96), rng.randint(8, 96), color_type=rng.choice([0, 2, 4, 6])) for _ in range(8)]
    index = 0
    while len(cases) < count:
        data = rng.choice(clean)
        roll = rng.random()
        if roll < 0.5:
            mutation, content = "bytes", _mutate_bytes(data, rng)
        elif roll < 0.8:
            mutation, content = "truncate", _truncate(data, rng)
        else:
            # Rewrite the declared size (and fix the CRC) so the header lies about the pixels that follow.
            width, height = rng.choice([(100_000, 100_000), (70_000, 1), (1, 2**31 - 1), (12_000, 9_000)])
            patched = struct.pack(">II", width, height) + data[24:29]
            crc = struct.pack(">I", zlib.crc32(b"IHDR" + patched) & 0xFFFFFFFF)
            mutation, content = "lying_header", data[:16] + patched + crc + data[33:]
        path = _write(folder / "mutated" / f"{index:03d}.png", content)
        index += 1
        cases.append(Case("image", f"mutate:{mutation}", folder, ["keypoints", str(path)]))
    return cases[:count]


# ------------------------------------------------------------------------------------------- runner


def _limits(address_space_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes, address_space_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _run(case: Case, *, timeout_seconds: float, memory_mb: float, address_space_mb: int) -> Outcome:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("DLCHECK_ALLOW_FACTORIES", None)
    output_path = case.folder / f".fuzz-output-{os.getpid()}-{id(case)}"
    started = time.perf_counter()
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dlcheck", *case.arguments],
            cwd=case.folder,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
            preexec_fn=_limits(address_space_mb * 1024 * 1024),
        )
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_seconds:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    text = output_path.read_bytes().decode("utf-8", "replace")
    output_path.unlink()
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1][:160] if lines else ""
    code = process.returncode
    if timed_out:
        verdict = "timeout"
    elif (case.folder / CANARY).exists() or (case.victim is not None and not case.victim.exists()):
        verdict = "code_ran"
    elif "MemoryError" in text or "can't allocate memory" in text or peak_mb > memory_mb:
        verdict = "over_memory"
    elif "Traceback (most recent call last)" in text:
        verdict = "traceback"
    elif code < 0:
        verdict = "signal"
    else:
        verdict = f"exit_{code}"
    if case.payload_forbidden:
        (case.folder / CANARY).unlink(missing_ok=True)
    return Outcome(case, verdict, seconds, peak_mb, last)


def _table(outcomes: list[Outcome]) -> str:
    columns = ["traceback", "timeout", "over_memory", "code_ran", "signal", "exit_0", "exit_1", "exit_2"]
    header = f"{'input':<8} {'runs':>5} " + " ".join(f"{column:>11}" for column in columns)
    header += f" {'other':>6} {'max s':>6} {'max MB':>7}"
    lines = [header, "-" * len(header)]
    for kind in ("recipe", "log", "image"):
        mine = [outcome for outcome in outcomes if outcome.case.kind == kind]
        if not mine:
            continue
        counts = collections.Counter(outcome.verdict for outcome in mine)
        other = sum(count for verdict, count in counts.items() if verdict not in columns)
        lines.append(
            f"{kind:<8} {len(mine):>5} "
            + " ".join(f"{counts.get(column, 0):>11}" for column in columns)
            + f" {other:>6} {max(o.seconds for o in mine):>6.1f} {max(o.peak_rss_mb for o in mine):>7.0f}"
        )
    return "\n".join(lines)


def _problems(outcomes: list[Outcome], limit: int) -> str:
    bad = [o for o in outcomes if o.verdict in ("traceback", "timeout", "over_memory", "code_ran", "signal")]
    groups: dict[tuple[str, str, str], list[Outcome]] = collections.defaultdict(list)
    for outcome in bad:
        # One group per exception type (the message's numbers and positions vary from input to input).
        error = re.match(r"^([\w.]+(?:Error|Exception|Exit))\b", outcome.last_line)
        key = error[1] if error else re.sub(r"\d+", "N", outcome.last_line)[:60]
        groups[(outcome.case.kind, outcome.verdict, key)].append(outcome)
    lines = []
    for (kind, verdict, key), members in sorted(groups.items(), key=lambda item: -len(item[1]))[:limit]:
        names = sorted({member.case.name for member in members})
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
        lines.append(f"  {len(members):>4} {kind:<6} {verdict:<11} {key or '(no output)'}: {shown}")
        lines.append(f"{'':>24}e.g. {members[0].last_line[:100]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", type=int, default=500)
    parser.add_argument("--logs", type=int, default=300)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="Processes at once (default 2).")
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds before a run counts as a hang.")
    parser.add_argument("--memory-mb", type=float, default=1024.0, help="Peak RSS above this counts as over memory.")
    parser.add_argument(
        "--address-space-mb", type=int, default=4096, help="RLIMIT_AS of each child (protects this machine)."
    )
    parser.add_argument("--keep", type=Path, default=None, help="Generate the corpus here and keep it.")
    parser.add_argument("--json", type=Path, default=None, help="Write every outcome as JSON here.")
    parser.add_argument("--show", type=int, default=25, help="Problem groups listed under the table.")
    arguments = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="dlcheck-fuzz-")) if arguments.keep is None else arguments.keep
    scratch.mkdir(parents=True, exist_ok=True)
    generated = time.perf_counter()
    cases = (
        _recipe_cases(arguments.recipes, random.Random(f"{arguments.seed}-recipes"), scratch)
        + _log_cases(arguments.logs, random.Random(f"{arguments.seed}-logs"), scratch)
        + _image_cases(arguments.images, random.Random(f"{arguments.seed}-images"), scratch)
    )
    print(f"generated {len(cases)} inputs in {time.perf_counter() - generated:.1f} s under {scratch}", flush=True)
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=arguments.jobs) as pool:
            futures = [
                pool.submit(
                    _run,
                    case,
                    timeout_seconds=arguments.timeout,
                    memory_mb=arguments.memory_mb,
                    address_space_mb=arguments.address_space_mb,
                )
                for case in cases
            ]
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                outcomes.append(future.result())
                if done % 100 == 0:
                    print(f"  {done}/{len(cases)} runs, {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        if arguments.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\nfuzz: {len(outcomes)} runs in {time.perf_counter() - started:.0f} s (timeout {arguments.timeout:g} s, "
        f"memory limit {arguments.memory_mb:g} MB peak RSS, address space cap {arguments.address_space_mb} MB)"
    )
    print(_table(outcomes))
    problems = _problems(outcomes, arguments.show)
    if problems:
        print("\nproblems (count, input, verdict, examples: last line of output):")
        print(problems)
    if arguments.json is not None:
        records = [
            {
                "kind": o.case.kind,
                "name": o.case.name,
                "arguments": o.case.arguments,
                "verdict": o.verdict,
                "seconds": round(o.seconds, 3),
                "peak_rss_mb": round(o.peak_rss_mb, 1),
                "last_line": o.last_line,
            }
            for o in outcomes
        ]
        arguments.json.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
