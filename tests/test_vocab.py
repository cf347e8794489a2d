"""The trimmed WordPiece vocabulary of ``mlm-small`` (:mod:`dreamlib.vocab`)."""

from __future__ import annotations

import pytest

from dreamlib.encoders import load_tokenizer
from dreamlib.vocab import kept_tokens, token_counts, trimmed_tokenizer

TEXTS = ["a large dog barks at the postman", "a dog and a cat", "the cat sleeps",
         "dog dog dog cat"]


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer("minilm")


def test_kept_tokens_are_the_frequent_ones_and_the_special_ones_in_minilm_order(minilm):
    counts = token_counts(TEXTS, minilm, seq_len=16)
    tokens = kept_tokens(minilm, counts, min_count=2)
    assert set(tokens) == {*minilm.all_special_tokens, "a", "dog", "cat", "the"}
    ids = minilm.convert_tokens_to_ids(tokens)
    assert ids == sorted(ids) and tokens[0] == minilm.pad_token


def test_a_trimmed_tokenizer_splits_text_as_minilm_does_over_fewer_tokens(minilm):
    tokens = kept_tokens(minilm, token_counts(TEXTS, minilm, 16), min_count=1)
    small = trimmed_tokenizer(minilm, tokens)
    assert len(small) == len(tokens) < len(minilm)
    assert small.pad_token_id == 0
    for text in TEXTS:  # every token kept: the same pieces, renumbered
        assert small.tokenize(text) == minilm.tokenize(text)
        assert small.convert_ids_to_tokens(small(text)["input_ids"]) == \
            minilm.convert_ids_to_tokens(minilm(text)["input_ids"])
    # a word whose MiniLM token was dropped is split into pieces the vocabulary keeps, not [UNK]
    assert minilm.tokenize("sleeps") == ["sleeps"]
    fewer = trimmed_tokenizer(minilm, [t for t in tokens if t != "sleeps"] + ["sleep", "##s"])
    assert fewer.tokenize("The cat SLEEPS") == ["the", "cat", "sleep", "##s"]


def test_a_trimmed_tokenizer_survives_save_and_load(minilm, tmp_path):
    import transformers

    small = trimmed_tokenizer(minilm, kept_tokens(minilm, token_counts(TEXTS, minilm, 16), 1))
    small.save_pretrained(tmp_path)
    again = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert again(TEXTS)["input_ids"] == small(TEXTS)["input_ids"]
    assert str(tmp_path) not in "".join(p.read_text() for p in tmp_path.iterdir())


def test_the_special_tokens_cannot_be_trimmed_away(minilm):
    with pytest.raises(ValueError, match="special tokens"):
        trimmed_tokenizer(minilm, ["a", "dog"])
