"""A Django Tasks backend whose queue is the `Job` table, so `some_task.enqueue(...)` is a job.

Only registered job types can be enqueued (their payload is validated like the API's);
keyword arguments are the payload. A result reads back the job row.
"""

import uuid
from typing import Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from rest_framework.exceptions import ValidationError

from episode_metadata.common import context
from jobs import registry, services
from jobs.models import Job, JobStatus

_STATUS: dict[str, TaskResultStatus] = {
    JobStatus.PENDING: TaskResultStatus.READY,
    JobStatus.RETRY_SCHEDULED: TaskResultStatus.READY,
    JobStatus.RUNNING: TaskResultStatus.RUNNING,
    JobStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}


class DatabaseBackend(BaseTaskBackend):
    supports_defer = True
    supports_priority = True
    supports_get_result = True

    def enqueue(self, task, args, kwargs) -> TaskResult:
        self.validate_task(task)
        declared = registry.for_task(task)
        if declared is None:
            raise InvalidTask(
                f"{task.module_path} is not a registered job type (see jobs.registry)."
            )
        if args:
            raise InvalidTask("Jobs take their payload as keyword arguments only.")
        payload = declared.payload(data=kwargs)
        if not payload.is_valid():
            raise ValidationError(payload.errors)
        job = services.enqueue(
            declared,
            payload.validated_data,
            user=context.current().get_user(),
            priority=task.priority,
            run_after=task.run_after,
            queue_name=task.queue_name,
        )
        return self._result(job, task)

    def get_result(self, result_id) -> TaskResult:
        job = Job.objects.filter(pk=result_id).first() if _is_uuid(result_id) else None
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        declared = registry.get(job.job_type)
        if declared is None:
            raise TaskResultDoesNotExist(f"{result_id} is of an unregistered type {job.job_type}")
        return self._result(job, declared.task)

    def _result(self, job: Job, task: "Task[..., Any]") -> "TaskResult[..., Any]":
        result: TaskResult[..., Any] = TaskResult(
            task=task,
            id=str(job.pk),
            status=_STATUS[job.status],
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            last_attempted_at=job.started_at if job.attempts else None,
            args=[],
            kwargs=job.payload,
            backend=self.alias,
            errors=[
                TaskError(exception_class_path=e["type"], traceback=e.get("traceback", ""))
                for e in job.errors
            ],
            worker_ids=[job.worker_id] * job.attempts,
        )
        object.__setattr__(result, "_return_value", job.result)
        return result


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
