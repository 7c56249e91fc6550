"""The server dies under a learner's playing page and comes back on the same port.

What the learner sees, read from the page: a short "Reconnecting to the server…" (an
information, not an error), then, without a reload,
- with Redis (BPV_REDIS_URL): their own run again, playing on from a step no older than about
  2 s before the server died (the checkpoint interval);
- without Redis (runs in memory): a message that the server no longer had the run (a restart
  among its possible causes), and a new run with the same settings, playing;
- behind HAProxy (deploy/haproxy.cfg, two replicas, Redis), with the replica that trains the
  run killed and nothing restarted: the same run through the other replica.

The server is a real uvicorn killed with SIGKILL by its pid (no graceful shutdown, the
stream just breaks) and started again on the same port; Redis is Debian's redis-server on a
free loopback port, without persistence, stopped by its pid.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, VIEWPORT
from tests.deploy.procs import App, HAProxy, Proc, free_port, get

pytestmark = pytest.mark.browser

ENV = {"BPV_MAX_RUNS_PER_CLIENT": "1000", "BPV_CLIENT_MEMORY_MB": "100000"}
CONN = "#banner [data-banner=conn]"


def shown_step(pg) -> int:  # type: ignore[no-untyped-def]
    return int(pg.locator("#stepno").inner_text().replace(",", ""))


@contextlib.contextmanager
def learner(browser, url: str) -> Iterator:  # type: ignore[no-untyped-def]
    """A page on ``url`` that records page errors (uncaught exceptions) for the test."""
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.base = url  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


def open_page(pg) -> None:  # type: ignore[no-untyped-def]
    """The page with its first frame on screen (Plotly's plots are not needed here)."""
    pg.goto(f"{pg.base}/")
    pg.wait_for_function("window.__bpv && window.__bpv.stats.applied >= 1", timeout=60_000)


def play_until(pg, steps: int) -> None:  # type: ignore[no-untyped-def]
    pg.click("#play")
    pg.wait_for_function(
        f"Number(document.querySelector('#stepno').textContent.replace(/,/g, '')) >= {steps}",
        timeout=20_000,
    )
    assert pg.locator("#play").get_attribute("aria-label") == "pause"


def wait_reconnecting(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    """The learner sees the reconnecting state: worded as such, not as an error."""
    # Checked in the page at once (the state may last only half a second behind HAProxy):
    # the banner says "Reconnecting…" as an information, and meanwhile the run shows as
    # paused (nothing trains it).
    handle = pg.wait_for_function(
        """() => {
          const b = document.querySelector('#banner [data-banner=conn]');
          return b && document.querySelector('#play').ariaLabel === 'play'
            && [b.textContent, b.className];
        }""",
        timeout=10_000,
        polling=20,
    )
    text, cls = handle.json_value()
    assert text.startswith("Reconnecting to the server…")
    assert "info" in cls.split()
    pg.screenshot(path=str(ARTIFACTS / f"{name}-1280x720.png"))


def wait_streaming_again(pg, after_step: int = 0) -> None:  # type: ignore[no-untyped-def]
    """The banner is gone, and the step on screen moves on past ``after_step``, playing."""
    pg.locator(CONN).wait_for(state="detached", timeout=30_000)
    first = shown_step(pg)
    pg.wait_for_function(
        "Number(document.querySelector('#stepno').textContent.replace(/,/g, '')) > "
        f"{max(first, after_step)}",
        timeout=10_000,
    )
    assert pg.locator("#play").get_attribute("aria-label") == "pause"


def test_in_memory_run_lost_on_restart_is_replaced_with_a_message(browser) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    app = App(port, ENV)
    with app, learner(browser, app.url) as pg:
        app.start()
        open_page(pg)
        before = pg.evaluate("window.__bpv.store.run.id")
        play_until(pg, 30)
        pg.evaluate("window.__sameDocument = true")  # gone if the page reloaded
        app.kill()
        wait_reconnecting(pg, "reconnecting")
        lost_at = shown_step(pg)
        app.stop()
        app.start()  # the same port, an empty in-process store
        wait_streaming_again(pg)
        after = pg.evaluate("window.__bpv.store.run.id")
        assert after != before
        msg = pg.locator("#banner [data-banner=expired]")
        assert msg.inner_text().startswith(
            "The server no longer had your run when it answered again, so this is a new run "
            "with the same settings, starting at step 0."
        )
        assert f"Its {lost_at:,} steps of training are lost" in msg.inner_text()
        assert "Possible causes:" in msg.inner_text() and "the server restarted" in msg.inner_text()
        pg.screenshot(path=str(ARTIFACTS / "reconnected-new-run-1280x720.png"))
        # The same settings: the run the server now has is configured as the one lost.
        assert pg.evaluate("window.__bpv.store.run.config.hidden") == [4, 2]
        assert pg.evaluate("window.__sameDocument") is True  # not a reload
        assert pg.errors == []  # type: ignore[attr-defined]


# The Redis and HAProxy variants run in make test-slow: make test keeps the page's reconnect
# (above) and the same kills through REST (tests/store/test_restart.py,
# tests/deploy/test_haproxy_e2e.py).
@pytest.mark.slow
def test_with_redis_the_same_run_comes_back_within_2_s(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    redis_port = free_port()
    redis = Proc(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)]
    )  # fmt: skip
    port = free_port()
    app = App(port, {**ENV, "BPV_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"})
    with redis, app, learner(browser, app.url) as pg:
        redis.start()
        app.start()
        open_page(pg)
        run = pg.evaluate("window.__bpv.store.run.id")
        play_until(pg, 30)
        # The step on screen over the last seconds before the kill: (time, step).
        seen: list[tuple[float, int]] = []
        until = time.monotonic() + 3
        while time.monotonic() < until:
            seen.append((time.monotonic(), shown_step(pg)))
            time.sleep(0.1)
        pg.evaluate("window.__sameDocument = true")
        killed = time.monotonic()
        app.kill()
        wait_reconnecting(pg, "reconnecting-redis")
        app.stop()
        app.start()
        pg.locator(CONN).wait_for(state="detached", timeout=30_000)
        back = shown_step(pg)
        assert pg.evaluate("window.__bpv.store.run.id") == run
        assert pg.locator("#banner [data-banner=expired]").count() == 0
        assert pg.evaluate("window.__sameDocument") is True
        # At most 2 s lost (plus 0.3 s: the sampling above and the frame in flight).
        two_s_before = max(s for t, s in seen if t <= killed - 2.3)
        assert back >= two_s_before, (back, seen)
        wait_streaming_again(pg, back)
        assert pg.errors == []  # type: ignore[attr-defined]
    assert redis.proc is None and app.proc is None


@pytest.mark.slow
def test_behind_haproxy_a_killed_replica_s_student_comes_back_through_the_other(  # type: ignore[no-untyped-def]
    browser, tmp_path: Path
) -> None:
    """The reference deployment on loopback (deploy/haproxy.cfg, two replicas, Redis): the
    replica that trains a learner's run dies; nothing is restarted. The page reconnects
    through HAProxy to the other replica and shows the same run, playing on."""
    redis_port = free_port()
    redis = Proc(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)]
    )  # fmt: skip
    env = {**ENV, "BPV_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    ports = [free_port(), free_port()]
    a, b = App(ports[0], env), App(ports[1], env)
    with redis, a, b:
        redis.start()
        a.launch(), b.launch()
        a.ready(), b.ready()
        with HAProxy(ports, tmp_path / "haproxy.cfg").start() as lb, learner(browser, lb.url) as pg:
            open_page(pg)
            run = pg.evaluate("window.__bpv.store.run.id")
            play_until(pg, 30)
            playing = {x.port: json.loads(get(f"{x.url}/api/stats")[1])["playing"] for x in (a, b)}
            assert sorted(playing.values()) == [0, 1], playing
            owner = a if playing[a.port] == 1 else b
            seen: list[tuple[float, int]] = []
            until = time.monotonic() + 3
            while time.monotonic() < until:
                seen.append((time.monotonic(), shown_step(pg)))
                time.sleep(0.1)
            pg.evaluate("window.__sameDocument = true")
            killed = time.monotonic()
            owner.kill()
            wait_reconnecting(pg, "reconnecting-haproxy")
            pg.locator(CONN).wait_for(state="detached", timeout=15_000)
            back = shown_step(pg)
            assert pg.evaluate("window.__bpv.store.run.id") == run
            assert pg.evaluate("window.__sameDocument") is True
            two_s_before = max(s for t, s in seen if t <= killed - 2.3)
            assert back >= two_s_before, (back, seen)
            wait_streaming_again(pg, back)
            assert pg.errors == []  # type: ignore[attr-defined]
