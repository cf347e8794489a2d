"""Train and evaluate one run (Hugging Face Accelerate), resumable to the identical result.

The loop follows the paper's protocol: Adam (lr 0.005, betas 0.9/0.999, eps 1e-5) with a
linear warm-up over the first 10% of steps, cross-entropy on the (MixUp-soft) labels,
accuracy on the test split after every epoch.

Reproducibility by construction: every epoch reseeds torch's RNG from (seed, epoch, process)
and shuffles with its own generator, so an epoch's result depends only on the state saved at
the end of the previous one. A checkpoint (trainable weights, optimizer, scheduler, epoch)
is written atomically after every epoch; a killed run restarts from it and ends bit-identical
to an uninterrupted one on the same device. The frozen encoder is not checkpointed: it is
reloaded from its source.

Several processes (``accelerate launch``) split each global batch; gradients are averaged by
DDP, so the update equals the single-process one up to floating-point summation order
(batch-norm statistics are per process, as usual with DDP).
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .counting import config_flops, count_parameters
from .encoders import EMBEDDED_ENCODERS
from .errors import ConfigError, DreamlibError
from .locks import RunLock, main_process
from .models import build_model, channels_last, encoder_parameters
from .provenance import device_name, versions
from .runs import (CHECKPOINT_FILE, CONFIG_FILE, LOG_FILE, METRICS_FILE, RunConfig,
                   atomic_torch_save, atomic_write_json, atomic_write_text, check_claimable,
                   claim_folder, damaged, load_metrics, read_log_rows, release_unstarted,
                   remove_temp_files, write_predictions)
from .shipped import shipped_folder
from .transforms import collate, load_data, mixup, model_inputs
from .validate import check_loaded_classes, check_run

LOG_COLUMNS = ("epoch", "train_loss", "test_accuracy", "train_seconds", "eval_seconds", "lr")
MIXUP_ALPHA = 0.2


class TrainingDiverged(DreamlibError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


def epoch_order(size: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of one epoch: a function of (seed, epoch) only."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def shard_batches(order: torch.Tensor, batch_size: int, rank: int, world: int) -> list[torch.Tensor]:
    """This process's share of each global batch (global batches are identical for any world)."""
    batches = []
    for start in range(0, len(order), batch_size):
        global_batch = order[start:start + batch_size]
        if len(global_batch) < world:
            continue  # a tail smaller than the process count cannot be split
        batches.append(global_batch.tensor_split(world)[rank])
    return batches


def reseed(seed: int, epoch: int, rank: int) -> None:
    """Seed torch's global RNG (RandAugment, MixUp, MAE masking, dropout) for one epoch."""
    torch.manual_seed(seed * 1_000_003 + epoch * 1009 + rank)


# ------------------------------------------------------------------------------------------
# Optimisation
# ------------------------------------------------------------------------------------------


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """Adam as in the paper; a trained pre-trained encoder (unfrozen, or the fine-tuned
    baseline) gets its own, smaller learning rate ``encoder_lr`` (1e-4, with the same warm-up),
    the standard way to fine-tune: at the chain's 5e-3 a transformer forgets what it learned
    (a fine-tuned MAE ended at a loss of ln 10, chance, in an earlier default profile)."""
    encoder_ids = {id(p) for p in encoder_parameters(model)}
    chain = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    encoder = [p for p in encoder_parameters(model) if p.requires_grad]
    groups = [{"params": chain, "lr": cfg.lr}]
    if encoder:
        groups.append({"params": encoder, "lr": cfg.encoder_lr})
    return adam(groups, betas=cfg.betas, eps=cfg.eps)


def adam(params, **hyper) -> torch.optim.Adam:
    """Adam with the fused kernel wherever torch has one (CPU and CUDA floating point).

    One fused pass reads each parameter, gradient and moment once; the ``foreach`` kernels
    make several passes. With the paper's 300M-parameter linear heads the update is memory
    bound: measured 0.3-0.7 s (fused) vs 1.6-2.0 s (foreach) for one Linear(768, 128*56*56) on
    2 CPU cores (benchmarks/README.md). Same update rule; results agree to float rounding.
    """
    params = list(params)
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    fusable = all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in tensors)
    return torch.optim.Adam(params, **hyper, **({"fused": True} if fusable else {"foreach": True}))


def warmup_schedule(optimizer, total_steps: int, warmup: float, decay: str = "constant"):
    """Linear warm-up over the first ``warmup`` fraction of steps, then constant (the paper)
    or a cosine decay to zero at the last step.

    The decay matters for short runs: at a constant 5e-3 the test accuracy of the last epoch
    still swings by points from one epoch to the next, and that swing becomes seed-to-seed
    spread that no number of seeds averages away cheaply (CPU profiles use ``cosine``)."""
    warm = max(1, math.ceil(total_steps * warmup)) if warmup > 0 else 0

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if decay == "constant":
            return 1.0
        progress = (step - warm + 1) / max(1, total_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for hard (B,) or MixUp-soft (B, K) targets."""
    if targets.ndim == 1:
        return F.cross_entropy(logits, targets)
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# ------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------


def _frozen_keys(model: nn.Module) -> set[str]:
    """State-dict keys of frozen encoder parameters (reloaded from source, never saved)."""
    encoder = getattr(model, "encoder", None)
    if encoder is None or not encoder.frozen:
        return set()
    return {f"encoder.{name}" for name in encoder.state_dict()}


def trainable_state(model: nn.Module) -> dict:
    skip = _frozen_keys(model)
    return {k: v for k, v in model.state_dict().items() if k not in skip}


def save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int) -> None:
    atomic_torch_save({"model": trainable_state(model), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "epoch": epoch}, path)


def load_weights(model: nn.Module, weights: dict) -> None:
    """Load a checkpoint's weights into ``model``: every key but the frozen encoder's (which
    is reloaded from its source) must be there, and nothing else (a KeyError naming the
    first differences): a partial load would give another model than the run trained."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = sorted(set(missing) - _frozen_keys(model))
    if missing or unexpected:
        raise KeyError(f"missing {missing[:3]}, unexpected {sorted(unexpected)[:3]}")


def load_checkpoint(path: Path, model, optimizer, scheduler) -> int:
    """Restore a checkpoint; returns the number of finished epochs."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        load_weights(model, state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        return int(state["epoch"])
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the same user problem
        raise DreamlibError(
            f"checkpoint {path} is unreadable or does not match the model ({exc.__class__.__name__}); "
            "delete it to restart the run from epoch 0"
        ) from exc


def write_log(folder: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / LOG_FILE, buffer.getvalue())


# ------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------


def resolve_encoder_source(cfg: RunConfig) -> str | None:
    """Where a run's embedded encoder (mae-small, mlm-small) loads from: its shipped
    pre-trained folder in dreamlib/weights, every file checked against the SHA-256 of the
    manifest first (a missing or changed file is one error naming it and the fix); None for
    the untrained ablation (``pretrained=False``: random init) and for every other encoder,
    which loads by its name. Never trains."""
    model = cfg.model
    if not model.uses_encoder:
        return None
    if model.encoder not in EMBEDDED_ENCODERS:
        if not cfg.pretrained:
            raise ConfigError(f"--untrained (pretrained=False) applies to the embedded encoders "
                              f"{', '.join(EMBEDDED_ENCODERS)}, not to {model.encoder!r}; drop it "
                              "or pick one of those with --encoder")
        return None
    if not cfg.pretrained:
        return None  # explicitly untrained: the random-init ablation
    return str(shipped_folder(model.encoder))


class CollatedBatches(Dataset):
    """Batch ``i`` of a fixed list of index batches, collated: what a loader worker makes."""

    def __init__(self, dataset: Dataset, batches: list[torch.Tensor]):
        self.dataset, self.batches = dataset, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        return collate(self.dataset, self.batches[index])


def batch_loader(dataset: Dataset, batches: list[torch.Tensor], workers: int = 0,
                 device: torch.device | None = None) -> DataLoader:
    """The collated ``batches`` in their order, made ahead of the step by ``workers``
    processes (0: in this one) and, for a CUDA device, in pinned memory so that the copy to
    the GPU runs asynchronously.

    The order and the random numbers stay in the training process: collating draws none
    (RandAugment and MixUp run after it, in :func:`model_inputs` and the loop), so a run's
    batches, and its numbers, are the same for any number of workers. The loader gets a
    generator of its own: each of its iterators draws a base seed for its workers, and drawn
    from torch's global RNG that would shift every MAE mask and dropout draw after it, tying
    a run's numbers to DataLoader internals."""
    pin = device is not None and device.type == "cuda"
    return DataLoader(CollatedBatches(dataset, batches), batch_size=None, shuffle=False,
                      num_workers=workers, pin_memory=pin, generator=torch.Generator())


def evaluate(model: nn.Module, dataset: Dataset, task: str, batch_size: int, accelerator,
             workers: int = 0) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Test accuracy (0–1) with every example's label and predicted class, in test-set order.

    Each process scores a strided shard; the shards' predictions are put back in place and
    summed across processes, so every process gets the whole test set's predictions (what
    :func:`dreamlib.runs.write_predictions` keeps for the test-set bootstrap)."""
    model.eval()
    size = len(dataset)
    indices = torch.arange(size)[accelerator.process_index::accelerator.num_processes]
    # label + 1 and prediction + 1 at this process's positions, zeros elsewhere: the sum over
    # processes fills every position exactly once
    placed = torch.zeros(2, size, dtype=torch.int64, device=accelerator.device)
    with torch.no_grad():
        for rows, batch in zip(indices.split(batch_size),
                               batch_loader(dataset, list(indices.split(batch_size)), workers,
                                            accelerator.device)):
            inputs, labels = model_inputs(batch, task, accelerator.device)
            with accelerator.autocast():
                logits = model(*inputs)
            placed[0, rows] = labels.to(torch.int64) + 1
            placed[1, rows] = logits.argmax(dim=-1).to(torch.int64) + 1
    placed = accelerator.reduce(placed, reduction="sum").cpu() - 1
    labels, predictions = placed[0], placed[1]
    return float((labels == predictions).double().mean()), labels, predictions


BN_CALIBRATION_EXAMPLES = 4096  # training examples whose statistics BatchNorm uses at evaluation


def recalibrate_batch_norm(model: nn.Module, dataset: Dataset, task: str, batch_size: int,
                           accelerator, seed: int, examples: int = BN_CALIBRATION_EXAMPLES,
                           workers: int = 0) -> None:
    """Set every BatchNorm's running statistics to those of the current weights ("precise BN").

    Why: the running averages trail the weights by a few dozen steps (momentum 0.1). With a
    high learning rate and few steps (CPU profiles: tens of steps per epoch at lr 0.005) the
    weights move faster than the averages, and a sleep connection's unnormalised addition makes
    the lag large: a default-profile SleepNet-2 seed scored 35 % with its trailing statistics
    and ~70 % with the statistics of its final weights. Here the statistics are the plain
    average over up to ``examples`` training examples (a fixed subset: seeded by the run's
    seed), without augmentation, through the model in eval mode (fixed MAE masks, no dropout)
    except for the BatchNorm layers. Every process computes the same statistics.
    """
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    model.eval()
    for norm in norms:
        norm.train()
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    # batch statistics of one example are undefined: such a last batch is left out
    chunks = [chunk for chunk in order[:examples].split(batch_size) if len(chunk) >= 2]
    with torch.no_grad():
        for batch in batch_loader(dataset, chunks, workers, accelerator.device):
            inputs, _ = model_inputs(batch, task, accelerator.device)
            with accelerator.autocast():
                model(*inputs)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()


def _mixed_precision(precision: str) -> str:
    return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]


def train_run(cfg: RunConfig, out: str | os.PathLike, log=print, progress: bool = True) -> dict:
    """Train ``cfg`` in folder ``out``; reuse it if finished, resume it if interrupted.

    The main process trains under the folder's lock (:mod:`dreamlib.locks`): a second worker
    on the same folder gets :class:`~dreamlib.locks.LockHeld` instead of training it twice, and
    a lock left by a killed worker is taken over. Once the lock is held, temp files a kill left
    behind are removed. A finished run is read without locking (nothing is written then).

    Before anything is written, ``cfg`` is checked against its dataset and model
    (:func:`dreamlib.validate.check_run`) and ``out`` must be new, empty or a run folder. A run
    that fails before its first epoch ends gives the folder back as it found it (the config
    it wrote is removed, a folder it created too), so the corrected command is not refused.
    """
    if not main_process() or (Path(out) / METRICS_FILE).is_file():
        return _train_run(cfg.validate(), out, log, progress)
    cfg = check_run(cfg)  # validates cfg (once) and checks it against its dataset and model
    check_claimable(out)  # a user's folder (files, no config.json) is refused untouched
    existed = Path(out).exists()
    try:
        with RunLock(out) as lock:
            if lock.took_over is not None:
                log(f"took over {out} from {lock.took_over.describe()}")
            fresh = not (Path(out) / CONFIG_FILE).exists()
            claim_folder(out, cfg)  # a folder of another run is refused before anything changes
            remove_temp_files(out)
            try:
                return _train_run(cfg, out, log, progress)
            except BaseException:
                if fresh:
                    release_unstarted(out, cfg)
                raise
    except BaseException:
        if not existed:
            try:
                Path(out).rmdir()  # only if empty: this attempt created it and left nothing
            except OSError:
                pass
        raise


def _train_run(cfg: RunConfig, out: str | os.PathLike, log=print, progress: bool = True) -> dict:
    """The training itself, of a validated ``cfg`` (see :func:`train_run`, which holds the
    lock around it)."""
    folder = Path(out)
    accelerator = Accelerator(mixed_precision=_mixed_precision(cfg.precision),
                              cpu=not torch.cuda.is_available())
    if accelerator.is_main_process:
        claim_folder(folder, cfg)
    accelerator.wait_for_everyone()
    finished = load_metrics(folder)
    if finished is not None:
        return finished
    source = resolve_encoder_source(cfg) if accelerator.is_main_process else None
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:  # after the main process: reports damage only once
        source = resolve_encoder_source(cfg)

    torch.manual_seed(cfg.seed)
    model = channels_last(build_model(cfg.model, pretrained=True, encoder_source=source))
    counts = count_parameters(model)
    flops = config_flops(cfg.model, model)
    data = load_data(cfg)
    check_loaded_classes(cfg, data.num_classes)
    world, rank = accelerator.num_processes, accelerator.process_index
    per_epoch = len(shard_batches(torch.arange(len(data.train)), cfg.batch_size, 0, world))
    optimizer = make_optimizer(model, cfg)
    scheduler = warmup_schedule(optimizer, per_epoch * cfg.epochs, cfg.warmup, cfg.decay)
    start = 0
    if (folder / CHECKPOINT_FILE).exists():
        start = load_checkpoint(folder / CHECKPOINT_FILE, model, optimizer, scheduler)
        log(f"resuming {folder} after epoch {start}")
    model, optimizer = accelerator.prepare(model, optimizer)
    rows = read_log_rows(folder, start)  # damage is one error naming log.csv
    for epoch in range(start, cfg.epochs):
        reseed(cfg.seed, epoch, rank)
        model.train()
        order = epoch_order(len(data.train), cfg.seed, epoch)
        batches = shard_batches(order, cfg.batch_size, rank, world)
        global_sizes = [len(b) for b in order.split(cfg.batch_size) if len(b) >= world]
        tick, total, seen = time.time(), 0.0, 0
        loader = batch_loader(data.train, batches, cfg.workers, accelerator.device)
        bar = _progress(loader, f"epoch {epoch + 1}/{cfg.epochs}",
                        progress and accelerator.is_main_process)
        for (batch, indices), global_size in zip(zip(bar, batches), global_sizes):
            inputs, labels = model_inputs(batch, cfg.model.task, accelerator.device,
                                          augment=cfg.augment)
            targets = labels
            if cfg.model.task == "vision" and cfg.augment:
                mixed, targets = mixup(inputs[0], labels, data.num_classes, MIXUP_ALPHA)
                inputs = (mixed,)
            with accelerator.autocast():
                loss = soft_cross_entropy(model(*inputs), targets)
            if not torch.isfinite(loss):
                kept = (f"the checkpoint of epoch {epoch} is kept" if epoch else
                        "no epoch had finished, so there is no checkpoint")
                raise TrainingDiverged(
                    f"loss became {loss.item()} in epoch {epoch + 1} of {folder}; {kept}. "
                    "Lower --lr or use --precision fp32, then rerun"
                )
            optimizer.zero_grad(set_to_none=True)
            # DDP averages the processes' gradients; weighting each share by its size makes
            # that the gradient of the global-batch mean even when shares are unequal (x1 alone)
            accelerator.backward(loss * (len(indices) * world / global_size))
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(indices)
            seen += len(indices)
        train_seconds = time.time() - tick
        sums = accelerator.reduce(torch.tensor([total, seen], dtype=torch.float64,
                                               device=accelerator.device), reduction="sum")
        tick = time.time()
        accuracy = None
        if evaluates(cfg, epoch):
            accuracy, *scored = _recalibrated_evaluation(model, data, cfg, accelerator)
        # a finite loss can still leave non-finite weights (one step with a huge --lr): such
        # an epoch must never be checkpointed, nor end in a finished run
        broken = [name for name, tensor in accelerator.unwrap_model(model).state_dict().items()
                  if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
        if broken:
            kept = (f"the checkpoint of epoch {epoch} is kept" if epoch else
                    "no epoch had finished, so there is no checkpoint")
            more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
            raise TrainingDiverged(
                f"weights became non-finite (NaN or infinite) in epoch {epoch + 1} of {folder} "
                f"({broken[0]}{more}); {kept}. Lower --lr or use --precision fp32, then rerun"
            )
        rows.append({"epoch": epoch + 1, "train_loss": float(sums[0] / sums[1]),
                     "test_accuracy": accuracy, "train_seconds": round(train_seconds, 3),
                     "eval_seconds": round(time.time() - tick, 3),
                     "lr": scheduler.get_last_lr()[0]})
        if accelerator.is_main_process:
            shown = "-" if accuracy is None else f"{accuracy:.4f}"
            log(f"{folder.name} epoch {epoch + 1}/{cfg.epochs}: loss {rows[-1]['train_loss']:.4f} "
                f"accuracy {shown} ({train_seconds:.1f}s)")
            # log first: a kill between the two leaves an extra row, which a resume drops
            # (rows[:start]); the other order would lose this epoch's row for good
            write_log(folder, rows)
            save_checkpoint(folder / CHECKPOINT_FILE, accelerator.unwrap_model(model), optimizer,
                            scheduler, epoch + 1)
        accelerator.wait_for_everyone()

    metrics = _metrics(cfg, rows, counts, flops, accelerator, folder)
    if start == cfg.epochs:  # resumed after the last epoch: its predictions were not kept
        _, *scored = _recalibrated_evaluation(model, data, cfg, accelerator)
    if accelerator.is_main_process:
        # the predictions first: a finished run (metrics.json) always has them
        write_predictions(folder, *scored, accuracy=metrics["accuracy"])
        atomic_write_json(folder / METRICS_FILE, metrics)
    accelerator.wait_for_everyone()
    return metrics


def _recalibrated_evaluation(model, data, cfg: RunConfig, accelerator):
    """BatchNorm recalibrated to the current weights, then :func:`evaluate` on the test set:
    (accuracy, labels, predictions). Deterministic, so a resumed run that re-scores its last
    epoch gets the predictions it would have kept."""
    recalibrate_batch_norm(accelerator.unwrap_model(model), data.train, cfg.model.task,
                           cfg.batch_size, accelerator, cfg.seed, workers=cfg.workers)
    return evaluate(model, data.test, cfg.model.task, cfg.batch_size, accelerator, cfg.workers)


def evaluates(cfg: RunConfig, epoch: int) -> bool:
    """Whether 0-based ``epoch`` ends with a test evaluation: every ``eval_every`` epochs and
    always the last. Evaluation (with its BatchNorm recalibration) never touches the training
    RNG or weights, and training uses batch statistics, so skipping it changes the log, not
    the result; on 2 CPU cores it was 20-30% of a text epoch."""
    return (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs


def _progress(batches, desc: str, enabled: bool):
    if not enabled:
        return batches
    return tqdm(batches, desc=desc, leave=False, file=sys.stderr)


def _metrics(cfg: RunConfig, rows: list[dict], counts: dict, flops: int, accelerator,
             folder: Path) -> dict:
    """The metrics of a finished run, from its log rows (read back from log.csv after a
    resume, so checked there): never a non-finite number, never an epoch without its test
    accuracy."""
    last = rows[-1]
    if last["test_accuracy"] in ("", None):
        raise damaged(folder / LOG_FILE, f"its last row (epoch {last['epoch']}) has no "
                      "test_accuracy, which the last epoch always records",
                      f"delete it and {folder / CHECKPOINT_FILE} to restart the run from epoch 0")
    seconds = [float(r["train_seconds"]) for r in rows]
    return {
        "accuracy": float(last["test_accuracy"]),
        "train_loss": float(last["train_loss"]),
        **counts,
        "flops": flops,
        "seconds_per_epoch": sum(seconds) / len(seconds),
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "device": device_name(accelerator.device),
        "processes": accelerator.num_processes,
        "threads": torch.get_num_threads(),
        "config": cfg.to_dict(),
        "run_hash": cfg.run_hash(),
        "versions": versions(),
    }
