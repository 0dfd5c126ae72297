from realtime import broadcast


def activity_committed(sender, entry, **kwargs) -> None:
    broadcast.announce_activity()
