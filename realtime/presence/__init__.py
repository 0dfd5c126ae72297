"""Presence: who is viewing a resource, a part beside the event stream rather than of it.

Users subscribed to a resource's topic view it, and so does a user who read it over REST a
moment ago. The app owning the resource registers which topic kind that is (`viewable`);
`services` keeps the viewings and announces arrivals and departures on that topic;
`selectors` reads who is viewing.
"""
