"""Issue 12, item 4, as a person sees it: the forward pass flows along the wires from the input
to the output (w·a on each edge, z then a = σ(z) at a neuron), the backward pass the other way,
and step-through mode shows the same moving wires for its stage's layer.

Direction is read off the page itself: each wire's path runs from layer l−1 (left) to layer l
(right), and the computed stroke-dashoffset of a flowing wire, sampled while it animates,
moves the dashes right (forward) or left (backward).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, DELETE_RUN, PLOTS_READY, frame_value, open_app
from tests.browser.test_inverse import shown

pytestmark = pytest.mark.browser

# The lit wires (opacity 1 under a guide's highlight): key, flow, width, path ends, animation.
LIT = """[...document.querySelectorAll('.net-live path[data-edge]')]
  .filter(p => p.getAttribute('opacity') === '1')
  .map(p => {
    const n = p.getAttribute('d').match(/-?[0-9.]+/g).map(Number);
    return {key: p.dataset.edge, flow: p.dataset.flow, width: +p.getAttribute('stroke-width'),
            x0: n[0], x1: n[n.length - 2], anim: getComputedStyle(p).animationName};
  })"""

# The computed dash offset of the first lit wire, sampled 10 times 60 ms apart (less than one
# 1.1 s cycle of the animation, so at most one of the 9 steps is its wrap-around).
DASH_SAMPLES = """async () => {
  const p = [...document.querySelectorAll('.net-live path[data-edge]')]
    .find(q => q.getAttribute('opacity') === '1');
  const out = [];
  for (let i = 0; i < 10; i++) {
    out.push(parseFloat(getComputedStyle(p).strokeDashoffset) || 0);
    await new Promise(r => setTimeout(r, 60));
  }
  return out;
}"""


def dash_moves(pg: Any) -> int:
    """+1 if the lit wires' dash offset grows (dashes move toward the path's start, layer l-1:
    backward), -1 if it falls (toward layer l: forward), 0 if it stays still."""
    xs = pg.evaluate(DASH_SAMPLES)
    steps = [b - a for a, b in itertools.pairwise(xs) if b != a]
    up = sum(1 for d in steps if d > 0)
    down = len(steps) - up
    return 0 if not steps else 1 if up > down + 1 else -1 if down > up + 1 else 99


def record_forward_beats(pg: Any) -> None:
    """Keep, for each beat of the animation, its layer, the lit wires and the numbers written."""
    pg.evaluate(
        """(lit) => {
          window.__beats = [];
          const seen = () => {
            const h = document.querySelector('[data-anim-layer]');
            const z = document.querySelector('[data-ba-z]');
            if (!h || !z) return;
            const l = +h.dataset.animLayer;
            const last = window.__beats[window.__beats.length - 1];
            if (last && last.l === l) return;
            const labels = [...document.querySelectorAll('.net-live > g:last-child text')]
              .map(t => t.textContent);
            window.__beats.push({l, j: +z.dataset.baZ.split(',')[1], lit: eval(lit), labels,
              z: document.querySelector('[data-ba-zval]').textContent,
              a: document.querySelector('[data-ba-aval]').textContent,
              bar: document.querySelector('#net .colorbar').textContent});
          };
          new MutationObserver(seen).observe(document.querySelector('#guide'),
            {subtree: true, childList: true, attributes: true});
          seen();
        }""",
        LIT,
    )


def close(text: str, want: float) -> bool:
    value, half = shown(text)
    return abs(value - want) <= half * (1 + 1e-6)


def test_forward_pass_flows_from_the_input_layer_by_layer(page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1366, "height": 768})
    open_app(page, "hidden=4,3,2")
    sizes = frame_value(page, "f.sizes")
    L = len(sizes)
    page.click("#backward-btn")
    page.wait_for_selector("[data-anim-layer]")
    page.click("[data-ba-pass=forward]")
    page.wait_for_selector("[data-anim-pass=forward]")
    assert page.locator("[data-anim-layer]").get_attribute("data-anim-layer") == "2"
    page.select_option("[data-ba-speed]", "fast")
    record_forward_beats(page)
    page.click("[data-ba=play]")
    page.wait_for_function(
        f"""document.querySelector('[data-anim-layer]').dataset.animPlaying === 'false'
            && window.__beats.length >= {L - 1}""",
        timeout=30_000,
    )
    beats = page.evaluate("window.__beats")
    layers = frame_value(page, "f.layers")
    assert [b["l"] for b in beats] == list(range(2, L + 1))
    for b in beats:
        li, j = b["l"], b["j"]
        fwd = layers[li - 2]["edges"]["probe"]["forward"]  # w^l_jk · a^{l-1}_k
        # exactly the wires into layer li are lit, and they flow forward
        want = {f"{li},{jj},{k}" for jj in range(sizes[li - 1]) for k in range(sizes[li - 2])}
        assert {e["key"] for e in b["lit"]} == want
        assert {e["flow"] for e in b["lit"]} == {"forward"}
        assert all(e["x0"] < e["x1"] for e in b["lit"])  # each path runs from layer li-1 to li
        # coloured by w·a: the colour bar says so, and the thickest wire carries the largest |w·a|
        assert "w·a" in b["bar"], b["bar"]
        val = {
            e["key"]: abs(fwd[int(e["key"].split(",")[1])][int(e["key"].split(",")[2])])
            for e in b["lit"]
        }
        for e in b["lit"]:
            for f in b["lit"]:
                if val[e["key"]] > val[f["key"]]:
                    assert e["width"] >= f["width"], (e, f)
        # the numbers on the wires into neuron j are its w·a terms; then z and a = σ(z)
        K = sizes[li - 2]
        assert len(b["labels"]) == min(K, 8) + 1
        for k, text in enumerate(b["labels"][: min(K, 8)]):
            assert close(text, fwd[j][k]), (li, j, k, text)
        assert close(b["z"], layers[li - 2]["z"][j]) and close(b["a"], layers[li - 2]["a"][j])
        node = b["labels"][-1]
        assert close(node.split("=")[1].split(",")[0], layers[li - 2]["z"][j])
        assert close(node.split("=")[2], layers[li - 2]["a"][j])
    # the wires of the last beat move to the right: toward the output
    flows = page.evaluate(LIT)
    assert {e["anim"] for e in flows} == {"bpv-flow-fwd"}
    assert dash_moves(page) == -1  # a falling dash offset moves dashes along the path: rightward
    page.screenshot(path=str(ARTIFACTS / "flow_forward_1366.png"))
    # and back to the backward pass: the same wires flow the other way
    page.click("[data-ba-pass=backward]")
    page.wait_for_selector("[data-anim-pass=backward]")
    page.click("[data-ba=next]")
    assert page.locator("[data-anim-layer]").get_attribute("data-anim-layer") == str(L - 1)
    assert {e["flow"] for e in page.evaluate(LIT)} == {"backward"}
    assert dash_moves(page) == 1


def test_stepthrough_stages_flow_their_own_way(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,3")
    sizes = frame_value(page, "f.sizes")
    L = len(sizes)
    page.click("#stepthrough-btn")
    page.wait_for_selector("[data-stage='z-2']")
    lit = page.evaluate(LIT)
    assert {e["key"].split(",")[0] for e in lit} == {"2"}
    assert {e["flow"] for e in lit} == {"forward"} and {e["anim"] for e in lit} == {"bpv-flow-fwd"}
    assert dash_moves(page) == -1
    page.click("[data-st=next]")  # a = σ(z) at layer 2: no wire is lit, none flows
    page.wait_for_selector("[data-stage='a-2']")
    assert page.evaluate(LIT) == []
    # on to BP2 into layer L-1: the wires of w^L flow back
    stage = f"bp2-{L - 1}"
    for _ in range(2 * L):
        if page.locator(f"[data-stage='{stage}']").count():
            break
        page.click("[data-st=next]")
    page.wait_for_selector(f"[data-stage='{stage}']")
    lit = page.evaluate(LIT)
    assert {e["key"].split(",")[0] for e in lit} == {str(L)}
    assert len(lit) == sizes[L - 1] * sizes[L - 2]
    assert {e["flow"] for e in lit} == {"backward"} and {e["anim"] for e in lit} == {"bpv-flow"}
    assert dash_moves(page) == 1
    # Back returns to the previous stage with its own wires (BP1 at the output: none)
    page.click("[data-st=prev]")
    page.wait_for_selector(f"[data-stage='bp1-{L}']")
    assert page.evaluate(LIT) == []
    page.click("[data-st=close]")
    # out of the guide nothing flows
    flows = page.evaluate(
        "[...document.querySelectorAll('.net-live path[data-edge]')].map(p => p.dataset.flow)"
    )
    assert set(flows) == {"none"}


def test_reduced_motion_stops_the_flow_in_both_guides(browser, server) -> None:  # type: ignore[no-untyped-def]
    """Under reduced motion the backward-pass guide says so and neither of its passes moves on
    its own (one layer per press), and no wire flows there or in step-through."""
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 720}, bypass_csp=True, reduced_motion="reduce"
    )
    try:
        pg = ctx.new_page()
        pg.goto(f"{server}/")
        pg.wait_for_function(
            f"window.__bpv && window.__bpv.stats.applied >= 1 && {PLOTS_READY}", timeout=60_000
        )
        L = pg.evaluate("window.__bpv.store.frame.sizes.length")
        pg.click("#backward-btn")
        pg.wait_for_selector("[data-anim-layer]")
        assert "reduced motion" in pg.locator("#guide").inner_text()
        # the backward pass: one layer per press, its wires still
        pg.click("[data-ba=play]")
        pg.wait_for_timeout(2500)  # longer than the slowest beat: nothing moves on its own
        assert pg.locator("[data-anim-layer]").get_attribute("data-anim-layer") == str(L - 1)
        anim = pg.evaluate(
            """getComputedStyle(document.querySelector('.net-live path[data-edge][opacity="1"]'))
                 .animationName"""
        )
        assert anim in ("none", "")
        # the forward pass, from its first layer
        pg.click("[data-ba-pass=forward]")
        pg.wait_for_selector("[data-anim-pass=forward]")
        assert pg.locator("[data-anim-layer]").get_attribute("data-anim-layer") == "2"
        lit = pg.evaluate(LIT)
        assert lit and {e["flow"] for e in lit} == {"forward"}  # the direction is still said
        assert {e["anim"] for e in lit} <= {"none", ""}
        assert dash_moves(pg) == 0
        pg.click("[data-ba=play]")  # one layer per press, never on its own
        pg.wait_for_timeout(2500)
        assert pg.locator("[data-anim-layer]").get_attribute("data-anim-layer") == "3"
        pg.click("#stepthrough-btn")
        pg.wait_for_selector("[data-stage='z-2']")
        lit = pg.evaluate(LIT)
        assert lit and {e["anim"] for e in lit} <= {"none", ""}
        pg.evaluate(DELETE_RUN)
    finally:
        ctx.close()
