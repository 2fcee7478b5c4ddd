// api: the status page's client of callpipe's JSON API (/api/, Bearer
// token; the routes and shapes are issue 6's contract). The token is kept in
// sessionStorage ("callpipe.token"): entered once per tab, gone when the tab
// closes or on sign-out.

const TOKEN_KEY = "callpipe.token";

/** An answer that is not {"success": true, ...}: status is the HTTP status
 * (0 when the server could not be reached), message the API's "error". */
export class ApiError extends Error {
  constructor(status, message, retryAfterS) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

/** The stored token, or null. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch (e) {
    return null;
  }
}

/** Stores the token for this tab. */
export function setToken(tok) {
  sessionStorage.setItem(TOKEN_KEY, tok);
}

/** Forgets the token (sign-out, or the server refused it). */
export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    // nothing stored
  }
}

/** One API request. method "GET"/"POST", path from "/api/", body an
 * object sent as JSON (or undefined), tok the token (default: the stored
 * one). Returns the parsed answer when it says success; throws ApiError
 * otherwise (401 included: the caller signs out). */
export async function request(method, path, body, tok) {
  const headers = { Accept: "application/json" };
  const t = tok ?? token();
  if (t) headers.Authorization = "Bearer " + t;
  const opts = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, String(e && e.message ? e.message : e));
  }
  let j = null;
  try {
    j = await r.json();
  } catch (e) {
    j = null;
  }
  if (!r.ok || !j || j.success !== true) {
    const ra = Number(r.headers.get("Retry-After"));
    throw new ApiError(r.status, (j && j.error) || "HTTP " + r.status, isFinite(ra) ? ra : undefined);
  }
  return j;
}

/** GET /api/calls with params {phone, state, stage, since, limit, cursor}
 * (empty ones left out; URLSearchParams sends "+" as %2B). Returns
 * {calls, next_cursor}. */
export function listCalls(params, tok) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return request("GET", "/api/calls" + (s ? "?" + s : ""), undefined, tok);
}

/** GET /api/calls/<sid>: {call} with transcript, summary and jobs. */
export function getCall(sid) {
  return request("GET", "/api/calls/" + encodeURIComponent(sid));
}

/** POST /api/calls/<sid>/retry {"stage"}: 202 {call} with the stage reset. */
export function retryStage(sid, stage) {
  return request("POST", "/api/calls/" + encodeURIComponent(sid) + "/retry", { stage });
}

/** POST /api/calls/<sid>/download-url: {url (relative, signed), expires_at}. */
export function downloadUrl(sid, format) {
  return request("POST", "/api/calls/" + encodeURIComponent(sid) + "/download-url", {
    format: format || "wav",
  });
}
