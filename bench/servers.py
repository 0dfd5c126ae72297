"""The ASGI servers compared under fan-out load, one process each, compression off."""

import sys

from tests.service_process import Server, uvicorn


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


def server_pid(server: Server) -> int:
    """The process of a server measured, which must have been started."""
    if server.process is None:
        raise RuntimeError(f"the server on port {server.port} was never started")
    return server.process.pid
