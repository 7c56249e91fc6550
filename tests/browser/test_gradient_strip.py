"""Issue 13, items 1-3, as a learner sees them: a 6×8 sigmoid network on the circle set,
trained 100 steps. The gradient across layers shows per layer the numbers the frame's norms
hold, GET /history holds, and the frame's own tensors give (to the digits shown), rising by
orders of magnitude from layer 2 to the output; a norm of 0 is said "0"; the heat strip
reads back the history; the log colour scale tells an edge with |w·δ| ~ 1e−5 from one with
w·δ = 0; every layer's histogram counts every weight (and m·n_l activations and errors).
Screenshots at 1366×768 and 390 px go to artifacts/gradient-strip-*.png (look at them)."""

from __future__ import annotations

import itertools
import json
import math
import re
import urllib.request

import pytest

from tests.browser.conftest import ARTIFACTS, PLOTS_READY, point_and_read

pytestmark = pytest.mark.browser

DEEP = "dataset=circle&hidden=8,8,8,8,8,8&hidden_activation=sigmoid&output_activation=sigmoid"
STEPS = 100

CELLS = """(q) => [...document.querySelectorAll(`#layers .gs-table td[data-q="${q}"]`)]
  .map(td => ({l: Number(td.dataset.l), text: td.textContent}))"""


def shown(text: str) -> tuple[float, float]:
    """A number as the strip prints it (3 significant digits, real minus, 1.23e−5) and half
    a unit of its last digit."""
    t = text.replace("−", "-")
    if t == "0":
        return 0.0, 0.0
    m = re.fullmatch(r"(-?\d+)(?:\.(\d+))?(?:e(-?\d+))?", t)
    assert m, f"{text!r} is not a number as the page prints it"
    decimals = len(m.group(2) or "")
    exp = int(m.group(3) or 0)
    return float(t), 0.5 * 10 ** (exp - decimals)


def agrees(text: str, value: float, rel: float = 1e-6) -> bool:
    v, half = shown(text)
    return abs(v - value) <= half + rel * abs(value) + 1e-15


def norm(xs: list) -> float:  # type: ignore[type-arg]
    flat = [x for row in xs for x in (row if isinstance(row, list) else [row])]
    return math.sqrt(math.fsum(x * x for x in flat))


def history(base: str, run_id: str, histograms: bool = False) -> dict:  # type: ignore[type-arg]
    q = "?histograms=true" if histograms else ""
    with urllib.request.urlopen(f"{base}/api/runs/{run_id}/history{q}") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def trained(open_at, w: int = 1366, h: int = 768, steps: int = STEPS):  # type: ignore[no-untyped-def]
    pg = open_at(w, h, DEEP)
    train_on(pg, 0, steps)
    return pg


def train_on(pg, start: int, steps: int) -> None:  # type: ignore[no-untyped-def]
    """Train from step ``start`` to ``steps`` ten at a time (a measurement and histogram
    snapshot every ten), and wait until the strip shows the history up to the last."""
    for s in range(start + 10, steps + 1, 10):
        pg.evaluate("window.__bpv.send({type: 'step', steps: 10})")
        pg.wait_for_function(f"window.__bpv.store.frame.step === {s}", timeout=60_000)
    # The strip's history has caught up with the frame (read at most once a second).
    pg.wait_for_function(
        "(() => { const h = window.__bpv.store.layerHistory;"
        f" return h && h.step.at(-1) === {steps}"
        " && document.querySelector('#layers').dataset.tab === 'gradient'"
        f" && document.querySelector('#layers .gs').dataset.step === '{steps}'; }})()",
        timeout=30_000,
    )


def test_strip_numbers_are_the_norms_and_rise_to_the_output(open_at, server: str) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at)
    frame = pg.evaluate("window.__bpv.store.frame")
    hist = history(server, frame["run_id"])
    assert hist["step"][-1] == frame["step"] == STEPS
    series = {s["l"]: s for s in hist["layers"]}
    layers = {x["l"]: x for x in frame["layers"]}
    L = len(frame["sizes"])
    assert L == 8
    for over, keys in (("probe", ("probe_delta", "probe_grad_w")), ("mean", ("grad_b", "grad_w"))):
        if over == "mean":
            pg.select_option("#lp-over", "mean")
            pg.wait_for_function("document.querySelector('#layers .gs').dataset.over === 'mean'")
            assert pg.input_value("#over") == "mean", "one Values setting for the page"
        rows = {q: pg.evaluate(CELLS, q) for q in ("delta", "grad")}
        for q, key in zip(("delta", "grad"), keys, strict=True):
            assert [c["l"] for c in rows[q]] == list(range(2, L + 1))
            for c in rows[q]:
                l, text = c["l"], c["text"]  # noqa: E741 (the notation's layer index)
                assert agrees(text, layers[l]["norms"][key]), (
                    over,
                    key,
                    l,
                    text,
                    layers[l]["norms"],
                )
                assert agrees(text, series[l][key][-1]), (over, key, l, text, series[l][key][-1])
                # Independently, from the frame's own (4-digit) tensors.
                lay = layers[l]
                prev_a = frame["input"]["a"] if l == 2 else layers[l - 1]["a"]
                own = {
                    "probe_delta": norm(lay["delta"]),
                    "probe_grad_w": norm(lay["delta"]) * norm(prev_a),
                    "grad_b": norm(lay["grad_b"]),
                    "grad_w": norm(lay["grad_w"]),
                }[key]
                assert agrees(text, own, rel=2e-3), (over, key, l, text, own)
        # The staircase: ‖∂C/∂w‖ rises from layer 2 to the output, by orders of magnitude.
        # The probe's rises layer by layer; the batch mean's overall (norms of the mean: the
        # examples' gradients partly cancel, so two neighbouring small layers may swap).
        grads = [shown(c["text"])[0] for c in rows["grad"]]
        if over == "probe":
            assert all(b > a for a, b in itertools.pairwise(grads)), (over, grads)
        assert grads[-1] == max(grads) and grads[-1] / grads[0] > 100, (over, grads)
    # Saturated units per layer as the health counts them, and the threshold stated.
    sat = pg.evaluate(CELLS, "saturated")
    health = {h["l"]: h for h in frame["health"]["layers"]}
    for c in sat:
        h = health.get(c["l"])
        assert c["text"] == (f"{h['saturated']}/{h['n']}" if h else "—"), (c, h)
    note = pg.inner_text("#layers .gs-note")
    assert "σ′(z) < 1 % of its largest value" in note and "half of the training examples" in note


def test_heat_strip_reads_back_the_history(open_at, server: str) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at)
    run_id = pg.evaluate("window.__bpv.store.run.id")
    hist = history(server, run_id)
    series = {s["l"]: s["probe_grad_w"] for s in hist["layers"]}
    box = pg.evaluate(
        "document.querySelector('#layers canvas.gs-heat').getBoundingClientRect().toJSON()"
    )
    n = len(series)
    for row, l in enumerate(sorted(series)):  # noqa: E741
        for frac, idx in ((0.999, -1), (0.0005, 0)):
            pg.mouse.move(
                box["left"] + frac * box["width"], box["top"] + (row + 0.5) * box["height"] / n
            )
            pg.wait_for_function(
                f"document.querySelector('#layers .gs-readout b[data-l=\"{l}\"]') !== null"
            )
            step = int(pg.get_attribute("#layers .gs-readout b[data-step]", "data-step"))
            assert step == hist["step"][idx]
            text = pg.inner_text(f'#layers .gs-readout b[data-l="{l}"]')
            assert agrees(text, series[l][idx]), (l, step, text, series[l][idx])
    pg.mouse.move(0, 0)


def heat_readouts(pg, n: int) -> dict[int, list[dict]]:  # type: ignore[no-untyped-def,type-arg]
    """Per row of the heat strip (top to bottom: l = 2..n+1), the readout with the pointer on
    its newest column and on its oldest: [{"step", "l", "q", "value", "n", "text"}, ...]."""
    points = [(fx, (row + 0.5) / n) for row in range(n) for fx in (0.999, 0.0005)]
    readout = "#layers .gs-readout"
    got = point_and_read(
        pg,
        "#layers canvas.gs-heat",
        points,
        [f"{readout} b[data-step]", f"{readout} b[data-l]", readout],
    )
    out: dict[int, list[dict]] = {}  # type: ignore[type-arg]
    for o in got:
        at, val, whole = o["each"]
        l = int(val["data"]["l"])  # noqa: E741
        out.setdefault(l, []).append(
            {
                "step": int(at["data"]["step"]),
                "q": val["data"]["q"],
                "value": val["data"]["value"],
                "n": val["data"].get("n"),
                "shown": val["text"],
                "text": whole["text"],
            }
        )
    return out


PIXEL = """([row, n]) => { const c = document.querySelector('#layers canvas.gs-heat');
  const y = Math.floor((row + 0.5) * c.height / n);
  return [...c.getContext('2d').getImageData(c.width - 1, y, 1, 1).data].slice(0, 3); }"""


def choose(pg, q: str) -> None:  # type: ignore[no-untyped-def]
    pg.click(f'#layers .gs-pick button[data-heat-q="{q}"]')
    pg.wait_for_function(f"document.querySelector('#layers .gs').dataset.heat === '{q}'")
    assert pg.get_attribute(f'#layers .gs-pick [data-heat-q="{q}"]', "aria-pressed") == "true"


def test_heat_strip_shows_delta_and_saturated_over_time(open_at, server: str) -> None:  # type: ignore[no-untyped-def]
    """The selector beside the heat strip: ‖δ‖ and the share of saturated units over the run,
    each read back from the hover readout against GET /history's series; no 'dead' for a σ
    network; the choice kept while new history arrives."""
    pg = trained(open_at, 1280, 720, steps=300)
    frame = pg.evaluate("window.__bpv.store.frame")
    sizes = frame["sizes"]
    buttons = pg.evaluate(
        "[...document.querySelectorAll('#layers .gs-pick button')].filter(b => !b.hidden)"
        ".map(b => b.dataset.heatQ)"
    )
    assert buttons == ["grad", "delta", "saturated"], "a σ network has no dead ReLUs to show"
    hist = history(server, frame["run_id"])
    series = {s["l"]: s for s in hist["layers"]}
    n = len(series)
    assert sorted(series) == list(range(2, len(sizes) + 1))

    # ‖δ‖ of the probe (the Values setting), on a log scale.
    choose(pg, "delta")
    assert "log scale" in pg.inner_text("#layers .gs-legend")
    probe = frame["probe"]["index"]
    assert f"‖δˡ‖ of probe #{probe} over the run" in pg.inner_text("#layers .gs-steps")
    ARTIFACTS.mkdir(exist_ok=True)
    pg.evaluate("document.querySelector('#layers').scrollIntoView({block: 'nearest'})")
    pg.screenshot(path=str(ARTIFACTS / "gradient-strip-delta-1280x720.png"))
    reads = heat_readouts(pg, n)
    for l, pair in reads.items():  # noqa: E741
        for r, idx in zip(pair, (-1, 0), strict=True):
            assert r["step"] == hist["step"][idx]
            assert r["q"] == "delta"
            want = series[l]["probe_delta"][idx]
            assert agrees(r["shown"], want), (l, r, want)
            assert f"‖δ{'⁰¹²³⁴⁵⁶⁷⁸⁹'[l]}‖ =" in r["text"], r["text"]  # the quantity, named
            assert f"l = {l}" in r["text"] and f"step {r['step']:,}" in r["text"], r["text"]
    # The staircase over the run: at the newest step ‖δ‖ grows from layer 2 to the output.
    newest = [shown(reads[k][0]["shown"])[0] for k in sorted(reads)]
    assert newest[-1] / newest[0] > 100, newest

    # The batch mean's ‖δ‖ (‖∂C/∂b‖) when the Values setting says so, the choice kept.
    pg.select_option("#lp-over", "mean")
    pg.wait_for_function("document.querySelector('#layers .gs').dataset.over === 'mean'")
    assert pg.evaluate("document.querySelector('#layers .gs').dataset.heat") == "delta"
    reads = heat_readouts(pg, n)
    for l, pair in reads.items():  # noqa: E741
        assert agrees(pair[0]["shown"], series[l]["grad_b"][-1]), (l, pair[0])
        assert "‖mean δ" in pair[0]["text"], pair[0]["text"]
    pg.select_option("#lp-over", "probe")
    pg.wait_for_function("document.querySelector('#layers .gs').dataset.over === 'probe'")

    # The share of saturated units, on a linear 0-100 % scale.
    choose(pg, "saturated")
    legend = pg.inner_text("#layers .gs-legend")
    assert "linear scale" in legend and "0 %" in legend and "100 %" in legend, legend
    reads = heat_readouts(pg, n)
    for l, pair in reads.items():  # noqa: E741
        for r, idx in zip(pair, (-1, 0), strict=True):
            assert r["step"] == hist["step"][idx] and r["q"] == "saturated"
            counts = series[l]["saturated"]
            if counts is None:  # the health does not count this layer: said, not drawn
                assert r["shown"] == "—" and "not counted" in r["text"], r
                assert pg.evaluate(PIXEL, [l - 2, n]) == [236, 238, 241]
                continue
            m = re.fullmatch(r"(\d+)/(\d+) = (\d+(?:\.\d)?) %", r["shown"])
            assert m, r
            units = sizes[l - 1]
            assert int(m.group(1)) == counts[idx] and int(m.group(2)) == units, (l, r, counts[idx])
            assert abs(float(m.group(3)) - 100 * counts[idx] / units) <= 0.05 + 1e-9, (l, r)
            assert "saturated" in r["text"] and f"l = {l}" in r["text"], r["text"]

    # Saturate unit 1 of layer 3: its 8 incoming weights 50, so z ≈ 50·Σa² ≫ 6 (σ′ < 1 % of
    # ¼) on every example, and σ′ ≈ 0 keeps it there. New history arrives: the strip still
    # shows the saturated share, up to the new step, with that unit counted.
    for k in range(sizes[1]):
        pg.evaluate(f"window.__bpv.send({{type: 'set_weight', l: 3, j: 0, k: {k}, value: 50}})")
    pg.wait_for_function("window.__bpv.store.frame.layers[1].w[0].every(v => v === 50)")
    train_on(pg, 300, 320)
    assert pg.evaluate("document.querySelector('#layers .gs').dataset.heat") == "saturated"
    hist = history(server, frame["run_id"])
    assert hist["step"][-1] == 320
    reads = heat_readouts(pg, n)
    for l, pair in reads.items():  # noqa: E741
        assert pair[0]["step"] == 320 and pair[0]["q"] == "saturated"
        counts = next(s["saturated"] for s in hist["layers"] if s["l"] == l)
        if counts is not None:
            assert pair[0]["shown"].startswith(f"{counts[-1]}/{sizes[l - 1]} = "), (l, pair[0])
    assert reads[3][0]["shown"] == "1/8 = 12.5 %", reads[3]  # the one unit driven, no other
    assert pg.errors == []


def shows_delta_over_the_run(pg, step: int) -> None:  # type: ignore[no-untyped-def]
    """The strip shows ‖δ‖ over the run up to ``step``, as a learner sees it: the ‖δ‖ button
    pressed (and no other), the caption, and the hover readout of every row naming ‖δˡ‖."""
    pg.wait_for_function(
        "(() => { const h = window.__bpv.store.layerHistory;"
        f" return h && h.step.at(-1) === {step}"
        f" && document.querySelector('#layers .gs').dataset.step === '{step}'"
        " && !document.querySelector('#layers .gs-time').hidden; })()",
        timeout=30_000,
    )
    pressed = pg.evaluate(
        "[...document.querySelectorAll('#layers .gs-pick button[aria-pressed=true]')]"
        ".map(b => b.textContent)"
    )
    assert pressed == ["‖δ‖"], pressed
    probe = pg.evaluate("window.__bpv.store.frame.probe.index")
    assert f"‖δˡ‖ of probe #{probe} over the run" in pg.inner_text("#layers .gs-steps")
    n = len(pg.evaluate("window.__bpv.store.frame.sizes")) - 1
    reads = heat_readouts(pg, n)
    assert sorted(reads) == list(range(2, n + 2))
    for l, pair in reads.items():  # noqa: E741
        for r in pair:
            assert r["q"] == "delta", r
            assert f"‖δ{'⁰¹²³⁴⁵⁶⁷⁸⁹'[l]}‖ =" in r["text"], r["text"]
            assert "∂C" not in r["text"], r["text"]


def test_the_strips_choice_is_kept_in_the_link(open_at) -> None:  # type: ignore[no-untyped-def]
    """‖δ‖ picked over the run goes into the page's link (heat=delta): a reload of the tab
    and a new tab opening the link both show ‖δ‖ over the run again."""
    pg = trained(open_at, steps=20)
    choose(pg, "delta")
    pg.wait_for_function("location.hash.includes('heat=delta')", timeout=5_000)
    link = pg.evaluate("location.hash.slice(1)")
    pg.reload()
    pg.wait_for_function(f"window.__bpv && window.__bpv.stats.applied >= 1 && {PLOTS_READY}")
    assert pg.evaluate("window.__bpv.store.frame.step") == 20, "the reload went on with the run"
    shows_delta_over_the_run(pg, 20)
    assert "heat=delta" in pg.evaluate("location.hash")
    ARTIFACTS.mkdir(exist_ok=True)
    pg.evaluate("document.querySelector('#layers').scrollIntoView({block: 'nearest'})")
    pg.screenshot(path=str(ARTIFACTS / "gradient-strip-delta-after-reload.png"))
    # The link shared: another tab opens it (a run of its own, trained 10 steps).
    other = open_at(1366, 768, link)
    train_on(other, 0, 10)
    shows_delta_over_the_run(other, 10)
    # Picking ‖∂C/∂w‖ again is written too.
    choose(other, "grad")
    other.wait_for_function("location.hash.includes('heat=grad')", timeout=5_000)
    assert pg.errors == [] and other.errors == []


def test_zero_is_said_zero(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at)
    # A frame whose layer 3 has ‖∂Cₓ/∂w³‖ = 0 exactly (as when every a² of the probe is 0).
    pg.evaluate(
        "(() => { const f = structuredClone(window.__bpv.store.frame);"
        " f.layers[1].norms.probe_grad_w = 0; f.layers[1].norms.probe_delta = 1e-300;"
        " window.__bpv.applyFrame(f); })()"
    )
    cells = {c["l"]: c["text"] for c in pg.evaluate(CELLS, "grad")}
    assert cells[3] == "0"
    deltas = {c["l"]: c["text"] for c in pg.evaluate(CELLS, "delta")}
    assert deltas[3] == "1.00e−300", "a tiny norm is not shown as 0"
    chart = pg.locator("#layers .gs-chart").nth(1)
    assert chart.locator("rect.gs-bar-grad").count() == 0, "no bar for 0 on a log axis"
    assert chart.locator("text.gs-zero").text_content() == "0"
    assert chart.locator("rect.gs-bar-delta").count() == 1


def test_log_colour_scale_tells_1e5_from_zero(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at)
    # w²₁₁ = 0: the backward contribution w·δ of edge 1 → 1 into layer 2 is exactly 0.
    pg.evaluate("window.__bpv.send({type: 'set_weight', l: 2, j: 0, k: 0, value: 0})")
    pg.wait_for_function("window.__bpv.store.frame.layers[0].w[0][0] === 0")
    back = pg.evaluate("window.__bpv.store.frame.layers[0].edges.probe.backward")
    assert back[0][0] == 0
    # The edge of layer 2 whose |w·δ| is nearest 1e−5.
    j, k, v = min(
        ((j, k, x) for j, row in enumerate(back) for k, x in enumerate(row) if x != 0),
        key=lambda t: abs(math.log10(abs(t[2])) + 5),
    )
    assert 1e-6 <= abs(v) <= 1e-4, v
    assert pg.input_value("#scale") == "linear"

    def strokes() -> tuple[str, str]:
        zero = pg.get_attribute('#net path[data-edge="2,0,0"]', "stroke")
        small = pg.get_attribute(f'#net path[data-edge="2,{j},{k}"]', "stroke")
        return zero or "", small or ""

    zero, small = strokes()
    assert zero == small, "linear: 1e−5 of a range of about 1 looks like 0"
    pg.select_option("#scale", "log")
    pg.wait_for_function("location.hash.includes('scale=log')")
    zero, small = strokes()
    assert zero.lower() == "#e8e8e8" and small != zero, (zero, small)
    title = pg.inner_text('#net [data-colorbar="edges"] .cb-title')
    assert "log scale" in title


def test_histograms_count_every_value(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at)
    pg.click('[data-lp-tab="distributions"]')
    frame = pg.evaluate("window.__bpv.store.frame")
    sizes, m = frame["sizes"], frame["hyper"]["batch_size"]
    pg.wait_for_function(
        "(() => { const h = window.__bpv.store.layerHistory; return h && h.histograms; })()",
        timeout=30_000,
    )
    for kind in ("w", "a", "delta"):
        pg.select_option("#lp-kind", kind)
        cells = pg.evaluate(
            "[...document.querySelectorAll('#layers .ds-cell')].map(c => ({l: Number(c.dataset.l),"
            " snaps: Number(c.dataset.snapshots), head: c.querySelector('.ds-head').textContent,"
            " counts: [...c.querySelectorAll('rect.ds-bar')].map(r => Number(r.dataset.count))}))"
        )
        assert [c["l"] for c in cells] == list(range(2, len(sizes) + 1))
        for c in cells:
            l = c["l"]  # noqa: E741
            n = sizes[l - 1] * sizes[l - 2] if kind == "w" else m * sizes[l - 1]
            assert sum(c["counts"]) == n, (kind, c)
            assert f"{n} values" in c["head"], c["head"]
            own = next(x for x in frame["histograms"]["layers"] if x["l"] == l)[kind]
            assert c["counts"] == own["counts"], "the front histogram is the frame's"
            assert c["snaps"] > 3, "and older ones from the history behind it"
    caption = pg.inner_text("#layers .ds-caption")
    assert f"to {STEPS} (front, bars)" in caption


@pytest.mark.parametrize(("w", "h"), [(1366, 768), (390, 844)])
def test_panel_fits(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    pg = trained(open_at, w, h)
    ARTIFACTS.mkdir(exist_ok=True)
    for tab in ("gradient", "distributions"):
        pg.click(f'[data-lp-tab="{tab}"]')
        pg.wait_for_timeout(300)
        pg.evaluate("document.querySelector('#layers').scrollIntoView({block: 'nearest'})")
        pg.screenshot(path=str(ARTIFACTS / f"gradient-strip-{tab}-{w}x{h}.png"), full_page=w < 1000)
        assert pg.evaluate("document.documentElement.scrollWidth") <= w
        panel = pg.evaluate("document.querySelector('#layers').getBoundingClientRect().toJSON()")
        assert panel["left"] >= 0 and panel["right"] <= w + 0.5, panel
        inner = pg.evaluate(
            "[...document.querySelectorAll('#layers .gs-now, #layers .ds-cells, #layers .gs-side')]"
            ".filter(e => e.offsetParent).map(e => ({sw: e.scrollWidth, cw: e.clientWidth,"
            " r: e.getBoundingClientRect().right}))"
        )
        for e in inner:
            assert e["sw"] <= e["cw"] + 1 and e["r"] <= panel["right"] + 0.5, (tab, e)
    if w >= 1000:
        assert pg.evaluate("document.documentElement.scrollHeight") <= h + 1
    assert pg.errors == []


OLDEST_PIXEL = """([row, n]) => { const c = document.querySelector('#layers canvas.gs-heat');
  const y = Math.floor((row + 0.5) * c.height / n);
  return [...c.getContext('2d').getImageData(0, y, 1, 1).data].slice(0, 3); }"""


def test_heat_strip_greys_another_probes_norms(open_at, server: str) -> None:  # type: ignore[no-untyped-def]
    """A reviewer: after picking another probe, "‖∂Cₓ/∂w‖ of the probe over the run" showed
    the old example's norms as the new one's. The steps measured on the old probe are grey,
    said to be that example's in the readout (with their values from GET /history), and the
    caption names the probe whose the coloured columns are."""
    pg = trained(open_at, 1366, 768, steps=30)
    before = pg.evaluate("window.__bpv.store.frame.probe.index")
    after = (before + 7) % 200
    pg.evaluate(f"window.__bpv.send({{type: 'probe', index: {after}}})")
    pg.wait_for_function(f"window.__bpv.store.frame.probe.index === {after}")
    train_on(pg, 30, 60)
    run_id = pg.evaluate("window.__bpv.store.run.id")
    hist = history(server, run_id)
    at = dict(zip(hist["step"], hist["probe"], strict=True))
    assert at[hist["step"][0]] == before and at[30] == before and at[40] == after, at
    series = {s["l"]: s["probe_grad_w"] for s in hist["layers"]}
    n = len(series)
    assert f"of probe #{after} over the run" in pg.inner_text("#layers .gs-steps")
    assert "another probe's" in pg.inner_text("#layers .gs-legend")
    reads = heat_readouts(pg, n)
    for row, l in enumerate(sorted(series)):  # noqa: E741
        newest, oldest = reads[l]
        assert newest["step"] == 60 and "not this one" not in newest["text"], newest
        assert agrees(newest["shown"], series[l][-1]), (l, newest)
        assert oldest["step"] == hist["step"][0], oldest
        assert f"of probe #{before}, not this one" in oldest["text"], oldest["text"]
        assert agrees(oldest["shown"], series[l][0]), (l, oldest)
        assert pg.evaluate(OLDEST_PIXEL, [row, n]) == [176, 176, 176], l  # grey
        assert pg.evaluate(PIXEL, [row, n]) != [176, 176, 176], l  # this probe's: coloured
    pg.mouse.move(
        *pg.evaluate(
            "(() => { const b = document.querySelector('#layers canvas.gs-heat')"
            ".getBoundingClientRect(); return [b.left + 2, b.top + 4]; })()"
        )
    )
    ARTIFACTS.mkdir(exist_ok=True)
    pg.evaluate("document.querySelector('#layers').scrollIntoView({block: 'nearest'})")
    pg.screenshot(path=str(ARTIFACTS / "gradient-strip-another-probe-1366x768.png"))
    # Picking the old probe again colours its columns, and greys the other's.
    pg.evaluate(f"window.__bpv.send({{type: 'probe', index: {before}}})")
    pg.wait_for_function(
        f"document.querySelector('#layers .gs-steps').textContent.includes('probe #{before} ')"
    )
    assert pg.evaluate(OLDEST_PIXEL, [0, n]) != [176, 176, 176]
    assert pg.evaluate(PIXEL, [0, n]) == [176, 176, 176]
