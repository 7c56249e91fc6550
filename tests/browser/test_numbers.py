"""Every number the explain panel writes, read back from the page's text and checked.

A seeded loop over random networks (depth, width, activation), training states (steps,
momentum, L1/L2) and selections (hidden and output neurons, edges), in real Chromium against
a real uvicorn, each case seeded by its number. For every equation the panel writes
(``.arith``), the left side is computed exactly (``Fraction``) from the numbers *as shown*
and must round to the right side as shown: within half a unit in its last shown digit; a
shown "0" must be exactly 0. An equation the page writes with "≈" must come with the
panel's note saying why. The shown δ is the frame's δ, and the shown Δw is the change that
pressing "step" then makes to the weight, read back through REST in full precision
(``?explain=l,j,k``).
"""

from __future__ import annotations

import json
import random
import re
import time
import urllib.request
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

# The property loop's cases, each seeded by its number (the same cases on every machine):
# `make test` checks the first FAST_CASES, `make test-slow` the rest.
FAST_CASES = range(0, 4)
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu")
SLOW_CASES = range(4, 12)
NUMBER = re.compile(r"\d+(?:\.\d*)?(?:e[-+]?\d+)?")
TOKEN = re.compile(r"\s*(\d+(?:\.\d*)?(?:e[-+]?\d+)?|[-+*/()=≈])")


def shown(text: str) -> tuple[Fraction, Fraction | None]:
    """A shown number's exact value and half a unit in its last digit (None: exactly 0)."""
    t = text.replace("−", "-").strip()
    d = Decimal(t)
    if t in ("0", "-0"):
        return Fraction(0), None
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    return Fraction(d), Fraction(10) ** exp / 2


def evaluate(expr: str) -> Fraction:
    """The exact value of + − · / ( ) over shown numbers (no names, no calls)."""
    tokens = TOKEN.findall(expr)
    assert "".join(tokens) == expr.replace(" ", ""), f"unparsed text in {expr!r}"
    code = "".join(f'F("{t}")' if NUMBER.fullmatch(t) else t for t in tokens)
    value = eval(code, {"__builtins__": {}}, {"F": lambda s: Fraction(Decimal(s))})
    return Fraction(value)


def check_equation(text: str) -> tuple[bool, str]:
    """(holds, why) for one ``.arith`` text such as ``0.5·(−0.25)+1=0.875``."""
    t = text.replace("−", "-").replace("·", "*").replace("×", "*").replace("\u2062", "")
    approx = "≈" in t
    lhs, rhs = re.split("[=≈]", t)
    value, half = shown(rhs)
    got = evaluate(lhs)
    ok = got == value if half is None else abs(got - value) <= half
    return ok or approx, f"{text!r}: left side {float(got)!r}, right {float(value)!r}"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def open_page(warm, server, size=(1280, 720)):  # type: ignore[no-untyped-def]
    """A tab of the worker's warm profile at ``size``, the app loaded: (closer, page, page
    errors); the closer's ``close()`` closes the tab."""
    pg = warm.new_page()
    pg.set_viewport_size({"width": size[0], "height": size[1]})
    ctx = pg
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{server}/")
    pg.wait_for_function(
        "window.__bpv && window.__bpv.stats.applied >= 1 && window.__bpv.plotsReady", timeout=60_000
    )
    return ctx, pg, errors


def frame(pg, expr: str):  # type: ignore[no-untyped-def]
    return pg.evaluate(f"(() => {{ const f = window.__bpv.store.frame; return {expr}; }})()")


def configure(pg, config: dict[str, Any], steps: int) -> None:  # type: ignore[no-untyped-def]
    pg.evaluate(f"window.__bpv.actions.set({json.dumps(config)})")
    want = json.dumps(config["hidden"], separators=(",", ":"))
    pg.wait_for_function(
        f"JSON.stringify(window.__bpv.store.frame.sizes.slice(1, -1)) === '{want}' "
        f"&& window.__bpv.store.frame.hyper.momentum === {config['momentum']}",
        timeout=20_000,
    )
    if steps:
        start = frame(pg, "f.step")
        pg.evaluate(f"window.__bpv.send({{type: 'step', steps: {steps}}})")
        pg.wait_for_function(f"window.__bpv.store.frame.step >= {start + steps}", timeout=30_000)


def click(pg, l: int, j: int, k: int | None = None) -> None:  # noqa: E741  # type: ignore[no-untyped-def]
    # Two clicks within Plotly's 300 ms would be one double-click: wait out only what is
    # left of that since this page's last click (checking a panel usually takes longer).
    last = getattr(pg, "last_click", None)
    if last is not None and (rest := 0.35 - (time.monotonic() - last)) > 0:
        pg.wait_for_timeout(rest * 1000)
    args = f"{l}, {j}" if k is None else f"{l}, {j}, {k}"
    pos = pg.evaluate(f"window.__bpv.network.clientPos({args})")
    pg.mouse.move(pos["x"], pos["y"])
    # A click selects what Plotly's (throttled) hover is on: wait until it is on the target
    # (for an edge: on an edge; edges cross, the test then reads which one was selected).
    want = "h.type === 'edge'" if k is not None else f"h.l === {l} && h.j === {j}"
    pg.wait_for_function(
        f"(() => {{ const h = window.__bpv.network.hover; return h && {want}; }})()"
    )
    pg.mouse.down()
    pg.mouse.up()
    pg.last_click = time.monotonic()


def select(pg, l: int, j: int, k: int | None = None) -> dict[str, Any]:  # noqa: E741  # type: ignore[no-untyped-def]
    """Click a neuron or edge until it is selected (a click on the selection clears it)."""
    click(pg, l, j, k)
    got = pg.evaluate("window.__bpv.store.selection")
    if got is None:  # it was selected already: the click cleared it
        click(pg, l, j, k)
        got = pg.evaluate("window.__bpv.store.selection")
    assert got, f"clicking {(l, j, k)} selected nothing"
    return dict(got)


def wait_panel(pg, sel: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """Until the panel shows this selection's exact numbers (the frame's explain)."""
    cond = (
        "(() => { const s = window.__bpv.store.selection, e = window.__bpv.store.frame.explain;"
        f" const want = {json.dumps(sel)};"
        " return s && e && e.l === want.l && e.j === want.j && (e.k ?? null) === (want.k ?? null)"
        " && document.querySelectorAll('#explain .arith').length > 0; })()"
    )
    try:
        pg.wait_for_function(cond, timeout=10_000)
    except Exception:
        state = pg.evaluate(
            "[window.__bpv.store.selection, window.__bpv.store.frame.explain && "
            "[window.__bpv.store.frame.explain.l, window.__bpv.store.frame.explain.j, "
            "window.__bpv.store.frame.explain.k], "
            "document.querySelector('.explain-title').textContent]"
        )
        raise AssertionError(f"the panel did not show {sel}: {state}") from None


def equations(pg) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return pg.eval_on_selector_all(
        "#explain .arith",
        "els => els.map(e => ({text: e.textContent, eq: e.dataset.eq, "
        "approx: !!e.dataset.approx}))",
    )


def assert_all_hold(pg, where: str) -> int:  # type: ignore[no-untyped-def]
    eqs = equations(pg)
    assert eqs, f"{where}: no equations on the panel"
    for e in eqs:
        ok, why = check_equation(e["text"])
        assert ok, f"{where}: {e['eq']} does not hold to its shown digits: {why}"
        if e["approx"]:
            assert "≈" in e["text"]
            assert pg.locator("#explain .approx-note").count() == 1, f"{where}: ≈ without a why"
    return len(eqs)


def rhs_of(pg, eq: str) -> str:  # type: ignore[no-untyped-def]
    text = pg.locator(f"#explain .arith[data-eq='{eq}']").first.text_content() or ""
    return re.split("[=≈]", text)[-1]


def random_config(rng: random.Random) -> dict[str, Any]:
    reg = rng.choice(["none", "l1", "l2"])
    return {
        "hidden": [rng.randint(1, 5) for _ in range(rng.randint(1, 3))],
        "hidden_activation": rng.choice(["tanh", "sigmoid", "relu", "leaky_relu"]),
        "dataset": rng.choice(["circle", "xor", "gauss", "spiral"]),
        "learning_rate": rng.choice([0.01, 0.03, 0.1, 0.3]),
        "momentum": rng.choice([0.0, 0.9]),
        "regulariser": reg,
        "lambda": 0.0 if reg == "none" else rng.choice([0.1, 1.0, 3.0]),
        "seed": rng.randint(1, 10_000),
    }


@pytest.mark.parametrize(
    "cases",
    [
        pytest.param(FAST_CASES, id="fast"),
        pytest.param(SLOW_CASES, id="more", marks=pytest.mark.slow),
    ],
)
def test_every_explained_equation_holds_to_its_shown_digits(warm, server, cases: range) -> None:  # type: ignore[no-untyped-def]
    ctx, pg, errors = open_page(warm, server)
    checked = 0
    try:
        for case in cases:
            rng = random.Random(9_000 + case)
            # every hidden activation among any four cases in a row; the rest drawn
            config = {**random_config(rng), "hidden_activation": ACTIVATIONS[case % 4]}
            configure(pg, config, rng.choice([0, 5, 60, 400]))
            sizes = frame(pg, "f.sizes")
            L = len(sizes)
            for n in range(3):
                l = rng.randint(2, L)  # noqa: E741
                j = rng.randrange(sizes[l - 1])
                if rng.random() < 0.5:
                    sel = {"l": l, "j": j}
                    select(pg, l, j)
                    wait_panel(pg, sel)
                    checked += assert_all_hold(pg, f"{config} neuron {sel}")
                    tag = "bp2-delta" if l < L else "bp1-delta"
                    if pg.locator(f"#explain .arith[data-eq='{tag}']").count():
                        value, half = shown(rhs_of(pg, tag))
                        ex = frame(pg, "f.explain.probe.delta")
                        fr = frame(pg, f"f.layers[{l - 2}].delta[{j}]")
                        assert abs(value - Fraction(ex)) <= (half or 0), (tag, value, ex)
                        # the frame's δ (4 digits) is the same number to its digits
                        assert abs(float(value) - fr) <= float(half or 0) + 5e-4 * abs(fr) + 1e-30
                    # batch-mean mode: the rows and their mean
                    pg.select_option("#over", "mean")
                    pg.wait_for_selector("#explain .arith[data-eq='mean-row']", timeout=5_000)
                    checked += assert_all_hold(pg, f"{config} mean {sel}")
                    md = pg.locator("#explain [data-mean-delta]").first.get_attribute(
                        "data-mean-delta"
                    )
                    assert float(md or "nan") == pytest.approx(
                        frame(pg, f"f.layers[{l - 2}].mean.delta[{j}]"), rel=1e-3, abs=1e-9
                    )
                    pg.select_option("#over", "probe")
                    pg.wait_for_selector("#explain .arith[data-eq='mean-row']", state="detached")
                else:
                    k = rng.randrange(sizes[l - 2])
                    # Edges cross: the click selects the edge under the pointer, maybe another.
                    got = select(pg, l, j, k)
                    assert got["type"] == "edge", got
                    sel = {"l": got["l"], "j": got["j"], "k": got["k"]}
                    wait_panel(pg, sel)
                    checked += assert_all_hold(pg, f"{config} edge {sel}")
                    check_next_step(pg, server, sel)
                if n == 2:  # a second click clears the selection (once a case: clicks are slow)
                    click(pg, l, j, k if "k" in sel else None)
                    pg.wait_for_selector(".explain-title:has-text('four equations')")
        assert checked >= 30, (checked, list(cases))
        assert errors == []
    finally:
        ctx.close()


def check_next_step(pg, server: str, sel: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """The shown Δw is the change pressing 'step' makes (w read back in full via REST)."""
    run_id = pg.evaluate("window.__bpv.store.run.id")
    q = f"{server}/api/runs/{run_id}/frame?explain={sel['l']},{sel['j']},{sel['k']}"
    step = frame(pg, "f.step")
    dw, half = shown(rhs_of(pg, "edge-dw"))
    before = get_json(q)["explain"]
    assert before["update"]["delta_w"] == pytest.approx(float(dw), abs=float(half or 0) * 1.001)
    pg.click("#step")
    pg.wait_for_function(f"window.__bpv.store.frame.step === {step + 1}", timeout=10_000)
    after = get_json(q)["explain"]
    change = Fraction(after["w"]) - Fraction(before["w"])
    slack = Fraction(abs(before["w"])) * Fraction(1, 10**15)  # w_after − w_before in float64
    assert abs(change - dw) <= (half or 0) + slack, (sel, float(change), float(dw))


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
def test_explain_panel_screenshots(warm, server, size) -> None:  # type: ignore[no-untyped-def]
    ctx, pg, errors = open_page(warm, server, size)
    try:
        config = {
            "hidden": [4, 3],
            "hidden_activation": "tanh",
            "dataset": "circle",
            "learning_rate": 0.03,
            "momentum": 0.9,
            "regulariser": "l2",
            "lambda": 1.0,
            "seed": 1,
        }
        configure(pg, config, 200)
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"{size[0]}x{size[1]}"
        click(pg, 2, 1)
        wait_panel(pg, {"l": 2, "j": 1})
        assert_all_hold(pg, "screenshot neuron")
        pg.mouse.move(5, size[1] - 5)  # off the network: the boundary is back
        pg.wait_for_function("document.querySelector('#boundary').dataset.showing === 'output'")
        pg.screenshot(path=str(ARTIFACTS / f"explain-neuron-{name}.png"))
        pg.select_option("#over", "mean")
        pg.wait_for_selector("#explain .arith[data-eq='mean-row']")
        pg.screenshot(path=str(ARTIFACTS / f"explain-batch-mean-{name}.png"))
        pg.select_option("#over", "probe")
        click(pg, 3, 1, 0)
        wait_panel(pg, {"l": 3, "j": 1, "k": 0})
        pg.mouse.move(5, size[1] - 5)
        pg.screenshot(path=str(ARTIFACTS / f"explain-edge-{name}.png"))
        assert errors == []
    finally:
        ctx.close()


def test_hovering_a_neuron_shows_its_output_in_the_big_plot(warm, server) -> None:  # type: ignore[no-untyped-def]
    ctx, pg, errors = open_page(warm, server)
    try:
        configure(pg, {**random_config(random.Random(1)), "hidden": [3], "momentum": 0.0}, 30)
        image = "(() => { const im = document.querySelector('#boundary')._fullLayout.images[0];"
        image += " return im ? im.source : null; })()"
        boundary = pg.evaluate(image)
        pos = pg.evaluate("window.__bpv.network.clientPos(2, 1)")
        pg.mouse.move(pos["x"], pos["y"])
        pg.wait_for_function(
            "document.querySelector('#boundary').dataset.showing === 'neuron 2,1'", timeout=5_000
        )
        hovered = pg.evaluate(image)
        assert hovered and hovered != boundary
        assert (
            pg.locator(".neuron-caption").text_content().startswith("Hovered: neuron 2 of layer 2")
        )
        # The picture is that neuron's grid from the server, coloured ±max|a|: its corner
        # pixels are the grid's corner values through the same colour map.
        run_id = pg.evaluate("window.__bpv.store.run.id")
        g = get_json(f"{server}/api/runs/{run_id}/grid/2/1")
        top_left = g["values"][-1][0]  # row 0 of the image is the top: the largest x2
        pixel = pg.evaluate(
            """(src) => new Promise((ok) => { const im = new Image(); im.onload = () => {
              const c = document.createElement('canvas'); c.width = im.width; c.height = im.height;
              const x = c.getContext('2d'); x.drawImage(im, 0, 0);
              ok([im.width, im.height, Array.from(x.getImageData(0, 0, 1, 1).data)]); };
              im.src = src; })""",
            hovered,
        )
        assert pixel[:2] == [64, 64]
        M = max(abs(v) for row in g["values"] for v in row)
        want = pg.evaluate(
            "([v, M]) => import('/static/js/colors.js')"
            ".then(c => c.outputMap({lo: -M, hi: M, mid: 0})(v))",
            [top_left, M],
        )
        assert all(abs(a - b) <= 1 for a, b in zip(pixel[2][:3], want, strict=True))
        pg.mouse.move(5, 715)
        pg.wait_for_function("document.querySelector('#boundary').dataset.showing === 'output'")
        assert pg.evaluate(image) == boundary
        assert errors == []
    finally:
        ctx.close()


def test_saturation_banner_and_its_advice(warm, server) -> None:  # type: ignore[no-untyped-def]
    ctx, pg, errors = open_page(warm, server)
    try:
        hot = {
            "hidden": [4, 4],
            "hidden_activation": "tanh",
            "dataset": "circle",
            "learning_rate": 10.0,
            "momentum": 0.0,
            "regulariser": "none",
            "lambda": 0.0,
            "seed": 1,
        }
        configure(pg, hot, 1000)
        banner = pg.locator("[data-banner='health']")
        banner.wait_for(timeout=10_000)
        # The advice is tried in a background thread: "Trying smaller learning rates…" first.
        pg.wait_for_function(
            """() => (document.querySelector("[data-banner='health']")?.textContent ?? '')
                .includes('Tried on this run from step 0')""",
            timeout=30_000,
        )
        text = banner.text_content() or ""
        assert "saturated" in text and "η = 10" in text
        button = banner.locator("button", has_text="and reset")
        label = button.text_content() or ""
        eta = float(re.search(r"η = ([\d.e−-]+)", label).group(1).replace("−", "-"))  # type: ignore[union-attr]
        assert eta < 10
        steps = frame(pg, "f.health.advice.tried.at(-1).steps")
        button.click()
        pg.wait_for_function(
            f"window.__bpv.store.frame.hyper.learning_rate === {eta} "
            "&& window.__bpv.store.frame.step === 0",
            timeout=10_000,
        )
        pg.evaluate(f"window.__bpv.send({{type: 'step', steps: {steps}}})")
        # Health is measured with the metrics: wait for a frame measured at that step.
        pg.wait_for_function(f"window.__bpv.store.frame.metrics_step >= {steps}", timeout=30_000)
        assert frame(pg, "f.health.alarm") is False
        assert pg.locator("[data-banner='health']").count() == 0
        assert frame(pg, "f.status") != "diverged"
        assert errors == []
    finally:
        ctx.close()
