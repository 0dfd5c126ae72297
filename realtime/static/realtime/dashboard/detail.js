// One episode opened: its fields, who else is viewing it, its files and compositions, and its
// history, with the actions on it this user may take (editing, the workflow's moves, deleting
// and restoring; approving and publishing a composition), each sent with If-Match: a change
// someone else made first is shown instead of overwritten. Subscribing to `episode:<id>` makes
// this user one of its viewers; the `subscribed` acknowledgement and `presence_changed` events
// say who the others are.

import { etag, get, pages, patch, post, remove, upload, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import {
  changedFields,
  displayValue,
  episodeFields,
  fieldLabel,
  fillEpisodeForm,
  readEpisodeForm,
  showFieldErrors,
} from "./episode-form.js";
import { entryFromEvent, entryFromRow, episodeIdOf } from "./entries.js";
import { numbering } from "./episodes.js";
import { entryRow } from "./feed.js";
import { formatBytes, formatTime, humanize } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { throttle } from "./throttle.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 20;
const STALE = 412;
const INVALID = 400;
const REFRESH_MS = 1000;
// A button for each status an episode can be moved to; the service says which this user may
// use from the episode's status (Access.movesFrom).
const MOVES = {
  pending: "Submit for review",
  approved: "Approve",
  rejected: "Reject",
  published: "Publish",
  archived: "Archive",
  draft: "Back to draft",
};
// A composition's next step from its status, and the permission it takes.
const COMPOSITION_STEPS = {
  draft: { action: "approve", label: "Approve", permission: "episodes.approve_composition" },
  approved: { action: "publish", label: "Publish", permission: "episodes.publish_composition" },
};

function fileRow(file) {
  return h(
    "li",
    { dataset: { id: file.id } },
    h("a", { href: file.download_url, download: "" }, file.original_name),
    ` · ${file.kind} · ${formatBytes(file.size)}`,
  );
}

function compositionRow(composition, buttons) {
  return h(
    "li",
    { dataset: { id: composition.id } },
    h("strong", {}, composition.name),
    ` · ${composition.layout} · version ${composition.version} · `,
    h("span", { class: `badge status-${composition.status}` }, humanize(composition.status)),
    composition.is_primary ? " · primary" : "",
    buttons.flatMap((button) => [" ", button]),
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
    this.editForm = byId("edit-form");
    this.conflict = byId("edit-conflict");
    this.editedFrom = null;
    this.busy = false;
    this.editedVersion = null;
    this.#buildActions();
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
    // An event's summary leaves out fields (categories, description) the panel shows.
    this.refreshEpisode = throttle(REFRESH_MS, () => this.#loadEpisode());
    // Downloads outnumber the changes and say little: left out unless asked for, as in the feed.
    this.downloads = byId("detail-downloads");
    this.downloads.addEventListener("change", () => this.reload());
    this.followButton.addEventListener("click", () => this.#toggleFollow());
    this.uploadForm = byId("upload-form");
    this.uploadForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#upload();
    });
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
    this.editForm.hidden = true;
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
    const historyQuery = { page_size: PAGE_SIZE, exclude_action: this.downloads.checked ? "" : "download" };
    this.nextPage = pages(withQuery(`${base}/activity/`, historyQuery), entryFromRow);
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
    const { resource_type: type, action } = frame.data;
    if (action !== "download" || this.downloads.checked) this.history.upsert(entryFromEvent(frame));
    // An event older than the version a REST answer already showed would take it back.
    if (type === "episode" && this.episode && !(frame.data.episode.version < this.episode.version)) {
      this.episode = { ...this.episode, ...frame.data.episode };
      if (action === "update") this.refreshEpisode();
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
    this.#showActions();
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

  async #loadEpisode() {
    const id = this.id;
    if (!id || !this.episode) return;
    try {
      const episode = await get(`/api/v1/episodes/${id}/`);
      if (id !== this.id || !this.episode || episode.version < this.episode.version) return;
      this.episode = { ...this.episode, ...episode };
      this.render();
    } catch (error) {
      showMessage(this.message, `Could not load the episode: ${error.message}`);
    }
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
    const buttons = (composition) => [this.#renderButton(composition), this.#compositionStep(composition)];
    const row = (composition) => compositionRow(composition, buttons(composition).filter(Boolean));
    replaceList(this.compositions, page.results, row, page.count, "compositions");
  }

  /** Renders the composition's current version: a job, which the Jobs panel follows. */
  #renderButton(composition) {
    if (!this.me.may("jobs.add_job")) return null;
    const act = async () => {
      try {
        await post(`/api/v1/compositions/${composition.id}/render/`);
      } catch (error) {
        showMessage(this.message, `Could not render ${composition.name}: ${error.message}`);
      }
    };
    return h("button", { type: "button", "aria-label": `Render ${composition.name}`, onclick: act }, "Render");
  }

  #compositionStep(composition) {
    const step = COMPOSITION_STEPS[composition.status];
    if (!step || !this.me.may(step.permission)) return null;
    const act = async () => {
      try {
        await post(`/api/v1/compositions/${composition.id}/${step.action}/`, undefined, etag(composition.revision));
        this.refreshCompositions();
      } catch (error) {
        const why = error.status === STALE ? "someone else changed it meanwhile; the list now shows it as it is" : error.message;
        if (error.status === STALE) this.refreshCompositions();
        showMessage(this.message, `Could not ${step.action} ${composition.name}: ${why}.`);
      }
    };
    return h("button", { type: "button", "aria-label": `${step.label} ${composition.name}`, onclick: act }, step.label);
  }

  /** Built once and shown or hidden, so that focus on one survives live updates. */
  #buildActions() {
    const button = (label, onclick, extra = {}) => h("button", { type: "button", onclick, ...extra }, label);
    this.editButton = button("Edit", () => this.#startEditing());
    this.moveButtons = new Map(
      Object.entries(MOVES).map(([status, label]) => [status, button(label, () => this.#move(status))]),
    );
    this.deleteButton = button("Delete", () => this.#delete(), { class: "quiet" });
    this.restoreButton = button("Restore", () => this.#restore());
    byId("edit-fields").append(...episodeFields("edit"));
    byId("detail-actions").append(this.editButton, ...this.moveButtons.values(), this.deleteButton, this.restoreButton);
    this.editForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#save();
    });
    byId("edit-discard").addEventListener("click", () => {
      this.editForm.hidden = true;
      this.editButton.focus();
    });
  }

  /** Only what this user may do to the episode as it is now; nothing before it has loaded. */
  #showActions() {
    const episode = this.episode;
    const deleted = Boolean(episode && episode.deleted_at);
    const live = Boolean(episode) && !deleted;
    const moves = new Set(live ? this.me.movesFrom(episode.status) : []);
    const mayEdit = live && this.me.may("episodes.change_episode");
    this.editButton.hidden = !mayEdit;
    for (const [status, button] of this.moveButtons) button.hidden = !moves.has(status);
    this.deleteButton.hidden = !live || !this.me.may("episodes.delete_episode");
    this.restoreButton.hidden = !deleted || !this.me.may("episodes.restore_episode");
    if (!mayEdit) this.editForm.hidden = true;
    this.uploadForm.hidden = !live || !this.me.may("episodes.add_episodefile");
    for (const control of [this.editButton, ...this.moveButtons.values(), this.deleteButton, this.restoreButton]) {
      control.disabled = this.busy;
    }
  }

  /** Runs one change to the open episode, conditional on the version it is based on (the one
   * shown): its answer (the episode, or changes to it) is shown at once, without waiting for
   * the event that follows. A change someone else made first (412) is loaded and shown
   * instead. */
  async #change(what, work, base = this.episode.version, refused = () => {}) {
    const id = this.id;
    this.busy = true;
    this.render();
    try {
      const changed = await work(`/api/v1/episodes/${id}/`, etag(base));
      if (id !== this.id) return false;
      this.episode = { ...this.episode, ...changed };
      showMessage(this.message, "");
      return true;
    } catch (error) {
      if (id !== this.id) return false;
      if (error.status === STALE) {
        // The answer names the current version: the next try is based on it even if the
        // reload cannot show the episode (a deleted one, to someone who may only restore it).
        this.episode = { ...this.episode, version: error.body.version };
        // An edit still open is now based on what is shown: saving it again is a decision.
        this.editedVersion = error.body.version;
        await this.reload();
        showMessage(this.message, `Could not ${what}: someone else changed this episode meanwhile. It now shows their change; try again if yours still applies.`);
      } else {
        showMessage(this.message, `Could not ${what}: ${error.message}`);
      }
      refused(error);
      return false;
    } finally {
      this.busy = false;
      this.render();
    }
  }

  // The button used goes away with the state it acted on: focus goes to the episode's title.
  async #move(status) {
    const moved = await this.#change(`move the episode to ${humanize(status)}`, (url, version) => patch(url, { status }, version));
    if (moved) this.title.focus();
  }

  async #delete() {
    const next = this.episode.version + 1;
    const deleted = await this.#change("delete the episode", async (url, version) => {
      await remove(url, version);
      // Its answer has no body: a write based on version n always leaves version n + 1.
      return { deleted_at: new Date().toISOString(), version: next };
    });
    if (deleted) {
      showMessage(this.message, "This episode was deleted.");
      (this.restoreButton.hidden ? this.title : this.restoreButton).focus();
    }
  }

  async #restore() {
    const restored = await this.#change("restore the episode", (url, version) => post(`${url}restore/`, undefined, version));
    if (restored) this.title.focus();
  }

  /** The form holds the episode as it is now: saving it is a change of that version, refused
   * if another change comes in while it is open. Only the fields changed in the form are
   * sent, so that they can be made again on top of someone else's change. */
  #startEditing() {
    this.editedVersion = this.episode.version;
    fillEpisodeForm(this.editForm, this.episode);
    this.editedFrom = readEpisodeForm(this.editForm);
    this.conflict.hidden = true;
    this.editForm.hidden = false;
    this.editForm.elements.title.focus();
  }

  async #save() {
    const changes = changedFields(this.editedFrom, readEpisodeForm(this.editForm));
    const saved =
      !Object.keys(changes).length ||
      (await this.#change(
        "save the episode",
        (url, version) => patch(url, changes, version),
        this.editedVersion,
        (error) => this.#saveRefused(error, changes),
      ));
    if (saved) {
      this.editForm.hidden = true;
      this.editButton.focus();
    }
  }

  #saveRefused(error, changes) {
    this.conflict.hidden = error.status !== STALE;
    if (error.status === STALE) this.#showConflict(changes);
    if (error.status === INVALID && showFieldErrors(this.editForm, error.body)) {
      showMessage(this.message, "Could not save the episode: please correct the marked fields.");
    }
  }

  /** Each field this user changed, as it is now and as they would have it: making theirs
   * again is their call. */
  #showConflict(changes) {
    const rows = Object.entries(changes).map(([name, value]) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, fieldLabel(name)),
        h("td", {}, displayValue(name, this.episode[name])),
        h("td", {}, displayValue(name, value)),
      ),
    );
    const head = ["Field", "Now", "Yours"].map((text) => h("th", { scope: "col" }, text));
    this.conflict.replaceChildren(
      h("p", {}, "Someone else changed this episode while you edited it."),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ...head)),
        h("tbody", {}, ...rows),
      ),
      h("button", { type: "button", onclick: () => this.#save() }, "Reapply my changes"),
    );
  }

  async #upload() {
    const id = this.id;
    try {
      await upload(`/api/v1/episodes/${id}/files/`, new FormData(this.uploadForm));
      this.uploadForm.reset();
      if (id === this.id) this.refreshFiles();
    } catch (error) {
      showMessage(this.message, `Could not upload the file: ${error.message}`);
    }
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
