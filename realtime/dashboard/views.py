from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from activity.models import Action
from jobs.models import WAITING, JobStatus
from realtime import topics


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live dashboard. Served by the service itself, so its socket and API calls go with
    the browser session; the choices its filters offer come from the models they filter."""
    return render(
        request,
        "realtime/dashboard.html",
        {
            "actions": Action.values,
            "resource_types": sorted(topics.resource_types()),
            "job_statuses": JobStatus.choices,
            "unfinished_jobs": ",".join([JobStatus.RUNNING, *WAITING]),
        },
    )
