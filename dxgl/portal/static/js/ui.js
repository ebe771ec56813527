// Small DOM helpers. Text is always set as text (never innerHTML): nothing from the API is markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") el[key] = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled form field: label + control (+ hint). Returns the wrapper; the control is `.control`.
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const hintEl = hint ? h("small", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  const wrap = h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
  wrap.control = control;
  return wrap;
}

export function describeError(err) {
  if (err && err.code) return `${err.message} (${err.code})`;
  return err && err.message ? err.message : String(err);
}

// An error box: role=alert, the message with its code.
export function errorBox(err) {
  return h("div", { class: "error", role: "alert", dataset: { code: (err && err.code) || "" } }, describeError(err));
}

export function showError(container, err) {
  container.replaceChildren(errorBox(err));
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast ${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), 6000);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function formatDate(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, dataset: { status } }, status);
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

// Runs `action` with the button disabled; an error goes to `errors` (a container) and is rethrown never.
export async function busy(btn, errors, action) {
  btn.disabled = true;
  if (errors) errors.replaceChildren();
  try {
    return await action();
  } catch (err) {
    if (errors) showError(errors, err);
    else toast(describeError(err), "error");
    return undefined;
  } finally {
    btn.disabled = false;
  }
}

export function pager(total, limit, offset, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    button("← Previous", () => go(Math.max(0, offset - limit)), { disabled: page <= 1 }),
    h("span", {}, `Page ${page} of ${pages} (${total})`),
    button("Next →", () => go(offset + limit), { disabled: page >= pages }),
  );
}

export const FINISHED = new Set(["done", "error", "failed"]);
