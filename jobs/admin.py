from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from jobs import periodic, scheduler, selectors, services
from jobs.models import Job, JobStatus, PeriodicTask, Worker

if TYPE_CHECKING:
    from jobs.selectors import LiveWorker


class _RegisteredFilter(admin.SimpleListFilter):
    """Choices from the registered job types: listing the table's distinct values would
    scan every job."""

    parameter_name: str

    def choices_from(self, types) -> list[str]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(value, value) for value in sorted(set(self.choices_from(selectors.job_types())))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


class JobTypeFilter(_RegisteredFilter):
    title = "job type"
    parameter_name = "job_type"

    def choices_from(self, types) -> list[str]:
        return [declared.name for declared in types]


class QueueFilter(_RegisteredFilter):
    title = "queue"
    parameter_name = "queue_name"

    def choices_from(self, types) -> list[str]:
        return [declared.task.queue_name for declared in types]


def _jobs(count: int, kind: str = "") -> str:
    noun = "job" if count == 1 else "jobs"
    return " ".join(part for part in (str(count), kind, noun) if part)


# A job's page. Names of their own: `fields` as the admin's stubs declare it holds field
# groups too, which `readonly_fields` does not take.
_JOB_FIELDS = (
    "id",
    "job_type",
    "payload",
    "status",
    "queue_name",
    "priority",
    "run_after",
    "max_attempts",
    "attempts",
    "timeout_seconds",
    "progress",
    "progress_message",
    "result",
    "failed_attempts",
    "episode",
    "created_by",
    "worker_id",
    "heartbeat_at",
    "cancel_requested_at",
    "created_at",
    "started_at",
    "finished_at",
)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Watch the queue, and retry or cancel jobs in bulk. Jobs are enqueued through the API
    or in code, where their payload is checked against their type, so none are added here."""

    list_display = [
        "id",
        "job_type",
        "status",
        "queue_name",
        "attempts_display",
        "progress_display",
        "created_at",
        "worker_id",
    ]
    list_filter = ["status", JobTypeFilter, QueueFilter, "created_at"]
    # `id__exact` skips terms that are not UUIDs and finds the rest by primary key.
    search_fields = ["id__exact", "job_type"]
    ordering = ["-created_at"]
    # Counting the whole table for "N total" on every page would be slow once it is large.
    show_full_result_count = False
    raw_id_fields = ["episode"]
    actions = ["retry_selected", "cancel_selected"]
    fields = _JOB_FIELDS
    # Scheduling stays editable; the rest is what the worker records and what enqueueing
    # fixed (the payload was checked against the type).
    readonly_fields = [
        name
        for name in _JOB_FIELDS
        if name
        not in {"queue_name", "priority", "run_after", "max_attempts", "timeout_seconds", "episode"}
    ]

    @admin.display(description="attempts")
    def attempts_display(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="progress", ordering="progress")
    def progress_display(self, job: Job) -> str:
        return f"{job.progress}%"

    @admin.display(description="failed attempts")
    def failed_attempts(self, job: Job) -> SafeString | None:
        if not job.errors:
            return None  # shown as the admin's empty value
        return format_html_join(
            "",
            "<p>Attempt {} at {}: {}: {}</p><pre>{}</pre>",
            (
                (
                    e.get("attempt"),
                    e.get("at"),
                    e.get("type"),
                    e.get("message"),
                    e.get("traceback", ""),
                )
                for e in job.errors
            ),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Job, form, change: bool) -> None:
        # Only the edited fields: a full save would write back the worker's fields as they
        # were when the form loaded, undoing whatever the worker recorded in between.
        obj.save(update_fields=form.changed_data)

    @admin.action(description="Retry selected jobs", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        retried = skipped = 0
        for job in queryset:
            try:
                services.retry(job)
            except services.JobStateError:
                skipped += 1
            else:
                retried += 1
        if retried:
            self.message_user(request, f"Retried {_jobs(retried)}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {_jobs(skipped)}: only failed or cancelled jobs can be retried.",
                messages.WARNING,
            )

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = stopping = skipped = 0
        for job in queryset:
            try:
                job = services.cancel(job)
            except services.JobStateError:
                skipped += 1
                continue
            if job.status == JobStatus.CANCELLED:
                cancelled += 1
            else:
                stopping += 1
        if cancelled:
            self.message_user(request, f"Cancelled {_jobs(cancelled)}.", messages.SUCCESS)
        if stopping:
            self.message_user(
                request, f"Asked {_jobs(stopping, 'running')} to stop.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {_jobs(skipped)}: only waiting or running jobs can be cancelled.",
                messages.WARNING,
            )


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Job workers as they last reported themselves; they write these rows, nobody else."""

    list_display = [
        "name",
        "state",
        "queues_display",
        "concurrency",
        "started_at",
        "heartbeat_at",
        "stopped_at",
    ]
    list_filter = ["hostname"]
    search_fields = ["name"]
    ordering = ["-started_at"]

    def get_queryset(self, request: HttpRequest) -> "QuerySet[LiveWorker]":
        return selectors.workers(fresh_within=settings.JOBS_LEASE_SECONDS)

    @admin.display(description="state")
    def state(self, worker: "LiveWorker") -> str:
        if worker.live:
            return "alive"
        return "stopped" if worker.stopped_at is not None else "silent (presumed dead)"

    @admin.display(description="queues")
    def queues_display(self, worker: Worker) -> str:
        return ", ".join(worker.queues)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Worker | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Worker | None = None) -> bool:
        return False


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(admin.ModelAdmin):
    """The housekeeping schedule as the workers record it; periods are declared in code
    (`jobs.periodic`), so nothing here is edited, but a task can be made due at once."""

    list_display = [
        "name",
        "every",
        "last_started_at",
        "last_success_at",
        "last_failure_at",
        "last_error",
        "next_due_at",
        "declared",
    ]
    readonly_fields = [field.name for field in PeriodicTask._meta.fields]
    actions = ["run_now"]

    @admin.display(description="declared", boolean=True)
    def declared(self, task: PeriodicTask) -> bool:
        """A row outlives the task's declaration; such a task no longer runs."""
        return task.name in {declared.name for declared in periodic.tasks()}

    @admin.action(description="Run selected tasks now", permissions=["run"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        marked = scheduler.mark_due(queryset.values_list("name", flat=True))
        self.message_user(
            request,
            f"{marked} task(s) due now: a job worker runs each within "
            f"{scheduler.CHECK_SECONDS:.0f} seconds.",
            messages.SUCCESS,
        )

    def has_run_permission(self, request: HttpRequest) -> bool:
        """Changing the schedule's timing, though the row itself is not edited."""
        return request.user.has_perm("jobs.change_periodictask")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PeriodicTask | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PeriodicTask | None = None) -> bool:
        return False
