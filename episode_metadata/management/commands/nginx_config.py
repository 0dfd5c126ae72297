"""Renders the nginx configuration from its template, so the proxy's static root and upload
limit follow the service's own settings instead of being copied into it by hand."""

import math
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from episodes.files.uploads import largest_limit
from episodes.files.views import MULTIPART_OVERHEAD

# Inside the package, so that an installed service renders it too.
TEMPLATE = Path(__file__).resolve().parents[2] / "nginx" / "episode-metadata.conf.template"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class Command(BaseCommand):
    help = (
        "Print the nginx configuration (episode_metadata/nginx/episode-metadata.conf.template) for "
        "these server processes, with the static root and upload limit of these settings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--server",
            action="append",
            required=True,
            metavar="HOST:PORT",
            help="a server process (`manage.py serve --no-worker`); repeat for each",
        )
        parser.add_argument("--server-name", required=True, help="the public host name")
        parser.add_argument("--certificate", required=True, help="TLS certificate chain (PEM)")
        parser.add_argument("--certificate-key", required=True, help="its private key (PEM)")
        parser.add_argument("--http-listen", default="80", help="[address:]port for HTTP")
        parser.add_argument("--https-listen", default="443", help="[address:]port for HTTPS")
        parser.add_argument("--log-dir", default="/var/log/nginx", help="for the access log")

    def handle(self, *args, **options) -> None:
        self.stdout.write(render(values_from(options)), ending="")


def values_from(options: dict) -> dict[str, str]:
    https_port = options["https_listen"].rsplit(":", 1)[-1]
    public_url = f"https://{options['server_name']}"
    if https_port != "443":
        public_url += f":{https_port}"
    return {
        "upstream_servers": "\n".join(f"    server {server};" for server in options["server"]),
        "server_name": options["server_name"],
        "public_url": public_url,
        "certificate": options["certificate"],
        "certificate_key": options["certificate_key"],
        "http_listen": options["http_listen"],
        "https_listen": options["https_listen"],
        "log_dir": options["log_dir"],
        "static_root": str(settings.STATIC_ROOT),
        "upload_max_body_size": f"{math.ceil((largest_limit() + MULTIPART_OVERHEAD) / 2**20)}m",
    }


def render(values: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise CommandError(f"the template names an unknown value {match.group(0)}") from None

    return PLACEHOLDER.sub(fill, TEMPLATE.read_text())
