// static/js/network_geom.js: where the network view puts neurons and edges. A reader must see
// every neuron inside the view, none overlapping another, layers left to right, and every edge
// running from its source's disc to its destination's thumbnail.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { bezierAt, edgeKey, geometry, nodeKey } from "../../static/js/network_geom.js";
import { rng } from "./exact.mjs";

/** Random networks within the page's limits: 1-7 inputs, 0-6 hidden layers of 1-8, 1-8 outputs. */
function* networks(seed, n) {
  const r = rng(seed);
  for (let i = 0; i < n; i += 1) {
    const hidden = Array.from({ length: Math.floor(7 * r()) }, () => 1 + Math.floor(8 * r()));
    const sizes = [1 + Math.floor(7 * r()), ...hidden, 1 + Math.floor(8 * r())];
    // The view's size on the page: from a phone's ~300 px (the page stacks its columns below
    // 1000 px) to a wide screen. (Below ~260 px, six hidden layers of 8 no longer fit.)
    yield { sizes, W: 300 + Math.floor(900 * r()), H: 130 + Math.floor(500 * r()), labelW: 6 + 6.2 * Math.floor(7 * r()) };
  }
}

describe("geometry", () => {
  test("every neuron (thumbnail and disc) is inside the view and clear of its neighbours", () => {
    for (const { sizes, W, H, labelW } of networks(31, 500)) {
      const g = geometry(sizes, W, H, labelW);
      const what = `${sizes.join("-")} in ${W}×${H}`;
      assert.equal(g.nodes.length, sizes.length);
      g.nodes.forEach((layer, li) => {
        assert.equal(layer.length, sizes[li]);
        for (const [j, n] of layer.entries()) {
          assert.ok(n.tx >= labelW - 1e-9, `${what}: thumbnail ${li},${j} runs into the input names`);
          assert.ok(n.x + g.D / 2 <= W + 1e-9, `${what}: disc ${li},${j} beyond the right edge`);
          assert.ok(n.ty >= -1e-9 && n.ty + g.T <= H + 1e-9, `${what}: thumbnail ${li},${j} cut at top or bottom`);
          assert.ok(n.y - g.D / 2 >= -1e-9 && n.y + g.D / 2 <= H + 1e-9, `${what}: disc ${li},${j} cut`);
          assert.ok(n.tx + g.T <= n.x - g.D / 2, `${what}: the thumbnail sits left of its own disc`);
          if (j) assert.ok(layer[j - 1].ty + g.T <= n.ty, `${what}: neurons ${j - 1} and ${j} of layer ${li + 1} overlap`);
        }
        if (li) assert.ok(g.nodes[li - 1][0].x + g.D / 2 < layer[0].tx, `${what}: layer ${li + 1} overlaps layer ${li}`);
      });
    }
  });

  test("one edge per weight w^l_jk, from k's disc to j's thumbnail, left to right", () => {
    for (const { sizes, W, H, labelW } of networks(32, 300)) {
      const g = geometry(sizes, W, H, labelW);
      const expected = sizes.slice(1).reduce((s, n, i) => s + n * sizes[i], 0);
      assert.equal(g.edges.length, expected);
      assert.equal(new Set(g.edges.map((e) => edgeKey(e.l, e.j, e.k))).size, expected, "no edge twice");
      for (const e of g.edges) {
        assert.ok(e.l >= 2 && e.l <= sizes.length && e.j < sizes[e.l - 1] && e.k < sizes[e.l - 2]);
        const src = g.nodes[e.l - 2][e.k];
        const dst = g.nodes[e.l - 1][e.j];
        assert.deepEqual(bezierAt(e.p, 0), [src.x + g.D / 2, src.y]);
        const [x1, y1] = bezierAt(e.p, 1);
        assert.ok(Math.abs(x1 - dst.tx) < 1e-9 && Math.abs(y1 - dst.y) < 1e-9, "ends at the thumbnail's left side");
        let prevX = -Infinity;
        for (let t = 0; t <= 1; t += 0.05) {
          const [x, y] = bezierAt(e.p, t);
          assert.ok(x >= prevX - 1e-9, "an edge never doubles back");
          assert.ok(y >= Math.min(src.y, dst.y) - 1e-9 && y <= Math.max(src.y, dst.y) + 1e-9, "nor leaves the band between its ends");
          prevX = x;
        }
      }
    }
  });

  test("a dense network (the book's 64-30-10): every neuron inside, none on another, every weight an edge", () => {
    for (const sizes of [[64, 30, 10], [64, 30, 30, 10], [64, 8, 10], [17, 2, 1]]) {
      for (const [W, H] of [[300, 160], [520, 230], [770, 260], [1200, 600]]) {
        const g = geometry(sizes, W, H, 24);
        const what = `${sizes.join("-")} in ${W}×${H}`;
        assert.ok(g.dense, what);
        g.nodes.forEach((layer, li) => {
          for (const [j, n] of layer.entries()) {
            assert.ok(n.d >= Math.min(3, n.slot) - 1e-9, `${what}: disc ${li},${j} smaller than it need be`);
            assert.ok(n.y - n.d / 2 >= -1e-9 && n.y + n.d / 2 <= H + 1e-9, `${what}: disc ${li},${j} cut`);
            assert.ok(n.x + n.d / 2 <= W + 1e-9 && n.tx >= 24 - 1e-9, `${what}: neuron ${li},${j} beyond the sides`);
            if (n.t) assert.ok(n.tx + n.t <= n.x - n.d / 2 && n.ty >= -1e-9 && n.ty + n.t <= H + 1e-9, `${what}: thumbnail ${li},${j}`);
            if (j) assert.ok(layer[j - 1].y + Math.max(layer[j - 1].d, layer[j - 1].t) / 2 <= n.y - Math.max(n.d, n.t) / 2 + 1e-9, `${what}: neurons ${j - 1} and ${j} of layer ${li + 1} overlap`);
          }
          if (li) assert.ok(g.nodes[li - 1][0].x + g.nodes[li - 1][0].d / 2 < layer[0].tx, `${what}: layer ${li + 1} overlaps layer ${li}`);
        });
        assert.equal(g.edges.length, sizes.slice(1).reduce((s, n, i) => s + n * sizes[i], 0));
        for (const e of g.edges) {
          const src = g.nodes[e.l - 2][e.k];
          assert.deepEqual(bezierAt(e.p, 0), [src.x + src.d / 2, src.y]);
          assert.ok(g.edgeWidth[e.l] > 0 && g.edgeWidth[e.l] <= 7);
        }
      }
    }
  });

  test("keys name l, j, k as the notation does", () => {
    assert.equal(edgeKey(3, 0, 1), "3,0,1");
    assert.equal(nodeKey(2, 4), "2,4");
  });
});
