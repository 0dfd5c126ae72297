// Small formatting rules shared by the panels.

const MAX_VALUE_LENGTH = 60;

export function humanize(name) {
  return String(name).replaceAll("_", " ");
}

export function formatValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

export function formatBytes(size) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(timestamp) {
  const date = new Date(timestamp);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString() : date.toLocaleString();
}

/** A <time> element's attributes and text for a timestamp. */
export function timeAttributes(timestamp) {
  return { datetime: timestamp, title: new Date(timestamp).toString() };
}

export function shortId(id) {
  return String(id).slice(0, 8);
}
