// The dashboard page: its panels, the one socket that keeps them current, and the route
// (`#episode/<id>`) that opens an episode.

import { Access } from "./access.js";
import { LiveConnection } from "./connection.js";
import { EpisodeDetail } from "./detail.js";
import { byId } from "./dom.js";
import { EpisodesPanel } from "./episodes.js";
import { ActivityFeed } from "./feed.js";
import { FrameBatcher } from "./frames.js";
import { JobsPanel } from "./jobs.js";
import { NewEpisode } from "./new-episode.js";
import { NotificationBell } from "./notifications.js";
import { showConnectionState } from "./status.js";

// Without a connection by then, the page shows what REST has and catches up once connected.
const OFFLINE_FIRST_LOAD_MS = 3000;
const EPISODE_ROUTE = /^#episode\/([0-9a-f-]{36})$/i;
// The permission each panel's reading needs: a panel its user may not read is not shown.
const READS = { episodes: "episodes.view_episode", jobs: "jobs.view_job", activity: "activity.view_activitylog" };

const me = new Access({ id: Number(document.body.dataset.userId), isStaff: document.body.dataset.staff === "true" });
const connectionState = byId("connection");
const standing = byId("standing");

const detail = new EpisodeDetail({
  me,
  subscribe: (topics) => live.subscribe(topics),
  unsubscribe: (topics) => live.unsubscribe(topics),
});
const bell = new NotificationBell();
const newEpisode = new NewEpisode(me);
const panels = [new EpisodesPanel(me), detail, new JobsPanel(me), new ActivityFeed(), bell];

const batcher = new FrameBatcher((frames) => {
  for (const frame of frames) for (const panel of panels) panel.receive(frame);
  for (const panel of panels) panel.render();
});

/** What the user may do, asked again with every full reload: a role may have changed. */
let accessKnown = false;
async function reloadAccess() {
  try {
    await me.reload();
  } catch {
    accessKnown = false;
    return; // The panels' own loads say what is failing; the page offers what it offered.
  }
  accessKnown = true;
  standing.textContent = ` (${me.describe()})`;
  for (const [section, permission] of Object.entries(READS)) byId(section).hidden = !me.may(permission);
  byId("no-role").hidden = Object.values(READS).some((permission) => me.may(permission));
  for (const panel of panels) panel.render();
  newEpisode.render();
}

let loaded = false;
async function reloadAll() {
  loaded = true;
  await reloadAccess();
  for (const panel of panels) panel.reload();
}

// The user's own roles changed (docs/realtime.md): what the page offers and shows follows at
// once. The service has already dropped the topics a revoke took away; after a grant, the
// page asks again for those it follows, which the service may now allow.
const ROLE_CHANGES = new Set(["user_granted", "user_revoked"]);
async function rolesChanged(event) {
  await reloadAll();
  if (event === "user_granted") live.subscribe(live.topics());
}

const live = new LiveConnection({
  url: `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/ws/events/`,
  topics: () => ["episodes", "jobs", ...detail.topics()],
  onState: (state) => showConnectionState(connectionState, state),
  onEvent: (frame) => {
    if (ROLE_CHANGES.has(frame.event)) rolesChanged(frame.event);
    batcher.push(frame);
  },
  onSubscribed: (data) => detail.viewersFromAck(data),
  onFresh: reloadAll,
  onResync: reloadAll,
  // Notifications are not replayed; the open episode's fields the replayed events leave out;
  // and whatever could not load while the service was away has nothing to replay onto.
  onResumed: () => {
    if (!accessKnown) reloadAccess();
    bell.reload();
    detail.refreshEpisode();
    for (const panel of panels) if (panel.loadFailed && panel !== bell) panel.reload();
  },
});

function route() {
  const match = window.location.hash.match(EPISODE_ROUTE);
  if (match) detail.open(match[1].toLowerCase());
  else detail.close();
}

byId("detail-close").addEventListener("click", () => {
  const link = document.querySelector(`#episode-list a[href="#episode/${detail.id}"]`);
  window.history.pushState(null, "", window.location.pathname + window.location.search);
  detail.close();
  (link || byId("episodes-title")).focus();
});
window.addEventListener("hashchange", route);

route();
live.start();
setTimeout(() => {
  if (!loaded) reloadAll();
}, OFFLINE_FIRST_LOAD_MS);
