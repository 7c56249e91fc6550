// The figures on screen as files for a report: the Plotly plots (decision boundary, loss)
// through Plotly.toImage with a title and a white background; the network, which is an
// SVG layer over a Plotly figure (network_svg.js), as one SVG put together from what is
// drawn: the layer titles, the thumbnails, the edges and neurons, and the colour bars; and
// the digits' views (digit_views.js, in the output plot's place), as one SVG of what the
// Output panel shows, each image pixel a square in the colour the page painted it. PNG of
// an SVG figure is that SVG drawn on a canvas at twice the size.

import { colorOf } from "./colors.js";
import { plotlyLoaded } from "./plots.js";

const NS = "http://www.w3.org/2000/svg";
const TOP = 40; // px above the network: the caption and the layer titles
const BOTTOM = 44; // px below: the colour bars
const PAD = 8; // px of white around it all

/** Text for SVG markup. */
export function xmlText(s) {
  return String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** A data: URL as a Blob (Plotly.toImage's answers: base64 PNG, or URI-encoded SVG). */
export function dataURLBlob(url) {
  const comma = url.indexOf(",");
  const head = url.slice(5, comma);
  const body = url.slice(comma + 1);
  const type = head.split(";")[0];
  if (head.endsWith(";base64")) {
    const bin = atob(body);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type });
  }
  return new Blob([decodeURIComponent(body)], { type });
}

/** A Plotly figure as a file: its data and layout, with a title and a white background. */
async function plotlyFile(div, title, format, legend) {
  if (!plotlyLoaded() || !div?.data) throw new Error("the interactive plots are still loading; try again in a moment");
  const width = Math.max(300, div.clientWidth);
  const height = Math.max(240, div.clientHeight) + 40;
  const margin = { ...(div.layout.margin ?? {}), t: legend ? 70 : 44 };
  const layout = { ...div.layout, width, height: height + (legend ? 26 : 0), margin, paper_bgcolor: "#ffffff", title: { text: xmlText(title), font: { size: 13 }, x: 0.02, xanchor: "left", y: 0.98, yanchor: "top" } };
  // The page names the curves beside the plot; the file carries its own legend.
  if (legend) Object.assign(layout, { showlegend: true, legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", font: { size: 11 } } });
  const url = await window.Plotly.toImage({ data: div.data, layout }, { format, width, height: layout.height, scale: format === "png" ? 2 : 1 });
  return dataURLBlob(url);
}

/**
 * What a colour bar (a .colorbar element, colors.js renderColorbar) shows: its title and the
 * tick labels the page shows (a label the page hides for want of room is left out), each at
 * its place on the ramp (0 = left end, 1 = right end).
 */
export function colorbarSpec(bar) {
  const spans = [...bar.querySelectorAll(".cb-ticks span")];
  return {
    title: bar.querySelector(".cb-title")?.textContent ?? "",
    ticks: spans.map((s, i) => ({ text: s.textContent, at: i / Math.max(1, spans.length - 1), hidden: s.hidden })).filter((t) => !t.hidden && t.text).map(({ text, at }) => ({ text, at })),
  };
}

/** A colour bar ({title, ticks: [{text, at}]}) drawn at (x, y), w wide, as SVG markup: the
 * title, the diverging ramp (colors.js) and the ticks under it. 34 px high. */
export function colorbarMarkup({ title, ticks }, x, y, w, id) {
  const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i / 10}" stop-color="${colorOf(-1 + i / 5)}"/>`).join("");
  const out = [`<defs><linearGradient id="${id}">${stops}</linearGradient></defs>`];
  out.push(`<text x="${x + w / 2}" y="${y + 10}" text-anchor="middle" font-size="10.5" fill="#1d1f23">${xmlText(title)}</text>`);
  out.push(`<rect x="${x}" y="${y + 14}" width="${w}" height="9" rx="2" fill="url(#${id})"/>`);
  for (const t of ticks) {
    const anchor = t.at <= 0 ? "start" : t.at >= 1 ? "end" : "middle";
    out.push(`<text x="${(x + w * t.at).toFixed(1)}" y="${y + 34}" text-anchor="${anchor}" font-size="10" fill="#667085">${xmlText(t.text)}</text>`);
  }
  return out.join("");
}

/**
 * The network view as one SVG document (text): net is the NetworkPlot (its geometry, live
 * layer, thumbnails, header and colour bars as drawn now), caption a line above it.
 */
export function networkSVG(net, caption) {
  const g = net.geom;
  if (!g) throw new Error("the network is not drawn yet");
  const W = g.W + 2 * PAD;
  const H = g.H + TOP + BOTTOM + 2 * PAD;
  const out = [`<svg xmlns="${NS}" width="${W}" height="${H}" viewBox="${-PAD} ${-PAD} ${W} ${H}" font-family="system-ui, sans-serif">`];
  out.push(`<rect x="${-PAD}" y="${-PAD}" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="4" y="13" font-size="12" font-weight="600" fill="#1d1f23">${xmlText(caption)}</text>`);
  // The layer titles where the page puts them (their boxes, relative to the network's plot).
  const origin = net.plotDiv.getBoundingClientRect();
  for (const lab of net.header.querySelectorAll(".layer-label")) {
    const r = lab.getBoundingClientRect();
    const first = lab.classList.contains("first");
    const last = lab.classList.contains("last");
    const x = first ? r.left - origin.left : last ? r.right - origin.left : (r.left + r.right) / 2 - origin.left;
    const anchor = first ? "start" : last ? "end" : "middle";
    const lt = lab.querySelector(".lt")?.textContent ?? "";
    const la = lab.querySelector(".la")?.textContent ?? "";
    out.push(`<text x="${x.toFixed(1)}" y="${TOP - 14}" text-anchor="${anchor}" font-size="10.5" font-weight="600" fill="#1d1f23">${xmlText(lt)}</text>`);
    out.push(`<text x="${x.toFixed(1)}" y="${TOP - 3}" text-anchor="${anchor}" font-size="10" fill="#667085">${xmlText(la)}</text>`);
  }
  out.push(`<g transform="translate(0 ${TOP})">`);
  const live = net.live.svg.cloneNode(true);
  live.removeAttribute("class");
  live.removeAttribute("style");
  out.push(new XMLSerializer().serializeToString(live));
  out.push("</g>");
  const bars = net.bars.filter((b) => !b.hidden);
  const bw = Math.min(300, (g.W - 24 * (bars.length + 1)) / Math.max(1, bars.length));
  bars.forEach((b, i) => out.push(colorbarMarkup(colorbarSpec(b), 24 + i * (bw + 24), TOP + g.H + 4, bw, `ramp${i}`)));
  out.push("</svg>");
  return out.join("");
}

/** SVG text drawn on a canvas `scale` times its size, as a PNG Blob. */
export async function svgToPNG(svg, scale = 2) {
  const w = Number(/width="([\d.]+)"/.exec(svg)[1]);
  const h = Number(/height="([\d.]+)"/.exec(svg)[1]);
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = Math.round(w * scale);
    c.height = Math.round(h * scale);
    const ctx = c.getContext("2d");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, w, h);
    return await new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser made no PNG"))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * A figure as a Blob: source {kind: "network", net, caption()}, {kind: "digits", panel (a
 * DigitsPanel), caption()} or {kind: "plotly", div, title(), legend (bool: add the curves'
 * legend)}; format "png" or "svg".
 */
export async function figureFile(source, format) {
  if (source.kind === "network" || source.kind === "digits") {
    const svg = source.kind === "network" ? networkSVG(source.net, source.caption()) : digitsSVG(source.panel.figure(), source.caption());
    return format === "svg" ? new Blob([svg], { type: "image/svg+xml" }) : svgToPNG(svg);
  }
  return plotlyFile(source.div, source.title(), format, !!source.legend);
}

// ---- The digits' views (digit_views.js) as one figure ---------------------------------------
const INK = "#1d1f23";
const DIM = "#667085";
const DG_W = 640; // px: the figure's width
const DG_CELL = 12; // px per pixel of the probe's and (w²)ᵀδ²'s images (96 px for 8 pixels)

/** Words of `text` in lines of at most `max` characters (a longer word has a line of its own). */
export function wrapText(text, max) {
  const lines = [];
  let line = "";
  for (const word of String(text ?? "").split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > max) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Lines of text from (x, y), lh apart, as SVG markup; attrs: the text elements' attributes. */
function linesMarkup(lines, x, y, lh, attrs) {
  return lines.map((t, i) => `<text x="${x}" y="${y + i * lh}" ${attrs}>${xmlText(t)}</text>`).join("");
}

/**
 * An image's pixels as SVG: one square `cell` px wide per pixel at (x, y), row-major, filled
 * with the colour the page painted it ([r, g, b] per pixel); `tag` names the image
 * (data-img, and data-j for a hidden neuron's weights), data-k each pixel (0-based, k =
 * row·cols + column). A grey frame around it, as on the page.
 */
export function pixelsMarkup(rgb, [rows, cols], x, y, cell, tag) {
  const out = [`<g ${tag} shape-rendering="crispEdges">`];
  for (let k = 0; k < rows * cols; k++) {
    const [r, g, b] = rgb[k];
    const px = x + (k % cols) * cell;
    const py = y + Math.floor(k / cols) * cell;
    out.push(`<rect x="${px}" y="${py}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})" data-k="${k}"/>`);
  }
  out.push(`<rect x="${x - 0.5}" y="${y - 0.5}" width="${cols * cell + 1}" height="${rows * cell + 1}" fill="none" stroke="#b8bcc4"/></g>`);
  return out.join("");
}

/**
 * The digits' views (digit_views.js DigitsPanel.figure(): what the Output panel shows now) as
 * one SVG document (text): the probe digit with its 0-1 ink ramp, (w²)ᵀδ² with its colour bar,
 * the output bars with the predicted and the true class and the accuracy line, and every
 * hidden neuron's incoming weights with their shared colour bar, each pixel in the colour the
 * page painted it. caption: a line above it all.
 */
export function digitsSVG(m, caption) {
  const [rows, cols] = m.shape;
  const img = cols * DG_CELL;
  const out = [];
  let y = PAD + 12;
  out.push(`<text x="${PAD}" y="${y}" font-size="12" font-weight="600" fill="${INK}">${xmlText(caption)}</text>`);
  const top = y + 16;
  // The probe digit and (w²)ᵀδ², each in a 120 px column: title, image, its scale.
  const colW = Math.max(120, img + 24);
  const titleAt = (x, text) => linesMarkup(wrapText(text, 22).slice(0, 3), x + colW / 2, top + 10, 13, `text-anchor="middle" font-size="10.5" fill="${INK}"`);
  const imgTop = top + 44;
  const a = PAD;
  out.push(titleAt(a, m.input.title));
  out.push(pixelsMarkup(m.input.rgb, m.shape, a + (colW - img) / 2, imgTop, DG_CELL, 'data-img="input"'));
  const rampY = imgTop + rows * DG_CELL + 8;
  out.push(`<defs><linearGradient id="dg-ink"><stop offset="0" stop-color="#ffffff"/><stop offset="1" stop-color="#000000"/></linearGradient></defs>`);
  const rx = a + (colW - img) / 2;
  out.push(`<text x="${rx}" y="${rampY + 8}" font-size="10" fill="${DIM}">0</text>`);
  out.push(`<rect x="${rx + 10}" y="${rampY}" width="${img - 20}" height="8" fill="url(#dg-ink)" stroke="#b8bcc4"/>`);
  out.push(`<text x="${rx + img}" y="${rampY + 8}" text-anchor="end" font-size="10" fill="${DIM}">1</text>`);
  const b = a + colW + 16;
  out.push(titleAt(b, m.back.title));
  out.push(pixelsMarkup(m.back.rgb, m.shape, b + (colW - img) / 2, imgTop, DG_CELL, 'data-img="back"'));
  out.push(colorbarMarkup(m.back.bar, b, imgTop + rows * DG_CELL + 4, colW, "dg-back"));
  let bottom = imgTop + rows * DG_CELL + 40;
  // The outputs: one bar per class, the predicted one in the accent colour, the true one's
  // label framed; the verdict and the accuracy under them.
  const c = b + colW + 24;
  const cw = DG_W - PAD - c;
  const o = m.output;
  out.push(`<text x="${c}" y="${top + 10}" font-size="10.5" fill="${INK}">${xmlText(o.title)}</text>`);
  const track = cw - 16 - 64;
  o.bars.forEach((bar, i) => {
    const by = top + 18 + i * 16;
    if (bar.truth) out.push(`<rect x="${c}" y="${by + 1}" width="12" height="13" rx="2" fill="none" stroke="${INK}" stroke-width="1.5"/>`);
    out.push(`<text x="${c + 6}" y="${by + 11}" text-anchor="middle" font-size="10.5" ${bar.truth ? 'font-weight="700"' : ""} fill="${INK}">${xmlText(bar.label)}</text>`);
    out.push(`<rect x="${c + 16}" y="${by + 4}" width="${track}" height="8" rx="2" fill="#eef0f3"/>`);
    const fw = Math.max(0, Math.min(1, bar.frac)) * track;
    out.push(`<rect x="${c + 16}" y="${by + 4}" width="${fw.toFixed(2)}" height="8" rx="2" fill="${bar.pred ? "#2166ac" : "#98a2b3"}" data-class="${i}"/>`);
    out.push(`<text x="${c + cw}" y="${by + 11}" text-anchor="end" font-size="10.5" ${bar.pred ? `font-weight="600" fill="${INK}"` : `fill="${DIM}"`}>${xmlText(bar.value)}</text>`);
  });
  let oy = top + 18 + o.bars.length * 16 + 12;
  out.push(`<text x="${c}" y="${oy}" font-size="10.5" ${o.right ? `fill="${INK}"` : 'font-weight="600" fill="#8a4b00"'}>${xmlText(o.verdict)}</text>`);
  const acc = wrapText(o.accuracy, Math.floor(cw / 5.6));
  out.push(linesMarkup(acc, c, oy + 15, 13, `font-size="10.5" fill="${INK}"`));
  oy += 15 + 13 * acc.length;
  bottom = Math.max(bottom, oy);
  // Every hidden neuron's weights, 10 (or 15) to a row, numbered j = 1..n, one colour bar.
  const w = m.weights;
  const n = w.images.length;
  const per = n <= 10 ? Math.max(1, n) : n <= 40 ? 10 : 15;
  const cell = per <= 10 ? 6 : 4;
  const gap = Math.floor((DG_W - 2 * PAD - per * cols * cell) / Math.max(1, per));
  const barW = 150;
  const wt = wrapText(w.title, Math.floor((DG_W - 2 * PAD - barW - 16) / 5.6));
  let wy = bottom + 18;
  out.push(linesMarkup(wt, PAD, wy, 13, `font-size="10.5" fill="${INK}"`));
  out.push(colorbarMarkup(w.bar, DG_W - PAD - barW, wy - 10, barW, "dg-w"));
  wy += Math.max(13 * wt.length, 28) + 6;
  const step = cols * cell + gap;
  const rowH = rows * cell + 16;
  w.images.forEach((rgb, j) => {
    const x = PAD + (j % per) * step + gap / 2;
    const yy = wy + Math.floor(j / per) * rowH;
    out.push(pixelsMarkup(rgb, m.shape, x, yy, cell, `data-img="w" data-j="${j}"`));
    out.push(`<text x="${x + (cols * cell) / 2}" y="${yy + rows * cell + 11}" text-anchor="middle" font-size="9" fill="${DIM}">${j + 1}</text>`);
  });
  const H = wy + Math.ceil(n / per) * rowH + PAD;
  return [`<svg xmlns="${NS}" width="${DG_W}" height="${H}" viewBox="0 0 ${DG_W} ${H}" font-family="system-ui, sans-serif">`, `<rect width="${DG_W}" height="${H}" fill="#ffffff"/>`, ...out, "</svg>"].join("");
}
