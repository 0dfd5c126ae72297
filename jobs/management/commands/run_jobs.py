import logging
import signal

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandParser

from activity.notifications import runner as notifier
from episode_metadata.common import metrics_server
from jobs.supervisor import DEFAULT_GRACE_SECONDS, Supervisor

logger = logging.getLogger(__name__)


def add_worker_arguments(parser: CommandParser, *, concurrency: int) -> None:
    parser.add_argument(
        "--concurrency",
        type=int,
        default=concurrency,
        help=f"worker processes running jobs side by side (default {concurrency})",
    )
    parser.add_argument(
        "--queues",
        default="default",
        help="comma-separated queues to take jobs from (default: default)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help="seconds running jobs get to finish on shutdown before they are handed back",
    )


def supervisor_from(options: dict) -> Supervisor:
    queues = [name.strip() for name in options["queues"].split(",") if name.strip()]
    if options["concurrency"] < 1 or not queues:
        raise ValueError("--concurrency must be at least 1 and --queues name at least one queue")
    return Supervisor(
        concurrency=options["concurrency"], queues=queues, grace_seconds=options["grace"]
    )


class Command(BaseCommand):
    help = "Run background jobs until SIGTERM or Ctrl-C (running jobs finish within --grace)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_worker_arguments(parser, concurrency=2)
        parser.add_argument(
            "--metrics-port",
            type=int,
            help="serve this worker's Prometheus metrics at http://HOST:PORT/ (default: off)",
        )
        parser.add_argument(
            "--metrics-host",
            default="127.0.0.1",
            help="the address the metrics listen on (default 127.0.0.1)",
        )

    def handle(self, *args, **options) -> None:
        supervisor = supervisor_from(options)
        if options["metrics_port"] is not None:
            metrics_server.start(options["metrics_host"], options["metrics_port"])
            logger.info(
                "metrics on http://%s:%d/", options["metrics_host"], options["metrics_port"]
            )
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            logger.warning(
                "no REDIS_URL: this worker's live events cannot reach server processes; "
                "dashboards see its jobs' changes only by polling. `manage.py serve` runs "
                "the server and the worker together."
            )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: supervisor.stop())
        notifier.start()
        try:
            supervisor.run()
        finally:
            notifier.stop()
