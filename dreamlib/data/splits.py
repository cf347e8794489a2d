"""Loading a split: the local copy or the online source, checked, then a stratified subset.

:func:`load_split` is the one entry point every model, reference and notebook reads data
through: it finds the data (:mod:`dreamlib.data.sources`), reads it
(:mod:`dreamlib.data.readers`), rejects a split with an empty class, and keeps the
class-stratified subset of :func:`stratified_indices` (same seed, same examples, in the
reader's order), refusing a subset that would leave a class without examples. Classes are
named in errors as the files name them (AG News' 1–4, imdb's neg/pos folders, ...). :func:`data_fingerprint` is the cache key of such a load, from file names and
sizes alone. The run store's results depend on both staying exactly as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .readers import FORMATS, READER_VERSION, Split, TextSplit, VisionSplit
from .registry import SPLITS, DataError, DatasetInfo, get_info
from .sources import fetch_online, locate, online_source, read_local

# The test subset (max_items of the test split) is drawn with this seed whatever the run's seed:
# every model and seed is scored on the same examples, so comparisons are paired.
TEST_SUBSET_SEED = 0
# dreamlib.runtime.DRY_RUN_ENV (not imported: runtime imports the models). A dry run trains on
# a handful of examples on purpose and reports no accuracy, so its subsets may miss classes.
_DRY_RUN_ENV = "DREAMLIB_DRY_RUN"
# The flag that sets max_items, per split (the test split is only ever subset by --max-test).
_SUBSET_FLAGS = {"train": ("--max-train", " (pretrain: --max-items)"), "test": ("--max-test", "")}


# --------------------------------------------------------------------------------------------
# Subsets
# --------------------------------------------------------------------------------------------


def stratified_indices(labels: Sequence[int], max_items: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of `max_items` (all when None/larger).

    Each example is ranked by its position within its class in a seeded shuffle, scaled by the
    class size; taking the lowest ranks gives every class its proportional share, and the same
    seed gives the same subset.
    """
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be a positive number of examples, got {max_items}")
    labels = np.asarray(labels)
    if max_items is None or max_items >= len(labels):
        return np.arange(len(labels))
    return np.sort(_ranked(labels, seed)[:max_items])


def _ranked(labels: np.ndarray, seed: int) -> np.ndarray:
    """Every index in the order :func:`stratified_indices` takes them (its subset of n is the
    first n of this order, sorted)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    _, class_of, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    by_class = np.argsort(class_of, kind="stable")
    within = np.empty(len(order))
    within[by_class] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    rank = (within + 0.5) / counts[class_of]
    return order[np.argsort(rank, kind="stable")]


def _covering_size(labels: np.ndarray, seed: int) -> int:
    """The smallest max_items whose stratified subset (this seed) holds every class present."""
    _, first = np.unique(labels[_ranked(labels, seed)], return_index=True)
    return int(first.max()) + 1


# --------------------------------------------------------------------------------------------
# Loading a split, and its fingerprint
# --------------------------------------------------------------------------------------------


def _take(loaded: Split, indices: np.ndarray) -> Split:
    """The examples of `loaded` at `indices`."""
    if isinstance(loaded, TextSplit):
        return TextSplit([loaded.texts[i] for i in indices], [loaded.labels[i] for i in indices],
                         loaded.num_classes)
    return VisionSplit(loaded.dataset.select(indices), loaded.num_classes, loaded.channels)


def _labels_of(loaded: Split) -> Sequence[int]:
    """The labels of a loaded split, whichever kind it is."""
    return loaded.labels if isinstance(loaded, TextSplit) else loaded.dataset.labels


def _class_names(info: DatasetInfo, root: Path | None, split: str,
                 num_classes: int) -> tuple[list[str], list[str], str]:
    """Each label's name as the files give it, the file or folder holding its examples, and a
    note on the numbering ("numbered 1–4 as in the file" for AG News; "" for named classes)."""
    fmt = FORMATS[info.name]
    if root is None:  # the online source numbers its labels from 0
        return ([str(k) for k in range(num_classes)], ["its online source"] * num_classes,
                f"labels 0–{num_classes - 1} of the online source")
    try:
        names, where = zip(*fmt.classes(root, split, num_classes))
    except (OSError, ValueError):  # the reader just read them; a race is no reason to fail
        return [str(k) for k in range(num_classes)], [str(root)] * num_classes, ""
    note = "" if fmt.first_class is None else \
        f"numbered {fmt.first_class}–{fmt.first_class + num_classes - 1} as in the file"
    return list(names), [str(w) for w in where], note


def _shown(names: list[str], classes: list[int]) -> str:
    """'class 3' or 'classes 2, 3, 4' (at most 10 named)."""
    shown = ", ".join(names[k] for k in classes[:10])
    shown += f" and {len(classes) - 10} more" if len(classes) > 10 else ""
    return f"class {shown}" if len(classes) == 1 else f"classes {shown}"


def _empty_class_error(info: DatasetInfo, split: str, root: Path | None, num_classes: int,
                       empty: list[int]) -> DataError:
    """A split whose files hold no example of some classes: an incomplete copy."""
    names, where, note = _class_names(info, root, split, num_classes)
    files = ", ".join(dict.fromkeys(where[k] for k in empty))
    have = "has" if len(empty) == 1 else "have"
    fix = ("use a complete copy of the dataset (every class needs examples in both splits): "
           f"put it back, or pass --data-dir DIR (data_dir=DIR) where DIR holds one"
           f"{FORMATS[info.name].fix}")
    note = f" ({note})" if note else ""
    return DataError(f"dataset {info.name!r} ({split}): {files}: {_shown(names, empty)} {have} "
                     f"no examples{note}. Fix: {fix}")


def _check_subset(info: DatasetInfo, split: str, root: Path | None, labels: np.ndarray,
                  num_classes: int, chosen: np.ndarray, max_items: int, seed: int) -> None:
    """Refuse a subset that leaves a class without examples: a model trained or scored on it
    reports an accuracy that means nothing."""
    missing = sorted(set(range(num_classes)) - set(np.unique(labels[chosen]).tolist()))
    if not missing or os.environ.get(_DRY_RUN_ENV, "").strip():
        return
    flag, pretrain = _SUBSET_FLAGS[split]
    need = max(_covering_size(labels, seed), num_classes)
    names, _, note = _class_names(info, root, split, num_classes)
    pretrain_fix = f" (pretrain: --max-items {need} or more)" if pretrain else ""
    note = f", {note}" if note else ""
    raise DataError(
        f"dataset {info.name!r} ({split}): max_items/{flag}{pretrain} {max_items} leaves "
        f"{len(missing)} of the {num_classes} classes without examples ({_shown(names, missing)}"
        f"{note}): its accuracy would mean nothing. Fix: pass {flag} {need} or more"
        f"{pretrain_fix}, or leave it out to use the whole split")


def _check_split(info: DatasetInfo, split: str) -> None:
    """Only the standard train/test splits exist (validation sets serve as test)."""
    if split not in SPLITS:
        raise DataError(f"dataset {info.name!r}: unknown split {split!r}; choose one of: "
                        f"{', '.join(SPLITS)}")


def load_split(name: str, split: str, data_dir: str | os.PathLike | None = None,
               max_items: int | None = None, seed: int = 0,
               every_class: bool = True) -> Split:
    """Load one split ("train" or "test") of a registered dataset.

    `data_dir` holds the dataset's standard layout (``DATASETS[name].layout``); without it the
    default places are tried, then the online source. `max_items` keeps a class-stratified
    subset chosen by `seed` (same seed, same subset); one that leaves a class without examples
    is refused unless ``every_class`` is off (a few examples to look at, not to train or score
    on). Small image sets come back in memory, big ones decode lazily; every failure is a
    :class:`DataError`.
    """
    info = get_info(name)
    _check_split(info, split)
    stratified_indices([], max_items, seed)  # reject a bad max_items before any loading
    root = locate(info, split, data_dir)
    loaded = read_local(info, root, split) if root is not None else fetch_online(info, split)
    # a class without examples (an empty aclImdb/train/pos/) is broken data, whatever the reader:
    # training on the rest would report an accuracy that means nothing
    labels = np.asarray(_labels_of(loaded), dtype=np.int64)
    present = set(np.unique(labels).tolist())
    empty = [k for k in range(loaded.num_classes) if k not in present]
    if empty:
        raise _empty_class_error(info, split, root, loaded.num_classes, empty)
    chosen = stratified_indices(_labels_of(loaded), max_items, seed)
    if every_class and max_items is not None and len(chosen) < len(labels):
        _check_subset(info, split, root, labels, loaded.num_classes, chosen, max_items, seed)
    return _take(loaded, chosen)


def _listing(paths: list[Path], root: Path) -> list[tuple[str, int]]:
    """(relative name, size) of every file under `paths`: cheap, no contents read."""
    files = []
    for path in paths:
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [(str(p.relative_to(root)), p.stat().st_size) for p in found]
    return files


def data_fingerprint(name: str, split: str, data_dir: str | os.PathLike | None = None,
                     max_items: int | None = None, seed: int = 0) -> str:
    """A short hash of what load_split(...) with these arguments would load (a cache key).

    It covers the arguments, the reader version and the names and sizes of the source files
    (or the online source's name), so changed data or a changed reader gives a new key.
    """
    info = get_info(name)
    _check_split(info, split)
    root = locate(info, split, data_dir)
    if root is None:
        online = online_source(name)
        source: object = online[0] if online else "missing"
    else:
        source = _listing(FORMATS[name].needs(root, split), root)
    payload = json.dumps([name, split, max_items, seed, READER_VERSION, source])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
