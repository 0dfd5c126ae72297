// A list that keeps every loaded item in memory and at most `size` of them in the DOM, so a
// feed of thousands of rows costs the page no more than a hundred. "Load more" fetches older
// items (or moves the window down over ones already loaded); "Show newer" moves it back up.
// Items are immutable: an update is a new object, and only rows whose item changed are redrawn.

import { h } from "./dom.js";

export class WindowedList {
  constructor({ list, key, compare, renderRow, fetchOlder, onError, noun, size = 100, step = 50 }) {
    this.list = list;
    this.key = key;
    this.compare = compare;
    this.renderRow = renderRow;
    this.fetchOlder = fetchOlder;
    this.onError = onError;
    this.size = size;
    this.step = step;
    this.items = [];
    this.byKey = new Map();
    this.rendered = new Map();
    this.start = 0;
    this.complete = false;
    this.loaded = false;
    this.loading = false;
    this.newerButton = h("button", { type: "button", class: "more", hidden: true, onclick: () => this.newer() });
    this.olderButton = h("button", { type: "button", class: "more", hidden: true, onclick: () => this.older() }, `Load more ${noun}`);
    this.empty = h("p", { class: "empty", hidden: true }, `No ${noun}.`);
    list.before(this.newerButton);
    list.after(this.empty, this.olderButton);
  }

  /** Replace everything with a fresh first page. */
  reset(items, complete) {
    this.items = [...items].sort(this.compare);
    this.byKey = new Map(this.items.map((item) => [this.key(item), item]));
    this.start = 0;
    this.complete = complete;
    this.loaded = true;
  }

  /** Empty, and not loaded: for a list about to show something else. */
  clear() {
    this.reset([], false);
    this.loaded = false;
  }

  get(key) {
    return this.byKey.get(key);
  }

  /** Whether an item not loaded yet sorts inside what is loaded (else it waits for "Load more"). */
  covers(item) {
    if (this.complete) return true;
    const last = this.items[this.items.length - 1];
    return last !== undefined && this.compare(item, last) < 0;
  }

  /** Add or replace an item; a new one outside the loaded range is left to "Load more". */
  upsert(item) {
    const key = this.key(item);
    const existing = this.byKey.get(key);
    if (existing) {
      this.items[this.items.indexOf(existing)] = item;
      this.byKey.set(key, item);
      return;
    }
    if (!this.covers(item)) return;
    let index = this.items.findIndex((other) => this.compare(item, other) < 0);
    if (index === -1) index = this.items.length;
    this.items.splice(index, 0, item);
    this.byKey.set(key, item);
    // A reader looking further down keeps their place; the new row counts as "newer".
    if (index < this.start || (index === this.start && this.start > 0)) this.start += 1;
  }

  remove(key) {
    const existing = this.byKey.get(key);
    if (!existing) return;
    const index = this.items.indexOf(existing);
    this.items.splice(index, 1);
    this.byKey.delete(key);
    if (index < this.start) this.start -= 1;
  }

  newer() {
    this.start = Math.max(0, this.start - this.step);
    this.render();
  }

  async older() {
    if (this.start + this.size < this.items.length) {
      this.start = Math.min(this.start + this.step, this.items.length - this.size);
      this.render();
      return;
    }
    if (this.complete || this.loading) return;
    this.loading = true;
    this.olderButton.disabled = true;
    try {
      const { items, complete } = await this.fetchOlder(this.items[this.items.length - 1]);
      const before = this.items.length;
      for (const item of items) {
        if (!this.byKey.has(this.key(item))) {
          this.items.push(item);
          this.byKey.set(this.key(item), item);
        }
      }
      this.items.sort(this.compare);
      // A page that brought nothing new would bring nothing new forever.
      this.complete = complete || this.items.length === before;
      this.start = Math.max(0, Math.min(this.start + this.step, this.items.length - this.size));
    } catch (error) {
      this.onError(error);
    } finally {
      this.loading = false;
      this.olderButton.disabled = false;
      this.render();
    }
  }

  render() {
    const visible = this.items.slice(this.start, this.start + this.size);
    const rows = visible.map((item) => {
      const key = this.key(item);
      const drawn = this.rendered.get(key);
      if (drawn && drawn.item === item) return drawn.row;
      const row = this.renderRow(item, drawn ? drawn.row : null);
      this.rendered.set(key, { item, row });
      return row;
    });
    this.rendered = new Map(visible.map((item, index) => [this.key(item), { item, row: rows[index] }]));
    reconcile(this.list, rows);
    this.newerButton.hidden = this.start === 0;
    this.newerButton.textContent = `Show ${this.start} newer`;
    this.olderButton.hidden = !this.loaded || (this.complete && this.start + this.size >= this.items.length);
    this.empty.hidden = !this.loaded || this.items.length > 0;
  }
}

// Puts `rows` in `list` in order, moving as few nodes as it can: a row that stays where it
// is is never detached, so focus inside it survives live updates.
function reconcile(list, rows) {
  let cursor = list.firstElementChild;
  for (const row of rows) {
    if (row === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(row, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}
