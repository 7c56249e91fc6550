"""Small things a learner notices: the loss chart's legend matches its curves and covers
none of them; step-through names the layer's own activation (tanh(2.825), not σ(2.825)) and
its numbers agree with it; the numbers written beside the network stay inside its panel and
clear of the layers' names and − n + controls."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.browser


def test_loss_legend_matches_the_curves(open_at) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1024, 768, "hidden=4,2&dataset=xor")
    for step in range(3):  # a few points, so every curve is drawn
        pg.locator("#step").click()
        pg.wait_for_function(f"document.querySelector('#stepno').textContent === '{step + 1}'")
    # Until Plotly has drawn the four curves (their lines have a path) and their legend.
    pg.wait_for_function(
        "[...document.querySelectorAll('#loss .loss-plot .scatterlayer .trace path.js-line')]"
        ".filter(p => (p.getAttribute('d') || '').length > 0).length === 4"
        " && document.querySelectorAll('#loss [data-legend]').length === 4"
    )
    drawn = pg.evaluate(
        """[...document.querySelectorAll('#loss .loss-plot .scatterlayer .trace')].map(t => {
             const p = t.querySelector('path.js-line');
             return {name: t.__data__?.[0]?.trace?.name, stroke: p?.style.stroke,
                     dash: p?.style.strokeDasharray};
           })"""
    )
    names = {d["name"] for d in drawn}
    assert names == {"train cost", "test cost", "train accuracy", "test accuracy"}
    legend = pg.evaluate(
        """[...document.querySelectorAll('#loss [data-legend]')].map(e => {
             const line = e.previousElementSibling?.querySelector('line');
             return {name: e.dataset.legend, stroke: line?.getAttribute('stroke'),
                     dash: line?.getAttribute('stroke-dasharray'),
                     box: e.getBoundingClientRect().toJSON()};
           })"""
    )
    assert {entry["name"] for entry in legend} == names

    def rgb(c: str) -> str:
        if c.startswith("#"):
            return f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})"
        return c

    by_name = {d["name"]: d for d in drawn}
    for entry in legend:
        curve = by_name[entry["name"]]
        assert rgb(entry["stroke"]) == curve["stroke"], entry
        assert (entry["dash"] != "none") == (curve["dash"] not in ("", "none", None)), entry
    # Readable and out of the curves' way: outside the plotting area, not overlapping.
    area = pg.evaluate(
        "document.querySelector('#loss .loss-plot .nsewdrag').getBoundingClientRect().toJSON()"
    )
    for entry in legend:
        b = entry["box"]
        assert b["bottom"] <= area["top"] or b["top"] >= area["bottom"], entry
        assert b["height"] >= 10


def st_next(pg) -> None:  # type: ignore[no-untyped-def]
    pg.locator("[data-st=next]").click()


@pytest.mark.parametrize(("activation", "fn"), [("tanh", math.tanh), ("relu", None)])
def test_step_through_names_the_activation(open_at, activation: str, fn) -> None:  # type: ignore[no-untyped-def]
    pg = open_at(1280, 720, f"hidden=3&hidden_activation={activation}")
    pg.locator("#stepthrough-btn").click()
    st_next(pg)  # z of layer 2 → a of layer 2
    pg.wait_for_selector("[data-stage='a-2']")
    pg.wait_for_selector("#guide .guide-body:not([data-pending])")  # the exact numbers came
    body = pg.locator("#guide .guide-body").inner_text()
    name = {"tanh": "tanh", "relu": "ReLU"}[activation]
    assert f"{name}(" in body.replace("\n", "")
    assert "σ(" not in body.replace("\n", "")
    assert name in pg.locator("#guide h3").inner_text()
    # The numbers agree with that function, to the digits shown.
    rows = pg.evaluate(
        """[...document.querySelectorAll('#guide .guide-body tr')].map(tr =>
             [...tr.querySelectorAll('mn[data-v]')]
               .map(m => [Number(m.dataset.v), m.textContent]))"""
    )
    assert rows
    for (z, _), (_a, a_text) in rows:
        want = fn(z) if fn else max(0.0, z)
        shown = float(a_text.replace("−", "-"))
        assert want == pytest.approx(shown, rel=6e-4, abs=1e-12), (z, a_text)


@pytest.mark.parametrize(("w", "h"), [(1024, 768), (1920, 1080), (390, 844)])
def test_network_labels_stay_inside(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """Every number the step-through writes on the network (output layer too) is in the panel."""
    pg = open_at(w, h, "hidden=4,2&problem=classification")
    pg.locator("#stepthrough-btn").click()
    seen = 0
    for _ in range(12):
        boxes = pg.evaluate(
            "[...document.querySelectorAll('#net .net-live text')].filter(t => t.textContent)"
            ".map(t => [t.textContent, t.getBoundingClientRect().toJSON()])"
        )
        net = pg.evaluate("document.querySelector('#net').getBoundingClientRect().toJSON()")
        for text, b in boxes:
            assert net["left"] <= b["left"] and b["right"] <= net["right"], (text, b, net)
            assert net["top"] <= b["top"], (text, b, net)
        seen += len(boxes)
        if pg.locator("[data-st=next]").inner_text().startswith("Train"):
            break
        st_next(pg)
    assert seen > 10
    assert pg.errors == []


# Each number the step-through writes on the network and each layer's name and − n + control
# above it, as the page lays them out (viewport pixels).
LABELS_AND_CONTROLS = """() => {
  const box = (e) => e.getBoundingClientRect().toJSON();
  return {
    stage: document.querySelector('#guide [data-stage]')?.dataset.stage,
    labels: [...document.querySelectorAll('#net .net-live text')]
      .filter(t => t.textContent && t.closest('g[font-weight]'))
      .map(t => [t.textContent, box(t)]),
    controls: [...document.querySelectorAll('#net .net-header .layer-label')]
      .map(e => [e.innerText.replace(/\\s+/g, ' '), box(e)]),
    buttons: [...document.querySelectorAll('#net .neuron-buttons')].map(box),
  };
}"""


def overlap(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    across = a["left"] < b["right"] and b["left"] < a["right"]
    return across and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.parametrize(("w", "h"), [(1366, 768), (1280, 720)])
def test_digits_labels_leave_the_layer_controls_clear(open_at, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """On the book's 64-30-10 network every number the step-through writes on the network
    (z², a², δ², …) leaves each layer's name and its − 30 + control clear: none of their
    boxes overlap (δ²₁ used to lie on the hidden layer's +)."""
    pg = open_at(w, h, "dataset=digits&hidden=30")
    pg.wait_for_function("window.__bpv.store.frame.sizes.join() === '64,30,10'", timeout=30_000)
    pg.locator("#stepthrough-btn").click()
    stages = []
    for _ in range(12):
        pg.wait_for_selector("#guide [data-stage]")
        pg.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seen = pg.evaluate(LABELS_AND_CONTROLS)
        assert len(seen["buttons"]) == 1 and len(seen["controls"]) == 3, seen
        stages.append((seen["stage"], [t for t, _ in seen["labels"]]))
        for text, lab in seen["labels"]:
            for name, ctl in seen["controls"]:
                assert not overlap(lab, ctl), (seen["stage"], text, lab, name, ctl)
        if pg.locator("[data-st=next]").inner_text().startswith("Train"):
            break
        before = seen["stage"]
        st_next(pg)
        pg.wait_for_function(
            f"document.querySelector('#guide [data-stage]')?.dataset.stage !== '{before}'"
        )
    # The walk went through the hidden layer's numbers, δ²₁ among them.
    hidden = dict(stages)
    assert {"z-2", "a-2", "bp2-2"} <= hidden.keys(), stages
    assert any(t.startswith("δ²₁ =") for t in hidden["bp2-2"]), stages
    assert pg.errors == []
