"""The output plot's colour key (Playground shows one; a reviewer could not read a regression
surface's values without it). The key is made from the map the plane is drawn with: read
back from the screen, the plane's colour at a grid cell is the key's colour at the cell's
value (a ramp for one output), or the swatch of its class (several outputs, Discretise)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS, open_app
from tests.browser.plane_pixels import clear_of_markers, pixel, plane_and_shot

pytestmark = pytest.mark.browser

# The key under the plot: its kind, its ends' labels, the ramp's and the swatches' boxes.
KEY = """() => {
  const box = (el) => {
    const b = el.getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; };
  const key = document.querySelector('.plane-key');
  return {
    type: key && key.dataset.key,
    lo: key && key.querySelector('[data-end=lo]')?.textContent,
    hi: key && key.querySelector('[data-end=hi]')?.textContent,
    ramp: key && key.querySelector('.pk-ramp') && box(key.querySelector('.pk-ramp')),
    swatches: key ? [...key.querySelectorAll('.pk-item')].map((it) => ({text: it.textContent,
      box: box(it.querySelector('i'))})) : [],
  };
}"""


def _geometry(pg) -> tuple[dict[str, Any], Image.Image]:  # type: ignore[no-untyped-def]
    geo, shot = plane_and_shot(pg)
    return {**geo, **pg.evaluate(KEY)}, shot


def _clear_cells(geo: dict[str, Any]) -> list[tuple[int, int]]:
    """Every other cell away from every marker and the plot's edge."""
    out = geo["output"]
    return [
        (i, c)
        for i in range(1, len(out) - 1, 2)
        for c in range(1, len(out[0]) - 1, 2)
        if clear_of_markers(geo, i, c)
    ]


def _close(a: tuple[int, int, int], b: tuple[int, int, int], tol: int) -> bool:
    return max(abs(p - q) for p, q in zip(a, b, strict=True)) <= tol


def test_a_regression_surface_is_read_off_its_ramp(page) -> None:  # type: ignore[no-untyped-def]
    open_app(page, "dataset=plane")
    run = page.evaluate("window.__bpv.store.run.id")
    with urllib.request.urlopen(f"{page.base}/api/runs/{run}/data") as r:
        labels = json.loads(r.read())["train"]["labels"]
    m = max(abs(v) for v in labels)
    geo, shot = _geometry(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plane-key-regression.png"))
    assert geo["type"] == "ramp"
    # the ends: the range the surface is coloured over (± the largest |target|)
    lo, hi = (float(geo[k].replace("−", "-")) for k in ("lo", "hi"))
    assert lo == -hi and abs(hi - m) <= 0.005 * m, (geo["lo"], geo["hi"], m)
    left, top, width, height = geo["ramp"]
    checked = 0
    for i, c in _clear_cells(geo):
        v = geo["output"][i][c]
        t = min(1.0, max(0.0, (v + m) / (2 * m)))
        want = pixel(shot, left + 2 + t * (width - 4), top + height / 2, geo["dpr"])
        got = pixel(shot, *geo["cells"][i][c], geo["dpr"])
        assert _close(got, want, 14), (i, c, v, got, want)
        checked += 1
    assert checked >= 20, checked


@pytest.mark.parametrize(
    ("link", "texts"),
    [
        ("dataset=blobs3", ["class 0", "class 1", "class 2"]),
        ("dataset=circle&discretize=true", ["a ≤ 0: −", "a > 0: +"]),
    ],
)
def test_classes_are_read_off_their_swatches(page, link: str, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    open_app(page, link)
    if "discretize" in link:
        page.wait_for_function("document.querySelector('#discretize').checked")
    geo, shot = _geometry(page)
    page.screenshot(path=str(ARTIFACTS / f"plane-key-{link.split('&')[0][8:]}.png"))
    assert geo["type"] == "swatches" and [s["text"] for s in geo["swatches"]] == texts
    swatch = [
        pixel(shot, b[0] + b[2] / 2, b[1] + b[3] / 2, geo["dpr"])
        for b in (s["box"] for s in geo["swatches"])
    ]
    assert len(set(swatch)) == len(texts), swatch
    out = geo["output"]

    def cls_at(i: int, c: int) -> int:  # the grid's class: its argmax, or the server's rule
        return int(out[i][c]) if len(texts) > 2 else int(out[i][c] > 0)

    seen = set()
    for i, c in _clear_cells(geo):
        near = {cls_at(a, b) for a in (i - 1, i, i + 1) for b in (c - 1, c, c + 1)}
        if len(near) > 1:  # at a class edge the stretched image blends neighbouring cells
            continue
        cls = cls_at(i, c)
        got = pixel(shot, *geo["cells"][i][c], geo["dpr"])
        assert _close(got, swatch[cls], 3), (i, c, out[i][c], got, swatch)
        seen.add(cls)
    assert len(seen) >= 2, seen
