"""The wordnet-nouns dataset: the data.noun reader on a tiny fixture, its fixed split, the
missing-package error, and (with Debian wordnet-base installed) the documented sizes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dreamlib import data
from dreamlib.data import (
    WORDNET_NOUN_FILES,
    WORDNET_NOUN_NAMES,
    DataError,
    TextSplit,
    data_fingerprint,
    get_info,
    load_split,
)

HAS_WORDNET = (data.WORDNET_DEBIAN_DIR / "data.noun").is_file()

HEADER = [
    "  1 This software and database is being provided to you, the LICENSEE, by  ",
    "  2 Princeton University under the following license.  By obtaining, using  ",
    "  3 | not a gloss: licence lines start with a space  ",
    "  4   ",
]
# (lexicographer file, gloss) in file order; labels: 06 -> 0, 18 -> 1, 20 -> 2, 05 -> 3
SYNSETS = [
    (6, "a device for making holes; \"he used a drill\""),
    (6, "a  vehicle   with four wheels"),  # whitespace collapses
    (18, "a person who writes books"),
    (18, "a person who teaches"),
    (20, "a tall perennial woody plant"),
    (20, "a small flowering plant of meadows"),
    (5, "a domesticated carnivorous mammal"),
    (5, "a feathered egg-laying vertebrate"),
    (6, "a tool for cutting wood"),
    (18, "a person who sails ships"),
    (20, "one species"),  # duplicate within one class: kept once
    (20, "one species"),
    (6, "something shared"),  # filed under two of the classes: ambiguous, dropped
    (18, "something shared"),
    (9, "a concept of the mind"),  # lexicographer file 09 is not one of the 10 classes
    (9, "a tool for cutting wood"),  # also under 09: not ambiguous within the 10 classes
    (27, "   "),  # empty gloss: dropped
    (27, "a hard crystalline substance"),
    (7, "the quality of being heavy"),
    (4, "the act of running quickly"),
    (10, "a written message"),
    (26, "the state of being asleep"),
    (15, "a region of a country"),
    (6, "a container for liquids"),
    (18, "a person who cooks"),
    (5, "a large striped cat"),
]
EXPECTED = {  # text -> label, after cleaning, dedup and dropping
    "a device for making holes; \"he used a drill\"": 0,
    "a vehicle with four wheels": 0,
    "a person who writes books": 1,
    "a person who teaches": 1,
    "a tall perennial woody plant": 2,
    "a small flowering plant of meadows": 2,
    "a domesticated carnivorous mammal": 3,
    "a feathered egg-laying vertebrate": 3,
    "a tool for cutting wood": 0,
    "a person who sails ships": 1,
    "one species": 2,
    "a hard crystalline substance": 9,
    "the quality of being heavy": 8,
    "the act of running quickly": 4,
    "a written message": 5,
    "the state of being asleep": 6,
    "a region of a country": 7,
    "a container for liquids": 0,
    "a person who cooks": 1,
    "a large striped cat": 3,
}


def in_test(text: str) -> bool:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 5 == 0


def _filler(lex: int, test: bool) -> str:
    return next(g for k in range(1000) if in_test(g := f"filler {lex} {k}") == test)


# one gloss per class and split, so that every class has examples in both (an empty class is
# a data error)
FILLERS = [(lex, _filler(lex, test)) for lex in data.WORDNET_NOUN_FILES for test in (True, False)]
SYNSETS += FILLERS
EXPECTED.update({gloss: data.WORDNET_NOUN_FILES.index(lex) for lex, gloss in FILLERS})


def synset_line(offset: int, lex: int, word: str, gloss: str) -> str:
    """A data.noun line in the real format: offset lex_filenum ss_type w_cnt word lex_id
    p_cnt pointers... | gloss (two trailing spaces, as in WordNet 3.0)."""
    return (f"{offset:08d} {lex:02d} n 01 {word} 0 002 @ 00001740 n 0000 ~ 00002137 n 0000 "
            f"| {gloss}  ")


def write_wordnet(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = HEADER + [synset_line(1740 + 100 * i, lex, f"word_{i}", gloss)
                      for i, (lex, gloss) in enumerate(SYNSETS)]
    path = root / "data.noun"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_DATA", str(tmp_path / "data-root"))


def test_registry_entry():
    info = get_info("wordnet-nouns")
    assert info.task == "text" and info.num_classes == 10 == len(WORDNET_NOUN_FILES)
    assert len(WORDNET_NOUN_NAMES) == 10 and len(set(WORDNET_NOUN_FILES)) == 10
    assert all(3 <= number <= 28 for number in WORDNET_NOUN_FILES)  # the noun files
    assert "data.noun" in info.layout and "wordnet-nouns" in data.__doc__
    assert (info.train_size, info.test_size) == (50_169, 12_494)


def test_fixture_cleans_dedups_and_drops_ambiguous(tmp_path):
    write_wordnet(tmp_path)
    train = load_split("wordnet-nouns", "train", data_dir=tmp_path)
    test = load_split("wordnet-nouns", "test", data_dir=tmp_path)
    assert isinstance(train, TextSplit) and train.num_classes == test.num_classes == 10
    got = dict(zip(train.texts + test.texts, train.labels + test.labels))
    assert got == EXPECTED
    assert len(train.texts) + len(test.texts) == len(EXPECTED)  # no duplicate kept twice
    assert "something shared" not in got and "a concept of the mind" not in got
    assert not any("licence" in text or "Princeton" in text for text in got)


def test_split_is_fixed_by_content_hash_and_disjoint(tmp_path):
    write_wordnet(tmp_path)
    train = load_split("wordnet-nouns", "train", data_dir=tmp_path)
    test = load_split("wordnet-nouns", "test", data_dir=tmp_path)
    assert train.texts and test.texts  # the fixture has both
    assert not set(train.texts) & set(test.texts)
    assert all(in_test(text) for text in test.texts)
    assert not any(in_test(text) for text in train.texts)
    for seed in (0, 7):  # deterministic, whatever the seed
        again = load_split("wordnet-nouns", "train", data_dir=tmp_path, seed=seed)
        assert (again.texts, again.labels) == (train.texts, train.labels)
    assert data_fingerprint("wordnet-nouns", "train", tmp_path) == \
        data_fingerprint("wordnet-nouns", "train", tmp_path)


def test_malformed_synset_line_names_the_line(tmp_path):
    path = write_wordnet(tmp_path)
    path.write_text(path.read_text("latin-1") + "garbage without fields\n", "latin-1")
    line = len(HEADER) + len(SYNSETS) + 1
    with pytest.raises(DataError, match=f"line {line}:") as error:
        load_split("wordnet-nouns", "train", data_dir=tmp_path)
    assert str(path) in str(error.value)


def test_missing_file_names_path_and_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_split("wordnet-nouns", "test", data_dir=tmp_path / "empty")
    message = str(error.value)
    assert str(tmp_path / "empty" / "data.noun") in message
    assert "apt-get install wordnet-base" in message and "\n" not in message


def test_missing_package_names_default_path_and_fix(tmp_path, monkeypatch):
    nowhere = tmp_path / "usr-share-wordnet"
    monkeypatch.setattr(data.sources, "WORDNET_DEBIAN_DIR", nowhere)  # where locate looks
    with pytest.raises(DataError) as error:
        load_split("wordnet-nouns", "train")
    message = str(error.value)
    assert str(nowhere) in message and "data.noun" in message
    assert "apt-get install wordnet-base" in message and "\n" not in message


@pytest.mark.skipif(not HAS_WORDNET, reason="Debian package 'wordnet-base' is not installed")
def test_real_file_documented_sizes():
    info = get_info("wordnet-nouns")
    train, test = load_split("wordnet-nouns", "train"), load_split("wordnet-nouns", "test")
    assert (len(train.texts), len(test.texts)) == (info.train_size, info.test_size)
    assert np.bincount(train.labels).tolist() == [9192, 8895, 6379, 5856, 5264, 4449, 2838,
                                                  2545, 2426, 2325]
    assert np.bincount(test.labels).tolist() == [2378, 2152, 1532, 1414, 1384, 1081, 703, 611,
                                                 607, 632]
    assert round(100 * max(np.bincount(test.labels)) / len(test.labels), 1) == 19.0
    assert not set(train.texts) & set(test.texts)
    assert all(text and "  " not in text for text in train.texts + test.texts)
