// callJsonApi / fetchApi (test stand-in): JSON POST to /api/<endpoint> with the CSRF header.
export const CSRF_TOKEN = "test-csrf-token";

function apiUrl(endpoint) {
  const path = endpoint.startsWith("/") ? endpoint : `/${endpoint}`;
  return path.startsWith("/api/") ? path : `/api${path}`;
}

export async function fetchApi(url, request = {}) {
  request.headers = { ...(request.headers || {}), "X-CSRF-Token": CSRF_TOKEN };
  return fetch(apiUrl(url), request);
}

export async function callJsonApi(endpoint, data) {
  const response = await fetchApi(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

globalThis.fetchApi = fetchApi;
globalThis.callJsonApi = callJsonApi;
