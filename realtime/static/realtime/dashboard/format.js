// Small formatting rules shared by the panels.

export function humanize(name) {
  return String(name).replaceAll("_", " ");
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

// A moment a change names, in the browser's language and time zone: "6 Dec 2026, 14:03".
const MOMENT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An ISO 8601 instant as the reader's date and time; anything else as it is. */
export function formatMoment(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : MOMENT.format(date);
}

/** A <time> element's attributes and text for a timestamp. */
export function timeAttributes(timestamp) {
  return { datetime: timestamp, title: new Date(timestamp).toString() };
}

// In the browser's language and time zone, the zone named: "6 Dec 2026, 14:03:12 CET".
const FULL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const UNITS = [
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];
// Past a week a date says more than "12 days ago".
const RELATIVE_LIMIT_S = 7 * 86400;

/** "just now", "3 min. ago", "2 hr. ago"; past a week the date and time. */
export function relativeTime(timestamp, now = Date.now()) {
  const seconds = Math.round((new Date(timestamp).getTime() - now) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  if (Math.abs(seconds) >= RELATIVE_LIMIT_S) return formatTime(timestamp);
  const [unit, size] = UNITS.find(([, size]) => Math.abs(seconds) >= size) || UNITS[UNITS.length - 1];
  return RELATIVE.format(Math.round(seconds / size), unit);
}

/** A <time> that reads relative ("3 min. ago"), kept current by `keepRelativeTimesCurrent`,
 * with the full local date and time as its title. */
export function relativeTimeAttributes(timestamp) {
  return { datetime: timestamp, title: FULL_TIME.format(new Date(timestamp)), dataset: { relative: "" } };
}

const TICK_MS = 30_000;
let ticking = false;

/** Every relative time on the page moves on as the clock does: "just now" becomes "1 min. ago". */
export function keepRelativeTimesCurrent() {
  if (ticking) return;
  ticking = true;
  setInterval(() => {
    for (const time of document.querySelectorAll("time[data-relative]")) {
      time.textContent = relativeTime(time.getAttribute("datetime"));
    }
  }, TICK_MS);
}

export function shortId(id) {
  return String(id).slice(0, 8);
}
