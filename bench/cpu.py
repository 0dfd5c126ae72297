"""CPU time, from /proc: what a server spent on the requests of a round, and how busy the
whole machine was meanwhile."""

import os
import time

IDLE_INTERVAL = 0.1


def process_seconds(pid: int) -> float:
    """Every thread's user and system time so far."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat_seconds(stat.read())


def stat_seconds(stat: str) -> float:
    """utime + stime of a /proc/<pid>/stat line. The command name (field 2) may hold spaces
    and parentheses, so fields are counted from its closing one: utime and stime are fields
    14 and 15, in clock ticks."""
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_seconds() -> tuple[float, float]:
    """Busy and total CPU time of every core so far: /proc/stat's first line, whose idle and
    iowait are the idle part (guest time is counted in user already, so left out)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]
    per_second = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / per_second, sum(ticks) / per_second


def wait_until_idle(pid: int, *, timeout: float = 30.0) -> None:
    """Until a tenth of a second passes with under two clock ticks of work: a server still
    answering requests a load generator gave up on would take CPU from the next round."""
    deadline = time.monotonic() + timeout
    spent = process_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(IDLE_INTERVAL)
        now = process_seconds(pid)
        if now - spent < 2 / os.sysconf("SC_CLK_TCK"):
            return
        spent = now
    raise TimeoutError(f"process {pid} still busy after {timeout} s")


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs, as /proc lists them now."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in map(int, children.read().split()):
                found += [child, *descendants(child)]
    return found
