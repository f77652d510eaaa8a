// DOM building without innerHTML (text is always set as text: nothing the server or a user
// typed can become markup), and the API client: the token of this tab, sent as Bearer.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

const TOKEN = "p4dp.token";
export const token = () => sessionStorage.getItem(TOKEN);
export const setToken = (value) => (value ? sessionStorage.setItem(TOKEN, value) : sessionStorage.removeItem(TOKEN));

/** Call the API: `json` or `text` as the body; answers the parsed JSON (or the raw text). */
export async function api(path, { method, json, text, raw = false } = {}) {
  method = method || (json !== undefined || text !== undefined ? "POST" : "GET");
  const headers = { Authorization: `Bearer ${token()}` };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (text !== undefined) { headers["Content-Type"] = "text/plain"; body = text; }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch (exc) {
    console.error("fetch failed", path, exc);
    throw new ApiError(0, "the server cannot be reached");
  }
  const type = response.headers.get("content-type") || "";
  const payload = raw ? await response.text() : type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    const detail = payload && typeof payload === "object" && "detail" in payload ? payload.detail : payload;
    throw new ApiError(response.status, detail || response.statusText);
  }
  return payload;
}
