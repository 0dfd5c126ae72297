"""What `make bench` reads back from wrk and /proc for the request comparison
(bench/requests_vs_bare.py), and how it turns rounds into a verdict."""

import os
import time

import pytest

from bench import cpu, wrk
from bench.endpoints import Endpoint
from bench.requests_vs_bare import Row, Side

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/health
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.35ms    2.10ms  30.12ms   90.00%
    Req/Sec   428.50     20.00   460.00     70.00%
  857 requests in 2.00s, 170.73KB read
Requests/sec:    428.21
Transfer/sec:     85.31KB
wrk-summary {"requests": 857, "duration_us": 2001350, "errors": {"connect": 0, "read": 0, "write": 0, "status": STATUS, "timeout": 0}}
"""


def test_the_summary_line_gives_the_requests_and_the_seconds():
    result = wrk.parse(WRK_OUTPUT.replace("STATUS", "0"))

    assert result.requests == 857
    assert result.seconds == pytest.approx(2.00135)
    assert result.rate == pytest.approx(428.2, abs=0.1)


def test_a_run_with_failed_requests_is_refused():
    with pytest.raises(RuntimeError, match="'status': 3"):
        wrk.parse(WRK_OUTPUT.replace("STATUS", "3"))


def test_output_without_the_summary_line_is_refused():
    with pytest.raises(ValueError, match="got 0"):
        wrk.parse(WRK_OUTPUT.rsplit("wrk-summary", 1)[0])


def test_a_run_without_answers_is_refused():
    empty = WRK_OUTPUT.replace("STATUS", "0").replace('"requests": 857', '"requests": 0')

    with pytest.raises(RuntimeError, match="0 answers"):
        wrk.parse(empty)


def test_the_script_repeats_the_request_and_reports():
    get = wrk.script()
    post = wrk.script("POST", '{"title": "Bench"}')

    assert 'wrk.method = "GET"' in get
    assert "wrk.body" not in get
    assert 'wrk.method = "POST"' in post
    assert 'wrk.body = [==[{"title": "Bench"}]==]' in post
    assert 'wrk.headers["Content-Type"] = "application/json"' in post
    assert all("done = function(summary" in script for script in (get, post))


def test_a_body_that_would_end_its_lua_string_is_refused():
    with pytest.raises(ValueError):
        wrk.script("POST", '{"title": "]==]"}')


def test_cpu_time_is_read_past_a_command_name_with_spaces_and_parentheses():
    ticks = os.sysconf("SC_CLK_TCK")
    stat = (
        "4242 (python (serve) x) S 1 4242 4242 0 -1 4194560 9551 0 0 0 "
        f"{3 * ticks} {ticks // 2} 0 0 20 0 6 0 1000 1 1 18446744073709551615"
    )

    assert cpu.stat_seconds(stat) == pytest.approx(3.5)


def test_this_process_cpu_time_grows_as_it_works():
    before = cpu.process_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))

    assert cpu.process_seconds(os.getpid()) > before


def test_the_machine_is_busy_while_this_process_works():
    busy, total = cpu.machine_seconds()
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        pass
    busy_after, total_after = cpu.machine_seconds()

    assert busy_after - busy >= 0.1
    # Every core's time, idle or not: at least the 0.2 s that passed, to the clock tick.
    assert total_after - total >= 0.19


def test_the_ratio_is_the_median_of_each_pair_of_rounds():
    list_endpoint = Endpoint("list", "GET", "/api/v1/episodes/", target=0.8)
    # The machine slows down in the second pair: both sides see it.
    row = Row(list_endpoint, 4, Side(rates=[90, 45, 80]), Side(rates=[100, 50, 100]))

    assert row.ratio == pytest.approx(0.9)
    assert row.met
    assert not Row(list_endpoint, 4, Side(rates=[70]), Side(rates=[100])).met
