// The portal shell: session, hash router, live render status (one websocket, per-render subscriptions).

import { authCall, LiveClient, liveUrl, setCsrf, setUnauthorizedHandler } from "./api.js";
import { loadContract } from "./settings.js";
import { clear, h, toast, describeError } from "./ui.js";
import { initVocab } from "./vocab.js";
import { signinView } from "./views/signin.js";
import { uploadView } from "./views/upload.js";
import { modelsView } from "./views/models.js";
import { modelView } from "./views/model.js";
import { renderView } from "./views/render.js";
import { datasetsView } from "./views/datasets.js";
import { overlaysView } from "./views/overlays.js";
import { accountView } from "./views/account.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");

export const session = { current: null, live: null };

const RENDER_LIVE = "id modelId status updatedAt errorMessage hasWebVariant fileSize";
const WATCH = `subscription Watch($id: ID!) { renderUpdated(id: $id) { ${RENDER_LIVE} } }`;

const ROUTES = [
  [/^\/signin$/, signinView, false],
  [/^\/upload$/, uploadView, true],
  [/^\/models$/, modelsView, true],
  [/^\/models\/([^/]+)$/, modelView, true],
  [/^\/renders\/([^/]+)$/, renderView, true],
  [/^\/datasets$/, datasetsView, true],
  [/^\/overlays$/, overlaysView, true],
  [/^\/account$/, accountView, true],
];

let leaving = [];

function live() {
  if (!session.live) session.live = new LiveClient(liveUrl());
  return session.live;
}

// The context a view gets: cleanups run when the route changes.
function context() {
  const ctx = {
    session: session.current,
    onLeave: (fn) => leaving.push(fn),
    // Calls fn(render) with the render's current state, then on every change (no reload).
    watchRender(id, fn) {
      const stop = live().subscribe(WATCH, { id }, {
        next: (data) => data && data.renderUpdated && fn(data.renderUpdated),
        error: (err) => toast(describeError(err), "error"),
      });
      leaving.push(stop);
      return stop;
    },
    refresh: () => route(),
  };
  return ctx;
}

export function signedIn(data) {
  session.current = data;
  setCsrf(data.csrfToken);
  nav.hidden = false;
}

function signedOut() {
  session.current = null;
  setCsrf(null);
  nav.hidden = true;
  if (session.live) session.live.close();
  session.live = null;
}

export async function route() {
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      /* a cleanup never blocks navigation */
    }
  }
  const path = (location.hash.replace(/^#/, "") || "/models").split("?")[0];
  let view = null;
  let params = [];
  let needsSession = true;
  for (const [re, fn, auth] of ROUTES) {
    const m = path.match(re);
    if (m) {
      view = fn;
      params = m.slice(1).map(decodeURIComponent);
      needsSession = auth;
      break;
    }
  }
  if (!session.current && needsSession) {
    view = signinView;
    params = [];
  }
  if (!view) {
    clear(main, h("h1", {}, "Not found"), h("p", {}, "There is no such page. ", h("a", { href: "#/models" }, "Your models")));
    return;
  }
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#${path}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clear(main, h("p", { class: "muted" }, "Loading…"));
  try {
    await view(main, params, context());
  } catch (err) {
    clear(main, h("h1", {}, "Something went wrong"), h("div", { class: "error", role: "alert" }, describeError(err)));
  }
  main.focus({ preventScroll: true });
}

export function afterSignin() {
  const target = location.hash && !location.hash.startsWith("#/signin") ? location.hash : "#/models";
  if (location.search) history.replaceState(null, "", `/${target}`);
  if (location.hash === target) route();
  else location.hash = target;
}

async function start() {
  setUnauthorizedHandler(() => {
    if (!session.current) return;
    signedOut();
    toast("Your session has ended: please sign in again.", "error");
    route();
  });
  document.getElementById("signout").addEventListener("click", async () => {
    try {
      await authCall("POST", "/auth/signout");
    } catch (err) {
      toast(describeError(err), "error");
    }
    signedOut();
    location.hash = "#/signin";
  });
  try {
    initVocab(await loadContract());
  } catch (err) {
    toast(describeError(err), "error");
  }
  try {
    signedIn(await authCall("GET", "/auth/session"));
  } catch {
    signedOut();
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
