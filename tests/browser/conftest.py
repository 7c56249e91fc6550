"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn.

A package-scoped fixture starts ``uvicorn app.main:create_app --factory`` on a free 127.0.0.1
port (package, not session: Playwright's sync API keeps an event loop running until it stops,
which would break later tests that call ``asyncio.run``). ``BPV_BROWSER_URL`` points the
suite at an already running server instead. Every page fixture blocks and records any request
that would leave 127.0.0.1 and fails the test on a console error or an uncaught page error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
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
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + 600  # `make chromium` may still be installing it
    while not Path(CHROMIUM).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} not found: run `make chromium`")
        time.sleep(5)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


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
def page(browser, server, page_probe):  # type: ignore[no-untyped-def]
    # The page's CSP (script-src 'self') forbids eval, which Playwright's string predicates
    # (wait_for_function, evaluate) use; the page itself never evals.
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)

    def route(r):  # type: ignore[no-untyped-def]
        url = r.request.url
        page_probe.requests.append(url)
        if is_local(url):
            r.continue_()
        else:
            page_probe.outside.append(url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
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
    context.close()
    assert page_probe.outside == [], f"requests left 127.0.0.1: {page_probe.outside}"
    assert page_probe.unexpected() == [], f"console errors: {page_probe.unexpected()}"
    assert page_probe.dialogs == [], f"dialogs opened: {page_probe.dialogs}"


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
def open_at(browser, server) -> Iterator:  # type: ignore[no-untyped-def]
    contexts = []

    def go(w: int, h: int, hash_: str = "hidden=4,2"):  # type: ignore[no-untyped-def]
        ctx = browser.new_context(viewport={"width": w, "height": h}, bypass_csp=True)
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.errors = []  # type: ignore[attr-defined]
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
        pg.goto(f"{server}/#{hash_}", timeout=90_000)
        pg.wait_for_function(
            f"window.__bpv && window.__bpv.stats.applied >= 1 && {PLOTS_READY}", timeout=90_000
        )
        return pg

    yield go
    for c in contexts:
        for pg in c.pages:
            pg.evaluate(DELETE_RUN)
        c.close()
