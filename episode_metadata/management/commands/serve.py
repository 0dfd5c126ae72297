import signal
import threading

import uvicorn
from django.core.management.base import BaseCommand, CommandParser

from jobs.management.commands.run_jobs import add_worker_arguments, supervisor_from


class Command(BaseCommand):
    help = (
        "Serve HTTP and WebSockets with a job worker in the same process, so the worker's "
        "live events reach this server's clients with no channel layer in between."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        add_worker_arguments(parser, concurrency=2)

    def handle(self, *args, **options) -> None:
        supervisor = supervisor_from(options)
        # uvicorn restores these after its own graceful shutdown and re-raises the signal.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: supervisor.stop())
        worker = threading.Thread(target=supervisor.run, name="job-supervisor")
        worker.start()
        try:
            uvicorn.Server(
                uvicorn.Config(
                    "episode_metadata.asgi:application",
                    host=options["host"],
                    port=options["port"],
                    access_log=False,
                    lifespan="off",
                    ws_per_message_deflate=False,
                )
            ).run()
        finally:
            supervisor.stop()
            worker.join()
