"""Check that the HTML pages of a results folder open offline: ``python tools/check_pages.py
[results/html]``.

A page that looks right on a machine with a network can still fetch a script from a CDN, or
point at an image that exists only in the author's checkout. So every ``.html`` page of the
folder is rendered in headless Chromium (Debian's ``chromium``; ``make check-pages``
installs it) with the network off (every host name unresolvable, every proxy connection
refused), and the check fails when, in any page:

- the browser tries to fetch anything that is not a local file, or any fetch fails
  (a missing image, stylesheet or script);
- an image did not load (checked in the rendered page, not only in the network log);
- a link to a local file points at nothing;
- a script throws.

It also runs the static check of :func:`dreamlib.pages.folder_problems` (every ``src``,
``href``, ``url(...)`` and ``@import`` of the pages and stylesheets), which needs no browser.
Exit status 0 when every page passes, 1 when one does not, 2 when it could not check.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``),
so the check needs no port, no websocket library and no network.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dreamlib.pages import folder_problems

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           "--proxy-bypass-list=<-loopback>"]
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--mute-audio", "--remote-debugging-pipe"]
PAGE_TIMEOUT = 60.0  # seconds for one page to load (the largest pages hold ~100 KB of images)
SETTLE = 0.5  # seconds after the load event for late fetches (images decoded lazily, fonts)

BROKEN_IMAGES = ("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                 ".map(i => i.currentSrc || i.src)")
LINKS = "[...document.querySelectorAll('a[href]')].map(a => a.href)"


class DevTools:
    """One headless Chromium, spoken to over the DevTools pipe (fd 3 in, fd 4 out; each
    message is JSON ended by a NUL byte). Events that arrive while waiting for an answer are
    kept in :attr:`events` for the caller to read."""

    def __init__(self, browser: str):
        self.profile = tempfile.mkdtemp(prefix="check-pages-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def pipes_on_3_and_4():  # in the child: the pipe ends where Chromium looks for them
            # via fds >= 10 first: a pipe end may already sit on 3 or 4, and dup2 onto itself
            # would leave it close-on-exec (or one end would overwrite the other)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [browser, *HEADLESS, *OFFLINE, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=pipes_on_3_and_4, close_fds=False)  # noqa: PLW1509 (no threads here)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed the DevTools pipe (did it start?)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = PAGE_TIMEOUT) -> dict:
        """Send one command and return its result (events meanwhile go to :attr:`events`)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float) -> bool:
        """Read events until one named ``method`` arrives; False when it did not in time."""
        deadline = time.monotonic() + timeout
        while True:
            if any(event.get("method") == method for event in self.events):
                return True
            try:
                self.events.append(self._message(deadline))
            except TimeoutError:
                return False

    def drain(self, seconds: float) -> None:
        """Keep reading events for ``seconds`` (a command round trip paces the reads)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.1)
            self.call("Browser.getVersion")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)


def open_tab(devtools: DevTools) -> str:
    """A page target with the domains the check listens to; returns its session id."""
    target = devtools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = devtools.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Network", "Runtime"):
        devtools.call(f"{domain}.enable", session=session)
    return session


def evaluate(devtools: DevTools, session: str, expression: str):
    result = devtools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=session)
    return result.get("result", {}).get("value")


def missing_local_file(url: str) -> bool:
    """Whether a ``file:`` URL names a file that does not exist (links to other sites are
    the reader's choice and are not followed)."""
    parts = urlsplit(url)
    return parts.scheme == "file" and not Path(unquote(parts.path)).exists()


def fetch_problems(events: list[dict]) -> list[str]:
    """What the network log of one page says went wrong: a fetch from outside the folder
    (with the network off it fails anyway, but it is named as what it is) or a failed one."""
    urls = {}
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if urlsplit(url).scheme not in ("file", "data", "about", "blob"):
                problems.append(f"fetches {url} from outside the repository")
        elif method == "Network.loadingFailed":
            url = urls.get(params["requestId"], "?")
            problems.append(f"could not load {url}: {params.get('errorText', 'failed')}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            problems.append(f"a script throws: {text.splitlines()[0] if text else '?'}")
    return problems


def render_problems(devtools: DevTools, session: str, page: Path) -> tuple[list[str], int]:
    """Load one page offline; returns its problems and how many fetches it made (the page
    itself, its stylesheet and images, embedded ones included)."""
    devtools.events.clear()
    devtools.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    if not devtools.wait_for("Page.loadEventFired", PAGE_TIMEOUT):
        return [f"did not finish loading in {PAGE_TIMEOUT:.0f} s"], 0
    devtools.drain(SETTLE)
    problems = fetch_problems(devtools.events)
    problems += [f"image does not show: {src}"
                 for src in evaluate(devtools, session, BROKEN_IMAGES) or []]
    problems += [f"link to a missing file: {url}"
                 for url in evaluate(devtools, session, LINKS) or [] if missing_local_file(url)]
    fetched = sum(event.get("method") == "Network.requestWillBeSent"
                  for event in devtools.events)
    return problems, fetched


def find_browser() -> str | None:
    for name in BROWSERS:
        if (path := shutil.which(name)):
            return path
    return None


def main(argv: list[str]) -> int:
    html = Path(argv[0] if argv else "results/html")
    pages = sorted(html.glob("*.html"))
    if not pages:
        print(f"check-pages: no pages in {html}")
        return 2
    static = folder_problems(html)
    for problem in static:
        print(f"static: {problem}")
    browser = find_browser()
    if browser is None:
        print("check-pages: no Chromium found (apt-get install chromium, or make check-pages)")
        return 2
    failed = 0
    devtools = DevTools(browser)
    try:
        session = open_tab(devtools)
        for page in pages:
            problems, fetched = render_problems(devtools, session, page)
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {page.name} ({fetched} fetches)")
            for problem in problems:
                print(f"     {problem}")
    finally:
        devtools.close()
    print(f"check-pages: {len(pages)} pages rendered offline in {Path(browser).name}, "
          f"{failed} with problems; static check: {len(static)} problems")
    return 1 if failed or static else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
