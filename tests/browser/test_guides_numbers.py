"""Every equation the two guides write holds to its shown digits, and the update is the step.

In real Chromium against a real uvicorn, for seeded networks and training states (tanh,
ReLU, sigmoid; μ = 0 and 0.9; L2): every stage of "Step through" and every step of "Why the
transpose?" is read back from the page's text. Each arithmetic equation (``.arith``) must
hold exactly (``Fraction``) on the numbers as shown, within half a unit in the last digit of
its right side; each ``σ(z) = a`` line must hold for the shown z to a's shown digits; "≈"
only with the note saying why. The update stage's Δw must be the change "Train this batch"
then makes to that weight, read before and after through REST at full precision
(``?explain=l,j,k``), and the δ the guides show must be the frame's δ.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_numbers import check_equation, configure, frame, get_json, open_page, shown

pytestmark = pytest.mark.browser

CASES = [
    # The reviewer's ReLU network (hidden 3,2,2), with momentum.
    ({"hidden": [3, 2, 2], "hidden_activation": "relu", "dataset": "circle", "learning_rate": 0.03,
      "momentum": 0.9, "regulariser": "none", "lambda": 0.0, "seed": 1}, 30),
    ({"hidden": [4, 2], "hidden_activation": "tanh", "dataset": "xor", "learning_rate": 0.1,
      "momentum": 0.0, "regulariser": "l2", "lambda": 1.0, "seed": 7}, 60),
    ({"hidden": [3], "hidden_activation": "sigmoid", "dataset": "gauss", "learning_rate": 0.3,
      "momentum": 0.9, "regulariser": "l2", "lambda": 3.0, "seed": 11}, 5),
]  # fmt: skip


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


FNS = {
    "tanh": lambda z: Fraction(math.tanh(float(z))),
    "sigmoid": lambda z: Fraction(_sigmoid(float(z))),
    "relu": lambda z: max(z, Fraction(0)),
    "leaky_relu": lambda z: z if z > 0 else z / 100,
    "linear": lambda z: z,
}


def check_fn(act: str, text: str) -> tuple[bool, str]:
    """(holds, why) for one ``tanh(0.30631)=0.2970`` line."""
    m = re.fullmatch(r"(.+)\((.+)\)=(.+)", text.replace(" ", ""))
    assert m, f"unparsed activation line {text!r}"
    z = Fraction(Decimal(m[2].replace("−", "-")))
    value, half = shown(m[3])
    got = FNS[act](z)
    ok = got == value if half is None else abs(got - value) <= half
    return ok, f"{text!r}: {act} of the shown z is {float(got)!r}"


def guide_check(pg, where: str) -> tuple[list[dict[str, Any]], int]:  # type: ignore[no-untyped-def]
    """Check every equation the guide shows; return the .arith ones and the count checked."""
    eqs = pg.eval_on_selector_all(
        "#guide .arith",
        "els => els.map(e => ({text: e.textContent, eq: e.dataset.eq,"
        " approx: !!e.dataset.approx}))",
    )
    for e in eqs:
        ok, why = check_equation(e["text"])
        assert ok, f"{where}: {e['eq']} does not hold to its shown digits: {why}"
        if e["approx"]:
            assert pg.locator("#guide .approx-note").count() >= 1, f"{where}: ≈ without a why"
    fns = pg.eval_on_selector_all(
        "#guide .fn-eq", "els => els.map(e => ({text: e.textContent, fn: e.dataset.fn}))"
    )
    for e in fns:
        ok, why = check_fn(e["fn"], e["text"])
        assert ok, f"{where}: {why}"
    return eqs, len(eqs) + len(fns)


def wait_settled(pg, attr: str, value: str) -> None:  # type: ignore[no-untyped-def]
    """Until the guide shows this stage/step with every exact number arrived."""
    pg.wait_for_function(
        f"(() => {{ const h = document.querySelector('#guide [{attr}]');"
        " const b = document.querySelector('#guide .guide-body');"
        f" return h && h.getAttribute('{attr}') === '{value}' && b && !b.dataset.pending; }})()",
        timeout=10_000,
    )


def rhs(text: str) -> str:
    return re.split("[=≈]", text)[-1]


def step_through(pg, server: str, name: str, shots: bool) -> int:  # type: ignore[no-untyped-def]
    sizes = frame(pg, "f.sizes")
    L = len(sizes)
    stages = [s for m in range(2, L + 1) for s in (f"z-{m}", f"a-{m}")]
    stages += [f"bp1-{L}"] + [f"bp2-{m}" for m in range(L - 1, 1, -1)] + ["update", "next"]
    pg.click("#stepthrough-btn")
    checked = 0
    dws: dict[str, tuple[Fraction, Fraction | None]] = {}
    for stage in stages:
        wait_settled(pg, "data-stage", stage)
        eqs, c = guide_check(pg, f"{name} {stage}")
        checked += c
        kind = stage.split("-")[0]
        if kind in ("z", "bp2"):
            l = int(stage.split("-")[1])  # noqa: E741
            assert c == sizes[l - 1], f"{name} {stage}: {c} equations for {sizes[l - 1]} neurons"
        if kind == "bp2":
            for k, e in enumerate(eqs):
                want = frame(pg, f"f.layers[{l - 2}].delta[{k}]")
                got = float(shown(rhs(e["text"]))[0])
                assert got == pytest.approx(want, rel=1e-3, abs=1e-12), (stage, k, got, want)
        if kind == "a" and frame(pg, f"f.activations[{int(stage[2:]) - 2}]") != "softmax":
            assert c == sizes[int(stage[2:]) - 1], f"{name} {stage}: {c} activation lines"
        if stage == "update":
            rows = pg.eval_on_selector_all(
                "#guide [data-update-edge]",
                "els => els.map(r => [r.dataset.updateEdge, "
                "r.querySelector('[data-update-dw] .arith').textContent])",
            )
            assert len(rows) == L - 1, rows
            dws = {edge: shown(rhs(text)) for edge, text in rows}
            mom = frame(pg, "f.hyper.momentum")
            title = pg.locator("#guide h3").text_content() or ""
            assert ("μ" in title) == (mom > 0), title  # the rule shown is the rule applied
            if shots:
                pg.screenshot(path=str(ARTIFACTS / f"guide-update-{name}.png"))
        if stage != "next":
            pg.click("#guide [data-st='next']")
    # "Train this batch": each shown Δw is the change the step makes (w in full, by REST).
    run_id = pg.evaluate("window.__bpv.store.run.id")
    q = f"{server}/api/runs/{run_id}/frame?explain="
    before = {e: get_json(q + e)["explain"]["w"] for e in dws}
    step = frame(pg, "f.step")
    pg.click("#guide [data-st='next']")
    pg.wait_for_function(f"window.__bpv.store.frame.step === {step + 1}", timeout=10_000)
    for e, (dw, half) in dws.items():
        after = get_json(q + e)["explain"]["w"]
        change = Fraction(after) - Fraction(before[e])
        slack = Fraction(abs(before[e])) * Fraction(1, 10**15)  # w_after − w_before in float64
        assert abs(change - dw) <= (half or 0) + slack, (name, e, float(change), float(dw))
    wait_settled(pg, "data-stage", stages[0])  # the walk starts again on the new step
    pg.click("#guide [data-st='close']")
    return checked


def walkthrough(pg, name: str, shots: bool) -> int:  # type: ignore[no-untyped-def]
    pg.click("#walkthrough-btn")
    checked = 0
    for n in range(1, 7):
        wait_settled(pg, "data-guide-step", str(n))
        eqs, c = guide_check(pg, f"{name} walkthrough {n}")
        checked += c
        if n in (1, 3, 4, 5):
            assert c >= 1, f"{name} walkthrough step {n}: no equation"
        if n == 5:
            sel = pg.evaluate("window.__bpv.store.selection")
            want = frame(pg, f"f.layers[{sel['l'] - 2}].delta[{sel['j']}]")
            got = float(shown(rhs(eqs[-1]["text"]))[0])
            assert got == pytest.approx(want, rel=1e-3, abs=1e-12), (got, want)
        if n == 3 and shots:
            pg.screenshot(path=str(ARTIFACTS / f"guide-walkthrough-{name}.png"))
        if n < 6:
            pg.click("#guide [data-wt='next']")
    pg.click("#guide [data-wt='close']")
    return checked


def test_guides_write_only_equations_that_hold(warm, server) -> None:  # type: ignore[no-untyped-def]
    ctx, pg, errors = open_page(warm, server)
    ARTIFACTS.mkdir(exist_ok=True)
    checked = 0
    try:
        for n, (config, steps) in enumerate(CASES):
            configure(pg, config, steps)
            name = f"{config['hidden_activation']}-mu{config['momentum']}-{config['regulariser']}"
            checked += step_through(pg, server, name, shots=n == 0)
            checked += walkthrough(pg, name, shots=n == 0)
        assert checked >= 60, checked
        assert errors == []
    finally:
        ctx.close()
