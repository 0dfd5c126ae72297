// The connection state, in words, in a polite live region: assistive technology announces a
// change once, and nothing while the state holds.

const LABELS = {
  connecting: "Connecting…",
  connected: "Connected: updates are live",
  reconnecting: "Connection lost: reconnecting…",
  offline: "Offline: waiting for the network",
  "signed-out": "Signed out: reload the page to log in again",
};

export function showConnectionState(element, state) {
  if (element.dataset.state === state && element.textContent) return;
  element.dataset.state = state;
  element.textContent = LABELS[state];
}
