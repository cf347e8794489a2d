"""Generated bad input: every numeric flag of every command, over values nobody picked by hand.

For each flag, ``hypothesis`` draws values from five classes (negative, zero, huge, non-finite,
wrong type) plus a small valid range, and runs ``dreamlib.cli.main`` in-process on a tiny
smoke configuration. Whatever the value, the command must either

* fail with exit status != 0 and exactly one stderr line starting with ``error:``, no
  traceback, or
* succeed (status 0) with a finished result: a run folder whose ``metrics.json`` holds a
  finite accuracy (train), an encoder folder matching its manifest (pretrain), JSON on stdout
  (count, bench);

and in both cases no file outside its output changed: the whole temp tree (the outputs, the
working directory) is hashed before and after, and new files may appear only in the run
folder (train) or weights folder (pretrain) the command was given.

Valid values are kept small (one epoch of 16 images), so a run takes a fraction of a second;
the valid range of each flag is its low end: huge *valid* values (10,000 epochs) are slow, not
wrong, and the ranges' upper bounds are tested through the values just above them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamlib.cli import main
from dreamlib.config import (MAX_BATCH_SIZE, MAX_EPOCHS, MAX_IMAGE_SIZE, MAX_ITEMS,
                             MAX_NUM_CLASSES, MAX_SEED, MAX_SEQ_LEN, MAX_THREADS, MAX_WIDTH)
from dreamlib.runs import MAX_WORKERS, METRICS_FILE
from dreamlib.shipped import WEIGHTS_ENV, shipped_folder
from dreamlib.validate import MAX_BENCH_BATCH, MAX_BENCH_STEPS

EXAMPLES = 25  # per flag; each test stays within a few seconds

TINY = ["--profile", "smoke", "--epochs", "1", "--max-train", "16", "--max-test", "10",
        "--batch-size", "16", "--width", "4", "--quiet"]
BASELINE = ["train", *TINY, "--model", "baseline"]
SLEEPNET = ["train", *TINY, "--model", "sleepnet", "--blocks", "1", "--untrained"]
TEXT = ["train", *TINY, "--task", "text", "--model", "baseline"]
PRETRAIN = ["pretrain", "--encoder", "mae-small", "--dataset", "digits", "--epochs", "1",
            "--max-items", "16", "--heldout", "4", "--batch-size", "16"]
PRETRAIN_TEXT = ["pretrain", "--encoder", "mlm-small", "--dataset", "fortunes", "--epochs", "1",
                 "--max-items", "16", "--heldout", "4", "--batch-size", "16", "--seq-len", "8"]
COUNT = ["count", "--width", "4", "--image-size", "16"]
COUNT_TEXT = ["count", "--task", "text", "--width", "4", "--seq-len", "8"]
BENCH = ["bench", "--width", "4", "--image-size", "16", "--steps", "1", "--warmup", "0",
         "--batch-size", "2", "--blocks", "1"]
BENCH_TEXT = ["bench", "--task", "text", "--width", "4", "--seq-len", "8", "--steps", "1",
              "--warmup", "0", "--batch-size", "2", "--blocks", "1"]

# Text no int flag accepts (argparse's int() refuses them), or accepts as a small number
WRONG_TYPE = ["nan", "inf", "-inf", "1e3", "1.5", "0x10", "three", "", " ", "--", "1,5", "⅕",
              "２", " 2 ", "+1", "-0", "0b1"]


def ints(valid: st.SearchStrategy[int], high: int) -> st.SearchStrategy[str]:
    """Negative, zero, huge (above the flag's range), wrong type, or valid."""
    return st.one_of(
        st.integers(max_value=-1).map(str),
        st.just("0"),
        st.integers(min_value=high + 1).map(str),
        st.sampled_from(WRONG_TYPE),
        valid.map(str),
    )


def floats(valid: st.SearchStrategy[float]) -> st.SearchStrategy[str]:
    """Any float (negative, zero, huge, tiny, non-finite), wrong type, or valid."""
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["nan", "-nan", "inf", "-inf", "1e400", "-1e400", "0", "-0.0",
                         "5e-324", "1e308"] + WRONG_TYPE),
        valid.map(repr),
    )


# (command base, flag, values): the flag is appended after the base, so it overrides it
FLAGS = {
    "train --epochs": (BASELINE, "--epochs", ints(st.integers(1, 2), MAX_EPOCHS)),
    "train --batch-size": (BASELINE, "--batch-size", ints(st.integers(1, 64), MAX_BATCH_SIZE)),
    "train --max-train": (BASELINE, "--max-train", ints(st.integers(1, 32), MAX_ITEMS)),
    "train --max-test": (BASELINE, "--max-test", ints(st.integers(1, 32), MAX_ITEMS)),
    "train --seed": (BASELINE, "--seed", ints(st.integers(0, MAX_SEED), MAX_SEED)),
    "train --eval-every": (BASELINE, "--eval-every", ints(st.integers(1, 3), MAX_EPOCHS)),
    "train --workers": (BASELINE, "--workers", ints(st.integers(0, 1), MAX_WORKERS)),
    "train --lr": (BASELINE, "--lr", floats(st.floats(1e-6, 1.0))),
    "train --image-size": (BASELINE, "--image-size", ints(st.integers(16, 32), MAX_IMAGE_SIZE)),
    "train --in-channels": (BASELINE, "--in-channels", ints(st.sampled_from([1, 3]), 3)),
    "train --num-classes": (BASELINE, "--num-classes", ints(st.sampled_from([9, 10, 11]),
                                                           MAX_NUM_CLASSES)),
    "train --width": (BASELINE, "--width", ints(st.integers(4, 8), MAX_WIDTH)),
    "train --blocks": (SLEEPNET, "--blocks", ints(st.integers(1, 4), 4)),
    "train --mask-ratio": (SLEEPNET, "--mask-ratio", floats(st.floats(0.0, 0.9))),
    "train --encoder-lr": (SLEEPNET + ["--unfrozen"], "--encoder-lr",
                           floats(st.floats(1e-6, 1e-2))),
    "train --seq-len": (TEXT, "--seq-len", ints(st.integers(1, 24), MAX_SEQ_LEN)),
    "pretrain --epochs": (PRETRAIN, "--epochs", ints(st.integers(1, 2), MAX_EPOCHS)),
    "pretrain --max-items": (PRETRAIN, "--max-items", ints(st.integers(1, 32), MAX_ITEMS)),
    "pretrain --batch-size": (PRETRAIN, "--batch-size", ints(st.integers(1, 32),
                                                             MAX_BATCH_SIZE)),
    "pretrain --seed": (PRETRAIN, "--seed", ints(st.integers(0, 3), MAX_SEED)),
    "pretrain --seq-len": (PRETRAIN_TEXT, "--seq-len", ints(st.integers(1, 24), 512)),
    "pretrain --patience": (PRETRAIN, "--patience", ints(st.integers(1, 2), MAX_EPOCHS)),
    "pretrain --heldout": (PRETRAIN, "--heldout", ints(st.integers(1, 8), MAX_ITEMS)),
    "pretrain --lr": (PRETRAIN, "--lr", floats(st.floats(1e-5, 1e-2))),
    "pretrain --weight-decay": (PRETRAIN, "--weight-decay", floats(st.floats(0.0, 0.1))),
    "pretrain --warmup": (PRETRAIN, "--warmup", floats(st.floats(0.0, 0.5))),
    "pretrain --threads": (PRETRAIN, "--threads", ints(st.integers(1, 2), MAX_THREADS)),
    "count --blocks": (COUNT, "--blocks", ints(st.integers(1, 4), 4)),
    "count --image-size": (COUNT, "--image-size", ints(st.integers(16, 48), MAX_IMAGE_SIZE)),
    "count --in-channels": (COUNT, "--in-channels", ints(st.sampled_from([1, 3]), 3)),
    "count --num-classes": (COUNT, "--num-classes", ints(st.integers(2, 1000), MAX_NUM_CLASSES)),
    "count --width": (COUNT, "--width", ints(st.integers(4, 16), MAX_WIDTH)),
    "count --mask-ratio": (COUNT, "--mask-ratio", floats(st.floats(0.0, 0.9))),
    "count --seq-len": (COUNT_TEXT, "--seq-len", ints(st.integers(1, 64), MAX_SEQ_LEN)),
    "bench --batch-size": (BENCH, "--batch-size", ints(st.integers(1, 2), MAX_BENCH_BATCH)),
    "bench --steps": (BENCH, "--steps", ints(st.integers(1, 2), MAX_BENCH_STEPS)),
    "bench --warmup": (BENCH, "--warmup", ints(st.integers(0, 1), MAX_BENCH_STEPS)),
}
# bench takes the model flags of count; a bench step trains, so it gets its own entries
FLAGS.update({f"bench {name.split()[1]}": (BENCH if base is COUNT else BENCH_TEXT, flag, values)
              for name, (base, flag, values) in list(FLAGS.items())
              if name.startswith("count ")})


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def allowed_new(path: str, out: str | None) -> bool:
    """A file may appear or change only in the output the command was given (a run folder,
    or pretrain's --out, which a rerun rewrites); count and bench write nothing."""
    return out is not None and path.startswith(out + os.sep)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException as exc:  # noqa: BLE001 - what escapes main is the failure itself
            pytest.fail(f"{' '.join(argv)}: {type(exc).__name__} escaped main: {exc}")
    return rc, out.getvalue(), err.getvalue()


def check(tree: Path, base: list[str], flag: str, value: str) -> None:
    command = base[0]
    out = None
    argv = [*base, flag, value]
    if command in ("train", "pretrain"):
        out = f"{command}-out/{hashlib.sha256(value.encode()).hexdigest()[:12]}"
        argv += ["--out", str(tree / out)]
    before = snapshot(tree)

    rc, stdout, stderr = run(argv)

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    if rc != 0:
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, stderr)
    elif command == "train":
        metrics = json.loads((tree / out / METRICS_FILE).read_text())
        assert math.isfinite(metrics["accuracy"]) and 0 <= metrics["accuracy"] <= 1
    elif command == "pretrain":
        shipped_folder(base[2], tree / out)  # every file there, matching its manifest
    else:
        json.loads(stdout.splitlines()[-1])
    after = snapshot(tree)
    changed = sorted(k for k in before if after.get(k) != before[k] and not allowed_new(k, out))
    assert changed == [], (argv, changed)
    new = sorted(k for k in after if k not in before and not allowed_new(k, out))
    assert new == [], (argv, new)
    if rc != 0 and command == "train":  # a refused or failed run leaves no finished run
        assert not (tree / out / METRICS_FILE).exists()


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_any_value_of_a_numeric_flag_is_an_error_line_or_a_finished_run(name, monkeypatch,
                                                                        one_thread):
    base, flag, values = FLAGS[name]
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        (tree / "work").mkdir()
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setenv(WEIGHTS_ENV, str(tree / "weights"))  # no shipped weights are used
        monkeypatch.setenv("DREAMLIB_DATA", str(tree / "data-root"))
        monkeypatch.chdir(tree / "work")  # a stray relative write would land in the tree

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(value=values)
        def one_value(value):
            check(tree, base, flag, value)

        one_value()


def test_every_numeric_flag_of_every_command_is_driven():
    """A new numeric flag needs a line in FLAGS (else its bad values go untested)."""
    from dreamlib.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    numeric = {f"{name} {option}" for name, sub in commands.items() for action in sub._actions
               if action.type in (int, float) for option in action.option_strings}
    assert numeric - set(FLAGS) == set(), sorted(numeric - set(FLAGS))


# --------------------------------------------------------------------------- damaged files
#
# The same contract for files a user (or a kill, a disk, a bad merge) damaged: a finished run
# folder's files, reused by `train --out` with the same flags, and an encoder folder passed as
# `--encoder` to `count` and `train`. Hypothesis draws the file and the damage (truncated,
# empty, a JSON value of the wrong type, a non-finite number, a flipped byte).

RUN_FILES = ("config.json", "metrics.json", "log.csv", "checkpoint.pt")
ENCODER_FILES = ("config.json", "model.safetensors")
NON_FINITE = ["NaN", "Infinity", "-Infinity", '"nan"', '"inf"', "1e999"]


@st.composite
def damages(draw, files):
    name = draw(st.sampled_from(files))
    kind = draw(st.sampled_from(["truncated", "empty", "wrong type", "non-finite", "flipped"]))
    return name, kind, draw(st.floats(0.0, 1.0)), draw(st.sampled_from(NON_FINITE)), \
        draw(st.sampled_from(["null", "[]", '"text"', "7", "true"]))


def damage(path: Path, kind: str, where: float, bad_number: str, wrong: str) -> None:
    data = path.read_bytes()
    at = min(int(where * len(data)), max(len(data) - 1, 0))
    if kind == "truncated":
        path.write_bytes(data[:at])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong type":
        path.write_text(wrong)
    elif kind == "flipped":
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:] if data else b"\xff")
    elif path.suffix == ".json":  # non-finite: a number of the file becomes one
        text = path.read_text()
        numbers = list(re.finditer(r"(?<![\w.\"])-?\d+\.?\d*(?:e-?\d+)?", text))
        if numbers:
            m = numbers[int(where * (len(numbers) - 1))]
            text = text[:m.start()] + bad_number + text[m.end():]
        path.write_text(text)
    elif path.suffix == ".csv":
        lines = path.read_text().splitlines()
        row = 1 + int(where * (len(lines) - 2))
        cells = lines[row].split(",")
        cells[int(where * (len(cells) - 1))] = bad_number.strip('"').lower()
        lines[row] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
    else:  # a binary file has no numbers to make non-finite: flip a byte instead
        damage(path, "flipped", where, bad_number, wrong)


def check_damaged(tree: Path, argv: list[str], out: Path | None) -> None:
    """The contract above, with ``out`` the only folder the command may change."""
    before = snapshot(tree)
    rc, _, stderr = run(argv)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    if rc != 0:
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, stderr)
    elif argv[0] == "train":
        metrics = json.loads((out / METRICS_FILE).read_text())
        assert math.isfinite(metrics["accuracy"]) and 0 <= metrics["accuracy"] <= 1
    after = snapshot(tree)
    inside = str(out.relative_to(tree)) if out is not None else None
    changed = sorted(k for k in set(before) | set(after)
                     if after.get(k) != before.get(k) and not allowed_new(k, inside))
    assert changed == [], (argv, changed)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, one_thread):
    folder = tmp_path_factory.mktemp("finished") / "run"
    rc, _, stderr = run([*BASELINE, "--out", str(folder)])
    assert rc == 0, stderr
    return folder


def damaged_copies(monkeypatch, source: Path, files, prefix: str, check) -> None:
    """Copies of folder ``source`` in a fresh tree (the working directory), each with one
    generated damage to one of ``files`` (derandomized: the same cases on every run), handed
    to ``check(tree, n, copy)``."""
    import shutil

    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.chdir(tree)
        counter = iter(range(10**6))

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(how=damages(files))
        def one_damage(how):
            name, kind, where, bad_number, wrong = how
            n = next(counter)
            copy = tree / f"{prefix}-{n}"
            shutil.copytree(source, copy)
            damage(copy / name, kind, where, bad_number, wrong)
            check(tree, n, copy)

        one_damage()


def test_a_damaged_run_folder_is_an_error_line_or_a_finished_run(finished_run, monkeypatch):
    damaged_copies(monkeypatch, finished_run, RUN_FILES, "run", lambda tree, n, run_dir:
                   check_damaged(tree, [*BASELINE, "--out", str(run_dir)], run_dir))


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    import transformers

    folder = tmp_path_factory.mktemp("encoder") / "mae"
    config = transformers.ViTMAEConfig(
        image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, decoder_hidden_size=16, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=32)
    transformers.ViTMAEForPreTraining(config).save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("command", ["count", "train"])
def test_a_damaged_encoder_folder_is_an_error_line_or_a_result(encoder_folder, command,
                                                               monkeypatch, one_thread):
    def check(tree: Path, n: int, encoder: Path) -> None:
        flags = ["--model", "dreamnet", "--blocks", "1", "--encoder", str(encoder),
                 "--image-size", "16"]
        if command == "count":
            check_damaged(tree, ["count", "--width", "4", *flags], None)
        else:
            out = tree / f"run-{n}"
            check_damaged(tree, ["train", *TINY, *flags, "--out", str(out)], out)

    damaged_copies(monkeypatch, encoder_folder, ENCODER_FILES, "encoder", check)
