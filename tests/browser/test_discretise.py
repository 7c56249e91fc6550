"""The output plot's Discretise option colours each point of the plane by the class the
server counts in the accuracy (app/core/datasets.py: one output is positive where a > cut,
strictly). A ReLU output is exactly 0 where its unit is dead: that is the − class (orange).
The page coloured v ≥ mid as + and painted a trained ReLU circle run solid blue, though it
reported 99 % accuracy. Read back from the pixels drawn, at grid cells whose value the frame
carries."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, frame_value, open_app, trained_to
from tests.browser.plane_pixels import clear_of_markers, pixel, plane_and_shot

pytestmark = pytest.mark.browser

LINK = "dataset=circle&output_activation=relu&learning_rate=0.03&seed=3"


def is_blue(rgb: tuple[int, int, int]) -> bool:
    r, _, b = rgb
    return b > r + 40


def is_orange(rgb: tuple[int, int, int]) -> bool:
    r, _, b = rgb
    return r > b + 40


def test_discretised_relu_output_is_the_servers_class(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, LINK)
    trained_to(page, 3000, "window.__bpv.store.frame.grid !== null")
    page.check("#discretize")
    geo, shot = plane_and_shot(page)
    assert frame_value(page, "f.activations.at(-1)") == "relu"
    accuracy = frame_value(page, "f.train.accuracy")
    assert accuracy > 0.9, f"the run learned the circle: accuracy {accuracy}"
    page.screenshot(path=str(ARTIFACTS / "discretise-relu-circle.png"))
    out = geo["output"]
    cut = page.evaluate(
        "fetch('/api/options').then(r => r.json()).then(o => o.about.activations.relu.cut)"
    )
    assert cut == 0
    G, C = len(out), len(out[0])

    def clear(i: int, c: int) -> bool:
        if not clear_of_markers(geo, i, c):
            return False
        # the cell and its 8 neighbours in one class: no blending at a class edge
        cls = {out[a][b] > cut for a in (i - 1, i, i + 1) for b in (c - 1, c, c + 1)}
        return 0 < i < G - 1 and 0 < c < C - 1 and len(cls) == 1

    checked = {"zero": 0, "positive": 0, "negative": 0}
    wrong = []
    for i in range(1, G - 1, 3):
        for c in range(1, C - 1, 3):
            if not clear(i, c):
                continue
            v = out[i][c]
            rgb = pixel(shot, *geo["cells"][i][c], geo["dpr"])
            positive = v > cut  # the server's rule (datasets.predicted_class)
            ok = is_blue(rgb) if positive else is_orange(rgb)
            checked["zero" if v == 0 else "positive" if v > 0 else "negative"] += 1
            if not ok:
                wrong.append((i, c, v, rgb))
    assert checked["zero"] >= 10, f"cells where the ReLU output is exactly 0: {checked}"
    assert checked["positive"] >= 5, checked
    assert wrong == [], f"{len(wrong)} cells not in the server's class, e.g. {wrong[:5]}; {checked}"
    title = page.get_attribute('[data-control="discretize"]', "title") or ""
    assert "a > 0" in title and "a ≤ 0" in title, title


@pytest.mark.parametrize(
    ("link", "says"),
    [("dataset=plane&discretize=true", "no classes"), ("dataset=blobs3", "already shows")],
)
def test_discretise_says_what_it_does_there(page, link: str, says: str) -> None:  # type: ignore[no-untyped-def]
    open_app(page, link)
    box = page.locator("#discretize")
    for el in (page.locator('[data-control="discretize"]'), box):
        assert says in (el.get_attribute("title") or ""), el.get_attribute("title")
    if "plane" in link:
        # the link's tick is ignored: the box is off and disabled, not a tick that does nothing
        assert box.is_disabled() and not box.is_checked()
