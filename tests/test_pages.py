"""The pages of results/html and their landing page (dreamlib.pages): real titles, a version
without code, thumbnails and runtimes on the index, nothing loaded from outside the folder."""

import base64
import io
import re

import nbformat
import pytest
from PIL import Image

from dreamlib import pages
from dreamlib.narrative import record_timing

CODE = "only_in_the_full_page = print('a line')"


def png(color="red", size=(640, 400)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def executed_notebook(heading: str, code: str = CODE, figure: bytes | None = None,
                      seen: str | None = None):
    """A small executed notebook as papermill leaves one: a heading, a code cell with
    outputs (a figure as PNG), optionally a "What we see" section with its printed lines."""
    nbf = nbformat.v4
    outputs = [nbf.new_output("stream", name="stdout", text="a line\n")]
    if figure is not None:
        outputs.append(nbf.new_output("display_data", data={
            "image/png": base64.b64encode(figure).decode(), "text/plain": "<Figure>"}))
    cells = [nbf.new_markdown_cell(f"# {heading}\n\nWhat this page shows. Then more."),
             nbf.new_code_cell(code, outputs=outputs, execution_count=1)]
    if seen is not None:
        cells += [nbf.new_markdown_cell("## What we see\n\nWritten from the runs above."),
                  nbf.new_code_cell("Markdown(what_we_see())", execution_count=2, outputs=[
                      nbf.new_output("execute_result", execution_count=2,
                                     data={"text/markdown": seen, "text/plain": "<Markdown>"})])]
    return nbf.new_notebook(cells=cells)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An output folder as a batch leaves it (executed notebooks, a saved figure, timings,
    claims.md), and its pages."""
    out = tmp_path_factory.mktemp("out")
    executed = out / "results" / "notebooks"
    executed.mkdir(parents=True)
    (out / "figures").mkdir()
    (out / "figures" / "fig7_chain_blocks.png").write_bytes(png("blue", (1800, 1100)))
    (out / "results" / "claims.md").write_text("# claims\n")
    saves = CODE + '\nreport.save_figure(fig, "fig7_chain_blocks", out)'
    books = {
        "02_main_vision": executed_notebook("02 · Table 3: vision", figure=png("red"),
                                           seen="- SleepNet-2 beats the chain: +1.00 points "
                                                "→ **supported**.\n- another claim."),
        "05_chain_blocks": executed_notebook("05 · Fig 7: chain-like blocks",
                                             code=saves, figure=png("green")),
        "08_efficiency": executed_notebook("08 · Table 5: time per epoch"),
    }
    for stem, nb in books.items():
        nbformat.write(nb, executed / f"{stem}.ipynb")
    nbformat.write(books["08_efficiency"], executed / "09_dreams.failed.ipynb")
    record_timing(out, "02", "default", 7, 55, 0)
    record_timing(out, "05", "default", 575, 36, 17)
    html = out / "results" / "html"
    written = pages.export_html(executed, html)
    return out, html, written


def read(path):
    return path.read_text(encoding="utf-8")


def test_each_notebook_gets_a_full_page_and_one_without_code(site):
    _, html, written = site
    assert [p.name for p in written] == ["02_main_vision.html", "05_chain_blocks.html",
                                         "08_efficiency.html"]
    for page in written:
        reading = html / pages.reading_name(page.name)
        full_text, reading_text = read(page), read(reading)
        assert "only_in_the_full_page" in full_text
        assert "only_in_the_full_page" not in reading_text
        assert "jp-InputArea-editor" in full_text and "jp-InputArea-editor" not in reading_text
        assert "What this page shows" in reading_text and "a line\n" in reading_text  # outputs stay
        assert f'href="{reading.name}"' in full_text and f'href="{page.name}"' in reading_text
        assert 'href="index.html"' in full_text and 'href="index.html"' in reading_text


def test_pages_are_titled_by_their_first_heading(site):
    _, html, _ = site
    titles = {page.name: re.search(r"<title>(.*?)</title>", read(page)).group(1)
              for page in html.glob("*.html")}
    assert titles["02_main_vision.html"] == "02 · Table 3: vision"
    assert titles["02_main_vision.nocode.html"] == "02 · Table 3: vision"
    assert "Notebook" not in titles.values()


def test_nothing_is_loaded_from_outside_and_every_local_reference_resolves(site):
    _, html, _ = site
    texts = [read(path) for path in list(html.glob("*.html")) + list(html.glob("*.css"))]
    loads = re.compile(r"""(?:\ssrc=|<link[^>]*\shref=|@import\s|url\()\s*["']?\s*(?:https?:)?//""",
                       re.IGNORECASE)
    assert not [loads.search(text).group(0) for text in texts if loads.search(text)]
    assert "<script" not in "".join(texts)  # no require.js, MathJax or mermaid loader
    assert pages.folder_problems(html) == []
    assert '<link rel="stylesheet" href="style.css">' in read(html / "02_main_vision.html")


def test_the_index_has_one_card_per_notebook_with_its_thumbnail_finding_and_runtime(site):
    _, html, _ = site
    index = read(html / "index.html")
    cards = re.findall(r'<article class="card" id="nb(\d\d)">(.*?)</article>', index, re.DOTALL)
    assert [number for number, _ in cards] == ["02", "05", "08"]  # not the failed 09
    card = dict(cards)
    assert 'src="thumbs/02_main_vision.png"' in card["02"]
    assert 'src="thumbs/05_chain_blocks.png"' in card["05"]
    assert "no figure" in card["08"]
    # the saved figure (blue) wins over the one the notebook shows (green); thumbnails are small
    thumb = Image.open(html / "thumbs" / "05_chain_blocks.png").convert("RGB")
    assert thumb.getpixel((5, 5)) == (0, 0, 255)
    assert max(thumb.size) <= max(pages.THUMB_BOX)
    assert all(path.stat().st_size <= pages.THUMB_BYTES for path in (html / "thumbs").iterdir())
    # the finding is the notebook's own first "What we see" line, else its first sentence
    assert "+1.00 points → <strong>supported</strong>" in card["02"]
    assert "another claim" not in card["02"]
    assert "What this page shows." in card["08"] and "Then more" not in card["08"]
    assert "Table 3" in card["02"] and "Fig 7" in card["05"]  # the paper item
    assert "7 s reading its 55 runs" in card["02"]
    assert "10 min training 17 of its 36 runs" in card["05"]
    assert "not measured yet" in card["08"]
    assert 'href="../claims.md"' in index
    assert "claims_overview" not in index  # linked only where the figure exists


def test_the_claims_overview_is_shown_where_it_exists(site):
    out, html, _ = site
    (out / "figures" / "claims_overview.png").write_bytes(png("white"))
    try:
        pages.export_html(out / "results" / "notebooks", html)
        assert 'src="../../figures/claims_overview.png"' in read(html / "index.html")
        assert pages.folder_problems(html) == []
    finally:
        (out / "figures" / "claims_overview.png").unlink()
        pages.export_html(out / "results" / "notebooks", html)


def test_the_static_check_names_a_fetch_from_outside_and_a_missing_file(tmp_path):
    (tmp_path / "here.png").write_bytes(png())
    (tmp_path / "page.html").write_text(
        '<script src="https://cdn.example/require.js"></script>'
        '<img src="here.png"><img src="gone.png"><a href="https://example.org">paper</a>'
        '<a href="#top">top</a><img src="data:image/png;base64,AAAA">')
    (tmp_path / "style.css").write_text(
        '@import "https://fonts.example/a.css"; .x { background: url(nothere.svg) }')
    problems = pages.folder_problems(tmp_path)
    assert problems == [
        "page.html: loads https://cdn.example/require.js from outside the repository",
        f"page.html: gone.png does not resolve ({tmp_path / 'gone.png'} is missing)",
        f"style.css: nothere.svg does not resolve ({tmp_path / 'nothere.svg'} is missing)",
        "style.css: loads https://fonts.example/a.css from outside the repository",
    ]


def test_a_first_sentence_does_not_end_at_an_abbreviation():
    assert pages.first_sentence("It adds what comes back (eq. 1). DreamNet dreams.") == \
        "It adds what comes back (eq. 1)."
