// "New episode": a form built when opened and removed when done, so its controls never stand
// beside the open episode's edit form unseen. A refused field is marked where it was typed;
// the episode made opens at once.

import { post } from "./api.js";
import { byId, h, showMessage } from "./dom.js";
import { episodeFields, readEpisodeForm, showFieldErrors } from "./episode-form.js";

export class NewEpisode {
  constructor(me) {
    this.me = me;
    this.button = byId("new-episode");
    this.form = null;
    this.button.addEventListener("click", () => this.#open());
  }

  /** Offered only to those who may create episodes. */
  render() {
    this.button.hidden = !this.me.may("episodes.add_episode");
    if (this.button.hidden) this.#close();
  }

  #open() {
    if (this.form) {
      this.form.elements.title.focus();
      return;
    }
    this.message = h("p", { class: "message", role: "alert", hidden: true });
    this.form = h(
      "form",
      { id: "new-episode-form", class: "edit-form", "aria-label": "New episode", novalidate: true },
      ...episodeFields("new"),
      this.message,
      h(
        "p",
        { class: "button-row" },
        h("button", { type: "submit" }, "Create"),
        h("button", { type: "button", class: "quiet", onclick: () => this.#cancel() }, "Cancel"),
      ),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#create();
    });
    this.button.after(this.form);
    this.button.setAttribute("aria-expanded", "true");
    this.form.elements.title.focus();
  }

  #cancel() {
    this.#close();
    this.button.focus();
  }

  #close() {
    if (!this.form) return;
    this.form.remove();
    this.form = null;
    this.button.setAttribute("aria-expanded", "false");
  }

  async #create() {
    const values = readEpisodeForm(this.form);
    try {
      const episode = await post("/api/v1/episodes/", values);
      this.#close();
      window.location.hash = `#episode/${episode.id}`;
    } catch (error) {
      const placed = error.status === 400 && showFieldErrors(this.form, error.body);
      showMessage(this.message, placed ? "Please correct the marked fields." : `Could not create the episode: ${error.message}`);
    }
  }
}
