"""dreamlib.references: the majority and TF-IDF reference rows, on a tiny data.noun fixture,
scikit-learn's digits and (when Debian wordnet-base is installed) the real wordnet-nouns."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dreamlib import data, references
from dreamlib.data import DataError, load_split
from dreamlib.references import majority_accuracy, tfidf_accuracy

HAS_WORDNET = (data.WORDNET_DEBIAN_DIR / "data.noun").is_file()
# one distinctive word per class (labels 0..9 = lexicographer files 06, 18, 20, 05, ...);
# every class needs examples in both splits (an empty class is a data error)
TOPICS = {6: "machine", 18: "person", 20: "plant", 5: "animal", 4: "action", 10: "message",
          26: "condition", 15: "region", 7: "quality", 27: "material"}
PER_CLASS = {6: 40, 18: 25, 20: 20, 5: 15, 4: 20, 10: 20, 26: 20, 15: 20, 7: 20, 27: 20}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_DATA", str(tmp_path / "data-root"))


def in_test(text: str) -> bool:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 5 == 0


def write_topics(root: Path) -> dict[str, int]:
    """A data.noun whose glosses name their class's topic word; returns text -> label."""
    lines = ["  1 licence header line  "]
    expected = {}
    offset = 1000
    for lex, count in PER_CLASS.items():
        for i in range(count):
            gloss = f"a kind of {TOPICS[lex]} numbered {i} in the list"
            lines.append(f"{offset:08d} {lex:02d} n 01 w{offset} 0 000 | {gloss}  ")
            expected[gloss] = data.WORDNET_NOUN_FILES.index(lex)
            offset += 100
    (root / "data.noun").write_text("\n".join(lines) + "\n", "latin-1")
    return expected


def test_majority_by_hand_count(tmp_path):
    expected = write_topics(tmp_path)
    train = Counter(label for text, label in expected.items() if not in_test(text))
    test = [label for text, label in expected.items() if in_test(text)]
    majority = train.most_common(1)[0][0]
    assert majority == 0  # the 40 'machine' glosses
    by_hand = sum(label == majority for label in test) / len(test)
    assert majority_accuracy("wordnet-nouns", tmp_path) == pytest.approx(by_hand)


def test_majority_on_digits_by_hand():
    train, test = load_split("digits", "train"), load_split("digits", "test")
    counts = np.bincount(train.dataset.labels.numpy())
    majority = int(np.argmax(counts))  # argmax: ties go to the smallest label, as documented
    by_hand = float(np.mean(test.dataset.labels.numpy() == majority))
    assert majority_accuracy("digits") == pytest.approx(by_hand)
    assert 0.09 < by_hand < 0.11  # 10 balanced classes


def test_tfidf_learns_the_fixture(tmp_path):
    write_topics(tmp_path)
    accuracy = tfidf_accuracy("wordnet-nouns", tmp_path)
    assert 0 <= accuracy <= 1
    assert accuracy == 1.0  # the topic word gives the class away
    assert accuracy > majority_accuracy("wordnet-nouns", tmp_path)


def test_tfidf_rejects_vision():
    with pytest.raises(DataError, match="text dataset.*'digits' is a vision"):
        tfidf_accuracy("digits")


def test_test_split_is_seed_zero_whatever_the_seed(tmp_path, monkeypatch):
    write_topics(tmp_path)
    calls = []

    def spy(name, split, data_dir=None, max_items=None, seed=0):
        calls.append((split, max_items, seed))
        return load_split(name, split, data_dir, max_items, seed=seed)

    monkeypatch.setattr(references, "load_split", spy)
    tfidf_accuracy("wordnet-nouns", tmp_path, max_train=60, max_test=12, seed=5)
    majority_accuracy("wordnet-nouns", tmp_path, max_train=60, max_test=12, seed=3)
    assert calls == [("train", 60, 5), ("test", 12, 0), ("train", 60, 3), ("test", 12, 0)]


def test_missing_data_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="apt-get install wordnet-base"):
        majority_accuracy("wordnet-nouns", tmp_path / "empty")


@pytest.mark.slow  # ~15 s: two reads of data.noun and a 10-class logistic regression
@pytest.mark.skipif(not HAS_WORDNET, reason="Debian package 'wordnet-base' is not installed")
def test_tfidf_beats_majority_on_wordnet_nouns():
    majority = majority_accuracy("wordnet-nouns")
    assert majority == pytest.approx(2378 / 12494)  # artifact, documented in dreamlib.data
    subset = tfidf_accuracy("wordnet-nouns", max_train=3000, max_test=2000)
    assert subset > majority + 0.4  # 0.72 from 6 % of the training split (0.88 from all)
