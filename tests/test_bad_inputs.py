"""Bad input through the command line: one error line naming the culprit and the fix, no
traceback, nothing existing touched.

Every case drives ``dreamlib.cli.main(argv)`` in-process (fast) against a copy of one
prepared tree: a finished run folder, a digits data folder and a weights folder holding a real
pre-trained ``mae-small`` (``DREAMLIB_WEIGHTS`` points at it). Each case may first break
something in its copy (truncate a data file, corrupt a checkpoint or the encoder, lock the run
folder, damage a run folder's files); then the sha256 and mtime of every file in the tree are
compared before and after, and no file may appear. The cases of issue 14 (bad input a fresh
probe found: lost files, silently wrong results, tracebacks) are marked below; the generated
values of every numeric flag are in ``test_cli_fuzz.py``. A few cases run as real
``python -m dreamlib`` processes, without and with ``--debug``. Path confinement (values that
become file names cannot climb out of their folder) is checked at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from dreamlib import locks, report
from dreamlib.cli import main
from dreamlib.data import sklearn_data_dir
from dreamlib.errors import ConfigError
from dreamlib.pretrain import PretrainConfig, pretrain
from dreamlib.shipped import WEIGHTS_ENV, WEIGHTS_FILE
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, safe_name
from dreamlib.train import train_run
from test_data import write_fashion  # the layout writer of the data tests

REPO = Path(__file__).resolve().parent.parent

# The finished run of the tree, as flags and as a config (the same run).
RUN_FLAGS = ["--profile", "smoke", "--model", "baseline", "--width", "8", "--epochs", "1",
             "--max-train", "64", "--max-test", "32", "--batch-size", "32", "--quiet"]
# A SleepNet whose embedded encoder is the tree's mae-small (pre-trained 1 epoch on 64 digits)
SLEEPNET_FLAGS = ["--profile", "smoke", "--model", "sleepnet", "--width", "8", "--epochs", "1",
                  "--max-train", "64", "--max-test", "32", "--quiet"]
ENCODER = PretrainConfig("mae-small", "digits", epochs=1, max_items=64, heldout=16,
                         batch_size=32)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The tree every case copies: runs/finished, data/digits, weights/mae-small (+ manifest)."""
    root = tmp_path_factory.mktemp("pristine")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_OFFLINE", "1")
            cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8},
                                  epochs=1, max_train=64, max_test=32, batch_size=32)
            train_run(cfg, root / "runs" / "finished", log=lambda *_: None, progress=False)
            pretrain(ENCODER, root / "weights", log=lambda *_: None)
    finally:
        torch.set_num_threads(before)
    (root / "data" / "digits").mkdir(parents=True)
    shutil.copy2(sklearn_data_dir() / "digits.csv.gz", root / "data" / "digits")
    return root


@pytest.fixture
def tree(pristine, tmp_path, monkeypatch):
    """A private copy of the prepared tree, with the environment pointing into it."""
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(WEIGHTS_ENV, str(copy / "weights"))
    monkeypatch.setenv("DREAMLIB_DATA", str(copy / "data-root"))  # no fallback to ~/.cache
    return copy


@pytest.fixture(scope="module")
def live_pid():
    """A live process that is not this one, to hold a lock."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every file under ``root``."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- breakers


def cached_encoder(tree: Path) -> Path:
    return tree / "weights" / "mae-small"


def corrupt_encoder(tree: Path) -> None:
    weights = cached_encoder(tree) / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))


def unfinished_run(tree: Path) -> Path:
    """The finished run, as if killed before its end: no metrics.json (its checkpoint stays)."""
    folder = tree / "runs" / "unfinished"
    shutil.copytree(tree / "runs" / "finished", folder)
    (folder / METRICS_FILE).unlink()
    return folder


def garbage_checkpoint(tree: Path) -> None:
    (unfinished_run(tree) / CHECKPOINT_FILE).write_bytes(b"PK\x03\x04 half a zip file")


class Planted:
    """Unpickling this object would create a file: a checkpoint is data, never code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def code_in_checkpoint(tree: Path) -> None:
    torch.save({"model": Planted(str(tree / "planted-code-ran")), "epoch": 1},
               unfinished_run(tree) / CHECKPOINT_FILE)


def digits_file(tree: Path) -> Path:
    return tree / "data" / "digits" / "digits.csv.gz"


def truncate_digits(tree: Path) -> None:
    data = digits_file(tree).read_bytes()
    digits_file(tree).write_bytes(data[: len(data) // 3])


def garble_digits(tree: Path) -> None:
    digits_file(tree).write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8)


def digits_without_labels(tree: Path) -> None:
    import gzip

    digits_file(tree).write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))


def digits_one_level_too_deep(tree: Path) -> None:
    (tree / "data" / "nested").mkdir()
    shutil.move(tree / "data" / "digits", tree / "data" / "nested" / "digits")


def digits_not_gzipped(tree: Path) -> None:
    import gzip

    raw = gzip.decompress(digits_file(tree).read_bytes())
    (tree / "data" / "plain").mkdir()
    (tree / "data" / "plain" / "digits.csv").write_bytes(raw)


def empty_dir(tree: Path) -> None:
    (tree / "data" / "empty").mkdir()


def truncated_fashion(tree: Path) -> None:
    folder = write_fashion(tree / "data" / "fashion", gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100])


def a_file(tree: Path) -> None:
    (tree / "a-file.txt").write_text("not a folder\n")


def garbled_config(tree: Path) -> None:
    (unfinished_run(tree) / CONFIG_FILE).write_text('{"model": {"task": "vis')


def lock_by(pid: int):
    def plant(tree: Path) -> None:
        folder = unfinished_run(tree)
        (folder / locks.LOCK_FILE).write_text(json.dumps(
            {"host": locks.HOST, "pid": pid, "started": "2025-01-01T00:00:00+00:00",
             "token": "another-worker"}))
    return plant


def users_folder(tree: Path) -> None:
    """A folder of the user's own files (not a run folder), hidden temp files included."""
    folder = tree / "mine"
    folder.mkdir()
    (folder / "log.csv").write_text("my,own,log\n")
    (folder / "thesis.txt").write_text("chapter 1\n")
    (folder / ".notes.tmp").write_text("draft\n")
    (folder / ".log.csv.abcd1234.tmp").write_text("looks like ours, is the user's\n")


def config_holding(text: str):
    def plant(tree: Path) -> None:
        (unfinished_run(tree) / CONFIG_FILE).write_text(text)
    return plant


def empty_metrics(tree: Path) -> None:
    (tree / "runs" / "finished" / METRICS_FILE).write_text("{}")


def log_not_utf8(tree: Path) -> None:
    path = unfinished_run(tree) / "log.csv"
    path.write_bytes(path.read_bytes().replace(b"epoch", b"\xe9poch", 1))


def imdb_without_positive_reviews(tree: Path) -> None:
    """aclImdb whose train/pos/ is empty: one class of two."""
    root = tree / "data" / "imdb" / "aclImdb"
    for split in ("train", "test"):
        for polarity in ("neg", "pos"):
            (root / split / polarity).mkdir(parents=True)
    for i in range(6):
        (root / "train" / "neg" / f"{i}_1.txt").write_text(f"Dull film number {i}.")
    (root / "test" / "neg" / "0_2.txt").write_text("Slow.")
    (root / "test" / "pos" / "0_9.txt").write_text("Loved it.")


def encoder_without_weights(tree: Path) -> None:
    """A folder with a valid encoder config.json and no weights."""
    from dreamlib.encoders import encoder_config

    encoder_config("mae-small").save_pretrained(str(tree / "enc-no-weights"))


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Case:
    """One bad command: argv (``{tree}`` is the tree), the culprit and the fix its error line
    must name, and an optional breaker run on the tree first."""

    argv: tuple[str, ...]
    culprit: str
    fix: str
    setup: object = None
    env: tuple[tuple[str, str], ...] = ()  # environment variables ({tree} allowed)
    status: int | None = None  # the exit status, when it must be a particular one

    def resolve(self, tree: Path) -> tuple[list[str], str]:
        return [a.format(tree=tree) for a in self.argv], self.culprit.format(tree=tree)


def train(*flags: str, out: str = "{tree}/runs/new", base=RUN_FLAGS) -> tuple[str, ...]:
    return ("train", *base, *flags, "--out", out)


SLEEP = SLEEPNET_FLAGS
CHOOSE, AT_LEAST_1, PASS_DIR = "choose one of", "must be an integer >= 1", "pass --data-dir"
IO_ERROR = 74  # sysexits EX_IOERR: an OSError on a path the user gave
TEXT = ("--task", "text")
MLM = ("pretrain", "--encoder", "mlm-small", "--dataset", "fortunes", "--epochs", "1",
       "--max-items", "16")
MAE = ("pretrain", "--encoder", "mae-small", "--dataset", "digits", "--epochs", "1",
       "--max-items", "64", "--heldout", "16")
ENCODER_DIR = "{tree}/weights/mae-small/"
UNFINISHED = "{tree}/runs/unfinished"

CASES = {
    # names: unknown dataset / model / chain / encoder / profile / task / head / command
    "train-unknown-dataset": Case(train("--dataset", "no-such-set"), "no-such-set", CHOOSE),
    "train-unknown-model": Case(train("--model", "sleepynet"), "sleepynet", CHOOSE),
    "train-unknown-chain": Case(train("--chain", "resnet19"), "resnet19", CHOOSE),
    "train-unknown-encoder": Case(train("--encoder", "no-such/encoder", base=SLEEP),
                                  "no-such/encoder", CHOOSE),
    "train-unknown-profile": Case(train("--profile", "huge"), "huge", CHOOSE),
    "train-unknown-task": Case(train("--task", "audio"), "audio", CHOOSE),
    "train-unknown-head": Case(train("--head", "wide", base=SLEEP), "wide", CHOOSE),
    "train-unknown-precision": Case(train("--precision", "fp8"), "fp8", "choose from"),
    "train-unknown-command": Case(("fit", "--profile", "smoke"), "fit", "choose from"),
    # sizes and numbers
    "train-blocks-0": Case(train("--blocks", "0", base=SLEEP), "blocks", "use --model baseline"),
    "train-blocks-5": Case(train("--blocks", "5", base=SLEEP), "got 5", "between 1 and 4"),
    "train-blocks-over-chain": Case(train("--task", "text", "--chain", "lstm-1", "--blocks", "2",
                                          base=SLEEP), "lstm-1", "use M <= 1"),
    "train-image-size-8": Case(train("--image-size", "8"), "image_size 8", "--image-size 32"),
    "train-seq-len-0": Case(train("--task", "text", "--seq-len", "0"), "seq_len",
                            "--seq-len between 1"),
    "train-epochs-negative": Case(train("--epochs", "-1"), "epochs", AT_LEAST_1),
    "train-epochs-not-a-number": Case(train("--epochs", "three"), "three", "--help"),
    "train-batch-size-negative": Case(train("--batch-size", "-4"), "batch_size", AT_LEAST_1),
    "train-lr-negative": Case(train("--lr", "-0.1"), "lr", "--lr 0.001"),
    "train-encoder-lr-zero": Case(train("--encoder-lr", "0"), "encoder_lr", "--encoder-lr 0.001"),
    "train-max-train-0": Case(train("--max-train", "0"), "max_train", "must be an integer >= 1"),
    "train-width-2": Case(train("--width", "2"), "width", "--width between 4"),
    "train-num-classes-1": Case(train("--num-classes", "1"), "num_classes", "--num-classes between 2"),
    "train-mask-ratio-1.5": Case(train("--mask-ratio", "1.5", base=SLEEP), "mask_ratio",
                                 "must be in [0, 1)"),
    "train-no-out": Case(("train", *RUN_FLAGS), "--out", "--help"),
    # data folders: missing, empty, wrong layout, truncated or corrupted files
    "data-dir-missing": Case(train("--data-dir", "{tree}/data/nowhere"), "{tree}/data/nowhere",
                             PASS_DIR),
    "data-dir-empty": Case(train("--data-dir", "{tree}/data/empty"),
                           "{tree}/data/empty/digits.csv.gz", PASS_DIR, empty_dir),
    "data-dir-one-level-too-deep": Case(train("--data-dir", "{tree}/data/nested"),
                                        "{tree}/data/nested/digits.csv.gz", PASS_DIR,
                                        digits_one_level_too_deep),
    "data-dir-not-gzipped": Case(train("--data-dir", "{tree}/data/plain"),
                                 "{tree}/data/plain/digits.csv.gz", PASS_DIR, digits_not_gzipped),
    "data-truncated-gzip": Case(train("--data-dir", "{tree}/data/digits"), "{tree}/data/digits",
                                PASS_DIR, truncate_digits),
    "data-corrupted-gzip": Case(train("--data-dir", "{tree}/data/digits"), "{tree}/data/digits",
                                PASS_DIR, garble_digits),
    "data-wrong-columns": Case(train("--data-dir", "{tree}/data/digits"), "expected 64 pixels",
                               PASS_DIR, digits_without_labels),
    "data-truncated-idx": Case(train("--dataset", "fashion-mnist", "--data-dir",
                                     "{tree}/data/fashion"),
                               "{tree}/data/fashion/train-images-idx3-ubyte", PASS_DIR,
                               truncated_fashion),
    # run folders: a file, another run's folder, corrupted files, a live worker's lock
    "out-is-a-file": Case(train(out="{tree}/a-file.txt"), "{tree}/a-file.txt",
                          "choose a folder path", a_file),
    "run-folder-of-another-run": Case(train("--epochs", "2", out="{tree}/runs/finished"),
                                      "fields differ: epochs", "pick another --out"),
    "config-json-corrupted": Case(train(out=UNFINISHED), UNFINISHED + "/config.json",
                                  "delete that folder", garbled_config),
    "checkpoint-corrupted": Case(train(out=UNFINISHED), UNFINISHED + "/checkpoint.pt",
                                 "delete it", garbage_checkpoint),
    "checkpoint-holding-code": Case(train(out=UNFINISHED), UNFINISHED + "/checkpoint.pt",
                                    "delete it", code_in_checkpoint),
    "shipped-encoder-corrupted": Case(train(base=SLEEP), ENCODER_DIR, "regenerate it",
                                      corrupt_encoder),
    "run-locked-by-live-worker": Case(train(out=UNFINISHED), UNFINISHED + "/lock.json",
                                      "wait for it", "live"),
    # count
    "count-blocks-9": Case(("count", "--blocks", "9"), "got 9", "between 1 and 4"),
    "count-unknown-text-chain": Case(("count", "--task", "text", "--chain", "lstm-9"), "lstm-9",
                                     CHOOSE),
    "count-image-size-4": Case(("count", "--image-size", "4"), "image_size 4", "--image-size 32"),
    "count-seq-len-negative": Case(("count", "--task", "text", "--seq-len", "-3"), "got -3",
                                   "--seq-len between 1"),
    "count-unknown-encoder": Case(("count", "--encoder", "no-such/encoder"), "no-such/encoder",
                                  CHOOSE),
    "count-unknown-model": Case(("count", "--model", "nope"), "nope", CHOOSE),
    # pretrain
    "pretrain-unknown-encoder": Case(("pretrain", "--encoder", "minilm"), "minilm", "choose from"),
    "pretrain-epochs-0": Case(("pretrain", "--encoder", "mae-small", "--epochs", "0"), "epochs",
                              AT_LEAST_1),
    "pretrain-unknown-dataset": Case(("pretrain", "--encoder", "mae-small", "--dataset", "nope"),
                                     "nope", CHOOSE),
    "pretrain-text-data-for-images": Case(("pretrain", "--encoder", "mae-small", "--dataset",
                                           "fortunes"), "'fortunes' is not a vision", CHOOSE),
    "pretrain-batch-size-negative": Case(("pretrain", "--encoder", "mae-small", "--batch-size",
                                          "-1"), "batch_size", AT_LEAST_1),
    "pretrain-seq-len-0": Case(("pretrain", "--encoder", "mlm-small", "--seq-len", "0"),
                               "seq_len", AT_LEAST_1),
    "pretrain-max-items-0": Case(("pretrain", "--encoder", "mae-small", "--max-items", "0"),
                                 "max_items", AT_LEAST_1),
    "pretrain-data-dir-missing": Case(("pretrain", "--encoder", "mae-small", "--dataset", "digits",
                                       "--data-dir", "{tree}/data/nowhere"),
                                      "{tree}/data/nowhere", PASS_DIR),
    "pretrain-out-is-a-file": Case((*MAE, "--out", "{tree}/a-file.txt"), "{tree}/a-file.txt",
                                   "choose a folder path", a_file),
    # reproduce
    "reproduce-unknown-profile": Case(("reproduce", "--profile", "huge"), "huge", CHOOSE),
    "reproduce-unknown-notebook": Case(("reproduce", "--profile", "smoke", "--only", "99"), "99",
                                       "choose from"),
    "reproduce-output-dir-is-a-file": Case(("reproduce", "--profile", "smoke", "--output-dir",
                                            "{tree}/a-file.txt"), "{tree}/a-file.txt",
                                           "choose a folder path", a_file),
    "reproduce-runs-dir-is-a-file": Case(("reproduce", "--profile", "smoke", "--output-dir",
                                          "{tree}/out", "--runs-dir", "{tree}/a-file.txt"),
                                         "{tree}/a-file.txt", "choose a folder path", a_file),
    # bench
    "bench-batch-size-0": Case(("bench", "--batch-size", "0"), "batch size", "--batch-size between 1"),
    "bench-steps-0": Case(("bench", "--steps", "0"), "steps", "--steps between 1"),
    "bench-unknown-device": Case(("bench", "--device", "tpu"), "tpu", "choose cpu"),
    "bench-unknown-precision": Case(("bench", "--precision", "fp8"), "fp8", CHOOSE),
    "bench-blocks-7": Case(("bench", "--blocks", "7"), "got 7", "between 1 and 4"),
    # issue 14 -- lost or silently wrong
    "out-is-a-users-folder": Case(train(out="{tree}/mine"), "{tree}/mine",
                                  "Pass a new or empty folder", users_folder),
    "train-lr-inf": Case(train("--lr", "inf"), "lr", "--lr 0.001"),
    "train-lr-nan": Case(train("--lr", "nan"), "lr", "--lr 0.001"),
    "train-lr-so-high-weights-overflow": Case(train("--lr", "1e30", "--batch-size", "64"),
                                              "weights became non-finite", "Lower --lr"),
    "data-imdb-class-without-examples": Case(
        train(*TEXT, "--dataset", "imdb", "--data-dir", "{tree}/data/imdb"), "class 1 (pos)",
        PASS_DIR, imdb_without_positive_reviews),
    "config-json-null": Case(train(out=UNFINISHED), UNFINISHED + "/config.json is damaged",
                             "delete that folder", config_holding("null")),
    "out-empty": Case(train(out=""), "--out is empty", "pass a value"),
    "reproduce-only-empty": Case(("reproduce", "--profile", "smoke", "--only", "",
                                  "--output-dir", "{tree}/out"), "--only is empty",
                                 "pass a value"),
    "reproduce-only-comma": Case(("reproduce", "--profile", "smoke", "--only", ",",
                                  "--output-dir", "{tree}/out"), "names no notebook",
                                 "such as 02,05"),
    # issue 14 -- numbers validated against the dataset and the model
    "train-seed-negative": Case(train("--seed", "-1"), "seed", "must be an integer >= 0"),
    "train-seed-beyond-2-63": Case(train("--seed", str(2**63 + 1)), "seed", "<= 4294967295"),
    "train-num-classes-fewer-than-dataset": Case(train("--num-classes", "5"), "num_classes 5",
                                                 "leave --num-classes out"),
    "train-num-classes-more-than-dataset": Case(train("--num-classes", "12", "--no-augment"),
                                                "the 10 classes", "leave --num-classes out"),
    "train-num-classes-huge": Case(train("--num-classes", str(10**15)), "num_classes",
                                   "<= 1000000"),
    "count-model-larger-than-memory": Case(("count", "--model", "baseline", "--chain", "resnet50",
                                            "--width", "4096", "--num-classes", "1000000"),
                                           "GB of memory here", "lower --num-classes"),
    "train-in-channels-4": Case(train("--in-channels", "4"), "in_channels", "1 or 3"),
    "count-in-channels-4": Case(("count", "--in-channels", "4"), "in_channels", "1 or 3"),
    "train-text-seq-len-1": Case(train(*TEXT, "--seq-len", "1"), "seq_len 1", "--seq-len 3"),
    "pretrain-seq-len-1": Case((*MLM, "--seq-len", "1"), "seq_len 1", "--seq-len 3"),
    "pretrain-seq-len-beyond-positions": Case((*MLM, "--seq-len", "600"), "seq_len 600",
                                              "--seq-len 512"),
    "pretrain-seed-negative": Case((*MAE, "--seed", "-1"), "seed", "must be an integer >= 0"),
    "bench-batch-size-huge": Case(("bench", "--batch-size", str(10**15)), "batch size", "<= 4096"),
    # issue 14 -- operating-system errors on a path the user gave: one line, status 74
    "out-in-proc": Case(train(out="/proc/dreamlib-run"), "/proc/dreamlib-run", "choose a folder",
                        status=IO_ERROR),
    "out-under-a-regular-file": Case(train(out="{tree}/a-file.txt/run"), "{tree}/a-file.txt/run",
                                     "a part of that path is a file", a_file, status=IO_ERROR),
    "reproduce-output-dir-in-proc": Case(("reproduce", "--profile", "smoke", "--only", "04",
                                          "--output-dir", "/proc/dreamlib-out"),
                                         "/proc/dreamlib-out", "choose a folder",
                                         status=IO_ERROR),
    "pretrain-out-under-a-regular-file": Case((*MAE, "--out", "{tree}/a-file.txt/weights"),
                                              "{tree}/a-file.txt/weights",
                                              "a part of that path is a file", a_file,
                                              status=IO_ERROR),
    "pretrain-out-in-proc": Case((*MAE, "--out", "/proc/dreamlib-weights"),
                                 "/proc/dreamlib-weights", "choose a folder", status=IO_ERROR),
    # issue 14 -- damaged run folders: which file, and what to do
    "config-json-a-list": Case(train(out=UNFINISHED), UNFINISHED + "/config.json is damaged",
                               "delete that folder", config_holding("[1, 2]")),
    "config-json-missing-keys": Case(train(out=UNFINISHED), UNFINISHED + "/config.json",
                                     "delete that folder", config_holding('{"epochs": 1}')),
    "metrics-json-empty-object": Case(train(out="{tree}/runs/finished"),
                                      "{tree}/runs/finished/metrics.json is damaged",
                                      "delete it and rerun", empty_metrics),
    "log-csv-not-utf8": Case(train(out=UNFINISHED), UNFINISHED + "/log.csv is damaged",
                             "restart the run from epoch 0", log_not_utf8),
    # issue 14 -- unclear messages
    "data-dir-is-a-file": Case(train("--data-dir", "{tree}/a-file.txt"),
                               "{tree}/a-file.txt is a file, not a folder", PASS_DIR, a_file),
    "encoder-folder-without-weights": Case(train("--encoder", "{tree}/enc-no-weights",
                                                 base=SLEEP), "no weights", "save_pretrained",
                                           encoder_without_weights),
}
if not torch.cuda.is_available():
    CASES["train-fp16-on-cpu"] = Case(train("--precision", "fp16"), "fp16 needs a CUDA GPU",
                                      "use --precision bf16 or fp32")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_naming_culprit_and_fix_and_touches_nothing(name, tree, live_pid,
                                                                          capsys, one_thread,
                                                                          monkeypatch):
    case = CASES[name]
    if case.setup == "live":
        lock_by(live_pid)(tree)
    elif case.setup is not None:
        case.setup(tree)
    for key, value in case.env:
        monkeypatch.setenv(key, value.format(tree=tree))
    argv, culprit = case.resolve(tree)
    before = snapshot(tree)

    rc = main(argv)

    err = capsys.readouterr().err
    lines = error_lines(err)
    assert rc != 0
    assert case.status is None or rc == case.status, (rc, err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: ") and "Traceback" not in err
    assert culprit in line, line
    assert case.fix in line, line
    after = snapshot(tree)
    assert {k: after.get(k) for k in before} == before  # every existing file untouched
    assert sorted(set(after) - set(before)) == []  # nor any file created: not even a config.json
    assert not (tree / "runs" / "new").exists() and not (tree / "runs" / "sleep").exists()
    assert not (tree / "planted-code-ran").exists()


def test_the_matrix_covers_every_command_with_enough_cases():
    commands = {case.argv[0] for case in CASES.values()}
    assert {"train", "count", "pretrain", "reproduce", "bench"} <= commands
    assert len(CASES) >= 95


# --------------------------------------------------------------------------- real processes


def dreamlib_process(tree: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", WEIGHTS_ENV: str(tree / "weights"),
           "DREAMLIB_DATA": str(tree / "data-root"), "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "dreamlib", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_real_process_prints_one_line_and_debug_the_traceback(tree):
    argv = ["train", *RUN_FLAGS, "--epochs", "2", "--out", str(tree / "runs" / "finished")]
    before = snapshot(tree)
    plain = dreamlib_process(tree, *argv)
    assert plain.returncode == 2
    assert error_lines(plain.stderr) == [line for line in error_lines(plain.stderr)
                                         if line.startswith("error: ")]
    assert len(error_lines(plain.stderr)) == 1 and "fields differ: epochs" in plain.stderr
    assert "Traceback" not in plain.stderr

    debug = dreamlib_process(tree, *argv, "--debug")
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ConfigError" in debug.stderr and "fields differ: epochs" in debug.stderr
    assert snapshot(tree) == before


def test_a_real_process_refuses_a_corrupted_shipped_encoder(tree):
    corrupt_encoder(tree)
    before = snapshot(tree)
    result = dreamlib_process(tree, "train", *SLEEPNET_FLAGS, "--out", str(tree / "runs" / "new"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert "corrupted" in line and str(cached_encoder(tree)) in line
    assert snapshot(tree) == before and not (tree / "runs" / "new").exists()


# --------------------------------------------------------------------------- path confinement


@pytest.mark.parametrize("name", ["../escape", "../../etc/passwd", "/tmp/absolute", "a/b", "..",
                                  ".", "", "a\\b", "nul\0byte"])
def test_names_that_would_leave_their_folder_are_refused(name):
    with pytest.raises(ConfigError, match="not a plain file name"):
        safe_name(name, "table name")


def test_plain_names_pass():
    assert safe_name("table3_vision", "table name") == "table3_vision"
    assert safe_name("mae-small-0123abcd", "cached encoder name") == "mae-small-0123abcd"


def test_report_writers_cannot_write_outside_the_output_folder(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out = tmp_path / "out"
    out.mkdir()
    table = pd.DataFrame({"a": [1]})
    with pytest.raises(ConfigError, match=r"'\.\./\.\./escaped'"):
        report.save_table(table, "../../escaped", out, "title", [])
    fig = plt.figure()
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "escaped"))):
        report.save_figure(fig, str(tmp_path / "escaped"), out)
    plt.close(fig)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out"]
    assert [p.name for p in report.save_table(table, "fine", out, "title", [])] == ["fine.csv",
                                                                                  "fine.md"]


# --------------------------------------------------------------------------- issue 14, by hand


def test_a_failed_start_does_not_block_the_corrected_command(tree, capsys, one_thread,
                                                             monkeypatch):
    """A run that fails after claiming its folder but before its first epoch gives the folder
    back as it was: a new folder disappears, an existing empty one stays empty, so the
    corrected command is not refused with "holds a different run". The breaker passes every
    check made before the claim (a config and a weights file of a known name) and fails in
    the real load, after the claim."""
    from dreamlib import train

    encoder_without_weights(tree)
    (tree / "enc-no-weights" / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    claims = []
    claim = train.claim_folder
    monkeypatch.setattr(train, "claim_folder", lambda *a: claims.append(a) or claim(*a))
    (tree / "runs" / "empty").mkdir()
    for out in (tree / "runs" / "new", tree / "runs" / "empty"):
        wrong = ["train", *SLEEPNET_FLAGS, "--encoder", str(tree / "enc-no-weights"),
                 "--out", str(out)]
        assert main(wrong) != 0
        assert "pytorch_model.bin" in capsys.readouterr().err
        assert claims and claims[-1][0] == out  # the folder had been claimed
        assert not out.exists() or list(out.iterdir()) == []
    assert main(["train", *RUN_FLAGS, "--out", str(tree / "runs" / "empty")]) == 0
    assert (tree / "runs" / "empty" / METRICS_FILE).is_file()


def test_an_unwritable_pretrain_out_fails_before_any_work(tree, monkeypatch, capsys):
    from dreamlib import pretrain as pt

    def started(*args, **kwargs):
        raise AssertionError("pre-training started before its output was checked")

    monkeypatch.setattr(pt, "_fit", started)
    a_file(tree)
    before = snapshot(tree)
    for out, status in ((tree / "a-file.txt" / "weights", IO_ERROR),
                        (Path("/proc/dreamlib-weights"), IO_ERROR), (tree / "a-file.txt", 2),
                        (tree / "a-file.txt" / "deeper" / "weights", IO_ERROR)):
        assert main([*MAE, "--out", str(out)]) == status
        (line,) = error_lines(capsys.readouterr().err)
        assert str(out.parent if "deeper" in str(out) else out) in line, line
    assert snapshot(tree) == before


def test_running_out_of_memory_is_one_line_and_a_bug_stays_a_traceback(monkeypatch, capsys):
    from dreamlib import counting

    def allocate(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not "
                           "enough memory: you tried to allocate 4000000000000 bytes.")

    monkeypatch.setattr(counting, "count", allocate)
    assert main(["count"]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("error: out of memory") and "lower --batch-size" in line, line

    def bug(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(counting, "count", bug)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["count"])


def test_the_run_store_removes_only_its_own_temp_files(tmp_path):
    from dreamlib.runs import atomic_write_text, remove_temp_files

    atomic_write_text(tmp_path / "log.csv", "epoch\n")
    ours = tmp_path / ".checkpoint.pt.k3j_9x2a.tmp"  # what a killed atomic writer leaves
    theirs = [tmp_path / ".notes.tmp", tmp_path / ".draft.txt.tmp", tmp_path / ".log.csv.mine.tmp"]
    for path in [ours, *theirs]:
        path.write_text("x")
    assert remove_temp_files(tmp_path) == [ours.name]
    assert all(path.exists() for path in theirs)


def test_a_hub_encoder_without_network_fails_fast_naming_the_fix(tree, monkeypatch, capsys):
    import time

    from dreamlib import data

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "DREAMLIB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(data, "reachable", lambda *args, **kwargs: False)
    before = snapshot(tree)
    start = time.monotonic()
    rc = main(["train", *SLEEPNET_FLAGS, "--encoder", "facebook/vit-mae-large", "--out",
               str(tree / "runs" / "new")])
    (line,) = error_lines(capsys.readouterr().err)
    assert rc == 2 and time.monotonic() - start < 20
    assert line.startswith("error: no network") and "pass a local folder" in line, line
    assert snapshot(tree) == before and not (tree / "runs" / "new").exists()


NOTEBOOK_THAT_SLEEPS = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None,
         "outputs": [], "source": 'profile = "smoke"\noutput_dir = runs_dir = data_dir = None'},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import time\ntime.sleep(120)"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.mark.slow
def test_ctrl_c_during_reproduce_is_one_line_without_a_kernel_traceback(tmp_path):
    """Ctrl-C reaches the terminal's process group: our process, not the kernel (jupyter starts
    it in its own session). Shutting the busy kernel down must print nothing of its own."""
    import signal
    import time

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "00_sleeps.ipynb").write_text(json.dumps(NOTEBOOK_THAT_SLEEPS))
    out = tmp_path / "out"
    code = ("import sys; from pathlib import Path; import dreamlib.reproduce as r; "
            "r.NOTEBOOK_DIR = Path(sys.argv[1]); from dreamlib.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

    def as_in_a_terminal():
        # a foreground job gets SIGINT's default disposition; a test run started in the
        # background (`make test &`) passes SIGINT on as ignored, and Python then keeps ignoring
        # it: the batch ran its notebook to the end and this test timed out
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-c", code, str(notebooks), "reproduce", "--profile",
                             "smoke", "--output-dir", str(out)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=as_in_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "results" / "notebooks").glob(".00_sleeps.running-*")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        time.sleep(3)  # the kernel is inside the sleeping cell
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "ZMQError" not in stderr, stderr
    assert error_lines(stderr)[-1] == "interrupted", stderr
