// What the signed-in user may do, as the service says it (`GET /api/v1/auth/me`): the page
// offers only those actions. The service checks every request all the same; this spares
// offering what it would refuse. Until the answer comes, nothing is offered.

import { get } from "./api.js";

export class Access {
  constructor({ id, isStaff }) {
    this.id = id;
    this.isStaff = isStaff;
    this.roles = [];
    this.permissions = new Set();
    this.transitions = {};
  }

  async reload() {
    const me = await get("/api/v1/auth/me");
    this.isStaff = me.is_staff;
    this.roles = me.roles;
    this.permissions = new Set(me.permissions);
    this.transitions = me.transitions;
  }

  /** `permission` as the service names it: `app_label.codename`, e.g. `episodes.approve_episode`. */
  may(permission) {
    return this.permissions.has(permission);
  }

  /** The statuses this user may move an episode to from `status`. */
  movesFrom(status) {
    return this.transitions[status] || [];
  }

  /** How the page names the user's standing, beside their name. */
  describe() {
    if (this.isStaff) return "staff";
    return this.roles.length ? this.roles.join(", ") : "no role";
  }
}
