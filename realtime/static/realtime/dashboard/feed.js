// The activity feed: GET /api/v1/activities/ with its filters and cursor pages, and every live
// event that matches the filters put on top. Downloads outnumber every change and say little:
// left out unless asked for.

import { pages, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { entryDetail, entryFromEvent, entryFromRow, resourceHref, resourceLabel } from "./entries.js";
import { humanize, keepRelativeTimesCurrent, relativeTime, relativeTimeAttributes } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 50;

export function entryRow(entry) {
  const detail = entryDetail(entry);
  const href = resourceHref(entry);
  const resource = h("strong", { class: "resource" }, resourceLabel(entry));
  return h(
    "li",
    { class: "entry", dataset: { id: entry.id, action: entry.action } },
    h("time", relativeTimeAttributes(entry.timestamp), relativeTime(entry.timestamp)),
    h(
      "p",
      { class: "what" },
      h("span", { class: "actor" }, entry.actor || "system"),
      " ",
      h("span", { class: `badge action action-${entry.action}` }, entry.verb || entry.action),
      " ",
      h("span", { class: "type" }, humanize(entry.resourceType)),
      " ",
      href ? h("a", { class: "resource-link", href }, resource) : resource,
    ),
    detail && h("p", { class: "detail" }, detail),
  );
}

export class ActivityFeed extends LivePanel {
  constructor() {
    super();
    this.resource = byId("activity-resource");
    this.action = byId("activity-action");
    this.downloads = byId("activity-downloads");
    this.message = byId("activity-message");
    this.nextPage = null;
    this.rows = new WindowedList({
      list: byId("activity-list"),
      key: (entry) => entry.id,
      compare: (a, b) => b.id - a.id,
      renderRow: entryRow,
      fetchOlder: () => this.nextPage(),
      onError: (error) => showMessage(this.message, `Could not load more activity: ${error.message}`),
      noun: "activity",
      step: PAGE_SIZE,
    });
    for (const control of [this.resource, this.action, this.downloads]) {
      control.addEventListener("change", () => this.reload());
    }
    keepRelativeTimesCurrent();
  }

  filters() {
    const action = this.action.value;
    const hideDownloads = !this.downloads.checked && action !== "download";
    return { resource_type: this.resource.value, action, exclude_action: hideDownloads ? "download" : "" };
  }

  load() {
    this.nextPage = pages(withQuery("/api/v1/activities/", { ...this.filters(), page_size: PAGE_SIZE }), entryFromRow);
    return this.nextPage();
  }

  show({ items, complete }) {
    this.rows.reset(items, complete);
    showMessage(this.message, "");
  }

  failed(error) {
    showMessage(this.message, `Could not load the activity: ${error.message}`);
  }

  apply(frame) {
    if (frame.id === null || !frame.data.resource_type) return;
    const entry = entryFromEvent(frame);
    const { resource_type: type, action, exclude_action: excluded } = this.filters();
    if ((type && entry.resourceType !== type) || (action && entry.action !== action)) return;
    if (excluded && entry.action === excluded) return;
    this.rows.upsert(entry);
  }

  render() {
    this.rows.render();
  }
}
