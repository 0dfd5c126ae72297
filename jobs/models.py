import uuid
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_ATTEMPTS_LIMIT = 20
MIN_PRIORITY, MAX_PRIORITY = -100, 100


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    RETRY_SCHEDULED = "retry_scheduled"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A worker may claim a job in these states once its `run_after` has come.
WAITING = (JobStatus.PENDING, JobStatus.RETRY_SCHEDULED)
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """One run of a registered handler, from enqueue to its last attempt. The queue itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job_type = models.CharField(max_length=64)
    queue_name = models.CharField(max_length=64, default="default")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    # Payloads are validated data: dates and decimals are stored as their ISO/str forms.
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=4)
    # One entry per failed attempt: {"at", "attempt", "type", "message", "traceback"}.
    errors = models.JSONField(default=list, blank=True)
    priority = models.SmallIntegerField(default=0)
    run_after = models.DateTimeField(default=timezone.now)
    timeout_seconds = models.PositiveIntegerField(default=900)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True, default="")
    episode = models.ForeignKey(
        "episodes.Episode",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        db_index=False,  # job_episode_idx leads with it
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs_created",
        db_index=False,  # job_created_by_idx leads with it
    )
    worker_id = models.CharField(max_length=64, blank=True, default="")
    # Renewed by the worker while the job runs; a stale one means the worker is gone.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="job_status_valid"
            ),
            models.CheckConstraint(condition=~Q(job_type=""), name="job_type_not_blank"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_percent"),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=MAX_ATTEMPTS_LIMIT),
                name="job_max_attempts_range",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=MIN_PRIORITY, priority__lte=MAX_PRIORITY),
                name="job_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1), name="job_timeout_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.RUNNING) | Q(heartbeat_at__isnull=False),
                name="job_running_has_heartbeat",
            ),
        ]
        indexes = [
            # The claim: waiting jobs of a queue, highest priority first, oldest first.
            models.Index(
                "queue_name",
                models.F("priority").desc(),
                "run_after",
                name="job_claim_idx",
                condition=Q(status__in=WAITING),
            ),
            # Crash recovery scans running jobs by heartbeat.
            models.Index(
                fields=["heartbeat_at"],
                name="job_running_idx",
                condition=Q(status=JobStatus.RUNNING),
            ),
            models.Index(fields=["status", "created_at"], name="job_status_idx"),
            models.Index(fields=["job_type", "created_at"], name="job_type_idx"),
            models.Index(fields=["episode", "created_at"], name="job_episode_idx"),
            models.Index(fields=["created_by", "created_at"], name="job_created_by_idx"),
            models.Index(fields=["created_at"], name="job_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} {str(self.id)[:8]}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def last_error(self) -> str:
        """The latest failed attempt, as one line for lists and live events."""
        if not self.errors:
            return ""
        latest = self.errors[-1]
        return f"{latest.get('type', 'Error')}: {latest.get('message', '')}"


class Worker(models.Model):
    """A job worker (one supervisor and its processes) as it last reported itself.

    Readiness and operators count the live ones: a worker that stops renewing `heartbeat_at`
    has died without saying so, one that stopped cleanly says when.
    """

    # `hostname:pid`, the prefix of the `worker_id` its processes give the jobs they run.
    name = models.CharField(max_length=255, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="worker_name_not_blank"),
            models.CheckConstraint(condition=Q(concurrency__gte=1), name="worker_concurrency_min"),
            models.CheckConstraint(
                condition=Q(heartbeat_at__gte=models.F("started_at")),
                name="worker_heartbeat_after_start",
            ),
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=True) | Q(stopped_at__gte=models.F("started_at")),
                name="worker_stopped_after_start",
            ),
        ]
        indexes = [
            # Live workers are the recent heartbeats; departed ones are deleted by age.
            models.Index(fields=["heartbeat_at"], name="worker_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class PeriodicTask(models.Model):
    """A task declared in `jobs.periodic` as the job workers share it: the period claimed
    last, and how its runs went.

    Workers create the row of each declared task as they start; a worker runs the task only
    after moving `next_due_at` past now in one conditional UPDATE, so each period runs once
    whatever the number of workers.
    """

    name = models.CharField(max_length=64, unique=True)
    every = models.DurationField()
    next_due_at = models.DateTimeField()
    # The worker (`hostname:pid`) that claimed the latest period.
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_duration_seconds = models.FloatField(null=True, blank=True)
    # What the latest successful run cleaned; null when it reported no count.
    last_count = models.PositiveBigIntegerField(null=True, blank=True)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    cleaned = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="periodic_task_name_not_blank"),
            models.CheckConstraint(
                condition=Q(every__gt=timedelta(0)), name="periodic_task_every_positive"
            ),
            models.CheckConstraint(
                condition=Q(failures__lte=models.F("runs")), name="periodic_task_failures_of_runs"
            ),
        ]

    def __str__(self) -> str:
        return self.name
