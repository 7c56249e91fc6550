"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn.

A package-scoped fixture starts ``uvicorn app.main:create_app --factory`` on a free 127.0.0.1
port (package, not session: Playwright's sync API keeps an event loop running until it stops,
which would break later tests that call ``asyncio.run``). ``BPV_BROWSER_URL`` points the
suite at an already running server instead. The ``page`` and ``open_at`` pages are tabs of one
warm Chromium profile per worker (``warm``); the ``page`` fixture records any request that
would leave 127.0.0.1 and fails the test on it, on a console error or an uncaught page error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.store import redis_switch

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 720}


def pytest_runtest_setup(item: pytest.Item) -> None:
    redis_switch.skip_single_process(item)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn subprocess serving the app on 127.0.0.1:<free port>."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ws-per-message-deflate", "false", "--log-level", "warning",
        ]  # fmt: skip
        if redis_switch.ENABLED:  # BPV_TEST_REDIS=1: backprop-viz --workers 2 sharing Redis
            cmd = [*cmd[:2], "app.cli", *cmd[5:9], *redis_switch.cli_args()]
            env = {**(env or {}), **redis_switch.server_env()}
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}:\n{err}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("uvicorn did not answer /healthz within 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()  # else an unclosed-file ResourceWarning fails the teardown


@pytest.fixture(scope="package")
def server() -> Iterator[str]:
    if os.environ.get("BPV_BROWSER_URL"):
        yield os.environ["BPV_BROWSER_URL"].rstrip("/")
        return
    # Every test page is the same client (127.0.0.1) and its runs outlive the page until
    # evicted: lift the per-client caps, or the sixth test's page would wait for a slot (and
    # the ~60th for memory: a default run is estimated at about 1 MB of the client's 64).
    srv = Server({"BPV_MAX_RUNS_PER_CLIENT": "1000", "BPV_CLIENT_MEMORY_MB": "100000"})
    try:
        yield srv.url
    finally:
        srv.stop()


@pytest.fixture(scope="package")
def playwright():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + 600  # `make chromium` may still be installing it
    while not Path(CHROMIUM).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} not found: run `make chromium`")
        time.sleep(5)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright):  # type: ignore[no-untyped-def]
    """A Chromium for tests that need fresh contexts (a cold first load, their own
    routes)."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture(scope="package")
def warm(playwright, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One persistent Chromium profile per test worker, which the ``page`` and ``open_at``
    pages open in (each page its own tab: sessionStorage, the page's run and its listeners
    are per tab; the page keeps nothing else in the browser). Its HTTP and V8 code caches
    make every load after the first two find Plotly.js (4.6 MB) compiled: a fresh context per
    test compiled it again each time, ~3.5 s a load against ~1.5 s warm. No route is set on
    it (routing turns Chromium's cache off): requests that would leave 127.0.0.1 are recorded
    from the page's ``request`` events and fail the test (there is no internet to reach)."""
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport=VIEWPORT,
        bypass_csp=True,
    )
    yield ctx
    ctx.close()


def is_local(url: str) -> bool:
    u = urlparse(url)
    return u.scheme in ("data", "blob", "about") or u.hostname == "127.0.0.1"


class PageProbe:
    """What a page did: console errors, page errors, requests that tried to leave."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """Expect console errors containing text (Chromium logs every HTTP 4xx as one)."""
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def page_probe() -> PageProbe:
    return PageProbe()


@pytest.fixture
def page(warm, server, page_probe):  # type: ignore[no-untyped-def]
    # The page's CSP (script-src 'self') forbids eval, which Playwright's string predicates
    # (wait_for_function, evaluate) use; the page itself never evals (the warm profile has
    # bypass_csp).
    pg = warm.new_page()

    def request(r):  # type: ignore[no-untyped-def]
        page_probe.requests.append(r.url)
        if not is_local(r.url):
            page_probe.outside.append(r.url)

    pg.on("request", request)
    pg.on("console", lambda m: m.type == "error" and page_probe.errors.append(m.text))
    pg.on("pageerror", lambda e: page_probe.errors.append(f"pageerror: {e}"))

    def websocket(ws):  # type: ignore[no-untyped-def]
        page_probe.requests.append(ws.url)
        if urlparse(ws.url).hostname != "127.0.0.1":
            page_probe.outside.append(ws.url)

    pg.on("websocket", websocket)

    def dialog(d):  # type: ignore[no-untyped-def]
        page_probe.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", dialog)
    pg.base = server  # type: ignore[attr-defined]
    yield pg
    close_page(pg)
    assert page_probe.outside == [], f"requests left 127.0.0.1: {page_probe.outside}"
    assert page_probe.unexpected() == [], f"console errors: {page_probe.unexpected()}"
    assert page_probe.dialogs == [], f"dialogs opened: {page_probe.dialogs}"


def close_page(pg) -> None:  # type: ignore[no-untyped-def]
    """Close a tab of the warm profile, and any it opened (downloads, popups)."""
    if not pg.is_closed():
        pg.close()


# The first frame is drawn with canvas stand-ins for the Plotly figures (static/js/plots.js);
# Plotly.js is loaded after it and replaces them, then sets window.__bpv.plotsReady. A test
# that reads or clicks what Plotly drew waits for this (every test below via open_app/open_at).
PLOTS_READY = "window.__bpv.plotsReady === true"


def open_app(pg, hash_: str = "", frames: int = 1):  # type: ignore[no-untyped-def]
    """Load the page (optionally with a URL hash) and wait until a frame is on screen and
    Plotly has drawn the plots."""
    pg.goto(f"{pg.base}/" + (f"#{hash_}" if hash_ else ""))
    pg.wait_for_function(
        f"window.__bpv && window.__bpv.stats.applied >= {frames} && {PLOTS_READY}", timeout=60_000
    )
    return pg


def digits_shown(pg) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page shows the book's digits (the 64-30-10 network and its views)."""
    pg.wait_for_function(
        "window.__bpv.store.frame.sizes.join() === '64,30,10'"
        " && !document.querySelector('#digits').hidden",
        timeout=30_000,
    )


def trained_to(pg, steps: int, also: str = "true") -> None:  # type: ignore[no-untyped-def]
    """Train ``steps`` steps through the page's own stream (``__bpv.send``) and wait until
    the frame of that step is on screen and the JS condition ``also`` holds."""
    pg.evaluate(f"window.__bpv.send({{type: 'step', steps: {steps}}})")
    pg.wait_for_function(f"window.__bpv.store.frame.step === {steps} && ({also})", timeout=60_000)


def rebuilt_with(pg, settings: dict[str, Any], timeout: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Change run settings as the page's controls do (``__bpv.actions.set``) and wait until
    the same run, rebuilt at step 0, has them and its frame is on screen."""
    run = pg.evaluate("window.__bpv.store.run.id")
    pg.evaluate(f"window.__bpv.actions.set({json.dumps(settings)})")
    pg.wait_for_function(
        f"""(() => {{ const s = window.__bpv.store, want = {json.dumps(settings)};
        return s.run.id === {json.dumps(run)} && s.frame.step === 0
          && Object.entries(want).every(([k, v]) =>
               JSON.stringify(s.run.config[k]) === JSON.stringify(v)); }})()""",
        timeout=timeout,
    )


def frame_value(pg, expr: str):  # type: ignore[no-untyped-def]
    """Evaluate ``expr`` with ``f`` bound to the latest frame on screen."""
    return pg.evaluate(f"(() => {{ const f = window.__bpv.store.frame; return {expr}; }})()")


def num(text: str) -> float:
    """Parse a number as the page prints it (real minus sign, 1.2e−5)."""
    return float(text.replace("−", "-").replace("=", "").strip())


# Pages at a viewport size, each run deleted afterwards (the layout tests).
DELETE_RUN = """(r => r && fetch(`/api/runs/${r.id}`,
  {method: 'DELETE', headers: {'Content-Type': 'application/json'}}))(window.__bpv?.store.run)"""


@pytest.fixture
def open_at(warm, server) -> Iterator:  # type: ignore[no-untyped-def]
    pages = []

    def go(w: int, h: int, hash_: str = "hidden=4,2"):  # type: ignore[no-untyped-def]
        pg = warm.new_page()
        pg.set_viewport_size({"width": w, "height": h})
        pages.append(pg)
        pg.errors = []  # type: ignore[attr-defined]
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
        pg.goto(f"{server}/#{hash_}", timeout=90_000)
        pg.wait_for_function(
            f"window.__bpv && window.__bpv.stats.applied >= 1 && {PLOTS_READY}", timeout=90_000
        )
        return pg

    yield go
    for pg in pages:
        if not pg.is_closed():
            pg.evaluate(DELETE_RUN)
        close_page(pg)


# Point at many places of one element and read what the page then says, in one round trip:
# each point gets a pointermove dispatched to the element the browser finds there
# (document.elementFromPoint: the real pointer's hit test, and it must be the element or
# inside it), and the readout's text is read after the page's handler ran. Playwright's
# mouse.move took three round trips a point (64 pixels × 3 images: 40 s of a test).
POINT_AND_READ = """([sel, points, readSel]) => {
  const el = document.querySelector(sel);
  const box = el.getBoundingClientRect();
  return points.map(([fx, fy]) => {
    const x = box.left + fx * box.width, y = box.top + fy * box.height;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(hit === el || el.contains(hit))) {
      return {miss: String(hit && hit.outerHTML.slice(0, 80))};
    }
    const opts = {clientX: x, clientY: y, bubbles: true, pointerType: 'mouse'};
    hit.dispatchEvent(new PointerEvent('pointermove', opts));
    hit.dispatchEvent(new MouseEvent('mousemove', opts));
    const read = (q) => {
      const r = document.querySelector(q);
      return {text: r ? r.innerText : null, data: r ? {...r.dataset} : null};
    };
    return Array.isArray(readSel) ? {each: readSel.map(read)} : read(readSel);
  });
}"""


def point_and_read(  # type: ignore[no-untyped-def]
    pg, selector: str, points: list[tuple[float, float]], read: str | list[str]
) -> list[dict]:  # type: ignore[type-arg]
    """For each ``(fx, fy)`` (fractions of ``selector``'s box), the pointer there and
    ``{"text", "data"}`` (its data attributes) of the element ``read`` that the page shows
    then (for a list of selectors: ``{"each": [...]}``, one per selector)."""
    pg.locator(selector).scroll_into_view_if_needed()
    out = pg.evaluate(POINT_AND_READ, [selector, [list(p) for p in points], read])
    for p, o in zip(points, out, strict=True):
        assert "miss" not in o, f"{selector} is not under the pointer at {p}: {o['miss']}"
    return out  # type: ignore[no-any-return]
