// The service's REST API with the browser session: JSON both ways, the CSRF token on writes,
// If-Match on writes to a versioned resource (a 412 says someone else changed it first), and
// a signed-out session sent back to the login page.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function errorMessage(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && typeof body === "object") {
    return Object.entries(body).map(([field, problems]) => `${field}: ${[problems].flat().join(" ")}`).join("; ");
  }
  return `The server answered ${status}.`;
}

/** The ETag of a resource at `version`, to send back as If-Match. */
export const etag = (version) => `"${version}"`;

/** `form` (a FormData) goes as multipart, which the browser frames itself; `body` as JSON. */
export async function request(url, { method = "GET", body, ifMatch, form } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = ifMatch;
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  if (response.status === 401) {
    window.location.assign(document.body.dataset.loginUrl);
    throw new ApiError(401, "Signed out.");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, data), data);
  return data;
}

export const get = (url) => request(url);
export const post = (url, body, ifMatch) => request(url, { method: "POST", body, ifMatch });
export const patch = (url, body, ifMatch) => request(url, { method: "PATCH", body, ifMatch });
export const upload = (url, form) => request(url, { method: "POST", form });
export const remove = (url, ifMatch) => request(url, { method: "DELETE", ifMatch });

/** `path` with the non-empty `params` as its query string. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Reads a paginated list page by page, following each answer's `next` link. */
export function pages(firstUrl, convert = (item) => item) {
  let next = firstUrl;
  return async () => {
    const page = await get(next);
    next = page.next;
    return { items: page.results.map(convert), complete: !page.next };
  };
}
