// Episodes: how many there are in each status (which doubles as the status filter) and the
// list, newest first, kept current by the episode events. The filters are the page's query
// string, named as the API names them, so a filtered view can be shared and survives a reload.

import { get, post, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { humanize } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { throttle } from "./throttle.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 20;
const REFRESH_MS = 1000;
// The list's filters besides the status, as the API and the query string name them.
const FILTERS = ["search", "season_number", "category", "air_date_after", "air_date_before"];

function filtersFromUrl() {
  const query = new URLSearchParams(window.location.search);
  return Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
}

/** The filters as the query string, leaving the route (`#episode/<id>`) as it is. */
function keepInUrl(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const search = query.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${search ? `?${search}` : ""}${window.location.hash}`);
}

const newestFirst = (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1);

export function numbering(episode) {
  return [episode.season_number && `S${episode.season_number}`, episode.episode_number && `E${episode.episode_number}`]
    .filter(Boolean)
    .join(" ");
}

/** Drawn once, then patched: the link stays the same node, so focus on it survives updates. */
function episodeRow(episode, row) {
  if (!row) {
    row = h(
      "li",
      { class: "episode", dataset: { id: episode.id } },
      h("a", { href: `#episode/${episode.id}`, class: "episode-link" }),
      " ",
      h("span", { class: "numbering" }),
      " ",
      h("span", {}),
      h("span", { class: "air-date" }),
    );
  }
  const [link, numbers, status, airDate] = row.children;
  link.textContent = episode.title;
  numbers.textContent = numbering(episode);
  status.className = `badge status-${episode.status}`;
  status.textContent = humanize(episode.status);
  airDate.textContent = episode.air_date ? ` airs ${episode.air_date}` : "";
  return row;
}

export class EpisodesPanel extends LivePanel {
  constructor(me) {
    super();
    this.me = me;
    this.exportButton = byId("export-episodes");
    this.exportButton.addEventListener("click", () => this.#export());
    this.status = new URLSearchParams(window.location.search).get("status") || "";
    this.filters = filtersFromUrl();
    this.filterForm = byId("episode-filters");
    for (const name of FILTERS) this.filterForm.elements[name].value = this.filters[name];
    this.filterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#find(Object.fromEntries(FILTERS.map((name) => [name, this.filterForm.elements[name].value.trim()])));
    });
    byId("filters-clear").addEventListener("click", () => {
      this.filterForm.reset();
      this.#find(Object.fromEntries(FILTERS.map((name) => [name, ""])));
    });
    this.counts = byId("status-counts");
    this.message = byId("episodes-message");
    this.countButtons = new Map();
    this.rows = new WindowedList({
      list: byId("episode-list"),
      key: (episode) => episode.id,
      compare: newestFirst,
      renderRow: episodeRow,
      // `created_before` includes its bound: the last row comes again, one more fills the page.
      fetchOlder: (last) => this.fetchPage({ created_before: last.created_at, page_size: PAGE_SIZE + 1 }),
      onError: (error) => showMessage(this.message, `Could not load more episodes: ${error.message}`),
      noun: "episodes",
      step: PAGE_SIZE,
    });
    this.refreshCounts = throttle(REFRESH_MS, () => this.#loadCounts());
    // An episode that now matches the filter sits where only the server knows.
    this.refreshList = throttle(REFRESH_MS, () => this.reload());
  }

  async fetchPage(params) {
    const query = { status: this.status, ...this.filters, page_size: PAGE_SIZE, ...params };
    const page = await get(withQuery("/api/v1/episodes/", query));
    return { items: page.results, complete: !page.next };
  }

  async load() {
    const [counts, page] = await Promise.all([get("/api/v1/episodes/status-counts/"), this.fetchPage({})]);
    return { counts, page };
  }

  show({ counts, page }) {
    this.#showCounts(counts);
    this.rows.reset(page.items, page.complete);
    showMessage(this.message, "");
  }

  failed(error) {
    showMessage(this.message, `Could not load the episodes: ${error.message}`);
  }

  async #loadCounts() {
    try {
      this.#showCounts(await get("/api/v1/episodes/status-counts/"));
    } catch (error) {
      showMessage(this.message, `Could not count the episodes: ${error.message}`);
    }
  }

  #showCounts(counts) {
    const total = counts.reduce((sum, row) => sum + row.count, 0);
    for (const { status, count } of [{ status: "", count: total }, ...counts]) {
      let button = this.countButtons.get(status);
      if (!button) {
        button = h("button", { type: "button", class: "count-button", onclick: () => this.#filter(status) });
        this.countButtons.set(status, button);
        this.counts.append(button);
      }
      button.replaceChildren(
        h("span", { class: "label" }, status ? humanize(status) : "all"),
        " ",
        h("span", { class: "number", dataset: { status: status || "all" } }, String(count)),
      );
      button.setAttribute("aria-pressed", String(status === this.status));
    }
  }

  #filter(status) {
    this.status = status;
    for (const [value, button] of this.countButtons) button.setAttribute("aria-pressed", String(value === status));
    keepInUrl({ status, ...this.filters });
    this.reload();
  }

  #find(filters) {
    this.filters = filters;
    keepInUrl({ status: this.status, ...filters });
    this.reload();
  }

  apply(frame) {
    if (frame.id === null || frame.data.resource_type !== "episode") return;
    this.refreshCounts();
    const summary = frame.data.episode;
    const matches = !this.status || summary.status === this.status;
    // Whether it matches the other filters, only the server knows.
    if (frame.data.action !== "delete" && FILTERS.some((name) => this.filters[name])) {
      this.refreshList();
      return;
    }
    const known = this.rows.get(summary.id);
    const { action } = frame.data;
    if (action === "delete" || !matches) {
      this.rows.remove(summary.id);
    } else if (known) {
      this.rows.upsert({ ...known, ...summary });
    } else if (action === "create") {
      this.rows.upsert({ ...summary, created_at: frame.timestamp });
    } else {
      this.refreshList();
    }
  }

  /** The episodes the list shows, as an `episodes_export` job: it then shows among the jobs. */
  async #export() {
    const filters = Object.fromEntries(
      Object.entries({ status: this.status, ...this.filters }).filter(([, value]) => value),
    );
    try {
      await post("/api/v1/jobs/", { job_type: "episodes_export", payload: { filters } });
    } catch (error) {
      showMessage(this.message, `Could not start the export: ${error.message}`);
    }
  }

  render() {
    this.exportButton.hidden = !this.me.may("jobs.add_job");
    this.rows.render();
  }
}
