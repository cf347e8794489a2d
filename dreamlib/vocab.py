"""A WordPiece vocabulary trimmed to the tokens a corpus uses (``mlm-small``'s).

Why: at the ``default`` profile's sizes a text connection is mostly vocabulary-wide work.
A_in projects every position onto the vocabulary and takes its argmax, and DreamNet's masked
LM projects onto it again; with MiniLM's 30,522 WordPiece tokens these ops were 93-97 % of a
SleepNet-2 / DreamNet-2 step (benchmarks/README.md), although most of those tokens never
occur in WordNet's noun definitions. ``mlm-small`` therefore keeps only the tokens its
pre-training corpus (the training part of the training split) uses at least
:data:`MIN_COUNT` times, in MiniLM's order, plus the special tokens; the chain's embedding,
A_in and the decoder all work over that vocabulary.

The tokenizer stays a real WordPiece tokenizer (MiniLM's normalisation and pre-tokenisation)
over the kept tokens, so a word whose MiniLM pieces were dropped is split into smaller kept
pieces rather than replaced by [UNK]. On the test split of ``wordnet-nouns`` (whole texts),
3.1 % of MiniLM's tokens are not kept and get split so; 23 of 215,929 tokens become [UNK]. The
tokenizer is saved with the weights (``tokenizer.json``) and read back with
``AutoTokenizer.from_pretrained``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import transformers

#: A token is kept when the pre-training corpus holds it at least this often.
MIN_COUNT = 5
#: The size of ``mlm-small``'s vocabulary made by that rule (its architecture needs it before
#: any file is read; tests/test_shipped.py checks it against the shipped tokenizer).
MLM_SMALL_VOCAB = 11713


def token_counts(texts: Sequence[str], tokenizer, seq_len: int) -> Counter:
    """How often each token id of ``tokenizer`` occurs in ``texts``, each truncated as a run
    reads it (``seq_len`` tokens with the special tokens)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=seq_len)["input_ids"]
    return Counter(token for row in encoded for token in row)


def kept_tokens(tokenizer, counts: Counter, min_count: int = MIN_COUNT) -> list[str]:
    """The tokens seen at least ``min_count`` times, and every special token, in the order of
    ``tokenizer``'s own ids (so [PAD] keeps id 0)."""
    kept = set(tokenizer.all_special_ids) | {i for i, n in counts.items() if n >= min_count}
    return tokenizer.convert_ids_to_tokens(sorted(kept))


def trimmed_tokenizer(tokenizer, tokens: Iterable[str]):
    """A WordPiece tokenizer over ``tokens`` that normalises and splits text as ``tokenizer``
    (a BERT WordPiece tokenizer) does."""
    settings = tokenizer.init_kwargs
    vocab = {token: i for i, token in enumerate(tokens)}
    missing = [t for t in tokenizer.all_special_tokens if t not in vocab]
    if missing:
        raise ValueError(f"a trimmed vocabulary must keep the special tokens; {missing} missing")
    return transformers.BertTokenizer(
        vocab=vocab, do_lower_case=settings.get("do_lower_case", True),
        strip_accents=settings.get("strip_accents"),
        tokenize_chinese_chars=settings.get("tokenize_chinese_chars", True),
        unk_token=tokenizer.unk_token, sep_token=tokenizer.sep_token,
        pad_token=tokenizer.pad_token, cls_token=tokenizer.cls_token,
        mask_token=tokenizer.mask_token, model_max_length=tokenizer.model_max_length)


def corpus_tokenizer(tokenizer, texts: Sequence[str], seq_len: int,
                     min_count: int = MIN_COUNT):
    """``tokenizer`` trimmed to the tokens ``texts`` use at least ``min_count`` times."""
    return trimmed_tokenizer(tokenizer, kept_tokens(tokenizer, token_counts(texts, tokenizer,
                                                                            seq_len), min_count))
