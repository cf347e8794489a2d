"""Checks of dreamlib.paper: the transcription against the paper's text, and the helpers.

The paper's text is read from ../shared/seeds relative to the repository when present;
tests that need it are skipped otherwise, the rest check the data on its own.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from dreamlib import paper
from dreamlib.paper import (
    AUTHOR_CODE_FACTS,
    FIG8_VALUES,
    FIG9_VALUES,
    INCONSISTENCIES,
    TABLE2_DATASETS,
    TABLE3_VISION,
    TABLE4_TEXT,
    TABLE5_HOURS_PER_EPOCH,
    TEXT_DATASETS,
    VISION_DATASETS,
    paper_accuracy,
    paper_row,
    table5_ratios,
)

REPO = Path(__file__).resolve().parents[1]
PAPER_TXT = REPO.parent / "shared" / "seeds" / "paper-dreaming-is-all-you-need.txt"

needs_paper = pytest.mark.skipif(not PAPER_TXT.exists(), reason=f"{PAPER_TXT} not present")


@pytest.fixture(scope="module")
def paper_lines() -> list[str]:
    return PAPER_TXT.read_text(encoding="utf-8").splitlines()


def _block(lines: list[str], start_prefix: str, stop) -> list[str]:
    """Lines after the one starting with ``start_prefix`` until ``stop(line)`` is true."""
    i = next(k for k, line in enumerate(lines) if line.startswith(start_prefix))
    out = []
    for line in lines[i + 1:]:
        if stop(line):
            break
        out.append(line)
    return out


def _num(tok: str) -> float | None:
    return None if tok == "-" else float(tok.rstrip("MB").replace(",", ""))


# ---------------------------------------------------------------------------------------
# Transcription against the paper's text
# ---------------------------------------------------------------------------------------

@needs_paper
def test_table2_matches_text(paper_lines):
    rows = _block(paper_lines, "Type Dataset Train Size", lambda s: s.startswith("Table 3"))
    assert len(rows) == len(TABLE2_DATASETS)
    for line, (name, d) in zip(rows, TABLE2_DATASETS.items()):
        train, test, classes = (int(t.replace(",", "")) for t in line.split()[-3:])
        assert d["paper_name"] in line, name
        assert (d["train_size"], d["test_size"], d["num_classes"]) == (train, test, classes)


def _check_results_table(lines: list[str], rows: list[dict], size_key: str, datasets):
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows):
        toks = line.split()[-6:]
        size_tok, params_tok, flops_tok, *acc_toks = toks
        if size_key == "input_size":
            assert size_tok.endswith("2"), line  # printed as e.g. 224^2 -> "2242"
            size = int(size_tok[:-1])
        else:
            size = int(size_tok.replace(",", ""))
        assert row[size_key] == size, row["model"]
        assert math.isclose(row["params_m"], _num(params_tok)), row["model"]
        assert math.isclose(row["flops_b"], _num(flops_tok)), row["model"]
        assert [row["accuracy"][d] for d in datasets] == [_num(t) for t in acc_toks], row["model"]
        low = line.lower()
        for part in filter(None, re.split(r"[-() ]+", row["model"])):
            assert part.lower() in low, (row["model"], line)
        if row["encoder"]:  # the subscripted rows are printed as \text{X-3}_{\text{enc}}
            base = row["model"].split(" (")[0]
            assert f"{{{base}}}_{{\\text{{{row['encoder']}}}}}" in line, row["model"]


@needs_paper
def test_table3_matches_text(paper_lines):
    lines = _block(paper_lines, "Types Models Input Size", lambda s: s.startswith("Table 4"))
    _check_results_table(lines, TABLE3_VISION, "input_size", VISION_DATASETS)


@needs_paper
def test_table4_matches_text(paper_lines):
    lines = _block(paper_lines, "Types Models Vocab Size", lambda s: not s.strip())
    _check_results_table(lines, TABLE4_TEXT, "vocab_size", TEXT_DATASETS)


@needs_paper
def test_table5_matches_text(paper_lines):
    i = next(k for k, s in enumerate(paper_lines) if s.startswith("Table 5:"))
    header, cifar, tiny = paper_lines[i + 1: i + 4]
    assert cifar.startswith("CIFAR100 ") and tiny.startswith("ImageNet-tiny ")
    models = list(TABLE5_HOURS_PER_EPOCH)
    for line, ds in ((cifar, "cifar100"), (tiny, "tiny-imagenet")):
        values = [float(t) for t in line.split()[1:]]
        assert values == [TABLE5_HOURS_PER_EPOCH[m][ds] for m in models]
    for m in ("ResNet18", "EfficientNet-B7", "CoAtNet-2", "CvT-21", "SleepNet", "DreamNet"):
        assert m in header


@needs_paper
def test_figure_values_appear_in_text(paper_lines):
    fig8 = next(s for s in paper_lines if "RoBERTa-Small" in s)
    for row in FIG8_VALUES["rows"].values():
        for key in ("original", "sleepnet", "dreamnet"):
            assert f"{row[key]:.2f}" in fig8
    fig9 = next(s for s in paper_lines if "Frozing" in s)
    for ds in ("cifar100", "ag_news"):
        for key in ("frozen", "unfrozen"):
            assert f"{FIG9_VALUES[ds][key]:.0f}%" in fig9
    # the AG News sentence really does say "unfrozen" twice and "frozen encoders" for CIFAR
    agnews = fig9[fig9.index("AG News dataset"):]
    assert agnews.count("unfrozen") == 2


@needs_paper
def test_protocol_and_hardware_appear_in_text(paper_lines):
    text = "\n".join(paper_lines)
    assert f"{paper.TRAINING_PROTOCOL['epochs']} epochs" in text
    assert "0.005" in text and "0.999" in text
    for fact in ("Xeon(R) Gold 6238R", "Quadro RTX 5000", "88GB", "RHEL 7.9"):
        assert fact in text
    assert "10%" in text and "RandAugment" in text and "Mixup" in text


@needs_paper
def test_quoted_text_numbers_behind_inconsistencies(paper_lines):
    """The text-side numbers the inconsistency list relies on are really in the paper."""
    sec45 = next(s for s in paper_lines if "SleepNet-3MAE-l" in s and "93.4" in s)
    assert "DreamNet-3 to achieve" in sec45 and "87.8" in sec45
    sec45_text = next(s for s in paper_lines if "on IMDB with SleepNet-3XLNet-l" in s)
    assert "95.1" in sec45_text and "97.9" in sec45_text and "SleepNet-3RoBERTa-l" in sec45_text
    sec47 = next(s for s in paper_lines if "50.5 billion" in s)
    assert "42.1 billion" in sec47 and "92.3% on IMDB" in sec47
    sec462 = next(s for s in paper_lines if "DreamNet-4 reaching" in s)
    assert "92.3%" in sec462


@needs_paper
def test_our_notes_do_not_copy_the_paper(paper_lines):
    """Notes must be our own words: no run of 7 words may be shared with the paper.

    Numbers are facts we are allowed to copy, so tokens holding digits are dropped first.
    """
    def words(s: str) -> list[str]:
        return [w for w in re.findall(r"[a-z0-9]+", s.lower()) if not re.search(r"\d", w)]

    n = 7
    pw = words("\n".join(paper_lines))
    shingles = {tuple(pw[i:i + n]) for i in range(len(pw) - n + 1)}
    texts = [paper.__doc__ or ""]
    texts += [e["what"] for e in INCONSISTENCIES]
    for fig in (paper.FIG7_TEXT, FIG8_VALUES, FIG9_VALUES):
        texts += [fig["note"], fig["claim"]]
    texts += [FIG9_VALUES[d]["note"] for d in ("cifar100", "ag_news")]
    for t in texts:
        w = words(t)
        shared = [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)
                  if tuple(w[i:i + n]) in shingles]
        assert not shared, shared


# ---------------------------------------------------------------------------------------
# The data on its own
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "table, datasets, size_key",
    [(TABLE3_VISION, VISION_DATASETS, "input_size"), (TABLE4_TEXT, TEXT_DATASETS, "vocab_size")],
)
def test_rows_are_complete(table, datasets, size_key):
    keys = {"group", "model", size_key, "params_m", "flops_b", "accuracy", "blocks", "encoder"}
    names = [r["model"] for r in table]
    assert len(names) == len(set(names))
    for r in table:
        assert set(r) == keys, r["model"]
        assert list(r["accuracy"]) == list(datasets)
        assert isinstance(r[size_key], int) and r[size_key] > 0
        assert isinstance(r["params_m"], float) and isinstance(r["flops_b"], float)
        for v in r["accuracy"].values():
            assert v is None or (isinstance(v, float) and 0 < v <= 100)
        is_method = r["group"] in ("SleepNet", "DreamNet")
        assert (r["blocks"] is not None) == is_method
        if is_method:
            assert r["model"].startswith(r["group"])


def test_groups_and_counts():
    groups3 = {r["group"] for r in TABLE3_VISION}
    assert groups3 == {"Convolution only", "Transformer", "Convolution + Transformers",
                       "Augmentation + Transformers", "SleepNet", "DreamNet"}
    assert len(TABLE3_VISION) == 27 and len(TABLE4_TEXT) == 25
    assert set(TABLE2_DATASETS) == set(VISION_DATASETS) | set(TEXT_DATASETS)


def test_lookups_return_the_transcribed_rows():
    """paper_row / paper_accuracy find every row of both tables, by table name or number."""
    for names, table in ((("vision", "table3", 3), TABLE3_VISION), (("text", "table4", 4), TABLE4_TEXT)):
        for row in table:
            for name in names:
                assert paper_row(name, row["model"]) is row
            for dataset, value in row["accuracy"].items():
                assert paper_accuracy(names[0], row["model"], dataset) == value


def test_table5_ratios():
    r = table5_ratios()
    assert r["ResNet18"] == {"cifar100": 1.0, "tiny-imagenet": 1.0}
    assert r["SleepNet"]["cifar100"] == pytest.approx(0.8 / 0.45)
    assert r["SleepNet"]["cifar100"] == pytest.approx(1.78, abs=0.005)
    assert r["DreamNet"]["cifar100"] == pytest.approx(4.0)
    assert r["DreamNet"]["tiny-imagenet"] == pytest.approx(18.9 / 6.77)
    assert table5_ratios(ndigits=2)["SleepNet"]["tiny-imagenet"] == 1.3
    assert table5_ratios("ViT-base")["ViT-base"]["cifar100"] == 1.0
    with pytest.raises(KeyError, match="ResNet18"):
        table5_ratios("ResNet9")


def _paragraph(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(start))


@needs_paper
def test_figure_values_match_text(paper_lines):
    """Fig 8's fractions and Fig 9's percentages are the ones section 4.6 quotes, in order."""
    fig8 = _paragraph(paper_lines, "We assessed the performance of SleepNet and DreamNet")
    quoted = [float(x) for x in re.findall(r"\b0\.\d\d\b", fig8)]
    rows = FIG8_VALUES["rows"]
    assert quoted == [rows["RoBERTa-small"][k] for k in ("original", "sleepnet", "dreamnet")] + \
        [rows["ViT-small"][k] for k in ("original", "sleepnet", "dreamnet")]
    fig9 = _paragraph(paper_lines, "Equally importantly, we examined the effect of freezing")
    percents = [float(x) for x in re.findall(r"(\d+)%", fig9)]
    c, a = FIG9_VALUES["cifar100"], FIG9_VALUES["ag_news"]
    assert percents == [c["unfrozen"], c["frozen"], a["frozen"], a["unfrozen"]]
    for fig in (paper.FIG7_TEXT, FIG8_VALUES, FIG9_VALUES):
        assert fig["note"]


@needs_paper
def test_protocol_and_hardware_match_text(paper_lines):
    protocol = _paragraph(paper_lines, "To ensure an equitable comparison")
    p = paper.TRAINING_PROTOCOL
    assert f"{p['epochs']} epochs" in protocol and f"of {p['lr']}" in protocol
    assert all(f"= {beta}" in protocol for beta in p["betas"])
    assert f"10^{{{round(math.log10(p['eps']))}}}" in protocol
    hardware = _paragraph(paper_lines, "We conducted our experiments on")
    for key in ("os", "cpu", "gpu"):
        words = paper.HARDWARE[key].replace("Xeon", "Xeon(R)").split()
        assert all(word in hardware for word in words), key
    assert f"{paper.HARDWARE['ram_gb']}GB" in hardware


def test_library_defaults_follow_the_paper_protocol():
    """A run config's optimiser defaults and the paper profile's epochs are the paper's."""
    from dreamlib.config import ModelConfig
    from dreamlib.profiles import profile_defaults
    from dreamlib.runs import RunConfig

    p = paper.TRAINING_PROTOCOL
    run = RunConfig(model=ModelConfig(), dataset="cifar100")
    assert (run.epochs, run.lr, run.betas, run.eps) == (p["epochs"], p["lr"], p["betas"], p["eps"])
    for task in ("vision", "text"):
        defaults = profile_defaults("paper", task)
        assert defaults["epochs"] == p["epochs"]
        assert defaults["dataset"] == paper.MAIN_DATASETS[task]


def test_author_code_facts_add_up():
    f = AUTHOR_CODE_FACTS
    lin = f["dreamnet_unused_linear"]
    assert lin["in"] * lin["out"] + lin["out"] == f["dreamnet_unused_linear_params"]
    assert lin["out"] == 128 * 56 * 56
    assert round(f["dreamnet_params"] / 1e6) == f["dreamnet_params_paper_m"]
    assert paper_row("vision", "DreamNet-3")["params_m"] == f["dreamnet_params_paper_m"]
    assert paper_row("vision", "SleepNet-3")["params_m"] == f["sleepnet_params_paper_m"]
    assert f["dreamnet_params_without_unused"] == \
        f["dreamnet_params"] - f["dreamnet_unused_linear_params"]
    assert round(f["dreamnet_params_without_unused"] / 1e6) == 424  # the inconsistency's figure
    assert "424M" in next(i["what"] for i in INCONSISTENCIES if i["id"] == "params-vs-author-code")


def test_inconsistency_list_shape():
    ids = [e["id"] for e in INCONSISTENCIES]
    assert len(ids) == len(set(ids))
    for e in INCONSISTENCIES:
        assert set(e) == {"id", "where", "what"}
        assert all(isinstance(v, str) and v for v in e.values())
    for required in ("fig9-frozen-direction", "fig9-agnews-labels", "table3-duplicate-rows",
                     "table4-dreamnet-flops-constant", "text-dreamnet4-flops-imdb",
                     "sleepnet3-mae-l-cifar", "dreamnet3-highest-claim", "imdb-yelp-attribution",
                     "dreamnet4-cifar", "sleepnet-consistently-better", "params-vs-author-code",
                     "table4-vocab-800k", "table5-scaling-and-efficiency"):
        assert required in ids


def test_table_side_of_inconsistencies():
    """The table numbers each inconsistency cites are what the transcription holds."""
    v, t = "vision", "text"
    # duplicate rows
    for a, b in (("SleepNet-3", "SleepNet-3 (ViT-b)"), ("DreamNet-3", "DreamNet-3 (MAE-b)")):
        ra, rb = paper_row(v, a), paper_row(v, b)
        assert {k: ra[k] for k in ("params_m", "flops_b", "accuracy")} == \
               {k: rb[k] for k in ("params_m", "flops_b", "accuracy")}
    # constant DreamNet text FLOPs
    assert {r["flops_b"] for r in TABLE4_TEXT if r["group"] == "DreamNet"} == {27.4}
    assert paper_row(t, "DreamNet-4")["flops_b"] == 27.4
    assert paper_accuracy(t, "DreamNet-4", "imdb") == 93.4
    # misattributions
    assert paper_accuracy(v, "SleepNet-3 (MAE-l)", "cifar100") == 91.0
    assert paper_accuracy(v, "DreamNet-4", "imagenet-1k") == 89.2
    assert paper_accuracy(v, "DreamNet-4", "tiny-imagenet") == 89.9
    assert paper_accuracy(v, "DreamNet-3 (MAE-l)", "tiny-imagenet") == 89.6
    assert paper_accuracy(t, "SleepNet-3 (XLNet-l)", "imdb") == 92.1
    assert paper_accuracy(t, "DreamNet-3 (XLNet-l)", "imdb") == 95.1
    assert paper_accuracy(t, "SleepNet-3 (RoBERTa-l)", "yelp_full") == 97.5
    assert paper_accuracy(t, "DreamNet-3 (RoBERTa-l)", "yelp_full") == 97.9
    assert max(r["accuracy"]["ag_news"] for r in TABLE4_TEXT) == 95.3
    assert paper_accuracy(v, "DreamNet-4", "cifar100") == 85.1 == \
        paper_accuracy(v, "DreamNet-2", "cifar100")
    # best Tiny-ImageNet model is DreamNet-4
    best_tiny = max((r for r in TABLE3_VISION if r["accuracy"]["tiny-imagenet"]),
                    key=lambda r: r["accuracy"]["tiny-imagenet"])
    assert best_tiny["model"] == "DreamNet-4"
    # DreamNet does not beat the matched SleepNet everywhere
    losses = []
    for table in (TABLE3_VISION, TABLE4_TEXT):
        for r in table:
            if r["group"] != "DreamNet":
                continue
            try:
                s = paper_row(table, r["model"].replace("DreamNet", "SleepNet"))
            except KeyError:
                continue
            losses += [(r["model"], d) for d, a in r["accuracy"].items()
                       if a < s["accuracy"][d]]
    assert sorted(losses) == sorted([
        ("DreamNet-4", "cifar100"), ("DreamNet-3 (RoBERTa-b)", "imdb"),
        ("DreamNet-3 (RoBERTa-b)", "yelp_full"), ("DreamNet-3 (RoBERTa-l)", "imdb"),
        ("DreamNet-3 (XLNet-b)", "yelp_full")])
    # no vision block-1 rows; FLOPs that fall when adding a block
    assert not any(r["blocks"] == 1 for r in TABLE3_VISION)
    assert paper_row(t, "SleepNet-2")["flops_b"] < paper_row(t, "SleepNet-1")["flops_b"]
    assert paper_row(v, "DreamNet-2")["flops_b"] < paper_row(v, "SleepNet-2")["flops_b"]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def test_paper_row_lookup_variants():
    row = paper_row("vision", "SleepNet-3 (ViT-b)")
    assert paper_row("vision", "sleepnet-3 vit-b") is row
    assert paper_row("TABLE3", "sleepnet3_vitb") is row
    assert paper_row("text", "DistilBERT-base")["model"] == "DistillBERT-base"


def test_helper_errors_are_clear():
    with pytest.raises(KeyError, match=r"valid models: .*ResNet18"):
        paper_row("vision", "ResNet9000")
    with pytest.raises(KeyError, match="ag_news"):
        paper_accuracy("text", "RoBERTa-base", "cifar100")
    with pytest.raises(KeyError, match="unknown table"):
        paper_row("table7", "ResNet18")
    # vision models are not in the text table
    with pytest.raises(KeyError, match="RoBERTa-base"):
        paper_row(TABLE4_TEXT, "ResNet18")


def test_as_dataframe():
    pytest.importorskip("pandas")
    df = paper.as_dataframe("vision")
    assert len(df) == 27
    assert {"model", "input_size", *VISION_DATASETS} <= set(df.columns)
    assert df.set_index("model").loc["MAE-large", "cifar100"] == 91.3
