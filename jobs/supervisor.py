"""The job worker: N child processes running jobs, and one supervisor looking after them.

The supervisor spawns the children (`jobs.child`), wakes idle ones when work arrives,
publishes the live events they forward, runs the periodic housekeeping (`jobs.scheduler`, on
a thread of its own; it takes back jobs of workers that died anywhere), nudges this process's notifier when they commit activity
(`activity.notifications.runner`), keeps its row in the worker table fresh (`jobs.workers`),
kills a child whose job ignores its timeout, and on stop lets running jobs finish within a
grace period before handing the rest back to the queue.

It runs as `manage.py run_jobs`, or inside the server process with `manage.py serve`
(which `make run` uses), where the children's events reach WebSocket clients directly.
"""

import contextlib
import logging
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from django.conf import settings
from django.db import connection, transaction

from activity import services as activity_services
from activity.models import Action
from activity.notifications import runner as notifier
from episode_metadata.common import context
from episode_metadata.common.context import Source
from jobs import child, events, runtime, scheduler, services, wakeup, workers
from jobs import metrics as job_attempts

logger = logging.getLogger(__name__)

# A handler stuck where SIGALRM cannot reach it (a C call) is killed this long after its
# timeout.
HARD_TIMEOUT_GRACE_SECONDS = 30.0
DEFAULT_GRACE_SECONDS = 30.0
NUDGE_INTERVAL_SECONDS = 0.5


@dataclass
class Nudges:
    """When to nudge the notifier of the children's commits: at once after a quiet spell,
    then at most every `interval` while they keep committing. In a burst of short jobs, a
    notification pass every few commits took half the supervisor's CPU; now a notification
    may wait up to `interval` longer."""

    interval: float = NUDGE_INTERVAL_SECONDS
    pending: bool = False
    _next: float = 0.0

    def due(self, now: float) -> bool:
        """Whether to nudge now; True once for each batch of commits."""
        if not self.pending or now < self._next:
            return False
        self.pending = False
        self._next = now + self.interval
        return True

    def wait_seconds(self, now: float, longest: float) -> float:
        """How long the supervisor may wait for its pipes before a pending nudge is due."""
        if not self.pending:
            return longest
        return max(0.0, min(longest, self._next - now))


@dataclass
class _Slot:
    number: int
    worker_id: str
    process: multiprocessing.process.BaseProcess
    conn: Connection
    # What it runs: (job id, attempt, deadline on the monotonic clock).
    running: tuple[str, int, float] | None = None
    idle: bool = True
    # A wake-up came while it looked busy: it may have claimed, found nothing and gone to
    # sleep before its "finished" reached us, so it is woken again once that arrives.
    woken_while_busy: bool = False
    spawned_at: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(
        self,
        *,
        concurrency: int = 1,
        queues: list[str] | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self.concurrency = concurrency
        self.queues = queues or ["default"]
        self.grace_seconds = grace_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._slots: list[_Slot] = []
        self._stopping = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._listener: wakeup.PostgresListener | None = None
        self._wake_socket: socket.socket | None = None
        self._announce = False
        self._nudges = Nudges()
        self._context = multiprocessing.get_context("spawn")
        self._heartbeat = workers.Heartbeat(
            name=self.name,
            queues=self.queues,
            concurrency=concurrency,
            interval=settings.JOBS_LEASE_SECONDS / 3,
        )
        self._scheduler = scheduler.Scheduler(worker=self.name)

    def wake(self) -> None:
        """Safe from any thread: something is waiting to run."""
        with contextlib.suppress(OSError):  # full: a wake-up is pending already
            self._wake_writer.send(b"w")

    def stop(self) -> None:
        """Stop claiming and shut down. Safe from any thread and from a signal handler, also
        one that interrupts `stop` itself (a second SIGTERM): it takes no lock, where the
        lock inside `threading.Event.set` would wait forever on the frame it interrupted."""
        self._stopping = True
        self.wake()

    def run(self) -> None:
        self._start()
        try:
            while not self._stopping:
                self._serve_once()
        finally:
            self._shut_down()

    def _start(self) -> None:
        for number in range(self.concurrency):
            self._slots.append(self._spawn(number))
        wakeup.listen_locally(self.wake)
        if connection.vendor == "postgresql":
            self._listener = wakeup.PostgresListener(self.wake).start()
        self._wake_socket = wakeup.bind_socket()
        self._announce_start()
        self._heartbeat.start()
        self._scheduler.start()
        logger.info(
            "job worker %s started: %d processes on queues %s",
            self.name,
            self.concurrency,
            ",".join(self.queues),
        )

    def _spawn(self, number: int) -> _Slot:
        parent_end, child_end = self._context.Pipe()
        worker_id = f"{self.name}:{number}"
        process = self._context.Process(
            target=child.main,
            args=(child_end, worker_id, self.queues, settings.JOBS_POLL_SECONDS),
            name=f"job-worker-{number}",
            daemon=True,
        )
        process.start()
        child_end.close()
        return _Slot(number=number, worker_id=worker_id, process=process, conn=parent_end)

    def _announce_start(self) -> None:
        summary = {
            "worker": self.name,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": self.concurrency,
            "queues": self.queues,
        }
        with (
            context.acting(
                context.ActivityContext(source=Source.JOB, actor_label=f"worker {self.name}")
            ),
            transaction.atomic(),
        ):
            activity_services.record_event(
                resource_type="job_processor",
                resource_id=self.name,
                resource_repr=f"job worker {self.name}",
                action=Action.START,
                metadata={"summary": summary},
            )

    def _serve_once(self) -> None:
        wake_ups: list[socket.socket] = [self._wake_reader]
        if self._wake_socket is not None:
            wake_ups.append(self._wake_socket)
        waitables: list[Connection | socket.socket | int] = [
            *wake_ups,
            *(slot.conn for slot in self._slots),
        ]
        waitables += [slot.process.sentinel for slot in self._slots]
        ready = wait(waitables, timeout=self._nudges.wait_seconds(time.monotonic(), 1.0))
        if woken := [sock for sock in wake_ups if sock in ready]:
            for sock in woken:
                _drain(sock)
            self._wake_idle()
        for slot in list(self._slots):
            if slot.conn in ready:
                self._receive(slot)
            if not slot.process.is_alive():
                self._replace(slot)
        if self._announce:
            self._announce = False
            events.activity_committed()
            self._nudges.pending = True
        if self._nudges.due(time.monotonic()):
            notifier.nudge()
        self._enforce_hard_timeouts()
        self._heartbeat.beat_if_due()

    def _wake_idle(self) -> None:
        for slot in self._slots:
            if slot.idle:
                self._send(slot, "wake")
            else:
                slot.woken_while_busy = True

    def _send(self, slot: _Slot, message: str) -> None:
        with contextlib.suppress(OSError):  # the child is gone; _replace deals with it
            slot.conn.send(message)

    def _receive(self, slot: _Slot) -> None:
        try:
            while slot.conn.poll():
                self._handle(slot, slot.conn.recv())
        except (EOFError, OSError):
            pass

    def _handle(self, slot: _Slot, message: tuple) -> None:
        committed, kind, *details = message
        self._announce |= committed  # once per pass, however many children committed
        if kind == "event":
            (event,) = details
            events.event_relayed(event)
        elif kind == "busy":
            (running,) = details
            self._running(slot, running)
        elif kind == "finished":
            _job_id, status, job_type, seconds, next_job = details
            job_attempts.attempt_finished(job_type, status, seconds)
            if next_job is not None:
                # It claimed its next job as it answered: any job a wake-up meant is one
                # it will see when it next claims.
                self._running(slot, next_job)
                slot.woken_while_busy = False
                return
            slot.running = None
            slot.idle = True
            if slot.woken_while_busy:
                slot.woken_while_busy = False
                self._send(slot, "wake")

    @staticmethod
    def _running(slot: _Slot, running: tuple[str, int, int]) -> None:
        job_id, attempt, timeout_seconds = running
        slot.running = (job_id, attempt, time.monotonic() + timeout_seconds)
        slot.idle = False

    def _replace(self, slot: _Slot) -> None:
        self._receive(slot)
        code = slot.process.exitcode
        if slot.running is not None:
            logger.error(
                "job worker process %s exited (code %s) while running job %s",
                slot.worker_id,
                code,
                slot.running[0],
            )
            self._fail(
                slot,
                slot.running,
                RuntimeError(f"the worker process exited with code {code} during the job"),
            )
        elif not self._stopping:
            logger.error(
                "job worker process %s exited (code %s); starting another", slot.worker_id, code
            )
        slot.conn.close()
        if self._stopping:
            self._slots.remove(slot)
            return
        if time.monotonic() - slot.spawned_at < 1.0:
            time.sleep(1.0)  # a child that dies at once (bad settings) must not spin
        self._slots[self._slots.index(slot)] = self._spawn(slot.number)

    def _fail(self, slot: _Slot, running: tuple[str, int, float], exc: BaseException) -> None:
        """Answer for a child that can no longer answer for its job (`running`)."""
        job_id, attempt, _ = running
        slot.running = None
        with context.acting(_worker_context(slot.worker_id, job_id)):
            job = services.attempt(job_id, worker_id=slot.worker_id, attempts=attempt)
            if job is not None:
                status = services.fail_attempt(job, services.error_entry(exc, attempt=attempt))
                job_attempts.attempt_finished(job.job_type, status)

    def _enforce_hard_timeouts(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.running is not None and now > slot.running[2] + HARD_TIMEOUT_GRACE_SECONDS:
                logger.error(
                    "job %s ignored its timeout; killing worker process %s",
                    slot.running[0],
                    slot.worker_id,
                )
                slot.process.kill()
                slot.process.join()
                timeout = runtime.JobTimeout("the job ran past its timeout and was killed")
                self._fail(slot, slot.running, timeout)

    def _shut_down(self) -> None:
        logger.info(
            "job worker %s stopping; running jobs get %.0f s to finish",
            self.name,
            self.grace_seconds,
        )
        self._scheduler.stop()
        wakeup.stop_listening_locally(self.wake)
        if self._listener is not None:
            self._listener.stop()
        if self._wake_socket is not None:
            wakeup.unbind_socket(self._wake_socket)
            self._wake_socket = None
        for slot in self._slots:
            self._send(slot, "stop")
        deadline = time.monotonic() + self.grace_seconds
        while self._slots and time.monotonic() < deadline:
            self._serve_once()
        for slot in list(self._slots):
            slot.process.kill()
            slot.process.join()
            if slot.running is not None:
                job_id, attempt, _ = slot.running
                with context.acting(_worker_context(slot.worker_id, job_id)):
                    job = services.attempt(job_id, worker_id=slot.worker_id, attempts=attempt)
                    if job is not None:
                        services.release(job)
            slot.conn.close()
        self._slots.clear()
        self._scheduler.join(timeout=deadline - time.monotonic())
        self._heartbeat.stop()
        connection.close()
        logger.info("job worker %s stopped", self.name)


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass


def _worker_context(worker_id: str, job_id: str) -> context.ActivityContext:
    return context.ActivityContext(
        source=Source.JOB,
        request_id=f"job:{job_id}",
        actor_label=f"worker {worker_id}",
        job_id=str(job_id),
    )
