// Activity entries, whether they come from GET /api/v1/activities/ or as live events, in one
// shape, and the words that describe them: the same row whichever way it arrived. The service
// words each row (`verb`, `field_changes`: user names, labels, values); the page only lays
// them out, but for moments, which it shows in the reader's time zone.

import { formatBytes, formatMoment, shortId } from "./format.js";

export function entryFromRow(row) {
  return {
    id: row.id,
    timestamp: row.timestamp,
    actor: row.actor_label || (row.actor && row.actor.username) || null,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    episodeId: row.episode_id,
    summary: (row.metadata && row.metadata.summary) || {},
    verb: row.verb,
    fieldChanges: row.field_changes || [],
  };
}

export function entryFromEvent(frame) {
  const data = frame.data;
  return {
    id: frame.id,
    timestamp: frame.timestamp,
    actor: (data.actor && data.actor.name) || null,
    action: data.action,
    resourceType: data.resource_type,
    resourceId: data.resource_id,
    episodeId: episodeIdOf(frame),
    summary: data[data.resource_type] || {},
    verb: data.verb,
    fieldChanges: data.field_changes || [],
  };
}

/** The episode a live event belongs to, if any. */
export function episodeIdOf(frame) {
  const data = frame.data || {};
  if (data.resource_type === "episode") return data.resource_id;
  const summary = data[data.resource_type] || {};
  return summary.episode_id || null;
}

/** What the entry is about, in a few words: "Pilot", "rushes.mp4", "diagnostic". */
export function resourceLabel(entry) {
  const summary = entry.summary;
  const name = summary.title || summary.original_name || summary.name || summary.job_type;
  if (name) return String(name);
  // Ids of workers are names already; a UUID is cut to what tells rows apart.
  return entry.resourceId.length > 12 ? shortId(entry.resourceId) : entry.resourceId;
}

const DESCRIBERS = {
  episode: (s) => [s.season_number && `S${s.season_number}`, s.episode_number && `E${s.episode_number}`, s.status].filter(Boolean).join(" · "),
  file: (s) => [s.kind, s.size !== undefined && formatBytes(s.size)].filter(Boolean).join(" · "),
  composition: (s) => [s.layout, s.version && `version ${s.version}`, s.status].filter(Boolean).join(" · "),
  job: (s) => [s.status, s.max_attempts && `attempt ${s.attempts} of ${s.max_attempts}`, s.last_error].filter(Boolean).join(" · "),
  job_processor: (s) => [s.hostname, s.concurrency && `${s.concurrency} workers`, s.queues && `queues ${s.queues.join(", ")}`].filter(Boolean).join(" · "),
};

const MAX_VALUE_LENGTH = 60;
const clip = (text) => (text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text);

/** A change (before and after) rather than a whole record (a create's or a delete's). */
const isDiff = (entry) => entry.fieldChanges.length > 0 && entry.fieldChanges.every((c) => c.before !== null && c.after !== null);

const EMPTY = "—";

/** A changed value as it reads: a moment (an ISO 8601 instant) in the reader's time zone. */
function changeValue(change, value) {
  return change.kind === "datetime" && value !== EMPTY ? formatMoment(value) : value;
}

/** A readable line: the changed fields ("category: drama → drama, coastal"), else the
 * resource's key facts. */
export function entryDetail(entry) {
  if (isDiff(entry)) {
    const values = (c) => [c.before, c.after].map((value) => clip(changeValue(c, value)));
    return entry.fieldChanges.map((c) => `${c.label}: ${values(c).join(" → ")}`).join("; ");
  }
  const describe = DESCRIBERS[entry.resourceType];
  return describe ? describe(entry.summary) : "";
}

/** Where the entry's resource is shown: an episode's panel (its files and compositions are
 * there too), a job's own record. */
export function resourceHref(entry) {
  if (entry.resourceType === "episode") return `#episode/${entry.resourceId}`;
  if (["file", "composition"].includes(entry.resourceType) && entry.episodeId) return `#episode/${entry.episodeId}`;
  if (entry.resourceType === "job") return `/api/v1/jobs/${entry.resourceId}/`;
  return null;
}
