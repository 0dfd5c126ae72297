"""HTTP load from wrk (Debian's package, which `make bench` installs when missing), read back
as numbers: a Lua `done` hook prints the summary as one JSON line, rather than our parsing
the text wrk prints for people."""

import json
import subprocess
import tempfile
from dataclasses import dataclass

SUMMARY = "wrk-summary "
REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-summary {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def script(method: str = "GET", body: str | None = None) -> str:
    """The Lua script: the request to repeat (wrk's default is a bare GET) and the report."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        if "]==]" in body:
            raise ValueError("the body would end the Lua string that holds it")
        lines += [f"wrk.body = [==[{body}]==]", 'wrk.headers["Content-Type"] = "application/json"']
    return "\n".join(lines) + "\n" + REPORT


def parse(output: str) -> Result:
    """The summary in wrk's output; a run with any failed request or socket error is refused,
    since a rate of errors (a 401, say) would pass for a rate of answers."""
    lines = [line for line in output.splitlines() if line.startswith(SUMMARY)]
    if len(lines) != 1:
        raise ValueError(f"expected one summary line in wrk's output, got {len(lines)}")
    summary = json.loads(lines[0].removeprefix(SUMMARY))
    result = Result(summary["requests"], summary["duration_us"] / 1e6, summary["errors"])
    failed = {kind: n for kind, n in result.errors.items() if n}
    if failed or not result.requests:
        raise RuntimeError(f"wrk: {result.requests} answers, errors {failed}")
    return result


def run(
    url: str,
    *,
    connections: int,
    seconds: int,
    authorization: str,
    method: str = "GET",
    body: str | None = None,
) -> Result:
    """One thread: wrk shares the machine with the servers, and one core keeps up."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script(method, body))
        lua.flush()
        completed = subprocess.run(
            [
                "wrk",
                "--threads=1",
                f"--connections={connections}",
                f"--duration={seconds}s",
                "--timeout=10s",
                f"--header=Authorization: {authorization}",
                f"--script={lua.name}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    return parse(completed.stdout)
