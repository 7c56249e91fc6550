// The page's entry point: make the App (app.js), expose its test hook, start it.
//
// Where things go on the page
// ---------------------------
// - State lives in one Store (state.js). Read it anywhere (store.frame, store.settings,
//   store.selection, …); change it only with store.update(patch, meta). A new state field
//   goes in STATE in state.js, with a comment saying what it holds; settings that belong in
//   the link are the server's grammar (app/api/presets.py), not a page list.
// - A new view is a module with a class that draws from (frame, store) and never writes into
//   another view. Make it in App's constructor (app.js) and subscribe it in App.subscribe()
//   with this.view(name, [the store fields it draws from], draw). What it lets the learner do
//   comes back as a callback the App turns into a store.update or an action (actions.js).
// - A new guide (like walkthrough.js, stepthrough.js) renders its own panel and returns what
//   the network view should show, {highlight, selection}; it never writes the store. Add it
//   to App.guides and give it a button that calls app.setMode(its name).
// - A new thing the learner does to the run is an action in actions.js (store.update, then a
//   message to the server); network calls go through api.js and session.js only.
// - Names of activations, costs and regularisers come from GET /api/options (quantities.js
//   learnChoices): the page keeps no list of them (tests/test_one_registry.py checks).

import { App } from "./app.js";
import { loading } from "./loading.js";

const app = new App();
window.__bpv = app.hook;
app.boot().finally(() => app.store.run || loading.fail());
