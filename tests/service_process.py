"""Starting the service as real processes, the way an operator would, for end-to-end tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_NAMES = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "VAR_DIR", "MAKEFLAGS", "MAKELEVEL"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_NAMES}
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_token(env: dict[str, str], username: str = "e2e", role: str | None = "approver") -> str:
    """A token for `username`, made if missing, in `role` too unless that is None."""
    return create_tokens(env, (username, role))[0]


def create_tokens(env: dict[str, str], *users: tuple[str, str | None]) -> list[str]:
    """A token for each (username, role) in turn, as `create_token` makes one, in one
    process: each process costs a start of Django."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.models import Group\n"
        "from knox.models import AuthToken\n"
    )
    for username, role in users:
        code += f"user, _ = get_user_model().objects.get_or_create(username={username!r})\n"
        if role is not None:
            code += (
                "user.groups.through.objects.get_or_create("
                f"user=user, group=Group.objects.get(name={role!r}))\n"
            )
        code += "print('TOKEN', AuthToken.objects.create(user=user)[1])\n"
    output = manage(env, "shell", "-c", code)
    return [line.split()[1] for line in output.splitlines() if line.startswith("TOKEN")]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port}")


def uvicorn(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
        "--ws-per-message-deflate",
        "false",
    ]


class Server:
    """One server process: `manage.py serve --no-worker`, as deployed, unless `command` says
    otherwise (`uvicorn`, say, to serve another ASGI application than the project's)."""

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        command=None,
        app: str = "episode_metadata.asgi:application",
        log: Path | None = None,
    ) -> None:
        self.env = env
        self.port = port or free_port()
        self.command = command or manage_command("serve", "--no-worker")
        self.app = app
        self.log = log  # the file the server's log (its stderr) goes to, if any
        self.process: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        with open(self.log or os.devnull, "ab") as stderr:
            self.process = subprocess.Popen(
                self.command(self.app, self.port),
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        wait_until_listening(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def manage_command(*args: str):
    """A `Server` command running `manage.py <args>` on the server's port."""

    def command(app: str, port: int) -> list[str]:
        return [sys.executable, "manage.py", *args, "--port", str(port)]

    return command


def start_worker(env: dict[str, str], *args: str, quiet: bool = False) -> subprocess.Popen:
    """`manage.py run_jobs` in a session of its own (its log goes to ours unless quiet)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_jobs", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
