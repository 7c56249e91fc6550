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

/** "1 step", "12,345 steps". */
export function stepCount(n) {
  return `${n.toLocaleString("en-US")} ${n === 1 ? "step" : "steps"}`;
}

/**
 * Why a run the server no longer has may be gone, as possibilities: a 404 does not say which
 * happened (the idle evictor, a DELETE, a restart of a server that keeps runs in memory).
 * idleFor: " for 10 minutes", the server's idle timeout in words, or "" if unknown.
 */
export function goneCauses(idleFor = "") {
  return `Possible causes: the server closes runs nobody has been connected to${idleFor}, the run was deleted, or the server restarted (a restart forgets the runs it keeps in memory).`;
}

/** The banner after the stream dropped and the server, answering again, no longer had the
 * run: a new run with the same settings took its place. step: the step lost (0/none: nothing). */
export function replacedText(step, idleFor = "") {
  const lost = step ? ` Its ${stepCount(step)} of training ${step === 1 ? "is" : "are"} lost.` : "";
  return `The server no longer had your run when it answered again, so this is a new run with the same settings, starting at step 0.${lost} ${goneCauses(idleFor)}`;
}

/** The banner on loading a tab whose previous run the server no longer has. */
export function expiredText(idleFor = "") {
  return `The server no longer had this tab's previous run, so this is a new run with the settings from the link, starting at step 0. ${goneCauses(idleFor)}`;
}

/** The banner when the server says it no longer has the run on screen (the picture is kept). */
export function evictedText(step, idleFor = "") {
  const at = step ? ` It had trained for ${stepCount(step)}; that training is lost.` : "";
  return `The server no longer has this experiment.${at} The picture below is its last state; its settings are kept in this page. ${goneCauses(idleFor)}`;
}
