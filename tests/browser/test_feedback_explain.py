"""The explain panel under a feedback rule other than the transpose, as a person reads it.

Under "random" or "inverse" the network's δ is the rule's, which (w^{l+1})ᵀ does not make.
A hidden neuron's BP2 panel must still write only equations that hold to the digits shown,
and say whose every δ is: backprop's (the frame's `true_delta`) in the equation and the
matrix view, the rule's beside it. Every number is read back from the page's text and each
product, sum and ⊙ recomputed from the numbers as written (interval arithmetic on the
matrix view's 2-digit cells); the labelled δ are held to the frame's own arrays.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from decimal import Decimal
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app
from tests.browser.test_explain import click_neuron
from tests.browser.test_numbers import check_equation

pytestmark = pytest.mark.browser

Interval = tuple[float, float]
SLACK = 1e-12


def shown(text: str) -> tuple[float, float]:
    """A number as the page wrote it and half the unit of its last digit."""
    d = Decimal(text.strip().replace("−", "-"))
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    return float(d), float(Decimal(1).scaleb(exp)) / 2


def interval(text: str) -> Interval:
    v, h = shown(text)
    return v - h, v + h


def mul(a: Interval, b: Interval) -> Interval:
    c = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return min(c), max(c)


def meets(a: Interval, b: Interval) -> bool:
    return a[0] <= b[1] + SLACK and b[0] <= a[1] + SLACK


def agrees(text: str, value: float) -> bool:
    """The page's text is `value` (a frame number, itself 4 significant digits) as rounded."""
    v, h = shown(text)
    return abs(v - value) <= h * (1 + 1e-9) + abs(value) * 5e-4


def step(page: Any, n: int) -> None:
    for _ in range(n):
        s = frame_value(page, "f.step")
        page.click("#step")
        page.wait_for_function(f"window.__bpv.store.frame.step > {s}", timeout=20_000)
    page.wait_for_timeout(300)


def read_matrix(page: Any) -> dict[str, Any]:
    """The matrix view as written: wᵀ's cells (rows k, columns j), the four vector columns
    (δ^{l+1}, wᵀδ^{l+1}, σ′, δ^l) with their labels' text, the caption and the rule's δ^l."""
    return page.evaluate(
        """() => {
          const m = document.querySelector('#explain .bp2m');
          const cols = [...m.querySelectorAll('.mrow > .mcol')];
          const wt = [...cols[0].querySelectorAll('tr')].slice(1)
            .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent));
          const vecs = cols.slice(1).map(c => ({
            label: c.querySelector('.mlabel').textContent,
            values: [...c.querySelectorAll('td')].map(td => td.textContent)}));
          const rule = [...m.querySelectorAll('[data-rule-delta-cell]')].map(b => b.textContent);
          return {wt, vecs, rule, caption: m.querySelector('.mcaption').textContent};
        }"""
    )


def check_matrix_arithmetic(mat: dict[str, Any]) -> None:
    """wᵀδ ≈ Σ_j wᵀ_kj δ_j and δ^l ≈ σ′ ⊙ wᵀδ, each for the numbers as shown."""
    d_next, wtd, sp, d_cur = (v["values"] for v in mat["vecs"])
    assert len(mat["wt"]) == len(wtd) == len(sp) == len(d_cur)
    for k, row in enumerate(mat["wt"]):
        assert len(row) == len(d_next)
        lo = hi = 0.0
        for w, d in zip(row, d_next, strict=True):
            p = mul(interval(w), interval(d))
            lo, hi = lo + p[0], hi + p[1]
        assert meets((lo, hi), interval(wtd[k])), (k, row, d_next, wtd[k])
        prod = mul(interval(sp[k]), interval(wtd[k]))
        assert meets(prod, interval(d_cur[k])), (k, sp[k], wtd[k], d_cur[k])


def check_equations(page: Any) -> list[str]:
    texts = page.locator("#explain .explain-left .arith").all_text_contents()
    assert texts
    for text in texts:
        ok, why = check_equation(text)
        assert ok, why
    return texts


def open_neuron(page: Any, layer: int, j: int) -> None:
    click_neuron(page, layer, j)
    page.wait_for_selector(f".explain-title:has-text('neuron k = {j + 1} in layer l = {layer}')")
    page.wait_for_selector("#explain .arith[data-eq='bp2-delta']")
    page.wait_for_selector("#explain .bp2m")


@pytest.mark.parametrize("rule", ["random", "inverse"])
def test_bp2_under_a_rule_is_backprops_and_says_so(page, rule: str) -> None:  # type: ignore[no-untyped-def]
    open_app(page, f"feedback={rule}&hidden=4,2")
    step(page, 3)
    label = page.locator("#feedback option:checked").text_content() or ""
    assert label and label != rule  # the Model panel's label, e.g. "random (feedback alignment)"
    L = frame_value(page, "f.sizes.length")
    for layer, j in [(3, 0), (2, 1)]:
        open_neuron(page, layer, j)
        true_cur = frame_value(page, f"f.layers[{layer - 2}].true_delta")
        rule_cur = frame_value(page, f"f.layers[{layer - 2}].delta")
        nxt = f"f.layers[{layer - 1}]"
        true_next = frame_value(page, f"{nxt}.true_delta ?? {nxt}.delta")
        if layer + 1 == L:  # the output's δ is the same under every rule
            assert true_next == frame_value(page, f"{nxt}.delta")
        else:  # the rule's δ^{l+1} differs from backprop's: the test tells them apart
            rule_next = frame_value(page, f"{nxt}.delta")
            assert any(abs(a - b) > 1e-2 for a, b in zip(true_next, rule_next, strict=True))
        assert abs(true_cur[j] - rule_cur[j]) > 1e-2  # the two δ^l_k differ visibly

        # The section names the rule and says the equation is backprop's, with its numbers.
        note = page.locator("#explain [data-rule-note]").inner_text()
        assert label in note and "backprop's BP2 with backprop's numbers" in note

        # Term by term: every equation holds to its digits, and its δ are backprop's.
        check_equations(page)
        for term in page.locator("#explain .arith[data-eq='bp2-term']").all():
            i = int(term.locator("[data-term^='d']").get_attribute("data-term")[1:])  # type: ignore[index]
            d_text = term.locator("[data-term^='d']").text_content() or ""
            assert agrees(d_text, true_next[i]), (i, d_text, true_next[i])
        result = page.locator("#explain .arith[data-eq='bp2-delta'] [data-result]").text_content()
        assert agrees(result or "", true_cur[j]), (result, true_cur[j])
        assert not agrees(result or "", rule_cur[j])
        # Backprop's δ^l_k and the rule's, labelled, as the frame carries them.
        compare = page.locator("#explain [data-rule-compare]")
        rows = compare.locator("[data-rule-row]").all_inner_texts()
        assert rows[0].startswith("backprop's") and rows[1].startswith("this run's")
        assert label in rows[1]
        bp = compare.locator("[data-backprop-delta]").text_content() or ""
        rl = compare.locator("[data-rule-delta]").text_content() or ""
        assert agrees(bp, true_cur[j])
        assert agrees(rl, rule_cur[j])

        # The matrix view: its ≈ hold for the numbers it shows, and its δ are backprop's.
        mat = read_matrix(page)
        assert "Backprop's BP2 as matrices" in mat["caption"] and label in mat["caption"]
        check_matrix_arithmetic(mat)
        d_next, _, _, d_cur = mat["vecs"]
        assert "backprop" in d_next["label"] and "backprop" in d_cur["label"]
        for text, v in zip(d_next["values"], true_next, strict=True):
            assert agrees(text, v), (text, v)
        for text, v in zip(d_cur["values"], true_cur, strict=True):
            assert agrees(text, v), (text, v)
        assert len(mat["rule"]) == len(rule_cur)  # the rule's δ^l beside it, labelled
        for text, v in zip(mat["rule"], rule_cur, strict=True):
            assert agrees(text, v), (text, v)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"feedback-{rule}-bp2-l{layer}.png"))
        click_neuron(page, layer, j)  # a second click clears the selection
        page.wait_for_selector(".explain-title:has-text('four equations')")

    # An edge into a hidden layer (w³₁₁, from the matrix view of layer 2): its δ and step are
    # backprop's and say so; the rule's δ and gradient stand beside them, labelled.
    open_neuron(page, 2, 1)
    page.click("#explain .bp2m td[data-select]")
    page.wait_for_selector("#explain .arith[data-eq='edge-backward']")
    check_equations(page)
    back = page.locator("#explain .arith[data-eq='edge-backward']")
    d_shown = back.locator("[data-term='d']").text_content()
    assert agrees(d_shown or "", frame_value(page, "f.layers[1].true_delta[0]"))
    note = page.locator("#explain [data-rule-note]").inner_text()
    assert label in note and "backprop's" in note
    rl = page.locator("#explain [data-rule-note] [data-rule-delta]").text_content() or ""
    assert agrees(rl, frame_value(page, "f.layers[1].delta[0]"))
    gr = page.locator("#explain [data-rule-note] [data-rule-grad]").text_content() or ""
    assert agrees(gr, frame_value(page, "f.layers[1].grad_w[0][0]"))
    assert "Backprop's SGD step, not this run's" in page.locator("#explain").inner_text()


def test_bp2_under_the_transpose_reads_as_before(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "hidden=4,2")
    step(page, 3)
    assert frame_value(page, "f.layers.every(x => x.true_delta === undefined)")
    for layer, j in [(3, 0), (2, 1)]:
        open_neuron(page, layer, j)
        delta = frame_value(page, f"f.layers[{layer - 2}].delta")
        d_next = frame_value(page, f"f.layers[{layer - 1}].delta")
        assert page.locator("#explain [data-rule-note], #explain [data-rule-compare]").count() == 0
        assert "backprop" not in page.locator("#explain .explain-left").inner_text()
        check_equations(page)
        result = page.locator("#explain .arith[data-eq='bp2-delta'] [data-result]").text_content()
        assert agrees(result or "", delta[j])
        mat = read_matrix(page)
        assert mat["caption"].strip() == f"BP2 as matrices, layer {layer} (probe):"
        assert mat["rule"] == []
        check_matrix_arithmetic(mat)
        assert all("backprop" not in v["label"] for v in mat["vecs"])
        for text, v in zip(mat["vecs"][0]["values"], d_next, strict=True):
            assert agrees(text, v)
        for text, v in zip(mat["vecs"][3]["values"], delta, strict=True):
            assert agrees(text, v)
        click_neuron(page, layer, j)
        page.wait_for_selector(".explain-title:has-text('four equations')")


def rest(page: Any, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        page.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read()) if r.status != 204 else None


def step_cosine(frame: dict[str, Any]) -> tuple[float, float]:
    """cos(rule's gradient, backprop's) over every weight and bias of a REST frame, and how
    many times as long the rule's is: the step −η·grad against −η·∇C (η cancels)."""
    rule: list[float] = []
    true: list[float] = []
    for x in frame["layers"]:
        rule += [v for row in x["grad_w"] for v in row] + x["grad_b"]
        true += [v for row in x["true_grad_w"] for v in row] + x["true_grad_b"]
    dot = sum(r * t for r, t in zip(rule, true, strict=True))
    nr, nt = math.sqrt(sum(r * r for r in rule)), math.sqrt(sum(t * t for t in true))
    return dot / (nr * nt), nr / nt


def test_prediction_line_under_a_rule_names_the_direction_not_eta(page) -> None:  # type: ignore[no-untyped-def]
    """The random rule's first step on the default network goes uphill at η = 0.03, where
    backprop's step from the same weights and batch falls: the line beside the loss does not
    blame η but says the rule's step was nearly at right angles to the gradient, with the
    cosine of the run's own prediction (exact, to the digits shown), which this test also
    works out from the REST frame before the step (4-digit gradients: to 1e-4)."""
    open_app(page, "feedback=random")
    run = page.evaluate("window.__bpv.store.run.id")
    config = rest(page, "GET", f"/api/runs/{run}")["config"]
    assert config["feedback"] == "random" and config["momentum"] == 0
    # The same run over REST (same seed: the same data, weights and batches), before its step.
    twin = rest(page, "POST", "/api/runs", config)["id"]
    before = rest(page, "GET", f"/api/runs/{twin}/frame?grid=false")
    cos, longer = step_cosine(before)
    after = rest(page, "POST", f"/api/runs/{twin}/step", {"steps": 1})["prediction"]
    # Backprop from the same weights and batch, at the same η: its step falls.
    bp = rest(page, "POST", "/api/runs", {**config, "feedback": "transpose"})["id"]
    bp_after = rest(page, "POST", f"/api/runs/{bp}/step", {"steps": 1})["prediction"]
    for r in (twin, bp):
        rest(page, "DELETE", f"/api/runs/{r}")
    assert after["predicted"] < 0 < after["actual"], after  # uphill under the rule
    assert bp_after["actual"] < 0, bp_after  # not under backprop, at the same η
    assert abs(cos) < 0.2, cos  # nearly at right angles

    step(page, 1)
    line = page.locator("#loss .loss-prediction")
    page.wait_for_function(
        "document.querySelector('#loss .loss-prediction').textContent.includes('0 → 1')"
    )
    text = " ".join(line.inner_text().split())
    assert line.get_attribute("data-level") == "uphill", text
    assert "η is too big" not in text, text
    m = re.search(
        r"the random rule's step was nearly at right angles to the gradient \(cos ([^)]+)\)", text
    )
    assert m, text
    shown_cos = float(m.group(1).replace("−", "-"))
    assert shown_cos == float(f"{after['cos']:.2g}"), (shown_cos, after["cos"])
    # The frame's gradients are rounded to 4 digits: each product r·t is off by at most 1e-4
    # of |r·t|, and Σ|r·t| ≤ ‖r‖‖t‖ (Cauchy-Schwarz), so their cos is off by at most 1e-4;
    # the line shows 2 digits (half a unit: 5e-5 at this size).
    assert abs(shown_cos - cos) <= 1.5e-4, (shown_cos, cos, longer)
    # The numbers the line shows are the run's own prediction of that step.
    predicted = float(line.locator("[data-predicted]").inner_text().replace("−", "-"))
    actual = float(line.locator("[data-actual]").inner_text().replace("−", "-"))
    assert predicted == pytest.approx(after["predicted"], rel=1e-3)
    assert actual == pytest.approx(after["actual"], rel=1e-3)
