// The loading state: what the page is doing before its first frame is drawn. The markup
// (templates/index.html) starts with "Loading the plotting library…", the top bar and the
// panels inert, and the transport buttons disabled, so nothing looks ready before it is;
// main.js moves it through the phases and ends it when the first frame is on screen.

import { $, $$ } from "./util.js";

const box = () => $("#loading");

export const loading = {
  /** Say what is happening now ("Connecting to the server…"). */
  phase(text) {
    const el = box();
    if (!el) return;
    el.dataset.phase = text;
    $(".loading-text", el).textContent = text;
  },

  /** The first frame is drawn: hide the message and hand the controls over. */
  done() {
    const el = box();
    if (!el || el.hidden) return;
    el.hidden = true;
    document.body.classList.remove("booting");
    for (const part of $$("header.topbar, main.layout")) part.inert = false;
    // A control locked by the link (lock=…) stays disabled: controls.js marks it .locked.
    // (▶ is enabled by every frame's controls.renderFrame, from the run's status.)
    for (const b of $$("[data-boot-disabled]")) {
      b.removeAttribute("data-boot-disabled");
      b.disabled = !!b.closest(".locked");
    }
    performance.mark("bpv-first-draw"); // bench/bench_page.py: navigation → drawn page
  },

  /** Start-up failed (the banner says why): stop claiming progress. */
  fail(text = "The page could not start: see the message above.") {
    const el = box();
    if (!el || el.hidden) return;
    el.classList.add("failed");
    this.phase(text);
  },
};
