// The portal's only data channel: /graphql (fetch, XHR multipart uploads, graphql-transport-ws),
// authenticated by the session cookie plus the X-DXGL-CSRF header; and /auth/* for the session.

import { decode } from "./vocab.js";

const CSRF_HEADER = "X-DXGL-CSRF";
let csrfToken = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(code, message, status, data) {
    super(message || code || "Request failed");
    this.code = code || "error";
    this.status = status;
    this.data = data;
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

export function csrf() {
  return csrfToken;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function fromGraphQL(body, httpStatus) {
  const first = body && Array.isArray(body.errors) ? body.errors[0] : null;
  if (!first) return null;
  const ext = first.extensions || {};
  return new ApiError(ext.code || "error", first.message, ext.status || httpStatus, body.data);
}

async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError("invalid_response", `The server answered ${response.status} with something that is not JSON`, response.status);
  }
}

function checkAuth(err) {
  if (err && (err.code === "unauthorized" || err.code === "token_expired")) onUnauthorized(err);
  return err;
}

// One query or mutation. Resolves `data`; rejects with ApiError (the first error, its code).
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", [CSRF_HEADER]: csrfToken || "" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new ApiError("network_error", `The service could not be reached: ${err.message}`);
  }
  const body = await readJson(response);
  const err = fromGraphQL(body, response.status);
  if (err) throw checkAuth(err);
  if (!response.ok) throw checkAuth(new ApiError("http_" + response.status, `HTTP ${response.status}`, response.status));
  return decode(body.data);
}

// A multipart upload (GraphQL multipart request spec) with progress: `files` maps a variable path
// ("variables.file") to a File. Returns {promise, abort}.
export function gqlUpload(query, variables, files, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    const map = {};
    const entries = Object.entries(files);
    entries.forEach(([path], i) => {
      map[String(i)] = [path];
    });
    form.append("operations", JSON.stringify({ query, variables }));
    form.append("map", JSON.stringify(map));
    entries.forEach(([, file], i) => form.append(String(i), file, file.name));
    xhr.open("POST", "/graphql");
    xhr.withCredentials = true;
    xhr.setRequestHeader(CSRF_HEADER, csrfToken || "");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total);
    };
    xhr.upload.onload = () => onProgress && onProgress(1, 1);
    xhr.onerror = () => reject(new ApiError("network_error", "The upload failed: the service could not be reached"));
    xhr.onabort = () => reject(new ApiError("aborted", "The upload was cancelled"));
    xhr.onload = () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        reject(new ApiError("invalid_response", `The server answered ${xhr.status} with something that is not JSON`, xhr.status));
        return;
      }
      const err = fromGraphQL(body, xhr.status);
      if (err) reject(checkAuth(err));
      else if (xhr.status >= 400) reject(new ApiError("http_" + xhr.status, `HTTP ${xhr.status}`, xhr.status));
      else resolve(decode(body.data));
    };
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

// /auth/*: JSON in, {"data": ...} or {"error": {code, message}} out.
export async function authCall(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrfToken) headers[CSRF_HEADER] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError("network_error", `The service could not be reached: ${err.message}`);
  }
  if (response.status === 204) return null;
  const data = await readJson(response).catch(() => null);
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(e.code || "http_" + response.status, e.message || `HTTP ${response.status}`, response.status);
  }
  return data ? data.data : null;
}

// --- graphql-transport-ws: a small client (connection_init/ack, subscribe/next/error/complete, ping/pong)

export class LiveClient {
  constructor(url) {
    this.url = url;
    this.ws = null;
    this.acked = false;
    this.nextId = 1;
    this.subs = new Map(); // id -> {payload, sink}
    this.retry = 0;
    this.closedByUs = false;
  }

  connect() {
    if (this.ws && this.ws.readyState <= 1) return;
    this.closedByUs = false;
    const ws = new WebSocket(this.url, "graphql-transport-ws");
    this.ws = ws;
    this.acked = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: { csrfToken } }));
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = () => {
      this.ws = null;
      this.acked = false;
      if (this.closedByUs || this.subs.size === 0) return;
      const delay = Math.min(10000, 500 * 2 ** this.retry);
      this.retry += 1;
      setTimeout(() => this.subs.size && this.connect(), delay);
    };
  }

  onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (msg.type === "connection_ack") {
      this.acked = true;
      this.retry = 0;
      for (const [id, sub] of this.subs) this.send({ id, type: "subscribe", payload: sub.payload });
    } else if (msg.type === "ping") {
      this.send({ type: "pong" });
    } else if (msg.type === "next") {
      const sub = this.subs.get(msg.id);
      if (!sub) return;
      const err = fromGraphQL(msg.payload, 200);
      if (err) sub.sink.error && sub.sink.error(checkAuth(err));
      else sub.sink.next(decode(msg.payload.data));
    } else if (msg.type === "error") {
      const sub = this.subs.get(msg.id);
      const first = (Array.isArray(msg.payload) && msg.payload[0]) || {};
      if (sub && sub.sink.error) sub.sink.error(new ApiError((first.extensions || {}).code || "error", first.message));
    } else if (msg.type === "complete") {
      const sub = this.subs.get(msg.id);
      this.subs.delete(msg.id);
      if (sub && sub.sink.complete) sub.sink.complete();
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  // Returns a function that ends the subscription.
  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    const payload = { query, variables };
    this.subs.set(id, { payload, sink });
    if (this.acked) this.send({ id, type: "subscribe", payload });
    else this.connect();
    return () => {
      if (this.subs.delete(id)) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.closedByUs = true;
    this.subs.clear();
    if (this.ws) this.ws.close(1000);
  }
}

export function liveUrl() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`;
}

// --- asset URLs (cookie-authenticated GETs)

export const assets = {
  video: (id) => `/v1/renders/${encodeURIComponent(id)}/video`,
  web: (id) => `/v1/renders/${encodeURIComponent(id)}/video?quality=web`,
  poster: (id, full = false) => `/v1/renders/${encodeURIComponent(id)}/poster${full ? "?quality=full" : ""}`,
  thumb: (id) => `/v1/renders/${encodeURIComponent(id)}/thumb`,
  bundle: (id) => `/v1/renders/${encodeURIComponent(id)}/bundle`,
  modelFile: (id) => `/v1/models/${encodeURIComponent(id)}/file`,
  viewGlb: (id) => `/v1/models/${encodeURIComponent(id)}/view.glb`,
};
