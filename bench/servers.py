"""The ASGI servers compared under fan-out load, one process each, compression off."""

import sys

from tests.service_process import uvicorn


def daphne(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-p", str(port), app]


def granian(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--port",
        str(port),
        "--no-access-log",
        "--loop",
        "uvloop",
        app.replace(":", ":", 1),
    ]


COMMANDS = {"uvicorn": uvicorn, "daphne": daphne, "granian": granian}
