"""How episodes appear on the event stream: `episodes` carries every episode, file and
composition, `episode:<uuid>` every row logged about one episode, and the subscribers of an
episode's topic are its viewers."""

from episodes.selectors import existing_episode_ids
from realtime import topics
from realtime.presence import viewable


def register_topics() -> None:
    topics.register_collection("episodes", {"episode", "file", "composition"})
    topics.register_resource("episode", field="episode_id")
    viewable.register(topic_kind="episode", existing=existing_episode_ids)
