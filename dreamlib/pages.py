"""The HTML pages of the executed notebooks and their landing page (``results/html/``).

A reader who does not run anything opens ``results/html/index.html``: one card per notebook
with the paper item it reproduces, a one-line finding taken from the executed notebook, a
thumbnail of its first figure and its measured runtime (``results/timings.csv``). Each
notebook gets two pages, titled by its first heading: the full page and a reading version
without code inputs, linked from each other and from the index.

Everything must open offline, from a clone or a copied folder: the pages load nothing from
outside the repository. nbconvert's lab template would load require.js, MathJax and mermaid
from a CDN, so the template here (:data:`PAGE_TEMPLATE`) drops those blocks: the pages hold
no widgets, mermaid diagrams or JavaScript outputs, and the notebooks write no math (a
``$...$`` in a notebook would show as plain TeX, which reads well enough, rather than load a
script). The template's ~260 KB of CSS is one shared :data:`STYLESHEET`, not a copy per page.
:func:`folder_problems` checks a folder of pages statically (``tools/check_pages.py`` adds a
render in headless Chromium with the network off).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html as html_escape
import io
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .narrative import _duration, read_timings
from .runs import atomic_write_bytes, atomic_write_text

STYLESHEET = "style.css"  # the nbconvert template's CSS, shared by every page of results/html
THUMBS = "thumbs"  # folder of the landing page's thumbnails, beside the pages
THUMB_BOX = (360, 220)  # a thumbnail fits in this box (pixels): readable on a card
THUMB_BYTES = 40_000  # and stays under this size, so the landing page opens at once
READING = ".nocode"  # suffix of the page without code inputs: 02_main_vision.nocode.html

#: What each notebook reproduces, as a reader of the paper would look it up. Written here, not
#: taken from the notebook's heading, because a heading names its topic ("Accuracy against the
#: number of blocks") and not always where the paper makes the claim (Section 4.6.2).
PAPER_ITEMS = {
    "00": "The model: SleepNet and DreamNet as built (eqs. 1–2), sizes beside the published ones",
    "01": "Sleep: the encoders' self-supervised pre-training (Sections 3.2–3.3) and the "
          "premise of both models",
    "02": "Table 3: vision accuracy",
    "03": "Table 4: text accuracy",
    "04": "Section 4.6.2: accuracy against the number of blocks M",
    "05": "Fig 7: chain-like blocks (a stronger chain, a stronger model?)",
    "06": "Fig 8: encoders and autoencoders",
    "07": "Fig 9: frozen vs unfrozen encoder, and our text design check",
    "08": "Table 5: training time per epoch (efficiency)",
    "09": "Fig 6 and Table 1: the dreams",
    "10": "Every claim of the paper with its verdict",
}

# --- the pages ------------------------------------------------------------------------------

#: The lab template without anything fetched from a CDN, plus a navigation line (the index,
#: the other version of the page) that every page carries at its top.
PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}
<style type="text/css">
nav.dreamlib-nav { font: 14px/1.5 system-ui, sans-serif; padding: 8px 16px;
  border-bottom: 1px solid #ddd; background: #f7f7f7; }
nav.dreamlib-nav a { margin-right: 1.2em; color: #0645ad; text-decoration: underline; }
</style>
{% endblock extra_css %}
{% block body_header %}{{ super() }}{{ resources.dreamlib_nav }}{% endblock body_header %}
"""
_PAGE_TEMPLATE_NAME = "dreamlib_page.html.j2"


@functools.cache  # two exporters serve every page of a batch
def exporter(code: bool):
    """An HTML exporter of :data:`PAGE_TEMPLATE`; without ``code``, the reading version: no
    code inputs and no ``In``/``Out[n]`` prompts, which mean nothing once the inputs are gone
    (and would indent the text against the outputs)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter  # deferred: nbconvert takes ~2 s to import

    return HTMLExporter(extra_loaders=[DictLoader({_PAGE_TEMPLATE_NAME: PAGE_TEMPLATE})],
                        template_file=_PAGE_TEMPLATE_NAME, exclude_input=not code,
                        exclude_input_prompt=not code, exclude_output_prompt=not code)


def executed_notebooks(executed: Path) -> list[Path]:
    """The executed copies that get pages: numbered ones, not a failure's kept copy (nor the
    hidden partial copies of a running batch, which the pattern already leaves out)."""
    return [path for path in sorted(Path(executed).glob("[0-9][0-9]_*.ipynb"))
            if not path.name.endswith(".failed.ipynb")]


def reading_name(page_name: str) -> str:
    """The file name of a full page's reading version (without code)."""
    return page_name.removesuffix(".html") + READING + ".html"


def title(nb, fallback: str) -> str:
    """The notebook's first Markdown heading ("02 · Table 3: vision"), so that a browser tab
    or a bookmark says which page it is; the file's stem when the notebook has none."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s+(.+?)\s*#*\s*$", cell.source, re.MULTILINE)
            if match:
                return re.sub(r"[*_`]", "", match.group(1))
    return fallback


def navigation(page_name: str, code: bool) -> str:
    """The line at the top of a page: back to the index, and the other version of the page."""
    full, reading = page_name, reading_name(page_name)
    other = (f'<a href="{reading}">Without code</a>' if code
             else f'<a href="{full}">With code</a>')
    return f'<nav class="dreamlib-nav"><a href="index.html">← All notebooks</a>{other}</nav>'


def render(nb, page_name: str, code: bool) -> str:
    """One page of ``nb`` (figures embedded); ``nb``'s own metadata is left untouched."""
    nb = nb.copy()  # the title goes into the copy's metadata, where the template reads it
    nb.metadata = dict(nb.metadata, title=title(nb, page_name.removesuffix(".html")))
    body, _ = exporter(code).from_notebook_node(
        nb, resources={"dreamlib_nav": navigation(page_name, code)})
    return body


_TEMPLATE_STYLE = re.compile(r'<style type="text/css">\n?(.*?)</style>', re.DOTALL)


def shared_stylesheet(bodies: list[str]) -> tuple[str, list[str]]:
    """Move the template stylesheets that every page embeds (about 260 KB each) into one
    file: returns its text and the pages, which link it where the first one stood. Styles of
    a notebook's own outputs, and typed ones only some pages have, stay in their page."""
    if not bodies:
        return "", bodies
    found = [_TEMPLATE_STYLE.findall(body) for body in bodies]
    shared = [css for css in found[0] if all(css in others for others in found[1:])]
    if not shared:
        return "", bodies
    link = f'<link rel="stylesheet" href="{STYLESHEET}">'

    def linked(body: str) -> str:
        first = True

        def swap(match):
            nonlocal first
            if match.group(1) not in shared:
                return match.group(0)
            if first:
                first = False
                return link
            return ""

        return _TEMPLATE_STYLE.sub(swap, body)

    return "\n".join(shared), [linked(body) for body in bodies]


# --- what a card says -----------------------------------------------------------------------

@dataclasses.dataclass
class Card:
    """One notebook on the landing page."""

    number: str
    page: str  # the full page's file name; the reading version is reading_name(page)
    title: str
    item: str
    finding: str  # Markdown: one line
    finding_kind: str  # "Finding" (from "What we see") or "About" (the notebook's first sentence)
    thumb: str | None  # file name under THUMBS
    runtime: str


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph; "eq. 1" or "e.g. the" do not end one."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*(])", text.strip(), maxsplit=1)[0]


def what_we_see(nb) -> str | None:
    """The first line the notebook's "What we see" section prints (generated from its runs
    by :func:`dreamlib.claims.what_we_see`): its first claim with effect, CI and verdict."""
    cells = nb.cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and re.match(r"#+\s*what we see", cell.source,
                                                               re.IGNORECASE):
            for later in cells[index + 1:]:
                for output in later.get("outputs", []):
                    text = output.get("data", {}).get("text/markdown")
                    if text:
                        line = text.strip().splitlines()[0]
                        return line[2:] if line.startswith("- ") else first_sentence(line)
                if later.cell_type == "markdown":  # the section ended without a printed line
                    return None
    return None


def introduction(nb) -> str | None:
    """The first sentence after the notebook's title: what the page sets out to show."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        paragraphs = [p for p in cell.source.split("\n\n") if p.strip()
                      and not p.lstrip().startswith("#")]
        if paragraphs:
            return first_sentence(paragraphs[0])
    return None


def finding(nb) -> tuple[str, str]:
    """The card's line: the notebook's own verdict where it prints one ("What we see"), else
    the sentence that says what it shows; both come from the executed notebook, so the index
    never quotes a number the page does not show."""
    seen = what_we_see(nb)
    if seen:
        return "Finding", seen
    return "About", introduction(nb) or ""


def inline_markdown(text: str) -> str:
    """One line of Markdown (bold verdicts, code) as HTML, without the paragraph around it."""
    import mistune  # deferred: as nbconvert, which brings it

    rendered = mistune.create_markdown(escape=True)(text).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.DOTALL)


def runtime(rows: dict, number: str) -> str:
    """How long the notebook took in its last batch (``timings.csv``), read from the store
    and, where measured, when it trained its runs; "not measured" when no batch recorded it."""
    parts = []
    if (read := rows.get((number, "read"))):
        stored = f" reading its {read['runs']} runs from the store" if int(read["runs"]) else ""
        parts.append(f"{_duration(float(read['seconds']))}{stored}")
    if (train := rows.get((number, "train"))):
        parts.append(f"{_duration(float(train['seconds']))} training {train['trained']} of "
                     f"its {train['runs']} runs")
    if not parts:
        return "not measured yet"
    profiles = sorted({row["profile"] for row in (read, train) if row})
    return "; ".join(parts) + f" (profile {', '.join(profiles)})"


# --- thumbnails -----------------------------------------------------------------------------

def saved_figures(nb) -> list[str]:
    """The names the notebook passes to ``save_figure(fig, "NAME", ...)``, in order."""
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    return re.findall(r"save_figure\(\s*\w+\s*,\s*[\"']([^\"']+)[\"']", source)


def figure_image(nb, figures: Path) -> bytes | None:
    """The PNG of the notebook's first figure: the committed file of the first one it saves
    (full resolution), else the first image it shows (figures saved by a library helper, or
    not saved at all); None when it shows no figure."""
    for name in saved_figures(nb):
        path = figures / f"{name}.png"
        if path.is_file():
            return path.read_bytes()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode(png)
    return None


def thumbnail(png: bytes) -> bytes:
    """A small PNG of a figure: fitted in :data:`THUMB_BOX` on white, with a palette (plots
    are flat colours) of as many colours as keep it under :data:`THUMB_BYTES`."""
    from PIL import Image  # deferred: only the landing page needs it

    image = Image.open(io.BytesIO(png))
    image.load()
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        image = background
    image = image.convert("RGB")
    image.thumbnail(THUMB_BOX, Image.LANCZOS)
    for colors in (256, 128, 64, 32):  # photos of dreams need more colours than line plots
        buffer = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG",
                                                                            optimize=True)
        if buffer.tell() <= THUMB_BYTES:
            break
    return buffer.getvalue()


def write_thumbnails(cards_and_images: list[tuple[Card, bytes | None]], html: Path) -> None:
    """Write each card's thumbnail under ``html/THUMBS`` (and name it in the card) and drop
    the ones no card uses any more (a notebook renamed, or one that no longer shows a
    figure)."""
    folder = html / THUMBS
    wanted = set()
    for card, png in cards_and_images:
        if png is None:
            continue
        card.thumb = f"{Path(card.page).stem}.png"
        atomic_write_bytes(folder / card.thumb, thumbnail(png))
        wanted.add(card.thumb)
    for stale in folder.glob("*.png") if folder.is_dir() else []:
        if stale.name not in wanted:
            stale.unlink()


# --- the landing page -----------------------------------------------------------------------

INDEX_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
header p { margin: .3em 0; color: #444; }
.overview { margin: 1em 0 1.5em; }
.overview img { max-width: 100%; border: 1px solid #ddd; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 16px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 12px; background: #fff;
  display: flex; flex-direction: column; gap: 6px; }
.card h2 { font-size: 1.08em; margin: 0; }
.card h2 a { color: inherit; text-decoration: none; }
.card .thumb { display: block; height: 200px; text-decoration: none; background: #fafafa; border: 1px solid #eee;
  text-align: center; }
.card .thumb img { max-width: 100%; max-height: 198px; }
.card .thumb span { line-height: 198px; color: #999; }
.card .item { color: #555; margin: 0; }
.card p { margin: 0; }
.card .label { font-weight: 600; }
.card .meta { color: #666; font-size: .9em; }
.card .links a { margin-right: 1em; }
footer { margin-top: 2em; color: #777; font-size: .9em; }
"""


def local_link(target: Path, html: Path) -> str | None:
    """``target`` as a link relative to the pages (it must open from the folder, not from a
    path on this machine); None when the file does not exist."""
    return os.path.relpath(target, html).replace(os.sep, "/") if target.is_file() else None


def card_html(card: Card) -> str:
    """One notebook's card: thumbnail and title open the reading version (the results
    without code); the full page is one click away."""
    esc = html_escape.escape
    reading = reading_name(card.page)
    thumb = (f'<img src="{THUMBS}/{esc(card.thumb)}" alt="first figure of {esc(card.title)}">'
             if card.thumb else "<span>no figure</span>")
    return f"""<article class="card" id="nb{card.number}">
<a class="thumb" href="{esc(reading)}">{thumb}</a>
<h2><a href="{esc(reading)}">{esc(card.title)}</a></h2>
<p class="item"><span class="label">Reproduces:</span> {esc(card.item)}</p>
<p><span class="label">{card.finding_kind}:</span> {inline_markdown(card.finding)}</p>
<p class="meta">Runtime: {esc(card.runtime)}</p>
<p class="links"><a href="{esc(reading)}">Results only</a><a href="{esc(card.page)}">With code</a></p>
</article>"""


def index_html(cards: list[Card], html: Path, out: Path) -> str:
    """The landing page: the claims overview where it exists, then one card per notebook."""
    claims_md = local_link(out / "results" / "claims.md", html)
    overview = local_link(out / "figures" / "claims_overview.png", html)
    links = []
    if claims_md:
        links.append(f'<a href="{claims_md}">every claim with its verdict (claims.md)</a>')
    if overview:
        links.append(f'<a href="{overview}">the claims at a glance (figure)</a>')
    figure = (f'<figure class="overview"><a href="{overview}"><img src="{overview}" '
              'alt="every claim: effect with its 95 % CI, coloured by verdict"></a></figure>'
              if overview else "")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dreaming is All You Need, reproduced: the notebooks</title>
<style>{INDEX_CSS}</style>
</head>
<body>
<header>
<h1>Dreaming is All You Need, reproduced</h1>
<p>SleepNet and DreamNet, rebuilt with <code>dreamlib</code> and run at CPU scale: one executed
notebook per table or figure of the paper. Each card says what it reproduces, what the page
finds and how long it took; open the results alone or the page with its code.</p>
{f"<p>See also: {' · '.join(links)}.</p>" if links else ""}
</header>
{figure}
<main class="cards">
{chr(10).join(card_html(card) for card in cards)}
</main>
<footer>Made by <code>python -m dreamlib reproduce</code> from the executed notebooks in
<code>results/notebooks/</code>; the pages load nothing from outside this folder.</footer>
</body>
</html>
"""


# --- everything -----------------------------------------------------------------------------

def export_html(executed: Path, html: Path, out: Path | None = None) -> list[Path]:
    """HTML pages of the executed notebooks (figures embedded; a full page and a reading
    version without code each), their thumbnails and the landing page ``index.html``, so the
    results can be browsed without Jupyter and offline. ``out``: the output folder whose
    ``figures/``, ``results/timings.csv`` and ``results/claims.md`` the index uses; by
    default the one ``html`` sits in (``<out>/results/html``). Returns the full pages."""
    import nbformat  # deferred: nbformat/nbconvert take ~2 s to import

    html = Path(html)
    out = Path(out) if out is not None else html.parent.parent
    sources = executed_notebooks(executed)
    books = [nbformat.read(path, as_version=4) for path in sources]
    names = [f"{path.stem}.html" for path in sources]
    bodies = ([render(nb, name, code=True) for nb, name in zip(books, names)]
              + [render(nb, name, code=False) for nb, name in zip(books, names)])
    shared, bodies = shared_stylesheet(bodies)
    if shared:
        atomic_write_text(html / STYLESHEET, shared)
    for name, body in zip(names + [reading_name(name) for name in names], bodies):
        atomic_write_text(html / name, body)

    timings = read_timings(out)
    cards_and_images = []
    for path, nb, name in zip(sources, books, names):
        number = path.name[:2]
        kind, line = finding(nb)
        card = Card(number=number, page=name, title=title(nb, path.stem),
                    item=PAPER_ITEMS.get(number, ""), finding=line, finding_kind=kind,
                    thumb=None, runtime=runtime(timings, number))
        cards_and_images.append((card, figure_image(nb, out / "figures")))
    write_thumbnails(cards_and_images, html)
    atomic_write_text(html / "index.html",
                      index_html([card for card, _ in cards_and_images], html, out))
    return [html / name for name in names]


# --- the check ------------------------------------------------------------------------------

# Where a page or stylesheet loads or links something: src= and href= attributes (any tag),
# CSS url(...) and @import "..." (quoted or not).
_ATTRIBUTE = re.compile(r"""<(\w+)\b[^>]*?\s(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""",
                        re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def references(text: str) -> list[tuple[str, str]]:
    """(kind, URL) of everything a page or stylesheet refers to: ``a`` for a link a reader
    follows, ``load`` for what the browser fetches to show the page (scripts, images,
    stylesheets, fonts). Tags inside ``<script>`` text are not read (none of ours has any)."""
    found = []
    for match in _ATTRIBUTE.finditer(text):
        tag, url = match.group(1).lower(), match.group(3) or match.group(4) or ""
        found.append(("a" if tag == "a" else "load", html_escape.unescape(url)))
    for match in list(_CSS_URL.finditer(text)) + list(_CSS_IMPORT.finditer(text)):
        found.append(("load", next(group for group in match.groups() if group is not None)))
    return found


def reference_problem(url: str, kind: str, page: Path) -> str | None:
    """What is wrong with one reference of ``page``: a fetch from outside the repository (a
    link to another site is fine: the reader chooses to follow it), or a local file that
    does not exist. None when it is fine."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "mailto", "javascript") or (not parts.scheme and not parts.path):
        return None  # inline data, or a link within the page (#anchor)
    if parts.scheme or url.startswith("//"):
        if kind == "load":
            return f"{page.name}: loads {url} from outside the repository"
        return None
    target = (page.parent / unquote(parts.path)).resolve()
    if not target.exists():
        return f"{page.name}: {url} does not resolve ({target} is missing)"
    return None


def page_problems(page: Path) -> list[str]:
    """Every problem of one page or stylesheet (:func:`reference_problem`)."""
    text = page.read_text(encoding="utf-8", errors="replace")
    problems = [reference_problem(url, kind, page) for kind, url in references(text)]
    return [problem for problem in problems if problem]


def folder_problems(html: Path) -> list[str]:
    """Every problem of a folder of pages (``.html`` and ``.css``); empty when it opens
    offline with every image, stylesheet and local link in place."""
    html = Path(html)
    files = sorted(html.glob("*.html")) + sorted(html.glob("*.css"))
    if not files:
        return [f"{html}: no pages"]
    return [problem for path in files for problem in page_problems(path)]
