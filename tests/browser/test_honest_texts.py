"""Three texts a learner review found false, read off the page as shown:

- the gradient strip's saturated and dead counts only where the layer's activation can
  saturate (tanh, σ) or die (ReLU), as GET /api/options says (a tanh output showed
  "dead ReLU 0/1"; a ReLU layer "saturated 0/4");
- with no hidden layer the explain panel does not offer BP2 (a 2-1 network said "Click a
  neuron to see BP2 … Why the transpose? walks through BP2 step by step"), and "Why the
  transpose?" says there is nothing to walk through;
- a run the server no longer has: the banner says so and gives the causes as possibilities
  (it said "it closes runs nobody has been connected to for 10 minutes" about a run deleted a
  second before), and one step is "1 step".

Screenshots go to artifacts/honest-*.png (look at them)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.browser.conftest import ARTIFACTS, open_app

pytestmark = pytest.mark.browser

CELLS = """(q) => [...document.querySelectorAll(`#layers .gs-table td[data-q="${q}"]`)]
  .map(td => ({l: Number(td.dataset.l), text: td.textContent.trim(), title: td.title}))"""
ROW_HEADS = """() => [...document.querySelectorAll('#layers .gs-table th')]
  .map(th => th.textContent.trim())"""


def options(base: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"{base}/api/options") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_counts_only_where_the_activation_can_have_them(page, server: str) -> None:  # type: ignore[no-untyped-def]
    acts = options(server)["about"]["activations"]
    assert acts["relu"]["dies"] and not acts["relu"]["saturates"]
    assert acts["tanh"]["saturates"] and not acts["tanh"]["dies"]
    open_app(page, "hidden=4,2&hidden_activation=relu&output_activation=tanh")
    page.wait_for_function("(window.__bpv.store.frame.health?.layers ?? []).length === 3")
    page.wait_for_selector("#layers .gs-table td[data-q='dead']")
    health = {h["l"]: h for h in page.evaluate("window.__bpv.store.frame.health.layers")}
    act = {2: "relu", 3: "relu", 4: "tanh"}
    for q, can in (("dead", "dies"), ("saturated", "saturates")):
        cells = page.evaluate(CELLS, q)
        assert [c["l"] for c in cells] == [2, 3, 4]
        for c in cells:
            h = health[c["l"]]
            if acts[act[c["l"]]][can]:
                assert c["text"] == f"{h[q]}/{h['n']}", (q, c, h)
            else:  # a count that can only be 0 is not shown as one
                assert c["text"] == "—", (q, c)
                verb = "cannot die" if q == "dead" else "do not saturate"
                assert f"{acts[act[c['l']]]['label']} units {verb}" in c["title"], (q, c)
    page.locator("#layers").screenshot(path=str(ARTIFACTS / "honest-strip-relu-tanh.png"))
    # A network where nothing can die has no dead row, and its note states no dead rule.
    open_app(page, "hidden=4,2&hidden_activation=tanh&output_activation=tanh")
    page.wait_for_function("(window.__bpv.store.frame.health?.layers ?? []).length === 3")
    page.wait_for_selector("#layers .gs-table td[data-q='saturated']")
    heads = page.evaluate(ROW_HEADS)
    assert "saturated" in heads and "dead ReLU" not in heads, heads
    assert "dead ReLU" not in page.inner_text("#layers .gs-note")


def test_no_hidden_layer_offers_no_bp2(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=")
    assert page.evaluate("window.__bpv.store.frame.sizes.length") == 2
    hint = page.locator("#explain .hint")
    hint.wait_for()
    text = hint.inner_text()
    assert "Click a neuron to see BP2" not in text and "step by step" not in text, text
    assert "no hidden layer, so there is no BP2" in text and "BP1" in text and "BP4" in text, text
    page.locator("#explain").screenshot(path=str(ARTIFACTS / "honest-explain-no-hidden.png"))
    # What the hint says of "Why the transpose?" is what the button then shows.
    page.click("#walkthrough-btn")
    guide = page.locator("#guide")
    guide.get_by_text("no hidden layer, so there is no BP2 to explain").wait_for(timeout=5_000)
    page.screenshot(path=str(ARTIFACTS / "honest-walkthrough-no-hidden.png"))


def test_a_run_gone_from_the_server_is_said_so_with_possible_causes(page, page_probe) -> None:  # type: ignore[no-untyped-def]
    page_probe.allow("404")
    open_app(page, "hidden=3")
    page.click("#step")
    page.wait_for_function("window.__bpv.store.frame.step === 1")
    old = page.evaluate("window.__bpv.store.run.id")
    json_ = "{'Content-Type': 'application/json'}"
    page.evaluate(f"fetch('/api/runs/{old}', {{method: 'DELETE', headers: {json_}}})")
    note = page.locator("[data-banner=expired]")
    note.wait_for(timeout=10_000)
    text = note.inner_text()
    assert "The server no longer has this experiment." in text, text
    assert "It had trained for 1 step; that training is lost." in text and "1 steps" not in text
    assert "(it closes runs" not in text, text  # no cause asserted...
    assert "Possible causes:" in text and "the run was deleted" in text, text  # ...possibilities
    page.screenshot(path=str(ARTIFACTS / "honest-run-gone.png"))
    # The tab loaded again after its run is gone: a new run, and the same honesty.
    page.reload()
    page.wait_for_function("window.__bpv && window.__bpv.stats.applied >= 1")
    note.wait_for(timeout=10_000)
    text = note.inner_text()
    assert page.evaluate("window.__bpv.store.run.id") != old
    assert text.startswith("The server no longer had this tab's previous run, so this is"), text
    assert "(it closes runs" not in text and "Possible causes:" in text, text
    page.screenshot(path=str(ARTIFACTS / "honest-run-gone-reload.png"))
