"""The floor under the job worker: a bare claim/complete loop on the same job table.

Each process claims a due job with `SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1` and marks it
running (one commit), then marks it completed (another commit), in plain SQL over psycopg.
No Django, no handler, no activity log, no events, no supervisor: what is left is what the
database itself costs a job, for comparison with `manage.py run_jobs` in the same run.
PostgreSQL only, like the throughput it is compared with.
"""

import multiprocessing

import psycopg

CLAIM = """
    SELECT id FROM jobs_job
    WHERE status IN ('pending', 'retry_scheduled') AND queue_name = 'default'
      AND run_after <= now()
    ORDER BY priority DESC, run_after LIMIT 1 FOR UPDATE SKIP LOCKED
"""
START = """
    UPDATE jobs_job SET status = 'running', attempts = attempts + 1, worker_id = %s,
      heartbeat_at = now(), started_at = coalesce(started_at, now())
    WHERE id = %s
"""
COMPLETE = """
    UPDATE jobs_job SET status = 'completed', progress = 100, finished_at = now(),
      heartbeat_at = NULL
    WHERE id = %s AND status = 'running' AND worker_id = %s
"""


def _loop(conninfo: str, worker_id: str, ready) -> None:
    with psycopg.connect(conninfo) as conn:
        ready.wait()  # all connected: none starts ahead while the others start up
        while True:
            with conn.transaction():
                row = conn.execute(CLAIM).fetchone()
                if row is None:
                    return
                conn.execute(START, (worker_id, row[0]))
            with conn.transaction():
                conn.execute(COMPLETE, (row[0], worker_id))


def drain(conninfo: str, processes: int) -> None:
    """Run the due jobs of the default queue to completion in `processes` processes."""
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Barrier(processes)
    loops = [
        spawn.Process(target=_loop, args=(conninfo, f"bare:{number}", ready))
        for number in range(processes)
    ]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join()
        if loop.exitcode != 0:
            raise RuntimeError(f"a bare job loop exited with {loop.exitcode}")
