"""Loading a split: the local copy or the online source, checked, then a stratified subset.

:func:`load_split` is the one entry point every model, reference and notebook reads data
through: it finds the data (:mod:`dreamlib.data.sources`), reads it
(:mod:`dreamlib.data.readers`), rejects a split with an empty class, and keeps the
class-stratified subset of :func:`stratified_indices` (same seed, same examples, in the
reader's order). :func:`data_fingerprint` is the cache key of such a load, from file names and
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
from .registry import FORTUNE_CATEGORIES, SPLITS, DataError, DatasetInfo, get_info
from .sources import data_error, fetch_online, locate, online_source, read_local

# The test subset (max_items of the test split) is drawn with this seed whatever the run's seed:
# every model and seed is scored on the same examples, so comparisons are paired.
TEST_SUBSET_SEED = 0


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
    order = np.random.default_rng(seed).permutation(len(labels))
    _, class_of, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    by_class = np.argsort(class_of, kind="stable")
    within = np.empty(len(order))
    within[by_class] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    rank = (within + 0.5) / counts[class_of]
    chosen = order[np.argsort(rank, kind="stable")[:max_items]]
    return np.sort(chosen)


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


def _check_split(info: DatasetInfo, split: str) -> None:
    """Only the standard train/test splits exist (validation sets serve as test)."""
    if split not in SPLITS:
        raise DataError(f"dataset {info.name!r}: unknown split {split!r}; choose one of: "
                        f"{', '.join(SPLITS)}")


def load_split(name: str, split: str, data_dir: str | os.PathLike | None = None,
               max_items: int | None = None, seed: int = 0) -> Split:
    """Load one split ("train" or "test") of a registered dataset.

    `data_dir` holds the dataset's standard layout (``DATASETS[name].layout``); without it the
    default places are tried, then the online source. `max_items` keeps a class-stratified
    subset chosen by `seed` (same seed, same subset). Small image sets come back in memory,
    big ones decode lazily; every failure is a :class:`DataError`.
    """
    info = get_info(name)
    _check_split(info, split)
    stratified_indices([], max_items, seed)  # reject a bad max_items before any loading
    root = locate(info, split, data_dir)
    loaded = read_local(info, root, split) if root is not None else fetch_online(info, split)
    # a class without examples (an empty aclImdb/train/pos/) is broken data, whatever the reader:
    # training on the rest would report an accuracy that means nothing
    present = set(np.unique(np.asarray(_labels_of(loaded), dtype=np.int64)).tolist())
    empty = [k for k in range(loaded.num_classes) if k not in present]
    if empty:
        names = {"imdb": ("neg", "pos"), "fortunes": FORTUNE_CATEGORIES}.get(info.name)
        shown = ", ".join(f"{k} ({names[k]})" if names else str(k) for k in empty[:10])
        shown += f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        where = root if root is not None else "its online source"
        what = f"class {shown} has" if len(empty) == 1 else f"classes {shown} have"
        raise data_error(info, split, f"{what} no examples (of classes "
                                      f"0..{loaded.num_classes - 1}) in {where}")
    return _take(loaded, stratified_indices(_labels_of(loaded), max_items, seed))


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
