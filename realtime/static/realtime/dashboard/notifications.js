// The bell: the unread count, the list, mark read and mark all read. `notification_created`
// and `unread_count_changed` come to every socket of the user without subscribing.

import { get, pages, post, withQuery } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { formatTime, timeAttributes } from "./format.js";
import { LivePanel } from "./live-panel.js";
import { WindowedList } from "./windowed-list.js";

const PAGE_SIZE = 20;
const TITLE = document.title;

export class NotificationBell extends LivePanel {
  constructor() {
    super();
    this.bell = byId("bell");
    this.panel = byId("notification-panel");
    this.count = byId("unread-count");
    this.message = byId("notification-message");
    this.nextPage = null;
    this.rows = new WindowedList({
      list: byId("notification-list"),
      key: (notification) => notification.id,
      compare: (a, b) => b.id - a.id,
      renderRow: (notification) => this.#row(notification),
      fetchOlder: () => this.nextPage(),
      onError: (error) => showMessage(this.message, `Could not load more notifications: ${error.message}`),
      noun: "notifications",
      size: 60,
      step: PAGE_SIZE,
    });
    this.bell.addEventListener("click", () => this.#toggle(this.panel.hidden));
    byId("read-all").addEventListener("click", () => this.#readAll());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        this.#toggle(false);
        this.bell.focus();
      }
    });
  }

  async load() {
    this.nextPage = pages(withQuery("/api/v1/notifications/", { page_size: PAGE_SIZE }));
    const [count, page] = await Promise.all([get("/api/v1/notifications/unread-count/"), this.nextPage()]);
    return { count, page };
  }

  show({ count, page }) {
    this.#showCount(count);
    this.rows.reset(page.items, page.complete);
    showMessage(this.message, "");
  }

  failed(error) {
    showMessage(this.message, `Could not load the notifications: ${error.message}`);
  }

  apply(frame) {
    if (frame.event === "notification_created") this.rows.upsert(frame.data);
    else if (frame.event === "unread_count_changed") this.#showCount(frame.data);
  }

  render() {
    this.rows.render();
  }

  #showCount({ unread, capped }) {
    const text = capped ? `${unread}+` : String(unread);
    this.count.textContent = text;
    this.count.dataset.count = String(unread);
    this.bell.setAttribute("aria-label", `Notifications: ${text} unread`);
    document.title = unread ? `(${text}) ${TITLE}` : TITLE;
  }

  #toggle(open) {
    this.panel.hidden = !open;
    this.bell.setAttribute("aria-expanded", String(open));
  }

  #row(notification) {
    const unread = notification.read_at === null;
    const episodeId = notification.data && notification.data.episode_id;
    return h(
      "li",
      { class: `notification priority-${notification.priority}`, tabindex: -1, dataset: { id: notification.id, unread: String(unread) } },
      h("p", { class: "head" }, unread && h("span", { class: "badge unread" }, "new"), " ", h("strong", {}, notification.title)),
      notification.message && h("p", {}, notification.message),
      h(
        "p",
        { class: "meta" },
        h("time", timeAttributes(notification.created_at), formatTime(notification.created_at)),
        episodeId && " · ",
        episodeId && h("a", { href: `#episode/${episodeId}` }, "open episode"),
        unread && " ",
        unread && h("button", { type: "button", "aria-label": `Mark read: ${notification.title}`, onclick: () => this.#read(notification) }, "Mark read"),
      ),
    );
  }

  async #read(notification) {
    try {
      const read = await post(`/api/v1/notifications/${notification.id}/read/`);
      this.rows.upsert(read);
      this.rows.render();
      // Its button is gone with the row it was in; focus stays on the row, not the page top.
      const row = this.rows.rendered.get(read.id);
      if (row) row.row.focus();
      this.#showCount(await get("/api/v1/notifications/unread-count/"));
    } catch (error) {
      showMessage(this.message, `Could not mark it read: ${error.message}`);
    }
  }

  async #readAll() {
    try {
      this.#showCount(await post("/api/v1/notifications/read-all/"));
      this.reload();
    } catch (error) {
      showMessage(this.message, `Could not mark all read: ${error.message}`);
    }
  }
}
