"""A small believable show for a new installation, so the dashboard, the API docs and the
admin have something to show before the team's own work arrives.

Everything goes through the services the API uses, acting as the demo's people, so the
activity log, the jobs and the files are what the same work done by hand would leave: the
episodes walk the workflow step by step, files are uploads, renders run on the worker's own
code path. It fills an empty database only: mixed into real episodes it would be noise.
"""

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image, ImageDraw

from episode_metadata.common import context
from episode_metadata.common.context import Source
from episodes import grants, services
from episodes.compositions import services as composition_services
from episodes.files import services as file_services
from episodes.files import sniffing, uploads
from episodes.models import Composition, Episode, EpisodeFile, EpisodeStatus, FileKind
from episodes.roles import APPROVER, EDITOR, VIEWER
from jobs import execution, registry
from jobs import services as job_services
from jobs.models import Job, JobStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SHOW = "Harbour Lights"
SEASON = 1
# The demo's people and their roles: one who writes, one who approves, one who watches.
PEOPLE = {"alice": EDITOR, "carol": APPROVER, "bob": VIEWER}

# Title, description, categories and the status the episode ends in, in airing order.
EPISODES: list[tuple[str, str, list[str], str]] = [
    (
        "The Night Ferry",
        "A stranger boards the last ferry out of Port Ellery and never steps off.",
        ["drama", "mystery"],
        EpisodeStatus.PUBLISHED,
    ),
    (
        "Low Tide",
        "The harbour drains further than anyone remembers, and the mud gives something back.",
        ["drama", "mystery"],
        EpisodeStatus.PUBLISHED,
    ),
    (
        "Salt and Iron",
        "Maggie takes the salvage contract her father swore the family would never touch.",
        ["drama"],
        EpisodeStatus.ARCHIVED,
    ),
    (
        "The Lighthouse Keeper's Daughter",
        "Forty years of logbooks, one missing page, and a name nobody in town will say.",
        ["drama", "mystery", "period"],
        EpisodeStatus.APPROVED,
    ),
    (
        "Fog Signal",
        "The horn sounds on a clear night. Tom is the only one who goes to look.",
        ["thriller"],
        EpisodeStatus.PENDING,
    ),
    (
        "Wreckers",
        "An old story about false lights on the headland turns out not to be a story.",
        ["thriller", "period"],
        EpisodeStatus.REJECTED,
    ),
    (
        "Harbour Master",
        "An election for harbour master splits the town down the middle of the quay.",
        ["drama", "comedy"],
        EpisodeStatus.DRAFT,
    ),
    (
        "Last Crossing",
        "The ferry's final run of the season, and everyone has a reason to be aboard.",
        ["drama", "mystery", "finale"],
        EpisodeStatus.DRAFT,
    ),
]

# Who takes an episode from one status to the next: editors submit, approvers decide.
STEPS: dict[str, list[tuple[str, str]]] = {
    EpisodeStatus.DRAFT: [],
    EpisodeStatus.PENDING: [(EpisodeStatus.PENDING, "alice")],
    EpisodeStatus.REJECTED: [(EpisodeStatus.PENDING, "alice"), (EpisodeStatus.REJECTED, "carol")],
    EpisodeStatus.APPROVED: [(EpisodeStatus.PENDING, "alice"), (EpisodeStatus.APPROVED, "carol")],
    EpisodeStatus.PUBLISHED: [
        (EpisodeStatus.PENDING, "alice"),
        (EpisodeStatus.APPROVED, "carol"),
        (EpisodeStatus.PUBLISHED, "carol"),
    ],
    EpisodeStatus.ARCHIVED: [
        (EpisodeStatus.PENDING, "alice"),
        (EpisodeStatus.APPROVED, "carol"),
        (EpisodeStatus.PUBLISHED, "carol"),
        (EpisodeStatus.ARCHIVED, "carol"),
    ],
}

SCRIPT = """Title: {title}
Credit: Written by Alice Penrose

EXT. PORT ELLERY QUAY - NIGHT

Fog rolls over the water. A bell buoy clangs somewhere out of sight.

MAGGIE
(pulling her collar up)
Nobody sails on a night like this.

TOM
Somebody did.
"""

Say = Callable[[str], None]


class NotEmpty(Exception):
    """The database holds work already; the demo would mix with it."""


@dataclass
class Summary:
    episodes: int = 0
    files: int = 0
    compositions: int = 0
    jobs: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)


def load(*, password: str, say: Say) -> Summary:
    """Fill an empty database with a season of the demo show; `password` is every demo
    person's. Raises NotEmpty, changing nothing, if there are episodes or demo people."""
    _check_empty()
    people = _people(password, say)
    episodes = _episodes(people, say)
    _files_and_compositions(episodes, people, say)
    _run_due_jobs(say)
    _finish_compositions(people, say)
    with _as(people["bob"]):
        file_services.record_download(EpisodeFile.objects.get(kind=FileKind.SCRIPT))
    return Summary(
        episodes=Episode.objects.count(),
        files=EpisodeFile.objects.count(),
        compositions=Composition.objects.count(),
        jobs={status: Job.objects.filter(status=status).count() for status in JobStatus.values},
        users=dict(PEOPLE),
    )


def is_empty() -> bool:
    return not Episode.objects.exists()


def _check_empty() -> None:
    if not is_empty():
        raise NotEmpty("The database has episodes already; the demo show fills an empty one only.")
    taken = (
        get_user_model()
        ._default_manager.filter(username__in=PEOPLE)
        .values_list("username", flat=True)
    )
    if taken:
        raise NotEmpty(f"The demo's users exist already: {', '.join(sorted(taken))}.")


@contextmanager
def _as(user: "User") -> Iterator[None]:
    """Act as `user`, so the activity log names them as it would after their own request."""
    acting = context.ActivityContext(
        source=Source.SYSTEM,
        request_id="demo_data",
        get_user=lambda: user,
        get_user_id=lambda: user.pk,
    )
    with context.acting(acting):
        yield


def _people(password: str, say: Say) -> dict[str, "User"]:
    people = {}
    operator = context.ActivityContext(source=Source.SYSTEM, actor_label="manage.py demo_data")
    for name, role in PEOPLE.items():
        user = get_user_model()._default_manager.create_user(
            username=name, email=f"{name}@example.com", password=password
        )
        with context.acting(operator):
            grants.set_role(user, role, granted=True)
        people[name] = user
        say(f"Created {name} ({role}).")
    return people


def _episodes(people: dict[str, "User"], say: Say) -> list[Episode]:
    first_air_date = timezone.localdate() - timedelta(weeks=2)
    episodes = []
    for number, (title, description, categories, status) in enumerate(EPISODES, start=1):
        data: dict[str, Any] = {
            "title": title,
            "description": description,
            "categories": categories,
            "season_number": SEASON,
            "episode_number": number,
            "air_date": first_air_date + timedelta(weeks=number - 1),
        }
        with _as(people["alice"]):
            episode = services.create_episode(user=people["alice"], data=data)
        for new_status, who in STEPS[status]:
            with _as(people[who]):
                episode = services.update_episode(
                    episode, user=people[who], data={"status": new_status}
                )
        episodes.append(episode)
        say(f"Episode {number}, {title!r}: {status}.")
    return episodes


def _files_and_compositions(episodes: list[Episode], people: dict[str, "User"], say: Say) -> None:
    """Stills and a script for the first episodes; a thumbnail of episode 1 to render, and
    one of episode 2 whose still was deleted before its render ran, which fails."""
    alice = people["alice"]
    first, second, *_, fourth = episodes[:4]
    with _as(alice):
        stills = [
            _upload(first, alice, "night-ferry-deck.png", _still("#1f4e79", "#f2c14e")),
            _upload(first, alice, "night-ferry-quay.png", _still("#2d3142", "#bfc0c0")),
        ]
        low_tide = _upload(second, alice, "low-tide-mudflats.png", _still("#6b4f3a", "#d9c5a0"))
        _upload(fourth, alice, "lighthouse-keepers-daughter.fountain", _script(fourth))
        thumbnail = composition_services.create_composition(
            user=alice,
            data={
                "episode": first,
                "name": "The Night Ferry thumbnail",
                "layout": "split",
                "assets": [str(still.pk) for still in stills],
                "formats": ["youtube", "instagram_square"],
            },
        )
        composition_services.start_render(thumbnail, user=alice)
        teaser = composition_services.create_composition(
            user=alice,
            data={
                "episode": second,
                "name": "Low Tide teaser",
                "layout": "single",
                "assets": [str(low_tide.pk)],
                "formats": ["youtube"],
            },
        )
        _render_once(teaser, alice)
        file_services.delete_file(low_tide, user=alice)
    say("Uploaded 4 files; queued 2 renders.")


def _render_once(composition: Composition, user: "User") -> Job:
    """A render with no retries, so that its failure is final now rather than after the
    backoff of the usual attempts."""
    declared = registry.get(composition_services.RENDER_JOB_TYPE)
    if declared is None:  # episodes.compositions.tasks registers it when the app loads
        raise LookupError(
            f"The job type {composition_services.RENDER_JOB_TYPE!r} is not registered."
        )
    payload = {"composition_id": str(composition.pk), "version": composition.version}
    return job_services.enqueue(
        declared, payload, user=user, episode_id=composition.episode_id, max_attempts=1
    )


def _upload(episode: Episode, user: "User", name: str, content: bytes) -> EpisodeFile:
    with _received(name, content) as received:
        episode_file, _ = file_services.upload_file(episode=episode, user=user, received=received)
    return episode_file


@contextmanager
def _received(name: str, content: bytes) -> Iterator[uploads.ReceivedFile]:
    """The bytes as the upload handler would have received them from a browser."""
    received = uploads.ReceivedFile(name, "application/octet-stream", len(content), None)
    try:
        received.write(content)
        received.seek(0)
        received.size = len(content)
        received.sha256 = hashlib.sha256(content).hexdigest()
        received.head = content[: sniffing.HEAD_BYTES]
        received.claimed = sniffing.claimed_type(None, name)
        yield received
    finally:
        received.close()


def _still(background: str, light: str) -> bytes:
    """A frame of a night harbour: sky, sea, a quay and a lamp."""
    image = Image.new("RGB", (640, 360), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 220, 640, 360), fill="#0b1d2e")
    draw.rectangle((0, 250, 300, 280), fill="#3a3a3a")
    draw.ellipse((420, 60, 470, 110), fill=light)
    draw.line((120, 250, 120, 150), fill="#9a9a9a", width=4)
    draw.ellipse((108, 136, 132, 160), fill=light)
    stream = io.BytesIO()
    image.save(stream, "PNG")
    return stream.getvalue()


def _script(episode: Episode) -> bytes:
    return SCRIPT.format(title=episode.title).encode()


def _run_due_jobs(say: Say) -> None:
    """Run what is due as a worker would, claim by claim: metadata and renders."""
    worker_id = f"demo_data:{os.getpid()}:0"
    queues = sorted({declared.task.queue_name for declared in registry.all_types()})
    worker = context.ActivityContext(source=Source.JOB, actor_label=f"worker {worker_id}")
    while True:
        with context.acting(worker):
            job = job_services.claim(worker_id=worker_id, queues=queues)
        if job is None:
            return
        status = execution.run_claimed(job)
        say(f"Job {job.job_type}: {status}.")


def _finish_compositions(people: dict[str, "User"], say: Say) -> None:
    carol = people["carol"]
    thumbnail = Composition.objects.get(name="The Night Ferry thumbnail")
    with _as(carol):
        thumbnail = composition_services.approve_composition(thumbnail)
        thumbnail = composition_services.publish_composition(thumbnail)
        composition_services.make_primary(thumbnail)
    say(f"Approved and published {thumbnail.name!r}.")
