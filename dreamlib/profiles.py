"""Profiles: sizes and sources for three scales. A profile never changes a code path.

* ``smoke``   — seconds per run: CI and nbval (scikit-learn digits, Debian fortunes, tiny widths).
* ``default`` — a laptop CPU: Debian fashion-mnist and WordNet noun definitions, the shipped
  pre-trained embedded encoders, subsets of the training split; the main comparison where
  the chains have converged, curves and ablations at a quick scale (:data:`GRID_SETTINGS`);
  ``make reproduce`` from an empty store in about 5 hours on 2 cores.
* ``paper``   — the paper's protocol: CIFAR-100 / AG News, hub encoders, 224 px, 30 epochs, GPU.

Each entry of :data:`PROFILES` holds defaults for :class:`~dreamlib.config.ModelConfig`
(``model`` key) and for :class:`~dreamlib.runs.RunConfig` (the rest); explicit command-line
flags override them. :data:`GRID_SETTINGS` holds what the experiment grids read from a
profile (seeds, head, encoders). Both are data: code reads them and never tests a profile's
name, so the paper profile runs exactly the code the smoke profile tests. The paper's own
facts (datasets, encoders, epochs) come from :mod:`dreamlib.paper`.
"""

from __future__ import annotations

from . import paper
from .config import ModelConfig
from .data import DATASETS, get_info
from .errors import choice_error
from .runs import RunConfig

PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "vision": {"dataset": "digits", "epochs": 2, "batch_size": 64, "max_train": 256,
                   "max_test": 128, "eval_every": 2,
                   "model": {"image_size": 16, "width": 8, "in_channels": 1}},
        "text": {"dataset": "fortunes", "epochs": 2, "batch_size": 64, "max_train": 128,
                 "max_test": 64, "eval_every": 2,
                 "model": {"seq_len": 16, "width": 16}},
    },
    # Sized by measured step times (2 CPU cores) so that `make reproduce` fits its budget:
    # no augmentation (the authors' own trainer uses none; in 3 epochs it only slows the
    # chain), a cosine decay (the last epoch is not a random point of a still-noisy curve),
    # and one fixed 2,000-example test subset shared by every run.
    "default": {
        "vision": {"dataset": "fashion-mnist", "epochs": 3, "batch_size": 128, "max_train": 5000,
                   "max_test": 2000, "eval_every": 3, "augment": False, "decay": "cosine",
                   "model": {"image_size": 28, "width": 8, "in_channels": 1}},
        "text": {"dataset": "wordnet-nouns", "epochs": 3, "batch_size": 64, "max_train": 4000,
                 "max_test": 2000, "eval_every": 3, "augment": False, "decay": "cosine",
                 "model": {"seq_len": 16, "width": 32}},
    },
    "paper": {
        "vision": {"dataset": paper.MAIN_DATASETS["vision"],
                   "epochs": paper.TRAINING_PROTOCOL["epochs"], "batch_size": 128,
                   "precision": "bf16", "workers": 8,  # 224 px resizes, made ahead of the GPU
                   "model": {**paper.INPUT_SIZES["vision"], "width": 64, "in_channels": 3,
                             "encoder": paper.PAPER_ENCODERS[("vision", "dreamnet")]}},
        "text": {"dataset": paper.MAIN_DATASETS["text"],
                 "epochs": paper.TRAINING_PROTOCOL["epochs"], "batch_size": 64,
                 "precision": "bf16",
                 "model": {**paper.INPUT_SIZES["text"], "width": 128,
                           "encoder": paper.PAPER_ENCODERS[("text", "sleepnet")]}},
    },
}

# Fig 8 at CPU scale: the same small autoencoder untrained and pre-trained; text SleepNet adds
# the packaged real pre-trained MiniLM (22.7M parameters; SleepNet only, to keep the CPU budget).
_EMBEDDED_VARIANTS = {
    (task, kind): [(f"{small} untrained", {"encoder": small, "pretrained": False}),
                   (f"{small} pre-trained", {"encoder": small})]
    + ([("minilm (pre-trained, 22.7M)", {"encoder": "minilm"})]
       if (task, kind) == ("text", "sleepnet") else [])
    for task, small in (("vision", "mae-small"), ("text", "mlm-small"))
    for kind in ("sleepnet", "dreamnet")
}
# Fig 8 at paper scale: each method's hub encoder, base then large.
_HUB_VARIANTS = {key: [(name.split("/")[-1], {"encoder": name}) for name in names]
                 for key, names in paper.ENCODER_SIZES.items()}

# Fig 7 at CPU scale: three chains per task, the fewest a slope over chain levels can be
# tested with (claims.trend needs 3 levels). Vision: the paper's ResNet18/34/50; text: the
# main rows' LSTM in place of the paper's LSTM-2, then WordCNN and CharCNN. The third chain
# of each task adds 18 quick-scale runs: 18.5 minutes of training in all (their metrics'
# seconds_per_epoch x epochs), about 10 on 2 cores.
_CPU_CHAINS = {"vision": ("resnet18", "resnet34", "resnet50"),
               "text": ("lstm", "wordcnn", "charcnn")}

#: What the experiment grids take from a profile besides run defaults: the seeds of the main
#: rows, per task (``main_seeds``: chain baseline, control, SleepNet-2/DreamNet-2 of Tables
#: 3/4), the run fields of their main scale per task (``main_scale``: empty keeps the run
#: defaults), the seeds of each arm of the encoder and freeze ablations (``ablation_seeds``:
#: Figs 8/9), of every point of a curve (``curve_seeds``: block counts, Fig 7's chains, the
#: chain's plateau), the connection head, each
#: method's encoder (empty: the model config's default, an embedded encoder), Fig 8's encoder
#: variants, Fig 7's chains, and whether its outputs are the results committed in the repository
#: (``publish``) or go under .cache/outputs/.
GRID_SETTINGS: dict[str, dict] = {
    "smoke": {"main_seeds": {"vision": (0, 1), "text": (0, 1)}, "main_scale": {},
              "ablation_seeds": (0, 1),
              "curve_seeds": (0,), "a_out": "linear", "encoders": {},
              "encoder_variants": _EMBEDDED_VARIANTS, "chains": paper.FIG7_CHAINS,
              "publish": False},
    # Two scales. The main comparison (Tables 3/4's chain, control, SleepNet-2, DreamNet-2)
    # at ``main_scale``, where the chain is on its plateau: doubling its epochs moved its mean
    # less than its 95 % CI half-width (3 seeds, this machine: ResNet18 on 20,000 images
    # 89.0 % +- 1.1 after 3 epochs, 89.8 after 6; LSTM on 16,000 definitions 77.8 % +- 1.8
    # after 12, 78.7 after 24, 75.0 after 6; TF-IDF + logistic regression on the same 16,000:
    # 83.9 %, so the LSTM reaches 0.93 of it). Curves and ablations at the quick scale (the
    # profile's run defaults above). Main rows: 5 seeds in vision, 10 in text (with 5, the
    # text SleepNet-2 row's seed spread, 1.2 points, gave a CI half-width of 1.5; the
    # target is 1.0); ablation arms 5; curve points 3.
    "default": {"main_seeds": {"vision": tuple(range(5)), "text": tuple(range(10))},
                "main_scale": {"vision": {"max_train": 20000, "epochs": 3, "eval_every": 3},
                               "text": {"max_train": 16000, "epochs": 12, "eval_every": 12}},
                "ablation_seeds": (0, 1, 2, 3, 4), "curve_seeds": (0, 1, 2), "a_out": "linear",
                "encoders": {}, "encoder_variants": _EMBEDDED_VARIANTS,
                "chains": _CPU_CHAINS, "publish": True},
    "paper": {"main_seeds": {"vision": (0,), "text": (0,)}, "main_scale": {},
              "ablation_seeds": (0,),
              "curve_seeds": (0,), "a_out": "linear",
              "encoders": paper.PAPER_ENCODERS, "encoder_variants": _HUB_VARIANTS,
              "chains": paper.FIG7_CHAINS, "publish": False},
}


def profile_names() -> list[str]:
    return list(PROFILES)


def grid_settings(profile: str) -> dict:
    """The experiment-grid settings of ``profile`` (see :data:`GRID_SETTINGS`)."""
    if profile not in GRID_SETTINGS:
        raise choice_error("profile", profile, GRID_SETTINGS)
    return GRID_SETTINGS[profile]


def profile_defaults(profile: str, task: str) -> dict:
    """The defaults of ``profile`` for ``task`` (a copy, safe to modify)."""
    if profile not in PROFILES:
        raise choice_error("profile", profile, PROFILES)
    if task not in PROFILES[profile]:
        raise choice_error("task", task, PROFILES[profile])
    entry = PROFILES[profile][task]
    return {**entry, "model": dict(entry["model"])}


def make_run_config(profile: str, task: str, model: dict | None = None, **run) -> RunConfig:
    """A validated run config: the profile's defaults, overridden by ``model`` and ``run``.

    ``num_classes`` and ``in_channels`` follow the dataset unless given explicitly.
    """
    defaults = profile_defaults(profile, task)
    model_fields = {**defaults.pop("model"), "task": task, **(model or {})}
    run_fields = {**defaults, **{k: v for k, v in run.items() if v is not None}}
    info = get_info(run_fields["dataset"])
    if info.task != task:
        raise choice_error(f"{task} dataset", run_fields["dataset"],
                           [n for n, i in DATASETS.items() if i.task == task])
    model_fields.setdefault("num_classes", info.num_classes)
    if task == "vision" and "in_channels" not in (model or {}):
        model_fields["in_channels"] = info.channels or model_fields.get("in_channels", 3)
    cfg = RunConfig(model=ModelConfig(**model_fields), **run_fields)
    return cfg.validate()
