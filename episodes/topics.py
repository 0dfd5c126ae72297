"""How episodes appear on the event stream: `episodes` carries every episode, file and
composition, `episode:<uuid>` every row logged about one episode, and the subscribers of an
episode's topic are its viewers. Following either takes the permission to view episodes;
each event of a file or composition also takes the permission to view those, and whoever may
read an episode sees the jobs on it."""

from episodes.selectors import existing_episode_ids
from realtime import job_topics, topics
from realtime.presence import viewable

VIEW_EPISODE = "episodes.view_episode"


def register_topics() -> None:
    topics.register_collection(
        "episodes", {"episode", "file", "composition"}, readable=topics.requires(VIEW_EPISODE)
    )
    topics.register_resource("episode", field="episode_id", readable=topics.requires(VIEW_EPISODE))
    topics.register_rows("episode", permission=VIEW_EPISODE)
    topics.register_rows("file", permission="episodes.view_episodefile")
    topics.register_rows("composition", permission="episodes.view_composition")
    job_topics.read_jobs_on_episodes_with(VIEW_EPISODE)
    viewable.register(topic_kind="episode", existing=existing_episode_ids)
