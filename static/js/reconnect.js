// After a dropped stream (a worker died, the server is restarting): when to try again and
// what the learner reads meanwhile. Pure: session.js does the waiting and the asking.
//
// The waits grow exponentially and are jittered, so that a class whose streams all dropped
// at the same moment does not come back in lockstep: each attempt waits a uniform draw in
// [0.5, 1.5) times its base (1 s, 2 s, 4 s, then 8 s): 200 pages spread their first attempt
// over a whole second, about 10 in any 50 ms.

export const FIRST_S = 1; // base of the first attempt: back within 1.5 s when the server is
export const CAP_S = 8; // the largest base: a waiting page asks at least every 12 s
export const QUIET_ATTEMPTS = 3; // the first attempts (about 7 s) just say "Reconnecting…"

/** Seconds to wait before reconnect attempt `attempt` (1, 2, …); random() in [0, 1). */
export function reconnectDelay(attempt, random = Math.random) {
  const base = Math.min(CAP_S, FIRST_S * 2 ** Math.max(0, attempt - 1));
  return base * (0.5 + random());
}

/**
 * The banner while reconnecting: {level, text}. A short drop is not an error: "Reconnecting…"
 * (info). If the server stays away, say so and when the page tries again (warn).
 * attempt: 1, 2, …; wait: seconds until it; since: seconds since the stream dropped.
 */
export function reconnectStatus(attempt, wait, since) {
  if (attempt <= QUIET_ATTEMPTS) return { level: "info", text: "Reconnecting to the server…" };
  const away = since >= 90 ? `${Math.round(since / 60)} minutes` : `${Math.round(since)} s`;
  return {
    level: "warn",
    text: `Reconnecting to the server… It has not answered for ${away}; trying again in ${Math.max(1, Math.round(wait))} s. Your run's settings are kept in this page.`,
  };
}

/** The banner after the server answered that it no longer has the run (a restart of a server
 * that keeps runs in memory): a new run with the same settings took its place. */
export function replacedText(step) {
  const lost = step ? ` Its ${step.toLocaleString("en-US")} steps of training are lost.` : "";
  return `The server restarted and no longer had your run, so this is a new run with the same settings, starting at step 0.${lost}`;
}
