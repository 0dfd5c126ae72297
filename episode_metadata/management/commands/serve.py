import signal
import threading

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from activity.notifications import runner as notifier
from jobs.management.commands.run_jobs import add_worker_arguments, supervisor_from
from realtime import websocket_protocol
from realtime.webhooks import dispatcher as webhooks

# The largest WebSocket message the server reads before it closes the socket (1009). Clients
# send small JSON messages (the consumer refuses those over 8 KB); uvicorn's default, 16 MiB a
# socket, would let each connection hold that much memory.
WS_MAX_MESSAGE_BYTES = 64 * 1024


class Command(BaseCommand):
    help = (
        "Serve HTTP and WebSockets with a job worker in the same process, so the worker's "
        "live events reach this server's clients with no channel layer in between. Several "
        "servers behind a proxy run with --no-worker beside `manage.py run_jobs` workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="serve only; jobs run in separate `manage.py run_jobs` workers",
        )
        add_worker_arguments(parser, concurrency=2)

    def handle(self, *args, **options) -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                "episode_metadata.asgi:application",
                host=options["host"],
                port=options["port"],
                access_log=False,
                lifespan="off",
                ws=websocket_protocol.protocol(),
                ws_per_message_deflate=False,
                ws_max_size=WS_MAX_MESSAGE_BYTES,
                # uvicorn's own default believes loopback's forwarded headers.
                proxy_headers=bool(settings.FORWARDED_ALLOW_IPS),
                forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
                # Django's LOGGING (settings.py) formats uvicorn's lines too, redacting the
                # tickets and tokens in the WebSocket URLs they quote.
                log_config=None,
            )
        )
        notifier.start()
        webhooks.start()
        try:
            if options["no_worker"]:
                server.run()
            else:
                serve_with_worker(server, options)
        finally:
            webhooks.stop()
            notifier.stop()


def serve_with_worker(server: uvicorn.Server, options: dict) -> None:
    supervisor = supervisor_from(options)
    # uvicorn restores these after its own graceful shutdown and re-raises the signal.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.stop())
    worker = threading.Thread(target=supervisor.run, name="job-supervisor")
    worker.start()
    try:
        server.run()
    finally:
        supervisor.stop()
        worker.join()
