"""The paper-scale dry run's pieces (dreamlib.dryrun): generated standard layouts read by the
real readers, random hub encoders loaded through from_pretrained offline, the plan, and the
run overrides reaching every run of a notebook (applied by dreamlib.runtime's context)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dreamlib import dryrun, paper, runtime
from dreamlib.data import get_info, load_split
from dreamlib.experiments import notebook_entries
from dreamlib.runtime import context
from dreamlib.schedule import unique_runs

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(paper.MAIN_DATASETS.values()))
def test_generated_datasets_are_read_by_the_real_readers(name, tmp_path):
    dryrun.write_datasets(tmp_path)
    train_n, test_n = dryrun.FIXTURE_EXAMPLES[name]
    info = get_info(name)
    for split, n in (("train", train_n), ("test", test_n)):
        loaded = load_split(name, split, data_dir=tmp_path)
        labels = [int(label) for label in (loaded.labels if hasattr(loaded, "labels")
                                           else loaded.dataset.labels)]
        assert len(labels) == n
        assert sorted(set(labels)) == list(range(info.num_classes))  # every class present


def test_cifar100_fixture_has_the_release_keys(tmp_path):
    import pickle

    folder = dryrun.write_cifar100(tmp_path, 100, 100)
    batch = pickle.loads((folder / "train").read_bytes())
    assert {b"data", b"fine_labels", b"coarse_labels", b"filenames"} <= set(batch)
    assert batch[b"data"].shape == (100, 3072) and batch[b"data"].dtype.name == "uint8"
    assert len(pickle.loads((folder / "meta").read_bytes())[b"fine_label_names"]) == 100


# A tiny RoBERTa and ViT-MAE registered as hub names, saved by write_hub_cache and loaded by
# the real loading code in a fresh process (huggingface_hub reads HF_HUB_CACHE at import).
HUB_SCRIPT = r"""
import json, sys
from dreamlib import dryrun, encoders
tiny = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
encoders.HUB_ARCHITECTURES["tiny/roberta"] = ("roberta", dict(encoders._roberta(32, 1, 2, 64)))
encoders.HUB_ARCHITECTURES["tiny/vit-mae"] = ("vit_mae", dict(tiny, image_size=32, patch_size=8,
    decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
    decoder_intermediate_size=64))
cache = sys.argv[1]
dryrun.write_hub_cache(cache, ["tiny/roberta", "tiny/vit-mae"], log=lambda *a: None)
out = {}
for name in ("tiny/roberta", "tiny/vit-mae"):
    for autoencoder in (False, True):
        enc = encoders.load_encoder(name, autoencoder=autoencoder)
        out[f"{name} {autoencoder}"] = type(enc.backbone).__name__
tok = encoders.load_tokenizer("tiny/roberta")
ids = tok(["the market rose"], padding="max_length", max_length=8)["input_ids"][0]
out["ids"] = ids
out["pad"] = tok.pad_token_id
print(json.dumps(out))
"""


def test_random_hub_encoders_load_offline_through_from_pretrained(tmp_path):
    cache = tmp_path / "hub"
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", HUB_SCRIPT, str(cache)], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["tiny/roberta False"] == "RobertaModel"
    assert out["tiny/roberta True"] == "RobertaForMaskedLM"
    assert out["tiny/vit-mae False"] == "ViTMAEModel"
    assert out["tiny/vit-mae True"] == "ViTMAEForPreTraining"
    assert out["pad"] == 1 and out["ids"][0] == 0 and out["ids"][-1] == 1  # <s> … <pad>
    assert (cache / "models--tiny--roberta" / "refs" / "main").is_file()


def test_hub_encoders_of_the_paper_profile_are_its_encoders():
    names = dryrun.hub_encoders("paper")
    assert names == paper.HUB_ENCODERS  # every one is used by some grid of the paper profile
    assert names == (set(paper.PAPER_ENCODERS.values())
                     | {name for pair in paper.ENCODER_SIZES.values() for name in pair})
    assert dryrun.hub_encoders("smoke") == set()  # the embedded encoders need no hub
    # a dry run of some notebooks writes only their encoders (Table 5: no text, no large)
    assert dryrun.hub_encoders("paper", ["08"]) == {paper.PAPER_ENCODERS[("vision", kind)]
                                                   for kind in ("sleepnet", "dreamnet")}


def test_the_plan_counts_every_run_once_under_its_first_notebook():
    runs = dryrun.costed_runs("smoke")
    assert len(runs) == len(unique_runs(notebook_entries("smoke")))
    first = {}
    for run in runs:
        first.setdefault(run.label, run.notebook)
    assert all(run.flops > 0 for run in runs)
    # every run trains the smoke profile's 2 epochs but the chain's plateau curve (1, 2, 4)
    assert {run.epochs for run in runs if run.method != "baseline"} == {2}
    assert {run.epochs for run in runs} == {1, 2, 4}
    # ResNet18 is trained by notebook 02 and only read by 04, 06, 08 and 10
    assert {run.notebook for run in runs if run.label == "ResNet18"} == {"02"}


def test_plan_hours_follow_the_table5_calibration():
    rates = {"ResNet18": 1e12, "SleepNet": 2e12, "DreamNet": 4e12, "MAE-base": 1e12,
             "ResNet50": 1e12}
    run = dryrun.PlannedRun("02", "x", "vision", "sleepnet", forward_flops=10**9,
                            train_examples=1000, test_examples=100, epochs=2)
    assert run.flops == 10**9 * (3 * 1000 + 100) * 2
    assert dryrun.gpu_hours(run, rates) == pytest.approx(run.flops / 2e12 / 3600)
    table = dryrun.plan_table([run, dataclasses_replace(run, notebook="05")], rates)
    assert list(table["notebook"]) == ["02", "05", "total"]
    assert table.iloc[-1]["runs"] == 2


def dataclasses_replace(run, **changes):
    import dataclasses

    return dataclasses.replace(run, **changes)


def test_the_dry_run_overrides_reach_every_run_of_a_context(monkeypatch, tmp_path):
    monkeypatch.setenv(runtime.DRY_RUN_ENV, json.dumps(dryrun.DRY_RUN_OVERRIDES))
    ctx = context("smoke", str(tmp_path))
    assert ctx.overrides == dryrun.DRY_RUN_OVERRIDES
    seen = []
    monkeypatch.setattr("dreamlib.schedule.run_entries",
                        lambda entries, *a, **k: seen.extend(e.cfg for e in entries) or [])
    ctx.run(notebook_entries("smoke")[:5])
    assert seen and all(cfg.epochs == 1 and cfg.batch_size == 2 and cfg.max_train == 4
                        for cfg in seen)
    assert ctx.config("vision", max_test=3).max_test == 3  # an explicit value wins
    monkeypatch.delenv(runtime.DRY_RUN_ENV)
    assert context("smoke", str(tmp_path)).overrides == {}


def _paper_run(chain: str):
    from dreamlib.profiles import make_run_config

    return make_run_config("paper", "vision", model={"method": "sleepnet", "chain": chain,
                                                      "blocks": 2})


def test_a_run_too_large_for_the_dry_runs_memory_trains_with_a_narrower_chain():
    """ResNet50 + ViT-base SleepNet-2 at 224 px holds about a billion parameters (the linear
    heads map 768 features onto whole feature maps): its dry run halves the chain's width
    until the estimate fits, and nothing else of the run changes; a run that fits is kept."""
    big = runtime.dry_run_config(_paper_run("resnet50"), dryrun.DRY_RUN_OVERRIDES)
    assert runtime.training_bytes(_paper_run("resnet50").model.resolved()) > runtime.DRY_RUN_MEMORY
    assert runtime.training_bytes(big.model) <= runtime.DRY_RUN_MEMORY
    assert big.model.width < 64 and big.model.chain == "resnet50"
    assert (big.model.image_size, big.model.encoder) == (224, _paper_run("resnet50").model.encoder)
    assert big.epochs == 1 and big.max_train == 4
    small = runtime.dry_run_config(_paper_run("resnet18"), {})
    assert small == _paper_run("resnet18")
    tiny_budget = runtime.within_memory(_paper_run("resnet18"), budget=1)
    assert tiny_budget.model.width == runtime.NARROWEST_WIDTH
    from dreamlib.profiles import make_run_config

    finetune = make_run_config("paper", "vision", model={"method": "finetune"})
    assert runtime.within_memory(finetune, budget=1) == finetune  # no chain to narrow


def test_the_progress_plan_of_a_dry_run_names_the_runs_it_trains(monkeypatch, tmp_path):
    from dreamlib.reproduce import notebooks, plan_folders
    from dreamlib.runs import run_folder

    monkeypatch.setenv(runtime.DRY_RUN_ENV, json.dumps(dryrun.DRY_RUN_OVERRIDES))
    ctx = context("smoke", str(tmp_path))
    seen = []
    monkeypatch.setattr("dreamlib.schedule.run_entries",
                        lambda entries, *a, **k: seen.extend(e.cfg for e in entries) or [])
    ctx.run(notebook_entries("smoke"))
    trained = {run_folder(ctx.runs, cfg) for cfg in seen}
    assert set(plan_folders(ctx, notebooks())) == trained


def test_a_run_grid_can_leave_no_checkpoints_behind(tmp_path):
    from dreamlib.experiments import Entry
    from dreamlib.profiles import make_run_config
    from dreamlib.runs import CHECKPOINT_FILE, METRICS_FILE, run_folder
    from dreamlib.schedule import run_entries

    cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8},
                          epochs=1, max_train=32, max_test=16, batch_size=16)
    kept = run_entries([Entry("chain", cfg)], tmp_path / "kept", log=lambda *_: None)
    dropped = run_entries([Entry("chain", cfg)], tmp_path / "dropped", log=lambda *_: None,
                          keep_checkpoints=False)
    assert dropped[0]["accuracy"] == kept[0]["accuracy"]
    assert (run_folder(tmp_path / "kept", cfg) / CHECKPOINT_FILE).is_file()
    folder = run_folder(tmp_path / "dropped", cfg)
    assert (folder / METRICS_FILE).is_file() and not (folder / CHECKPOINT_FILE).exists()


@pytest.mark.slow
def test_dry_run_of_the_paper_profile_executes_its_notebooks(tmp_path):
    """The CI share of the dry run: Table 5 (ResNet18/50, the fine-tuned MAE-base, SleepNet-3
    on ViT-base, DreamNet-3 on MAE-base) and the dreams (DreamNet-3 on MAE-base and on
    RoBERTa-base), at 224 px / 128 tokens in bf16 on generated CIFAR-100 and AG News. The
    whole batch: `make reproduce PROFILE=paper DRY_RUN=1`."""
    out = tmp_path / "dry"
    proc = subprocess.run([sys.executable, "-m", "dreamlib", "reproduce", "--profile", "paper",
                           "--dry-run", "--only", "08,09", "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 ok, 0 failed" in proc.stdout and "GPU-hours" in proc.stdout
    for name in ("table5_efficiency.md", "table1_dreams.md"):
        assert (out / "out" / "results" / "tables" / name).is_file()
    assert (out / "out" / "figures" / "fig6_dreams.png").is_file()


def test_a_plan_without_runs_is_a_total_of_zero():
    """Notebook 01 trains nothing: its dry run's plan is one total row, not a crash."""
    table = dryrun.plan_table([], {"ResNet18": 1e12})
    assert list(table["notebook"]) == ["total"]
    assert table.iloc[0]["runs"] == 0 and table.iloc[0]["GPU-hours"] == 0
