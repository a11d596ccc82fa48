// The JSON API client: CSRF header on state-changing calls, 401 -> the login page, SSE helper.

import { navigate } from "./router.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") search.set(k, v);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

export async function api(path, { method = "GET", body, params } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    const csrf = cookie("orch_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch("/api" + path + query(params), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  if (response.status === 401 && !path.startsWith("/login")) {
    navigate("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, "Log in first.");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = data && data.detail;
    throw new ApiError(response.status, typeof detail === "string" ? detail :
      Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ") :
      `${response.status} ${response.statusText}`);
  }
  return data;
}

// Server-sent events: `onEvents(list)` per message; returns a function that closes the stream.
export function follow(path, params, onEvents, { onEnd } = {}) {
  const source = new EventSource("/api" + path + query(params));
  source.addEventListener("events", (message) => onEvents(JSON.parse(message.data), message));
  source.addEventListener("end", () => { source.close(); if (onEnd) onEnd(); });
  return () => source.close();
}
