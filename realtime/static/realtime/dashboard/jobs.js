// Jobs: running and recent ones with their status, progress, attempts and errors, kept current
// by the job events, with Retry and Cancel for whoever may use them (the job's creator, and
// those who may change any job: approvers and staff).

import { get, post, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { formatTime, humanize, shortId, timeAttributes } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 25;
const CANCELLABLE = new Set(["pending", "running", "retry_scheduled"]);
const RETRYABLE = new Set(["failed", "cancelled"]);

const newestFirst = (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1);

function lastError(errors) {
  const latest = errors[errors.length - 1];
  return latest ? `${latest.type}: ${latest.message}` : "";
}

function fromRest(job) {
  return {
    id: job.id,
    job_type: job.job_type,
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    progress: job.progress,
    progress_message: job.progress_message,
    last_error: lastError(job.errors),
    created_by: job.created_by,
    created_at: job.created_at,
    cancel_requested_at: job.cancel_requested_at,
    eventId: 0,
  };
}

function fromCreated(frame) {
  const { job, actor } = frame.data;
  return {
    ...job,
    progress_message: "",
    created_by: actor.id === null ? null : { id: actor.id, username: actor.name },
    created_at: frame.timestamp,
    cancel_requested_at: null,
    eventId: frame.id,
  };
}

/** A job after one of its durable events: the event carries the job's key fields as they are. */
function afterEvent(job, frame) {
  const { job: summary, changes } = frame.data;
  const cancelRequested = changes && changes.cancel_requested_at;
  return {
    ...job,
    status: summary.status,
    attempts: summary.attempts,
    max_attempts: summary.max_attempts,
    progress: summary.progress,
    last_error: summary.last_error,
    cancel_requested_at: cancelRequested ? cancelRequested[1] : stillCancelling(job, frame),
    eventId: frame.id,
  };
}

/** A request to cancel holds while the attempt it was made in runs; retrying clears it. */
function stillCancelling(job, frame) {
  const running = frame.data.job.status === "running" && frame.data.action !== "start";
  return running ? job.cancel_requested_at : null;
}

function cancelling(job) {
  return Boolean(job.status === "running" && job.cancel_requested_at);
}

function afterProgress(job, data) {
  return { ...job, progress: data.progress, progress_message: data.message };
}

export class JobsPanel extends LivePanel {
  constructor(me) {
    super();
    this.me = me;
    this.filter = byId("job-status");
    this.message = byId("jobs-message");
    // Jobs outside the loaded pages, fetched to see where they go, and the events that arrive
    // for them meanwhile; and those found to belong further down than anything loaded.
    this.fetching = new Map();
    this.outside = new Set();
    this.rows = new WindowedList({
      list: byId("job-list"),
      key: (job) => job.id,
      compare: newestFirst,
      renderRow: (job, row) => this.renderRow(job, row),
      // `created_before` includes its bound: the last row comes again, one more fills the page.
      fetchOlder: (last) => this.fetchPage({ created_before: last.created_at, page_size: PAGE_SIZE + 1 }),
      onError: (error) => showMessage(this.message, `Could not load more jobs: ${error.message}`),
      noun: "jobs",
      step: PAGE_SIZE,
    });
    this.filter.addEventListener("change", () => this.reload());
  }

  statuses() {
    return this.filter.value ? this.filter.value.split(",") : null;
  }

  async fetchPage(params) {
    const page = await get(withQuery("/api/v1/jobs/", { status: this.filter.value, page_size: PAGE_SIZE, ...params }));
    return { items: page.results.map(fromRest), complete: !page.next };
  }

  load() {
    this.outside.clear();
    return this.fetchPage({});
  }

  show({ items, complete }) {
    this.rows.reset(items, complete);
    showMessage(this.message, "");
  }

  failed(error) {
    showMessage(this.message, `Could not load the jobs: ${error.message}`);
  }

  apply(frame) {
    if (frame.event === "job_progress") {
      this.#update(frame.data.job_id, frame, (job) => afterProgress(job, frame.data));
    } else if (frame.id !== null && frame.data.resource_type === "job") {
      const summary = frame.data.job;
      if (frame.data.action === "create" && !this.rows.get(summary.id)) this.#place(fromCreated(frame));
      else this.#update(summary.id, frame, (job) => afterEvent(job, frame));
    }
  }

  #update(id, frame, change) {
    const known = this.rows.get(id);
    if (known) {
      this.#place(change(known));
      return;
    }
    const status = frame.event === "job_progress" ? "running" : frame.data.job.status;
    const statuses = this.statuses();
    if (!statuses || statuses.includes(status)) this.#fetchUnknown(id, frame);
  }

  #place(job) {
    const statuses = this.statuses();
    if (statuses && !statuses.includes(job.status)) this.rows.remove(job.id);
    else this.rows.upsert(job);
  }

  /** A job the list does not hold (older, or not matching the filter before): fetch it, then
   * replay the events that came meanwhile, so it ends as current as they are. */
  async #fetchUnknown(id, frame) {
    if (this.outside.has(id)) return;
    if (this.fetching.has(id)) {
      this.fetching.get(id).push(frame);
      return;
    }
    this.fetching.set(id, []);
    try {
      const job = fromRest(await get(`/api/v1/jobs/${id}/`));
      if (!this.rows.covers(job)) {
        this.outside.add(id);
        return;
      }
      this.#place(job);
      for (const later of this.fetching.get(id)) this.apply(later);
      this.render();
    } catch (error) {
      showMessage(this.message, `Could not load job ${shortId(id)}: ${error.message}`);
    } finally {
      this.fetching.delete(id);
    }
  }

  async #act(job, action) {
    if (action === "cancel" && cancelling(job)) return;
    const before = this.rows.get(job.id);
    try {
      const updated = fromRest(await post(`/api/v1/jobs/${job.id}/${action}/`));
      // Events that arrived meanwhile are newer than the answer; keep them.
      const current = this.rows.get(job.id);
      if (!current || current.eventId === before.eventId) this.#place({ ...updated, eventId: before.eventId });
      showMessage(this.message, "");
      this.render();
    } catch (error) {
      showMessage(this.message, `Could not ${action} ${job.job_type} ${shortId(job.id)}: ${error.message}`);
    }
  }

  #mayChange(job) {
    return this.me.may("jobs.change_job") || (job.created_by !== null && job.created_by.id === this.me.id);
  }

  renderRow(job, row) {
    const parts = row ? row.parts : this.#buildRow(job);
    row = row || parts.row;
    const name = `${job.job_type} ${shortId(job.id)}`;
    // The stored message lags the live one; it only means something while the job runs.
    const message = job.status === "running" ? job.progress_message : "";
    row.dataset.status = job.status;
    parts.status.className = `badge status-${job.status}`;
    parts.status.textContent = humanize(job.status);
    parts.progress.setAttribute("aria-valuenow", job.progress);
    parts.progress.setAttribute("aria-valuetext", message ? `${job.progress}%, ${message}` : `${job.progress}%`);
    parts.bar.style.width = `${job.progress}%`;
    parts.meta.textContent = [
      `${job.progress}%`,
      message,
      `attempt ${job.attempts} of ${job.max_attempts}`,
      job.created_by && `by ${job.created_by.username}`,
    ].filter(Boolean).join(" · ");
    parts.error.textContent = job.last_error;
    parts.error.hidden = !job.last_error;
    const mayChange = this.#mayChange(job);
    const stopping = cancelling(job);
    const focused = [parts.cancel, parts.retry].find((button) => button === document.activeElement);
    parts.cancel.hidden = !mayChange || !CANCELLABLE.has(job.status);
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
    parts.cancel.setAttribute("aria-disabled", String(stopping));
    parts.cancel.textContent = stopping ? "Cancelling…" : "Cancel";
    parts.cancel.setAttribute("aria-label", `${stopping ? "Cancelling" : "Cancel"} ${name}`);
    parts.retry.hidden = !mayChange || !RETRYABLE.has(job.status);
    parts.retry.setAttribute("aria-label", `Retry ${name}`);
    // The pressed button gone, focus moves to the one that took its place rather than to nowhere.
    if (focused && focused.hidden) [parts.retry, parts.cancel].find((button) => !button.hidden)?.focus();
    return row;
  }

  #buildRow(job) {
    const current = () => this.rows.get(job.id) || job;
    const parts = {
      status: h("span"),
      bar: h("span", { class: "bar" }),
      meta: h("p", { class: "meta" }),
      error: h("p", { class: "error" }),
      cancel: h("button", { type: "button", onclick: () => this.#act(current(), "cancel") }, "Cancel"),
      retry: h("button", { type: "button", onclick: () => this.#act(current(), "retry") }, "Retry"),
    };
    parts.progress = h(
      "span",
      { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": `Progress of ${job.job_type} ${shortId(job.id)}` },
      parts.bar,
    );
    parts.row = h(
      "li",
      { class: "job", dataset: { id: job.id } },
      h(
        "p",
        { class: "head" },
        h("strong", { class: "job-type" }, job.job_type),
        " ",
        h("span", { class: "id" }, shortId(job.id)),
        " ",
        parts.status,
        " ",
        h("time", timeAttributes(job.created_at), formatTime(job.created_at)),
      ),
      parts.progress,
      parts.meta,
      parts.error,
      h("p", { class: "actions" }, parts.cancel, " ", parts.retry),
    );
    parts.row.parts = parts;
    return parts;
  }

  render() {
    this.rows.render();
  }
}
