"""dreamlib.data: every on-disk layout through tiny fixtures, the offline real sets, bad data,
subsets, fingerprints, augmentation, tokenisation. No network: online sources are never reached."""

from __future__ import annotations

import csv
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dreamlib import data
from dreamlib.data import (
    DATASETS,
    FORTUNE_CATEGORIES,
    DataError,
    TextSplit,
    VisionSplit,
    data_fingerprint,
    dataset_names,
    get_info,
    load_split,
    stratified_indices,
)

HAS_FASHION = (data.FASHION_MNIST_DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file()
HAS_FORTUNES = (data.FORTUNES_DEBIAN_DIR / "computers").is_file()


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No test may download: offline switches on, the data root an empty temporary folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_DATA", str(tmp_path / "data-root"))


# --------------------------------------------------------------------------------------------
# Fixture writers: tiny copies of each standard layout
# --------------------------------------------------------------------------------------------


def write_cifar(root: Path, sizes=(("train", 100), ("test", 100))) -> Path:
    """One image per class (labels 0, 7, 14, ... mod 100: every class, shuffled)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in sizes:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"fine_labels": [i % 100 for i in range(0, 7 * n, 7)],
                 b"coarse_labels": [0] * n}
        (folder / split).write_bytes(pickle.dumps(batch))
    return folder


def write_image(path: Path, size: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def write_tiny_imagenet(root: Path) -> Path:
    folder = root / "tiny-imagenet-200"
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("n02\nn01\n")  # not sorted: labels follow sorted wnids
    for wnid, count in (("n01", 3), ("n02", 2)):
        for i in range(count):
            write_image(folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", 64)
    write_image(folder / "val" / "images" / "val_0.JPEG", 64, mode="L")  # greyscale exists
    write_image(folder / "val" / "images" / "val_1.JPEG", 64)
    (folder / "val" / "val_annotations.txt").write_text(
        "val_0.JPEG\tn02\t0\t0\t10\t10\nval_1.JPEG\tn01\t1\t2\t30\t40\n")
    return folder


def write_imagenet(root: Path) -> Path:
    folder = root / "imagenet"
    for split, per_class in (("train", 2), ("val", 1)):
        for cls in ("n0001", "n0002", "n0003"):
            for i in range(per_class):
                write_image(folder / split / cls / f"{cls}_{i}.JPEG", 40 + 8 * i)
    return folder


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(rows)


def write_imdb(root: Path) -> Path:
    folder = root / "aclImdb"
    for split in ("train", "test"):
        for polarity, reviews in (("neg", ["Dull, slow.", "Awful."]), ("pos", ["Loved it!"])):
            (folder / split / polarity).mkdir(parents=True)
            for i, review in enumerate(reviews):
                (folder / split / polarity / f"{i}_3.txt").write_text(review, encoding="utf-8")
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    dims = np.asarray(array.shape, dtype=">u4").tobytes()
    return b"\x00\x00\x08" + bytes([array.ndim]) + dims + array.astype(np.uint8).tobytes()


def write_fashion(root: Path, gz: bool = True, n: int = 20) -> Path:
    """n training and max(10, n/2) test images, labels 0..9 in turn (every class present)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for prefix, count in (("train", n), ("t10k", max(10, n // 2))):
        arrays = {"images-idx3": rng.integers(0, 256, (count, 28, 28)),
                  "labels-idx1": np.arange(count) % 10}
        for kind, array in arrays.items():
            raw = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (root / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (root / name).write_bytes(raw)
    return root


FORTUNE_FIXTURE = {
    "computers": ["Unix is user-friendly.\n  It is picky about friends.", "Real programmers.",
                  "Shared quote."],
    "songs-poems": ["Row, row, row your boat.", "Shared quote."],
    "politics": ["Vote early.", "_\b_\b_\bAll politics is local."],
    "work": ["Work expands.", "Work expands."],
    "science": ["E = mc^2."],
    "men-women": ["Men and women.", ""],
}


def _filler(category: str, test: bool) -> str:
    """An entry of ``category`` that the content-hash split puts in test (or train)."""
    from dreamlib.data import in_hashed_test_split

    return next(text for k in range(1000)
                if in_hashed_test_split(text := f"{category} filler {k}.") == test)


def write_fortunes(root: Path) -> Path:
    """FORTUNE_FIXTURE, plus one filler per category and split so that every class has
    examples in both (an empty class is a data error)."""
    root.mkdir(parents=True, exist_ok=True)
    for category, entries in FORTUNE_FIXTURE.items():
        entries = entries + [_filler(category, True), _filler(category, False)]
        (root / category).write_text("\n%\n".join(entries) + "\n%\n", encoding="latin-1")
    return root


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_registry_names_tasks_and_documentation():
    paper = {"cifar100", "tiny-imagenet", "imagenet-1k", "ag_news", "imdb", "yelp_full"}
    offline = {"fashion-mnist", "digits", "fortunes", "wordnet-nouns"}
    assert paper | offline == set(dataset_names())
    assert set(dataset_names("text")) == {"ag_news", "imdb", "yelp_full", "fortunes",
                                          "wordnet-nouns"}
    for name, info in DATASETS.items():
        assert info.name == name and info.source and info.layout and info.num_classes >= 2
        assert (info.image_size is not None) == (info.task == "vision")
        assert name in data.__doc__


def test_unknown_dataset_and_split_name_the_value_and_choices():
    with pytest.raises(DataError, match=r"'cifar10'.*cifar100.*fortunes"):
        get_info("cifar10")
    with pytest.raises(DataError, match=r"'validation'.*train, test"):
        load_split("digits", "validation")
    with pytest.raises(DataError, match="audio"):
        dataset_names("audio")
    assert issubclass(DataError, ValueError)


# --------------------------------------------------------------------------------------------
# Every on-disk layout
# --------------------------------------------------------------------------------------------


def test_cifar100_pickles(tmp_path):
    write_cifar(tmp_path)
    train = load_split("cifar100", "train", data_dir=tmp_path)
    assert isinstance(train, VisionSplit) and (train.num_classes, train.channels) == (100, 3)
    assert len(train.dataset) == 100
    image, label = train.dataset[2]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 14
    # data_dir may also be the cifar-100-python folder itself
    test = load_split("cifar100", "test", data_dir=tmp_path / "cifar-100-python")
    assert [test.dataset[i][1] for i in range(6)] == [0, 7, 14, 21, 28, 35]


def test_cifar100_pixels_are_channel_major(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)])
    data = np.zeros((100, 3072), np.uint8)
    data[99] = row
    (folder / "test").write_bytes(pickle.dumps({b"data": data, b"fine_labels": list(range(100))}))
    image, label = load_split("cifar100", "test", data_dir=tmp_path).dataset[99]
    assert image[:, 5, 7].tolist() == [10, 20, 30] and label == 99


def test_tiny_imagenet_folder(tmp_path):
    write_tiny_imagenet(tmp_path)
    train = load_split("tiny-imagenet", "train", data_dir=tmp_path)
    assert train.num_classes == 2 and len(train.dataset) == 5
    assert sorted(train.dataset.labels) == [0, 0, 0, 1, 1]  # n01 -> 0 (3 images), n02 -> 1
    image, _ = train.dataset[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
    test = load_split("tiny-imagenet", "test", data_dir=tmp_path)
    grey, label = test.dataset[0]
    assert grey.shape == (3, 64, 64) and label == 1  # val_0 is n02; greyscale comes out RGB
    assert test.dataset[1][1] == 0


def test_imagenet_image_folder_is_lazy_and_keeps_native_size(tmp_path):
    write_imagenet(tmp_path)
    train = load_split("imagenet-1k", "train", data_dir=tmp_path)
    assert train.num_classes == 3 and len(train.dataset) == 6
    assert train.dataset.labels == [0, 0, 1, 1, 2, 2]
    assert {tuple(train.dataset[i][0].shape) for i in range(2)} == {(3, 40, 40), (3, 48, 48)}
    test = load_split("imagenet-1k", "test", data_dir=tmp_path)
    assert test.dataset.labels == [0, 1, 2]


def test_ag_news_csv_joins_title_and_description(tmp_path):
    rows = [["3", "Stocks rally", "Markets rose, again."], ["1", "Peace talks", "Held in \"Oslo\""],
            ["4", "New chip", "Faster, cheaper."], ["2", "Cup final", "A late goal."]]
    write_csv(tmp_path / "ag_news_csv" / "train.csv", rows)
    train = load_split("ag_news", "train", data_dir=tmp_path)
    assert isinstance(train, TextSplit) and train.num_classes == 4
    assert train.labels == [2, 0, 3, 1]
    assert train.texts[0] == "Stocks rally Markets rose, again."
    assert train.texts[1] == 'Peace talks Held in "Oslo"'


def test_yelp_csv(tmp_path):
    write_csv(tmp_path / "yelp_review_full_csv" / "test.csv",
              [["5", "Great tacos,\nfriendly staff."], ["1", "Cold food."], ["2", "Meh."],
               ["3", "Fine."], ["4", "Good."]])
    test = load_split("yelp_full", "test", data_dir=tmp_path)
    assert test.labels == [4, 0, 1, 2, 3] and test.num_classes == 5
    assert test.texts[0] == "Great tacos,\nfriendly staff."


def test_imdb_folder(tmp_path):
    write_imdb(tmp_path)
    train = load_split("imdb", "train", data_dir=tmp_path)
    assert train.labels == [0, 0, 1] and train.num_classes == 2
    assert train.texts == ["Dull, slow.", "Awful.", "Loved it!"]


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_files(tmp_path, gz):
    write_fashion(tmp_path, gz=gz)
    train = load_split("fashion-mnist", "train", data_dir=tmp_path)
    assert (train.num_classes, train.channels, len(train.dataset)) == (10, 1, 20)
    image, label = train.dataset[5]
    assert image.shape == (1, 28, 28) and image.dtype == torch.uint8 and label == 5
    assert len(load_split("fashion-mnist", "test", data_dir=tmp_path).dataset) == 10


def test_fortunes_fixture_cleans_dedups_and_drops_ambiguous(tmp_path):
    write_fortunes(tmp_path)
    train = load_split("fortunes", "train", data_dir=tmp_path)
    test = load_split("fortunes", "test", data_dir=tmp_path)
    texts = train.texts + test.texts
    labels = dict(zip(texts, train.labels + test.labels))
    assert train.num_classes == len(FORTUNE_CATEGORIES) == 6
    assert "Shared quote." not in labels  # filed under two categories
    assert texts.count("Work expands.") == 1 and "" not in labels
    assert labels["Unix is user-friendly. It is picky about friends."] == 0
    assert labels["All politics is local."] == 2  # overstrike underline removed
    assert len(texts) == 8 + 2 * 6 and not set(train.texts) & set(test.texts)  # + fillers


# --------------------------------------------------------------------------------------------
# Offline real datasets with their documented sizes
# --------------------------------------------------------------------------------------------


def test_digits_sizes_values_and_fixed_split():
    from sklearn.datasets import load_digits

    train, test = load_split("digits", "train"), load_split("digits", "test")
    assert (len(train.dataset), len(test.dataset)) == (1437, 360)
    info = get_info("digits")
    assert (info.train_size, info.test_size) == (1437, 360)
    assert (train.num_classes, train.channels) == (10, 1)
    images = torch.cat([train.dataset.images, test.dataset.images]).flatten(1)
    assert images.dtype == torch.uint8 and int(images.max()) == 255
    reference = np.rint(load_digits().data * 255 / 16).astype(np.uint8)
    assert sorted(map(bytes, images.numpy())) == sorted(map(bytes, reference))
    assert np.bincount(test.dataset.labels.numpy()).min() >= 35  # stratified: ~36 per class
    again = load_split("digits", "test", seed=123)  # the run seed does not move the split
    assert torch.equal(again.dataset.images, test.dataset.images)


@pytest.mark.skipif(not HAS_FORTUNES, reason="Debian package 'fortunes' is not installed")
def test_fortunes_documented_sizes():
    info = get_info("fortunes")
    train, test = load_split("fortunes", "train"), load_split("fortunes", "test")
    assert (len(train.texts), len(test.texts)) == (info.train_size, info.test_size) == (3420, 880)
    assert np.bincount(train.labels).tolist() == [819, 571, 579, 502, 497, 452]
    assert np.bincount(test.labels).tolist() == [231, 145, 123, 128, 126, 127]
    assert not set(train.texts) & set(test.texts)
    assert all(text and "\b" not in text and "  " not in text for text in train.texts)


@pytest.mark.skipif(not HAS_FASHION, reason="Debian package 'dataset-fashion-mnist' is absent")
def test_fashion_mnist_from_debian_package():
    test = load_split("fashion-mnist", "test")
    assert len(test.dataset) == get_info("fashion-mnist").test_size == 10_000
    assert test.dataset.images.shape == (10_000, 1, 28, 28)
    assert np.bincount(test.dataset.labels.numpy()).tolist() == [1000] * 10


# --------------------------------------------------------------------------------------------
# Bad data: one DataError naming the path and the expected layout
# --------------------------------------------------------------------------------------------


def assert_clear(error: pytest.ExceptionInfo, path, name: str) -> None:
    """A wrong layout (a file or folder missing): the path, the expected layout, --data-dir."""
    message = str(error.value)
    assert str(path) in message and get_info(name).layout in message
    assert "--data-dir" in message and "\n" not in message


def assert_damaged(error: pytest.ExceptionInfo, path, fix: str) -> None:
    """A damaged file (the layout is right): the file itself, then its own fix, and not the
    generic layout advice."""
    message = str(error.value)
    assert f"{path}: " in message and f"Fix: {fix}" in message, message
    assert "Expected layout" not in message and "holds that layout" not in message
    assert "\n" not in message


def test_missing_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as error:
        load_split("cifar100", "train", data_dir=missing)
    assert_clear(error, missing, "cifar100")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_empty_data_dir(tmp_path, name):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_split(name, "train", data_dir=tmp_path / "empty")
    assert_clear(error, tmp_path / "empty", name)


def test_csv_with_header(tmp_path):
    path = tmp_path / "ag_news_csv" / "test.csv"
    write_csv(path, [["class", "title", "description"], ["1", "a", "b"]])
    with pytest.raises(DataError, match="row 1 is a header") as error:
        load_split("ag_news", "test", data_dir=tmp_path)
    assert_damaged(error, path, "delete row 1")


def test_csv_class_out_of_range(tmp_path):
    path = tmp_path / "ag_news_csv" / "train.csv"
    write_csv(path, [["1", "a", "b"], ["5", "c", "d"]])
    with pytest.raises(DataError, match="row 2: expected 'class \\(1–4\\)") as error:
        load_split("ag_news", "train", data_dir=tmp_path)
    assert_damaged(error, path, "correct or delete row 2")


def test_wrong_layout_images_in_flat_folder(tmp_path):
    write_image(tmp_path / "imagenet" / "train" / "loose.JPEG", 8)
    with pytest.raises(DataError) as error:
        load_split("imagenet-1k", "train", data_dir=tmp_path)
    assert_clear(error, tmp_path / "imagenet" / "train", "imagenet-1k")


def test_corrupt_pickle(tmp_path):
    folder = write_cifar(tmp_path)
    (folder / "train").write_bytes(b"\x80\x04 not a pickle at all")
    with pytest.raises(DataError, match="not a readable pickle") as error:
        load_split("cifar100", "train", data_dir=tmp_path)
    assert_damaged(error, folder / "train", f"replace {folder / 'train'} with an intact copy")


def test_pickle_without_expected_keys(tmp_path):
    folder = write_cifar(tmp_path)
    (folder / "test").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))
    with pytest.raises(DataError, match="fine_labels") as error:
        load_split("cifar100", "test", data_dir=tmp_path)
    assert_damaged(error, folder / "test", f"replace {folder / 'test'} with an intact copy")


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx(tmp_path, gz):
    write_fashion(tmp_path, gz=gz)
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as error:
        load_split("fashion-mnist", "train", data_dir=tmp_path)
    assert_damaged(error, path, f"replace {path} with an intact copy")
    assert "apt-get install dataset-fashion-mnist" in str(error.value)


def test_idx_with_bad_magic(tmp_path):
    write_fashion(tmp_path, gz=False)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])  # float32 code, not ubyte
    with pytest.raises(DataError, match="not an idx file") as error:
        load_split("fashion-mnist", "test", data_dir=tmp_path)
    assert_damaged(error, path, f"replace {path} with an intact copy")


def test_tiny_imagenet_annotation_with_unknown_wnid(tmp_path):
    folder = write_tiny_imagenet(tmp_path)
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99\t0\t0\t1\t1\n")
    with pytest.raises(DataError, match="line 1: expected 'filename<TAB>wnid'") as error:
        load_split("tiny-imagenet", "test", data_dir=tmp_path)
    assert_damaged(error, folder / "val" / "val_annotations.txt", "correct or delete line 1")


def test_undecodable_image_fails_on_access_naming_the_file(tmp_path):
    folder = write_imagenet(tmp_path)
    broken = folder / "val" / "n0002" / "n0002_0.JPEG"
    broken.write_bytes(b"not a jpeg")
    test = load_split("imagenet-1k", "test", data_dir=tmp_path)
    with pytest.raises(DataError, match=str(broken)):
        test.dataset[1]


def test_hub_images_decode_lazily_to_uint8_rgb():
    datasets = pytest.importorskip("datasets")
    grey = Image.fromarray(np.full((5, 7), 9, dtype=np.uint8), "L")
    rgb = Image.fromarray(np.zeros((6, 6, 3), dtype=np.uint8), "RGB")
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    table = datasets.Dataset.from_dict({"image": [grey, rgb], "label": [3, 1]}, features=features)
    images = data.HubImages(table)
    image, label = images[0]
    assert image.shape == (3, 5, 7) and image.dtype == torch.uint8 and label == 3
    assert images.select([1]).labels == [1] and len(images.select([1])) == 1


def test_no_local_copy_and_offline_fails_fast_with_the_fix():
    for name in ("cifar100", "ag_news", "imagenet-1k"):
        with pytest.raises(DataError) as error:
            load_split(name, "test")
        assert_clear(error, data.default_data_root(), name)


# --------------------------------------------------------------------------------------------
# Subsets and fingerprints
# --------------------------------------------------------------------------------------------


def test_max_items_is_deterministic_stratified_and_seeded():
    full = load_split("digits", "train")
    first = load_split("digits", "train", max_items=100, seed=3)
    again = load_split("digits", "train", max_items=100, seed=3)
    other = load_split("digits", "train", max_items=100, seed=4)
    assert len(first.dataset) == 100 and torch.equal(first.dataset.images, again.dataset.images)
    assert not torch.equal(first.dataset.images, other.dataset.images)
    assert np.bincount(first.dataset.labels.numpy()).tolist() == [10] * 10
    assert len(load_split("digits", "train", max_items=10**6).dataset) == len(full.dataset)
    with pytest.raises(ValueError, match="max_items"):
        load_split("digits", "train", max_items=0)


def test_stratified_indices_keep_class_proportions():
    labels = [0] * 80 + [1] * 20
    chosen = stratified_indices(labels, 10, seed=0)
    assert np.bincount(np.asarray(labels)[chosen]).tolist() == [8, 2]
    assert list(chosen) == sorted(set(chosen))


def test_max_items_on_text_and_lazy_sets(tmp_path):
    write_imagenet(tmp_path)
    subset = load_split("imagenet-1k", "train", data_dir=tmp_path, max_items=3, seed=0)
    assert sorted(subset.dataset.labels) == [0, 1, 2] and subset.dataset[0][0].shape[0] == 3
    write_imdb(tmp_path)
    text = load_split("imdb", "test", data_dir=tmp_path, max_items=2, seed=0)
    assert len(text.texts) == 2 and set(text.labels) == {0, 1}


def test_data_fingerprint_tracks_arguments_and_files(tmp_path):
    write_csv(tmp_path / "ag_news_csv" / "train.csv", [["1", "a", "b"]])
    key = data_fingerprint("ag_news", "train", tmp_path, None, 0)
    assert key == data_fingerprint("ag_news", "train", tmp_path, None, 0) and len(key) == 16
    assert key != data_fingerprint("ag_news", "train", tmp_path, 10, 0)
    assert key != data_fingerprint("ag_news", "train", tmp_path, None, 1)
    write_csv(tmp_path / "ag_news_csv" / "train.csv", [["1", "a", "b"], ["2", "c", "d"]])
    assert key != data_fingerprint("ag_news", "train", tmp_path, None, 0)
    assert data_fingerprint("digits", "test") != data_fingerprint("digits", "train")
    with pytest.raises(DataError):
        data_fingerprint("ag_news", "train", tmp_path / "nowhere")
