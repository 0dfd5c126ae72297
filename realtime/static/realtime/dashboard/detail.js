// One episode opened: its fields, who else is viewing it, its files and compositions, and its
// history. Subscribing to `episode:<id>` makes this user one of its viewers; the `subscribed`
// acknowledgement and `presence_changed` events say who the others are.

import { get, pages, post, remove, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { entryFromEvent, entryFromRow, episodeIdOf } from "./entries.js";
import { numbering } from "./episodes.js";
import { entryRow } from "./feed.js";
import { formatBytes, formatTime, humanize } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { throttle } from "./throttle.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 20;
const REFRESH_MS = 1000;

function fileRow(file) {
  return h(
    "li",
    { dataset: { id: file.id } },
    h("a", { href: file.download_url, download: "" }, file.original_name),
    ` · ${file.kind} · ${formatBytes(file.size)}`,
  );
}

function compositionRow(composition) {
  return h(
    "li",
    { dataset: { id: composition.id } },
    h("strong", {}, composition.name),
    ` · ${composition.layout} · version ${composition.version} · `,
    h("span", { class: `badge status-${composition.status}` }, humanize(composition.status)),
    composition.is_primary ? " · primary" : "",
  );
}

function replaceList(list, items, renderRow, total, noun) {
  const rows = items.map(renderRow);
  if (total > items.length) rows.push(h("li", { class: "more-note" }, `and ${total - items.length} more ${noun}`));
  if (!rows.length) rows.push(h("li", { class: "empty" }, `No ${noun}.`));
  list.replaceChildren(...rows);
}

export class EpisodeDetail extends LivePanel {
  constructor({ me, subscribe, unsubscribe }) {
    super();
    Object.assign(this, { me, subscribe, unsubscribe });
    this.id = null;
    this.episode = null;
    this.viewers = null;
    this.section = byId("episode-detail");
    this.title = byId("detail-title");
    this.fields = byId("detail-fields");
    this.viewerText = byId("viewers");
    this.files = byId("detail-files");
    this.compositions = byId("detail-compositions");
    this.message = byId("detail-message");
    this.followButton = byId("follow");
    this.nextPage = null;
    this.followChanges = 0;
    this.history = new WindowedList({
      list: byId("detail-activity"),
      key: (entry) => entry.id,
      compare: (a, b) => b.id - a.id,
      renderRow: entryRow,
      fetchOlder: () => this.nextPage(),
      onError: (error) => showMessage(this.message, `Could not load more history: ${error.message}`),
      noun: "history",
      size: 60,
      step: PAGE_SIZE,
    });
    this.refreshFiles = throttle(REFRESH_MS, () => this.#loadFiles());
    this.refreshCompositions = throttle(REFRESH_MS, () => this.#loadCompositions());
    this.followButton.addEventListener("click", () => this.#toggleFollow());
  }

  topics() {
    return this.id ? [`episode:${this.id}`] : [];
  }

  open(id) {
    if (id === this.id) return;
    if (this.id) this.unsubscribe(this.topics());
    this.id = id;
    this.episode = null;
    this.viewers = null;
    this.history.clear();
    this.subscribe(this.topics());
    this.followButton.disabled = true; // until the episode says whether it is followed
    this.section.hidden = false;
    this.title.textContent = "Loading…";
    this.reload();
    this.title.focus();
  }

  close() {
    if (!this.id) return;
    this.unsubscribe(this.topics());
    this.id = null;
    this.section.hidden = true;
  }

  async load() {
    const id = this.id;
    if (!id) return null;
    const followChanges = this.followChanges;
    const base = `/api/v1/episodes/${id}`;
    this.nextPage = pages(withQuery(`${base}/activity/`, { page_size: PAGE_SIZE }), entryFromRow);
    const [episode, history, files, compositions, follow] = await Promise.all([
      get(`${base}/`),
      this.nextPage(),
      get(withQuery(`${base}/files/`, { page_size: PAGE_SIZE })),
      get(withQuery("/api/v1/compositions/", { episode: id, page_size: PAGE_SIZE })),
      get(`${base}/follow/`),
    ]);
    return { id, episode, history, files, compositions, follow, followChanges };
  }

  show(snapshot) {
    if (!snapshot || snapshot.id !== this.id) return;
    this.episode = snapshot.episode;
    // The answer names the others viewing; a list the socket brought is as new or newer.
    this.viewers ??= snapshot.episode.viewers;
    this.history.reset(snapshot.history.items, snapshot.history.complete);
    this.#showFiles(snapshot.files);
    this.#showCompositions(snapshot.compositions);
    // A click on Follow while this loaded made the answer stale.
    if (snapshot.followChanges === this.followChanges) this.#showFollowing(snapshot.follow.following);
    showMessage(this.message, "");
  }

  failed(error) {
    this.title.textContent = "Episode";
    this.fields.replaceChildren();
    showMessage(this.message, error.status === 404 ? "This episode does not exist or was deleted." : `Could not load the episode: ${error.message}`);
  }

  /** The viewers a `subscribed` acknowledgement lists for the open episode, if it does. */
  viewersFromAck(data) {
    const viewers = data.viewers && data.viewers[this.id];
    if (viewers) {
      this.viewers = viewers;
      this.#showViewers();
    }
  }

  apply(frame) {
    if (!this.id) return;
    if (frame.event === "presence_changed") {
      if (frame.data.episode_id === this.id) this.viewers = frame.data.viewers;
      return;
    }
    if (frame.id === null || episodeIdOf(frame) !== this.id) return;
    this.history.upsert(entryFromEvent(frame));
    const { resource_type: type, action } = frame.data;
    if (type === "episode" && this.episode) {
      this.episode = { ...this.episode, ...frame.data.episode };
      if (action === "delete") showMessage(this.message, "This episode was deleted.");
      if (action === "restore") showMessage(this.message, "");
    } else if (type === "file") {
      this.refreshFiles();
    } else if (type === "composition") {
      this.refreshCompositions();
    }
  }

  render() {
    if (!this.id) return;
    this.history.render();
    this.#showViewers();
    if (!this.episode) return;
    const episode = this.episode;
    this.title.textContent = episode.title;
    const facts = [
      ["Status", humanize(episode.status)],
      ["Number", numbering(episode) || "—"],
      ["Air date", episode.air_date || "—"],
      ["Categories", (episode.categories || []).join(", ") || "—"],
      ["Created by", episode.created_by ? episode.created_by.username : "—"],
      ["Created", episode.created_at ? formatTime(episode.created_at) : "—"],
      ["Description", episode.description || "—"],
    ];
    this.fields.replaceChildren(...facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  }

  #showViewers() {
    if (!this.viewers) {
      this.viewerText.textContent = "";
      return;
    }
    const others = this.viewers.filter((viewer) => viewer.id !== this.me.id).map((viewer) => viewer.username);
    const text = others.length ? `Also viewing: ${others.join(", ")}` : "Nobody else is viewing this episode.";
    if (this.viewerText.textContent !== text) this.viewerText.textContent = text;
  }

  async #loadFiles() {
    const id = this.id;
    try {
      const files = await get(withQuery(`/api/v1/episodes/${id}/files/`, { page_size: PAGE_SIZE }));
      if (id === this.id) this.#showFiles(files);
    } catch (error) {
      showMessage(this.message, `Could not load the files: ${error.message}`);
    }
  }

  #showFiles(page) {
    replaceList(this.files, page.results, fileRow, page.count, "files");
  }

  async #loadCompositions() {
    const id = this.id;
    try {
      const page = await get(withQuery("/api/v1/compositions/", { episode: id, page_size: PAGE_SIZE }));
      if (id === this.id) this.#showCompositions(page);
    } catch (error) {
      showMessage(this.message, `Could not load the compositions: ${error.message}`);
    }
  }

  #showCompositions(page) {
    replaceList(this.compositions, page.results, compositionRow, page.count, "compositions");
  }

  #showFollowing(following) {
    this.followButton.disabled = false;
    this.followButton.setAttribute("aria-pressed", String(following));
    this.followButton.textContent = following ? "Following" : "Follow";
  }

  async #toggleFollow() {
    const url = `/api/v1/episodes/${this.id}/follow/`;
    const following = this.followButton.getAttribute("aria-pressed") === "true";
    try {
      if (following) await remove(url);
      else await post(url);
      this.followChanges += 1;
      this.#showFollowing(!following);
    } catch (error) {
      showMessage(this.message, `Could not change following: ${error.message}`);
    }
  }
}
