"""The experiment grids: which runs reproduce each table and figure, per profile.

Every grid is a function ``grid(profile) -> list[Entry]``; an entry is one row of a table or
one bar of a figure, with the run config that produces it. Runs are shared through the run
store: a config that appears in several grids (ResNet18, SleepNet-2, ...) is trained once.

Profiles (see :mod:`dreamlib.profiles`): ``smoke`` (CI, seconds per run), ``default``
(2 CPU cores: fashion-mnist + fortunes, embedded encoders pre-trained here, ~30 min for the
whole ``make reproduce``), ``paper`` (CIFAR-100 / AG News, hub encoders, 30 epochs, GPUs).
In ``default`` the main comparison (chain baseline, SleepNet-2, DreamNet-2) runs
``MAIN_SEEDS`` seeds and reports mean ± std; other rows run one seed.

Commands::

    python -m dreamlib reproduce --profile default --only 02     # Table 3 alone
    python -m dreamlib reproduce --profile paper                 # everything, paper scale
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from .profiles import make_run_config
from .runs import RunConfig, load_metrics, run_folder

MAIN_SEEDS = {"smoke": (0,), "default": (0, 1, 2), "paper": (0,)}
POLL_SECONDS = 10.0  # how often a worker looks for the runs other workers are training
MAIN_BLOCKS = 2  # the block count of the multi-seed comparison and of the ablations
PAPER_ENCODERS = {  # the paper's default encoders (Table 3: SleepNet-3 = ViT-b, DreamNet-3 = MAE-b)
    ("vision", "sleepnet"): "google/vit-base-patch16-224",
    ("vision", "dreamnet"): "facebook/vit-mae-base",
    ("vision", "finetune"): "facebook/vit-mae-base",
    ("text", "sleepnet"): "roberta-base",
    ("text", "dreamnet"): "roberta-base",
    ("text", "finetune"): "roberta-base",
}
DEFAULT_HEAD = {"smoke": "linear", "default": "linear", "paper": "linear"}


@dataclass(frozen=True)
class Entry:
    """One row/bar: its label, its group, the paper row it compares to, and its run."""

    label: str
    group: str
    cfg: RunConfig
    paper: str | None = None  # model name in paper.TABLE3_VISION / TABLE4_TEXT
    role: str = ""  # free-form tag used by a figure (e.g. "frozen", "chain")


def _run(profile: str, task: str, seed: int = 0, **model) -> RunConfig:
    """A run of ``profile`` with model fields set; the paper profile uses the paper's encoders."""
    kind = model.get("model", "sleepnet")
    if profile == "paper" and "encoder" not in model and (task, kind) in PAPER_ENCODERS:
        model["encoder"] = PAPER_ENCODERS[(task, kind)]
    if kind in ("sleepnet", "dreamnet"):
        model.setdefault("head", DEFAULT_HEAD[profile])
    run = {k: model.pop(k) for k in ("pretrain_epochs",) if k in model}
    return make_run_config(profile, task, model=model, seed=seed, **run)


def _seeds(profile: str, main: bool) -> tuple[int, ...]:
    return MAIN_SEEDS[profile] if main else (0,)


def _method_rows(profile: str, task: str, chain: str) -> list[Entry]:
    """SleepNet-1..4 and DreamNet-1..4 on ``chain`` (M = MAIN_BLOCKS with several seeds)."""
    rows = []
    for kind, name in (("sleepnet", "SleepNet"), ("dreamnet", "DreamNet")):
        for blocks in range(1, 5):
            for seed in _seeds(profile, blocks == MAIN_BLOCKS):
                cfg = _run(profile, task, seed, model=kind, chain=chain, blocks=blocks)
                rows.append(Entry(f"{name}-{blocks}", name, cfg, paper=f"{name}-{blocks}"))
    return rows


def table3_vision(profile: str) -> list[Entry]:
    """Table 3: ResNet18, a fine-tuned MAE, SleepNet-1..4 and DreamNet-1..4 (vision).

    default: ~16 runs, ~8 min on 2 cores. paper: CIFAR-100, 224 px, ViT-b/MAE-b, 30 epochs.
    """
    rows = [Entry("ResNet18", "Baseline", _run(profile, "vision", seed, model="baseline",
                                               chain="resnet18"), paper="ResNet18")
            for seed in _seeds(profile, True)]
    rows.append(Entry("MAE (fine-tuned)", "Baseline", _run(profile, "vision", model="finetune"),
                      paper="MAE-base"))
    return rows + _method_rows(profile, "vision", "resnet18")


def table4_text(profile: str) -> list[Entry]:
    """Table 4: LSTM-2/4, WordCNN, a fine-tuned masked LM, SleepNet-1..4, DreamNet-1..4 (text).

    default: ~18 runs on fortunes, ~10 min on 2 cores. paper: AG News, RoBERTa-base, 30 epochs.
    """
    rows = [Entry("LSTM-4", "Baseline", _run(profile, "text", seed, model="baseline", chain="lstm"),
                  paper="LSTM-4") for seed in _seeds(profile, True)]
    rows += [Entry("LSTM-2", "Baseline", _run(profile, "text", model="baseline", chain="lstm-2"),
                   paper="LSTM-2"),
             Entry("WordCNN", "Baseline", _run(profile, "text", model="baseline", chain="wordcnn"),
                   paper="WordCNN"),
             Entry("Masked LM (fine-tuned)", "Baseline", _run(profile, "text", model="finetune"),
                   paper="RoBERTa-base")]
    return rows + _method_rows(profile, "text", "lstm")


VISION_CHAINS = ("resnet18", "resnet34", "resnet50")
TEXT_CHAINS = ("lstm-2", "wordcnn", "charcnn")


def fig7_chains(profile: str) -> list[Entry]:
    """Fig 7: each chain alone, and as SleepNet-2 / DreamNet-2 (vision and text)."""
    rows = []
    for task, chains in (("vision", VISION_CHAINS), ("text", TEXT_CHAINS)):
        for chain in chains:
            for kind, group in (("baseline", "Chain only"), ("sleepnet", "SleepNet"),
                                ("dreamnet", "DreamNet")):
                extra = {} if kind == "baseline" else {"blocks": MAIN_BLOCKS}
                cfg = _run(profile, task, model=kind, chain=chain, **extra)
                rows.append(Entry(chain, group, cfg, role=task))
    return rows


def fig8_encoders(profile: str) -> list[Entry]:
    """Fig 8: SleepNet-2 / DreamNet-2 with encoders of increasing quality.

    Embedded profiles compare the same small autoencoder untrained (pretrain_epochs = 0), and
    pre-trained; text adds the packaged real pre-trained MiniLM (SleepNet only: it has no LM
    head). The paper profile compares the hub encoders base vs large.
    """
    rows = []
    for task in ("vision", "text"):
        chain = "resnet18" if task == "vision" else "lstm"
        rows.append(Entry("chain only", "Chain only",
                          _run(profile, task, model="baseline", chain=chain), role=task))
        for kind, group in (("sleepnet", "SleepNet"), ("dreamnet", "DreamNet")):
            for label, fields in _encoder_variants(profile, task, kind):
                cfg = _run(profile, task, model=kind, chain=chain, blocks=MAIN_BLOCKS, **fields)
                rows.append(Entry(label, group, cfg, role=task))
    return rows


def _encoder_variants(profile: str, task: str, kind: str) -> list[tuple[str, dict]]:
    if profile == "paper":
        names = {("vision", "sleepnet"): ("google/vit-base-patch16-224", "google/vit-large-patch16-224"),
                 ("vision", "dreamnet"): ("facebook/vit-mae-base", "facebook/vit-mae-large"),
                 ("text", "sleepnet"): ("roberta-base", "roberta-large"),
                 ("text", "dreamnet"): ("roberta-base", "roberta-large")}[(task, kind)]
        return [(name.split("/")[-1], {"encoder": name}) for name in names]
    small = "mae-small" if task == "vision" else "mlm-small"
    variants = [(f"{small} untrained", {"encoder": small, "pretrain_epochs": 0}),
                (f"{small} pre-trained", {"encoder": small})]
    if task == "text" and kind == "sleepnet":
        variants.append(("minilm (pre-trained, 22.7M)", {"encoder": "minilm"}))
    return variants


def fig9_freeze(profile: str) -> list[Entry]:
    """Fig 9: SleepNet-2 / DreamNet-2 with the encoder frozen (default) vs unfrozen."""
    rows = []
    for task in ("vision", "text"):
        chain = "resnet18" if task == "vision" else "lstm"
        for kind, group in (("sleepnet", "SleepNet"), ("dreamnet", "DreamNet")):
            for unfrozen in (False, True):
                cfg = _run(profile, task, model=kind, chain=chain, blocks=MAIN_BLOCKS,
                           unfrozen=unfrozen)
                rows.append(Entry("unfrozen" if unfrozen else "frozen", group, cfg, role=task))
    return rows


def table5_efficiency(profile: str) -> list[Entry]:
    """Table 5: training time per epoch of the vision models, from runs of Tables 3 / Fig 7."""
    names = {"ResNet18": ("baseline", "resnet18", None), "ResNet50": ("baseline", "resnet50", None),
             "MAE-base": ("finetune", None, None), "SleepNet": ("sleepnet", "resnet18", 3),
             "DreamNet": ("dreamnet", "resnet18", 3)}
    rows = []
    for paper_name, (kind, chain, blocks) in names.items():
        fields = {"model": kind}
        if chain:
            fields["chain"] = chain
        if blocks:
            fields["blocks"] = blocks
        rows.append(Entry(paper_name, "vision", _run(profile, "vision", **fields), paper=paper_name))
    return rows


def dreams(profile: str) -> list[Entry]:
    """Fig 6 and Table 1: the dreams of DreamNet-3 (vision and text)."""
    return [Entry("DreamNet-3", task, _run(profile, task, model="dreamnet", blocks=3,
                                           chain="resnet18" if task == "vision" else "lstm"),
                  role=task)
            for task in ("vision", "text")]


GRIDS = {
    "table3_vision": table3_vision,
    "table4_text": table4_text,
    "fig7_chains": fig7_chains,
    "fig8_encoders": fig8_encoders,
    "fig9_freeze": fig9_freeze,
    "table5_efficiency": table5_efficiency,
    "dreams": dreams,
}


def all_entries(profile: str) -> list[Entry]:
    return [entry for grid in GRIDS.values() for entry in grid(profile)]


def unique_runs(entries: list[Entry]) -> list[RunConfig]:
    """Distinct run configs, in first-seen order (what actually gets trained)."""
    seen: dict[str, RunConfig] = {}
    for entry in entries:
        seen.setdefault(entry.cfg.run_hash(), entry.cfg)
    return list(seen.values())


def run_entries(entries: list[Entry], runs_dir: str | Path, data_dir: str | None = None,
                log=print, progress: bool = False, poll: float = POLL_SECONDS) -> list[dict]:
    """Train (or reuse) every entry's run; returns one record per entry with its metrics.

    Several workers (an array job, several notebooks at once) may run grids over one run store:
    each trains the runs no live worker holds (:mod:`dreamlib.locks`), then polls every
    ``poll`` seconds for the runs it skipped, taking over any whose worker died. So every
    worker returns every record, and each run is trained once.
    """
    runs = {}  # run hash -> (config, folder), in first-seen order
    for entry in entries:
        cfg = dataclasses.replace(entry.cfg, data_dir=data_dir) if data_dir else entry.cfg
        runs.setdefault(cfg.run_hash(), (cfg, run_folder(runs_dir, cfg)))
    metrics, pending, announced = {}, list(runs), None
    while pending:
        for key in pending:
            found = _metrics_unless_held(*runs[key], log=log, progress=progress)
            if found is not None:
                metrics[key] = found
        pending = [key for key in pending if key not in metrics]
        if pending and pending != announced:
            log(f"waiting for {len(pending)} run(s) other workers are training: "
                + " ".join(runs[key][1].name for key in pending))
            announced = pending
        if pending:
            time.sleep(poll)
    records = []
    for entry in entries:
        folder = run_folder(runs_dir, entry.cfg)
        records.append({"label": entry.label, "group": entry.group, "paper": entry.paper,
                        "role": entry.role, "run": folder.name, "folder": str(folder),
                        **metrics[entry.cfg.run_hash()]})
    return records


def _metrics_unless_held(cfg: RunConfig, folder: Path, log, progress: bool) -> dict | None:
    """The run's metrics, read or trained now; None while another live worker holds the run
    (its lock), so the caller comes back for it later."""
    from .locks import LockHeld
    from .train import train_run

    try:
        return load_metrics(folder) or train_run(cfg, folder, log=log, progress=progress)
    except LockHeld:
        return None


def pretrained_encoders(profile: str, data_dir: str | None = None, log=print) -> dict:
    """The embedded autoencoders of ``profile`` as its runs use them: {name: (folder, losses)}.

    Empty in the paper profile, whose encoders come pre-trained from the hub.
    """
    from .pretrain import pretrain, pretrain_losses
    from .train import pretrain_config

    out = {}
    for task, name in (("vision", "mae-small"), ("text", "mlm-small")):
        cfg = _run(profile, task, model="sleepnet", encoder=name)
        if profile == "paper":
            continue
        cfg = dataclasses.replace(cfg, data_dir=data_dir)
        folder = pretrain(pretrain_config(cfg), data_dir, log=log)
        out[name] = (folder, pretrain_losses(folder))
    return out
