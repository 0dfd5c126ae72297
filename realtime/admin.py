from realtime.webhooks import admin  # noqa: F401 - registers the webhooks' admin pages
