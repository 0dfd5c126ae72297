"""Built-in job types of the jobs app."""

import time

from django.tasks import task
from rest_framework import serializers

from jobs import runtime
from jobs.registry import job_type


class DiagnosticPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0, max_value=3600, default=0)
    steps = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    fail_attempts = serializers.IntegerField(
        min_value=0, max_value=20, default=0, help_text="fail this many attempts before succeeding"
    )


class DiagnosticResult(serializers.Serializer):
    attempt = serializers.IntegerField(min_value=1, help_text="The attempt that succeeded.")
    seconds = serializers.FloatField(min_value=0)
    steps = serializers.IntegerField(min_value=1)


@job_type("diagnostic", payload=DiagnosticPayload, result=DiagnosticResult)
@task
def diagnostic(*, seconds: float = 0, steps: int = 1, fail_attempts: int = 0) -> dict:
    """Exercises a deployment's workers end to end: waits `seconds` in `steps`, reporting
    progress and honouring cancellation, after failing its first `fail_attempts` attempts
    (to check retries, the dead-letter state and the alerts on it)."""
    attempt = runtime.attempt()
    if attempt <= fail_attempts:
        raise RuntimeError(f"failing attempt {attempt} of the first {fail_attempts}, as asked")
    for step in range(1, steps + 1):
        runtime.stop_if_cancelled()
        if seconds:
            time.sleep(seconds / steps)
        runtime.report_progress(100 * step // steps, f"step {step} of {steps}")
    return {"attempt": attempt, "seconds": seconds, "steps": steps}
