"""The batch: ``reproduce --profile smoke`` writes every table, figure and the claims file.

The smoke run store is shared with nbval (``.cache/outputs/smoke/results/runs``, the
notebooks' default), so `make test` trains each smoke run once; outputs go to a temp folder.
"""

import json
import os
import subprocess
import sys

import pytest

from dreamlib import experiments, report, schedule
from dreamlib.errors import ConfigError
from dreamlib.profiles import grid_settings, make_run_config
from dreamlib.reproduce import notebooks
from dreamlib.runtime import NOTEBOOK_DIR, REPO, context

TABLES = ["table1_dreams", "table3_vision", "table4_text", "table5_efficiency"]
FIGURES = ["fig6_dreams", "fig7_chain_blocks", "fig8_encoders", "fig9_freeze"]
SHARED_RUNS = REPO / ".cache" / "outputs" / "smoke" / "results" / "runs"


@pytest.fixture(scope="module")
def smoke_batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    env = {**os.environ, "MPLBACKEND": "Agg"}  # as a user's shell may have it
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlib", "reproduce", "--profile", "smoke", "--output-dir",
         str(out), "--runs-dir", str(SHARED_RUNS)],
        capture_output=True, text=True, timeout=1500, cwd=REPO, env=env)
    return out, proc


@pytest.mark.slow
def test_smoke_batch_succeeds_with_a_summary(smoke_batch):
    out, proc = smoke_batch
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "11 ok, 0 failed" in proc.stdout


@pytest.mark.slow
def test_the_batch_records_each_notebooks_time_and_keeps_dreams(smoke_batch):
    from dreamlib.dreams import DREAMS_FILE
    from dreamlib.narrative import read_timings

    out, _ = smoke_batch
    rows = read_timings(out)
    assert sorted({number for number, _ in rows}) == [path.name[:2] for path in notebooks()]
    assert all(float(row["seconds"]) > 0 and row["profile"] == "smoke" for row in rows.values())
    (row,) = [row for (number, _), row in rows.items() if number == "02"]
    assert int(row["runs"]) == len(schedule.unique_runs(experiments.table3_vision("smoke")
                                                        + experiments.vision_plateau("smoke")))
    for entry in experiments.dreams("smoke"):  # every DreamNet of the grids keeps its dreams
        assert (SHARED_RUNS / entry.cfg.run_hash() / DREAMS_FILE).is_file()


@pytest.mark.slow
def test_every_table_figure_and_claims_file_appears(smoke_batch):
    out, _ = smoke_batch
    for name in TABLES:
        for ext in ("csv", "md"):
            path = out / "results" / "tables" / f"{name}.{ext}"
            assert path.stat().st_size > 100, path
    for name in FIGURES:
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
            path = out / "figures" / f"{name}.{ext}"
            assert path.read_bytes()[:4] == magic, path
    claims = (out / "results" / "claims.md").read_text()
    for claim in ("DreamNet-2 beats SleepNet-2", "grows with M", "beats the encoder's features",
                  "better chain", "pre-trained encoder beats an untrained one",
                  "frozen beats unfrozen", "ResNet18 per epoch", "Holm",
                  "Inconsistencies inside the paper", "732,870,250"):
        assert claim in claims
    executed = sorted(p.name for p in (out / "results" / "notebooks").glob("*.ipynb"))
    assert executed == [p.name for p in notebooks()]


FIGURE_NOTEBOOKS = ("00_overview", "01_sleep_pretraining", "04_block_count", "05_chain_blocks",
                    "06_encoders", "07_freeze", "09_dreams")


@pytest.mark.slow
def test_executed_figure_notebooks_carry_their_figures_and_html_pages(smoke_batch):
    """Figures inline: each executed figure notebook holds image/png outputs (an MPLBACKEND in
    the environment must not switch the kernel's inline backend off), and every executed copy
    has an HTML page linked from the index."""
    out, _ = smoke_batch
    for name in FIGURE_NOTEBOOKS:
        nb = json.loads((out / "results" / "notebooks" / f"{name}.ipynb").read_text())
        images = [o for c in nb["cells"] for o in c.get("outputs", [])
                  if "image/png" in o.get("data", {})]
        assert images, f"{name} has no figure output"
    index = (out / "results" / "html" / "index.html").read_text()
    for path in notebooks():
        assert f'href="{path.stem}.html"' in index
        assert (out / "results" / "html" / f"{path.stem}.html").stat().st_size > 1000


@pytest.mark.slow
def test_tables_put_the_paper_beside_measured_numbers(smoke_batch):
    out, _ = smoke_batch
    import pandas as pd

    table = pd.read_csv(out / "results" / "tables" / "table3_vision.csv")
    row = table[table["Model"] == "DreamNet-2"].iloc[0]  # the main comparison's block count
    assert row["Paper accuracy % (cifar100)"] == 85.1
    assert 0 <= float(str(row["Accuracy % (digits, 95 % CI)"]).split()[0]) <= 100
    assert table.set_index("Model").loc["Majority class", "Group"].startswith("Reference")
    text = (out / "results" / "tables" / "table4_text.md").read_text()
    assert "Profile `smoke`" in text and "fortunes" in text and "TF-IDF" in text
    t5 = pd.read_csv(out / "results" / "tables" / "table5_efficiency.csv")
    assert t5.loc[t5["Model"] == "ResNet18", "Ratio to ResNet18 (here)"].iloc[0] == 1.0
    assert round(t5.loc[t5["Model"] == "DreamNet-3", "Paper ratio (CIFAR-100)"].iloc[0], 1) == 4.0


@pytest.mark.slow
def test_every_number_traces_to_a_run_folder(smoke_batch):
    out, _ = smoke_batch
    import pandas as pd

    table = pd.read_csv(out / "results" / "tables" / "table3_vision.csv")
    trained = table[~table["Group"].str.startswith("Reference")]  # reference rows train nothing
    assert trained["Runs"].notna().all()
    for runs in trained["Runs"]:
        for run in runs.split():
            metrics = json.loads((SHARED_RUNS / run / "metrics.json").read_text())
            assert metrics["run_hash"] == run and "code" in metrics["versions"]


@pytest.mark.slow
def test_failed_notebook_does_not_stop_the_batch_and_exits_nonzero(tmp_path):
    """A notebook that fails (bad data dir for its datasets) is reported; the others still run."""
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlib", "reproduce", "--profile", "smoke", "--only", "08,10",
         "--output-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs"),
         "--data-dir", str(tmp_path / "no-such-data")],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 1
    assert "0 ok, 2 failed" in proc.stdout
    assert "08_efficiency.ipynb: FAILED" in proc.stdout


def test_only_selects_notebooks_and_rejects_unknown_numbers():
    assert [p.name[:2] for p in notebooks("2,05")] == ["02", "05"]
    with pytest.raises(ConfigError, match="99"):
        notebooks("99")


def test_notebooks_are_thin_and_parameterised():
    import nbformat

    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        # saved to read the committed results: running it trains nothing unless asked
        assert len(tagged) == 1 and 'profile = "default"' in tagged[0].source, path.name
        assert "train = False" in tagged[0].source, path.name
        assert "setup(profile, output_dir, runs_dir, data_dir, train)" in "\n".join(
            c.source for c in book.cells), path.name
        assert book.metadata.kernelspec.name == "python3"
        code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
        assert "nn.Module" not in code and "def " not in code, f"{path.name} holds library code"
        # only cells whose output nbval checks keep a stored output (the expected one)
        assert all(not c.get("outputs") for c in book.cells
                   if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" not in c.source), path.name


def test_context_keeps_smoke_outputs_out_of_the_committed_results():
    assert context("default").out == REPO
    assert context("smoke").out == REPO / ".cache" / "outputs" / "smoke"
    # a context that only reads sees the committed store and writes beside it, never into it
    reader = context("default", train=False)
    assert reader.runs == REPO / "results" / "runs"
    assert reader.out == REPO / ".cache" / "outputs" / "default"
    with pytest.raises(ConfigError, match="train must be True or False"):
        context("default", train="no")
    with pytest.raises(ConfigError, match="profile"):
        context("huge")


def _seeds_per_row(entries) -> dict:
    rows: dict = {}
    for e in entries:
        key = (e.task, e.method, e.blocks, e.variant, e.cfg.model.chain, e.label)
        rows.setdefault(key, set()).add(e.cfg.seed)
    return rows


def test_default_profile_has_the_seeds_the_protocol_asks_for():
    """At least 5 seeds on every row a claim is judged on (chain, control, SleepNet-2,
    DreamNet-2, each arm of the encoder and freeze ablations), at least 3 per curve point
    (the other block counts, Fig 7's chains). Single-seed rows (fine-tuned encoder, other
    baselines) are shown, not judged."""
    for grid in (experiments.table3_vision, experiments.table4_text):
        for (task, method, blocks, _, chain, label), seeds in _seeds_per_row(grid("default")).items():
            judged = method in ("features", "sleepnet", "dreamnet") or \
                (method == "baseline" and chain == experiments._default_chain(task))
            if judged:
                assert len(seeds) >= 5, label
    for grid in (experiments.fig8_encoders, experiments.fig9_freeze,
                 experiments.text_design_choices):
        for key, seeds in _seeds_per_row(grid("default")).items():
            assert len(seeds) >= 5, key
    for grid in (experiments.fig7_chains, experiments.block_curves):
        for key, seeds in _seeds_per_row(grid("default")).items():
            assert len(seeds) >= 3, key


def test_the_main_comparison_runs_at_its_own_scale_and_the_curves_at_the_quick_one():
    """Tables 3/4's rows at the main scale (more examples and epochs); block counts, chains
    and ablations at the quick scale; a curve's points all use the same seeds; the chain's
    plateau curve shares its main-epochs point with the main rows."""
    for task, grid in (("vision", experiments.table3_vision), ("text", experiments.table4_text)):
        scale = grid_settings("default")["main_scale"][task]
        main = grid("default")
        assert {(e.cfg.max_train, e.cfg.epochs) for e in main} == {
            (scale["max_train"], scale["epochs"])}
        quick = make_run_config("default", task)
        for other in (experiments.block_curves, experiments.fig7_chains,
                      experiments.fig8_encoders, experiments.fig9_freeze):
            runs = [e for e in other("default") if e.task == task]
            assert {(e.cfg.max_train, e.cfg.epochs) for e in runs} == {
                (quick.max_train, quick.epochs)}, other.__name__
        plateau = experiments.chain_plateau("default", (task,))
        epochs = experiments.plateau_epochs("default", task)
        assert epochs == (max(1, scale["epochs"] // 2), scale["epochs"], 2 * scale["epochs"])
        seeds = {e.cfg.epochs: set() for e in plateau}
        for e in plateau:
            seeds[e.cfg.epochs].add(e.cfg.seed)
        assert len({frozenset(v) for v in seeds.values()}) == 1  # same seeds at every point
        shared = {e.cfg for e in plateau if e.cfg.epochs == scale["epochs"]}
        assert shared <= {e.cfg for e in main}
    curves = experiments.block_curves("default")
    per_m = {}
    for e in curves:
        per_m.setdefault((e.task, e.method, e.blocks), set()).add(e.cfg.seed)
    assert len({frozenset(v) for v in per_m.values()}) == 1


def test_the_default_build_arms_of_the_ablations_share_their_runs():
    """Fig 8's pre-trained arm, Fig 9's frozen arm and the design check's paper arm are the
    same quick-scale SleepNet-2/DreamNet-2 runs: every ablation pair shares seeds and the
    default build costs one set of runs."""
    for task in ("vision", "text"):
        frozen = {e.cfg for e in experiments.fig9_freeze("default", tasks=(task,))
                  if e.variant == "frozen"}
        pretrained = {e.cfg for e in experiments.fig8_encoders("default", tasks=(task,))
                      if e.variant.endswith("pre-trained") and "minilm" not in e.variant
                      and e.method != "baseline"}
        assert frozen and frozen == pretrained
        if task == "text":
            paper_arm = {e.cfg for e in experiments.text_design_choices("default")
                         if e.variant == experiments.PAPER_TEXT}
            assert paper_arm == frozen


def test_grids_share_runs_and_use_the_papers_encoders_in_the_paper_profile():
    entries = experiments.notebook_entries("default")
    unique = schedule.unique_runs(entries)
    assert len(unique) < len(entries)  # shared through the run store
    paper = {e.cfg.model.encoder for e in experiments.table3_vision("paper") if e.method == "dreamnet"}
    assert paper == {"facebook/vit-mae-base"}


def test_markdown_escapes_pipes():
    import pandas as pd

    text = report.markdown(pd.DataFrame({"a": ["x|y"], "b": [1]}))
    assert text.splitlines()[2] == "| x\\|y | 1 |"


def test_the_progress_bar_follows_the_plans_finished_runs(tmp_path):
    from dreamlib.reproduce import RunProgress, plan_folders

    ctx = context("smoke", str(tmp_path))
    plan = plan_folders(ctx, [p for p in notebooks() if p.name.startswith("07")])
    assert len(plan) == len(schedule.unique_runs(experiments.fig9_freeze("smoke")
                                                 + experiments.text_design_choices("smoke")))
    with RunProgress(plan, every=0.05) as progress:
        assert progress.bar.n == 0 and progress.bar.total == len(plan)
        plan[0].mkdir(parents=True)
        (plan[0] / "metrics.json").write_text("{}")
        progress.update()
        assert progress.bar.n == 1


def test_html_pages_and_index_are_written_for_executed_copies(tmp_path):
    import nbformat

    executed, html = tmp_path / "notebooks", tmp_path / "html"
    executed.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 42 · a page")])
    nbformat.write(nb, executed / "42_page.ipynb")
    nbformat.write(nb, executed / "43_page.failed.ipynb")  # a failure gets no page
    from dreamlib.reproduce import export_html

    pages = export_html(executed, html)
    assert [p.name for p in pages] == ["42_page.html"]
    assert "a page" in pages[0].read_text()
    assert '<link rel="stylesheet" href="style.css">' in pages[0].read_text()
    assert '<style type="text/css">' not in pages[0].read_text()
    assert (html / "style.css").stat().st_size > 10_000  # the template's CSS, once
    index = (html / "index.html").read_text()
    assert 'href="42_page.html"' in index and "43_page" not in index


def test_published_copies_keep_what_the_screen_shows_of_progress_bars(tmp_path):
    """Each redraw of a training cell's progress bar is its own stream output; the published
    copy keeps the settled text (one output), drops bars that cleared themselves, and keeps
    figures and ordinary prints in place."""
    import nbformat

    from dreamlib.reproduce import settle_streams

    redraws = [nbformat.v4.new_output("stream", name="stderr", text=f"\repoch 1/1: {i}/3")
               for i in range(4)] + [nbformat.v4.new_output("stream", name="stderr", text="\r      \r")]
    printed = nbformat.v4.new_output("stream", name="stdout", text="accuracy 0.83\n")
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "fig"})
    kept_bar = [nbformat.v4.new_output("stream", name="stderr", text=f"\rruns: {i}/2")
                for i in range(3)] + [nbformat.v4.new_output("stream", name="stderr", text="\n")]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("train()", outputs=redraws + [printed, figure]),
        nbformat.v4.new_code_cell("batch()", outputs=kept_bar)])
    path = tmp_path / "07_x.ipynb"
    nbformat.write(nb, path)

    settle_streams(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [o.output_type for o in cells[0].outputs] == ["stream", "display_data"]
    single = tmp_path / "08_x.ipynb"  # one stream output of redraws: same count, settled text
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("t()", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="\rstep 1/2\rstep 2/2\n")])]), single)
    settle_streams(single)
    assert nbformat.read(single, as_version=4).cells[0].outputs[0].text == "step 2/2\n"
    assert cells[0].outputs[0].text == "accuracy 0.83\n"
    assert cells[0].outputs[1].data["image/png"] == "iVBOR"
    assert [o.text for o in cells[1].outputs] == ["runs: 2/2\n"]


def test_settling_a_notebook_without_redraws_leaves_the_file_alone(tmp_path):
    import nbformat

    from dreamlib.reproduce import settle_streams

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(1)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])])
    path = tmp_path / "02_x.ipynb"
    nbformat.write(nb, path)
    stamp = path.stat().st_mtime_ns
    settle_streams(path)
    assert path.stat().st_mtime_ns == stamp


def test_notebook_entries_are_the_grids_the_notebooks_run_each_once():
    labels = lambda entries: [(e.label, e.cfg.run_hash()) for e in entries]  # noqa: E731
    both = experiments.notebook_entries("smoke", ["03", "04"])
    # notebook order: 03's text grid and plateau curve, then 04's block curves
    assert labels(both) == labels(experiments.table4_text("smoke")
                                  + experiments.text_plateau("smoke")
                                  + experiments.block_curves("smoke"))
    every_grid = [e for grid in experiments.GRIDS.values() for e in grid("smoke")]
    assert labels(experiments.notebook_entries("smoke")) == labels(every_grid)
    assert experiments.notebook_entries("smoke", ["01"]) == []


def test_the_template_css_every_page_embeds_moves_to_one_shared_stylesheet():
    from dreamlib.reproduce import shared_stylesheet

    head = '<style type="text/css">\n.a {}</style><style type="text/css">.b {}</style>'
    pages = [head + '<style type="text/css">.only-here {}</style><p>one</p>',
             head + "<style>.output {}</style><p>two</p>"]
    css, linked = shared_stylesheet(pages)
    assert css == ".a {}\n.b {}"
    link = '<link rel="stylesheet" href="style.css">'
    assert linked[0] == link + '<style type="text/css">.only-here {}</style><p>one</p>'
    assert linked[1] == link + "<style>.output {}</style><p>two</p>"
    assert shared_stylesheet(["<p>no styles</p>"]) == ("", ["<p>no styles</p>"])


def test_executed_copies_carry_no_path_of_this_machine(tmp_path):
    """An output folder outside the repository is written as <output-dir> in the copy."""
    from dreamlib.reproduce import scrub_paths

    executed = tmp_path / "out" / "results" / "notebooks"
    executed.mkdir(parents=True)
    copy = executed / "10_claims.ipynb"
    copy.write_text(f'"{executed / "10_claims.ipynb"}" "{tmp_path / "out" / "results" / "claims.md"}"'
                    f' "{REPO / "dreamlib"}"')
    scrub_paths(copy)
    text = copy.read_text()
    assert str(tmp_path) not in text and str(REPO) not in text
    assert "<output-dir>/results/claims.md" in text and "<repo>/dreamlib" in text
