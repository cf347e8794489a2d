"""Provenance: every number of a table traces to its run folder, and a run made by other code
(another result-code fingerprint or another dreamlib version) is flagged stale, not mixed in.

One real run (chain-only baseline, 1 epoch on 32 digits) through ``schedule.run_entries``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dreamlib import __version__, experiments, report, schedule
from dreamlib.provenance import code_fingerprint, stale_reason
from dreamlib.profiles import make_run_config
from dreamlib.runs import CONFIG_FILE, METRICS_FILE, RunConfig


@pytest.fixture(scope="module")
def record(tmp_path_factory, one_thread):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8},
                              epochs=1, max_train=32, max_test=32, batch_size=32)
        entry = experiments.Entry("ResNet18", cfg, paper="ResNet18")
        (found,) = schedule.run_entries([entry], tmp_path_factory.mktemp("store"),
                                        log=lambda *_: None)
    return found


def test_a_record_traces_to_its_folder_with_config_seed_versions_commit_and_device(record):
    folder = Path(record["folder"])
    assert folder.name == record["run"] == record["run_hash"]
    on_disk = json.loads((folder / METRICS_FILE).read_text())
    assert on_disk["accuracy"] == record["accuracy"]
    assert on_disk["train_loss"] == record["train_loss"]
    config = RunConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
    assert config.run_hash() == record["run"] and on_disk["seed"] == config.seed
    versions = on_disk["versions"]
    assert versions["dreamlib"] == __version__ and versions["code"] == code_fingerprint()
    assert "git" in versions and {"torch", "transformers", "python"} <= set(versions)
    assert on_disk["device"].startswith("cpu")


def test_a_record_of_the_current_code_is_not_stale(record):
    assert stale_reason(record) == ""
    assert report.method_table([record], "vision")["Stale"].tolist() == [""]


@pytest.mark.parametrize("field, value, shown", [
    ("dreamlib", "0.0.9", "dreamlib 0.0.9"),
    ("code", "0123456789ab", "code 0123456789ab"),
])
def test_a_record_of_other_code_is_flagged_stale_in_the_tables(record, field, value, shown):
    old = copy.deepcopy(record)
    old["versions"][field] = value
    old["label"] = "ResNet18 (old)"
    assert shown in stale_reason(old)
    table = report.method_table([record, old], "vision")
    assert dict(zip(table["Model"], table["Stale"])) == {"ResNet18": "", "ResNet18 (old)": "yes"}
    assert report.efficiency_table([record, old])["Stale"].tolist() == ["", "yes"]
    assert report.markdown(table).count("| yes |") == 1  # visible in the Markdown too


def test_a_new_git_commit_alone_does_not_make_a_run_stale(record):
    """Committing the results changes the commit; that must not flag every committed run."""
    other = copy.deepcopy(record)
    other["versions"]["git"] = "f" * 40
    assert stale_reason(other) == ""


def _package_copy(tmp_path) -> Path:
    import shutil

    import dreamlib

    source = Path(dreamlib.__file__).resolve().parent
    return Path(shutil.copytree(source, tmp_path / "dreamlib",
                                ignore=shutil.ignore_patterns("__pycache__", "*.safetensors")))


def test_choosing_other_configs_does_not_make_stored_runs_stale(tmp_path):
    """profiles.py only chooses configs (its defaults end up in each run's config, hence in its
    hash): adding seeds to a profile leaves the fingerprint alone; the training loop does not."""
    from dreamlib.provenance import RESULT_MODULES

    assert "profiles.py" not in RESULT_MODULES and "train.py" in RESULT_MODULES
    package = _package_copy(tmp_path)
    assert code_fingerprint(package) == code_fingerprint()
    with (package / "profiles.py").open("a") as f:
        f.write("\n# more seeds for the main rows\n")
    assert code_fingerprint(package) == code_fingerprint()
    with (package / "train.py").open("a") as f:
        f.write("\n# another training loop\n")
    assert code_fingerprint(package) != code_fingerprint()


def test_a_run_fingerprinted_under_the_earlier_module_list_reads_through_its_mapping(record):
    from dreamlib.provenance import EARLIER_FINGERPRINTS

    for earlier, now in EARLIER_FINGERPRINTS.items():
        old = copy.deepcopy(record)
        old["versions"]["code"] = earlier
        assert stale_reason(old, code=now) == ""  # the same source, counted by today's list
        assert f"code {earlier}" in stale_reason(old, code="0123456789ab")  # other source
    unknown = copy.deepcopy(record)
    unknown["versions"]["code"] = "fedcba987654"
    assert stale_reason(unknown) != ""
