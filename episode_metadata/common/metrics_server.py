"""The metrics of a process without an HTTP server of its own (`manage.py run_jobs`)."""

import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.db import connections
from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        """Scrapes come every few seconds; they are not worth a log line each."""


def _server_class(host: str) -> type[WSGIServer]:
    class MetricsServer(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return MetricsServer


def start(host: str, port: int) -> WSGIServer:
    """Serve the registry on a daemon thread; each scrape on a thread of its own, which
    closes the database connection the job queue's figures took (or its pool loses it)."""
    metrics_app = make_wsgi_app(REGISTRY)

    def app(environ, start_response):
        try:
            return metrics_app(environ, start_response)
        finally:
            connections.close_all()

    server = make_server(host, port, app, _server_class(host), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server
