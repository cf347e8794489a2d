"""Readers of each dataset's standard on-disk format, and the loaded splits they return.

One reader per format (CIFAR-100 pickles, Tiny-ImageNet and ImageNet folders, the Zhang et al.
CSVs, aclImdb, idx files, digits.csv.gz, fortune files, WordNet's data.noun). A reader takes
the dataset's root folder and a split name and returns a :class:`VisionSplit` or
:class:`TextSplit`, always in the same example order. A damaged file raises :class:`BadFile`
(the file, the 1-based line or row, the problem and its fix); a missing file or folder raises
the plain :class:`OSError`; :func:`dreamlib.data.sources.read_local` turns either into one
:class:`DataError`. :data:`FORMATS` ties each registered dataset to its folder, the paths a
split needs, its reader and how its files name their classes. Finding the folder (and the online fallbacks) is :mod:`dreamlib.data.sources`' job.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import pickle
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from .registry import (
    FORTUNE_CATEGORIES,
    WORDNET_DEBIAN_DIR,
    WORDNET_NOUN_FILES,
    WORDNET_NOUN_NAMES,
    DataError,
    DatasetInfo,
)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
IMDB_CLASSES = ("neg", "pos")  # label = index
# Bump when a reader changes what it returns, so caches keyed by data_fingerprint go stale.
READER_VERSION = 1


# --------------------------------------------------------------------------------------------
# Loaded splits and the datasets that hold their images
# --------------------------------------------------------------------------------------------


class TensorImages(Dataset):
    """Images held in memory as one uint8 N×C×H×W tensor: for sets that fit (≤ ~200 MB)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def select(self, indices: Sequence[int]) -> TensorImages:
        """The examples at `indices`, as a new dataset."""
        picked = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return TensorImages(self.images[picked], self.labels[picked])


class ImageFiles(Dataset):
    """Images decoded lazily from files with PIL: for sets too big for memory (ImageNet)."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int]):
        self.paths = list(paths)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                return TF.pil_to_tensor(image.convert("RGB")), self.labels[index]
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot decode image {path}: {exc}. Fix: replace or delete that file"
            ) from None

    def select(self, indices: Sequence[int]) -> ImageFiles:
        """The examples at `indices`, as a new dataset."""
        return ImageFiles([self.paths[i] for i in indices], [self.labels[i] for i in indices])


class HubImages(Dataset):
    """A Hugging Face image table (columns ``image``, ``label``) decoded lazily to uint8."""

    def __init__(self, table):
        self.table = table
        self.labels = list(table["label"])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.table[int(index)]
        return TF.pil_to_tensor(row["image"].convert("RGB")), int(row["label"])

    def select(self, indices: Sequence[int]) -> HubImages:
        """The examples at `indices`, as a new dataset."""
        return HubImages(self.table.select([int(i) for i in indices]))


@dataclass
class VisionSplit:
    """One split of an image dataset; items are (uint8 C×H×W tensor, int label)."""

    dataset: Dataset
    num_classes: int
    channels: int


@dataclass
class TextSplit:
    """One split of a text-classification dataset."""

    texts: list[str]
    labels: list[int]
    num_classes: int


Split = VisionSplit | TextSplit


# --------------------------------------------------------------------------------------------
# Readers of the standard on-disk formats. A damaged file raises BadFile; sources.read_local
# turns it (or an OSError of a missing file) into one DataError.
# --------------------------------------------------------------------------------------------


class BadFile(ValueError):
    """A data file that is there but damaged or malformed.

    `problem` names the 1-based line or row where there is one; `fix` is what to do (None: get
    an intact copy of the file); `layout` marks a file that shows the folder is not the
    expected layout (a header row, images outside class folders), so the message adds the
    layout and the generic ``--data-dir`` advice.
    """

    def __init__(self, path: Path, problem: str, fix: str | None = None, layout: bool = False):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem, self.fix, self.layout = path, problem, fix, layout


def _not_utf8(path: Path) -> BadFile:
    """The first byte of `path` that is not UTF-8, with its 1-based line (the file is read
    again line by line: a UTF-8 sequence never holds a newline byte, so lines decode alone)."""
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return BadFile(path, f"byte 0x{line[exc.start]:02x} at line {line_no} is not "
                                     "UTF-8", fix="save the file as UTF-8")
    return BadFile(path, "is not UTF-8", fix="save the file as UTF-8")


def _read_utf8(path: Path) -> str:
    """`path` as UTF-8 text (newlines translated, as Path.read_text); a byte that is not UTF-8
    is a BadFile naming it and its line."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _check_labels(labels: np.ndarray, num_classes: int, path: Path) -> None:
    """Labels outside 0..num_classes-1 mean a wrong or corrupt file, not a smaller dataset."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise BadFile(path, f"labels must lie in 0..{num_classes - 1}, "
                            f"found {labels.min()}..{labels.max()}")


def _read_cifar100(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """CIFAR-100 pickle: b'data' N×3072 uint8 (R, G, B planes of 32×32), b'fine_labels'."""
    path = root / split
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the official format; trusted files only
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - unpickling garbage raises nearly any type
        raise BadFile(path, f"not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"fine_labels" not in batch:
        raise BadFile(path, "not a CIFAR-100 pickle (needs a dict with b'data' and "
                            "b'fine_labels')")
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"fine_labels"], dtype=np.int64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadFile(path, f"b'data' or b'fine_labels' is not an array of integers "
                            f"({exc})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.ndim != 1 \
            or len(data) != len(labels):
        raise BadFile(path, f"b'data' has shape {data.shape} for {len(labels)} labels, "
                            "expected N×3072")
    _check_labels(labels, info.num_classes, path)
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return VisionSplit(TensorImages(images, torch.from_numpy(labels)), info.num_classes, 3)


def _image_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted so every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_tiny_imagenet(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """Tiny-ImageNet folder; labels index the sorted wnids so train and val agree."""
    wnids = _tiny_imagenet_wnids(root)
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    if split == "train":
        items = [(path, label_of[wnid]) for wnid in wnids
                 for path in _image_files(root / "train" / wnid / "images")]
    else:
        items = _tiny_imagenet_val(root, label_of)
    if not items:
        where = root / "train" if split == "train" else root / "val" / "val_annotations.txt"
        raise BadFile(where, f"no images found for split {split!r}", layout=True)
    paths, labels = zip(*items)
    return VisionSplit(ImageFiles(paths, labels), len(wnids), 3)


def _tiny_imagenet_wnids(root: Path) -> list[str]:
    """The sorted wnids of wnids.txt (label = index)."""
    return sorted(_read_utf8(root / "wnids.txt").split())


def _tiny_imagenet_val(root: Path, label_of: dict[str, int]) -> list[tuple[Path, int]]:
    """The val split, labelled by val_annotations.txt (filename TAB wnid TAB box...)."""
    annotations = root / "val" / "val_annotations.txt"
    items = []
    for line_no, line in enumerate(_read_utf8(annotations).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in label_of:
            raise BadFile(annotations, f"line {line_no}: expected 'filename<TAB>wnid' with a "
                                       f"wnid of wnids.txt, got {line[:80]!r}",
                          fix=f"correct or delete line {line_no}, or replace the file with an "
                              "intact copy")
        path = root / "val" / "images" / fields[0]
        if not path.is_file():
            raise BadFile(annotations, f"line {line_no}: image {path} does not exist",
                          fix=f"put {path} back, or delete line {line_no}")
        items.append((path, label_of[fields[1]]))
    return items


def _image_folder_classes(root: Path, split: str) -> tuple[Path, Path, list[str]]:
    """(the split's folder, the folder defining the classes, the sorted class names)."""
    folder = root / ("train" if split == "train" else "val")
    class_root = root / "train" if (root / "train").is_dir() else folder
    return folder, class_root, sorted(p.name for p in class_root.iterdir() if p.is_dir())


def _read_image_folder(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """ImageFolder: one sub-folder per class; classes are those of train/ so splits agree."""
    folder, class_root, classes = _image_folder_classes(root, split)
    label_of = {name: label for label, name in enumerate(classes)}
    items = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if class_dir.name not in label_of:
            raise BadFile(class_dir, f"class folder not present in {class_root}",
                          fix=f"delete {class_dir}, or add its class to {class_root}")
        items += [(path, label_of[class_dir.name]) for path in _image_files(class_dir)]
    if not items:
        raise BadFile(folder, "no <class>/*.JPEG images found", layout=True)
    paths, labels = zip(*items)
    return VisionSplit(ImageFiles(paths, labels), len(classes), 3)


def _header_row(row: list[str]) -> bool:
    """Whether a malformed first row looks like a header (names, not a class number)."""
    return bool(row) and not row[0].strip().lstrip("+-").isdigit()


def _read_class_csv(path: Path, num_classes: int) -> TextSplit:
    """Zhang et al. (2015) CSV: no header, class 1..K first, text fields after (joined by ' ').

    Read as UTF-8; a byte-order mark at the start is accepted (and dropped).
    """
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        try:
            for row_no, row in enumerate(rows, start=1):
                if len(row) < 2 or not row[0].strip().isdecimal() \
                        or not 1 <= int(row[0]) <= num_classes:
                    expected = f"'class (1–{num_classes}),text...'"
                    if row_no == 1 and _header_row(row):
                        raise BadFile(path, f"row 1 is a header ({str(row)[:80]}), but the file "
                                            f"has none: every row is {expected}",
                                      fix="delete row 1")
                    line = f" (line {rows.line_num})" if rows.line_num != row_no else ""
                    raise BadFile(path, f"row {row_no}{line}: expected {expected}, got "
                                        f"{str(row)[:80]}",
                                  fix=f"correct or delete row {row_no}, or replace the file "
                                      "with an intact copy")
                labels.append(int(row[0]) - 1)
                texts.append(" ".join(row[1:]))
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except csv.Error as exc:
            raise BadFile(path, f"line {rows.line_num}: not valid CSV ({exc})",
                          fix="correct that line, or replace the file with an intact copy") \
                from None
    if not texts:
        raise BadFile(path, "holds no rows", fix="replace it with the complete file")
    return TextSplit(texts, labels, num_classes)


def _read_ag_news(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """AG News: text = title + ' ' + description, label = class - 1."""
    return _read_class_csv(root / f"{split}.csv", info.num_classes)


def _read_yelp(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """Yelp review full: label = stars - 1."""
    return _read_class_csv(root / f"{split}.csv", info.num_classes)


def _read_imdb(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """aclImdb: neg = 0, pos = 1; files in sorted order."""
    texts, labels = [], []
    for label, polarity in enumerate(IMDB_CLASSES):
        for path in sorted((root / split / polarity).glob("*.txt")):
            texts.append(_read_utf8(path))
            labels.append(label)
    if not texts:
        raise BadFile(root / split, "no {neg,pos}/*.txt reviews found", layout=True)
    return TextSplit(texts, labels, info.num_classes)


def _idx_path(root: Path, stem: str) -> Path:
    """An idx file may be stored gzipped (as distributed) or not."""
    plain = root / stem
    return plain if plain.is_file() else root / f"{stem}.gz"


def _read_idx(path: Path) -> np.ndarray:
    """An idx array of unsigned bytes (magic 0x0000 08 <ndim>, big-endian dims, data)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadFile(path, f"truncated or corrupt gzip file ({exc})") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise BadFile(path, f"not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = header + int(np.prod(dims))
    if len(dims) != ndim or len(raw) != expected:
        raise BadFile(path, f"truncated or corrupt idx file ({len(raw)} bytes, header "
                            f"promises {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _fashion_labels(root: Path, split: str) -> Path:
    """The labels file of a Fashion-MNIST split."""
    return _idx_path(root, f"{'train' if split == 'train' else 't10k'}-labels-idx1-ubyte")


def _read_fashion_mnist(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """The original idx files: images N×28×28, labels N."""
    prefix = "train" if split == "train" else "t10k"
    images_path = _idx_path(root, f"{prefix}-images-idx3-ubyte")
    images = _read_idx(images_path)
    labels_path = _fashion_labels(root, split)
    labels = _read_idx(labels_path).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise BadFile(images_path, f"images {images.shape} do not match the labels "
                                   f"{labels.shape} of {labels_path}",
                      fix="replace both files with intact copies of the same release")
    _check_labels(labels, info.num_classes, labels_path)
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    return VisionSplit(TensorImages(tensor, torch.from_numpy(labels)), info.num_classes, 1)


def _loadtxt_problem(message: str) -> str:
    """numpy.loadtxt's complaint, with its 0-based row as the file's 1-based line."""
    found = re.search(r"could not convert string (.*) to \w+ at row (\d+), column (\d+)",
                      message)
    if found is None:
        return f"not a CSV of numbers ({message.rstrip('.')})"
    value, row, column = found.groups()
    return f"line {int(row) + 1}, column {column}: {value} is not a number"


def _read_digits(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """scikit-learn's digits.csv.gz; the split is fixed (seed 0) so every run tests alike."""
    # deferred: importing sklearn.model_selection adds ~1.5 s to every start-up, and only
    # digits needs it
    from sklearn.model_selection import train_test_split

    path = root / "digits.csv.gz"
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadFile(path, f"truncated or corrupt gzip file ({exc})") from None
    except UnicodeDecodeError as exc:
        raise BadFile(path, f"not a gzipped CSV of numbers ({exc})") from None
    except ValueError as exc:  # a value that is not a number, or rows of different lengths
        raise BadFile(path, _loadtxt_problem(str(exc))) from None
    if table.shape[1] != 65:
        raise BadFile(path, f"rows have {table.shape[1]} values, expected 64 pixels + label")
    labels = table[:, 64].astype(np.int64)
    _check_labels(labels, info.num_classes, path)
    pixels = np.rint(table[:, :64] * (255 / 16)).clip(0, 255).astype(np.uint8)
    try:
        train, test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels,
                                       random_state=0)
    except ValueError as exc:  # too few rows (or a class of one) to split 80/20 stratified
        raise BadFile(path, f"too few rows to split 80/20 by class ({exc})") from None
    chosen = np.sort(train if split == "train" else test)
    images = torch.from_numpy(pixels[chosen].reshape(-1, 1, 8, 8))
    return VisionSplit(TensorImages(images, torch.from_numpy(labels[chosen])), 10, 1)


def _clean_fortune(entry: str) -> str:
    """Drop terminal overstrikes ('_' backspace 'X' underlines X) and collapse whitespace."""
    previous = None
    while previous != entry:
        previous, entry = entry, re.sub(r"[^\x08]\x08", "", entry)
    return " ".join(entry.replace("\x08", "").split())


def _fortune_entries(path: Path) -> list[str]:
    """The non-empty cleaned entries of one fortune file ('%' lines separate entries)."""
    text = path.read_text("latin-1")
    entries = (_clean_fortune(e) for e in re.split(r"^%$", text, flags=re.MULTILINE))
    return [entry for entry in entries if entry]


def in_hashed_test_split(text: str) -> bool:
    """Whether `text` is in the test split of fortunes and wordnet-nouns: the fixed 80/20 split
    by content hash (first 8 bytes of its SHA-256, big-endian, 0 mod 5), so it needs no seed
    and duplicates stay together."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 5 == 0


def _read_fortunes(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """One class per category file; entries filed under several categories are dropped."""
    owners: dict[str, set[int]] = {}
    for label, category in enumerate(FORTUNE_CATEGORIES):
        for entry in _fortune_entries(root / category):
            owners.setdefault(entry, set()).add(label)
    want_test = split == "test"
    kept = [(text, labels.pop()) for text, labels in owners.items()
            if len(labels) == 1 and in_hashed_test_split(text) == want_test]
    if not kept:
        raise BadFile(root, f"no fortune entries found for split {split!r} in "
                            f"{', '.join(FORTUNE_CATEGORIES)}", layout=True)
    texts, labels = zip(*kept)
    return TextSplit(list(texts), list(labels), len(FORTUNE_CATEGORIES))


def _wordnet_glosses(path: Path) -> list[tuple[int, str]]:
    """(lexicographer file number, gloss) of every synset line of a WordNet data file.

    Lines starting with a space are the licence header. A synset line is 'offset lex_filenum
    ss_type ... | gloss'; the gloss comes back whitespace-collapsed ('' when there is none).
    """
    glosses = []
    for line_no, line in enumerate(path.read_text("latin-1").splitlines(), start=1):
        if not line.strip() or line.startswith(" "):
            continue
        fields = line.split(" ", 2)
        if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise BadFile(path, f"line {line_no}: expected 'offset lex_filenum ss_type ... | "
                                f"gloss', got {line[:80]!r}")
        glosses.append((int(fields[1]), " ".join(line.partition(" | ")[2].split())))
    return glosses


def _read_wordnet_nouns(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """Glosses of the WORDNET_NOUN_FILES classes; empty, duplicate and ambiguous ones dropped."""
    label_of = {number: label for label, number in enumerate(WORDNET_NOUN_FILES)}
    owners: dict[str, set[int]] = {}
    for number, gloss in _wordnet_glosses(root / "data.noun"):
        if gloss and number in label_of:
            owners.setdefault(gloss, set()).add(label_of[number])
    want_test = split == "test"
    kept = [(text, labels.pop()) for text, labels in owners.items()
            if len(labels) == 1 and in_hashed_test_split(text) == want_test]
    if not kept:
        raise BadFile(root / "data.noun", f"no noun glosses of lexicographer files "
                                          f"{WORDNET_NOUN_FILES} found for split {split!r}")
    texts, labels = zip(*kept)
    return TextSplit(list(texts), list(labels), len(WORDNET_NOUN_FILES))


# --------------------------------------------------------------------------------------------
# Each dataset's format: where it sits under data_dir, what a split needs, which reader
# --------------------------------------------------------------------------------------------


# How the files name each class (label k), and which file or folder holds its examples: used
# only to word errors (a class without examples) in the files' own terms.
ClassSources = Callable[[Path, str, int], list[tuple[str, Path]]]


def _numbered(first: int, where: Callable[[Path, str], Path]) -> ClassSources:
    """Classes numbered first, first + 1, ... in one file (label k is number first + k)."""
    return lambda r, s, n: [(str(first + k), where(r, s)) for k in range(n)]


def _named(names: Callable[[Path, str], Sequence[str]],
           where: Callable[[Path, str, str], Path]) -> ClassSources:
    """Classes with names in the files (label k is the k-th name): shown as 'k (name)'."""
    return lambda r, s, n: [(f"{k} ({name})", where(r, s, name))
                            for k, name in enumerate(names(r, s))]


def _tiny_imagenet_where(root: Path, split: str, wnid: str) -> Path:
    return root / "train" / wnid / "images" if split == "train" else \
        root / "val" / "val_annotations.txt"


def _imagenet_where(root: Path, split: str, name: str) -> Path:
    return root / ("train" if split == "train" else "val") / name


@dataclass(frozen=True)
class Format:
    """How one dataset sits on disk: its folder under data_dir, what a split needs, its reader,
    and how its files name their classes."""

    folder: str  # folder expected inside data_dir ("" = data_dir itself)
    needs: Callable[[Path, str], list[Path]]  # paths (under the folder) a split reads
    read: Callable[[Path, str, DatasetInfo], Split]
    classes: ClassSources  # (name in the files, file or folder of its examples) per label
    first_class: int | None = 0  # the number of label 0 in the files; None: classes are named
    fix: str = ""  # how else to get the data, appended to the error message


FORMATS: dict[str, Format] = {
    "cifar100": Format("cifar-100-python", lambda r, s: [r / s], _read_cifar100,
                       _numbered(0, lambda r, s: r / s)),
    "tiny-imagenet": Format(
        "tiny-imagenet-200",
        lambda r, s: [r / "wnids.txt", r / "train"] if s == "train"
        else [r / "wnids.txt", r / "val" / "images", r / "val" / "val_annotations.txt"],
        _read_tiny_imagenet,
        _named(lambda r, s: _tiny_imagenet_wnids(r), _tiny_imagenet_where), None,
    ),
    "imagenet-1k": Format("imagenet", lambda r, s: [r / ("train" if s == "train" else "val")],
                          _read_image_folder,
                          _named(lambda r, s: _image_folder_classes(r, s)[2], _imagenet_where),
                          None),
    "ag_news": Format("ag_news_csv", lambda r, s: [r / f"{s}.csv"], _read_ag_news,
                      _numbered(1, lambda r, s: r / f"{s}.csv"), 1),
    "imdb": Format("aclImdb", lambda r, s: [r / s / "neg", r / s / "pos"], _read_imdb,
                   _named(lambda r, s: IMDB_CLASSES, lambda r, s, name: r / s / name), None),
    "yelp_full": Format("yelp_review_full_csv", lambda r, s: [r / f"{s}.csv"], _read_yelp,
                        _numbered(1, lambda r, s: r / f"{s}.csv"), 1),
    "fashion-mnist": Format(
        "",
        lambda r, s: [_idx_path(r, f"{'train' if s == 'train' else 't10k'}-{kind}-ubyte")
                      for kind in ("images-idx3", "labels-idx1")],
        _read_fashion_mnist,
        _numbered(0, _fashion_labels),
        fix="; or `apt-get install dataset-fashion-mnist`",
    ),
    "digits": Format("", lambda r, s: [r / "digits.csv.gz"], _read_digits,
                     _numbered(0, lambda r, s: r / "digits.csv.gz")),
    "fortunes": Format("", lambda r, s: [r / c for c in FORTUNE_CATEGORIES], _read_fortunes,
                       _named(lambda r, s: FORTUNE_CATEGORIES, lambda r, s, name: r / name),
                       None, fix="; or `apt-get install fortunes`"),
    "wordnet-nouns": Format(
        "", lambda r, s: [r / "data.noun"], _read_wordnet_nouns,
        _named(lambda r, s: [f"lexicographer file {n:02d}, noun.{name}"
                             for n, name in zip(WORDNET_NOUN_FILES, WORDNET_NOUN_NAMES)],
               lambda r, s, name: r / "data.noun"), None,
        fix=f"; or `apt-get install wordnet-base` (installs {WORDNET_DEBIAN_DIR / 'data.noun'})",
    ),
}
