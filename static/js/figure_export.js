// The figures on screen as files for a report: the Plotly plots (decision boundary, loss)
// through Plotly.toImage with a title and a white background, and the network, which is an
// SVG layer over a Plotly figure (network_svg.js), as one SVG put together from what is
// drawn: the layer titles, the thumbnails, the edges and neurons, and the colour bars. PNG
// is that SVG drawn on a canvas at twice the size.

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

/** The colour bar `bar` (a .colorbar element) drawn at (x, y), w wide, as SVG markup. */
function colorbarSVG(bar, x, y, w, id) {
  const title = bar.querySelector(".cb-title")?.textContent ?? "";
  const ticks = [...bar.querySelectorAll(".cb-ticks span")].map((s) => s.textContent);
  const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i / 10}" stop-color="${colorOf(-1 + i / 5)}"/>`).join("");
  const out = [`<defs><linearGradient id="${id}">${stops}</linearGradient></defs>`];
  out.push(`<text x="${x + w / 2}" y="${y + 10}" text-anchor="middle" font-size="10.5" fill="#1d1f23">${xmlText(title)}</text>`);
  out.push(`<rect x="${x}" y="${y + 14}" width="${w}" height="9" rx="2" fill="url(#${id})"/>`);
  ticks.forEach((t, i) => {
    const tx = x + (w * i) / Math.max(1, ticks.length - 1);
    const anchor = i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
    out.push(`<text x="${tx.toFixed(1)}" y="${y + 34}" text-anchor="${anchor}" font-size="10" fill="#667085">${xmlText(t)}</text>`);
  });
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
  bars.forEach((b, i) => out.push(colorbarSVG(b, 24 + i * (bw + 24), TOP + g.H + 4, bw, `ramp${i}`)));
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
 * A figure as a Blob: source {kind: "network", net, caption()} or {kind: "plotly", div,
 * title(), legend (bool: add the curves' legend)}; format "png" or "svg".
 */
export async function figureFile(source, format) {
  if (source.kind === "network") {
    const svg = networkSVG(source.net, source.caption());
    return format === "svg" ? new Blob([svg], { type: "image/svg+xml" }) : svgToPNG(svg);
  }
  return plotlyFile(source.div, source.title(), format, !!source.legend);
}
