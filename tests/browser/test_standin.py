"""The first picture is drawn before Plotly.js has loaded, and it is true.

Plotly.js is held back (a route that answers only when the test says so), so the page shows
its canvas stand-ins. The stand-in picture is read back from a screenshot and checked against
what the server says and against what Plotly draws once released:

* the output's background at points away from any marker has the colour of the grid there
  (the frame's ``grid.output``, coloured by the scale the page's own colour bar shows);
* every isolated training point of ``/api/runs/{id}/data`` is drawn where Plotly later draws
  it, in the same colour, on its label's side of the scale; the probe ring is on the probe;
* the loss view already shows the train cost; the network's thumbnails are drawn (the network
  view is SVG of its own, never a Plotly figure: the same picture before and after);
* once Plotly has drawn, the stand-ins are gone and were removed only after Plotly's own plot
  was there (no moment of an empty plot).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import urllib.request

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

DELETE_RUN = """(r => r && fetch(`/api/runs/${r.id}`,
  {method: 'DELETE', headers: {'Content-Type': 'application/json'}}))(window.__bpv?.store.run)"""

# Which stand-ins were removed, and whether Plotly's plot was already in their place.
WATCH_REMOVALS = """
window.__standins = [];
new MutationObserver((muts) => {
  for (const m of muts) for (const n of m.removedNodes) {
    if (n.nodeName === 'CANVAS' && n.classList.contains('standin')) {
      window.__standins.push({host: m.target.id || m.target.className,
                               plotly: !!m.target.querySelector('.main-svg')});
    }
  }
}).observe(document, {childList: true, subtree: true});
"""

# Data coordinates → viewport pixels, from Plotly's own axes (after it has drawn).
PLOTLY_AXES = """() => {
  const d = document.querySelector('#boundary');
  const fl = d._fullLayout, r = d.getBoundingClientRect();
  return {left: r.left + fl.xaxis._offset, top: r.top + fl.yaxis._offset,
          x: fl.xaxis.range, y: fl.yaxis.range, w: fl.xaxis._length, h: fl.yaxis._length};
}"""


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def screenshot(pg) -> Image.Image:  # type: ignore[no-untyped-def]
    return Image.open(io.BytesIO(pg.screenshot())).convert("RGB")


def ramp_scale(pg):  # type: ignore[no-untyped-def]
    """The diverging scale the page's colour bar shows: t in [-1, 1] -> (r, g, b)."""
    css = pg.evaluate("getComputedStyle(document.querySelector('.cb-ramp')).backgroundImage")
    found = re.findall(r"rgb\((\d+), (\d+), (\d+)\)(?: (\d+(?:\.\d+)?)%)?", css)
    assert len(found) >= 3, css
    last = len(found) - 1
    stops = [
        ((int(r), int(g), int(b)), float(p) / 100 if p else i / last)  # ends: 0 % and 100 %
        for i, (r, g, b, p) in enumerate(found)
    ]

    def color(t: float) -> tuple[float, ...]:
        f = min(1.0, max(0.0, (t + 1) / 2))
        for (c0, p0), (c1, p1) in itertools.pairwise(stops):
            if f <= p1:
                u = (f - p0) / (p1 - p0) if p1 > p0 else 0.0
                return tuple(a + u * (b - a) for a, b in zip(c0, c1, strict=True))
        return stops[-1][0]

    return color


def ring_around(img: Image.Image, centre: tuple[int, int]) -> int:
    """Of 8 directions from centre, how many cross a dark ring 6-9 px out (the probe's)."""
    hits = 0
    for k in range(8):
        c, s = math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)
        ray = [
            (round(centre[0] + d * c), round(centre[1] + d * s))
            for d in (6, 6.5, 7, 7.5, 8, 8.5, 9)
        ]
        hits += min(sum(img.getpixel(p)) for p in ray) < 200
    return hits


def close(a, b, tol: float) -> bool:  # type: ignore[no-untyped-def]
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


LOSS_PARTS = """() => {
  // Plotly's loss plot: where it wrote each tick label and title, and its gridlines.
  const box = (e) => { const b = e.getBoundingClientRect();
    return [e.textContent, b.left, b.top, b.right, b.bottom]; };
  const d = document.querySelector('#loss .loss-plot');
  const pick = (sel) => [...d.querySelectorAll(sel)].map(box);
  return {ticks: pick('.xtick text, .ytick text, .y2tick text'),
          titles: pick('.xtitle, .ytitle, .y2title'), grid: pick('.ygrid'),
          plot: box(d.querySelector('.nsewdrag')), div: box(d)};
}"""


def ink(img: Image.Image, box: list, pad: int = 4) -> tuple[int, float, float]:
    """Dark pixels (text, lines) in box ± pad: their count and centroid (x, y)."""
    _, x0, y0, x1, y1 = box
    n = sx = sy = 0
    for u in range(int(x0) - pad, int(x1) + pad + 1):
        for v in range(int(y0) - pad, int(y1) + pad + 1):
            if sum(img.getpixel((u, v))[:3]) < 600:
                n, sx, sy = n + 1, sx + u, sy + v
    return n, (sx / n if n else -1), (sy / n if n else -1)


def check_loss_plot_matches(pg, before: Image.Image, after: Image.Image) -> None:  # type: ignore[no-untyped-def]
    """The loss stand-in and Plotly's loss plot are one picture: every tick label and title
    Plotly wrote has the stand-in's ink at the same place (within 2 px), the gridlines are in
    both, and the first measurement's point is drawn in both (a one-point line draws
    nothing in Plotly: both draw it as a marker)."""
    got = pg.evaluate(LOSS_PARTS)
    div = got["div"]
    names = {t[0] for t in got["ticks"]}
    assert {"0", "1", "100%"} <= names, names  # steps 0 and 1 (whole steps: no 0.5), 100 %
    assert {t[0] for t in got["titles"]} == {"step", "cost", "accuracy"}, got["titles"]
    for part in got["ticks"] + got["titles"]:
        n_a, xa, ya = ink(after, part)
        n_b, xb, yb = ink(before, part)
        assert n_a >= 5, ("Plotly's", part, n_a)
        assert n_b >= 0.5 * n_a, ("stand-in has no such text", part, n_b, n_a)
        assert abs(xa - xb) <= 2 and abs(ya - yb) <= 2, (part, (xa, ya), (xb, yb))
        assert div[2] <= part[1] and part[3] <= div[3] + 0.5 and part[4] <= div[4] + 0.5, part
    _, px0, _, px1, _ = got["plot"]
    assert got["grid"], "Plotly drew no y gridlines"
    for g in got["grid"]:
        for u in (px0 + 0.55 * (px1 - px0), px0 + 0.8 * (px1 - px0)):
            v = round(g[2])
            a = min((after.getpixel((round(u), v + dv)) for dv in (-1, 0, 1)), key=sum)
            b = min((before.getpixel((round(u), v + dv)) for dv in (-1, 0, 1)), key=sum)
            assert sum(a[:3]) < 750 and close(a, b, 12), (g, a, b)
    first = pg.evaluate(
        "(() => { const d = document.querySelector('#loss .loss-plot');"
        " const p = d.querySelector('.scatterlayer .trace .points path');"
        " if (!p) return null; const b = p.getBoundingClientRect();"
        " return [(b.left + b.right) / 2, (b.top + b.bottom) / 2]; })()"
    )
    assert first is not None, "Plotly draws no point for the first measurement"
    u, v = round(first[0]), round(first[1])
    assert sum(after.getpixel((u, v))[:3]) < 500 and sum(before.getpixel((u, v))[:3]) < 500


def test_first_picture_before_plotly_is_true_and_plotly_replaces_it(browser, server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    ctx.add_init_script(WATCH_REMOVALS)
    held: list = []
    ctx.route("**/vendor/plotly.min.js", lambda r: held.append(r))
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(f"{server}/#hidden=4,2")
        pg.wait_for_function(
            "performance.getEntriesByName('bpv-first-draw').length > 0", timeout=30_000
        )
        pg.wait_for_timeout(400)  # the first frame painted (and its images decoded)

        # --- the stand-in state: drawn, usable, and saying the plots are on their way
        assert pg.evaluate("typeof Plotly") == "undefined"
        for host in ("#boundary", "#loss .loss-plot"):
            assert pg.locator(f"{host} > canvas.standin").count() == 1, host
            assert pg.locator(f"{host} .main-svg").count() == 0, host
        assert pg.locator("#net canvas.standin, #net .main-svg").count() == 0
        assert pg.locator("#net .net-live image[href^='data:image']").count() == 9  # 2 + 4 + 2 + 1
        note = pg.locator("#loading")
        assert note.is_visible()
        assert "plots loading" in note.inner_text()
        assert pg.locator("#play").is_enabled()
        assert not pg.evaluate("document.querySelector('main.layout').inert")

        run = pg.evaluate("window.__bpv.store.run.id")
        data = get_json(f"{server}/api/runs/{run}/data")
        frame = get_json(f"{server}/api/runs/{run}/frame?grid=true")
        assert frame["step"] == 0 and frame["activations"][-1] == "tanh"
        cost_text = pg.locator("#loss .loss-stats b[data-train-cost]").inner_text()
        assert float(cost_text.replace("−", "-")) == pytest.approx(frame["train"]["cost"], rel=1e-3)
        before = screenshot(pg)
        color = ramp_scale(pg)
        thumbs = pg.evaluate(
            """() => {
              const g = window.__bpv.network.geom;
              const r = document.querySelector('#net .net-plot').getBoundingClientRect();
              const mid = (n) => [r.left + n.tx + g.T / 2, r.top + n.ty + g.T / 2];
              return g.nodes.slice(1, -1).flat().map(mid);
            }"""
        )

        # --- Plotly arrives
        assert held, "the page never asked for Plotly.js"
        for r in held:
            r.continue_()
        pg.wait_for_function("window.__bpv.plotsReady === true", timeout=60_000)
        pg.wait_for_timeout(300)
        for host in ("#boundary", "#loss .loss-plot"):
            assert pg.locator(f"{host} > canvas.standin").count() == 0, host
            assert pg.locator(f"{host} .main-svg").count() >= 1, host
        assert pg.locator("#net canvas.standin, #net .main-svg").count() == 0
        removed = pg.evaluate("window.__standins")
        assert len(removed) >= 2 and all(r["plotly"] for r in removed), removed
        assert not note.is_visible()
        after = screenshot(pg)
        ax = pg.evaluate(PLOTLY_AXES)
        check_loss_plot_matches(pg, before, after)

        def px(x: float, y: float) -> tuple[int, int]:
            u = ax["left"] + (x - ax["x"][0]) / (ax["x"][1] - ax["x"][0]) * ax["w"]
            v = ax["top"] + (ax["y"][1] - y) / (ax["y"][1] - ax["y"][0]) * ax["h"]
            return round(u), round(v)

        # --- points: where Plotly draws them, in its colours, on the label's side
        pts = data["train"]["points"]
        labels = data["train"]["labels"]
        screen = [px(*p) for p in pts]
        probe = px(*frame["probe"]["point"])
        checked = 0
        for i, (u, v) in enumerate(screen):
            near = min(math.dist((u, v), s) for j, s in enumerate(screen) if j != i)
            if near < 8 or math.dist((u, v), probe) < 13:
                continue
            a, b = before.getpixel((u, v)), after.getpixel((u, v))
            assert close(a, b, 8), f"point {i} at {(u, v)}: stand-in {a}, Plotly {b}"
            blue = a[2] > a[0] + 40
            orange = a[0] > a[2] + 40
            assert blue if labels[i] > 0 else orange, f"point {i} (label {labels[i]}) drawn {a}"
            checked += 1
        assert checked >= 40, f"only {checked} isolated points"

        # --- the probe ring, on the probe (in both pictures)
        for img in (before, after):
            assert ring_around(img, probe) == 8, f"probe ring at {probe}"

        # --- the background: the grid's colour there (between its neighbouring cells')
        grid = frame["grid"]
        g = grid["output"]
        x1, x2 = grid["x1"], grid["x2"]
        n = len(x1)
        samples = 0
        for sx in range(2, 40, 3):
            for sy in range(2, 40, 3):
                x = x1[0] + (x1[-1] - x1[0]) * sx / 41
                y = x2[0] + (x2[-1] - x2[0]) * sy / 41
                u, v = px(x, y)
                if min(math.dist((u, v), s) for s in screen) < 9 or math.dist((u, v), probe) < 14:
                    continue
                # the image's pixel c spans [c, c+1] / n of the range (Plotly's placement)
                cu = (x - x1[0]) / (x1[-1] - x1[0]) * n - 0.5
                cv = (y - x2[0]) / (x2[-1] - x2[0]) * n - 0.5
                cells = [
                    color(g[min(n - 1, max(0, r))][min(n - 1, max(0, c))])
                    for c in range(math.floor(cu) - 1, math.floor(cu) + 3)
                    for r in range(math.floor(cv) - 1, math.floor(cv) + 3)
                ]
                got = before.getpixel((u, v))
                for ch in range(3):
                    lo = min(c[ch] for c in cells) - 3
                    hi = max(c[ch] for c in cells) + 3
                    assert lo <= got[ch] <= hi, (
                        f"background at {(x, y)} {(u, v)}: {got}, grid {cells[5]}"
                    )
                assert close(got, after.getpixel((u, v)), 6), (
                    f"stand-in {got} vs Plotly {after.getpixel((u, v))}"
                )
                samples += 1
        assert samples >= 60, f"only {samples} background samples"

        # --- the network's thumbnails: the same picture before and after
        assert len(thumbs) == 6
        for u, v in thumbs:
            a, b = before.getpixel((round(u), round(v))), after.getpixel((round(u), round(v)))
            assert close(a, b, 8), f"thumbnail at {(u, v)}: stand-in {a}, Plotly {b}"
            assert a != (255, 255, 255)
        pg.evaluate(DELETE_RUN)
    finally:
        ctx.close()
    assert errors == []


def test_plotly_missing_keeps_the_first_picture_and_says_so(browser, server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    ctx.route("**/vendor/plotly.min.js", lambda r: r.fulfill(status=503, body="busy"))
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(f"{server}/#hidden=4,2")
        pg.locator("#loading.failed").wait_for(timeout=30_000)
        assert "interactive plots could not load" in pg.locator("#loading").inner_text()
        assert pg.locator("#boundary > canvas.standin").count() == 1
        # Training still works, and the stand-ins follow it.
        pg.locator("#step").click()
        pg.wait_for_function(
            "document.querySelector('#stepno').textContent === '1'", timeout=20_000
        )
        pg.evaluate(DELETE_RUN)
    finally:
        ctx.close()
    assert errors == []
