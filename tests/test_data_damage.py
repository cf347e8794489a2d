"""Damaged data files a user actually meets, through load_split and the command line: each is
one DataError naming the file, its 1-based row or line, the problem and its own fix (the
generic "pass --data-dir ... that layout" advice only when a file or folder is missing); a
byte-order mark is accepted; classes are named as the files number them; a subset that leaves
a class without examples is refused. Good files load exactly as before."""

from __future__ import annotations

import codecs
import re
import shutil

import numpy as np
import pytest

from dreamlib.data import (
    DataError,
    data_fingerprint,
    get_info,
    load_split,
    stratified_indices,
)
from test_data import (  # the layout writers of the data tests
    assert_clear,
    assert_damaged,
    write_csv,
    write_fortunes,
    write_imagenet,
    write_imdb,
)

LAYOUT_ADVICE = "holds that layout"  # the tail of the generic --data-dir advice
AG_ROWS = [["3", "Stocks rally", "Markets rose, again."], ["1", "Peace talks", "In Oslo."],
           ["4", "New chip", "Faster, cheaper."], ["2", "Cup final", "A late goal."]]
YELP_ROWS = [["5", "Great tacos,\nfriendly staff."], ["1", "Cold food."], ["2", "Meh."],
             ["3", "Fine."], ["4", "Good."]]
CSV_SETS = {"ag_news": ("ag_news_csv", AG_ROWS), "yelp_full": ("yelp_review_full_csv", YELP_ROWS)}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No test may download; no dry run is in force."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_DATA", str(tmp_path / "data-root"))
    monkeypatch.delenv("DREAMLIB_DRY_RUN", raising=False)


def write_set(root, name: str, split: str, rows=None):
    """``root/<folder>/<split>.csv`` of a CSV dataset (its good rows unless `rows`)."""
    folder, good = CSV_SETS[name]
    path = root / folder / f"{split}.csv"
    write_csv(path, good if rows is None else rows)
    return path


# --------------------------------------------------------------------------------------------
# The file, not the folder; the layout advice only when the layout is wrong
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CSV_SETS))
def test_a_malformed_row_names_the_file_and_row_not_the_layout(tmp_path, name):
    folder, good = CSV_SETS[name]
    path = write_set(tmp_path, name, "test", good + [["9", "a nine", "x"]] + good)
    row = len(good) + 1
    with pytest.raises(DataError, match=rf"row {row}( \(line \d+\))?: expected 'class") \
            as error:
        load_split(name, "test", data_dir=tmp_path)
    assert_damaged(error, path, f"correct or delete row {row}")
    assert LAYOUT_ADVICE not in str(error.value) and "--data-dir" not in str(error.value)


def test_a_row_after_a_multiline_record_names_its_line_too(tmp_path):
    path = write_set(tmp_path, "yelp_full", "train", YELP_ROWS + [["six", "x"]])
    with pytest.raises(DataError, match=r"row 6 \(line 7\): expected") as error:
        load_split("yelp_full", "train", data_dir=tmp_path)
    assert_damaged(error, path, "correct or delete row 6")


@pytest.mark.parametrize("name", sorted(CSV_SETS))
def test_a_missing_file_still_gets_the_layout_advice(tmp_path, name):
    write_set(tmp_path, name, "train")  # the test split's file is missing
    with pytest.raises(DataError) as error:
        load_split(name, "test", data_dir=tmp_path)
    missing = tmp_path / CSV_SETS[name][0] / "test.csv"
    assert_clear(error, missing, name)
    assert f"{missing} not found" in str(error.value) and LAYOUT_ADVICE in str(error.value)


def test_an_empty_csv_names_the_file(tmp_path):
    path = write_set(tmp_path, "ag_news", "train", [])
    with pytest.raises(DataError, match="holds no rows") as error:
        load_split("ag_news", "train", data_dir=tmp_path)
    assert_damaged(error, path, "replace it with the complete file")


def test_a_digits_value_that_is_no_number_names_the_1_based_line(tmp_path):
    import gzip

    path = tmp_path / "digits.csv.gz"
    row = ",".join(["0"] * 64)
    path.write_bytes(gzip.compress(f"{row},1\n{row[:-1]}x,2\n".encode()))
    with pytest.raises(DataError, match="line 2, column 64: 'x' is not a number") as error:
        load_split("digits", "train", data_dir=tmp_path)
    assert_damaged(error, path, f"replace {path} with an intact copy")


# --------------------------------------------------------------------------------------------
# Not UTF-8: the byte, the line, "save the file as UTF-8"
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CSV_SETS))
def test_a_latin1_byte_in_a_csv_names_the_byte_line_and_fix(tmp_path, name):
    path = write_set(tmp_path, name, "train")
    lines = path.read_bytes().split(b"\n")
    line = len(lines) - 2  # the last row's line (0-based; the file ends with a newline)
    lines[line] = lines[line].replace(b'"', b'"Caf\xe9 ', 1)[:-1] + b'"'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as error:
        load_split(name, "train", data_dir=tmp_path)
    assert type(error.value) is DataError  # not a bare UnicodeDecodeError
    assert_damaged(error, path, "save the file as UTF-8")
    assert f"byte 0xe9 at line {line + 1} is not UTF-8" in str(error.value)


def test_a_latin1_byte_deep_in_a_big_csv_is_found(tmp_path):
    """The decoder reads ahead in blocks: the line comes from the file, not the block."""
    rows = [[str(i % 4 + 1), f"title {i}", "description " * 20] for i in range(2000)]
    path = write_set(tmp_path, "ag_news", "train", rows)
    data = path.read_bytes()
    at = data.index(b"title 1234")
    path.write_bytes(data[:at] + b"\xe9" + data[at + 1:])
    with pytest.raises(DataError, match="byte 0xe9 at line 1235 is not UTF-8") as error:
        load_split("ag_news", "train", data_dir=tmp_path)
    assert_damaged(error, path, "save the file as UTF-8")


def test_a_latin1_review_of_imdb_names_its_file(tmp_path):
    folder = write_imdb(tmp_path)
    review = folder / "train" / "pos" / "0_3.txt"
    review.write_bytes(b"Loved it!\nThe caf\xe9 scene most of all.")
    with pytest.raises(DataError, match="byte 0xe9 at line 2 is not UTF-8") as error:
        load_split("imdb", "train", data_dir=tmp_path)
    assert_damaged(error, review, "save the file as UTF-8")


# --------------------------------------------------------------------------------------------
# A byte-order mark is accepted
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CSV_SETS))
@pytest.mark.parametrize("quoted", [True, False])
def test_a_bom_at_the_start_is_accepted_and_changes_nothing(tmp_path, name, quoted):
    plain, marked = tmp_path / "plain", tmp_path / "bom"
    for root in (plain, marked):
        path = write_set(root, name, "test")
        if not quoted:  # the first field unquoted: the mark then sits right before its digit
            path.write_bytes(re.sub(rb'^"(\d)"', rb"\1", path.read_bytes()))
    path = marked / CSV_SETS[name][0] / "test.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    want, got = load_split(name, "test", data_dir=plain), load_split(name, "test", data_dir=marked)
    assert (got.texts, got.labels, got.num_classes) == (want.texts, want.labels, want.num_classes)
    assert "\ufeff" not in "".join(got.texts)


# --------------------------------------------------------------------------------------------
# Classes named as the files number them
# --------------------------------------------------------------------------------------------


def test_a_test_file_of_one_class_names_the_missing_ones_in_its_numbering(tmp_path):
    write_set(tmp_path, "ag_news", "train")
    path = write_set(tmp_path, "ag_news", "test", [["1", "a", "b"], ["1", "c", "d"]])
    with pytest.raises(DataError) as error:
        load_split("ag_news", "test", data_dir=tmp_path)
    message = str(error.value)
    assert f"{path}: classes 2, 3, 4 have no examples (numbered 1–4 as in the file)" in message
    assert "class 1" not in message and "classes 1" not in message  # 1 is the one present
    assert "Fix: use a complete copy of the dataset" in message and "\n" not in message


def test_yelp_without_five_stars_names_class_5(tmp_path):
    path = write_set(tmp_path, "yelp_full", "test", YELP_ROWS[1:])
    with pytest.raises(DataError, match=re.escape(f"{path}: class 5 has no examples")):
        load_split("yelp_full", "test", data_dir=tmp_path)


def test_folder_layouts_name_the_class_folder(tmp_path):
    folder = write_imdb(tmp_path)
    for review in (folder / "test" / "pos").iterdir():
        review.unlink()
    with pytest.raises(DataError, match=re.escape(f"{folder / 'test' / 'pos'}: class 1 (pos) "
                                                  "has no examples")):
        load_split("imdb", "test", data_dir=tmp_path)
    images = write_imagenet(tmp_path)
    shutil.rmtree(images / "val" / "n0002")
    with pytest.raises(DataError, match=re.escape(f"{images / 'val' / 'n0002'}: class 1 (n0002) "
                                                  "has no examples")):
        load_split("imagenet-1k", "test", data_dir=tmp_path)


def test_fortunes_name_the_category_file(tmp_path):
    from dreamlib.data import in_hashed_test_split

    root = write_fortunes(tmp_path)
    entries = (root / "science").read_text("latin-1").split("\n%\n")
    (root / "science").write_text("\n%\n".join(e for e in entries if not in_hashed_test_split(
        " ".join(e.split()))), encoding="latin-1")
    with pytest.raises(DataError, match=re.escape(f"{root / 'science'}: class 4 (science) has "
                                                  "no examples")):
        load_split("fortunes", "test", data_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# A subset that leaves a class without examples is refused
# --------------------------------------------------------------------------------------------


def test_max_test_below_the_number_of_classes_is_refused(tmp_path):
    write_set(tmp_path, "ag_news", "test", AG_ROWS * 5)
    with pytest.raises(DataError) as error:
        load_split("ag_news", "test", data_dir=tmp_path, max_items=2)
    message = str(error.value)
    assert "max_items/--max-test 2 leaves 2 of the 4 classes without examples" in message
    assert "numbered 1–4 as in the file" in message and "Fix: pass --max-test 4 or more" in message
    assert "--max-train" not in message and "\n" not in message
    assert len(load_split("ag_news", "test", data_dir=tmp_path, max_items=4).labels) == 4


def test_max_train_names_the_pretrain_flag_too():
    with pytest.raises(DataError) as error:
        load_split("digits", "train", max_items=5)
    message = str(error.value)
    assert "max_items/--max-train (pretrain: --max-items) 5 leaves 5 of the 10 classes" in message
    assert "Fix: pass --max-train 10 or more (pretrain: --max-items 10 or more)" in message


def test_a_stratified_subset_of_enough_items_that_still_misses_a_class_is_refused(tmp_path):
    """Big classes beside a small one: the smallest subset holding every class is larger than
    the number of classes, and the error names exactly that size."""
    rows = [["1", f"a{i}", "x"] for i in range(60)] + [["2", f"b{i}", "x"] for i in range(60)] \
        + [["3", f"c{i}", "x"] for i in range(60)] + [["4", "d", "x"]]
    write_set(tmp_path, "ag_news", "train", rows)
    labels = np.asarray([int(row[0]) - 1 for row in rows])
    need = next(n for n in range(1, len(rows)) if len(set(labels[stratified_indices(
        labels, n, seed=0)])) == 4)
    assert need > 4
    with pytest.raises(DataError, match=rf"leaves 1 of the 4 classes without examples \(class "
                                        rf"4, .*Fix: pass --max-train {need} or more"):
        load_split("ag_news", "train", data_dir=tmp_path, max_items=need - 1)
    subset = load_split("ag_news", "train", data_dir=tmp_path, max_items=need)
    assert sorted(set(subset.labels)) == [0, 1, 2, 3]


def test_good_subsets_are_unchanged():
    full = load_split("digits", "train")
    for max_items, seed in ((10, 0), (100, 3), (10**6, 1)):
        subset = load_split("digits", "train", max_items=max_items, seed=seed)
        chosen = stratified_indices(full.dataset.labels, max_items, seed)
        assert np.array_equal(subset.dataset.labels.numpy(), full.dataset.labels.numpy()[chosen])
        assert np.array_equal(subset.dataset.images.numpy(), full.dataset.images.numpy()[chosen])


def test_a_dry_run_may_train_on_a_handful(monkeypatch):
    """A dry run (dreamlib.dryrun) trains on 4 examples on purpose and reports no accuracy."""
    from dreamlib.runtime import DRY_RUN_ENV

    monkeypatch.setenv(DRY_RUN_ENV, '{"max_train": 4}')
    assert len(load_split("digits", "train", max_items=4).dataset) == 4


def test_the_fingerprint_of_a_good_file_is_what_it_was(tmp_path):
    """data_fingerprint hashes names and sizes (and READER_VERSION): unchanged by the fixes."""
    import hashlib
    import json

    from dreamlib.data import READER_VERSION

    assert READER_VERSION == 1
    path = write_set(tmp_path, "ag_news", "train")
    source = [["train.csv", path.stat().st_size]]
    payload = json.dumps(["ag_news", "train", 4, 0, 1, source]).encode()
    assert data_fingerprint("ag_news", "train", tmp_path, 4, 0) == \
        hashlib.sha256(payload).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Through the command line: one error line, exit status 2
# --------------------------------------------------------------------------------------------

RUN = ["train", "--profile", "smoke", "--task", "text", "--model", "baseline", "--width", "8",
       "--epochs", "1", "--batch-size", "4", "--quiet", "--dataset", "ag_news"]


@pytest.mark.parametrize("case", ["latin-1 byte", "max-test too small"])
def test_the_cli_prints_one_error_line_and_exits_2(tmp_path, capsys, case, one_thread):
    from dreamlib.cli import main

    data = tmp_path / "data"
    write_set(data, "ag_news", "train", AG_ROWS * 4)
    path = write_set(data, "ag_news", "test", AG_ROWS * 2)
    flags = ["--max-train", "16", "--max-test", "8"]
    if case == "latin-1 byte":
        path.write_bytes(path.read_bytes().replace(b"Oslo", b"Osl\xe9", 1))
        culprit, fix = f"{path}: byte 0xe9 at line 2 is not UTF-8", "save the file as UTF-8"
    else:
        flags = ["--max-train", "16", "--max-test", "3"]
        culprit, fix = "max_items/--max-test 3", "pass --max-test 4 or more"
    out = tmp_path / "run"
    rc = main([*RUN, *flags, "--data-dir", str(data), "--out", str(out)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert culprit in lines[0] and fix in lines[0] and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    assert get_info("ag_news").layout not in lines[0]
