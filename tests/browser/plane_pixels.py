"""The output plot's plane as a learner sees it: each grid cell's centre on screen and the
pixel drawn there (tests/browser/test_discretise.py, test_plane_key.py)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

# Each grid cell's centre on screen (the image is G × G pixels stretched over
# [x1[0], x1[G-1]] × [x2[0], x2[G-1]], row 0 of the grid at the bottom), one cell's size, the
# training points' and the probe's centres (their markers cover the image), the grid values.
PLANE = """() => {
  const s = window.__bpv.store, f = s.frame, g = f.grid;
  const div = document.querySelector('#boundary');
  const fl = div._fullLayout, r = div.getBoundingClientRect();
  const px = (x, y) => [r.left + fl.xaxis._offset + fl.xaxis.l2p(x),
                        r.top + fl.yaxis._offset + fl.yaxis.l2p(y)];
  const G = g.output.length, C = g.x1.length;
  const w = (g.x1[C - 1] - g.x1[0]) / C, h = (g.x2[G - 1] - g.x2[0]) / G;
  const cells = g.output.map((row, i) =>
    row.map((_, c) => px(g.x1[0] + (c + 0.5) * w, g.x2[0] + (i + 0.5) * h)));
  return {
    output: g.output, cells, dpr: window.devicePixelRatio,
    cell: [Math.abs(px(w, 0)[0] - px(0, 0)[0]), Math.abs(px(0, h)[1] - px(0, 0)[1])],
    markers: [...s.data.train.points.map((p) => px(p[0], p[1])), px(...f.probe.point)],
  };
}"""


def plane_and_shot(pg) -> tuple[dict[str, Any], Image.Image]:  # type: ignore[no-untyped-def]
    """The plane's geometry (PLANE) and a screenshot, once the plot has redrawn."""
    pg.wait_for_timeout(300)  # the plot redraws in the next animation frame
    pg.locator("#boundary").scroll_into_view_if_needed()
    geo = pg.evaluate(PLANE)
    return geo, Image.open(io.BytesIO(pg.screenshot())).convert("RGB")


def pixel(shot: Image.Image, x: float, y: float, dpr: float) -> tuple[int, int, int]:
    """The RGB drawn at CSS pixel (x, y)."""
    p = shot.getpixel((round(x * dpr), round(y * dpr)))
    assert isinstance(p, tuple)
    return int(p[0]), int(p[1]), int(p[2])


def clear_of_markers(geo: dict[str, Any], i: int, c: int) -> bool:
    """Cell (i, c) is a marker's radius and one cell away from every marker: its pixel is the
    image's."""
    x, y = geo["cells"][i][c]
    reach = max(geo["cell"]) + 6
    return all((x - mx) ** 2 + (y - my) ** 2 >= reach**2 for mx, my in geo["markers"])
