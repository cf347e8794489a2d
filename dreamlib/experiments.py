"""The experiment grids: which runs reproduce each table and figure, per profile.

Every grid is a function ``grid(profile, **knobs) -> list[Entry]``; an entry is one row of a
table or one bar of a figure, with the run config that produces it. Runs are shared through
the run store: a config that appears in several grids (ResNet18, SleepNet-2, ...) is trained
once. :func:`dreamlib.schedule.run_entries` trains or reads them.

The knobs (``seeds``, ``blocks``, ``chains``, ...) default to the profile's settings
(:data:`dreamlib.profiles.GRID_SETTINGS`) and the paper's set-up (:mod:`dreamlib.paper`);
notebooks expose them in their parameters cell.

Commands::

    python -m dreamlib reproduce --profile default --only 02     # Table 3 alone
    python -m dreamlib reproduce --profile paper                 # everything, paper scale
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .encoders import EMBEDDED_ENCODERS
from .profiles import grid_settings, make_run_config
from .references import majority_accuracy, tfidf_accuracy
from .runs import RunConfig
from .shipped import pretrain_losses
from .train import resolve_encoder_source

MAIN_BLOCKS = 2  # the block count of the multi-seed comparison and of the ablations
ALL_BLOCKS = (1, 2, 3, 4)  # the paper's SleepNet-M / DreamNet-M
METHOD_GROUPS = {"baseline": "Chain only", "finetune": "Fine-tuned encoder",
                 "features": "Encoder features only", "sleepnet": "SleepNet",
                 "dreamnet": "DreamNet"}  # display group of a method


@dataclass(frozen=True)
class Entry:
    """One row/bar: its label, its run, what distinguishes it inside its figure, its paper row.

    Task, method and block count are read from the run config, so reports and claims select
    entries by these typed fields and never parse a label.
    """

    label: str
    cfg: RunConfig
    variant: str = ""  # inside a figure: the chain (Fig 7), encoder (Fig 8), frozen/unfrozen (Fig 9)
    paper: str | None = None  # model name in paper.TABLE3_VISION / TABLE4_TEXT

    @property
    def task(self) -> str:
        return self.cfg.model.task

    @property
    def method(self) -> str:
        return self.cfg.model.method

    @property
    def blocks(self) -> int | None:
        """M for SleepNet/DreamNet; None for models without sleep/dream blocks."""
        return self.cfg.model.blocks if self.method in ("sleepnet", "dreamnet") else None

    @property
    def group(self) -> str:
        return METHOD_GROUPS[self.method]

    def fields(self) -> dict:
        """The entry's typed fields, as a run record carries them."""
        return {"label": self.label, "group": self.group, "task": self.task,
                "method": self.method, "blocks": self.blocks, "variant": self.variant,
                "paper": self.paper}


def _run(profile: str, task: str, seed: int = 0, **model) -> RunConfig:
    """A run of ``profile`` with model fields set; the profile names each method's encoder
    and the connections' A_out (:data:`~dreamlib.profiles.GRID_SETTINGS`)."""
    settings = grid_settings(profile)
    kind = model.get("method", "sleepnet")
    if "encoder" not in model and (task, kind) in settings["encoders"]:
        model["encoder"] = settings["encoders"][(task, kind)]
    if kind in ("sleepnet", "dreamnet"):
        model.setdefault("a_out", settings["a_out"])
    run = {k: model.pop(k) for k in ("pretrained",) if k in model}
    return make_run_config(profile, task, model=model, seed=seed, **run)


def main_seeds(profile: str, task: str) -> tuple[int, ...]:
    """Seeds of the main rows of ``task`` (chain, control, SleepNet/DreamNet-MAIN_BLOCKS),
    in ``profile``."""
    return tuple(grid_settings(profile)["main_seeds"][task])


def ablation_seeds(profile: str) -> tuple[int, ...]:
    """Seeds of each arm of the encoder and freeze ablations, in ``profile``; an arm that is
    a main row reads the first of that row's runs, so the pairs share seeds."""
    return tuple(grid_settings(profile)["ablation_seeds"])


def curve_seeds(profile: str) -> tuple[int, ...]:
    """Seeds of each point of a curve (block counts, chains), in ``profile``."""
    return tuple(grid_settings(profile)["curve_seeds"])


def _main(profile: str, task: str, seed: int = 0, **model) -> RunConfig:
    """A run of the main comparison: :func:`_run` at the profile's main scale
    (``main_scale``: more training examples and epochs, the chain on its plateau)."""
    scale = grid_settings(profile)["main_scale"].get(task, {})
    return dataclasses.replace(_run(profile, task, seed, **model), **scale).validate()


def _method_rows(profile: str, task: str, chain: str, seeds) -> list[Entry]:
    """SleepNet-MAIN_BLOCKS and DreamNet-MAIN_BLOCKS on ``chain``, main scale."""
    return [Entry(f"{METHOD_GROUPS[kind]}-{MAIN_BLOCKS}",
                  _main(profile, task, seed, method=kind, chain=chain, blocks=MAIN_BLOCKS),
                  paper=f"{METHOD_GROUPS[kind]}-{MAIN_BLOCKS}")
            for kind in ("sleepnet", "dreamnet") for seed in seeds]


def _control_rows(profile: str, task: str, chain: str, seeds) -> list[Entry]:
    """The "encoder features only" control on ``chain``, main scale (not in the paper)."""
    return [Entry(f"{chain} + encoder features", _main(profile, task, seed, method="features",
                                                      chain=chain)) for seed in seeds]


def table3_vision(profile: str, seeds=None) -> list[Entry]:
    """Table 3's main comparison at the main scale: ResNet18, a fine-tuned MAE, the
    encoder-features control, SleepNet-2 and DreamNet-2 (vision); ``seeds`` (default: the
    profile's main seeds for vision) for every row but the fine-tuned encoder (one seed).
    The other block counts are :func:`block_curves` (quick scale)."""
    seeds = tuple(seeds or main_seeds(profile, "vision"))
    rows = [Entry("ResNet18", _main(profile, "vision", seed, method="baseline",
                                    chain="resnet18"), paper="ResNet18") for seed in seeds]
    rows.append(Entry("MAE (fine-tuned)", _main(profile, "vision", method="finetune"),
                      paper="MAE-base"))
    rows += _control_rows(profile, "vision", "resnet18", seeds)
    return rows + _method_rows(profile, "vision", "resnet18", seeds)


def table4_text(profile: str, seeds=None) -> list[Entry]:
    """Table 4's main comparison at the main scale: LSTM-4, LSTM-2, WordCNN, a fine-tuned
    masked LM, the encoder-features control, SleepNet-2 and DreamNet-2 (text). Seeds as in
    :func:`table3_vision` (text's main seeds; one for LSTM-2, WordCNN and the masked LM)."""
    seeds = tuple(seeds or main_seeds(profile, "text"))
    rows = [Entry("LSTM-4", _main(profile, "text", seed, method="baseline", chain="lstm"),
                  paper="LSTM-4") for seed in seeds]
    rows += [Entry("LSTM-2", _main(profile, "text", method="baseline", chain="lstm-2"),
                   paper="LSTM-2"),
             Entry("WordCNN", _main(profile, "text", method="baseline", chain="wordcnn"),
                   paper="WordCNN"),
             Entry("Masked LM (fine-tuned)", _main(profile, "text", method="finetune"),
                   paper="RoBERTa-base")]
    rows += _control_rows(profile, "text", "lstm", seeds)
    return rows + _method_rows(profile, "text", "lstm", seeds)


def main_epochs(profile: str, task: str) -> int:
    """The epochs of the main comparison of ``task`` in ``profile``."""
    return _main(profile, task, method="baseline").epochs


def plateau_epochs(profile: str, task: str) -> tuple[int, ...]:
    """The epochs of the chain's plateau curve: half, all and twice the main scale's."""
    epochs = main_epochs(profile, task)
    return tuple(sorted({max(1, epochs // 2), epochs, 2 * epochs}))


def chain_plateau(profile: str, tasks=("vision", "text"), seeds=None) -> list[Entry]:
    """Is the main comparison's chain on its plateau? The chain at the main scale trained
    for :func:`plateau_epochs` (default seeds: the curve seeds; the main epochs reuse the
    main rows' runs). On the plateau, doubling the epochs moves its mean accuracy by less
    than the 95 % CI half-width (:func:`dreamlib.claims.plateau`)."""
    seeds = tuple(seeds or curve_seeds(profile))
    rows = []
    for task in tasks:
        for epochs in plateau_epochs(profile, task):
            for seed in seeds:
                cfg = dataclasses.replace(
                    _main(profile, task, seed, method="baseline", chain=_default_chain(task)),
                    epochs=epochs).validate()  # the main epochs: the main rows' own run
                rows.append(Entry(f"{epochs} epochs", cfg, variant=str(epochs)))
    return rows


def vision_plateau(profile: str) -> list[Entry]:
    return chain_plateau(profile, ("vision",))


def text_plateau(profile: str) -> list[Entry]:
    return chain_plateau(profile, ("text",))


def block_curves(profile: str, tasks=("vision", "text"), blocks=ALL_BLOCKS,
                 seeds=None) -> list[Entry]:
    """Section 4.6.2 at the quick scale: the chain alone and SleepNet-M / DreamNet-M for each
    M in ``blocks``, the same seeds at every M (default: the profile's curve seeds)."""
    seeds = tuple(seeds or curve_seeds(profile))
    rows = []
    for task in tasks:
        chain = _default_chain(task)
        rows += [Entry(chain, _run(profile, task, seed, method="baseline", chain=chain),
                       paper=chain) for seed in seeds]
        for kind in ("sleepnet", "dreamnet"):
            for m in blocks:
                for seed in seeds:
                    cfg = _run(profile, task, seed, method=kind, chain=chain, blocks=m)
                    rows.append(Entry(f"{METHOD_GROUPS[kind]}-{m}", cfg))
    return rows


def fig7_chains(profile: str, chains=None, seeds=None) -> list[Entry]:
    """Fig 7: each chain alone, and as SleepNet-2 / DreamNet-2 (vision and text).

    ``chains``: {task: chain names}, default the profile's (the paper's ``paper.FIG7_CHAINS``
    except at CPU scale, see :data:`~dreamlib.profiles.GRID_SETTINGS`); ``seeds``: default the
    profile's curve seeds.
    """
    chains = chains or grid_settings(profile)["chains"]
    seeds = tuple(seeds or curve_seeds(profile))
    rows = []
    for task, names in chains.items():
        for chain in names:
            for kind in ("baseline", "sleepnet", "dreamnet"):
                extra = {} if kind == "baseline" else {"blocks": MAIN_BLOCKS}
                for seed in seeds:
                    cfg = _run(profile, task, seed, method=kind, chain=chain, **extra)
                    rows.append(Entry(chain, cfg, variant=chain))
    return rows


def _default_chain(task: str) -> str:
    return "resnet18" if task == "vision" else "lstm"


def fig8_encoders(profile: str, tasks=("vision", "text"), seeds=None) -> list[Entry]:
    """Fig 8: SleepNet-2 / DreamNet-2 with encoders of increasing quality.

    The variants come from the profile: at CPU scale the same small autoencoder untrained
    (``pretrained=False``) and pre-trained, plus the packaged MiniLM for text SleepNet; at
    paper scale the hub encoders base vs large. ``seeds``: default the profile's ablation
    seeds.
    """
    variants = grid_settings(profile)["encoder_variants"]
    seeds = tuple(seeds or ablation_seeds(profile))
    rows = []
    for task in tasks:
        chain = _default_chain(task)
        rows += [Entry("chain only", _run(profile, task, seed, method="baseline", chain=chain),
                       variant="chain only") for seed in seeds]
        for kind in ("sleepnet", "dreamnet"):
            for label, fields in variants[(task, kind)]:
                for seed in seeds:
                    cfg = _run(profile, task, seed, method=kind, chain=chain, blocks=MAIN_BLOCKS,
                               **dict(fields))
                    rows.append(Entry(label, cfg, variant=label))
    return rows


def fig9_freeze(profile: str, tasks=("vision", "text"), seeds=None) -> list[Entry]:
    """Fig 9: SleepNet-2 / DreamNet-2 with the encoder frozen (default) vs unfrozen (its own
    learning rate ``encoder_lr``), paired by seed (default: the profile's ablation seeds)."""
    seeds = tuple(seeds or ablation_seeds(profile))
    rows = []
    for task in tasks:
        for kind in ("sleepnet", "dreamnet"):
            for unfrozen in (False, True):
                name = "unfrozen" if unfrozen else "frozen"
                for seed in seeds:
                    cfg = _run(profile, task, seed, method=kind, chain=_default_chain(task),
                               blocks=MAIN_BLOCKS, unfrozen=unfrozen)
                    rows.append(Entry(name, cfg, variant=name))
    return rows


PAPER_TEXT = "paper: hard argmax"
DIFFERENTIABLE_TEXT = "differentiable"


def text_design_choices(profile: str, seeds=None) -> list[Entry]:
    """Our check, not in the paper: do the text verdicts depend on two choices the paper
    leaves to the implementation? Text SleepNet-2 and DreamNet-2 as built by default (hard
    argmax A_in; DreamNet reads its dream as the argmax token's embedding) and differentiable
    (straight-through A_in; DreamNet also reads the expected embedding under the masked LM's
    distribution), paired by seed (default: the profile's ablation seeds, so the default arm
    reuses Fig 9's frozen runs)."""
    seeds = tuple(seeds or ablation_seeds(profile))
    rows = []
    for kind in ("sleepnet", "dreamnet"):
        soft = {"straight_through": True}
        if kind == "dreamnet":
            soft["dream_readout"] = "expected"
        for label, fields in ((PAPER_TEXT, {}), (DIFFERENTIABLE_TEXT, soft)):
            for seed in seeds:
                cfg = _run(profile, "text", seed, method=kind, chain=_default_chain("text"),
                           blocks=MAIN_BLOCKS, **fields)
                rows.append(Entry(label, cfg, variant=label))
    return rows


def table5_efficiency(profile: str) -> list[Entry]:
    """Table 5: training time per epoch of the vision models, from runs of Tables 3 / Fig 7."""
    names = {"ResNet18": ("baseline", "resnet18", None), "ResNet50": ("baseline", "resnet50", None),
             "MAE-base": ("finetune", None, None), "SleepNet": ("sleepnet", "resnet18", 3),
             "DreamNet": ("dreamnet", "resnet18", 3)}
    rows = []
    for paper_name, (kind, chain, blocks) in names.items():
        fields = {"method": kind}
        if chain:
            fields["chain"] = chain
        if blocks:
            fields["blocks"] = blocks
        cfg = _run(profile, "vision", **fields)
        label = _built_name(paper_name, cfg)
        rows.append(Entry(label, cfg, variant=label, paper=paper_name))
    return rows


def _built_name(paper_name: str, cfg: RunConfig) -> str:
    """A Table 5 row's name as built here, which may not be the paper's model: the
    fine-tuned encoder is the profile's (``mae-small`` at CPU scale, not MAE-base) and the
    methods carry their block count."""
    model = cfg.model.resolved()
    if model.method == "finetune":
        return f"{model.encoder} (fine-tuned)"
    if model.method in ("sleepnet", "dreamnet"):
        return f"{paper_name}-{model.blocks}"
    return paper_name


def dreams(profile: str) -> list[Entry]:
    """Fig 6 and Table 1: the dreams of DreamNet-3 (vision and text)."""
    return [Entry("DreamNet-3", _run(profile, task, method="dreamnet", blocks=3,
                                     chain=_default_chain(task)))
            for task in ("vision", "text")]


GRIDS = {
    "table3_vision": table3_vision,
    "vision_plateau": vision_plateau,
    "table4_text": table4_text,
    "text_plateau": text_plateau,
    "block_curves": block_curves,
    "fig7_chains": fig7_chains,
    "fig8_encoders": fig8_encoders,
    "fig9_freeze": fig9_freeze,
    "text_design_choices": text_design_choices,
    "table5_efficiency": table5_efficiency,
    "dreams": dreams,
}


# The grids each numbered notebook trains or reads (the plan of `python -m dreamlib reproduce`).
NOTEBOOK_GRIDS = {
    "02": ("table3_vision", "vision_plateau"), "03": ("table4_text", "text_plateau"),
    "04": ("block_curves",),
    "05": ("fig7_chains",), "06": ("fig8_encoders",),
    "07": ("fig9_freeze", "text_design_choices"),
    "08": ("table5_efficiency",), "09": ("dreams",), "10": tuple(GRIDS),
}


def notebook_entries(profile: str, notebooks=None) -> list[Entry]:
    """The entries of the grids that the notebooks numbered ``notebooks`` (e.g. ["02", "08"];
    default all) run, each grid once, in notebook order."""
    grids = dict.fromkeys(grid for number, names in NOTEBOOK_GRIDS.items()
                          if notebooks is None or number in notebooks for grid in names)
    return [entry for grid in grids for entry in GRIDS[grid](profile)]


def reference_accuracies(profile: str, task: str, data_dir: str | None = None) -> dict:
    """Non-neural reference rows beside Tables 3/4, on the main comparison's split (its
    training examples, and the test set every model uses): the majority class, and for text
    TF-IDF + logistic regression fitted on the same training examples as the chain.
    {label: accuracy 0-1}."""
    cfg = _main(profile, task, method="baseline")
    split = (cfg.dataset, data_dir, cfg.max_train, cfg.max_test)
    out = {"Majority class": majority_accuracy(*split)}
    if task == "text":
        out["TF-IDF + logistic regression"] = tfidf_accuracy(*split)
    return out


def probe_setup(profile: str, task: str) -> tuple[RunConfig, list[str]]:
    """What notebook 01's linear probes use for ``task``: the chain's run config (its
    labelled training examples and the fixed test set) and the pre-trained encoders to probe:
    the methods' encoder and every pre-trained encoder of Fig 8's variants."""
    settings = grid_settings(profile)
    names = [_run(profile, task, method=kind).model.resolved().encoder
             for kind in ("sleepnet", "dreamnet")]
    for kind in ("sleepnet", "dreamnet"):
        for _, fields in settings["encoder_variants"].get((task, kind), []):
            fields = dict(fields)
            if fields.get("pretrained", True) and "encoder" in fields:
                names.append(fields["encoder"])
    return _run(profile, task, method="baseline"), list(dict.fromkeys(names))


def pretrained_encoders(profile: str, data_dir: str | None = None) -> dict:
    """The shipped pre-trained autoencoders the runs of ``profile`` use: {name: (folder,
    held-out loss per epoch)}, each folder verified against dreamlib/weights/MANIFEST.json;
    nothing is trained here (train and held-out curves: ``dreamlib.shipped.shipped_curves``).

    Empty where the profile's encoders come pre-trained from the hub (paper profile).
    """
    out = {}
    for task in ("vision", "text"):
        cfg = dataclasses.replace(_run(profile, task, method="dreamnet"), data_dir=data_dir)
        source = resolve_encoder_source(cfg)
        if source is not None and cfg.model.encoder in EMBEDDED_ENCODERS:
            out[cfg.model.encoder] = (Path(source), pretrain_losses(cfg.model.encoder))
    return out
