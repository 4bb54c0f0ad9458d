// Number formatting shared by the agent-routing pages (no dependencies).

export function money(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const abs = Math.abs(value);
  if (abs === 0) return "$0.00";
  if (abs < 0.01) return `$${value.toFixed(4)}`;
  if (abs < 100) return `$${value.toFixed(2)}`;
  return `$${Math.round(value).toLocaleString("en-US")}`;
}

export function percent(fraction, digits = 0) {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return "—";
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function count(value) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString("en-US");
}

export function perMtok(value) {
  return value === null || value === undefined ? "?" : `$${Number(value).toFixed(2)}`;
}

export function tokens(value) {
  if (value === null || value === undefined) return "?";
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(value % 1_000_000 ? 1 : 0)}M`;
  if (value >= 1000) return `${Math.round(value / 1000)}k`;
  return String(value);
}

// green below 50 % used, amber below 80 %, red above
export function level(fraction) {
  if (fraction === null || fraction === undefined) return "none";
  if (fraction >= 0.8) return "high";
  if (fraction >= 0.5) return "mid";
  return "low";
}

export function localTime(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// the API's 400 body -> "field: message" lines
export function problemsOf(error) {
  const text = String(error?.message ?? error ?? "");
  try {
    const body = JSON.parse(text);
    if (Array.isArray(body.problems) && body.problems.length) {
      return body.problems.map((p) => `${p.field}: ${p.message}`);
    }
    if (body.error) return [body.error];
  } catch (_e) {
    // not JSON: fall through
  }
  return [text || "request failed"];
}
