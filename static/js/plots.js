// Plotly.js off the first picture's path. Starting it costs ~1.1-1.9 s of main thread on a
// classroom laptop (its 4.8 MB are parsed and run), more than the whole rest of the page, so
// the page draws its first frame without it: every figure goes through plot(), which draws a
// canvas stand-in of the same figure (standin.js) until Plotly.js is there, then Plotly.
// main.js asks loadPlotly() for it once the first frame is on screen, not before: its 1.1 MB
// (brotli) would compete with the first frame for a slow network, and its parse for the CPU.

import { drawStandIn, removeStandIn, standInOf } from "./standin.js";

const SRC = "/vendor/plotly.min.js"; // served from the plotly Python package (app/web.py)
let loading = null;
const drawing = new Set(); // Plotly.react promises not yet settled

/** Is Plotly.js loaded and running? */
export const plotlyLoaded = () => typeof window.Plotly !== "undefined";

/** Load and run Plotly.js (once). Resolves when window.Plotly is usable. */
export function loadPlotly() {
  loading ??= new Promise((resolve, reject) => {
    if (plotlyLoaded()) return resolve(window.Plotly);
    const s = document.createElement("script");
    s.src = SRC;
    s.async = true;
    s.onload = () => (plotlyLoaded() ? resolve(window.Plotly) : reject(new Error(`${SRC} ran but defined no Plotly`)));
    s.onerror = () => {
      loading = null; // a later call may try again
      s.remove();
      reject(new Error(`${SRC} could not be loaded`));
    };
    document.head.append(s);
  });
  return loading;
}

/**
 * Draw the figure in div: with Plotly.react when Plotly.js is loaded (returns true), else as
 * a canvas stand-in (returns false: no Plotly events on div yet). A stand-in is removed once
 * Plotly has drawn under it, a frame later, so the plot never shows empty.
 */
export function plot(div, traces, layout, config) {
  if (!plotlyLoaded()) {
    drawStandIn(div, traces, layout);
    return false;
  }
  const p = Promise.resolve(window.Plotly.react(div, traces, layout, config));
  drawing.add(p);
  const settle = () => {
    drawing.delete(p);
    if (standInOf(div)) afterPaint().then(() => removeStandIn(div));
  };
  p.then(settle, settle);
  return true;
}

/** Resolves when every Plotly draw started so far has finished and been painted. */
export async function plotsDrawn() {
  while (drawing.size) await Promise.allSettled([...drawing]);
  await afterPaint();
}

/** Two animation frames: what was drawn before has been painted. */
function afterPaint() {
  return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}
