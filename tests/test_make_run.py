"""`make run` as a new user meets it: it starts, prints the admin password, serves the README's
curl examples as written, and Ctrl-C stops it."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.service_process import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.server


def wait_for_password(process: subprocess.Popen, port: int, timeout: float = 120) -> str:
    """Read `make run` output until the server listens; return the printed admin password."""
    deadline = time.monotonic() + timeout
    output = []
    password = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if match := re.match(r"\s+password: (\S+)", line):
            password = match.group(1)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    text = "".join(output)
    assert password, f"no password printed:\n{text}"
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    return password


def readme_curl_examples() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The API in brief", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture
def running_service(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MAKEFLAGS", "MAKELEVEL"}
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port))
    env.pop("DJANGO_SUPERUSER_PASSWORD", None)
    env.pop("DJANGO_SUPERUSER_USERNAME", None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        password = wait_for_password(process, port)
        yield process, port, password
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_readme_examples_work_against_make_run(running_service):
    _, port, password = running_service
    script = readme_curl_examples()
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("PASTE-THE-PASSWORD-HERE", password)

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert '"title":"Pilot"' in result.stdout  # the list shows the new episode
    assert '"status":"approved"' in result.stdout  # the update took
    assert '"description":"Where it all starts."' in result.stdout  # the If-Match matched
    assert "The resource changed" in result.stdout  # and the same one again got its 412
    exported = [line for line in result.stdout.splitlines() if ",Pilot," in line]
    assert len(exported) == 1 and ",approved," in exported[0]  # the job ran and its file came back
    assert result.stdout.rstrip().splitlines()[-2:] == ["204", "204"]  # delete, logout


def test_ctrl_c_stops_everything(running_service):
    process, port, _ = running_service

    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=30)

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # Job worker processes exit once they see the server gone, within a moment.
    deadline = time.monotonic() + 5
    while (leftovers := _processes_in_group(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers == ""


def _processes_in_group(group: int) -> str:
    found = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True)
    return found.stdout.strip()
