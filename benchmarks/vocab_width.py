"""How much a narrower output vocabulary would speed up the text sleep and dream connections.

Run:  .venv/bin/python benchmarks/vocab_width.py [--steps 7]
Writes benchmarks/results/vocab_width.{csv,md}.

A text connection ends in the masked LM's projection onto its whole vocabulary (30,522
WordPiece tokens for `mlm-small`), followed by an argmax; at the default profile's sizes that
projection, not the LSTM chain, is most of a SleepNet/DreamNet training step. The default
text task's training definitions use far fewer tokens, so a vocabulary trimmed to them is the
obvious saving. This script measures what it would buy before any model code changes: it
times a `bench` training step of the default profile's text chain, SleepNet-2 and DreamNet-2
with `mlm-small`'s architecture at several vocabulary sizes (random weights, from a config
saved to a temporary folder), all in one process, and reports each as a ratio to the full
vocabulary. The sizes are the counts measured on the 50,169 training definitions that
`mlm-small` pre-trains on: every token they use (20,441), those seen at least 5 times
(12,283, 97.7 % of the occurrences) and at least 10 times (8,279, 94.3 %).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

import pandas as pd
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dreamlib.bench import bench
from dreamlib.encoders import encoder_config
from dreamlib.experiments import table4_text
from dreamlib.report import markdown
from dreamlib.runs import atomic_write_text

OUT = Path(__file__).resolve().parent / "results"
VOCABS = {"full (mlm-small)": 30522, "every token of the training text": 20441,
          "tokens seen >= 5 times": 12283, "tokens seen >= 10 times": 8279}
MODELS = {"LSTM-4": "chain (LSTM-4)", "SleepNet-2": "SleepNet-2", "DreamNet-2": "DreamNet-2"}


def default_configs() -> dict:
    """{label: run config} of the default profile's Table 4 rows in :data:`MODELS` (seed 0)."""
    first = {}
    for entry in table4_text("default"):
        first.setdefault(entry.label, entry.cfg)
    return {MODELS[name]: first[name] for name in MODELS}


def encoder_with_vocab(folder: Path, size: int) -> str:
    """A local encoder folder holding `mlm-small`'s config with ``size`` tokens."""
    config = encoder_config("mlm-small")
    config.vocab_size = size
    path = folder / f"mlm-small-{size}"
    config.save_pretrained(path)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    rows = []
    configs = default_configs()
    chain_cfg = configs["chain (LSTM-4)"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg in configs.items():
            # the chain reads token ids through an embedding: its width barely matters, so it
            # is timed once, as the reference the connections are compared with
            vocabs = list(VOCABS.items())[:1] if cfg is chain_cfg else VOCABS.items()
            for vocab_label, size in vocabs:
                model = dataclasses.replace(cfg.model, encoder=encoder_with_vocab(Path(tmp), size))
                result = bench(model, batch_size=cfg.batch_size, steps=args.steps,
                               warmup=args.warmup)
                rows.append({"model": label, "vocabulary": vocab_label, "tokens": size,
                             "step_s": round(result["step_seconds"], 4)})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    full = table[table.tokens == VOCABS["full (mlm-small)"]].set_index("model").step_s
    table["speed-up vs full"] = (table.model.map(full) / table.step_s).round(2)
    chain = table[table.model == "chain (LSTM-4)"].step_s.iloc[0]
    table["ratio to chain"] = (table.step_s / chain).round(1)
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "vocab_width.csv", index=False)
    atomic_write_text(OUT / "vocab_width.md",
                      f"# Text step time against the output vocabulary's width\n\n"
                      f"`benchmarks/vocab_width.py --steps {args.steps}`: default-profile text "
                      f"models (batch {chain_cfg.batch_size}, {chain_cfg.model.seq_len} tokens), "
                      f"{torch.get_num_threads()} threads, fp32, median of {args.steps} "
                      f"steps after {args.warmup} warm-up.\n\n"
                      + markdown(table) + "\n")


if __name__ == "__main__":
    main()
