"""Prometheus metrics, all in prometheus_client's default registry.

Each server process answers `/metrics` with what it measured itself (HTTP, WebSockets, the
job worker `manage.py serve` runs in it) and with the job queue as the database holds it;
a `manage.py run_jobs --metrics-port` worker serves the same registry on a port of its own.
The metrics are listed in docs/observability.md.
"""
