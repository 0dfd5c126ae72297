// What every panel shares: it loads a snapshot over REST, and the live events that arrive
// while that load is under way are held and applied on top of it once it lands. Events come
// in commit order and each is applied after any snapshot it may predate, so nothing that
// happened between the snapshot and the stream is lost, and the last state shown is current.

export class LivePanel {
  constructor() {
    this.held = null;
    this.ticket = 0;
    // The last load failed (the service was away, say): the panel shows no snapshot that
    // live events could be applied to, so it loads again once the connection is back.
    this.loadFailed = false;
  }

  async reload() {
    const ticket = ++this.ticket;
    this.held ??= [];
    try {
      const snapshot = await this.load();
      if (ticket === this.ticket) {
        this.loadFailed = false;
        this.show(snapshot);
      }
    } catch (error) {
      if (ticket === this.ticket) {
        this.loadFailed = true;
        this.failed(error);
      }
    } finally {
      if (ticket === this.ticket) {
        const held = this.held;
        this.held = null;
        for (const frame of held) this.apply(frame);
        this.render();
      }
    }
  }

  receive(frame) {
    if (this.held) this.held.push(frame);
    else this.apply(frame);
  }

  // Subclasses: load() -> snapshot, show(snapshot), failed(error), apply(frame), render().
}
