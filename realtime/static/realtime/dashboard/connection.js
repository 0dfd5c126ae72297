// The socket to /ws/events/ (docs/realtime.md): subscribe, resume after a drop from the last
// event id seen, ping every 30 s (which also keeps this user among an episode's viewers), and
// reconnect with capped, jittered backoff. Durable events reach `onEvent` once each, in order.

const PING_EVERY_MS = 30_000;
// A ping unanswered this long means a dead connection the browser has not noticed yet.
const PONG_WITHIN_MS = 10_000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const UNAUTHENTICATED = 4401;

/** How long to wait before reconnect attempt `attempt` (0-based): doubling up to a cap, and
 * drawn between half and all of that, so pages that dropped together do not return together. */
function reconnectDelay(attempt) {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class LiveConnection {
  /**
   * topics: () => the topics to follow now (asked again on every reconnect).
   * onState(state): "connecting", "connected", "reconnecting", "offline" or "signed-out".
   * onEvent(frame): every other frame: durable events (deduplicated) and ephemeral ones.
   * onSubscribed(data): each `subscribed` acknowledgement.
   * onFresh(): no event id to resume from; whatever is shown must be loaded over REST.
   * onResync(): the history since the last id is gone; reload over REST.
   * onResumed(): reconnected and caught up; reload what has no durable events.
   */
  constructor({ url, topics, onState, onEvent, onSubscribed, onFresh, onResync, onResumed }) {
    Object.assign(this, { url, topics, onState, onEvent, onSubscribed, onFresh, onResync, onResumed });
    this.lastId = null;
    this.socket = null;
    this.attempt = 0;
    this.resuming = false;
    this.awaitingAck = false;
    this.timers = {};
  }

  start() {
    window.addEventListener("offline", () => this.#drop("offline"));
    window.addEventListener("online", () => {
      clearTimeout(this.timers.retry);
      if (!this.socket) this.#open();
    });
    this.#open();
  }

  subscribe(topics) {
    this.#send({ type: "subscribe", topics });
  }

  unsubscribe(topics) {
    this.#send({ type: "unsubscribe", topics });
  }

  #open() {
    if (!navigator.onLine) {
      this.onState("offline");
      return;
    }
    this.onState(this.attempt === 0 && this.lastId === null ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      const message = { type: "subscribe", topics: this.topics() };
      this.awaitingAck = true;
      this.resuming = this.lastId !== null;
      if (this.resuming) message.after = this.lastId;
      this.#send(message);
      this.timers.ping = setInterval(() => this.#ping(), PING_EVERY_MS);
    };
    socket.onmessage = (message) => {
      if (this.socket === socket) this.#receive(JSON.parse(message.data));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.#drop(event.code === UNAUTHENTICATED ? "signed-out" : null);
    };
  }

  #send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  #ping() {
    this.#send({ type: "ping" });
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => this.#drop(null), PONG_WITHIN_MS);
  }

  /** Forget the socket, then wait for the network (offline), stop (signed out) or retry. */
  #drop(reason) {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.retry);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    if (reason === "signed-out") {
      this.onState("signed-out");
      return;
    }
    if (reason === "offline" || !navigator.onLine) {
      this.onState("offline");
      return;
    }
    this.onState("reconnecting");
    this.timers.retry = setTimeout(() => this.#open(), reconnectDelay(this.attempt));
    this.attempt += 1;
  }

  #receive(frame) {
    switch (frame.event) {
      case "subscribed":
        this.#subscribed(frame.data);
        break;
      case "resync_required":
        this.lastId = frame.data.last_id;
        this.resuming = false; // the reload covers what a resumed page would fetch
        this.onResync();
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        break;
      case "error":
        console.warn("event stream:", frame.data.message);
        break;
      default:
        if (frame.id !== null) {
          if (this.lastId !== null && frame.id <= this.lastId) return;
          this.lastId = frame.id;
        }
        this.onEvent(frame);
    }
  }

  #subscribed(data) {
    this.onSubscribed(data);
    if (!this.awaitingAck) return;
    // The first acknowledgement on a socket: the subscription is live, the replay done.
    this.awaitingAck = false;
    this.attempt = 0;
    this.onState("connected");
    if (this.lastId === null) {
      this.lastId = data.last_id;
      this.onFresh();
    } else if (this.resuming) {
      this.onResumed();
    }
    this.resuming = false;
  }
}
