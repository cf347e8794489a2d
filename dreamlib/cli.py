"""``python -m dreamlib COMMAND``: count, train, pretrain, bench and reproduce SleepNet / DreamNet.

Bad input never shows a traceback: it prints one line naming the culprit and the fix and
exits with status 2 (``--debug`` shows the full traceback instead). Arguments are checked
against the dataset and the model before anything is written (:mod:`dreamlib.validate`). An
operating-system error on a path (a full disk, a missing write permission, a read-only mount,
a path under a regular file or in ``/proc``) is one line too (naming the path), status 74.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from .config import DREAM_READOUTS, HEADS, METHODS, TASKS, ModelConfig
from .errors import ConfigError, DreamlibError, write_error_message
from .profiles import make_run_config
from .runs import METRICS_FILE, check_metrics

# Each command imports the modules it runs inside its own function: they load torch and
# transformers (seconds), which `--help` and a mistyped flag should not wait for.

EXIT_USER_ERROR = 2
EXIT_IO_ERROR = 74  # sysexits.h EX_IOERR: the input was fine, the disk refused the output


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that define a model (shared by count, train and bench)."""
    parser.add_argument("--task", default="vision", help=" | ".join(TASKS))
    parser.add_argument("--model", default="sleepnet", help="the method: " + " | ".join(METHODS))
    parser.add_argument("--chain", help="resnet18|resnet34|resnet50 (vision), lstm[-k]|wordcnn|charcnn (text)")
    parser.add_argument("--blocks", type=int, default=None, help="number of sleep/dream blocks M (1..4)")
    parser.add_argument("--encoder", help="hub name, local folder, mae-small, mlm-small or minilm")
    parser.add_argument("--head", default=None, help="A_out, the connection's output map: " + " | ".join(HEADS))
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--in-channels", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--width", type=int, default=None, help="chain width (ResNet base channels / text hidden)")
    parser.add_argument("--mask-ratio", type=float, default=None, help="MAE mask ratio in the connections")
    parser.add_argument("--unfrozen", action="store_true", default=None, help="train the encoder too")
    parser.add_argument("--straight-through", action="store_true", default=None,
                        help="text: straight-through gradients through the argmax")
    parser.add_argument("--dream-readout", default=None,
                        help="text DreamNet: how A_out reads the dream: " + " | ".join(DREAM_READOUTS))


MODEL_FLAG_FIELDS = {
    "task": "task", "model": "method", "chain": "chain", "blocks": "blocks", "encoder": "encoder",
    "head": "a_out", "image_size": "image_size", "in_channels": "in_channels", "seq_len": "seq_len",
    "num_classes": "num_classes", "width": "width", "mask_ratio": "mask_ratio",
    "unfrozen": "unfrozen", "straight_through": "straight_through",
    "dream_readout": "dream_readout",
}


def model_overrides(args: argparse.Namespace) -> dict:
    """The model fields the user set explicitly (None means 'not given')."""
    return {field: getattr(args, flag) for flag, field in MODEL_FLAG_FIELDS.items()
            if getattr(args, flag, None) is not None}


def model_config(args: argparse.Namespace, training: bool = False) -> ModelConfig:
    """The model the flags ask for, checked against what the model can take
    (:func:`dreamlib.validate.check_model`: sizes, channels, memory) before it is built."""
    from .validate import check_model  # deferred: loads torch (see the note at the top)

    return check_model(ModelConfig(**model_overrides(args)), training=training)


def cmd_count(args: argparse.Namespace) -> int:
    from .counting import count  # deferred: loads torch

    print(json.dumps(count(model_config(args))))
    return 0


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of a training run; unset ones come from the profile."""
    parser.add_argument("--profile", default="default", help="smoke | default | paper (sizes and sources)")
    parser.add_argument("--dataset", help="registry name, e.g. fashion-mnist, fortunes, cifar100, ag_news")
    parser.add_argument("--data-dir", help="folder holding the dataset in its standard layout")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--encoder-lr", type=float, help="learning rate of an unfrozen encoder")
    parser.add_argument("--max-train", type=int, help="use a stratified subset of the training split")
    parser.add_argument("--max-test", type=int, help="use a stratified subset of the test split")
    parser.add_argument("--untrained", dest="pretrained", action="store_false", default=None,
                        help="mae-small/mlm-small randomly initialised instead of their shipped "
                             "pre-trained weights (the ablation)")
    parser.add_argument("--decay", choices=("constant", "cosine"),
                        help="learning rate after the warm-up: constant (the paper) or cosine to 0")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                        help="turn off RandAugment/MixUp (vision) and word edits (text)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--eval-every", type=int,
                        help="test accuracy every N epochs (always after the last)")
    parser.add_argument("--workers", type=int,
                        help="DataLoader processes that collate batches ahead of the step "
                             "(default 0: in the training process); the result does not change")


RUN_FLAG_FIELDS = ("dataset", "epochs", "batch_size", "lr", "encoder_lr", "max_train", "max_test",
                   "pretrained", "decay", "precision", "augment", "seed", "data_dir", "eval_every",
                   "workers")


def run_config(args: argparse.Namespace):
    """The RunConfig asked for by the flags: profile defaults, then explicit flags."""
    overrides = model_overrides(args)
    task = overrides.pop("task", "vision")
    run = {name: getattr(args, name) for name in RUN_FLAG_FIELDS}
    return make_run_config(args.profile, task, model=overrides, **run)


def cmd_train(args: argparse.Namespace) -> int:
    from .train import train_run  # deferred: loads torch

    metrics = train_run(run_config(args), args.out, progress=not args.quiet)
    keys = ("accuracy", "train_loss", "params", "trainable_params", "flops", "seconds_per_epoch")
    check_metrics(metrics, os.path.join(args.out, METRICS_FILE), keys)  # a damaged reused run
    if os.environ.get("RANK", "0") == "0":  # one line per run, not per process
        print(json.dumps({k: metrics[k] for k in keys}))
    return 0


PRETRAIN_FLAG_FIELDS = ("dataset", "epochs", "patience", "max_items", "heldout", "seq_len",
                        "batch_size", "lr", "weight_decay", "warmup", "seed")


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Regenerate a shipped encoder: its recipe (dreamlib.pretrain.RECIPES), changed by the
    flags given; other settings than the recipe's need --out (never the shipped weights)."""
    from .pretrain import DEFAULT_THREADS, RECIPES, pretrain  # deferred: loads torch
    from .shipped import manifest_entry

    fields = {k: getattr(args, k) for k in PRETRAIN_FLAG_FIELDS if getattr(args, k) is not None}
    cfg = dataclasses.replace(RECIPES[args.encoder], **fields)
    threads = DEFAULT_THREADS if args.threads is None else args.threads
    folder = pretrain(cfg, args.out, args.data_dir, threads=threads)
    entry = manifest_entry(args.encoder, folder.parent)
    keys = ("best_epoch", "best_heldout_loss", "heldout_accuracy", "stopped", "wall_seconds")
    print(json.dumps({"folder": str(folder), **{k: entry[k] for k in keys if k in entry},
                      "heldout_losses": [row["heldout_loss"] for row in entry["curve"]],
                      "files": {name: info["sha256"] for name, info in entry["files"].items()}}))
    return 0


def positive_int(text: str) -> int:
    """argparse type of --jobs/--threads: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def count_of_gpus(text: str) -> int:
    """argparse type of --gpus-per-run: 0 (CPU) or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive whole number, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """argparse type of --mem-gb: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line (exit 2), like every other error."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def launch_options(args: argparse.Namespace):
    """The launcher flags of ``reproduce`` (:class:`dreamlib.launch.LaunchOptions`), checked
    before anything loads or is written (:func:`dreamlib.launch.check_options`)."""
    from .launch import LaunchOptions, check_options

    options = LaunchOptions(
        launcher=args.launcher, jobs=args.jobs, threads=args.threads, wait=not args.no_wait,
        partition=args.partition, account=args.account, gpus=args.gpus_per_run,
        cpus=args.cpus_per_run, mem_gb=args.mem_gb, time_min=args.time_min,
        config=args.cluster_config)
    return check_options(options) if not args.dry_run else options


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .launch import check_options

    launch = launch_options(args)
    from .reproduce import reproduce  # deferred: loads torch and papermill

    if args.dry_run:
        from .dryrun import dry_run  # deferred: loads torch

        if args.runs_dir or args.data_dir:
            raise ConfigError("--dry-run makes its own data and run store; leave out --runs-dir "
                              "and --data-dir")
        if args.jobs is not None or args.threads is not None:
            raise ConfigError("--dry-run trains one run at a time (each is sized to fill the dry "
                              "run's memory budget); leave out --jobs and --threads")
        if launch.launcher != "inline":
            raise ConfigError("--dry-run trains its runs on this machine; leave out "
                              f"--launcher {launch.launcher}")
        check_options(launch)  # job flags without a job launcher
        failed = dry_run(args.profile, args.only, args.output_dir)
    else:
        failed = reproduce(args.profile, args.only, args.output_dir, args.runs_dir, args.data_dir,
                           jobs=args.jobs, threads=args.threads,
                           launch=launch if launch.launcher != "inline" else None)
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench  # deferred: loads torch
    from .validate import check_bench

    check_bench(args.batch_size, args.steps, args.warmup)
    result = bench(model_config(args, training=True), args.batch_size, args.steps, args.warmup,
                   args.precision, args.compile, args.device, args.channels_last)
    print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m dreamlib", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("--debug", action="store_true", help="show full tracebacks")
        sub.set_defaults(func=func)
        return sub

    add_model_flags(command("count", cmd_count, "params and FLOPs of a configuration (offline)"))

    train = command("train", cmd_train, "train one configuration into a run folder (resumable)")
    add_model_flags(train)
    add_run_flags(train)
    train.add_argument("--out", required=True, help="run folder (rerun to resume or reuse)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    ben = command("bench", cmd_bench, "median training-step time and peak memory (offline)")
    add_model_flags(ben)
    ben.add_argument("--batch-size", type=int, default=2)
    ben.add_argument("--steps", type=int, default=5)
    ben.add_argument("--warmup", type=int, default=1)
    ben.add_argument("--precision", default="fp32", help="fp32 | bf16 (autocast)")
    ben.add_argument("--compile", action="store_true", help="torch.compile the model")
    ben.add_argument("--device", default="cpu", help="cpu | cuda")
    ben.add_argument("--channels-last", action="store_true",
                     help="NHWC images and conv weights (vision)")

    rep = command("reproduce", cmd_reproduce, "run the notebooks in batch (papermill)")
    rep.add_argument("--profile", default="default", help="smoke | default | paper")
    rep.add_argument("--only", help="comma-separated notebook numbers, e.g. 02,05")
    rep.add_argument("--output-dir", help="folder for results/ and figures/ (default: see docs)")
    rep.add_argument("--runs-dir", help="run store (default: <output-dir>/results/runs)")
    rep.add_argument("--data-dir", help="folder holding the datasets in their standard layouts")
    rep.add_argument("--jobs", type=positive_int,
                     help="runs trained at once, in separate processes, before the notebooks "
                          "(default: from the machine, e.g. 2 on 2 CPU cores, 1 with a GPU; "
                          "1: the notebooks train their runs one after another)")
    rep.add_argument("--threads", type=positive_int,
                     help="torch threads of each such process (default: the cores shared "
                          "between the jobs; recorded in each run's metrics.json: results are "
                          "bit-identical only at the same thread count)")
    rep.add_argument("--launcher", default="inline",
                     help="who trains the plan's missing runs: inline (this process and its "
                          "pool, the default), local (submitit jobs on this machine) or slurm "
                          "(a submitit job array; see docs/cluster.md). With local/slurm, "
                          "--jobs caps the runs at once and --threads sets each run's threads")
    rep.add_argument("--no-wait", action="store_true",
                     help="local/slurm: submit the jobs and exit; rerun the same command later "
                          "to collect them and run the notebooks")
    rep.add_argument("--partition", help="slurm: the partition of every job")
    rep.add_argument("--account", help="slurm: the account to charge")
    rep.add_argument("--gpus-per-run", type=count_of_gpus,
                     help="local/slurm: GPUs of each run's job (default: 1 in the paper "
                          "profile, else 0; 2+: accelerate launch inside the job)")
    rep.add_argument("--cpus-per-run", type=positive_int,
                     help="slurm: CPUs of each job (default: the profile's)")
    rep.add_argument("--mem-gb", type=positive_number,
                     help="slurm: memory of each job in GB (default: from the model's size)")
    rep.add_argument("--time-min", type=positive_int,
                     help="slurm: time limit of each job in minutes (default: from the dry "
                          "run's FLOPs estimate, x3, at least the profile's)")
    rep.add_argument("--cluster-config", help="local/slurm: a TOML file of these settings, "
                     "also per run kind (see docs/cluster.md); flags win")
    rep.add_argument("--dry-run", action="store_true",
                     help="print the plan, then run every notebook at the profile's model sizes "
                          "on generated data, random-weight encoders and a few steps per run "
                          "(default output: a temporary folder)")

    pre = command("pretrain", cmd_pretrain,
                  "regenerate a shipped pre-trained encoder (dreamlib/weights) from its recipe")
    pre.add_argument("--encoder", required=True, choices=("mae-small", "mlm-small", "minilm-head"))
    pre.add_argument("--out", help="folder for <encoder>/ and MANIFEST.json (default: the shipped "
                                   "weights, dreamlib/weights or $DREAMLIB_WEIGHTS)")
    pre.add_argument("--threads", type=int,
                     help="torch threads (default 1; recorded: the same count on the same machine "
                          "gives bit-identical weights)")
    pre.add_argument("--dataset", help="training split to pre-train on (default: the recipe's)")
    pre.add_argument("--data-dir")
    pre.add_argument("--epochs", type=int, help="most epochs (early stopping may end sooner)")
    pre.add_argument("--patience", type=int, help="epochs without held-out improvement to stop")
    pre.add_argument("--max-items", type=int, help="a stratified subset of the training split")
    pre.add_argument("--heldout", type=int, help="training examples held out for the held-out loss")
    pre.add_argument("--seq-len", type=int)
    pre.add_argument("--batch-size", type=int)
    pre.add_argument("--lr", type=float)
    pre.add_argument("--weight-decay", type=float)
    pre.add_argument("--warmup", type=float, help="fraction of the steps with a linear warm-up")
    pre.add_argument("--seed", type=int)
    return parser


def check_text_flags(args: argparse.Namespace) -> None:
    """Text values no command can use: empty (``--out ""`` would mean the current folder,
    ``--only ""`` every notebook) or holding a NUL byte (no path can)."""
    for name, value in sorted(vars(args).items()):
        if not isinstance(value, str) or name == "command":
            continue
        flag = "--" + name.replace("_", "-")
        if not value.strip():
            raise ConfigError(f"{flag} is empty; pass a value, or leave an optional flag out "
                              "(see --help)")
        if "\0" in value:
            raise ConfigError(f"{flag} {value!r} holds a NUL byte, which no name or path can; "
                              "remove it")


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator failure (CPU or GPU): fixed by smaller sizes, not code."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return type(exc).__name__ == "OutOfMemoryError" or any(
        marker in text for marker in ("can't allocate memory", "out of memory",
                                      "not enough memory"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        check_text_flags(args)
        return int(args.func(args) or 0)
    except DreamlibError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a full disk, no permission, a path the user gave: fixed by the user
        message = write_error_message(exc)
        if debug or message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_IO_ERROR
    except (RuntimeError, MemoryError) as exc:
        if debug or not out_of_memory(exc):
            raise
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        print(f"error: out of memory ({reason}); lower --batch-size, --width, --image-size, "
              "--seq-len or --num-classes", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
